//! EKS Pod Identity associations (`pod-identity.<name>`): a service account
//! on EC2 nodes gets its role (`iam-role.pod.<name>`) through the Pod
//! Identity agent ("Learn how EKS Pod Identity grants pods access to AWS
//! services", https://docs.aws.amazon.com/eks/latest/userguide/pod-identities.html).
//! A namespace on Fargate uses IRSA instead: its role trusts the cluster's
//! OIDC provider and there is no association.

use anyhow::{anyhow, Result};
use aws_sdk_eks::types::PodIdentityAssociation;

use super::eks::{request_token, sync_tags, tag_map};
use super::eks_cluster::EksCluster;
use super::iam_role::IamRole;
use super::tags::{self, claimed_address};
use super::{gone_ok, Attribute, Changes, Desired, Discovery, Found, Inputs, New};
use super::{Kind, Ref, Resolve, ResourceKind, Step};
use crate::aws::errors::{has_code, AwsResultExt};
use crate::aws::Aws;
use crate::config::{Mechanism, Stack};
use crate::graph::Address;
use crate::live::{Live, Readiness};

pub fn address(name: &str) -> Address {
    format!("pod-identity.{name}")
}

pub struct EksPodIdentity;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub cluster: Ref<EksCluster>,
    pub role: Ref<IamRole>,
    pub namespace: String,
    pub service_account: String,
}

#[derive(Debug, Clone)]
pub struct Observed {
    pub cluster: String,
    /// `namespace/service-account`.
    pub service_account: String,
    pub role_arn: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    ServiceAccount,
    Role,
    Tags,
}

