//! What the EC2 kinds share: tag specifications, reading tags back, the tag
//! filter that finds a stack's resources in one call per kind, and creates
//! that survive a lost answer.

use anyhow::Result;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use futures_util::future::BoxFuture;

use super::tags::TAG_STACK;
use super::{Found, ResourceKind, Step};
use crate::aws::errors::AwsResultExt;
use crate::live::{Origin, Readiness, Tags};

/// TagSpecifications for a create call: the tags are on the resource from
/// the moment it exists, so a crash right after can never leave it untraceable.
pub fn tag_spec(tags: &Tags, resource_type: ResourceType) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource_type)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .build()
}

/// The filter selecting everything of one stack.
pub fn stack_filter(stack: &str) -> Filter {
    Filter::builder().name(format!("tag:{TAG_STACK}")).values(stack).build()
}

pub fn tag_map(tags: &[Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
        .collect()
}

/// Brings a resource's user tags to the desired ones.
pub async fn sync_tags(step: &Step<'_>, id: &str, live: &Tags, desired: &Tags) -> Result<()> {
    let (stale, set) = super::tags::changes(live, desired);
    let ec2 = &step.aws().ec2;
    if !stale.is_empty() {
        let keys = stale.into_iter().map(|k| Tag::builder().key(k).build()).collect();
        ec2.delete_tags()
            .resources(id)
            .set_tags(Some(keys))
            .send()
            .await
            .aws_on("ec2:DeleteTags", id)?;
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
            .aws_on("ec2:CreateTags", id)?;
    }
    Ok(())
}

/// The outcome of a create whose response may have been lost.
pub enum Created<O, K: ResourceKind> {
    /// AWS answered: this is what it made.
    New(O),
    /// The response was lost, but AWS had made it: found by its address
    /// tag, and marked adopted so the steps after the create are checked.
    Found(Found<K>),
}

/// SDK retries turned off for one call: a create must not be sent again
/// blindly after a lost response, or AWS makes two.
pub fn no_retry() -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::config::Builder::default().retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
}

/// One listing of a kind's live resources.
type Listing<K> = BoxFuture<'static, Result<Vec<Found<K>>>>;

/// Lists what a lost create may have made.
pub struct Finder<K: ResourceKind> {
    list: Box<dyn Fn() -> Listing<K> + Send + Sync>,
}

/// A [`Finder`] that runs `K`'s discovery for the stack.
pub fn finder<K: ResourceKind>(step: &Step<'_>) -> Finder<K> {
    let aws = step.aws().clone();
    let (stack, region) = (step.ctx.stack.clone(), aws.region.clone());
    let list = Box::new(move || {
        let (aws, stack, region) = (aws.clone(), stack.clone(), region.clone());
        Box::pin(async move {
            let cx = super::Discovery {
                aws: &aws,
                stack: &stack,
                region: &region,
            };
            K::discover(&cx, None).await
        }) as Listing<K>
    });
    Finder { list }
}

/// Sends an EC2 create (built with [`no_retry`]) until AWS answers. EC2 has
/// no idempotency token for most creates, so when an answer is lost the
/// resource is looked up by its `ekstack:address` tag (it was tagged in the
/// create call itself) before the create is sent again. Throttling is retried
/// with backoff, as the SDK would.
pub async fn create_or_find<K, O, E, F, Fut>(
    step: &Step<'_>,
    address: &str,
    operation: &str,
    find: Finder<K>,
    mut send: F,
) -> Result<Created<O, K>>
where
    K: ResourceKind,
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
            return Err(err).aws_on(operation, address);
        }
        if maybe_made {
            step.status("answer lost; looking for what AWS made");
            if let Some(found) = (find.list)()
                .await?
                .into_iter()
                .find(|l| l.address == address && l.readiness != Readiness::Deleting)
            {
                return Ok(Created::Found(found.with_origin(Origin::Adopted)));
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

/// How long EC2 may take to see an id it has just given out.
const VISIBILITY: std::time::Duration = std::time::Duration::from_secs(120);

/// Sends a call that names an id EC2 gave out moments ago, again while EC2
/// still answers that the id does not exist, for at most two minutes. EC2 is
/// eventually consistent: "a resource might not be available for subsequent
/// API calls right after it is created" (Eventual consistency in the Amazon
/// EC2 API, docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html).
pub async fn once_visible<T, F, Fut>(step: &Step<'_>, what: &str, call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let waiting = format!("waiting for EC2 to see {what}");
    super::retry_when(step, crate::aws::errors::is_not_found_error, &waiting, VISIBILITY, call).await
}

/// Deletes an EC2 resource. A "not found" answer means gone only once the
/// stack's own listing agrees: right after a create, EC2 answers "not found"
/// for an id that exists. Until the listing stops showing it, the delete is
/// sent again, for at most two minutes.
pub async fn delete_confirmed<K, T, F, Fut>(step: &Step<'_>, id: &str, mut delete: F) -> Result<()>
where
    K: ResourceKind,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let started = std::time::Instant::now();
    let mut delay = std::time::Duration::from_secs(2);
    loop {
        match delete().await {
            Ok(_) => return Ok(()),
            Err(e) if crate::aws::errors::is_not_found_error(&e) => {
                let listed = (finder::<K>(step).list)().await?.iter().any(|l| l.id == id);
                if !listed {
                    return Ok(());
                }
                if started.elapsed() >= VISIBILITY.mul_f64(step.ctx.options.scale()) {
                    return Err(e.context(format!("{id} is still listed although EC2 says it does not exist")));
                }
                step.status("EC2 does not see it yet; deleting again");
                step.ctx.pause(delay).await;
                delay = delay.mul_f64(1.5).min(std::time::Duration::from_secs(10));
            }
            Err(e) => return Err(e),
        }
    }
}
