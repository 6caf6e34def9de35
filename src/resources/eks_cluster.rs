//! The EKS control plane, named after the stack, in the private subnets.
//! Version upgrades go one minor at a time; each kind of configuration
//! change is its own UpdateClusterConfig, as EKS takes one at a time.

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use aws_sdk_eks::types::{
    AuthenticationMode, BlockStorage, Cluster, ComputeConfigRequest, CreateAccessConfigRequest, ElasticLoadBalancing,
    KubernetesNetworkConfigRequest, LogSetup, LogType, Logging, StorageConfigRequest, UpdateAccessConfigRequest,
    VpcConfigRequest,
};

use super::eks::{once_role_propagated, request_token, sync_tags, tag_map, wait_update, UpdateOf};
use super::iam_role::IamRole;
use super::subnet::{Subnet, Tier};
use super::tags::{self, is_of_stack};
use super::{existing, Attribute, Changes, Desired, Discovery, Found, Inputs, Leftovers, New, Policy, Polled};
use super::{Kind, Ref, Remains, Resolve, ResourceKind, Step};
use crate::aws::errors::{has_code, is_not_found_error, AwsResultExt};
use crate::aws::Aws;
use crate::config::{regions, AddonVersion, EndpointAccess, Stack, LOG_TYPES};
use crate::cost::Billable;
use crate::graph::Address;
use crate::i18n::Msg;
use crate::live::{Live, LiveState, Origin, Readiness, Tags};
use crate::plan::{Value, Verdict};

pub const ADDRESS: &str = "eks-cluster";

pub fn reference() -> Ref<EksCluster> {
    Ref::new(ADDRESS)
}

pub struct EksCluster;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub version: String,
    pub endpoint: EndpointAccess,
    pub public_access_cidrs: Vec<String>,
    /// Enabled log types, in the order of [`LOG_TYPES`].
    pub logging: Vec<String>,
    pub role: Ref<IamRole>,
    pub subnets: Vec<Ref<Subnet>>,
    /// The managed add-ons and what version each asks for: an upgrade
    /// moves them after each control-plane hop.
    pub addons: Vec<(String, AddonVersion)>,
    /// How many managed node groups each upgrade hop rolls.
    pub nodegroups: usize,
    /// EKS Auto Mode; `None` in managed mode.
    pub auto: Option<AutoMode>,
}

/// EKS Auto Mode's compute: the built-in node pools, started with the
/// node role ("Create a cluster with Amazon EKS Auto Mode").
#[derive(Debug, Clone, PartialEq)]
pub struct AutoMode {
    pub node_role: Ref<IamRole>,
    pub node_pools: Vec<String>,
    /// How many instances the node pools are expected to start, for the
    /// cost estimate.
    pub expected_instances: u32,
}

/// Auto Mode's built-in node pools: `general-purpose` for workloads,
/// `system` (tainted CriticalAddonsOnly) for cluster add-ons.
pub const NODE_POOLS: &[&str] = &["general-purpose", "system"];

/// Access entries and the aws-auth ConfigMap both: teammates get access
/// entries, and whatever already reads aws-auth keeps working.
pub const AUTHENTICATION_MODE: &str = "API_AND_CONFIG_MAP";

/// Whether the cluster was made with EKS's self-managed add-ons, which the
/// EKS API does not report once the cluster exists.
pub const TAG_SELF_MANAGED_ADDONS: &str = "ekstack:self-managed-addons";

#[derive(Debug, Clone)]
pub struct Observed {
    pub version: String,
    /// Sorted.
    pub subnets: Vec<String>,
    pub endpoint: Option<EndpointAccess>,
    pub public_access_cidrs: Vec<String>,
    /// Enabled log types, in the order of [`LOG_TYPES`].
    pub logging: Vec<String>,
    pub endpoint_url: String,
    pub certificate_authority: String,
    pub role_arn: String,
    /// Reported by AWS; moto leaves it out.
    pub cluster_security_group: Option<String>,
    pub vpc_id: Option<String>,
    /// `accessConfig.authenticationMode`.
    pub authentication_mode: Option<String>,
    /// Made with EKS's self-managed CNI, kube-proxy and CoreDNS.
    pub bootstrap_self_managed_addons: Option<bool>,
    /// The cluster's OIDC issuer URL, which IRSA trusts.
    pub issuer: Option<String>,
    /// `computeConfig.enabled`: EKS Auto Mode is on.
    pub auto_mode: bool,
    pub node_pools: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    Version,
    Subnets,
    Endpoint,
    PublicAccessCidrs,
    Logging,
    AuthenticationMode,
    Mode,
    Tags,
}

