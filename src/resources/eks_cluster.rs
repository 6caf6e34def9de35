//! The EKS control plane, named after the stack.

use std::collections::HashMap;

use anyhow::{anyhow, bail, Result};
use aws_sdk_eks::types::{Cluster, LogSetup, LogType, Logging, VpcConfigRequest};
use serde_json::{json, Value};

use super::{live_user_tags, no_update, poll, ready_timeout, Polled, Step};
use crate::aws::errors::{has_code, is_not_found_error, AwsResultExt};
use crate::aws::Aws;
use crate::config::{EndpointAccess, Stack, LOG_TYPES};
use crate::graph::build::EKS_CLUSTER;
use crate::graph::{Kind, Resource, Spec};
use crate::live::{Live, Readiness};
use crate::plan::diff::{Attr, Compare, Verdict};
use crate::plan::{ResourceAction, KNOWN_AFTER_APPLY};

pub fn attrs(stack: &Stack, r: &Resource, id_of: &dyn Fn(&str) -> Option<String>) -> Vec<Attr> {
    let Spec::EksCluster { eks, subnets, .. } = &r.spec else {
        return vec![];
    };
    let subnets: Vec<Value> = subnets
        .iter()
        .map(|s| id_of(s).unwrap_or_else(|| KNOWN_AFTER_APPLY.into()).into())
        .collect();
    vec![
        Attr::in_place(
            "version",
            "eks.version",
            eks.version.clone(),
            "eks:UpdateClusterVersion",
        )
        .guard(version_guard),
        Attr::in_place(
            "subnets",
            "network.azs",
            Value::Array(subnets),
            "eks:UpdateClusterConfig",
        )
        .compare(Compare::Unordered),
        Attr::in_place(
            "endpoint",
            "eks.endpoint",
            eks.endpoint.as_str(),
            "eks:UpdateClusterConfig",
        )
        .note("the API endpoint stays up; kubectl may need to reach it differently"),
        Attr::in_place(
            "public_access_cidrs",
            "eks.public_access_cidrs",
            json!(eks.public_access_cidrs),
            "eks:UpdateClusterConfig",
        )
        .compare(Compare::Unordered),
        Attr::in_place("logging", "eks.logging", json!(eks.logging), "eks:UpdateClusterConfig")
            .compare(Compare::Unordered),
        Attr::in_place("tags", "stack.tags", json!(stack.meta.tags), "eks:TagResource"),
    ]
}

fn minor(v: &Value) -> Option<u32> {
    v.as_str()?.split('.').nth(1)?.parse().ok()
}

/// The minor versions an upgrade passes through: 1.31 → 1.33 is [32, 33].
pub fn upgrade_hops(from: &str, to: &str) -> Vec<String> {
    match (minor(&Value::from(from)), minor(&Value::from(to))) {
        (Some(a), Some(b)) if b > a => (a + 1..=b).map(|m| format!("1.{m}")).collect(),
        _ => vec![to.to_string()],
    }
}

fn version_guard(before: &Value, after: &Value) -> Verdict {
    match (minor(before), minor(after)) {
        (Some(b), Some(a)) if a < b => Verdict::Impossible(format!(
            "EKS cannot downgrade Kubernetes; keep eks.version = {before}, or create a new stack at {after} and move the workloads"
        )),
        (Some(b), Some(a)) if a > b => {
            let hops = upgrade_hops(before.as_str().unwrap_or_default(), after.as_str().unwrap_or_default());
            Verdict::AllowedWithNote(format!(
                "one minor version at a time: {} → {}, control plane first (~10 min per hop, the API stays up), then node groups (rolling)",
                before.as_str().unwrap_or_default(),
                hops.join(" → ")
            ))
        }
        _ => Verdict::Allowed,
    }
}

fn endpoint_of(c: &Cluster) -> Option<EndpointAccess> {
    let vpc = c.resources_vpc_config()?;
    EndpointAccess::from_flags(vpc.endpoint_public_access(), vpc.endpoint_private_access())
}

