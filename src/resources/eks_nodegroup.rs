//! Managed node groups. Scaling, labels and version change in place; a change
//! of instance types, capacity type or disk makes a new group under a new name
//! before the old one is removed, so capacity never drops.

use std::collections::{BTreeMap, HashMap};

use anyhow::{anyhow, bail, Result};
use aws_sdk_eks::types::{AmiTypes, CapacityTypes, Nodegroup, NodegroupScalingConfig, UpdateLabelsPayload};
use serde_json::{json, Value};

use super::eks_cluster::request_token;
use super::{live_user_tags, no_update, poll, ready_timeout, Polled, Step, TAG_ADDRESS, TAG_STACK};
use crate::aws::errors::{has_code, is_not_found_error, AwsResultExt};
use crate::aws::Aws;
use crate::config::Stack;
use crate::graph::build::{nodegroup_address, EKS_CLUSTER};
use crate::graph::{Kind, Resource, Spec};
use crate::live::{Live, Readiness};
use crate::plan::diff::{Attr, Compare};
use crate::plan::{ResourceAction, KNOWN_AFTER_APPLY};

pub fn attrs(stack: &Stack, r: &Resource, id_of: &dyn Fn(&str) -> Option<String>) -> Vec<Attr> {
    let Spec::EksNodegroup {
        key,
        nodegroup: ng,
        version,
        subnets,
        ..
    } = &r.spec
    else {
        return vec![];
    };
    let p = |field: &str| format!("eks.nodegroups.{key}.{field}");
    let new_group = "a node group's instance types, capacity type, disk and subnets are fixed: a new group is made first, then the old one drained and removed";
    let subnets: Vec<Value> = subnets
        .iter()
        .map(|s| id_of(s).unwrap_or_else(|| KNOWN_AFTER_APPLY.into()).into())
        .collect();
    vec![
        Attr::replace(
            "instance_types",
            p("instance_types"),
            json!(ng.instance_types),
            new_group,
        )
        .compare(Compare::Unordered),
        Attr::replace("capacity", p("capacity"), ng.capacity.aws(), new_group),
        Attr::replace("disk_gib", p("disk_gib"), ng.disk_gib, new_group),
        Attr::replace("ami_type", p("instance_types"), ng.arch.ami_type(), new_group),
        Attr::replace("subnets", "network.azs", Value::Array(subnets), new_group).compare(Compare::Unordered),
        Attr::in_place("min", p("min"), ng.min, "eks:UpdateNodegroupConfig"),
        Attr::in_place("desired", p("desired"), ng.desired, "eks:UpdateNodegroupConfig"),
        Attr::in_place("max", p("max"), ng.max, "eks:UpdateNodegroupConfig"),
        Attr::in_place("labels", p("labels"), json!(ng.labels), "eks:UpdateNodegroupConfig"),
        Attr::in_place("version", "eks.version", version.clone(), "eks:UpdateNodegroupVersion")
            .note("nodes are replaced in a rolling update, pods rescheduled"),
        Attr::in_place("tags", "stack.tags", json!(stack.meta.tags), "eks:TagResource"),
    ]
}

/// The AWS name of a replacement group: the key plus a short hash of what
/// forces replacement, so a re-run after a crash finds the same new group.
pub fn replacement_name(r: &Resource, current: &str) -> String {
    let Spec::EksNodegroup { key, nodegroup: ng, .. } = &r.spec else {
        return r.name.clone();
    };
    let candidate = format!(
        "{key}-{}",
        &request_token(&[
            &ng.instance_types.join(","),
            ng.capacity.aws(),
            &ng.disk_gib.to_string()
        ])[8..14]
    );
    if candidate == current {
        key.clone()
    } else {
        candidate
    }
}