impl ResourceKind for EksCluster {
    const KIND: Kind = Kind::EksCluster;
    const READY_TIMEOUT: Duration = Duration::from_secs(30 * 60);
    const LEFTOVERS: Leftovers = Leftovers::Leaves;
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    /// DESIGN §8: a control plane takes 9–15 minutes to make and about 5
    /// to delete; a version update 8–10.
    fn usual(verb: super::Verb, _: Option<&Spec>) -> Option<super::kind::Expected> {
        match verb {
            super::Verb::Create => super::minutes(9.0, 15.0, "EKS is still provisioning the control plane (API servers and etcd across three AZs); creates past 15 minutes happen in busy regions and usually finish"),
            super::Verb::Delete => super::minutes(4.0, 6.0, "EKS is still tearing down the control plane and its network interfaces"),
            // A config change takes a minute, a version update many: no one range.
            super::Verb::Update => None,
        }
    }

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        let Some(eks) = stack.running_cluster() else {
            return vec![];
        };
        let name = stack.meta.name.clone();
        let mut tags = tags::of(stack, ADDRESS, &name);
        tags.insert(TAG_SELF_MANAGED_ADDONS.into(), "false".into());
        vec![New {
            address: ADDRESS.into(),
            tags,
            name,
            spec: Spec {
                version: eks.version.clone(),
                endpoint: eks.endpoint,
                public_access_cidrs: eks.public_access_cidrs.clone(),
                logging: eks.logging.clone(),
                role: super::iam_role::cluster(),
                subnets: super::subnet::all(stack, Tier::Private),
                addons: eks.addons.iter().map(|(n, a)| (n.clone(), a.version.clone())).collect(),
                nodegroups: eks.nodegroups.len(),
                auto: eks.auto().then(|| AutoMode {
                    node_role: super::iam_role::node(),
                    node_pools: NODE_POOLS.iter().map(|p| p.to_string()).collect(),
                    expected_instances: eks
                        .auto_mode_expected_instances
                        .unwrap_or(crate::config::AUTO_MODE_EXPECTED_INSTANCES),
                }),
            },
            after: vec![],
        }]
    }

    fn references(spec: &Spec) -> Vec<Address> {
        let mut refs = vec![spec.role.address.clone()];
        refs.extend(spec.auto.iter().map(|a| a.node_role.address.clone()));
        refs.extend(spec.subnets.iter().map(|s| s.address.clone()));
        refs
    }

    fn attributes(d: &Desired<'_, Self>, refs: &dyn Resolve) -> Vec<Attribute<Self>> {
        let s = d.spec;
        let subnets: Vec<Value> = s.subnets.iter().map(|r| refs.id_value(&r.address)).collect();
        vec![
            Attribute::<Self>::new(Attr::Version, "eks.version", s.version.clone(), |l| {
                l.observed.version.clone().into()
            })
            .in_place("eks:UpdateClusterVersion")
            .guard(version_guard),
            Attribute::<Self>::new(Attr::Subnets, "network.azs", subnets, |l| {
                Value::from(&l.observed.subnets)
            })
            .in_place("eks:UpdateClusterConfig")
            .unordered()
            .guard(subnets_guard),
            Attribute::<Self>::new(Attr::Endpoint, "eks.endpoint", s.endpoint.as_str(), |l| {
                Value::from(l.observed.endpoint.map(|e| e.as_str()))
            })
            .in_place("eks:UpdateClusterConfig")
            .note(crate::i18n::Msg::new("note.endpoint_access")),
            Attribute::<Self>::new(
                Attr::PublicAccessCidrs,
                "eks.public_access_cidrs",
                &s.public_access_cidrs,
                |l| {
                    // Only a public endpoint has access CIDRs to speak of.
                    match l.observed.endpoint {
                        Some(e) if e.public() => Value::from(&l.observed.public_access_cidrs),
                        _ => Value::Null,
                    }
                },
            )
            .in_place("eks:UpdateClusterConfig")
            .unordered(),
            Attribute::<Self>::new(Attr::Logging, "eks.logging", &s.logging, |l| {
                Value::from(&l.observed.logging)
            })
            .in_place("eks:UpdateClusterConfig")
            .unordered(),
            Attribute::<Self>::reported(Attr::AuthenticationMode, "eks.access", AUTHENTICATION_MODE, |l| {
                l.observed.authentication_mode.clone().map(Value::Text)
            })
            .in_place("eks:UpdateClusterConfig")
            .guard(authentication_guard),
            Attribute::<Self>::new(Attr::Mode, "eks.mode", mode_of(s.auto.is_some()), |l| {
                mode_of(l.observed.auto_mode).into()
            })
            .in_place("eks:UpdateClusterConfig")
            .guard(mode_guard),
            tags::attribute(Attr::Tags, d, "eks:TagResource"),
        ]
        .into_iter()
        .filter(|a| a.key != Attr::PublicAccessCidrs || s.endpoint.public())
        .collect()
    }

    /// The hops of an upgrade with what each takes, from the latency
    /// model: UpdateClusterVersion ~9 min, add-ons ~1.5 min (concurrently),
    /// ~5 min per node group.
    fn notes(d: &Desired<'_, Self>, live: Option<&Found<Self>>, _: &dyn Resolve) -> Vec<String> {
        let Some(live) = live else { return vec![] };
        let hops = upgrade_hops(&live.observed.version, &d.spec.version);
        if minor(&d.spec.version) <= minor(&live.observed.version) {
            return vec![];
        }
        let groups = d.spec.nodegroups as f64;
        let per_hop = 9.0 + if d.spec.addons.is_empty() { 0.0 } else { 1.5 } + 5.0 * groups;
        let mut from = live.observed.version.clone();
        let steps: Vec<String> = hops
            .iter()
            .map(|hop| {
                let line = format!("{from} → {hop} (~{per_hop:.0} min)");
                from = hop.clone();
                line
            })
            .collect();
        vec![format!(
            "upgrade in {} hop{}: {}; each is control plane ~9 min, then {} add-on{} ~1.5 min, then {} node group{} ~5 min each; ~{:.0} min in all",
            hops.len(),
            if hops.len() == 1 { "" } else { "s" },
            steps.join(", "),
            d.spec.addons.len(),
            if d.spec.addons.len() == 1 { "" } else { "s" },
            d.spec.nodegroups,
            if d.spec.nodegroups == 1 { "" } else { "s" },
            per_hop * hops.len() as f64
        )]
    }

    fn points_at(o: &Observed) -> Vec<String> {
        let mut ids = o.subnets.clone();
        ids.push(o.role_arn.clone());
        ids
    }

    fn data_loss(name: &str, _: Option<&Found<Self>>, _: &Policy) -> Option<Msg> {
        Some(Msg::new("loss.cluster").arg("name", name))
    }

    fn billables(d: &Desired<'_, Self>) -> Vec<Billable> {
        let mut bills = vec![Billable::EksControlPlane {
            extended: extended_support(&d.spec.version),
        }];
        bills.extend(d.spec.auto.as_ref().map(|a| Billable::EksAutoModeNodes {
            count: a.expected_instances,
            assumed_by_default: false,
        }));
        bills
    }

    /// Auto Mode's instances are EKS's, not the stack's: how many run is not
    /// read, so the default expectation is priced and said to be assumed.
    fn live_billables(l: &Found<Self>, _: &LiveState) -> Vec<Billable> {
        let mut bills = vec![Billable::EksControlPlane {
            extended: extended_support(&l.observed.version),
        }];
        if l.observed.auto_mode {
            bills.push(Billable::EksAutoModeNodes {
                count: crate::config::AUTO_MODE_EXPECTED_INSTANCES,
                assumed_by_default: true,
            });
        }
        bills
    }

    /// A version in extended support bills six times the standard rate.
    fn advice(d: &Desired<'_, Self>) -> Vec<String> {
        match regions::support(&d.spec.version, regions::today()) {
            Some(regions::Support::Extended(until)) => vec![format!(
                "eks.version {} is in extended support until {until}: the control plane bills the extended-support rate ($0.60/hour, not $0.10); upgrade to {} to leave it",
                d.spec.version,
                regions::default_kubernetes_version(regions::today())
            )],
            _ => vec![],
        }
    }

    /// Volumes Kubernetes made for persistent volumes, kept unless
    /// `--delete-volumes`.
    async fn remains(cx: &Discovery<'_>) -> Result<Vec<Remains>> {
        let cluster = cx.stack;
        Ok(volumes(cx.aws, cluster)
            .await?
            .into_iter()
            .map(|v| {
                let (what, way_out) = if v.named {
                    (
                        format!("EBS volume {}, {} GiB, made for a persistent volume of cluster {cluster}", v.id, v.gib),
                        format!("`ekstack destroy --delete-volumes` again, or aws ec2 delete-volume --region {} --volume-id {}", cx.region, v.id),
                    )
                } else {
                    (
                        format!("EBS volume {}, {} GiB, made by the EBS CSI driver with no tag naming its cluster (perhaps this stack's)", v.id, v.gib),
                        format!("check its kubernetes.io/created-for/pvc tags, then aws ec2 delete-volume --region {} --volume-id {}", cx.region, v.id),
                    )
                };
                Remains {
                    what,
                    billable: Billable::EbsGp3 {
                        gib: u32::try_from(v.gib).unwrap_or(0),
                        count: 1,
                    },
                    way_out,
                }
            })
            .collect())
    }

    async fn discover(cx: &Discovery<'_>, _: Option<&Live>) -> Result<Vec<Found<Self>>> {
        Ok(describe(cx.aws, cx.stack)
            .await?
            .and_then(|c| to_found(&c, cx.stack))
            .into_iter()
            .collect())
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, inputs: &Inputs) -> Result<Found<Self>> {
        let s = d.spec;
        let role_arn = inputs.arn(&s.role)?;
        let subnet_ids = inputs.ids(&s.subnets)?;
        let token = request_token(&[d.name, &role_arn, &subnet_ids.join(",")]);
        // A role made seconds ago may not reach EKS yet.
        let result = once_role_propagated(step, || async {
            step.aws()
                .eks
                .create_cluster()
                .name(d.name)
                .version(&s.version)
                .role_arn(&role_arn)
                .resources_vpc_config(vpc_config(s, subnet_ids.clone()))
                .logging(logging(&s.logging))
                // Through the API a cluster defaults to CONFIG_MAP, which
                // only its creator can use until aws-auth is edited.
                .access_config(
                    CreateAccessConfigRequest::builder()
                        .authentication_mode(AuthenticationMode::ApiAndConfigMap)
                        .bootstrap_cluster_creator_admin_permissions(true)
                        .build(),
                )
                // The CNI, kube-proxy and CoreDNS come as managed add-ons,
                // each in its turn (or, in Auto Mode, with the nodes).
                .bootstrap_self_managed_addons(false)
                .set_compute_config(auto_compute(s.auto.as_ref(), inputs)?)
                .set_kubernetes_network_config(s.auto.as_ref().map(|_| load_balancing(true)))
                .set_storage_config(s.auto.as_ref().map(|_| block_storage(true)))
                .set_tags(Some(d.tags.clone().into_iter().collect()))
                .client_request_token(&token)
                .send()
                .await
                .aws_on("eks:CreateCluster", d.name)
        })
        .await;
        let cluster = match result {
            Ok(out) => out.cluster,
            // Made by an interrupted run (or a lost response): adopt it if it is ours.
            Err(e) if has_code(&e, "ResourceInUseException") => describe(step.aws(), d.name).await?,
            Err(e) => return Err(e),
        };
        let cluster = cluster.ok_or_else(|| anyhow!("CreateCluster returned no cluster"))?;
        let found = to_found(&cluster, &step.ctx.stack)
            .ok_or_else(|| anyhow!("CreateCluster returned a cluster without a name"))?;
        if found.origin == Origin::Foreign {
            bail!(
                "an EKS cluster named {} already exists and was not made by ekstack for this stack; rename the stack",
                d.name
            );
        }
        Ok(found)
    }

    async fn wait_ready(step: &Step<'_>, live: &Found<Self>) -> Result<Found<Self>> {
        super::poll_usual(
            step,
            &format!("EKS cluster {}", live.id),
            Self::READY_TIMEOUT,
            || async {
                let c = describe(step.aws(), &live.id)
                    .await?
                    .ok_or_else(|| anyhow!("EKS cluster {} disappeared", live.id))?;
                let l = to_found(&c, &step.ctx.stack).ok_or_else(|| anyhow!("cluster without a name"))?;
                match l.readiness {
                    Readiness::Ready => Ok(Polled::Ready(l)),
                    Readiness::Pending => Ok(Polled::Pending(l.state)),
                    _ => bail!("EKS cluster {} is {}", live.id, l.state),
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
        inputs: &Inputs,
    ) -> Result<Found<Self>> {
        let s = d.spec;
        let aws = step.aws();
        let name = current.id.clone();
        let mut live = current.clone();
        // EKS runs one update at a time, one kind per UpdateClusterConfig
        // call; each is followed by its id until it has succeeded.
        if changes.has(Attr::Version) {
            let hops = upgrade_hops(&live.observed.version, &s.version);
            for (i, hop) in hops.iter().enumerate() {
                step.status(&format!("upgrading the control plane to {hop}"));
                let out = aws
                    .eks
                    .update_cluster_version()
                    .name(&name)
                    .version(hop)
                    .send()
                    .await
                    .aws_on("eks:UpdateClusterVersion", &name)?;
                wait_update(step, &name, UpdateOf::Cluster, out.update, Self::READY_TIMEOUT).await?;
                // Then the add-ons to what this Kubernetes version offers
                // (terraform-aws-eks #3448: add-ons left behind).
                super::eks_addon::to_kubernetes(step, &name, hop, &s.addons).await?;
                // EKS upgrades the control plane only once every managed node
                // group is at its version: bring them along before the next
                // hop. After the last one, the node groups' own steps follow.
                if i + 1 < hops.len() {
                    nodegroups_to(step, &name, hop).await?;
                }
            }
        }
        if changes.any(&[Attr::Endpoint, Attr::PublicAccessCidrs]) {
            let mut vpc = VpcConfigRequest::builder()
                .endpoint_public_access(s.endpoint.public())
                .endpoint_private_access(s.endpoint.private());
            if s.endpoint.public() {
                vpc = vpc.set_public_access_cidrs(Some(s.public_access_cidrs.clone()));
            }
            step.status("changing endpoint access");
            let out = aws
                .eks
                .update_cluster_config()
                .name(&name)
                .resources_vpc_config(vpc.build())
                .send()
                .await
                .aws_on("eks:UpdateClusterConfig", &name)?;
            wait_update(step, &name, UpdateOf::Cluster, out.update, Self::READY_TIMEOUT).await?;
        }
        if changes.has(Attr::Subnets) {
            if let Some(subnets) = subnets_in_cluster_azs(s, &live.observed.subnets, inputs)? {
                step.status("changing subnets");
                let out = aws
                    .eks
                    .update_cluster_config()
                    .name(&name)
                    .resources_vpc_config(VpcConfigRequest::builder().set_subnet_ids(Some(subnets)).build())
                    .send()
                    .await
                    .aws_on("eks:UpdateClusterConfig", &name)?;
                wait_update(step, &name, UpdateOf::Cluster, out.update, Self::READY_TIMEOUT).await?;
            }
        }
        if changes.has(Attr::AuthenticationMode) {
            step.status("turning on access entries");
            let out = aws
                .eks
                .update_cluster_config()
                .name(&name)
                .access_config(
                    UpdateAccessConfigRequest::builder()
                        .authentication_mode(AuthenticationMode::ApiAndConfigMap)
                        .build(),
                )
                .send()
                .await
                .aws_on("eks:UpdateClusterConfig", &name)?;
            wait_update(step, &name, UpdateOf::Cluster, out.update, Self::READY_TIMEOUT).await?;
        }
        // Auto Mode needs access entries, so this follows the change of
        // authentication mode above.
        if changes.has(Attr::Mode) {
            let on = s.auto.is_some();
            step.status(if on {
                "turning on EKS Auto Mode"
            } else {
                "turning off EKS Auto Mode"
            });
            // Compute, block storage and load balancing go together, in one
            // call ("Auto Mode API reference": all enabled or all disabled).
            let compute = match auto_compute(s.auto.as_ref(), inputs)? {
                Some(c) => c,
                None => ComputeConfigRequest::builder().enabled(false).build(),
            };
            let out = aws
                .eks
                .update_cluster_config()
                .name(&name)
                .compute_config(compute)
                .kubernetes_network_config(load_balancing(on))
                .storage_config(block_storage(on))
                .send()
                .await
                .aws_on("eks:UpdateClusterConfig", &name)?;
            wait_update(step, &name, UpdateOf::Cluster, out.update, Self::READY_TIMEOUT).await?;
        }
        if changes.has(Attr::Logging) {
            step.status("changing control plane logging");
            let out = aws
                .eks
                .update_cluster_config()
                .name(&name)
                .logging(logging(&s.logging))
                .send()
                .await
                .aws_on("eks:UpdateClusterConfig", &name)?;
            wait_update(step, &name, UpdateOf::Cluster, out.update, Self::READY_TIMEOUT).await?;
        }
        if !changes.is_empty() && changes.iter().any(|c| c != Attr::Tags) {
            live = Self::wait_ready(step, &live).await?;
        }
        if changes.has(Attr::Tags) {
            sync_tags(step, live.arn.as_deref(), &live.tags, d.tags).await?;
            live.tags = d.tags.clone();
        }
        Ok(live)
    }

    async fn delete(step: &Step<'_>, live: &Found<Self>) -> Result<()> {
        let aws = step.aws();
        match aws
            .eks
            .delete_cluster()
            .name(&live.id)
            .send()
            .await
            .aws_on("eks:DeleteCluster", &live.id)
        {
            Err(e) if is_not_found_error(&e) => return Ok(()),
            // Already on its way out (a re-run of a destroy): just wait for it.
            Err(_) if live.readiness == Readiness::Deleting => {}
            other => {
                other?;
            }
        }
        super::poll_usual(
            step,
            &format!("EKS cluster {} to be deleted", live.id),
            Self::READY_TIMEOUT,
            || async {
                match describe(aws, &live.id).await? {
                    None => Ok(Polled::Ready(())),
                    Some(c) => Ok(Polled::Pending(
                        c.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
                    )),
                }
            },
        )
        .await
    }
}

/// An EBS volume Kubernetes made for a persistent volume.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterVolume {
    pub id: String,
    pub gib: i32,
    /// Detached: nothing uses it, and it can be deleted.
    pub available: bool,
    /// A tag names this cluster. `false`: the EBS CSI driver made it and no
    /// tag names any cluster (the driver adds one only when told the
    /// cluster's id), so it may be this stack's.
    pub named: bool,
}

/// Tags that name the cluster a volume was made for: the provisioners'
/// `kubernetes.io/cluster/<name>` and `KubernetesCluster`, Auto Mode's
/// `eks:eks-cluster-name`, the EBS CSI driver's `ebs.csi.aws.com/cluster-name`
/// (aws-ebs-csi-driver docs/tagging.md).
const CLUSTER_NAME_TAGS: &[&str] = &[
    "KubernetesCluster",
    "eks:eks-cluster-name",
    "ebs.csi.aws.com/cluster-name",
];

/// The EBS volumes made for the cluster's persistent volumes: those a tag
/// ties to it, and detached ones the EBS CSI driver made without naming
/// any cluster (`ebs.csi.aws.com/cluster = true` with a `CSIVolumeName`).
pub async fn volumes(aws: &Aws, cluster: &str) -> Result<Vec<ClusterVolume>> {
    use aws_sdk_ec2::types::Filter;
    let own_key = format!("kubernetes.io/cluster/{cluster}");
    // One listing per tag, each with a single value: simple filters that
    // every EC2 implementation reads alike.
    let mut filters = vec![
        Filter::builder().name("tag-key").values(&own_key).build(),
        Filter::builder()
            .name("tag-key")
            .values("ebs.csi.aws.com/cluster")
            .build(),
    ];
    filters.extend(
        CLUSTER_NAME_TAGS
            .iter()
            .map(|k| Filter::builder().name(format!("tag:{k}")).values(cluster).build()),
    );
    let listings = filters.into_iter().map(|f| async move {
        let mut found = Vec::new();
        let mut pages = aws.ec2.describe_volumes().filters(f).into_paginator().send();
        while let Some(page) = pages.next().await {
            found.extend(page.aws("ec2:DescribeVolumes")?.volumes().iter().cloned());
        }
        Ok::<_, anyhow::Error>(found)
    });
    let mut all: Vec<aws_sdk_ec2::types::Volume> = futures_util::future::try_join_all(listings)
        .await?
        .into_iter()
        .flatten()
        .collect();
    all.sort_by(|a, b| a.volume_id().cmp(&b.volume_id()));
    all.dedup_by(|a, b| a.volume_id() == b.volume_id());
    let mut found = Vec::new();
    for v in &all {
        let tags: Tags = v
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
            .collect();
        let names_us = tags.contains_key(&own_key)
            || CLUSTER_NAME_TAGS
                .iter()
                .any(|k| tags.get(*k).map(String::as_str) == Some(cluster));
        let names_any = tags.keys().any(|k| k.starts_with("kubernetes.io/cluster/"))
            || CLUSTER_NAME_TAGS.iter().any(|k| tags.contains_key(*k));
        let by_driver = tags.get("ebs.csi.aws.com/cluster").map(String::as_str) == Some("true")
            && tags.contains_key("CSIVolumeName");
        let available = v.state().is_some_and(|s| s.as_str() == "available");
        let Some(id) = v.volume_id() else { continue };
        if names_us || (by_driver && !names_any && available) {
            found.push(ClusterVolume {
                id: id.to_string(),
                gib: v.size().unwrap_or(0),
                available,
                named: names_us,
            });
        }
    }
    Ok(found)
}

fn extended_support(version: &str) -> bool {
    matches!(
        regions::support(version, regions::today()),
        Some(regions::Support::Extended(_))
    )
}

fn minor(v: &str) -> Option<u32> {
    v.split('.').nth(1)?.parse().ok()
}

/// The minor versions an upgrade passes through: 1.31 → 1.33 is [1.32, 1.33].
pub fn upgrade_hops(from: &str, to: &str) -> Vec<String> {
    match (minor(from), minor(to)) {
        (Some(a), Some(b)) if b > a => (a + 1..=b).map(|m| format!("1.{m}")).collect(),
        _ => vec![to.to_string()],
    }
}

/// A control plane stays in the AZs it was created in: subnets of a new AZ
/// are for node groups, Fargate and the database, not for it.
fn subnets_guard(before: &Value, after: &Value) -> Verdict {
    let ids = |v: &Value| -> Vec<String> {
        match v {
            Value::List(items) => items.iter().map(|i| i.to_string()).collect(),
            _ => vec![],
        }
    };
    let (have, want) = (ids(before), ids(after));
    let only_added = have.iter().all(|h| want.contains(h));
    if only_added {
        Verdict::Keep(
            "the control plane stays in the AZs it was created in (EKS cannot move it); the new AZ's subnets serve node groups, Fargate profiles and the database".into(),
        )
    } else {
        Verdict::AllowedWithNote(Msg::new("note.control_plane_subnets"))
    }
}

/// The authentication mode moves towards access entries only.
fn authentication_guard(before: &Value, _: &Value) -> Verdict {
    match before.as_str() {
        Some("CONFIG_MAP") => Verdict::AllowedWithNote(Msg::new("note.access_entries_one_way")),
        Some("API") => Verdict::Keep(
            "the cluster uses access entries only (API), which EKS cannot turn back; access entries work as they are"
                .into(),
        ),
        _ => Verdict::Allowed,
    }
}

fn mode_of(auto: bool) -> &'static str {
    if auto {
        crate::config::ClusterMode::Auto.as_str()
    } else {
        crate::config::ClusterMode::Managed.as_str()
    }
}

