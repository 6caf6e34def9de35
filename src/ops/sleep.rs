//! `sleep`: stop paying without losing anything. Node groups go to zero, the
//! database stops, NAT gateways are deleted and their addresses released; the
//! control plane, network and data stay. `--deep` deletes the cluster too
//! (after sweeping what Kubernetes made in the VPC), and `--snapshot` the
//! database after a snapshot of it. It is an apply of the stack's sleeping
//! form, so `wake` (or any apply) is the way back.

use anyhow::{bail, Result};

use super::apply::{execute, ApplyOptions};
use super::plan::{make_plan, with_cost};
use super::sweep::Scope;
use super::{Frontend, Prompt};
use crate::aws::{Aws, Target};
use crate::config::{SleepDepth, SleepSnapshot, Stack};
use crate::cost::PriceTable;
use crate::plan::Plan;
use crate::resources::sleep_mark::{self, SleepMark, STOPPED_DAYS};
use crate::resources::{eks_cluster, vpc};

/// What `sleep` was asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct SleepRequest {
    pub depth: SleepDepth,
    /// `--for DAYS`: how long the stack is meant to sleep.
    pub days: Option<u32>,
}

/// What `sleep` did.
#[derive(Debug)]
pub struct Slept {
    pub plan: Plan,
    /// Hourly cost before, and once asleep.
    pub hourly_now: f64,
    pub hourly_asleep: f64,
    /// The stack was asleep already; nothing ran.
    pub already: bool,
    /// The mark the stack carries now.
    pub mark: Option<SleepMark>,
    /// A deep sleep deleted the cluster and whatever ran in it.
    pub cluster_deleted: bool,
}

/// Refuses a sleep AWS would cut short, before any AWS call: a stopped
/// database is started again by AWS after seven days, so a longer sleep
/// of a stack with a database needs `--deep --snapshot`.
pub fn check(stack: &Stack, request: &SleepRequest) -> Result<()> {
    let Some(days) = request.days else { return Ok(()) };
    let long = i64::from(days) > STOPPED_DAYS;
    if long && stack.database.is_some() && request.depth != SleepDepth::DeepSnapshot {
        bail!(
            "sleep --for {days}: AWS starts a stopped database again after {STOPPED_DAYS} days, and it bills from then on. For a longer sleep use `ekstack sleep --deep --snapshot --for {days}` (the database is snapshotted and deleted, and the wake restores it), or sleep {STOPPED_DAYS} days at most"
        );
    }
    Ok(())
}

/// `ekstack sleep`: converges the stack to its sleeping form and marks it.
pub async fn sleep(
    target: &Target,
    stack: &Stack,
    request: &SleepRequest,
    prices: &PriceTable,
    options: &ApplyOptions,
    ui: &dyn Frontend,
) -> Result<Slept> {
    check(stack, request)?;
    let aws = super::connect(target).await?;
    let (name, region) = (&stack.meta.name, &stack.meta.region);
    let work = sleep_locked(&aws, stack, request, prices, options, ui);
    super::lock::with_lock(&aws, name, region, &options.resume, options.lock_timeout, work).await
}