pub(crate) fn to_live(c: &Cluster, stack: &str) -> Option<Live> {
    let tags: std::collections::BTreeMap<String, String> = c
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
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
    let logging: Vec<&str> = LOG_TYPES
        .iter()
        .copied()
        .filter(|t| {
            c.logging().is_some_and(|l| {
                l.cluster_logging()
                    .iter()
                    .any(|s| s.enabled() == Some(true) && s.types().iter().any(|lt| lt.as_str() == *t))
            })
        })
        .collect();
    let cidrs: Vec<String> = vpc.map(|v| v.public_access_cidrs().to_vec()).unwrap_or_default();
    let mut live = Live::new(Kind::EksCluster, EKS_CLUSTER, c.name()?, state, readiness)
        .with_arn(c.arn().map(str::to_string))
        .attr("version", c.version().unwrap_or_default())
        .attr("subnets", json!(subnets))
        .attr("logging", json!(logging))
        .attr("tags", live_user_tags(&tags))
        .detail("endpoint_url", c.endpoint().unwrap_or_default())
        .detail(
            "certificate_authority",
            c.certificate_authority().and_then(|ca| ca.data()).unwrap_or_default(),
        )
        .detail("role_arn", c.role_arn().unwrap_or_default());
    if let Some(e) = endpoint_of(c) {
        live = live.attr("endpoint", e.as_str());
        if e.public() {
            live = live.attr("public_access_cidrs", json!(cidrs));
        }
    }
    if let Some(sg) = vpc.and_then(|v| v.cluster_security_group_id()) {
        live = live.detail("cluster_security_group", sg);
    }
    if let Some(vpc_id) = vpc.and_then(|v| v.vpc_id()) {
        live = live.detail("vpc", vpc_id);
    }
    // A cluster of this name that ekstack did not make is reported, not adopted.
    if tags.get(super::TAG_STACK).map(String::as_str) != Some(stack) {
        live = live.detail("foreign", true);
    }
    Some(live.with_tags(tags))
}

/// The cluster, if it exists. `None` also means: do not list its node groups
/// (moto answers those lists with a 500 for a missing cluster).
pub async fn describe(aws: &Aws, name: &str) -> Result<Option<Cluster>> {
    let out = super::found(
        aws.eks
            .describe_cluster()
            .name(name)
            .send()
            .await
            .aws("eks:DescribeCluster"),
    )?;
    Ok(out.and_then(|out| out.cluster))
}

