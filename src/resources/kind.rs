//! The contract every resource kind fulfils: its typed desired value (the
//! spec), its typed observed value, its attribute table, and its life cycle
//! against AWS. The engine (graph, diff, cost, steps) only ever talks to a
//! kind through this trait, by way of the registry in [`super::registry`].

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;
use std::marker::PhantomData;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{anyhow, Result};

use super::registry::Kind;
use super::{Ctx, Step};
use crate::aws::Aws;
use crate::config::Stack;
use crate::cost::Billable;
use crate::graph::{Address, Graph};
use crate::i18n::Msg;
use crate::live::{Live, LiveState, Origin, Readiness, Record, Tags};
use crate::plan::{ReplaceOrder, Value, Verdict};
use crate::quota::Quota;

/// A resource kind: one module in `resources/` implements this for a unit
/// struct and adds one line to the registry.
pub trait ResourceKind: Sized + Send + Sync + 'static {
    const KIND: Kind;
    /// What the stack file asks for. References to other resources are
    /// typed addresses ([`Ref`]); [`ResourceKind::references`] lists them.
    type Spec: Debug + Send + Sync + 'static;
    /// What AWS reports about one live resource of this kind.
    type Observed: Clone + Debug + Send + Sync + 'static;
    /// The attributes the plan compares. Each is named once, here; its row
    /// in [`ResourceKind::attributes`] says how it is compared and changed.
    type Attr: Copy + Eq + Debug + Send + Sync + 'static + FromStr + Into<&'static str> + strum::IntoEnumIterator;

    /// Found under each live resource of this kind (node groups under their
    /// cluster); `None` for kinds found on their own.
    const PARENT: Option<Kind> = None;
    /// How long a create or update may take to become usable.
    const READY_TIMEOUT: Duration = Duration::from_secs(5 * 60);
    /// How a replacement is ordered.
    const REPLACE_ORDER: ReplaceOrder = ReplaceOrder::DestroyBeforeCreate;
    /// What Kubernetes may leave behind around this kind (see [`Leftovers`]).
    const LEFTOVERS: Leftovers = Leftovers::None;

    /// The resources of this kind a resolved stack needs.
    fn desired(stack: &Stack) -> Vec<New<Self>>;

    /// The addresses `spec` references: they are made before this resource,
    /// their live records reach its steps, and it is deleted before them.
    fn references(spec: &Self::Spec) -> Vec<Address>;

    /// The attribute table: one row per [`ResourceKind::Attr`], with the
    /// desired value (references resolved through `refs`).
    fn attributes(d: &Desired<'_, Self>, refs: &dyn Resolve) -> Vec<Attribute<Self>>;

    /// What a reviewer should know about this resource that is not a
    /// change (an add-on version published since, an upgrade's hops).
    fn notes(_d: &Desired<'_, Self>, _live: Option<&Found<Self>>, _refs: &dyn Resolve) -> Vec<String> {
        Vec::new()
    }

    /// Ids, names and ARNs of other resources this live one points at
    /// (its VPC, subnets, role…): it must go, or stop pointing at them,
    /// before they can be deleted.
    fn points_at(o: &Self::Observed) -> Vec<String>;

    /// Kinds that must be gone before a resource of this kind can be
    /// deleted although AWS reports no reference (a NAT gateway's public
    /// address keeps the internet gateway attached).
    fn delete_after() -> &'static [Kind] {
        &[]
    }

    /// How long AWS usually takes to make, change or delete one (DESIGN §8),
    /// and what it is doing when it takes longer: shown next to a running
    /// step, counted in the time left, and what the wait's polls follow.
    /// `None`: seconds.
    fn usual(_verb: Verb, _spec: Option<&Self::Spec>) -> Option<Expected> {
        None
    }

    /// Kinds whose resources, when they are being deleted too, need not be
    /// gone before this one goes although they point at it (a route to a
    /// deleted NAT gateway turns blackhole; the route table can go later).
    fn outlived_by_pointers_from() -> &'static [Kind] {
        &[]
    }

    /// Kinds whose deletions, of resources pointing at this one, must be
    /// done before this one is updated (an RDS instance cannot be stopped
    /// while read replicas of it exist).
    fn update_after_deleting() -> &'static [Kind] {
        &[]
    }

    /// What deleting or replacing this resource loses, if anything.
    fn data_loss(_name: &str, _live: Option<&Found<Self>>, _policy: &Policy) -> Option<Msg> {
        None
    }

    /// Why AWS would refuse to delete this resource now (deletion
    /// protection), with the way out.
    fn deletion_blocker(_live: &Found<Self>) -> Option<Blocker> {
        None
    }

    /// Why a live resource that the desired graph no longer has stays for
    /// now instead of being deleted (the RDS instance an Aurora cluster was
    /// restored from, until `--finish-migration`); `None`: it is deleted.
    fn kept(_live: &Found<Self>, _graph: &Graph, _all: &LiveState, _policy: &Policy) -> Option<String> {
        None
    }

    /// Why a live resource that the desired graph no longer has is deleted,
    /// when there is more to say than "not in the stack file".
    fn deletion_reason(_live: &Found<Self>, _graph: &Graph, _policy: &Policy) -> Option<String> {
        None
    }

    /// Steps in one group never overlap beyond the group's limit (EKS lets
    /// one Fargate profile per cluster be creating or deleting at a time).
    fn concurrency_group() -> Option<&'static str> {
        None
    }

    /// What a reviewer should hear about this desired resource (a
    /// Kubernetes version in extended support), as plan warnings.
    fn advice(_d: &Desired<'_, Self>) -> Vec<String> {
        Vec::new()
    }

    /// What the resource is and why the stack needs it, in one line
    /// (`ekstack explain`): `purpose.<kind>` unless the kind tells its
    /// resources apart.
    fn purpose(d: &Desired<'_, Self>) -> Msg {
        Msg::keyed(format!("purpose.{}", Self::KIND)).arg("name", d.name)
    }

    /// What the resource bills once applied.
    fn billables(_d: &Desired<'_, Self>) -> Vec<Billable> {
        Vec::new()
    }

    /// The account quotas the resource counts against once made.
    fn quotas(_d: &Desired<'_, Self>) -> Vec<Quota> {
        Vec::new()
    }

    /// What the live resource bills now.
    fn live_billables(_live: &Found<Self>, _all: &LiveState) -> Vec<Billable> {
        Vec::new()
    }

    /// The AWS name a create-before-destroy replacement is made under.
    fn replacement_name(d: &Desired<'_, Self>, _current: &Found<Self>) -> String {
        d.name.to_string()
    }

    /// Finds this kind's live resources of the stack, in as few calls as
    /// the API allows. Makes no mutating call.
    fn discover(cx: &Discovery<'_>, parent: Option<&Live>) -> impl Future<Output = Result<Vec<Found<Self>>>> + Send;

    /// What stays on purpose once this kind's resources are deleted (final
    /// snapshots, retained backups, volumes Kubernetes made) and keeps
    /// billing: a destroy lists it, with its cost. Makes no mutating call.
    fn remains(cx: &Discovery<'_>) -> impl Future<Output = Result<Vec<Remains>>> + Send {
        let _ = cx;
        async { Ok(Vec::new()) }
    }

    /// Makes the resource. A resource found instead of made (an earlier
    /// run's, whose answer was lost) comes back with [`Origin::Adopted`].
    fn create(
        step: &Step<'_>,
        d: &Desired<'_, Self>,
        inputs: &Inputs,
    ) -> impl Future<Output = Result<Found<Self>>> + Send;

    /// Makes the planned in-place changes.
    fn update(
        step: &Step<'_>,
        d: &Desired<'_, Self>,
        current: &Found<Self>,
        changes: &Changes<Self>,
        inputs: &Inputs,
    ) -> impl Future<Output = Result<Found<Self>>> + Send;

    /// Deletes the resource and waits until it is gone.
    fn delete(step: &Step<'_>, live: &Found<Self>) -> impl Future<Output = Result<()>> + Send;

    /// Waits until the resource is usable; most kinds are when created.
    fn wait_ready(step: &Step<'_>, live: &Found<Self>) -> impl Future<Output = Result<Found<Self>>> + Send {
        let _ = step;
        let live = live.clone();
        async move { Ok(live) }
    }

    /// A typed live record of this kind.
    fn found(
        address: impl Into<Address>,
        id: impl Into<String>,
        state: impl Into<String>,
        readiness: Readiness,
        observed: Self::Observed,
    ) -> Found<Self> {
        Record {
            address: address.into(),
            kind: Self::KIND,
            id: id.into(),
            arn: None,
            state: state.into(),
            readiness,
            origin: Origin::Ours,
            tags: Tags::new(),
            observed,
        }
    }
}

/// A typed live record of kind `K`.
pub type Found<K> = Record<<K as ResourceKind>::Observed>;

/// Where Kubernetes leaves things ekstack did not make, and who waits for
/// the sweep that removes them before the network goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leftovers {
    None,
    /// Workloads on it make load balancers, volumes and interfaces: the
    /// sweep runs after it is deleted.
    Leaves,
    /// What Kubernetes left keeps it from being deleted (subnets, the VPC):
    /// it is deleted after the sweep.
    BlockedBy,
}

