//! One lock per stack and region, so two people (or a laptop and CI) never
//! converge the same stack at once. It lives in a DynamoDB table ekstack
//! makes on first use (`ekstack-locks`, on-demand, so nothing bills at
//! rest), one item per stack and region, taken and given back by
//! conditional writes ("Condition expressions", Amazon DynamoDB Developer
//! Guide): a take succeeds only when no item exists or the one there has
//! expired, and a heartbeat, a release or a takeover only when the item is
//! the one expected, so two racers can never both hold it. An item left by
//! a killed process expires (`expires`, also the table's TTL attribute, which
//! DynamoDB honours lazily; the conditions never rely on it).

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Result};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};

use crate::aws::errors::{has_code, AwsResultExt};
use crate::aws::Aws;

pub const TABLE: &str = "ekstack-locks";
/// How long a lock lives without a heartbeat: a killed holder's lock is
/// free after this. `EKSTACK_LOCK_TTL_SECONDS` shortens it for tests.
const TTL: Duration = Duration::from_secs(5 * 60);

/// Who holds a lock, as the item says.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    /// The caller's ARN (STS GetCallerIdentity).
    pub who: String,
    pub host: String,
    pub command: String,
    /// Seconds since the epoch.
    pub since: u64,
    pub expires: u64,
    /// Tells this holder's item from another's (one per take).
    pub token: String,
}

impl Holder {
    /// "arn:… on laptop-3, running `apply`, for 3m12s (expires in 4m50s)"
    pub fn describe(&self) -> String {
        let now = now();
        format!(
            "{} on {}, running `{}`, for {} (expires in {})",
            self.who,
            self.host,
            self.command,
            span(now.saturating_sub(self.since)),
            span(self.expires.saturating_sub(now))
        )
    }
}