/// EKS switches a cluster into or out of Auto Mode in place; what happens
/// to the pods is the part a reviewer needs to know.
fn mode_guard(before: &Value, after: &Value) -> Verdict {
    match (before.as_str(), after.as_str()) {
        (Some("managed"), Some("auto")) => Verdict::AllowedWithNote(Msg::new("note.to_auto_mode")),
        (Some("auto"), Some("managed")) => Verdict::AllowedWithNote(Msg::new("note.from_auto_mode")),
        _ => Verdict::Allowed,
    }
}

/// Auto Mode's compute config, with the node role's ARN; `None` in managed mode.
fn auto_compute(auto: Option<&AutoMode>, inputs: &Inputs) -> Result<Option<ComputeConfigRequest>> {
    let Some(a) = auto else { return Ok(None) };
    Ok(Some(
        ComputeConfigRequest::builder()
            .enabled(true)
            .set_node_pools(Some(a.node_pools.clone()))
            .node_role_arn(inputs.arn(&a.node_role)?)
            .build(),
    ))
}

fn load_balancing(enabled: bool) -> KubernetesNetworkConfigRequest {
    KubernetesNetworkConfigRequest::builder()
        .elastic_load_balancing(ElasticLoadBalancing::builder().enabled(enabled).build())
        .build()
}

