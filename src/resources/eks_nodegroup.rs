//! Managed node groups. Scaling, labels and version change in place; a change
//! of instance types, capacity type or disk makes a new group under a new name
//! before the old one is removed, so capacity never drops.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use aws_sdk_eks::types::UpdateLabelsPayload;
use aws_sdk_eks::types::{AmiTypes, CapacityTypes, Nodegroup as SdkNodegroup, NodegroupScalingConfig};

use super::eks::{
    delete_and_wait, once_role_propagated, request_token, sync_tags, tag_map, wait_update, Going, UpdateOf,
};
use super::eks_cluster::EksCluster;
use super::iam_role::IamRole;
use super::subnet::{Subnet, Tier};
use super::tags::{self, is_of_stack, TAG_ADDRESS};
use super::{existing, Attribute, Changes, Desired, Discovery, Found, Inputs, Leftovers, New, Polled, Ref};
use super::{Kind, Resolve, ResourceKind, Step};
use crate::aws::errors::{has_code, AwsResultExt};
use crate::aws::Aws;
use crate::config::{Capacity, Nodegroup, Stack};
use crate::cost::Billable;
use crate::graph::Address;
use crate::live::{Live, LiveState, Origin, Readiness};
use crate::plan::{ReplaceOrder, Value, Verdict};

pub fn address(key: &str) -> Address {
    format!("eks-nodegroup.{key}")
}

pub struct EksNodegroup;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub cluster: Ref<EksCluster>,
    /// Its key in `[eks.nodegroups]`.
    pub key: String,
    pub group: Nodegroup,
    /// The cluster's Kubernetes version.
    pub version: String,
    pub role: Ref<IamRole>,
    pub subnets: Vec<Ref<Subnet>>,
}

#[derive(Debug, Clone)]
pub struct Observed {
    /// The cluster it belongs to.
    pub cluster: String,
    /// Sorted.
    pub instance_types: Vec<String>,
    /// The EKS API value (`ON_DEMAND` / `SPOT`).
    pub capacity: String,
    pub disk_gib: i32,
    pub ami_type: String,
    /// Sorted.
    pub subnets: Vec<String>,
    pub min: i32,
    pub desired: i32,
    pub max: i32,
    pub labels: BTreeMap<String, String>,
    pub version: String,
    pub node_role: String,
    /// The first health issue EKS reports, if any.
    pub health: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    InstanceTypes,
    Capacity,
    DiskGib,
    AmiType,
    Subnets,
    Min,
    Desired,
    Max,
    Labels,
    Version,
    Tags,
}

const NEW_GROUP: &str = "a node group's instance types, capacity type, disk and subnets are fixed: a new group is made first, then the old one drained and removed";