fn to_live(n: &Nodegroup, stack: &str) -> Option<Live> {
    let tags: BTreeMap<String, String> = n
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let name = n.nodegroup_name()?;
    // A group ekstack did not make still lives in the stack's cluster and must
    // go before the cluster can; it gets an address from its name.
    let ours = tags.get(TAG_STACK).map(String::as_str) == Some(stack);
    let address = tags
        .get(TAG_ADDRESS)
        .filter(|_| ours)
        .cloned()
        .unwrap_or_else(|| nodegroup_address(name));
    let state = n.status().map(|s| s.as_str().to_string()).unwrap_or_default();
    let readiness = match state.as_str() {
        "ACTIVE" | "DEGRADED" => Readiness::Ready,
        "CREATING" | "UPDATING" => Readiness::Pending,
        "CREATE_FAILED" | "DELETE_FAILED" => Readiness::Failed,
        _ => Readiness::Deleting,
    };
    let scaling = n.scaling_config();
    let mut instance_types = n.instance_types().to_vec();
    instance_types.sort();
    let mut subnets = n.subnets().to_vec();
    subnets.sort();
    let labels: BTreeMap<String, String> = n
        .labels()
        .map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let mut live = Live::new(Kind::EksNodegroup, address, name, state, readiness)
        .with_arn(n.nodegroup_arn().map(str::to_string))
        .attr("instance_types", json!(instance_types))
        .attr("capacity", n.capacity_type().map(|c| c.as_str()).unwrap_or("ON_DEMAND"))
        .attr("disk_gib", n.disk_size().unwrap_or(20))
        .attr("ami_type", n.ami_type().map(|a| a.as_str()).unwrap_or_default())
        .attr("subnets", json!(subnets))
        .attr("min", scaling.and_then(|s| s.min_size()).unwrap_or(0))
        .attr("desired", scaling.and_then(|s| s.desired_size()).unwrap_or(0))
        .attr("max", scaling.and_then(|s| s.max_size()).unwrap_or(0))
        .attr("labels", json!(labels))
        .attr("version", n.version().unwrap_or_default())
        .attr("tags", live_user_tags(&tags));
    if !ours {
        live = live.detail("foreign", true);
    }
    if let Some(issue) = n.health().and_then(|h| h.issues().first()) {
        live = live.detail(
            "health",
            format!(
                "{}: {}",
                issue.code().map(|c| c.as_str()).unwrap_or("?"),
                issue.message().unwrap_or_default()
            ),
        );
    }
    Some(live.with_tags(tags))
}

/// Lists and describes every node group of the cluster (AWS has no batch describe).
pub async fn discover(aws: &Aws, stack: &str, cluster: &str) -> Result<Vec<Live>> {
    let mut names = Vec::new();
    let mut pages = aws.eks.list_nodegroups().cluster_name(cluster).into_paginator().send();
    while let Some(page) = pages.next().await {
        names.extend(page.aws("eks:ListNodegroups")?.nodegroups().iter().cloned());
    }
    let described = names.iter().map(|name| describe(aws, cluster, name));
    let found = futures_util::future::try_join_all(described).await?;
    Ok(found.into_iter().flatten().filter_map(|n| to_live(&n, stack)).collect())
}

async fn describe(aws: &Aws, cluster: &str, name: &str) -> Result<Option<Nodegroup>> {
    let out = super::found(
        aws.eks
            .describe_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(name)
            .send()
            .await
            .aws("eks:DescribeNodegroup"),
    )?;
    Ok(out.and_then(|out| out.nodegroup))
}

fn scaling(min: i32, desired: i32, max: i32) -> NodegroupScalingConfig {
    NodegroupScalingConfig::builder()
        .min_size(min)
        .desired_size(desired)
        .max_size(max)
        .build()
}

/// Creates the group under `name` (the key, or a replacement name).
pub async fn create(step: &Step<'_>, r: &Resource, name: &str) -> Result<Live> {
    let Spec::EksNodegroup {
        cluster,
        nodegroup: ng,
        version,
        role,
        subnets,
        ..
    } = &r.spec
    else {
        bail!("internal error: {} is not a node group", r.address)
    };
    let role_arn = step.ctx.arn_of(role)?;
    let subnet_ids = subnets.iter().map(|s| step.ctx.id_of(s)).collect::<Result<Vec<_>>>()?;
    let tags: HashMap<String, String> = super::tags(&step.ctx.stack, &r.address, name).into_iter().collect();
    let token = request_token(&[cluster, name, &role_arn, &subnet_ids.join(",")]);
    let result = step
        .aws()
        .eks
        .create_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(name)
        .node_role(&role_arn)
        .set_subnets(Some(subnet_ids))
        // Always sent: moto shares one mutable default between groups created without it.
        .scaling_config(scaling(ng.min, ng.desired, ng.max))
        .set_instance_types(Some(ng.instance_types.clone()))
        .capacity_type(CapacityTypes::from(ng.capacity.aws()))
        .ami_type(AmiTypes::from(ng.arch.ami_type()))
        .disk_size(ng.disk_gib)
        .version(version)
        .set_labels(Some(ng.labels.clone().into_iter().collect()))
        .set_tags(Some(tags))
        .client_request_token(token)
        .send()
        .await
        .aws("eks:CreateNodegroup");
    let group = match result {
        Ok(out) => out.nodegroup,
        Err(e) if has_code(&e, "ResourceInUseException") => describe(step.aws(), cluster, name).await?,
        Err(e) => return Err(e),
    };
    let group = group.ok_or_else(|| anyhow!("CreateNodegroup returned no node group"))?;
    to_live(&group, step.ctx.stack_name()).ok_or_else(|| anyhow!("node group without a name"))
}