fn block_storage(enabled: bool) -> StorageConfigRequest {
    StorageConfigRequest::builder()
        .block_storage(BlockStorage::builder().enabled(enabled).build())
        .build()
}

fn version_guard(before: &Value, after: &Value) -> Verdict {
    let (Some(b), Some(a)) = (before.as_str(), after.as_str()) else {
        return Verdict::Allowed;
    };
    match (minor(b), minor(a)) {
        (Some(bm), Some(am)) if am < bm => Verdict::Impossible(
            Msg::new("impossible.kubernetes_downgrade")
                .arg("before", b)
                .arg("after", a),
        ),
        (Some(bm), Some(am)) if am > bm => Verdict::AllowedWithNote(
            Msg::new("note.kubernetes_upgrade")
                .arg("before", b)
                .arg("hops", upgrade_hops(b, a).join(" → ")),
        ),
        _ => Verdict::Allowed,
    }
}

fn to_found(c: &Cluster, stack: &str) -> Option<Found<EksCluster>> {
    let tags = tag_map(c.tags());
    let state = c.status().map(|s| s.as_str().to_string()).unwrap_or_default();
    let readiness = match state.as_str() {
        "ACTIVE" => Readiness::Ready,
        "CREATING" | "UPDATING" | "PENDING" => Readiness::Pending,
        "FAILED" => Readiness::Failed,
        _ => Readiness::Deleting,
    };
    let vpc = c.resources_vpc_config();
    let mut subnets: Vec<String> = vpc.map(|v| v.subnet_ids().to_vec()).unwrap_or_default();
    subnets.sort();
    let logging = LOG_TYPES
        .iter()
        .filter(|t| {
            c.logging().is_some_and(|l| {
                l.cluster_logging()
                    .iter()
                    .any(|s| s.enabled() == Some(true) && s.types().iter().any(|lt| lt.as_str() == **t))
            })
        })
        .map(|t| t.to_string())
        .collect();
    let observed = Observed {
        version: c.version().unwrap_or_default().to_string(),
        subnets,
        endpoint: vpc.and_then(|v| EndpointAccess::from_flags(v.endpoint_public_access(), v.endpoint_private_access())),
        public_access_cidrs: vpc.map(|v| v.public_access_cidrs().to_vec()).unwrap_or_default(),
        logging,
        endpoint_url: c.endpoint().unwrap_or_default().to_string(),
        certificate_authority: c
            .certificate_authority()
            .and_then(|ca| ca.data())
            .unwrap_or_default()
            .to_string(),
        role_arn: c.role_arn().unwrap_or_default().to_string(),
        cluster_security_group: vpc.and_then(|v| v.cluster_security_group_id()).map(str::to_string),
        vpc_id: vpc.and_then(|v| v.vpc_id()).map(str::to_string),
        authentication_mode: c
            .access_config()
            .and_then(|a| a.authentication_mode())
            .map(|m| m.as_str().to_string()),
        // DescribeCluster does not report it: the cluster's tag says, and a
        // cluster without the tag has them, as EKS's default is.
        bootstrap_self_managed_addons: Some(tags.get(TAG_SELF_MANAGED_ADDONS).map(String::as_str) != Some("false")),
        issuer: c
            .identity()
            .and_then(|i| i.oidc())
            .and_then(|o| o.issuer())
            .map(str::to_string),
        auto_mode: c.compute_config().and_then(|cc| cc.enabled()) == Some(true),
        node_pools: c
            .compute_config()
            .map(|cc| cc.node_pools().to_vec())
            .unwrap_or_default(),
    };
    // A cluster of this name that ekstack did not make is reported, not adopted.
    let origin = if is_of_stack(&tags, stack) {
        Origin::Ours
    } else {
        Origin::Foreign
    };
    Some(
        EksCluster::found(ADDRESS, c.name()?, state, readiness, observed)
            .with_arn(c.arn())
            .with_tags(tags)
            .with_origin(origin),
    )
}

