//! EKS managed add-ons: the VPC CNI, kube-proxy, CoreDNS and the Pod
//! Identity agent by default, and the opt-in ones of
//! [`crate::config::addons`]. Each is made in its turn relative to the
//! cluster's compute (the CNI before any node, CoreDNS once something can
//! run it), at the version plan resolved, and waited for until ACTIVE. An
//! add-on that needs AWS permissions names its own role through the
//! add-on's `podIdentityAssociations`.

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use aws_sdk_eks::types::{Addon as SdkAddon, AddonPodIdentityAssociations, ResolveConflicts};

use super::eks::{
    delete_and_wait, once_role_propagated, request_token, sync_tags, tag_map, wait_update, Going, UpdateOf,
};
use super::eks_cluster::EksCluster;
use super::iam_role::IamRole;
use super::tags;
use super::{existing, Attribute, Changes, Desired, Discovery, Found, Inputs, New, Polled};
use super::{Kind, Ref, Resolve, ResourceKind, Step};
use crate::aws::errors::{has_code, AwsResultExt};
use crate::aws::Aws;
use crate::config::addons::{self, version_key, Order};
use crate::config::{AddonVersion, Stack};
use crate::graph::Address;
use crate::live::{Live, Origin, Readiness};
use crate::plan::{Value, Verdict};

pub fn address(name: &str) -> Address {
    format!("eks-addon.{name}")
}

/// The add-ons nodes need before they can join (the CNI, kube-proxy, the
/// Pod Identity agent): node groups are made after them.
pub fn before_compute(stack: &Stack) -> Vec<Address> {
    stack
        .eks
        .iter()
        .flat_map(|e| e.addons.keys())
        .filter(|n| addons::known(n).is_some_and(|k| k.order == Order::BeforeCompute))
        .map(|n| address(n))
        .collect()
}

pub struct EksAddon;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub cluster: Ref<EksCluster>,
    pub addon: String,
    /// What the file asks for.
    pub choice: AddonVersion,
    /// The version plan resolved; `None` in `validate`.
    pub version: Option<String>,
    /// A newer version that `default`/`latest` moves to only at the next
    /// Kubernetes upgrade.
    pub available: Option<String>,
    /// Configuration values as canonical JSON.
    pub configuration: Option<String>,
    /// The role its service account gets through EKS Pod Identity.
    pub role: Option<Ref<IamRole>>,
    pub service_account: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub struct Observed {
    pub cluster: String,
    pub version: String,
    /// Canonical JSON; `None` when none is set.
    pub configuration: Option<String>,
    /// "code: message" of each health issue.
    pub health: Vec<String>,
    pub pod_identity: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    Version,
    Configuration,
    PodIdentity,
    Tags,
}

/// JSON with its keys sorted, so equal settings compare equal; `{}` is none.
pub fn canonical(text: &str) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(m)) if m.is_empty() => None,
        Ok(v) => Some(sorted(&v).to_string()),
        Err(_) => Some(text.to_string()),
    }
}

fn sorted(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            let ordered: std::collections::BTreeMap<&String, serde_json::Value> =
                m.iter().map(|(k, v)| (k, sorted(v))).collect();
            serde_json::to_value(ordered).unwrap_or(serde_json::Value::Null)
        }
        serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The EKS API cannot see the self-managed add-ons EKS installs when a
/// cluster is made with `bootstrapSelfManagedAddons` on.
const SELF_MANAGED: &[&str] = &["vpc-cni", "kube-proxy", "coredns"];

/// EKS does not move an add-on back to an older version.
fn downgrade_guard(before: &Value, after: &Value) -> Verdict {
    match (
        before.as_str().and_then(version_key),
        after.as_str().and_then(version_key),
    ) {
        (Some(b), Some(a)) if a < b => Verdict::Impossible(
            crate::i18n::Msg::new("impossible.addon_downgrade")
                .arg("before", before)
                .arg("after", after),
        ),
        _ => Verdict::Allowed,
    }
}