fn span(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn ttl() -> Duration {
    std::env::var("EKSTACK_LOCK_TTL_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
        .unwrap_or(TTL)
}

/// The item's key: one lock per stack and region.
fn key(stack: &str, region: &str) -> String {
    format!("{stack}/{region}")
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn holder_of(item: &HashMap<String, AttributeValue>) -> Option<Holder> {
    let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    let num = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    item.contains_key("token").then(|| Holder {
        who: text("who"),
        host: text("host"),
        command: text("command"),
        since: num("since"),
        expires: num("expires"),
        token: text("token"),
    })
}

/// The lock's current holder, if any (an expired item holds nothing). No
/// table yet means no lock.
pub async fn holder(aws: &Aws, stack: &str, region: &str) -> Result<Option<Holder>> {
    let got = aws
        .dynamodb
        .get_item()
        .table_name(TABLE)
        .key("lock", s(&key(stack, region)))
        .consistent_read(true)
        .send()
        .await
        .aws_on("dynamodb:GetItem", TABLE);
    match got {
        Err(e) if has_code(&e, "ResourceNotFoundException") => Ok(None),
        Err(e) => Err(e),
        Ok(out) => Ok(out.item().and_then(holder_of).filter(|h| h.expires > now())),
    }
}

/// Makes the table on first use: on-demand, keyed by `lock`, with TTL on
/// `expires`. Two first users at once both succeed (ResourceInUse).
async fn ensure_table(aws: &Aws) -> Result<()> {
    let db = &aws.dynamodb;
    match db
        .describe_table()
        .table_name(TABLE)
        .send()
        .await
        .aws_on("dynamodb:DescribeTable", TABLE)
    {
        Ok(out) if out.table().and_then(|t| t.table_status()).map(|s| s.as_str()) == Some("ACTIVE") => return Ok(()),
        Ok(_) => {}
        Err(e) if has_code(&e, "ResourceNotFoundException") => {
            let made = db
                .create_table()
                .table_name(TABLE)
                .billing_mode(BillingMode::PayPerRequest)
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name("lock")
                        .attribute_type(ScalarAttributeType::S)
                        .build()?,
                )
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name("lock")
                        .key_type(KeyType::Hash)
                        .build()?,
                )
                .send()
                .await
                .aws_on("dynamodb:CreateTable", TABLE);
            match made {
                Err(e) if has_code(&e, "ResourceInUseException") => {}
                other => {
                    other?;
                }
            }
        }
        Err(e) => return Err(e),
    }
    let started = std::time::Instant::now();
    loop {
        let out = db
            .describe_table()
            .table_name(TABLE)
            .send()
            .await
            .aws_on("dynamodb:DescribeTable", TABLE)?;
        if out.table().and_then(|t| t.table_status()).map(|s| s.as_str()) == Some("ACTIVE") {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!("DynamoDB table {TABLE} did not become ACTIVE within 2 minutes");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Expired items go by themselves; a failure here only leaves them longer.
    let _ = db
        .update_time_to_live()
        .table_name(TABLE)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expires")
                .enabled(true)
                .build()?,
        )
        .send()
        .await;
    Ok(())
}

/// A lock this process holds, kept alive by a heartbeat until released.
pub struct Held {
    aws: Aws,
    key: String,
    token: String,
    heartbeat: tokio::task::JoinHandle<()>,
    lost: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Takes the stack's lock for `command`. Held by someone else: refused at
/// once naming the holder, or, with `wait`, retried until it is free or
/// `wait` is over.
pub async fn acquire(aws: &Aws, stack: &str, region: &str, command: &str, wait: Option<Duration>) -> Result<Held> {
    ensure_table(aws).await?;
    let who = super::facts::caller(aws).await?.arn;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown host".into());
    let key = key(stack, region);
    let token = format!("{}-{}-{}", std::process::id(), now(), rand_suffix());
    let started = std::time::Instant::now();
    let ttl = ttl();
    loop {
        let t = now();
        let put = aws
            .dynamodb
            .put_item()
            .table_name(TABLE)
            .item("lock", s(&key))
            .item("who", s(&who))
            .item("host", s(&host))
            .item("command", s(command))
            .item("since", n(t))
            .item("expires", n(t + ttl.as_secs()))
            .item("token", s(&token))
            // Free, or held by a lock that has expired (a killed holder).
            .condition_expression("attribute_not_exists(#lock) OR #expires < :now")
            .expression_attribute_names("#lock", "lock")
            .expression_attribute_names("#expires", "expires")
            .expression_attribute_values(":now", n(t))
            .send()
            .await
            .aws_on("dynamodb:PutItem", TABLE);
        match put {
            Ok(_) => break,
            Err(e) if has_code(&e, "ConditionalCheckFailedException") => {
                let held = holder(aws, stack, region).await?;
                let Some(h) = held else { continue };
                // Ours: an answer lost on the way, and the SDK's retry refused.
                if h.token == token {
                    break;
                }
                match wait {
                    Some(w) if started.elapsed() < w => {
                        tokio::time::sleep(Duration::from_secs(2).min(ttl / 4).max(Duration::from_millis(200))).await;
                    }
                    _ => {
                        let key = match wait {
                            Some(_) => "error.locked_waited",
                            None => "error.locked",
                        };
                        return Err(crate::i18n::error(
                            crate::i18n::Msg::new(key)
                                .arg("stack", stack)
                                .arg("region", region)
                                .arg("holder", h.describe())
                                .arg("seconds", wait.map(|w| w.as_secs()).unwrap_or_default()),
                        ));
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    let lost = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let heartbeat = {
        let (aws, key, token, lost) = (aws.clone(), key.clone(), token.clone(), lost.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(ttl / 3).await;
                let moved = aws
                    .dynamodb
                    .update_item()
                    .table_name(TABLE)
                    .key("lock", s(&key))
                    .update_expression("SET #expires = :expires")
                    .condition_expression("#token = :token")
                    .expression_attribute_names("#expires", "expires")
                    .expression_attribute_names("#token", "token")
                    .expression_attribute_values(":expires", n(now() + ttl.as_secs()))
                    .expression_attribute_values(":token", s(&token))
                    .send()
                    .await;
                if let Err(e) = moved {
                    if aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&e.into_service_error())
                        == Some("ConditionalCheckFailedException")
                    {
                        lost.store(true, std::sync::atomic::Ordering::SeqCst);
                        return;
                    }
                }
            }
        })
    };
    Ok(Held {
        aws: aws.clone(),
        key,
        token,
        heartbeat,
        lost,
    })
}

/// Deletes the lock item only if it is the take named by `token`.
async fn delete_if(aws: &Aws, key: &str, token: &str) -> Result<()> {
    aws.dynamodb
        .delete_item()
        .table_name(TABLE)
        .key("lock", s(key))
        .condition_expression("#token = :token")
        .expression_attribute_names("#token", "token")
        .expression_attribute_values(":token", s(token))
        .send()
        .await
        .aws_on("dynamodb:DeleteItem", TABLE)
        .map(|_| ())
}

fn rand_suffix() -> u32 {
    // Enough to tell two takes of one process and second apart.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    nanos ^ std::process::id().rotate_left(16)
}

impl Held {
    /// Gives the lock back, if it is still this holder's.
    pub async fn release(self) -> Result<()> {
        self.heartbeat.abort();
        let gone = delete_if(&self.aws, &self.key, &self.token).await;
        let stack_region = self.key.clone();
        match gone {
            Err(e) if has_code(&e, "ConditionalCheckFailedException") => {
                let (stack, region) = stack_region.split_once('/').unwrap_or((&stack_region, ""));
                match holder(&self.aws, stack, region).await? {
                    // Gone already: a delete whose answer was lost, retried.
                    None => Ok(()),
                    Some(h) => Err(anyhow!(
                        "the stack's lock expired while this command ran and was taken by {}; check what it did before running again",
                        h.describe()
                    )),
                }
            }
            Err(e) => Err(e),
            Ok(_) if self.lost.load(std::sync::atomic::Ordering::SeqCst) => Err(anyhow!(
                "the stack's lock expired while this command ran (a heartbeat was refused)"
            )),
            Ok(_) => Ok(()),
        }
    }
}

/// Set once steps run: Ctrl-C then belongs to the executor, which stops
/// them and returns, and the lock goes back on the way out.
static STEPS_RUNNING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn steps_started() {
    STEPS_RUNNING.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Runs `work` holding the stack's lock, and gives it back whatever the
/// outcome (a failure, Ctrl-C): only a killed process leaves it, to expire.
/// A Ctrl-C before any step runs (while planning, or at the confirmation)
/// gives the lock back and ends the process, as Ctrl-C does there.
pub async fn with_lock<T>(
    aws: &Aws,
    stack: &str,
    region: &str,
    command: &str,
    wait: Option<Duration>,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let held = acquire(aws, stack, region, command, wait).await?;
    let on_interrupt = {
        let (aws, key, token) = (aws.clone(), held.key.clone(), held.token.clone());
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                if STEPS_RUNNING.load(std::sync::atomic::Ordering::SeqCst) {
                    continue;
                }
                let _ = delete_if(&aws, &key, &token).await;
                // What Ctrl-C does to a command that has changed nothing.
                std::process::exit(130);
            }
        })
    };
    let result = work.await;
    on_interrupt.abort();
    let released = held.release().await;
    match (result, released) {
        (Ok(t), Ok(())) => Ok(t),
        (Ok(_), Err(e)) => Err(e),
        (Err(e), _) => Err(e),
    }
}

/// `ekstack unlock`: removes the lock as it is now (`expected`, which the
/// user confirmed), and only that one.
pub async fn unlock(aws: &Aws, stack: &str, region: &str, expected: &Holder) -> Result<()> {
    let gone = delete_if(aws, &key(stack, region), &expected.token).await;
    match gone {
        Err(e) if has_code(&e, "ConditionalCheckFailedException") => {
            bail!("the lock changed hands since it was shown; nothing was removed (run `ekstack unlock` again)")
        }
        other => other.map(|_| ()),
    }
}

/// `ekstack unlock`: shows who holds the stack's lock, asks, and removes
/// exactly that lock. A lock that is not held is an error.
pub async fn unlock_stack(
    target: &crate::aws::Target,
    stack: &str,
    region: &str,
    ui: &dyn super::Frontend,
) -> Result<Holder> {
    let aws = super::connect(target).await?;
    let Some(h) = holder(&aws, stack, region).await? else {
        bail!("no lock is held for stack {stack} in {region}; nothing to remove");
    };
    if !ui.confirm(super::Prompt::Unlock { holder: &h.describe() })? {
        bail!("unlock cancelled; the lock stays");
    }
    unlock(&aws, stack, region, &h).await?;
    Ok(h)
}