/// The cluster, if it exists.
pub async fn describe(aws: &Aws, name: &str) -> Result<Option<Cluster>> {
    let out = existing(
        aws.eks
            .describe_cluster()
            .name(name)
            .send()
            .await
            .aws_on("eks:DescribeCluster", name),
    )?;
    Ok(out.and_then(|out| out.cluster))
}

fn vpc_config(s: &Spec, subnets: Vec<String>) -> VpcConfigRequest {
    let mut b = VpcConfigRequest::builder()
        .set_subnet_ids(Some(subnets))
        .endpoint_public_access(s.endpoint.public())
        .endpoint_private_access(s.endpoint.private());
    if s.endpoint.public() {
        b = b.set_public_access_cidrs(Some(s.public_access_cidrs.clone()));
    }
    b.build()
}

/// Every log type, enabled or not: the API (and moto) replace the setting whole.
fn logging(enabled: &[String]) -> Logging {
    let (on, off): (Vec<&str>, Vec<&str>) = LOG_TYPES.iter().partition(|t| enabled.iter().any(|e| e == *t));
    let setup = |types: Vec<&str>, enabled: bool| {
        LogSetup::builder()
            .set_types(Some(types.into_iter().map(LogType::from).collect()))
            .enabled(enabled)
            .build()
    };
    let mut b = Logging::builder();
    if !on.is_empty() {
        b = b.cluster_logging(setup(on, true));
    }
    if !off.is_empty() {
        b = b.cluster_logging(setup(off, false));
    }
    b.build()
}