fn vpc_config(eks: &crate::config::Eks, subnets: Vec<String>) -> VpcConfigRequest {
    let mut b = VpcConfigRequest::builder()
        .set_subnet_ids(Some(subnets))
        .endpoint_public_access(eks.endpoint.public())
        .endpoint_private_access(eks.endpoint.private());
    if eks.endpoint.public() {
        b = b.set_public_access_cidrs(Some(eks.public_access_cidrs.clone()));
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

/// An idempotency token that is the same for a retry of this create but
/// different after a destroy (new subnets), as AWS keeps tokens for a while.
pub fn request_token(parts: &[&str]) -> String {
    // FNV-1a: the same on every build, unlike std's hasher, so a rebuilt
    // binary still finds what an earlier one started.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.join("\u{1f}").bytes() {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("ekstack-{h:016x}")
}

pub async fn create(step: &Step<'_>, r: &Resource) -> Result<Live> {
    let Spec::EksCluster { eks, role, subnets } = &r.spec else {
        bail!("internal error: {} is not a cluster", r.address)
    };
    let role_arn = step.ctx.arn_of(role)?;
    let subnet_ids = subnets.iter().map(|s| step.ctx.id_of(s)).collect::<Result<Vec<_>>>()?;
    let tags: HashMap<String, String> = super::tags(&step.ctx.stack, &r.address, &r.name).into_iter().collect();
    let token = request_token(&[&r.name, &role_arn, &subnet_ids.join(",")]);
    // A role made seconds ago may not be assumable yet (IAM is eventually
    // consistent); EKS says so with InvalidParameterException. Retry a while.
    let mut attempt = 0;
    let out = loop {
        attempt += 1;
        let result = step
            .aws()
            .eks
            .create_cluster()
            .name(&r.name)
            .version(&eks.version)
            .role_arn(&role_arn)
            .resources_vpc_config(vpc_config(eks, subnet_ids.clone()))
            .logging(logging(&eks.logging))
            .set_tags(Some(tags.clone()))
            .client_request_token(&token)
            .send()
            .await
            .aws("eks:CreateCluster");
        match result {
            Ok(out) => break out.cluster,
            Err(e) if has_code(&e, "ResourceInUseException") => {
                // Made by an interrupted run (or a lost response): adopt it if it is ours.
                let existing = describe(step.aws(), &r.name)
                    .await?
                    .ok_or_else(|| anyhow!("cluster {} vanished", r.name))?;
                break Some(existing);
            }
            Err(e)
                if has_code(&e, "InvalidParameterException") && format!("{e:#}").contains("role") && attempt < 12 =>
            {
                step.status("waiting for the IAM role to propagate");
                step.ctx.pause(std::time::Duration::from_secs(10)).await;
            }
            Err(e) => return Err(e),
        }
    };
    let cluster = out.ok_or_else(|| anyhow!("CreateCluster returned no cluster"))?;
    let live = to_live(&cluster, step.ctx.stack_name())
        .ok_or_else(|| anyhow!("CreateCluster returned a cluster without a name"))?;
    if live.details.contains_key("foreign") {
        bail!(
            "an EKS cluster named {} already exists and was not made by ekstack for this stack; rename the stack",
            r.name
        );
    }
    Ok(live)
}

pub async fn wait_ready(step: &Step<'_>, live: &Live) -> Result<Live> {
    let stack = step.ctx.stack_name().to_string();
    poll(
        step,
        &format!("EKS cluster {}", live.id),
        ready_timeout(Kind::EksCluster),
        || async {
            let c = describe(step.aws(), &live.id)
                .await?
                .ok_or_else(|| anyhow!("EKS cluster {} disappeared", live.id))?;
            let l = to_live(&c, &stack).ok_or_else(|| anyhow!("cluster without a name"))?;
            match l.readiness {
                Readiness::Ready => Ok(Polled::Ready(l)),
                Readiness::Pending => Ok(Polled::Pending(l.state)),
                _ => bail!("EKS cluster {} is {}", live.id, l.state),
            }
        },
    )
    .await
}

pub async fn update(step: &Step<'_>, r: &Resource, live: &Live, action: &ResourceAction) -> Result<Live> {
    let Spec::EksCluster { eks, subnets, .. } = &r.spec else {
        bail!("internal error: {} is not a cluster", r.address)
    };
    // Refuse before touching anything: a half-made update is worse than none.
    let known = [
        "version",
        "subnets",
        "endpoint",
        "public_access_cidrs",
        "logging",
        "tags",
    ];
    if action.changes.iter().any(|c| !known.contains(&c.attribute.as_str())) {
        return Err(no_update(Kind::EksCluster, action));
    }
    let aws = step.aws();
    let mut live = live.clone();
    // EKS runs one update at a time: each waits for the cluster to settle.
    if action.changes_attribute("version") {
        let from = live
            .attrs
            .get("version")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        for hop in upgrade_hops(&from, &eks.version) {
            step.status(&format!("upgrading to {hop}"));
            aws.eks
                .update_cluster_version()
                .name(&live.id)
                .version(&hop)
                .send()
                .await
                .aws("eks:UpdateClusterVersion")?;
            live = wait_ready(step, &live).await?;
        }
    }
    let vpc_changed = ["subnets", "endpoint", "public_access_cidrs"]
        .iter()
        .any(|a| action.changes_attribute(a));
    if vpc_changed {
        let subnet_ids = subnets.iter().map(|s| step.ctx.id_of(s)).collect::<Result<Vec<_>>>()?;
        aws.eks
            .update_cluster_config()
            .name(&live.id)
            .resources_vpc_config(vpc_config(eks, subnet_ids))
            .send()
            .await
            .aws("eks:UpdateClusterConfig")?;
        live = wait_ready(step, &live).await?;
    }
    if action.changes_attribute("logging") {
        aws.eks
            .update_cluster_config()
            .name(&live.id)
            .logging(logging(&eks.logging))
            .send()
            .await
            .aws("eks:UpdateClusterConfig")?;
        live = wait_ready(step, &live).await?;
    }
    if action.changes_attribute("tags") {
        let arn = live
            .arn
            .clone()
            .ok_or_else(|| anyhow!("cluster {} has no ARN", live.id))?;
        sync_tags(step, &arn, &live.tags).await?;
    }
    Ok(live)
}

/// Brings the user tags of an EKS resource (cluster, node group, Fargate
/// profile) to what the stack file says.
pub async fn sync_tags(
    step: &Step<'_>,
    arn: &str,
    live_tags: &std::collections::BTreeMap<String, String>,
) -> Result<()> {
    let (stale, set) = super::tag_changes(live_tags, &step.ctx.stack.meta.tags);
    let eks = &step.aws().eks;
    if !stale.is_empty() {
        eks.untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(stale))
            .send()
            .await
            .aws("eks:UntagResource")?;
    }
    if !set.is_empty() {
        eks.tag_resource()
            .resource_arn(arn)
            .set_tags(Some(set.into_iter().collect()))
            .send()
            .await
            .aws("eks:TagResource")?;
    }
    Ok(())
}

pub async fn delete(step: &Step<'_>, live: &Live) -> Result<()> {
    let aws = step.aws();
    match aws
        .eks
        .delete_cluster()
        .name(&live.id)
        .send()
        .await
        .aws("eks:DeleteCluster")
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
        &format!("EKS cluster {} to be deleted", live.id),
        ready_timeout(Kind::EksCluster),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrades_go_one_minor_at_a_time() {
        assert_eq!(upgrade_hops("1.31", "1.33"), vec!["1.32", "1.33"]);
        assert_eq!(upgrade_hops("1.32", "1.33"), vec!["1.33"]);
        assert!(matches!(
            version_guard(&json!("1.33"), &json!("1.32")),
            Verdict::Impossible(_)
        ));
        assert!(
            matches!(version_guard(&json!("1.31"), &json!("1.33")), Verdict::AllowedWithNote(n) if n.contains("1.32 → 1.33"))
        );
    }
}
