//! Helpers shared by the EC2 kinds: tag specifications, reading tags back,
//! and the tag filter that finds a stack's resources in one call per kind.

use std::collections::BTreeMap;

use anyhow::Result;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

use super::{Step, TAG_ADDRESS, TAG_STACK};
use crate::aws::errors::AwsResultExt;
use crate::graph::Resource;

/// TagSpecifications for a create call: the tags are on the resource from
/// the moment it exists, so a crash right after can never leave it untraceable.
pub fn tag_spec(
    step: &Step<'_>,
    r: &Resource,
    resource_type: ResourceType,
    extra: &[(&str, &str)],
) -> TagSpecification {
    let mut tags = super::tags(&step.ctx.stack, &r.address, &r.name);
    for (k, v) in extra {
        tags.insert(k.to_string(), v.to_string());
    }
    TagSpecification::builder()
        .resource_type(resource_type)
        .set_tags(Some(
            tags.into_iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .build()
}

/// The filter selecting everything of one stack.
pub fn stack_filter(stack: &str) -> Filter {
    Filter::builder().name(format!("tag:{TAG_STACK}")).values(stack).build()
}

pub fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
        .collect()
}

/// The address a resource claims, if it belongs to `stack`. moto ignores tag
/// filters on some describe calls (NAT gateways), so the tag is checked here too.
pub fn claimed_address(tags: &BTreeMap<String, String>, stack: &str) -> Option<String> {
    if tags.get(TAG_STACK).map(String::as_str) != Some(stack) {
        return None;
    }
    tags.get(TAG_ADDRESS).cloned()
}

/// Brings a resource's user tags to what the stack file says.
pub async fn sync_tags(step: &Step<'_>, id: &str, live_tags: &BTreeMap<String, String>) -> Result<()> {
    let (stale, set) = super::tag_changes(live_tags, &step.ctx.stack.meta.tags);
    let ec2 = &step.aws().ec2;
    if !stale.is_empty() {
        let keys = stale.into_iter().map(|k| Tag::builder().key(k).build()).collect();
        ec2.delete_tags()
            .resources(id)
            .set_tags(Some(keys))
            .send()
            .await
            .aws("ec2:DeleteTags")?;
    }
    if !set.is_empty() {
        let tags = set
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        ec2.create_tags()
            .resources(id)
            .set_tags(Some(tags))
            .send()
            .await
            .aws("ec2:CreateTags")?;
    }
    Ok(())
}