/// The desired subnets the control plane may use: those in the AZs it
/// already runs in. "All subnets that you add must be in the same set of
/// AZs as originally provided when you created the cluster" (EKS network
/// requirements), so a new AZ serves nodes, Fargate and the database, not
/// the control plane. `None` when that is what the cluster has.
fn subnets_in_cluster_azs(s: &Spec, current: &[String], inputs: &Inputs) -> Result<Option<Vec<String>>> {
    let desired: Vec<Found<Subnet>> = s.subnets.iter().map(|r| inputs.get(r)).collect::<Result<_>>()?;
    let azs: std::collections::BTreeSet<&str> = desired
        .iter()
        .filter(|sn| current.contains(&sn.id))
        .map(|sn| sn.observed.az.as_str())
        .collect();
    let mut keep: Vec<String> = desired
        .iter()
        .filter(|sn| azs.is_empty() || azs.contains(sn.observed.az.as_str()))
        .map(|sn| sn.id.clone())
        .collect();
    keep.sort();
    let mut have = current.to_vec();
    have.sort();
    Ok((keep != have).then_some(keep))
}

/// Brings every managed node group of the cluster to `version`, for the
/// next control-plane hop.
async fn nodegroups_to(step: &Step<'_>, cluster: &str, version: &str) -> Result<()> {
    let eks = &step.aws().eks;
    let mut names = Vec::new();
    let mut pages = eks.list_nodegroups().cluster_name(cluster).into_paginator().send();
    while let Some(page) = pages.next().await {
        names.extend(page.aws_on("eks:ListNodegroups", cluster)?.nodegroups().iter().cloned());
    }
    for ng in names {
        let described = eks
            .describe_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(&ng)
            .send()
            .await
            .aws_on("eks:DescribeNodegroup", &ng)?;
        let at = described
            .nodegroup()
            .and_then(|n| n.version())
            .unwrap_or_default()
            .to_string();
        if minor(&at) >= minor(version) {
            continue;
        }
        step.status(&format!(
            "rolling node group {ng} to {version} before the next control-plane hop"
        ));
        let out = eks
            .update_nodegroup_version()
            .cluster_name(cluster)
            .nodegroup_name(&ng)
            .version(version)
            .send()
            .await
            .aws_on("eks:UpdateNodegroupVersion", &ng)?;
        wait_update(
            step,
            cluster,
            UpdateOf::Nodegroup(&ng),
            out.update,
            std::time::Duration::from_secs(30 * 60),
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrades_go_one_minor_at_a_time() {
        assert_eq!(upgrade_hops("1.31", "1.33"), vec!["1.32", "1.33"]);
        assert_eq!(upgrade_hops("1.32", "1.33"), vec!["1.33"]);
        assert!(matches!(
            version_guard(&"1.33".into(), &"1.32".into()),
            Verdict::Impossible(_)
        ));
        assert!(
            matches!(version_guard(&"1.31".into(), &"1.33".into()), Verdict::AllowedWithNote(n) if n.english().contains("1.32 → 1.33"))
        );
    }
}
