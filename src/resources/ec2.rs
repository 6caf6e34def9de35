//! Helpers shared by the EC2 kinds: tag specifications, reading tags back,
//! and the tag filter that finds a stack's resources in one call per kind.

use std::collections::BTreeMap;

use anyhow::Result;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

use super::{Step, TAG_ADDRESS, TAG_STACK};
use crate::aws::errors::AwsResultExt;
use crate::graph::Resource;
use crate::live::{Live, Readiness};

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

/// The outcome of a create whose response may have been lost.
pub enum Created<O> {
    /// AWS answered: this is what it made.
    New(O),
    /// The response was lost, but AWS had made it: found by its address tag.
    Found(Live),
}

/// SDK retries turned off for one call: a create must not be sent again
/// blindly after a lost response, or AWS makes two.
pub fn no_retry() -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::config::Builder::default().retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
}

/// Sends an EC2 create (built with [`no_retry`]) until AWS answers. EC2 has
/// no idempotency token for most creates, so when an answer is lost the
/// resource is looked up by its `ekstack:address` tag (it was tagged in the
/// create call itself) before the create is sent again. Throttling is retried
/// with backoff, as the SDK would.
pub async fn create_or_find<O, E, F, Fut>(
    step: &Step<'_>,
    r: &Resource,
    operation: &str,
    find: impl Fn() -> futures_util::future::BoxFuture<'static, Result<Vec<Live>>>,
    mut send: F,
) -> Result<Created<O>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<O, SdkError<E, HttpResponse>>>,
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mut delay = std::time::Duration::from_millis(500);
    for attempt in 1..=10 {
        let err = match send().await {
            Ok(o) => return Ok(Created::New(o)),
            Err(e) => e,
        };
        let throttled = crate::aws::errors::code(&err).is_some_and(|c| THROTTLING.contains(&c));
        let maybe_made = match &err {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(s) => s.raw().status().is_server_error(),
            _ => false,
        };
        if attempt == 10 || !(throttled || maybe_made) {
            return Err(err).aws(operation);
        }
        if maybe_made {
            step.status("answer lost; looking for what AWS made");
            if let Some(found) = find()
                .await?
                .into_iter()
                .find(|l| l.address == r.address && l.readiness != Readiness::Deleting)
            {
                return Ok(Created::Found(found));
            }
        }
        step.ctx.pause(delay.mul_f64(rand::random::<f64>() + 0.5)).await;
        delay = (delay * 2).min(std::time::Duration::from_secs(10));
    }
    unreachable!("the loop returns on its last attempt")
}

/// EC2's throttling codes.
const THROTTLING: &[&str] = &[
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "RequestThrottled",
];
