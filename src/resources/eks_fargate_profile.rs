//! Fargate profiles: which namespaces' pods run on Fargate. Immutable, so any
//! change replaces the profile; EKS allows one profile per cluster to be
//! creating or deleting at a time (its steps share a concurrency group).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use aws_sdk_eks::types::{FargateProfile as SdkFargateProfile, FargateProfileSelector};

use super::eks::{delete_and_wait, once_role_propagated, request_token, sync_tags, tag_map, Going};
use super::eks_cluster::EksCluster;
use super::iam_role::IamRole;
use super::subnet::{Subnet, Tier};
use super::tags::{self, is_of_stack, TAG_ADDRESS};
use super::{existing, retry_while, Attribute, Changes, Desired, Discovery, Found, Inputs, Leftovers, New};
use super::{Kind, Polled, Ref, Resolve, ResourceKind, Step};
use crate::aws::errors::{has_code, AwsResultExt};
use crate::aws::Aws;
use crate::config::Stack;
use crate::graph::Address;
use crate::live::{Live, Origin, Readiness};
use crate::plan::Value;

pub fn address(key: &str) -> Address {
    format!("eks-fargate-profile.{key}")
}

pub struct EksFargateProfile;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub cluster: Ref<EksCluster>,
    pub namespaces: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub role: Ref<IamRole>,
    pub subnets: Vec<Ref<Subnet>>,
}

#[derive(Debug, Clone)]
pub struct Observed {
    pub cluster: String,
    /// In the form the plan compares (see [`selector_key`]), sorted.
    pub selectors: Vec<String>,
    /// Sorted.
    pub subnets: Vec<String>,
    pub pod_execution_role: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    Selectors,
    Subnets,
    Tags,
}

/// A selector as the plan shows it: `namespace`, or `namespace{k=v,…}` with labels.
fn selector_key(namespace: &str, labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return namespace.to_string();
    }
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{namespace}{{{}}}", labels.join(","))
}

const IMMUTABLE: &str = "Fargate profiles cannot be changed; it is deleted and made again (pods in it are rescheduled)";

