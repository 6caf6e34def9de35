//! One module per AWS resource kind, each owning its AWS calls: discovery,
//! the attributes the plan compares, create, update, delete and waiting until
//! usable. This file holds what they share: the run context, tags, polling,
//! and the dispatch from a [`Kind`] to its module.

pub mod db_cluster;
pub mod db_cluster_instance;
pub mod db_instance;
pub mod db_subnet_group;
pub mod discover;
mod ec2;
pub mod eip;
pub mod eks_cluster;
pub mod eks_fargate_profile;
pub mod eks_nodegroup;
pub mod iam_role;
pub mod internet_gateway;
pub mod nat_gateway;
pub mod route_table;
pub mod security_group;
pub mod subnet;
pub mod vpc;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use rand::Rng;
use serde_json::{json, Value};

use crate::aws::Aws;
use crate::config::Stack;
use crate::graph::{Address, Kind, Resource};
use crate::live::Live;
use crate::plan::diff::{Attr, KindRules};
use crate::plan::{ReplaceOrder, ResourceAction};

pub const TAG_STACK: &str = "ekstack:stack";
pub const TAG_ADDRESS: &str = "ekstack:address";
/// Set on the VPC while the stack sleeps (`ekstack sleep`).
pub const TAG_SLEEPING: &str = "ekstack:sleeping";

/// Options that change what steps do, from the command line.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Skip the final database snapshot on deletion.
    pub skip_final_snapshot: bool,
    /// Poll intervals are multiplied by this (tests shorten them).
    pub poll_scale: f64,
    /// Destroy: delete EBS volumes left by Kubernetes persistent volumes
    /// (otherwise they are listed and kept).
    pub delete_volumes: bool,
}

/// Receives a short live status for a running step ("CREATING").
pub type StatusSink = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// What every step can reach: AWS, the stack, and the live resources known so
/// far (found by discovery or made by earlier steps), by address.
pub struct Ctx {
    pub aws: Aws,
    pub stack: Stack,
    pub options: RunOptions,
    known: Mutex<HashMap<Address, Live>>,
    status: StatusSink,
    notes: Mutex<Vec<Note>>,
}

/// Something a step made or left that the user must hear about at the end.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Note {
    /// A final snapshot was taken (it bills for storage until deleted).
    Snapshot { name: String, gib: i64, of: String },
    /// An EBS volume Kubernetes made for a persistent volume.
    Volume { id: String, gib: i64, deleted: bool },
    /// Anything else worth saying.
    Info { text: String },
}

impl Ctx {
    pub fn new(aws: Aws, stack: Stack, options: RunOptions, known: HashMap<Address, Live>, status: StatusSink) -> Self {
        Ctx {
            aws,
            stack,
            options,
            known: Mutex::new(known),
            status,
            notes: Mutex::new(Vec::new()),
        }
    }

    pub fn note(&self, note: Note) {
        self.notes.lock().expect("notes lock").push(note);
    }

    pub fn notes(&self) -> Vec<Note> {
        self.notes.lock().expect("notes lock").clone()
    }

    pub fn live(&self, address: &str) -> Option<Live> {
        self.known.lock().expect("known lock").get(address).cloned()
    }

    /// The AWS id of a resource this step depends on.
    pub fn id_of(&self, address: &str) -> Result<String> {
        self.live(address)
            .map(|l| l.id)
            .ok_or_else(|| anyhow!("{address} is not available yet (it should have been created before this step)"))
    }

    pub fn arn_of(&self, address: &str) -> Result<String> {
        self.live(address)
            .and_then(|l| l.arn)
            .ok_or_else(|| anyhow!("the ARN of {address} is not known"))
    }

    pub fn record(&self, live: Live) {
        self.known
            .lock()
            .expect("known lock")
            .insert(live.address.clone(), live);
    }

    pub fn forget(&self, address: &str, id: &str) {
        let mut known = self.known.lock().expect("known lock");
        if known.get(address).is_some_and(|l| l.id == id) {
            known.remove(address);
        }
    }