impl ResourceKind for EksNodegroup {
    const KIND: Kind = Kind::EksNodegroup;
    const PARENT: Option<Kind> = Some(Kind::EksCluster);
    const READY_TIMEOUT: Duration = Duration::from_secs(30 * 60);
    const REPLACE_ORDER: ReplaceOrder = ReplaceOrder::CreateBeforeDestroy;
    const LEFTOVERS: Leftovers = Leftovers::Leaves;
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    /// DESIGN §8: about 2.5 minutes to make, 4.5 to delete (nodes drain),
    /// about 5 for a version update.
    fn usual(verb: super::Verb, _: Option<&Spec>) -> Option<super::kind::Expected> {
        match verb {
            super::Verb::Create => super::minutes(2.0, 3.5, "the instances are still booting and joining the cluster; a node that cannot reach the API server or pull from ECR keeps the group CREATING until EKS reports NodeCreationFailure (about 20 minutes)"),
            super::Verb::Delete => super::minutes(3.5, 5.5, "EKS is still draining the nodes (pods with disruption budgets can hold it) and terminating the instances"),
            // A config change takes a minute, a version update many: no one range.
            super::Verb::Update => None,
        }
    }

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        let Some(eks) = stack.running_cluster() else {
            return vec![];
        };
        eks.nodegroups
            .iter()
            .map(|(key, group)| {
                let address = address(key);
                New {
                    tags: tags::of(stack, &address, key),
                    address,
                    name: key.clone(),
                    spec: Spec {
                        cluster: super::eks_cluster::reference(),
                        key: key.clone(),
                        group: group.clone(),
                        version: eks.version.clone(),
                        role: super::iam_role::node(),
                        subnets: super::subnet::all(stack, Tier::Private),
                    },
                    // Nodes need egress from the private subnets to join the
                    // cluster, so they wait for the private routes (and so the NAT).
                    // Nodes need egress through the NAT gateways, and the CNI and
                    // kube-proxy to become Ready (terraform-aws-eks #3446).
                    after: super::route_table::private(stack)
                        .into_iter()
                        .chain(super::eks_addon::before_compute(stack))
                        .collect(),
                }
            })
            .collect()
    }

    fn purpose(d: &Desired<'_, Self>) -> crate::i18n::Msg {
        let g = &d.spec.group;
        crate::i18n::Msg::new("purpose.eks_nodegroup")
            .arg("name", &d.spec.key)
            .arg("types", g.instance_types.join(", "))
            .arg("min", g.min)
            .arg("desired", g.desired)
            .arg("max", g.max)
    }

    fn references(spec: &Spec) -> Vec<Address> {
        let mut refs = vec![spec.cluster.address.clone(), spec.role.address.clone()];
        refs.extend(spec.subnets.iter().map(|s| s.address.clone()));
        refs
    }

    fn attributes(d: &Desired<'_, Self>, refs: &dyn Resolve) -> Vec<Attribute<Self>> {
        let s = d.spec;
        let g = &s.group;
        let p = |field: &str| format!("eks.nodegroups.{}.{field}", s.key);
        let subnets: Vec<Value> = s.subnets.iter().map(|r| refs.id_value(&r.address)).collect();
        vec![
            Attribute::<Self>::new(Attr::InstanceTypes, p("instance_types"), &g.instance_types, |l| {
                Value::from(&l.observed.instance_types)
            })
            .replace(NEW_GROUP)
            .unordered(),
            Attribute::<Self>::new(Attr::Capacity, p("capacity"), g.capacity.aws(), |l| {
                l.observed.capacity.clone().into()
            })
            .replace(NEW_GROUP),
            Attribute::<Self>::new(Attr::DiskGib, p("disk_gib"), g.disk_gib, |l| l.observed.disk_gib.into())
                .replace(NEW_GROUP),
            Attribute::<Self>::new(Attr::AmiType, p("instance_types"), g.ami_type(), |l| {
                l.observed.ami_type.clone().into()
            })
            .replace(NEW_GROUP),
            Attribute::<Self>::new(Attr::Subnets, "network.azs", subnets, |l| {
                Value::from(&l.observed.subnets)
            })
            .replace(NEW_GROUP)
            .unordered(),
            Attribute::<Self>::new(Attr::Min, p("min"), g.min, |l| l.observed.min.into())
                .in_place("eks:UpdateNodegroupConfig"),
            Attribute::<Self>::new(Attr::Desired, p("desired"), g.desired, |l| l.observed.desired.into())
                .in_place("eks:UpdateNodegroupConfig"),
            Attribute::<Self>::new(Attr::Max, p("max"), g.max, |l| l.observed.max.into())
                .in_place("eks:UpdateNodegroupConfig"),
            Attribute::<Self>::new(Attr::Labels, p("labels"), &g.labels, |l| {
                Value::from(&l.observed.labels)
            })
            .in_place("eks:UpdateNodegroupConfig"),
            Attribute::<Self>::new(Attr::Version, "eks.version", s.version.clone(), |l| {
                l.observed.version.clone().into()
            })
            .in_place("eks:UpdateNodegroupVersion")
            .note(crate::i18n::Msg::new("note.nodes_roll"))
            .guard(version_guard),
            tags::attribute(Attr::Tags, d, "eks:TagResource"),
        ]
    }

    fn points_at(o: &Observed) -> Vec<String> {
        let mut ids = vec![o.cluster.clone(), o.node_role.clone()];
        ids.extend(o.subnets.iter().cloned());
        ids
    }

    /// Nodes at `desired`, each with a gp3 root volume of `disk_gib`. A group
    /// with several instance types is priced at its first, which EKS prefers
    /// for on-demand capacity.
    fn billables(d: &Desired<'_, Self>) -> Vec<Billable> {
        let g = &d.spec.group;
        let count = u32::try_from(g.desired).unwrap_or(0);
        let gib = u32::try_from(g.disk_gib).unwrap_or(0);
        nodes(g.instance_types.first(), g.capacity == Capacity::Spot, count, gib)
    }

    fn live_billables(l: &Found<Self>, _: &LiveState) -> Vec<Billable> {
        let o = &l.observed;
        let count = u32::try_from(o.desired).unwrap_or(0);
        let gib = u32::try_from(o.disk_gib).unwrap_or(0);
        nodes(o.instance_types.first(), o.capacity == "SPOT", count, gib)
    }

    /// The key plus a short hash of what forces replacement, so a re-run
    /// after a crash finds the same new group.
    fn replacement_name(d: &Desired<'_, Self>, current: &Found<Self>) -> String {
        let g = &d.spec.group;
        let hash = request_token(&[&g.instance_types.join(","), g.capacity.aws(), &g.disk_gib.to_string()]);
        let candidate = format!("{}-{}", d.spec.key, &hash[8..14]);
        if candidate == current.id {
            d.spec.key.clone()
        } else {
            candidate
        }
    }

    /// Lists and describes every node group of the cluster (AWS has no batch
    /// describe). Groups other tools added are found too, as foreign: they
    /// must go before the cluster can.
    async fn discover(cx: &Discovery<'_>, parent: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let Some(cluster) = parent else { return Ok(vec![]) };
        let mut names = Vec::new();
        let mut pages = cx
            .aws
            .eks
            .list_nodegroups()
            .cluster_name(&cluster.id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            names.extend(
                page.aws_on("eks:ListNodegroups", &cluster.id)?
                    .nodegroups()
                    .iter()
                    .cloned(),
            );
        }
        let described = names.iter().map(|name| describe(cx.aws, &cluster.id, name));
        let found = futures_util::future::try_join_all(described).await?;
        Ok(found
            .into_iter()
            .flatten()
            .filter_map(|n| to_found(&n, cx.stack))
            .collect())
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, inputs: &Inputs) -> Result<Found<Self>> {
        let s = d.spec;
        let g = &s.group;
        let cluster = inputs.id(&s.cluster)?;
        let role_arn = inputs.arn(&s.role)?;
        let subnet_ids = inputs.ids(&s.subnets)?;
        let mut tags = d.tags.clone();
        tags.insert("Name".into(), d.name.to_string());
        let token = request_token(&[&cluster, d.name, &role_arn, &subnet_ids.join(",")]);
        // A role made seconds ago may not reach EKS yet.
        let result = once_role_propagated(step, || async {
            step.aws()
                .eks
                .create_nodegroup()
                .cluster_name(&cluster)
                .nodegroup_name(d.name)
                .node_role(&role_arn)
                .set_subnets(Some(subnet_ids.clone()))
                // Always sent: moto shares one mutable default between groups created without it.
                .scaling_config(scaling(g.min, g.desired, g.max))
                .set_instance_types(Some(g.instance_types.clone()))
                .capacity_type(CapacityTypes::from(g.capacity.aws()))
                .ami_type(AmiTypes::from(g.ami_type()))
                .disk_size(g.disk_gib)
                .version(&s.version)
                .set_labels(Some(g.labels.clone().into_iter().collect()))
                .set_tags(Some(tags.clone().into_iter().collect()))
                .client_request_token(&token)
                .send()
                .await
                .aws_on("eks:CreateNodegroup", d.name)
        })
        .await;
        let group = match result {
            Ok(out) => out.nodegroup,
            Err(e) if has_code(&e, "ResourceInUseException") => describe(step.aws(), &cluster, d.name).await?,
            Err(e) => return Err(e),
        };
        let group = group.ok_or_else(|| anyhow!("CreateNodegroup returned no node group"))?;
        to_found(&group, &step.ctx.stack).ok_or_else(|| anyhow!("node group without a name"))
    }

    async fn wait_ready(step: &Step<'_>, live: &Found<Self>) -> Result<Found<Self>> {
        let cluster = &live.observed.cluster;
        super::poll_usual(
            step,
            &format!("node group {}", live.id),
            Self::READY_TIMEOUT,
            || async {
                let n = describe(step.aws(), cluster, &live.id)
                    .await?
                    .ok_or_else(|| anyhow!("node group {} disappeared", live.id))?;
                let l = to_found(&n, &step.ctx.stack).ok_or_else(|| anyhow!("node group without a name"))?;
                match l.readiness {
                    Readiness::Ready => Ok(Polled::Ready(l)),
                    Readiness::Pending => Ok(Polled::Pending(l.state)),
                    _ => bail!(
                        "node group {} is {}{}",
                        live.id,
                        l.state,
                        l.observed
                            .health
                            .as_deref()
                            .map(|h| format!(" ({h})"))
                            .unwrap_or_default()
                    ),
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
        let s = d.spec;
        let g = &s.group;
        // Refuse before touching anything: a half-made update is worse than none.
        let fixed = [
            Attr::InstanceTypes,
            Attr::Capacity,
            Attr::DiskGib,
            Attr::AmiType,
            Attr::Subnets,
        ];
        if changes.any(&fixed) {
            bail!("{NEW_GROUP}; this needs a replacement, not an update");
        }
        let eks = &step.aws().eks;
        let mut live = current.clone();
        if changes.any(&[Attr::Min, Attr::Desired, Attr::Max, Attr::Labels]) {
            let mut call = eks
                .update_nodegroup_config()
                .cluster_name(&live.observed.cluster)
                .nodegroup_name(&live.id)
                .scaling_config(scaling(g.min, g.desired, g.max));
            if changes.has(Attr::Labels) {
                let remove: Vec<String> = live
                    .observed
                    .labels
                    .keys()
                    .filter(|k| !g.labels.contains_key(*k))
                    .cloned()
                    .collect();
                let mut labels =
                    UpdateLabelsPayload::builder().set_remove_labels((!remove.is_empty()).then_some(remove));
                if !g.labels.is_empty() {
                    labels = labels.set_add_or_update_labels(Some(g.labels.clone().into_iter().collect()));
                }
                call = call.labels(labels.build());
            }
            let out = call.send().await.aws_on("eks:UpdateNodegroupConfig", &live.id)?;
            live = settled(step, live, out.update).await?;
        }
        if changes.has(Attr::Version) {
            step.status(&format!("rolling nodes to {}", s.version));
            let out = eks
                .update_nodegroup_version()
                .cluster_name(&live.observed.cluster)
                .nodegroup_name(&live.id)
                .version(&s.version)
                .send()
                .await
                .aws_on("eks:UpdateNodegroupVersion", &live.id)?;
            live = settled(step, live, out.update).await?;
        }
        if changes.has(Attr::Tags) {
            sync_tags(step, live.arn.as_deref(), &live.tags, d.tags).await?;
            live.tags = d.tags.clone();
        }
        Ok(live)
    }

    async fn delete(step: &Step<'_>, live: &Found<Self>) -> Result<()> {
        let aws = step.aws();
        let cluster = &live.observed.cluster;
        delete_and_wait(
            step,
            &format!("node group {}", live.id),
            live.readiness == Readiness::Deleting,
            // Already deleting.
            &["ResourceInUseException"],
            Self::READY_TIMEOUT,
            || async {
                aws.eks
                    .delete_nodegroup()
                    .cluster_name(cluster)
                    .nodegroup_name(&live.id)
                    .send()
                    .await
                    .aws_on("eks:DeleteNodegroup", &live.id)
                    .map(|_| ())
            },
            || async {
                Ok(match describe(aws, cluster, &live.id).await? {
                    None => Going::Gone,
                    Some(n) if n.status().is_some_and(|s| s.as_str() == "DELETE_FAILED") => {
                        let health = to_found(&n, &step.ctx.stack).and_then(|l| l.observed.health);
                        Going::Failed(health.map(|h| format!(": {h}")).unwrap_or_default())
                    }
                    Some(n) => Going::Still(n.status().map(|s| s.as_str().to_string()).unwrap_or_default()),
                })
            },
        )
        .await
    }
}

fn nodes(instance_type: Option<&String>, spot: bool, count: u32, gib: u32) -> Vec<Billable> {
    let mut out = Vec::new();
    if let Some(instance_type) = instance_type {
        out.push(Billable::Ec2 {
            instance_type: instance_type.clone(),
            count,
            spot,
        });
    }
    out.push(Billable::EbsGp3 { gib, count });
    out
}

fn to_found(n: &SdkNodegroup, stack: &str) -> Option<Found<EksNodegroup>> {
    let tags = tag_map(n.tags());
    let name = n.nodegroup_name()?;
    // A group ekstack did not make still lives in the stack's cluster and must
    // go before the cluster can; it gets an address from its name.
    let ours = is_of_stack(&tags, stack);
    let address = tags
        .get(TAG_ADDRESS)
        .filter(|_| ours)
        .cloned()
        .unwrap_or_else(|| address(name));
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
    let observed = Observed {
        cluster: n.cluster_name().unwrap_or_default().to_string(),
        instance_types,
        capacity: n.capacity_type().map(|c| c.as_str()).unwrap_or("ON_DEMAND").to_string(),
        disk_gib: n.disk_size().unwrap_or(20),
        ami_type: n.ami_type().map(|a| a.as_str()).unwrap_or_default().to_string(),
        subnets,
        min: scaling.and_then(|s| s.min_size()).unwrap_or(0),
        desired: scaling.and_then(|s| s.desired_size()).unwrap_or(0),
        max: scaling.and_then(|s| s.max_size()).unwrap_or(0),
        labels: n
            .labels()
            .map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        version: n.version().unwrap_or_default().to_string(),
        node_role: n.node_role().unwrap_or_default().to_string(),
        health: n.health().and_then(|h| h.issues().first()).map(|issue| {
            format!(
                "{}: {}",
                issue.code().map(|c| c.as_str()).unwrap_or("?"),
                issue.message().unwrap_or_default()
            )
        }),
    };
    let origin = if ours { Origin::Ours } else { Origin::Foreign };
    Some(
        EksNodegroup::found(address, name, state, readiness, observed)
            .with_arn(n.nodegroup_arn())
            .with_tags(tags)
            .with_origin(origin),
    )
}

async fn describe(aws: &Aws, cluster: &str, name: &str) -> Result<Option<SdkNodegroup>> {
    let out = existing(
        aws.eks
            .describe_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(name)
            .send()
            .await
            .aws_on("eks:DescribeNodegroup", name),
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

/// Nodes can be rolled forward only: UpdateNodegroupVersion refuses a
/// version older than the group's, as the control plane does.
fn version_guard(before: &Value, after: &Value) -> Verdict {
    let minor = |v: &Value| v.as_str().and_then(|v| v.split('.').nth(1)?.parse::<u32>().ok());
    match (minor(before), minor(after)) {
        (Some(b), Some(a)) if a < b => {
            Verdict::Impossible(crate::i18n::Msg::new("impossible.nodegroup_downgrade").arg("before", before))
        }
        _ => Verdict::Allowed,
    }
}

/// Follows a node group update by its id until it succeeds, then waits
/// for the group to be usable again.
async fn settled(
    step: &Step<'_>,
    live: Found<EksNodegroup>,
    update: Option<aws_sdk_eks::types::Update>,
) -> Result<Found<EksNodegroup>> {
    wait_update(
        step,
        &live.observed.cluster,
        UpdateOf::Nodegroup(&live.id),
        update,
        EksNodegroup::READY_TIMEOUT,
    )
    .await?;
    EksNodegroup::wait_ready(step, &live).await
}