impl ResourceKind for EksPodIdentity {
    const KIND: Kind = Kind::EksPodIdentity;
    const PARENT: Option<Kind> = Some(Kind::EksCluster);
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        let Some(eks) = stack.running_cluster() else {
            return vec![];
        };
        eks.pod_identities
            .iter()
            .filter(|(_, p)| p.mechanism == Mechanism::PodIdentity)
            .map(|(name, p)| {
                let address = address(name);
                New {
                    tags: tags::of(stack, &address, name),
                    address,
                    name: name.clone(),
                    spec: Spec {
                        cluster: super::eks_cluster::reference(),
                        role: super::iam_role::pod(name),
                        namespace: p.namespace.clone(),
                        service_account: p.service_account.clone(),
                    },
                    // The agent hands out the credentials: the add-on, or
                    // in Auto Mode the nodes themselves.
                    after: eks
                        .addons
                        .contains_key(crate::config::addons::POD_IDENTITY_AGENT)
                        .then(|| super::eks_addon::address(crate::config::addons::POD_IDENTITY_AGENT))
                        .into_iter()
                        .collect(),
                }
            })
            .collect()
    }

    fn purpose(d: &Desired<'_, Self>) -> crate::i18n::Msg {
        crate::i18n::Msg::new("purpose.eks_pod_identity")
            .arg("namespace", &d.spec.namespace)
            .arg("service_account", &d.spec.service_account)
    }

    fn references(spec: &Spec) -> Vec<Address> {
        vec![spec.cluster.address.clone(), spec.role.address.clone()]
    }

    fn attributes(d: &Desired<'_, Self>, refs: &dyn Resolve) -> Vec<Attribute<Self>> {
        let s = d.spec;
        let base = format!("eks.pod_identities.{}", d.name);
        vec![
            Attribute::<Self>::new(
                Attr::ServiceAccount,
                format!("{base}.service_account"),
                format!("{}/{}", s.namespace, s.service_account),
                |l| l.observed.service_account.clone().into(),
            )
            .replace("an association's namespace and service account cannot change"),
            Attribute::<Self>::new(
                Attr::Role,
                base,
                refs.live(&s.role.address)
                    .and_then(|r| r.arn.clone())
                    .map(crate::plan::Value::Text)
                    .unwrap_or(crate::plan::Value::Unknown),
                |l| l.observed.role_arn.clone().into(),
            )
            .in_place("eks:UpdatePodIdentityAssociation"),
            tags::attribute(Attr::Tags, d, "eks:TagResource"),
        ]
    }

    fn points_at(o: &Observed) -> Vec<String> {
        vec![o.cluster.clone(), o.role_arn.clone()]
    }

    /// One listing per cluster, then each association the stack made (those
    /// add-ons own are theirs).
    async fn discover(cx: &Discovery<'_>, parent: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let Some(cluster) = parent else { return Ok(vec![]) };
        let mut ids = Vec::new();
        let mut pages = cx
            .aws
            .eks
            .list_pod_identity_associations()
            .cluster_name(&cluster.id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for a in page
                .aws_on("eks:ListPodIdentityAssociations", &cluster.id)?
                .associations()
            {
                if a.owner_arn().is_none() {
                    ids.extend(a.association_id().map(str::to_string));
                }
            }
        }
        let described = ids.iter().map(|id| describe(cx.aws, &cluster.id, id));
        let found = futures_util::future::try_join_all(described).await?;
        Ok(found
            .into_iter()
            .flatten()
            .filter_map(|a| to_found(&a, cx.stack))
            .collect())
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, inputs: &Inputs) -> Result<Found<Self>> {
        let s = d.spec;
        let cluster = inputs.id(&s.cluster)?;
        let role = inputs.arn(&s.role)?;
        let out = step
            .aws()
            .eks
            .create_pod_identity_association()
            .cluster_name(&cluster)
            .namespace(&s.namespace)
            .service_account(&s.service_account)
            .role_arn(&role)
            .set_tags(Some(d.tags.clone().into_iter().collect()))
            .client_request_token(request_token(&[&cluster, &s.namespace, &s.service_account]))
            .send()
            .await
            .aws_on("eks:CreatePodIdentityAssociation", d.name);
        let association = match out {
            Ok(o) => o.association,
            // One association per service account: an interrupted run's.
            Err(e) if has_code(&e, "ResourceInUseException") => {
                let listed = step
                    .aws()
                    .eks
                    .list_pod_identity_associations()
                    .cluster_name(&cluster)
                    .namespace(&s.namespace)
                    .service_account(&s.service_account)
                    .send()
                    .await
                    .aws_on("eks:ListPodIdentityAssociations", &cluster)?;
                let id = listed
                    .associations()
                    .first()
                    .and_then(|a| a.association_id())
                    .ok_or(e)?
                    .to_string();
                let existing = describe(step.aws(), &cluster, &id)
                    .await?
                    .ok_or_else(|| anyhow!("association {id} vanished"))?;
                let found = to_found(&existing, &step.ctx.stack).ok_or_else(|| {
                    anyhow!(
                        "service account {}/{} already has a Pod Identity association that ekstack did not make",
                        s.namespace,
                        s.service_account
                    )
                })?;
                return super::ours(found);
            }
            Err(e) => return Err(e),
        };
        let a = association.ok_or_else(|| anyhow!("CreatePodIdentityAssociation returned nothing"))?;
        to_found(&a, &step.ctx.stack).ok_or_else(|| anyhow!("association without an id"))
    }

    async fn update(
        step: &Step<'_>,
        d: &Desired<'_, Self>,
        current: &Found<Self>,
        changes: &Changes<Self>,
        inputs: &Inputs,
    ) -> Result<Found<Self>> {
        let mut live = current.clone();
        if changes.has(Attr::Role) {
            let role = inputs.arn(&d.spec.role)?;
            step.aws()
                .eks
                .update_pod_identity_association()
                .cluster_name(&live.observed.cluster)
                .association_id(&live.id)
                .role_arn(&role)
                .send()
                .await
                .aws_on("eks:UpdatePodIdentityAssociation", &live.id)?;
            live.observed.role_arn = role;
        }
        if changes.has(Attr::Tags) {
            sync_tags(step, live.arn.as_deref(), &live.tags, d.tags).await?;
            live.tags = d.tags.clone();
        }
        Ok(live)
    }

    async fn delete(step: &Step<'_>, live: &Found<Self>) -> Result<()> {
        gone_ok(
            step.aws()
                .eks
                .delete_pod_identity_association()
                .cluster_name(&live.observed.cluster)
                .association_id(&live.id)
                .send()
                .await
                .aws_on("eks:DeletePodIdentityAssociation", &live.id),
        )
    }
}

fn to_found(a: &PodIdentityAssociation, stack: &str) -> Option<Found<EksPodIdentity>> {
    let tags = tag_map(a.tags());
    let address = claimed_address(&tags, stack)?;
    let observed = Observed {
        cluster: a.cluster_name().unwrap_or_default().to_string(),
        service_account: format!(
            "{}/{}",
            a.namespace().unwrap_or_default(),
            a.service_account().unwrap_or_default()
        ),
        role_arn: a.role_arn().unwrap_or_default().to_string(),
    };
    Some(
        EksPodIdentity::found(address, a.association_id()?, "ACTIVE", Readiness::Ready, observed)
            .with_arn(a.association_arn())
            .with_tags(tags),
    )
}

async fn describe(aws: &Aws, cluster: &str, id: &str) -> Result<Option<PodIdentityAssociation>> {
    let out = super::existing(
        aws.eks
            .describe_pod_identity_association()
            .cluster_name(cluster)
            .association_id(id)
            .send()
            .await
            .aws_on("eks:DescribePodIdentityAssociation", id),
    )?;
    Ok(out.and_then(|o| o.association))
}