    pub fn known(&self) -> HashMap<Address, Live> {
        self.known.lock().expect("known lock").clone()
    }

    pub fn stack_name(&self) -> &str {
        &self.stack.meta.name
    }

    /// Sleeps between polls, scaled down in tests.
    pub async fn pause(&self, d: Duration) {
        tokio::time::sleep(d.mul_f64(self.options.scale())).await;
    }
}

impl RunOptions {
    /// The factor applied to every wait between polls (1 unless tests set it).
    pub fn scale(&self) -> f64 {
        if self.poll_scale > 0.0 {
            self.poll_scale
        } else {
            1.0
        }
    }
}

/// One running step: the context plus the node it reports status for.
#[derive(Clone, Copy)]
pub struct Step<'a> {
    pub ctx: &'a Ctx,
    pub node: &'a str,
}

impl Step<'_> {
    pub fn status(&self, text: &str) {
        (self.ctx.status)(self.node, text);
    }

    pub fn aws(&self) -> &Aws {
        &self.ctx.aws
    }
}

/// The tags every resource carries from its create call.
pub fn tags(stack: &Stack, address: &str, name: &str) -> BTreeMap<String, String> {
    let mut t = stack.meta.tags.clone();
    t.insert(TAG_STACK.into(), stack.meta.name.clone());
    t.insert(TAG_ADDRESS.into(), address.into());
    t.insert("Name".into(), name.into());
    t
}