impl ResourceKind for EksAddon {
    const KIND: Kind = Kind::EksAddon;
    const PARENT: Option<Kind> = Some(Kind::EksCluster);
    /// CoreDNS stays CREATING for up to ~5 minutes while nothing can run it.
    const READY_TIMEOUT: Duration = Duration::from_secs(10 * 60);
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    /// DESIGN §8 additions: 1–2 minutes (CoreDNS up to 5 while no node can
    /// run it).
    fn usual(verb: super::Verb, _: Option<&Spec>) -> Option<super::kind::Expected> {
        match verb {
            super::Verb::Create | super::Verb::Update => super::minutes(1.0, 2.0, "EKS is still rolling the add-on out; one that runs as a Deployment waits for a node or Fargate pod to run on"),
            super::Verb::Delete => None,
        }
    }

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        let Some(eks) = stack.running_cluster() else {
            return vec![];
        };
        // What runs as a Deployment waits for somewhere to run.
        let compute: Vec<Address> = eks
            .nodegroups
            .keys()
            .map(|k| super::eks_nodegroup::address(k))
            .chain(eks.fargate.keys().map(|k| super::eks_fargate_profile::address(k)))
            .collect();
        eks.addons
            .iter()
            .filter_map(|(name, a)| {
                let known = addons::known(name)?;
                let address = address(name);
                let permissions = known.permissions;
                Some(New {
                    tags: tags::of(stack, &address, name),
                    address,
                    name: name.clone(),
                    spec: Spec {
                        cluster: super::eks_cluster::reference(),
                        addon: name.clone(),
                        choice: a.version.clone(),
                        version: a
                            .resolved
                            .as_ref()
                            .map(|r| r.version.clone())
                            .or_else(|| match &a.version {
                                AddonVersion::Pinned(v) => Some(v.clone()),
                                _ => None,
                            }),
                        available: a.resolved.as_ref().and_then(|r| r.available.clone()),
                        configuration: a
                            .configuration
                            .as_ref()
                            .and_then(|c| canonical(&serde_json::Value::Object(c.clone()).to_string())),
                        role: permissions.map(|_| super::iam_role::addon(name)),
                        service_account: permissions.map(|p| p.service_account),
                    },
                    after: match known.order {
                        Order::BeforeCompute => vec![],
                        Order::AfterCompute => compute.clone(),
                    },
                })
            })
            .collect()
    }

    /// The add-ons EKS installs by default and the ones a stack file
    /// commonly adds are each explained; any other by its name.
    fn purpose(d: &Desired<'_, Self>) -> crate::i18n::Msg {
        use crate::i18n::Msg;
        match d.spec.addon.as_str() {
            "vpc-cni" => Msg::new("purpose.eks_addon.vpc-cni"),
            "coredns" => Msg::new("purpose.eks_addon.coredns"),
            "kube-proxy" => Msg::new("purpose.eks_addon.kube-proxy"),
            "eks-pod-identity-agent" => Msg::new("purpose.eks_addon.eks-pod-identity-agent"),
            "metrics-server" => Msg::new("purpose.eks_addon.metrics-server"),
            "aws-ebs-csi-driver" => Msg::new("purpose.eks_addon.aws-ebs-csi-driver"),
            other => Msg::new("purpose.eks_addon.other").arg("name", other),
        }
    }

    fn references(spec: &Spec) -> Vec<Address> {
        let mut refs = vec![spec.cluster.address.clone()];
        refs.extend(spec.role.iter().map(|r| r.address.clone()));
        refs
    }

    fn attributes(d: &Desired<'_, Self>, _: &dyn Resolve) -> Vec<Attribute<Self>> {
        let s = d.spec;
        let base = format!("eks.addons.{}", s.addon);
        let mut rows = vec![
            Attribute::<Self>::new(
                Attr::Version,
                format!("{base}.version"),
                s.version.clone().map(Value::Text).unwrap_or(Value::Unknown),
                |l| l.observed.version.clone().into(),
            )
            .in_place("eks:UpdateAddon")
            .note(crate::i18n::Msg::new("note.addon_roll"))
            .guard(downgrade_guard),
            Attribute::<Self>::new(
                Attr::Configuration,
                format!("{base}.configuration"),
                Value::from(s.configuration.clone()),
                |l| Value::from(l.observed.configuration.clone()),
            )
            .in_place("eks:UpdateAddon"),
            tags::attribute(Attr::Tags, d, "eks:TagResource"),
        ];
        if s.role.is_some() {
            rows.push(
                Attribute::<Self>::new(Attr::PodIdentity, base.clone(), true, |l| {
                    Value::Bool(l.observed.pod_identity)
                })
                .in_place("eks:UpdateAddon"),
            );
        }
        rows
    }

    fn notes(d: &Desired<'_, Self>, live: Option<&Found<Self>>, refs: &dyn Resolve) -> Vec<String> {
        let s = d.spec;
        let mut notes = Vec::new();
        if let Some(newer) = &s.available {
            notes.push(format!(
                "{newer} is available; version = \"{}\" keeps {} until the next Kubernetes upgrade (pin version = \"{newer}\" to move now)",
                s.choice.as_str(),
                s.version.as_deref().unwrap_or("the running version")
            ));
        }
        let self_managed = live.is_none()
            && SELF_MANAGED.contains(&s.addon.as_str())
            && refs
                .live(&s.cluster.address)
                .and_then(|c| c.observed::<EksCluster>())
                .is_some_and(|c| c.bootstrap_self_managed_addons == Some(true));
        if self_managed {
            notes.push(format!(
                "the cluster was made with EKS's self-managed {}, which the EKS API cannot see: the managed add-on takes it over, overwriting its settings (resolveConflicts = OVERWRITE)",
                s.addon
            ));
        }
        notes
    }

    fn points_at(o: &Observed) -> Vec<String> {
        vec![o.cluster.clone()]
    }

    /// One listing per cluster, then each add-on (EKS has no batch describe).
    async fn discover(cx: &Discovery<'_>, parent: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let Some(cluster) = parent else { return Ok(vec![]) };
        let mut names = Vec::new();
        let mut pages = cx
            .aws
            .eks
            .list_addons()
            .cluster_name(&cluster.id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            names.extend(page.aws_on("eks:ListAddons", &cluster.id)?.addons().iter().cloned());
        }
        let described = names.iter().map(|name| describe(cx.aws, &cluster.id, name));
        let found = futures_util::future::try_join_all(described).await?;
        Ok(found.into_iter().flatten().filter_map(|a| to_found(&a)).collect())
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, inputs: &Inputs) -> Result<Found<Self>> {
        let s = d.spec;
        let cluster = inputs.id(&s.cluster)?;
        let role = s.role.as_ref().map(|r| inputs.arn(r)).transpose()?;
        let associations = pod_identity(s, role.as_deref())?;
        let token = request_token(&[&cluster, &s.addon, s.version.as_deref().unwrap_or("")]);
        let aws = step.aws();
        // A role made seconds ago may not reach EKS yet.
        let result = once_role_propagated(step, || async {
            aws.eks
                .create_addon()
                .cluster_name(&cluster)
                .addon_name(&s.addon)
                .set_addon_version(s.version.clone())
                // EKS's self-managed add-on of the same name, if any, is
                // taken over with the add-on's defaults.
                .resolve_conflicts(ResolveConflicts::Overwrite)
                .set_configuration_values(s.configuration.clone())
                .set_pod_identity_associations(associations.clone())
                .set_tags(Some(d.tags.clone().into_iter().collect()))
                .client_request_token(&token)
                .send()
                .await
                .aws_on("eks:CreateAddon", &s.addon)
        })
        .await;
        let addon = match result {
            Ok(out) => out.addon,
            // Made by an interrupted run or another tool: take it over and
            // bring it to the file's settings.
            Err(e) if has_code(&e, "ResourceInUseException") => {
                let found = describe(aws, &cluster, &s.addon).await?.ok_or(e)?;
                let mut live = to_found(&found).ok_or_else(|| anyhow!("add-on without a name"))?;
                live.origin = Origin::Adopted;
                return Ok(live);
            }
            Err(e) => return Err(e),
        };
        let addon = addon.ok_or_else(|| anyhow!("CreateAddon returned no add-on"))?;
        to_found(&addon).ok_or_else(|| anyhow!("CreateAddon returned an add-on without a name"))
    }

    async fn wait_ready(step: &Step<'_>, live: &Found<Self>) -> Result<Found<Self>> {
        let cluster = &live.observed.cluster;
        super::poll_usual(step, &format!("add-on {}", live.id), Self::READY_TIMEOUT, || async {
            let a = describe(step.aws(), cluster, &live.id)
                .await?
                .ok_or_else(|| anyhow!("add-on {} disappeared", live.id))?;
            let l = to_found(&a).ok_or_else(|| anyhow!("add-on without a name"))?;
            match l.state.as_str() {
                "ACTIVE" => Ok(Polled::Ready(l)),
                "CREATING" | "UPDATING" => Ok(Polled::Pending(l.state)),
                other => bail!(
                    "add-on {} is {other}{}",
                    live.id,
                    if l.observed.health.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", l.observed.health.join("; "))
                    }
                ),
            }
        })
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
        let cluster = current.observed.cluster.clone();
        let mut live = current.clone();
        if changes.any(&[Attr::Version, Attr::Configuration, Attr::PodIdentity]) {
            // The cluster's upgrade may have moved it already.
            let now = describe(step.aws(), &cluster, &live.id)
                .await?
                .and_then(|a| to_found(&a))
                .ok_or_else(|| anyhow!("add-on {} disappeared", live.id))?;
            let version = s.version.clone().filter(|v| *v != now.observed.version);
            let configuration = (s.configuration != now.observed.configuration)
                .then(|| s.configuration.clone().unwrap_or_else(|| "{}".into()));
            let role = s.role.as_ref().map(|r| inputs.arn(r)).transpose()?;
            let associations = if s.role.is_some() && !now.observed.pod_identity {
                pod_identity(s, role.as_deref())?
            } else {
                None
            };
            if version.is_some() || configuration.is_some() || associations.is_some() {
                step.status(&format!(
                    "updating {}{}",
                    live.id,
                    version.as_ref().map(|v| format!(" to {v}")).unwrap_or_default()
                ));
                let out = once_role_propagated(step, || async {
                    step.aws()
                        .eks
                        .update_addon()
                        .cluster_name(&cluster)
                        .addon_name(&live.id)
                        .set_addon_version(version.clone())
                        .set_configuration_values(configuration.clone())
                        .set_pod_identity_associations(associations.clone())
                        .resolve_conflicts(ResolveConflicts::Overwrite)
                        .send()
                        .await
                        .aws_on("eks:UpdateAddon", &live.id)
                })
                .await?;
                wait_update(
                    step,
                    &cluster,
                    UpdateOf::Addon(&live.id),
                    out.update,
                    Self::READY_TIMEOUT,
                )
                .await?;
            }
            // The engine waits for ACTIVE after every update.
            live = now;
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
            &format!("add-on {}", live.id),
            live.readiness == Readiness::Deleting,
            &[],
            Self::READY_TIMEOUT,
            || async {
                aws.eks
                    .delete_addon()
                    .cluster_name(cluster)
                    .addon_name(&live.id)
                    .send()
                    .await
                    .aws_on("eks:DeleteAddon", &live.id)
                    .map(|_| ())
            },
            || async {
                Ok(match describe(aws, cluster, &live.id).await? {
                    None => Going::Gone,
                    Some(a) => match a.status().map(|s| s.as_str().to_string()).unwrap_or_default() {
                        s if s == "DELETE_FAILED" => Going::Failed(String::new()),
                        s => Going::Still(s),
                    },
                })
            },
        )
        .await
    }
}