/// [`sleep`] once the stack's lock is held.
async fn sleep_locked(
    aws: &Aws,
    stack: &Stack,
    request: &SleepRequest,
    prices: &PriceTable,
    options: &ApplyOptions,
    ui: &dyn Frontend,
) -> Result<Slept> {
    let depth = request.depth;
    let now = time::OffsetDateTime::now_utc();
    let fresh = SleepMark::new(
        now,
        depth,
        stack.database.is_some(),
        request.days,
        &stack.db_identifier(),
    );
    let mut asleep = stack.sleeping(depth);
    asleep.meta.sleep_snapshot = snapshot_of(stack, &fresh);
    let planned = make_plan(aws, &asleep, false).await?;
    if planned.live.ours().next().is_none() {
        bail!(
            "stack \"{}\" has nothing live in {} to put to sleep",
            stack.meta.name,
            stack.meta.region
        );
    }
    // A sleep run again (resumed, or deeper) keeps the snapshot it named.
    let mark = match planned.plan.sleep.as_ref().map(|s| &s.mark) {
        Some(m) if m.snapshot.is_some() && depth == SleepDepth::DeepSnapshot => SleepMark {
            until: fresh.until.clone(),
            ..m.clone()
        },
        _ => fresh,
    };
    asleep.meta.sleep_snapshot = snapshot_of(stack, &mark);
    let planned = with_cost(planned, &asleep, prices);
    ui.show_plan(&planned.plan)?;
    let (hourly_now, hourly_asleep) = planned
        .plan
        .cost
        .as_ref()
        .map(|c| (c.current_hourly_usd, c.hourly_usd))
        .unwrap_or_default();
    if stack.database.is_some() && depth != SleepDepth::DeepSnapshot {
        ui.note(&format!(
            "AWS starts a stopped database again after {STOPPED_DAYS} days ({}); `status` shows it, and `sleep --deep --snapshot` sleeps longer.",
            mark.database_restarts.as_deref().unwrap_or("7 days from now")
        ));
    }
    let cluster = planned.live.ours().find(|l| l.address == eks_cluster::ADDRESS).cloned();
    let cluster_deleted = depth.is_deep() && cluster.is_some();
    let holder = sleep_mark::holder(&planned.live).map(|l| l.id.clone());
    let already = !planned.plan.has_changes();
    if already {
        // An interrupted sleep may have done everything but mark it.
        if let (None, Some(holder)) = (&planned.plan.sleep, &holder) {
            sleep_mark::write(aws, holder, &mark).await?;
        }
        return Ok(Slept {
            mark: Some(planned.plan.sleep.as_ref().map_or(mark, |s| s.mark.clone())),
            plan: planned.plan,
            hourly_now,
            hourly_asleep,
            already,
            cluster_deleted: false,
        });
    }
    // `--deep` asks for the cluster's workloads to go with it; anything
    // else that would lose data is refused as apply refuses it.
    let mut options = options.clone();
    if depth.is_deep() {
        let others: Vec<&str> = planned
            .plan
            .data_losing()
            .filter(|a| a.address != eks_cluster::ADDRESS)
            .map(|a| a.address.as_str())
            .collect();
        if !others.is_empty() {
            bail!(
                "this sleep would lose data in {}; nothing was changed",
                others.join(", ")
            );
        }
        options.allow_data_loss = true;
    }
    super::apply::check_safety(&planned, options.allow_data_loss)?;
    if !ui.confirm(Prompt::Sleep)? {
        bail!("sleep cancelled; nothing was changed");
    }
    // Marked first: a sleep cut short is still a sleeping stack, which
    // `wake` (or any apply) brings back, and a deep one run again keeps the
    // snapshot it named.
    if let Some(holder) = &holder {
        sleep_mark::write(aws, holder, &mark).await?;
    }
    if let (true, Some(cluster)) = (depth.is_deep(), &cluster) {
        let vpc = planned
            .live
            .resources
            .iter()
            .find(|l| l.address == vpc::ADDRESS)
            .map(|l| l.id.clone());
        if let Some(vpc) = vpc {
            options.sweep = Some((vpc, Scope::Cluster(cluster.id.clone())));
        }
    }
    execute(aws, &asleep, &planned, &options, ui).await?;
    Ok(Slept {
        plan: planned.plan,
        hourly_now,
        hourly_asleep,
        already: false,
        mark: Some(mark),
        cluster_deleted,
    })
}

/// The sleep snapshot a mark names, for the stack's kind of database.
fn snapshot_of(stack: &Stack, mark: &SleepMark) -> Option<SleepSnapshot> {
    let db = stack.database.as_ref()?;
    Some(SleepSnapshot {
        name: mark.snapshot.clone()?,
        cluster: db.engine.is_aurora(),
        gib: u32::try_from(db.storage_gib.unwrap_or(20)).unwrap_or(0),
    })
}