/// Something a destroy leaves on purpose that still bills.
#[derive(Debug, Clone, PartialEq)]
pub struct Remains {
    /// "final snapshot shop-db-final-20261201-101500 of shop-db"
    pub what: String,
    pub billable: Billable,
    /// How to be rid of it when it is no longer wanted.
    pub way_out: String,
}

/// Why AWS would refuse to delete a resource, and the way out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    /// "database shop-db has deletion protection on"
    pub reason: String,
    /// What the user does to lift it.
    pub way_out: String,
}

/// Choices that decide what a deletion loses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// A database deleted gets a final snapshot first.
    pub final_snapshot: bool,
    /// `apply --finish-migration`: what a migration kept (the RDS instance
    /// an Aurora cluster was restored from) may go.
    pub finish_migration: bool,
    /// `--delete-images`: an ECR repository that holds images may go, and
    /// its images with it.
    pub delete_images: bool,
    /// `sleep --deep --snapshot`: the database goes after a snapshot of
    /// this name, which any later apply restores.
    pub sleep_snapshot: Option<String>,
    /// The plan is of the stack's sleeping form: what it leaves out comes
    /// back with the wake.
    pub sleeping: bool,
}

/// A typed reference to another resource of the stack, by address.
pub struct Ref<K> {
    pub address: Address,
    kind: PhantomData<fn() -> K>,
}