pub async fn wait_ready(step: &Step<'_>, live: &Live) -> Result<Live> {
    let cluster = step.ctx.stack_name().to_string();
    poll(
        step,
        &format!("node group {}", live.id),
        ready_timeout(Kind::EksNodegroup),
        || async {
            let n = describe(step.aws(), &cluster, &live.id)
                .await?
                .ok_or_else(|| anyhow!("node group {} disappeared", live.id))?;
            let l = to_live(&n, &cluster).ok_or_else(|| anyhow!("node group without a name"))?;
            match l.readiness {
                Readiness::Ready => Ok(Polled::Ready(l)),
                Readiness::Pending => Ok(Polled::Pending(l.state)),
                _ => bail!(
                    "node group {} is {}{}",
                    live.id,
                    l.state,
                    l.detail_str("health").map(|h| format!(" ({h})")).unwrap_or_default()
                ),
            }
        },
    )
    .await
}

pub async fn update(step: &Step<'_>, r: &Resource, live: &Live, action: &ResourceAction) -> Result<Live> {
    let Spec::EksNodegroup {
        cluster,
        nodegroup: ng,
        version,
        ..
    } = &r.spec
    else {
        bail!("internal error: {} is not a node group", r.address)
    };
    // Refuse before touching anything: a half-made update is worse than none.
    let known = ["min", "desired", "max", "labels", "version", "tags"];
    if action.changes.iter().any(|c| !known.contains(&c.attribute.as_str())) {
        return Err(no_update(Kind::EksNodegroup, action));
    }
    let eks = &step.aws().eks;
    let mut live = live.clone();
    if ["min", "desired", "max", "labels"]
        .iter()
        .any(|a| action.changes_attribute(a))
    {
        let mut call = eks
            .update_nodegroup_config()
            .cluster_name(cluster)
            .nodegroup_name(&live.id)
            .scaling_config(scaling(ng.min, ng.desired, ng.max));
        if action.changes_attribute("labels") {
            let have: BTreeMap<String, String> =
                serde_json::from_value(live.attrs.get("labels").cloned().unwrap_or(json!({}))).unwrap_or_default();
            let remove: Vec<String> = have.keys().filter(|k| !ng.labels.contains_key(*k)).cloned().collect();
            let mut labels = UpdateLabelsPayload::builder().set_remove_labels((!remove.is_empty()).then_some(remove));
            if !ng.labels.is_empty() {
                labels = labels.set_add_or_update_labels(Some(ng.labels.clone().into_iter().collect()));
            }
            call = call.labels(labels.build());
        }
        call.send().await.aws("eks:UpdateNodegroupConfig")?;
        live = wait_ready(step, &live).await?;
    }
    if action.changes_attribute("version") {
        step.status(&format!("rolling nodes to {version}"));
        eks.update_nodegroup_version()
            .cluster_name(cluster)
            .nodegroup_name(&live.id)
            .version(version)
            .send()
            .await
            .aws("eks:UpdateNodegroupVersion")?;
        live = wait_ready(step, &live).await?;
    }
    if action.changes_attribute("tags") {
        let arn = live
            .arn
            .clone()
            .ok_or_else(|| anyhow!("node group {} has no ARN", live.id))?;
        super::eks_cluster::sync_tags(step, &arn, &live.tags).await?;
    }
    Ok(live)
}

/// Scales a group to `desired` nodes (and `min` to at most that), for `sleep`.
pub async fn scale(step: &Step<'_>, live: &Live, min: i32, desired: i32, max: i32) -> Result<Live> {
    let cluster = step.ctx.stack_name();
    step.aws()
        .eks
        .update_nodegroup_config()
        .cluster_name(cluster)
        .nodegroup_name(&live.id)
        .scaling_config(scaling(min, desired, max))
        .send()
        .await
        .aws("eks:UpdateNodegroupConfig")?;
    wait_ready(step, live).await
}

pub async fn delete(step: &Step<'_>, live: &Live) -> Result<()> {
    let cluster = step
        .ctx
        .live(EKS_CLUSTER)
        .map(|c| c.id)
        .unwrap_or_else(|| step.ctx.stack_name().to_string());
    let aws = step.aws();
    match aws
        .eks
        .delete_nodegroup()
        .cluster_name(&cluster)
        .nodegroup_name(&live.id)
        .send()
        .await
        .aws("eks:DeleteNodegroup")
    {
        Err(e) if is_not_found_error(&e) => return Ok(()),
        // Already on its way out (a re-run of a destroy): just wait for it.
        Err(_) if live.readiness == Readiness::Deleting => {}
        Err(e) if has_code(&e, "ResourceInUseException") => {} // already deleting
        other => {
            other?;
        }
    }
    poll(
        step,
        &format!("node group {} to be deleted", live.id),
        ready_timeout(Kind::EksNodegroup),
        || async {
            match describe(aws, &cluster, &live.id).await? {
                None => Ok(Polled::Ready(())),
                Some(n) if n.status().is_some_and(|s| s.as_str() == "DELETE_FAILED") => {
                    bail!(
                        "node group {} failed to delete: {:?}",
                        live.id,
                        n.health().map(|h| h.issues().to_vec())
                    )
                }
                Some(n) => Ok(Polled::Pending(
                    n.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
                )),
            }
        },
    )
    .await
}
