//! What the EKS kinds share: idempotency tokens and tags on ARNs.

use std::collections::HashMap;

use anyhow::Result;

use super::Step;
use crate::aws::errors::AwsResultExt;
use crate::live::Tags;

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

/// EKS answers tags as a map.
pub fn tag_map(tags: Option<&HashMap<String, String>>) -> Tags {
    tags.map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// Brings the user tags of an EKS resource (cluster, node group, Fargate
/// profile) to the desired ones.
pub async fn sync_tags(step: &Step<'_>, arn: Option<&str>, live: &Tags, desired: &Tags) -> Result<()> {
    let arn = arn.ok_or_else(|| anyhow::anyhow!("the resource has no ARN to tag"))?;
    let (stale, set) = super::tags::changes(live, desired);
    let eks = &step.aws().eks;
    if !stale.is_empty() {
        eks.untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(stale))
            .send()
            .await
            .aws_on("eks:UntagResource", arn)?;
    }
    if !set.is_empty() {
        eks.tag_resource()
            .resource_arn(arn)
            .set_tags(Some(set.into_iter().collect()))
            .send()
            .await
            .aws_on("eks:TagResource", arn)?;
    }
    Ok(())
}

/// Whether EKS refused a create because a role it names is not usable yet.
/// IAM is eventually consistent ("Changes that I make are not always
/// immediately visible", IAM troubleshooting guide): for seconds after
/// CreateRole or AttachRolePolicy, EKS answers InvalidParameterException
/// with "Role with arn: … could not be assumed …", "The provided role
/// doesn't have the Amazon EKS Managed Policies associated with it …" or
/// "Misconfigured PodExecutionRole Trust Policy …".
pub fn role_not_propagated(e: &anyhow::Error) -> bool {
    let Some(aws) = crate::aws::errors::aws_error(e) else {
        return false;
    };
    let message = aws.message.to_ascii_lowercase();
    aws.code.as_deref() == Some("InvalidParameterException")
        && ["role", "polic", "assume", "trust"].iter().any(|w| message.contains(w))
}

/// How long a fresh role may take to reach EKS (the terraform provider
/// waits two minutes too).
const PROPAGATION: std::time::Duration = std::time::Duration::from_secs(120);

/// Sends an EKS create that names a role again while EKS does not see the
/// role (or its policies) yet, for at most two minutes.
pub async fn once_role_propagated<T, F, Fut>(step: &Step<'_>, call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    super::retry_when(
        step,
        role_not_propagated,
        "waiting for the IAM role to reach EKS",
        PROPAGATION,
        call,
    )
    .await
}

/// What an EKS update changes: DescribeUpdate finds a node group's or an
/// add-on's update only when it is named.
#[derive(Debug, Clone, Copy)]
pub enum UpdateOf<'a> {
    Cluster,
    Nodegroup(&'a str),
    Addon(&'a str),
}

/// Follows an EKS update by its id until it has succeeded; a failed or
/// cancelled update is an error that carries the update's own errors. A
/// resource back to ACTIVE is not proof: the update may still be running,
/// or may have failed.
pub async fn wait_update(
    step: &Step<'_>,
    cluster: &str,
    of: UpdateOf<'_>,
    update: Option<aws_sdk_eks::types::Update>,
    timeout: std::time::Duration,
) -> Result<()> {
    let (nodegroup, addon) = match of {
        UpdateOf::Cluster => (None, None),
        UpdateOf::Nodegroup(n) => (Some(n), None),
        UpdateOf::Addon(a) => (None, Some(a)),
    };
    use aws_sdk_eks::types::UpdateStatus;
    let Some(id) = update.as_ref().and_then(|u| u.id()).map(str::to_string) else {
        anyhow::bail!("EKS answered an update of {cluster} without an update id");
    };
    let kind = update
        .as_ref()
        .and_then(|u| u.r#type())
        .map(|t| t.as_str().to_string())
        .unwrap_or_else(|| "update".into());
    super::poll(step, &format!("{kind} {id} of {cluster}"), timeout, || async {
        let out = step
            .aws()
            .eks
            .describe_update()
            .name(cluster)
            .update_id(&id)
            .set_nodegroup_name(nodegroup.map(str::to_string))
            .set_addon_name(addon.map(str::to_string))
            .send()
            .await
            .aws_on("eks:DescribeUpdate", &id)?;
        let Some(u) = out.update else {
            anyhow::bail!("eks:DescribeUpdate for {id} answered no update");
        };
        match u.status() {
            Some(UpdateStatus::Successful) => Ok(super::Polled::Ready(())),
            Some(UpdateStatus::Failed) | Some(UpdateStatus::Cancelled) => {
                let errors: Vec<String> = u
                    .errors()
                    .iter()
                    .map(|e| {
                        format!(
                            "{}: {}",
                            e.error_code().map(|c| c.as_str()).unwrap_or("error"),
                            e.error_message().unwrap_or_default()
                        )
                    })
                    .collect();
                anyhow::bail!(
                    "{kind} {id} of {cluster} is {}: {}",
                    u.status().map(|s| s.as_str()).unwrap_or_default(),
                    if errors.is_empty() {
                        "no reason given".to_string()
                    } else {
                        errors.join("; ")
                    }
                )
            }
            _ => Ok(super::Polled::Pending(format!("{kind} in progress"))),
        }
    })
    .await
}

/// What a look at a resource being deleted saw.
pub enum Going {
    Gone,
    /// Still there, in this state.
    Still(String),
    /// Its delete failed, for this reason.
    Failed(String),
}

/// Deletes an EKS resource and waits until it is gone. NotFound is gone
/// already; a resource already `deleting` (a re-run of a destroy), or whose
/// delete is answered with one of `in_progress`, is just waited for.
pub async fn delete_and_wait<D, DFut, L, LFut>(
    step: &Step<'_>,
    what: &str,
    deleting: bool,
    in_progress: &[&str],
    timeout: std::time::Duration,
    delete: D,
    mut look: L,
) -> Result<()>
where
    D: FnOnce() -> DFut,
    DFut: std::future::Future<Output = Result<()>>,
    L: FnMut() -> LFut,
    LFut: std::future::Future<Output = Result<Going>>,
{
    match delete().await {
        Err(e) if crate::aws::errors::is_not_found_error(&e) => return Ok(()),
        Err(_) if deleting => {}
        Err(e) if in_progress.iter().any(|c| crate::aws::errors::has_code(&e, c)) => {}
        other => other?,
    }
    super::poll_usual(step, &format!("{what} to be deleted"), timeout, || {
        let seen = look();
        async move {
            match seen.await? {
                Going::Gone => Ok(super::Polled::Ready(())),
                Going::Still(state) => Ok(super::Polled::Pending(state)),
                Going::Failed(why) => anyhow::bail!("{what} failed to delete{why}"),
            }
        }
    })
    .await
}