impl<K> Ref<K> {
    pub fn new(address: impl Into<Address>) -> Self {
        Ref {
            address: address.into(),
            kind: PhantomData,
        }
    }
}

impl<K> Clone for Ref<K> {
    fn clone(&self) -> Self {
        Ref::new(self.address.clone())
    }
}

impl<K> PartialEq for Ref<K> {
    fn eq(&self, other: &Self) -> bool {
        self.address == other.address
    }
}

impl<K> Debug for Ref<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ref({})", self.address)
    }
}

/// A resource a kind asks for, before it enters the graph.
#[derive(Debug)]
pub struct New<K: ResourceKind> {
    pub address: Address,
    /// The `Name` tag, or the AWS name for kinds named by the API.
    pub name: String,
    /// Every tag it carries from its create call.
    pub tags: Tags,
    pub spec: K::Spec,
    /// Made after these although it references none of them (nodes need
    /// the private routes to the NAT gateways to join the cluster).
    pub after: Vec<Address>,
}

/// A desired resource as its kind sees it.
#[derive(Debug)]
pub struct Desired<'a, K: ResourceKind> {
    pub address: &'a str,
    pub name: &'a str,
    pub tags: &'a Tags,
    pub spec: &'a K::Spec,
}

impl<K: ResourceKind> Clone for Desired<'_, K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K: ResourceKind> Copy for Desired<'_, K> {}

impl<K: ResourceKind> Desired<'_, K> {
    /// The tags a user manages, as the plan compares them.
    pub fn user_tags(&self) -> Tags {
        super::tags::user_tags(self.tags)
    }
}