/// The add-on's own Pod Identity association for its service account.
fn pod_identity(s: &Spec, role: Option<&str>) -> Result<Option<Vec<AddonPodIdentityAssociations>>> {
    match (role, s.service_account) {
        (Some(role), Some(sa)) => Ok(Some(vec![AddonPodIdentityAssociations::builder()
            .service_account(sa)
            .role_arn(role)
            .build()?])),
        _ => Ok(None),
    }
}

fn to_found(a: &SdkAddon) -> Option<Found<EksAddon>> {
    let name = a.addon_name()?;
    let state = a.status().map(|s| s.as_str().to_string()).unwrap_or_default();
    let readiness = match state.as_str() {
        // DEGRADED is running but unhealthy: an apply waits on it and says why.
        "ACTIVE" | "DEGRADED" => Readiness::Ready,
        "CREATING" | "UPDATING" => Readiness::Pending,
        "CREATE_FAILED" | "UPDATE_FAILED" | "DELETE_FAILED" => Readiness::Failed,
        _ => Readiness::Deleting,
    };
    let health = a
        .health()
        .map(|h| {
            h.issues()
                .iter()
                .map(|i| {
                    format!(
                        "{}: {}",
                        i.code().map(|c| c.as_str()).unwrap_or("issue"),
                        i.message().unwrap_or_default()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let observed = Observed {
        cluster: a.cluster_name().unwrap_or_default().to_string(),
        version: a.addon_version().unwrap_or_default().to_string(),
        configuration: a.configuration_values().and_then(canonical),
        health,
        pod_identity: !a.pod_identity_associations().is_empty(),
    };
    // Add-on names are unique per cluster, and the cluster is the stack's.
    Some(
        EksAddon::found(address(name), name, state, readiness, observed)
            .with_arn(a.addon_arn())
            .with_tags(tag_map(a.tags())),
    )
}

async fn describe(aws: &Aws, cluster: &str, name: &str) -> Result<Option<SdkAddon>> {
    let out = existing(
        aws.eks
            .describe_addon()
            .cluster_name(cluster)
            .addon_name(name)
            .send()
            .await
            .aws_on("eks:DescribeAddon", name),
    )?;
    Ok(out.and_then(|out| out.addon))
}

/// The versions EKS offers for each add-on on a Kubernetes version, newest
/// first, with the one it marks default: DescribeAddonVersions, paged.
pub async fn offered(aws: &Aws, kubernetes: &str) -> Result<std::collections::BTreeMap<String, Vec<(String, bool)>>> {
    let mut out: std::collections::BTreeMap<String, Vec<(String, bool)>> = Default::default();
    let mut pages = aws
        .eks
        .describe_addon_versions()
        .kubernetes_version(kubernetes)
        // Every add-on AWS and the Marketplace publish: the largest pages.
        .max_results(100)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for info in page.aws("eks:DescribeAddonVersions")?.addons() {
            let Some(name) = info.addon_name() else { continue };
            if addons::known(name).is_none() {
                continue;
            }
            let versions = out.entry(name.to_string()).or_default();
            for v in info.addon_versions() {
                let Some(version) = v.addon_version() else { continue };
                let default = v
                    .compatibilities()
                    .iter()
                    .any(|c| c.cluster_version() == Some(kubernetes) && c.default_version());
                versions.push((version.to_string(), default));
            }
        }
    }
    for versions in out.values_mut() {
        versions.sort_by_key(|v| std::cmp::Reverse(version_key(&v.0)));
    }
    Ok(out)
}

/// The version `choice` means among `offered` (newest first).
pub fn pick(choice: &AddonVersion, offered: &[(String, bool)]) -> Option<String> {
    match choice {
        AddonVersion::Default => offered
            .iter()
            .find(|(_, d)| *d)
            .or(offered.first())
            .map(|(v, _)| v.clone()),
        AddonVersion::Latest => offered.first().map(|(v, _)| v.clone()),
        AddonVersion::Pinned(v) => offered.iter().any(|(o, _)| o == v).then(|| v.clone()),
    }
}

/// Brings every managed add-on of the cluster to what `choices` ask for on
/// Kubernetes `kubernetes` (one upgrade hop), concurrently, each tracked
/// to completion. An add-on already newer is left as it is.
pub async fn to_kubernetes(
    step: &Step<'_>,
    cluster: &str,
    kubernetes: &str,
    choices: &[(String, AddonVersion)],
) -> Result<()> {
    let aws = step.aws();
    let offered = offered(aws, kubernetes).await?;
    let moves = choices.iter().map(|(name, choice)| {
        let offered = offered.get(name).cloned().unwrap_or_default();
        async move {
            let Some(live) = describe(aws, cluster, name).await? else {
                return Ok(());
            };
            let have = live.addon_version().unwrap_or_default().to_string();
            // A pinned version not offered on this hop gives way to the hop's default.
            let Some(want) = pick(choice, &offered).or_else(|| pick(&AddonVersion::Default, &offered)) else {
                return Ok(());
            };
            if version_key(&want) <= version_key(&have) {
                return Ok(());
            }
            step.status(&format!("moving add-on {name} to {want} for Kubernetes {kubernetes}"));
            let out = aws
                .eks
                .update_addon()
                .cluster_name(cluster)
                .addon_name(name)
                .addon_version(&want)
                .resolve_conflicts(ResolveConflicts::Overwrite)
                .send()
                .await
                .aws_on("eks:UpdateAddon", name)?;
            wait_update(
                step,
                cluster,
                UpdateOf::Addon(name),
                out.update,
                EksAddon::READY_TIMEOUT,
            )
            .await
        }
    });
    futures_util::future::try_join_all(moves).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_pick_from_what_eks_offers() {
        let offered = vec![
            ("v1.12.4-eksbuild.1".to_string(), false),
            ("v1.12.1-eksbuild.2".to_string(), true),
            ("v1.11.4-eksbuild.14".to_string(), false),
        ];
        assert_eq!(pick(&AddonVersion::Default, &offered).unwrap(), "v1.12.1-eksbuild.2");
        assert_eq!(pick(&AddonVersion::Latest, &offered).unwrap(), "v1.12.4-eksbuild.1");
        assert_eq!(
            pick(&AddonVersion::Pinned("v1.11.4-eksbuild.14".into()), &offered).unwrap(),
            "v1.11.4-eksbuild.14"
        );
        assert_eq!(pick(&AddonVersion::Pinned("v9.0.0".into()), &offered), None);
        assert!(matches!(
            downgrade_guard(&"v1.12.1-eksbuild.2".into(), &"v1.11.4-eksbuild.14".into()),
            Verdict::Impossible(_)
        ));
        assert_eq!(
            canonical(r#"{"b":1,"a":{"d":2,"c":3}}"#).unwrap(),
            r#"{"a":{"c":3,"d":2},"b":1}"#
        );
        assert_eq!(canonical("{}"), None);
    }

    /// A cluster without ekstack's tag was made with EKS's self-managed
    /// add-ons: the plan says the managed one takes it over.
    #[test]
    fn a_self_managed_addon_is_taken_over_and_the_plan_says_so() {
        use crate::resources::eks_cluster::{self, TAG_SELF_MANAGED_ADDONS};
        let cluster = |tags: crate::live::Tags| {
            EksCluster::found(
                eks_cluster::ADDRESS,
                "shop",
                "ACTIVE",
                Readiness::Ready,
                eks_cluster::Observed {
                    version: "1.35".into(),
                    subnets: vec![],
                    endpoint: None,
                    public_access_cidrs: vec![],
                    logging: vec![],
                    endpoint_url: String::new(),
                    certificate_authority: String::new(),
                    role_arn: String::new(),
                    cluster_security_group: None,
                    vpc_id: None,
                    authentication_mode: Some("API_AND_CONFIG_MAP".into()),
                    bootstrap_self_managed_addons: Some(!tags.contains_key(TAG_SELF_MANAGED_ADDONS)),
                    issuer: None,
                    auto_mode: false,
                    node_pools: vec![],
                },
            )
            .with_tags(tags)
            .erase()
        };
        let spec = Spec {
            cluster: eks_cluster::reference(),
            addon: "vpc-cni".into(),
            choice: AddonVersion::Default,
            version: Some("v1.20.4-eksbuild.2".into()),
            available: None,
            configuration: None,
            role: None,
            service_account: None,
        };
        let tags = crate::live::Tags::new();
        let d = Desired::<EksAddon> {
            address: "eks-addon.vpc-cni",
            name: "vpc-cni",
            tags: &tags,
            spec: &spec,
        };
        let old: std::collections::BTreeMap<String, Live> =
            [(eks_cluster::ADDRESS.to_string(), cluster(Default::default()))].into();
        let notes = EksAddon::notes(&d, None, &old);
        assert!(
            notes
                .iter()
                .any(|n| n.contains("self-managed vpc-cni") && n.contains("OVERWRITE")),
            "{notes:?}"
        );
        let made_by_us: std::collections::BTreeMap<String, Live> = [(
            eks_cluster::ADDRESS.to_string(),
            cluster([(TAG_SELF_MANAGED_ADDONS.to_string(), "false".to_string())].into()),
        )]
        .into();
        assert!(EksAddon::notes(&d, None, &made_by_us).is_empty());
    }
}
