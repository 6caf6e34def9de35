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