/// The tags a user manages: everything but AWS's, ekstack's own and the
/// Kubernetes discovery tags. Compared by the plan, so console edits show up.
pub fn user_tags(tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    tags.iter()
        .filter(|(k, _)| {
            !(k.starts_with("aws:") || k.starts_with("ekstack:") || k.starts_with("kubernetes.io/") || *k == "Name")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// What to change to bring a resource's user tags to the stack file's: the
/// keys to remove and the tags to set. Each service then makes its own calls.
pub fn tag_changes(
    live_tags: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
) -> (Vec<String>, BTreeMap<String, String>) {
    let have = user_tags(live_tags);
    let stale = have.keys().filter(|k| !want.contains_key(*k)).cloned().collect();
    let set = want
        .iter()
        .filter(|(k, v)| have.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (stale, set)
}

/// The `tags` attribute of a resource, updated in place by `via`.
pub fn tags_attr(stack: &Stack, via: &'static str) -> Attr {
    Attr::in_place("tags", "stack.tags", json!(stack.meta.tags), via)
}

pub fn live_user_tags(tags: &BTreeMap<String, String>) -> Value {
    json!(user_tags(tags))
}

/// Polls `check` until it says ready, with exponential backoff and jitter,
/// reporting each state it sees, for at most `timeout`.
pub async fn poll<T, F, Fut>(step: &Step<'_>, what: &str, timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Polled<T>>>,
{
    let started = Instant::now();
    let scale = step.ctx.options.scale();
    let mut delay = Duration::from_secs(2);
    let max_delay = Duration::from_secs(20);
    let mut last_state = String::new();
    loop {
        match check().await? {
            Polled::Ready(t) => return Ok(t),
            Polled::Pending(state) => {
                if state != last_state {
                    step.status(&state);
                    last_state = state;
                }
            }
        }
        if started.elapsed() >= timeout {
            bail!(
                "timed out after {} waiting for {what} (last state: {last_state}); it may still finish: re-run apply to keep waiting",
                humantime(timeout)
            );
        }
        let jitter = rand::thread_rng().gen_range(0.8..1.2);
        tokio::time::sleep(delay.mul_f64(jitter * scale)).await;
        delay = (delay.mul_f64(1.5)).min(max_delay);
    }
}

/// One observation while polling.
pub enum Polled<T> {
    Ready(T),
    Pending(String),
}

pub fn humantime(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// How long each kind may take to become usable before apply gives up on it.
pub fn ready_timeout(kind: Kind) -> Duration {
    let minutes = match kind {
        Kind::EksCluster => 30,
        Kind::EksNodegroup => 30,
        Kind::EksFargateProfile => 15,
        Kind::NatGateway => 10,
        Kind::DbInstance | Kind::DbCluster | Kind::DbClusterInstance => 60,
        _ => 5,
    };
    Duration::from_secs(minutes * 60)
}

/// Desired attributes of a resource, for the plan.
pub fn attrs(stack: &Stack, r: &Resource, id_of: &dyn Fn(&str) -> Option<String>) -> Vec<Attr> {
    match r.kind {
        Kind::Vpc => vpc::attrs(stack, r),
        Kind::InternetGateway => internet_gateway::attrs(stack, r, id_of),
        Kind::Subnet => subnet::attrs(stack, r),
        Kind::Eip => eip::attrs(stack, r),
        Kind::NatGateway => nat_gateway::attrs(stack, r, id_of),
        Kind::RouteTable => route_table::attrs(stack, r, id_of),
        Kind::SecurityGroup => security_group::attrs(stack, r),
        Kind::IamRole => iam_role::attrs(stack, r),
        Kind::EksCluster => eks_cluster::attrs(stack, r, id_of),
        Kind::EksNodegroup => eks_nodegroup::attrs(stack, r, id_of),
        Kind::EksFargateProfile => eks_fargate_profile::attrs(stack, r, id_of),
        Kind::DbSubnetGroup => db_subnet_group::attrs(stack, r, id_of),
        Kind::DbInstance => db_instance::attrs(stack, r),
        Kind::DbCluster => db_cluster::attrs(stack, r),
        Kind::DbClusterInstance => db_cluster_instance::attrs(stack, r),
    }
}

/// Creates a resource and waits until it is usable.
pub async fn create(step: &Step<'_>, r: &Resource) -> Result<Live> {
    let live = match r.kind {
        Kind::Vpc => vpc::create(step, r).await,
        Kind::InternetGateway => internet_gateway::create(step, r).await,
        Kind::Subnet => subnet::create(step, r).await,
        Kind::Eip => eip::create(step, r).await,
        Kind::NatGateway => nat_gateway::create(step, r).await,
        Kind::RouteTable => route_table::create(step, r).await,
        Kind::SecurityGroup => security_group::create(step, r).await,
        Kind::IamRole => iam_role::create(step, r).await,
        Kind::EksCluster => eks_cluster::create(step, r).await,
        Kind::EksNodegroup => eks_nodegroup::create(step, r, &r.name).await,
        Kind::EksFargateProfile => eks_fargate_profile::create(step, r).await,
        Kind::DbSubnetGroup => db_subnet_group::create(step, r).await,
        Kind::DbInstance => db_instance::create(step, r).await,
        Kind::DbCluster => db_cluster::create(step, r).await,
        Kind::DbClusterInstance => db_cluster_instance::create(step, r).await,
    }?;
    if live.details.contains_key("adopted") {
        return converge_adopted(step, r, live).await;
    }
    wait_ready(step, &live).await
}

/// A resource found instead of created (its create's answer was lost) may
/// lack what the steps after the create call would have done: an attachment,
/// a route, rules. Compare it with the file and make the in-place changes.
async fn converge_adopted(step: &Step<'_>, r: &Resource, mut live: Live) -> Result<Live> {
    live.details.remove("adopted");
    let id_of = |address: &str| step.ctx.live(address).map(|l| l.id);
    let mut action = ResourceAction::new(&r.address, r.kind, crate::plan::Action::Update, &r.name);
    for attr in attrs(&step.ctx.stack, r, &id_of) {
        let differs = live.attrs.get(attr.name).is_some_and(|have| !attr.matches(have));
        if let (true, crate::plan::diff::OnChange::InPlace { via, .. }) = (differs, &attr.on_change) {
            action.changes.push(crate::plan::Change {
                path: attr.path.clone(),
                before: live.attrs[attr.name].clone(),
                after: attr.value.clone(),
                forces_replacement: false,
                attribute: attr.name.to_string(),
                via: Some(via.to_string()),
                note: None,
            });
        }
    }
    if action.changes.is_empty() {
        return wait_ready(step, &live).await;
    }
    update(step, r, &live, &action).await
}

/// Waits until a live resource is usable, returning its fresh state.
pub async fn wait_ready(step: &Step<'_>, live: &Live) -> Result<Live> {
    match live.kind {
        Kind::NatGateway => nat_gateway::wait_ready(step, live).await,
        Kind::EksCluster => eks_cluster::wait_ready(step, live).await,
        Kind::EksNodegroup => eks_nodegroup::wait_ready(step, live).await,
        Kind::EksFargateProfile => eks_fargate_profile::wait_ready(step, live).await,
        Kind::DbInstance => db_instance::wait_ready(step, live).await,
        Kind::DbCluster => db_cluster::wait_ready(step, live).await,
        Kind::DbClusterInstance => db_instance::wait_ready(step, live).await,
        // EC2 network resources and IAM roles are usable when their create returns.
        _ => Ok(live.clone()),
    }
}

/// Makes the in-place changes of an update, then waits until usable.
pub async fn update(step: &Step<'_>, r: &Resource, live: &Live, action: &ResourceAction) -> Result<Live> {
    let updated = match r.kind {
        Kind::Vpc => vpc::update(step, r, live, action).await,
        Kind::InternetGateway => internet_gateway::update(step, r, live, action).await,
        Kind::Subnet => subnet::update(step, r, live, action).await,
        Kind::Eip => eip::update(step, r, live, action).await,
        Kind::NatGateway => nat_gateway::update(step, r, live, action).await,
        Kind::RouteTable => route_table::update(step, r, live, action).await,
        Kind::SecurityGroup => security_group::update(step, r, live, action).await,
        Kind::IamRole => iam_role::update(step, r, live, action).await,
        Kind::EksCluster => eks_cluster::update(step, r, live, action).await,
        Kind::EksNodegroup => eks_nodegroup::update(step, r, live, action).await,
        Kind::EksFargateProfile => eks_fargate_profile::update(step, r, live, action).await,
        Kind::DbSubnetGroup => db_subnet_group::update(step, r, live, action).await,
        Kind::DbInstance => db_instance::update(step, r, live, action).await,
        Kind::DbCluster => db_cluster::update(step, r, live, action).await,
        Kind::DbClusterInstance => db_cluster_instance::update(step, r, live, action).await,
    }?;
    // A database put to sleep has settled as stopped; nothing more to wait for.
    if updated.readiness == crate::live::Readiness::Stopped {
        return Ok(updated);
    }
    wait_ready(step, &updated).await
}

/// Deletes a live resource and waits until it is gone.
pub async fn delete(step: &Step<'_>, live: &Live) -> Result<()> {
    match live.kind {
        Kind::Vpc => vpc::delete(step, live).await,
        Kind::InternetGateway => internet_gateway::delete(step, live).await,
        Kind::Subnet => subnet::delete(step, live).await,
        Kind::Eip => eip::delete(step, live).await,
        Kind::NatGateway => nat_gateway::delete(step, live).await,
        Kind::RouteTable => route_table::delete(step, live).await,
        Kind::SecurityGroup => security_group::delete(step, live).await,
        Kind::IamRole => iam_role::delete(step, live).await,
        Kind::EksCluster => eks_cluster::delete(step, live).await,
        Kind::EksNodegroup => eks_nodegroup::delete(step, live).await,
        Kind::EksFargateProfile => eks_fargate_profile::delete(step, live).await,
        Kind::DbSubnetGroup => db_subnet_group::delete(step, live).await,
        Kind::DbInstance => db_instance::delete(step, live).await,
        Kind::DbCluster => db_cluster::delete(step, live).await,
        Kind::DbClusterInstance => db_cluster_instance::delete(step, live).await,
    }
}

/// The rules the plan's diff needs, answered by the kind modules.
pub struct Rules<'a> {
    pub stack: &'a Stack,
    pub skip_final_snapshot: bool,
}

impl KindRules for Rules<'_> {
    fn attrs(&self, resource: &Resource, id_of: &dyn Fn(&str) -> Option<String>) -> Vec<Attr> {
        attrs(self.stack, resource, id_of)
    }

    fn replace_order(&self, kind: Kind) -> ReplaceOrder {
        match kind {
            Kind::EksNodegroup => ReplaceOrder::CreateBeforeDestroy,
            _ => ReplaceOrder::DestroyBeforeCreate,
        }
    }

    fn data_loss(&self, kind: Kind, name: &str, live: Option<&Live>) -> Option<String> {
        let snapshot = takes_final_snapshot(self.stack, self.skip_final_snapshot);
        let protected = live.is_some_and(|l| l.attrs.get("deletion_protection") == Some(&Value::Bool(true)));
        match kind {
            Kind::DbInstance | Kind::DbCluster => {
                let mut text = format!("every row in database {name}");
                if snapshot {
                    text.push_str(" (a final snapshot is taken first, from which it can be restored)");
                } else {
                    text.push_str(" (NO final snapshot: final_snapshot = false or --skip-final-snapshot)");
                }
                if protected {
                    text.push_str("; deletion protection is on, so AWS will refuse until it is turned off");
                }
                Some(text)
            }
            Kind::EksCluster => Some(format!(
                "cluster {name} and every workload, service and volume claim running in it"
            )),
            _ => None,
        }
    }
}

/// Whether deleting the database takes a final snapshot: unless the file
/// says `final_snapshot = false` or the command `--skip-final-snapshot`.
pub fn takes_final_snapshot(stack: &Stack, skip: bool) -> bool {
    stack.database.as_ref().map(|d| d.final_snapshot).unwrap_or(true) && !skip
}

/// `"<kind> has no in-place update for …"`: the plan never asks for one.
pub fn no_update(kind: Kind, action: &ResourceAction) -> anyhow::Error {
    let attrs: Vec<&str> = action.changes.iter().map(|c| c.attribute.as_str()).collect();
    anyhow!("{kind} has no in-place update for {}", attrs.join(", "))
}

/// A closure that lists the stack's live resources of one EC2 kind, for
/// [`ec2::create_or_find`] to look for what a lost create made.
#[macro_export]
macro_rules! finder {
    ($step:expr, $discover:path) => {{
        let aws = $step.aws().clone();
        let stack = $step.ctx.stack_name().to_string();
        move || {
            let (aws, stack) = (aws.clone(), stack.clone());
            futures_util::FutureExt::boxed(async move { $discover(&aws, &stack).await })
        }
    }};
}

/// A resource found under the name a create wanted, when ekstack made it for
/// this stack (an earlier, interrupted run); anything else is not ours to take.
pub fn ours(live: Live) -> Result<Live> {
    if live.details.contains_key("foreign") {
        bail!(
            "{} {} already exists and was not made by ekstack for this stack; rename the stack or remove it",
            live.kind,
            live.id
        );
    }
    Ok(live)
}

/// `None` when the thing looked up does not exist.
pub fn found<T>(result: Result<T>) -> Result<Option<T>> {
    match result {
        Ok(t) => Ok(Some(t)),
        Err(e) if crate::aws::errors::is_not_found_error(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `Ok` when the call succeeded or the thing is already gone: deletes are
/// retried after lost answers and re-run after crashes.
pub fn gone_ok<T>(result: Result<T>) -> Result<()> {
    match result {
        Err(e) if crate::aws::errors::is_not_found_error(&e) => Ok(()),
        other => other.map(|_| ()),
    }
}

/// Repeats `attempt` while AWS answers one of `codes` — something it depends
/// on is still going away (network interfaces of a deleted load balancer or
/// database linger for minutes) — for at most `patience`.
pub async fn retry_while<T, F, Fut>(
    step: &Step<'_>,
    codes: &[&str],
    waiting_for: &str,
    patience: Duration,
    mut attempt: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let started = Instant::now();
    loop {
        match attempt().await {
            Err(e) if codes.iter().any(|c| crate::aws::errors::has_code(&e, c)) && started.elapsed() < patience => {
                step.status(waiting_for);
                step.ctx.pause(Duration::from_secs(10)).await;
            }
            other => return other,
        }
    }
}
