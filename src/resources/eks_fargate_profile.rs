//! Fargate profiles: which namespaces' pods run on Fargate. Immutable, so any
//! change replaces the profile; EKS allows one profile per cluster to be
//! creating or deleting at a time (the executor serialises them).

use std::collections::{BTreeMap, HashMap};

use anyhow::{anyhow, bail, Result};
use aws_sdk_eks::types::{FargateProfile, FargateProfileSelector};
use serde_json::{json, Value};

use super::eks_cluster::request_token;
use super::{live_user_tags, no_update, poll, ready_timeout, Polled, Step, TAG_ADDRESS, TAG_STACK};
use crate::aws::errors::{has_code, is_not_found_error, AwsResultExt};
use crate::aws::Aws;
use crate::config::Stack;
use crate::graph::build::fargate_address;
use crate::graph::{Kind, Resource, Spec};
use crate::live::{Live, Readiness};
use crate::plan::diff::{Attr, Compare};
use crate::plan::{ResourceAction, KNOWN_AFTER_APPLY};

/// A selector in the form the plan compares: `namespace`, or `namespace{k=v,…}` with labels.
fn selector_key(namespace: &str, labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return namespace.to_string();
    }
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{namespace}{{{}}}", labels.join(","))
}

pub fn attrs(stack: &Stack, r: &Resource, id_of: &dyn Fn(&str) -> Option<String>) -> Vec<Attr> {
    let Spec::EksFargateProfile { profile, subnets, .. } = &r.spec else {
        return vec![];
    };
    let key = r.name.clone();
    let selectors: Vec<String> = profile
        .namespaces
        .iter()
        .map(|ns| selector_key(ns, &profile.labels))
        .collect();
    let immutable = "Fargate profiles cannot be changed; it is deleted and made again (pods in it are rescheduled)";
    let subnets: Vec<Value> = subnets
        .iter()
        .map(|s| id_of(s).unwrap_or_else(|| KNOWN_AFTER_APPLY.into()).into())
        .collect();
    vec![
        Attr::replace(
            "selectors",
            format!("eks.fargate.{key}.namespaces"),
            json!(selectors),
            immutable,
        )
        .compare(Compare::Unordered),
        Attr::replace("subnets", "network.azs", Value::Array(subnets), immutable).compare(Compare::Unordered),
        Attr::in_place("tags", "stack.tags", json!(stack.meta.tags), "eks:TagResource"),
    ]
}

fn to_live(p: &FargateProfile, stack: &str) -> Option<Live> {
    let tags: BTreeMap<String, String> = p
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let name = p.fargate_profile_name()?;
    let ours = tags.get(TAG_STACK).map(String::as_str) == Some(stack);
    let address = tags
        .get(TAG_ADDRESS)
        .filter(|_| ours)
        .cloned()
        .unwrap_or_else(|| fargate_address(name));
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
    let mut live = Live::new(Kind::EksFargateProfile, address, name, state, readiness)
        .with_arn(p.fargate_profile_arn().map(str::to_string))
        .attr("selectors", json!(selectors))
        .attr("subnets", json!(subnets))
        .attr("tags", live_user_tags(&tags));
    if !ours {
        live = live.detail("foreign", true);
    }
    Some(live.with_tags(tags))
}

pub async fn discover(aws: &Aws, stack: &str, cluster: &str) -> Result<Vec<Live>> {
    let mut names = Vec::new();
    let mut pages = aws
        .eks
        .list_fargate_profiles()
        .cluster_name(cluster)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        names.extend(
            page.aws("eks:ListFargateProfiles")?
                .fargate_profile_names()
                .iter()
                .cloned(),
        );
    }
    let described = names.iter().map(|name| describe(aws, cluster, name));
    let found = futures_util::future::try_join_all(described).await?;
    Ok(found.into_iter().flatten().filter_map(|p| to_live(&p, stack)).collect())
}

async fn describe(aws: &Aws, cluster: &str, name: &str) -> Result<Option<FargateProfile>> {
    let out = super::found(
        aws.eks
            .describe_fargate_profile()
            .cluster_name(cluster)
            .fargate_profile_name(name)
            .send()
            .await
            .aws("eks:DescribeFargateProfile"),
    )?;
    Ok(out.and_then(|out| out.fargate_profile))
}