impl ResourceKind for EksFargateProfile {
    const KIND: Kind = Kind::EksFargateProfile;
    const PARENT: Option<Kind> = Some(Kind::EksCluster);
    const READY_TIMEOUT: Duration = Duration::from_secs(15 * 60);
    const LEFTOVERS: Leftovers = Leftovers::Leaves;
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    /// DESIGN §8: about 2 minutes each way.
    fn usual(verb: super::Verb, _: Option<&Spec>) -> Option<super::kind::Expected> {
        match verb {
            super::Verb::Create | super::Verb::Delete => super::minutes(
                1.5,
                2.5,
                "EKS is still setting up the profile's pod execution; pods it selects wait meanwhile",
            ),
            super::Verb::Update => None,
        }
    }

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        let Some(eks) = stack.running_cluster() else {
            return vec![];
        };
        eks.fargate
            .iter()
            .map(|(key, profile)| {
                let address = address(key);
                New {
                    tags: tags::of(stack, &address, key),
                    address,
                    name: key.clone(),
                    spec: Spec {
                        cluster: super::eks_cluster::reference(),
                        namespaces: profile.namespaces.clone(),
                        labels: profile.labels.clone(),
                        role: super::iam_role::fargate(),
                        subnets: super::subnet::all(stack, Tier::Private),
                    },
                    // Fargate pods need egress from the private subnets too.
                    after: super::route_table::private(stack),
                }
            })
            .collect()
    }

    fn purpose(d: &Desired<'_, Self>) -> crate::i18n::Msg {
        crate::i18n::Msg::new("purpose.eks_fargate_profile").arg("namespaces", d.spec.namespaces.join(", "))
    }

    fn references(spec: &Spec) -> Vec<Address> {
        let mut refs = vec![spec.cluster.address.clone(), spec.role.address.clone()];
        refs.extend(spec.subnets.iter().map(|s| s.address.clone()));
        refs
    }

    fn attributes(d: &Desired<'_, Self>, refs: &dyn Resolve) -> Vec<Attribute<Self>> {
        let s = d.spec;
        let selectors: Vec<String> = s.namespaces.iter().map(|ns| selector_key(ns, &s.labels)).collect();
        let subnets: Vec<Value> = s.subnets.iter().map(|r| refs.id_value(&r.address)).collect();
        vec![
            Attribute::<Self>::new(
                Attr::Selectors,
                format!("eks.fargate.{}.namespaces", d.name),
                selectors,
                |l| Value::from(&l.observed.selectors),
            )
            .replace(IMMUTABLE)
            .unordered(),
            Attribute::<Self>::new(Attr::Subnets, "network.azs", subnets, |l| {
                Value::from(&l.observed.subnets)
            })
            .replace(IMMUTABLE)
            .unordered(),
            tags::attribute(Attr::Tags, d, "eks:TagResource"),
        ]
    }

    fn points_at(o: &Observed) -> Vec<String> {
        let mut ids = vec![o.cluster.clone(), o.pod_execution_role.clone()];
        ids.extend(o.subnets.iter().cloned());
        ids
    }

    fn concurrency_group() -> Option<&'static str> {
        Some("fargate")
    }

    async fn discover(cx: &Discovery<'_>, parent: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let Some(cluster) = parent else { return Ok(vec![]) };
        let mut names = Vec::new();
        let mut pages = cx
            .aws
            .eks
            .list_fargate_profiles()
            .cluster_name(&cluster.id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            names.extend(
                page.aws_on("eks:ListFargateProfiles", &cluster.id)?
                    .fargate_profile_names()
                    .iter()
                    .cloned(),
            );
        }
        let described = names.iter().map(|name| describe(cx.aws, &cluster.id, name));
        let found = futures_util::future::try_join_all(described).await?;
        Ok(found
            .into_iter()
            .flatten()
            .filter_map(|p| to_found(&p, cx.stack))
            .collect())
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, inputs: &Inputs) -> Result<Found<Self>> {
        let s = d.spec;
        let cluster = inputs.id(&s.cluster)?;
        let role_arn = inputs.arn(&s.role)?;
        let subnet_ids = inputs.ids(&s.subnets)?;
        let selectors: Vec<FargateProfileSelector> = s
            .namespaces
            .iter()
            .map(|ns| {
                FargateProfileSelector::builder()
                    .namespace(ns)
                    .set_labels((!s.labels.is_empty()).then(|| s.labels.clone().into_iter().collect()))
                    .build()
            })
            .collect();
        let token = request_token(&[&cluster, d.name, &role_arn, &subnet_ids.join(",")]);
        let aws = step.aws();
        // EKS lets one profile per cluster be creating or deleting at a time; a
        // profile left in transition by another tool or an interrupted run makes
        // this one wait its turn.
        let patience = Duration::from_secs(15 * 60);
        let profile = retry_while(
            step,
            &["ResourceInUseException"],
            "waiting for another Fargate profile to settle",
            patience,
            || async {
                // A role made seconds ago may not reach EKS yet.
                let result = once_role_propagated(step, || async {
                    aws.eks
                        .create_fargate_profile()
                        .cluster_name(&cluster)
                        .fargate_profile_name(d.name)
                        .pod_execution_role_arn(&role_arn)
                        .set_subnets(Some(subnet_ids.clone()))
                        .set_selectors(Some(selectors.clone()))
                        .set_tags(Some(d.tags.clone().into_iter().collect()))
                        .client_request_token(&token)
                        .send()
                        .await
                        .aws_on("eks:CreateFargateProfile", d.name)
                })
                .await;
                match result {
                    Ok(out) => Ok(out.fargate_profile),
                    // Ours already exists (made by an interrupted run): adopt it.
                    Err(e) if has_code(&e, "ResourceInUseException") => match describe(aws, &cluster, d.name).await? {
                        Some(existing) => Ok(Some(existing)),
                        None => Err(e),
                    },
                    Err(e) => Err(e),
                }
            },
        )
        .await?;
        let profile = profile.ok_or_else(|| anyhow!("CreateFargateProfile returned no profile"))?;
        to_found(&profile, &step.ctx.stack).ok_or_else(|| anyhow!("Fargate profile without a name"))
    }

    async fn wait_ready(step: &Step<'_>, live: &Found<Self>) -> Result<Found<Self>> {
        let cluster = &live.observed.cluster;
        super::poll_usual(
            step,
            &format!("Fargate profile {}", live.id),
            Self::READY_TIMEOUT,
            || async {
                let p = describe(step.aws(), cluster, &live.id)
                    .await?
                    .ok_or_else(|| anyhow!("Fargate profile {} disappeared", live.id))?;
                let l = to_found(&p, &step.ctx.stack).ok_or_else(|| anyhow!("profile without a name"))?;
                match l.readiness {
                    Readiness::Ready => Ok(Polled::Ready(l)),
                    Readiness::Pending => Ok(Polled::Pending(l.state)),
                    _ => bail!("Fargate profile {} is {}", live.id, l.state),
                }
            },
        )
        .await
    }

    async fn update(
        step: &Step<'_>,
        d: &Desired<'_, Self>,
        current: &Found<Self>,
        changes: &Changes<Self>,
        _: &Inputs,
    ) -> Result<Found<Self>> {
        let mut live = current.clone();
        for change in changes.iter() {
            match change {
                Attr::Tags => {
                    sync_tags(step, live.arn.as_deref(), &live.tags, d.tags).await?;
                    live.tags = d.tags.clone();
                }
                Attr::Selectors | Attr::Subnets => bail!("{IMMUTABLE}"),
            }
        }
        Ok(live)
    }

    async fn delete(step: &Step<'_>, live: &Found<Self>) -> Result<()> {
        let aws = step.aws();
        let cluster = &live.observed.cluster;
        delete_and_wait(
            step,
            &format!("Fargate profile {}", live.id),
            live.readiness == Readiness::Deleting,
            &[],
            Self::READY_TIMEOUT,
            || async {
                aws.eks
                    .delete_fargate_profile()
                    .cluster_name(cluster)
                    .fargate_profile_name(&live.id)
                    .send()
                    .await
                    .aws_on("eks:DeleteFargateProfile", &live.id)
                    .map(|_| ())
            },
            || async {
                Ok(match describe(aws, cluster, &live.id).await? {
                    None => Going::Gone,
                    Some(p) => match p.status().map(|s| s.as_str().to_string()).unwrap_or_default() {
                        s if s == "DELETE_FAILED" => Going::Failed(String::new()),
                        s => Going::Still(s),
                    },
                })
            },
        )
        .await
    }
}