/// How one attribute is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    Exact,
    /// A desired "16" is met by a live "16.4".
    VersionPrefix,
    /// Lists compared as sets.
    Unordered,
}

/// What changing one attribute takes.
#[derive(Debug, Clone)]
pub enum OnChange {
    /// Changed in place by this API call, with an optional note on downtime.
    InPlace { via: &'static str, note: Option<Msg> },
    /// The resource must be replaced; why.
    Replace(String),
    /// AWS cannot make this change; why, and the way out.
    Impossible(Msg),
}

/// Judges one concrete change of an attribute: some changes AWS makes only in
/// one direction (storage grows, versions go up one minor at a time).
pub type Guard = fn(before: &Value, after: &Value) -> Verdict;

/// Reads one attribute off an observed value.
type Reader<K> = Box<dyn Fn(&Found<K>) -> Option<Value> + Send + Sync>;

/// One row of a kind's attribute table.
pub struct Attribute<K: ResourceKind> {
    pub key: K::Attr,
    /// The stack-file key it comes from, e.g. `eks.nodegroups.general.min`.
    pub path: String,
    /// The desired value, references resolved.
    pub want: Value,
    read: Reader<K>,
    /// Why the diff may take this attribute as it should be when an answer
    /// leaves it out; without a reason, an answer without it is an error.
    pub unreported_because: Option<&'static str>,
    pub compare: Compare,
    pub change: OnChange,
    pub guard: Option<Guard>,
    /// A map compared entry by entry: one change per entry that differs,
    /// with the entry's note (and the note for an entry removed).
    pub per_key: Option<PerKey>,
}

/// Notes for the entries of a map compared entry by entry.
#[derive(Debug, Clone)]
pub struct PerKey {
    pub notes: BTreeMap<String, Msg>,
    pub removed: Msg,
}

impl<K: ResourceKind> Attribute<K> {
    /// An attribute AWS always reports, changed in place by `via` unless a
    /// builder below says otherwise.
    pub fn new(
        key: K::Attr,
        path: impl Into<String>,
        want: impl Into<Value>,
        read: impl Fn(&Found<K>) -> Value + Send + Sync + 'static,
    ) -> Self {
        Attribute {
            key,
            path: path.into(),
            want: want.into(),
            read: Box::new(move |o| Some(read(o))),
            unreported_because: None,
            compare: Compare::Exact,
            change: OnChange::Impossible(Msg::new("impossible.no_known_way")),
            guard: None,
            per_key: None,
        }
    }

    /// An attribute read from an optional field of the answer: `None`
    /// means the answer did not include it, which the diff reports as an
    /// error unless [`Attribute::may_be_unreported`] says why it may happen.
    pub fn reported(
        key: K::Attr,
        path: impl Into<String>,
        want: impl Into<Value>,
        read: impl Fn(&Found<K>) -> Option<Value> + Send + Sync + 'static,
    ) -> Self {
        Attribute {
            read: Box::new(read),
            ..Self::new(key, path, want, |_| Value::Null)
        }
    }

    /// Some answers leave this attribute out, for the reason given; it is
    /// then taken as it should be.
    pub fn may_be_unreported(mut self, because: &'static str) -> Self {
        self.unreported_because = Some(because);
        self
    }

    /// The value observed, or `None` when the answer did not include it.
    pub fn observed(&self, live: &Found<K>) -> Option<Value> {
        (self.read)(live)
    }

    pub fn name(&self) -> &'static str {
        self.key.into()
    }

    pub fn in_place(mut self, via: &'static str) -> Self {
        self.change = OnChange::InPlace { via, note: None };
        self
    }

    pub fn replace(mut self, why: impl Into<String>) -> Self {
        self.change = OnChange::Replace(why.into());
        self
    }

    pub fn impossible(mut self, why: Msg) -> Self {
        self.change = OnChange::Impossible(why);
        self
    }

    /// A note on downtime or duration for an in-place change.
    pub fn note(mut self, text: Msg) -> Self {
        if let OnChange::InPlace { note, .. } = &mut self.change {
            *note = Some(text);
        }
        self
    }