pub async fn create(step: &Step<'_>, r: &Resource) -> Result<Live> {
    let Spec::EksFargateProfile {
        cluster,
        profile,
        role,
        subnets,
    } = &r.spec
    else {
        bail!("internal error: {} is not a Fargate profile", r.address)
    };
    let role_arn = step.ctx.arn_of(role)?;
    let subnet_ids = subnets.iter().map(|s| step.ctx.id_of(s)).collect::<Result<Vec<_>>>()?;
    let tags: HashMap<String, String> = super::tags(&step.ctx.stack, &r.address, &r.name).into_iter().collect();
    let selectors: Vec<FargateProfileSelector> = profile
        .namespaces
        .iter()
        .map(|ns| {
            FargateProfileSelector::builder()
                .namespace(ns)
                .set_labels((!profile.labels.is_empty()).then(|| profile.labels.clone().into_iter().collect()))
                .build()
        })
        .collect();
    let token = request_token(&[cluster, &r.name, &role_arn, &subnet_ids.join(",")]);
    let aws = step.aws();
    // EKS lets one profile per cluster be creating or deleting at a time; a
    // profile left in transition by another tool or an interrupted run makes
    // this one wait its turn.
    let patience = std::time::Duration::from_secs(15 * 60);
    let profile = super::retry_while(
        step,
        &["ResourceInUseException"],
        "waiting for another Fargate profile to settle",
        patience,
        || async {
            let result = aws
                .eks
                .create_fargate_profile()
                .cluster_name(cluster)
                .fargate_profile_name(&r.name)
                .pod_execution_role_arn(&role_arn)
                .set_subnets(Some(subnet_ids.clone()))
                .set_selectors(Some(selectors.clone()))
                .set_tags(Some(tags.clone()))
                .client_request_token(&token)
                .send()
                .await
                .aws("eks:CreateFargateProfile");
            match result {
                Ok(out) => Ok(out.fargate_profile),
                // Ours already exists (made by an interrupted run): adopt it.
                Err(e) if has_code(&e, "ResourceInUseException") => match describe(aws, cluster, &r.name).await? {
                    Some(existing) => Ok(Some(existing)),
                    None => Err(e),
                },
                Err(e) => Err(e),
            }
        },
    )
    .await?;
    let profile = profile.ok_or_else(|| anyhow!("CreateFargateProfile returned no profile"))?;
    to_live(&profile, step.ctx.stack_name()).ok_or_else(|| anyhow!("Fargate profile without a name"))
}

pub async fn wait_ready(step: &Step<'_>, live: &Live) -> Result<Live> {
    let cluster = step.ctx.stack_name().to_string();
    poll(
        step,
        &format!("Fargate profile {}", live.id),
        ready_timeout(Kind::EksFargateProfile),
        || async {
            let p = describe(step.aws(), &cluster, &live.id)
                .await?
                .ok_or_else(|| anyhow!("Fargate profile {} disappeared", live.id))?;
            let l = to_live(&p, &cluster).ok_or_else(|| anyhow!("profile without a name"))?;
            match l.readiness {
                Readiness::Ready => Ok(Polled::Ready(l)),
                Readiness::Pending => Ok(Polled::Pending(l.state)),
                _ => bail!("Fargate profile {} is {}", live.id, l.state),
            }
        },
    )
    .await
}

pub async fn update(step: &Step<'_>, _r: &Resource, live: &Live, action: &ResourceAction) -> Result<Live> {
    for change in &action.changes {
        match change.attribute.as_str() {
            "tags" => {
                let arn = live
                    .arn
                    .clone()
                    .ok_or_else(|| anyhow!("Fargate profile {} has no ARN", live.id))?;
                super::eks_cluster::sync_tags(step, &arn, &live.tags).await?;
            }
            _ => return Err(no_update(Kind::EksFargateProfile, action)),
        }
    }
    Ok(live.clone())
}

pub async fn delete(step: &Step<'_>, live: &Live) -> Result<()> {
    let cluster = step.ctx.stack_name().to_string();
    let aws = step.aws();
    match aws
        .eks
        .delete_fargate_profile()
        .cluster_name(&cluster)
        .fargate_profile_name(&live.id)
        .send()
        .await
        .aws("eks:DeleteFargateProfile")
    {
        Err(e) if is_not_found_error(&e) => return Ok(()),
        // Already on its way out (a re-run of a destroy): just wait for it.
        Err(_) if live.readiness == Readiness::Deleting => {}
        other => {
            other?;
        }
    }
    poll(
        step,
        &format!("Fargate profile {} to be deleted", live.id),
        ready_timeout(Kind::EksFargateProfile),
        || async {
            match describe(aws, &cluster, &live.id).await? {
                None => Ok(Polled::Ready(())),
                Some(p) if p.status().is_some_and(|s| s.as_str() == "DELETE_FAILED") => {
                    bail!("Fargate profile {} failed to delete", live.id)
                }
                Some(p) => Ok(Polled::Pending(
                    p.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
                )),
            }
        },
    )
    .await
}