fn to_found(p: &SdkFargateProfile, stack: &str) -> Option<Found<EksFargateProfile>> {
    let tags = tag_map(p.tags());
    let name = p.fargate_profile_name()?;
    let ours = is_of_stack(&tags, stack);
    let address = tags
        .get(TAG_ADDRESS)
        .filter(|_| ours)
        .cloned()
        .unwrap_or_else(|| address(name));
    let state = p.status().map(|s| s.as_str().to_string()).unwrap_or_default();
    let readiness = match state.as_str() {
        "ACTIVE" => Readiness::Ready,
        "CREATING" => Readiness::Pending,
        "CREATE_FAILED" | "DELETE_FAILED" => Readiness::Failed,
        _ => Readiness::Deleting,
    };
    let mut selectors: Vec<String> = p
        .selectors()
        .iter()
        .map(|s| {
            let labels: BTreeMap<String, String> = s
                .labels()
                .map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            selector_key(s.namespace().unwrap_or_default(), &labels)
        })
        .collect();
    selectors.sort();
    let mut subnets = p.subnets().to_vec();
    subnets.sort();
    let observed = Observed {
        cluster: p.cluster_name().unwrap_or_default().to_string(),
        selectors,
        subnets,
        pod_execution_role: p.pod_execution_role_arn().unwrap_or_default().to_string(),
    };
    let origin = if ours { Origin::Ours } else { Origin::Foreign };
    Some(
        EksFargateProfile::found(address, name, state, readiness, observed)
            .with_arn(p.fargate_profile_arn())
            .with_tags(tags)
            .with_origin(origin),
    )
}

async fn describe(aws: &Aws, cluster: &str, name: &str) -> Result<Option<SdkFargateProfile>> {
    let out = existing(
        aws.eks
            .describe_fargate_profile()
            .cluster_name(cluster)
            .fargate_profile_name(name)
            .send()
            .await
            .aws_on("eks:DescribeFargateProfile", name),
    )?;
    Ok(out.and_then(|out| out.fargate_profile))
}