    pub fn unordered(mut self) -> Self {
        self.compare = Compare::Unordered;
        self
    }

    pub fn version_prefix(mut self) -> Self {
        self.compare = Compare::VersionPrefix;
        self
    }

    /// Compares a map entry by entry, each change with its entry's note.
    pub fn per_key(mut self, notes: BTreeMap<String, Msg>, removed: Msg) -> Self {
        self.per_key = Some(PerKey { notes, removed });
        self
    }

    pub fn guard(mut self, guard: Guard) -> Self {
        self.guard = Some(guard);
        self
    }

    /// Whether an observed value meets the desired one.
    pub fn matches(&self, have: &Value) -> bool {
        match (self.compare, &self.want, have) {
            (Compare::VersionPrefix, Value::Text(want), Value::Text(have)) => {
                crate::config::resolve::version_has_prefix(have, want)
            }
            (Compare::Unordered, Value::List(a), Value::List(b)) => {
                let key = |items: &[Value]| {
                    let mut keys: Vec<String> = items.iter().map(|v| v.to_string()).collect();
                    keys.sort();
                    keys
                };
                key(a) == key(b)
            }
            _ => &self.want == have,
        }
    }
}

/// The attributes a planned update changes, as the kind names them.
pub struct Changes<K: ResourceKind> {
    attrs: Vec<K::Attr>,
}

impl<K: ResourceKind> Changes<K> {
    /// Reads the attribute names of a plan's changes back into `K::Attr`s;
    /// a name this kind does not have (a plan from another version) is an
    /// error, never ignored.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        let attrs = names
            .into_iter()
            .map(|n| {
                K::Attr::from_str(n).map_err(|_| anyhow!("the plan changes `{n}`, which a {} does not have", K::KIND))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Changes { attrs })
    }

    pub fn of(attrs: Vec<K::Attr>) -> Self {
        Changes { attrs }
    }

    pub fn has(&self, attr: K::Attr) -> bool {
        self.attrs.contains(&attr)
    }

    pub fn any(&self, attrs: &[K::Attr]) -> bool {
        attrs.iter().any(|a| self.has(*a))
    }

    pub fn is_empty(&self) -> bool {
        self.attrs.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = K::Attr> + '_ {
        self.attrs.iter().copied()
    }
}

/// Live records by address: what a reference resolves to.
pub trait Resolve {
    fn live(&self, address: &str) -> Option<&Live>;

    /// A referenced resource's id, or unknown until apply makes it.
    fn id_value(&self, address: &str) -> Value {
        self.live(address)
            .map(|l| Value::Text(l.id.clone()))
            .unwrap_or(Value::Unknown)
    }
}

impl Resolve for BTreeMap<Address, Live> {
    fn live(&self, address: &str) -> Option<&Live> {
        self.get(address)
    }
}

/// The live records of what a step references, handed to it by the
/// dispatcher from the steps it depends on. A reference the step did not
/// declare is not here.
#[derive(Debug, Default, Clone)]
pub struct Inputs {
    by_address: BTreeMap<Address, Live>,
}

impl Inputs {
    pub fn new(lives: impl IntoIterator<Item = Live>) -> Self {
        Inputs {
            by_address: lives.into_iter().map(|l| (l.address.clone(), l)).collect(),
        }
    }

    fn get_live(&self, address: &str) -> Result<&Live> {
        self.by_address.get(address).ok_or_else(|| {
            anyhow!("internal error: {address} is not among this step's inputs (is it a declared reference?)")
        })
    }

    /// The AWS id of a referenced resource.
    pub fn id<K>(&self, r: &Ref<K>) -> Result<String> {
        Ok(self.get_live(&r.address)?.id.clone())
    }

    /// The ARN of a referenced resource.
    pub fn arn<K>(&self, r: &Ref<K>) -> Result<String> {
        self.get_live(&r.address)?
            .arn
            .clone()
            .ok_or_else(|| anyhow!("the ARN of {} is not known", r.address))
    }

    /// The AWS id of a referenced resource, by address.
    pub fn id_of(&self, address: &str) -> Result<String> {
        Ok(self.get_live(address)?.id.clone())
    }

    /// The ids of several referenced resources, in order.
    pub fn ids<K>(&self, refs: &[Ref<K>]) -> Result<Vec<String>> {
        refs.iter().map(|r| self.id(r)).collect()
    }

    /// The typed live record of a referenced resource.
    pub fn get<K: ResourceKind>(&self, r: &Ref<K>) -> Result<Found<K>> {
        self.get_live(&r.address)?.typed::<K>()
    }
}

impl Resolve for Inputs {
    fn live(&self, address: &str) -> Option<&Live> {
        self.by_address.get(address)
    }
}

/// What discovery knows before it starts.
pub struct Discovery<'a> {
    pub aws: &'a Aws,
    pub stack: &'a str,
    pub region: &'a str,
}

/// What a poll saw.
pub enum Polled<T> {
    Ready(T),
    Pending(String),
}

/// Polls `check` until it says ready, with exponential backoff and jitter,
/// reporting each state it sees, for at most `timeout`.
pub async fn poll<T, F, Fut>(step: &Step<'_>, what: &str, timeout: Duration, check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Polled<T>>>,
{
    poll_by(step, what, timeout, None, check).await
}

/// [`poll`] for a step's main wait (the resource made or deleted): it
/// follows the step's usual duration ([`next_poll`]), looking seldom early
/// and often near the usual end.
pub async fn poll_usual<T, F, Fut>(step: &Step<'_>, what: &str, timeout: Duration, check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Polled<T>>>,
{
    let usual = step.expected.filter(|_| step.ctx.options.model_scale > 0.0);
    poll_by(step, what, timeout, usual, check).await
}

/// When a wait looks next. With a usual range (in modelled time, from
/// the step's start): not before 95% of its low end, then at an interval
/// of `POLL_K` × √(range in seconds), 2 to 15 s (twice that once past its
/// high end). Waits in a row on the critical path (a control plane, its
/// node group, CoreDNS) each overshoot by half their interval on average,
/// and a wait reads about half its range over its interval: intervals in
/// proportion to √range give the fewest reads for a given total overshoot.
/// Without a range: exponential backoff from 2 s by 1.5 to 20 s.
/// `previous`: the last backoff delay. Pure, so the benchmark runs the
/// same schedule on a simulated clock.
pub fn next_poll(usual: Option<&Expected>, since_start: Duration, previous: Duration) -> Duration {
    let Some(u) = usual else {
        return if previous.is_zero() {
            Duration::from_secs(2)
        } else {
            previous.mul_f64(1.5).min(Duration::from_secs(20))
        };
    };
    let quiet = u.low.mul_f64(0.95);
    if since_start < quiet {
        return quiet - since_start;
    }
    let range = u.high.saturating_sub(u.low).as_secs_f64().max(1.0);
    let every = Duration::from_secs_f64(POLL_K * range.sqrt()).clamp(Duration::from_secs(2), Duration::from_secs(15));
    if since_start <= u.high {
        every
    } else {
        every * 2
    }
}

/// Seconds of poll interval per √second of a usual range (tuned with
/// `cargo run --example poll_bench`).
pub const POLL_K: f64 = 0.5;

async fn poll_by<T, F, Fut>(
    step: &Step<'_>,
    what: &str,
    timeout: Duration,
    usual: Option<&Expected>,
    mut check: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Polled<T>>>,
{
    use rand::Rng;
    let started = std::time::Instant::now();
    let mut delay = Duration::ZERO;
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
            anyhow::bail!(
                "timed out after {} waiting for {what} (last state: {last_state}); it may still finish: re-run apply to keep waiting",
                crate::render::duration(timeout)
            );
        }
        match usual {
            Some(u) => {
                // Modelled time since the step started, at the emulator's pace.
                let scale = step.ctx.options.model_scale;
                let since = step.started.elapsed().div_f64(scale);
                let next = next_poll(Some(u), since, Duration::ZERO);
                tokio::time::sleep(next.mul_f64(scale)).await;
            }
            None => {
                delay = next_poll(None, Duration::ZERO, delay);
                let jitter = rand::thread_rng().gen_range(0.8..1.2);
                step.ctx.pause(delay.mul_f64(jitter)).await;
            }
        }
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
    attempt: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let matches = |e: &anyhow::Error| codes.iter().any(|c| crate::aws::errors::has_code(e, c));
    retry_when(step, matches, waiting_for, patience, attempt).await
}

/// Repeats `attempt` while its error is one `passing` says will pass (AWS
/// is still settling something), backing off from 2 s to 10 s (scaled in
/// tests), for at most `patience`; then the last error stands.
pub async fn retry_when<T, F, Fut>(
    step: &Step<'_>,
    passing: impl Fn(&anyhow::Error) -> bool,
    waiting_for: &str,
    patience: Duration,
    mut attempt: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let started = std::time::Instant::now();
    let mut delay = Duration::from_secs(2);
    loop {
        match attempt().await {
            Err(e) if passing(&e) && started.elapsed() < patience.mul_f64(step.ctx.options.scale()) => {
                step.status(waiting_for);
                step.ctx.pause(delay).await;
                delay = delay.mul_f64(1.5).min(Duration::from_secs(10));
            }
            other => return other,
        }
    }
}

/// `None` when the thing looked up does not exist.
pub fn existing<T>(result: Result<T>) -> Result<Option<T>> {
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

/// A resource found under the name a create wanted must have been made by
/// ekstack for this stack (an earlier, interrupted run); anything else is
/// not ours to take.
pub fn ours<O>(found: Record<O>) -> Result<Record<O>> {
    if found.origin == Origin::Foreign {
        anyhow::bail!(
            "{} {} already exists and was not made by ekstack for this stack; rename the stack or remove it",
            found.kind,
            found.id
        );
    }
    Ok(found)
}

impl Ctx {
    /// Sleeps between polls, scaled down in tests.
    pub async fn pause(&self, d: Duration) {
        tokio::time::sleep(d.mul_f64(self.options.scale())).await;
    }
}

/// Which change a usual duration is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Create,
    Update,
    Delete,
}

pub use crate::exec::Expected;

/// A usual duration of `low` to `high` minutes, and what AWS is known to be
/// doing when a step runs past it.
pub fn minutes(low: f64, high: f64, meanwhile: &str) -> Option<Expected> {
    Some(Expected {
        low: Duration::from_secs_f64(low * 60.0),
        high: Duration::from_secs_f64(high * 60.0),
        meanwhile: meanwhile.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_reads_nothing_early_then_often_near_the_usual_end() {
        let cluster = minutes(9.0, 15.0, "").unwrap();
        let s = Duration::from_secs;
        // Quiet until 95% of 9 minutes (513 s), whenever it is asked.
        assert_eq!(next_poll(Some(&cluster), s(0), Duration::ZERO), s(513));
        assert_eq!(next_poll(Some(&cluster), s(500), Duration::ZERO), s(13));
        // Then every 0.5 × √360 s ≈ 9.5 s up to 15 minutes, twice that after.
        let every = next_poll(Some(&cluster), s(600), Duration::ZERO);
        assert!((every.as_secs_f64() - 9.487).abs() < 0.01, "{every:?}");
        assert_eq!(next_poll(Some(&cluster), s(16 * 60), Duration::ZERO), every * 2);
        // A narrow range is clamped to 2 s; a wide one to 15 s.
        let nat = minutes(1.0, 1.05, "").unwrap();
        assert_eq!(next_poll(Some(&nat), s(60), Duration::ZERO), s(2));
        let wide = minutes(10.0, 70.0, "").unwrap();
        assert_eq!(next_poll(Some(&wide), s(700), Duration::ZERO), s(15));
        // Without a range: 2 s, then ×1.5, up to 20 s.
        assert_eq!(next_poll(None, s(0), Duration::ZERO), s(2));
        assert_eq!(next_poll(None, s(0), s(2)), s(3));
        assert_eq!(next_poll(None, s(0), s(18)), s(20));
    }
}
