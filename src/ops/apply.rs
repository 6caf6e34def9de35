//! `apply` (and `wake`): plan, refuse what loses data or what AWS would
//! refuse, confirm, re-read live state if a person took their time, then run
//! the plan's steps.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{bail, Result};
use tokio::sync::mpsc;

use super::plan::{make_plan, same_actions, with_cost, Planned};
use super::steps::{plan_steps, AwsRunner, Output, Work};
use super::{failure_message, Frontend, Prompt};
use crate::aws::{Aws, Target};
use crate::config::Stack;
use crate::cost::PriceTable;
use crate::exec::{self, Event, Limits, Node, RunReport};
use crate::live::Live;
use crate::plan::{Action, Plan};
use crate::resources::{Ctx, Note, RunOptions, StatusSink};

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub parallelism: usize,
    /// Allow replacements and deletions that lose data.
    pub allow_data_loss: bool,
    /// Delete a database without its final snapshot.
    pub skip_final_snapshot: bool,
    pub run: RunOptions,
    /// The command that resumes an interrupted run, for the failure message
    /// (and the lock's record of what holds it).
    pub resume: String,
    /// How long to wait for the stack's lock when another command holds
    /// it; `None`: refuse at once.
    pub lock_timeout: Option<std::time::Duration>,
    /// `--keep-sleep-snapshot`: a woken database's sleep snapshot stays.
    pub keep_sleep_snapshot: bool,
    /// A deep sleep sweeps what the cluster it deletes left in the VPC
    /// (load balancers Kubernetes made, their groups, its ENIs).
    pub sweep: Option<(String, super::sweep::Scope)>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            parallelism: 10,
            allow_data_loss: false,
            skip_final_snapshot: false,
            run: RunOptions::default(),
            resume: "ekstack apply".into(),
            lock_timeout: None,
            keep_sleep_snapshot: false,
            sweep: None,
        }
    }
}

/// What a run of steps did.
#[derive(Debug)]
pub struct Ran {
    pub report: RunReport<Output>,
    pub notes: Vec<Note>,
}

impl Ran {
    /// The live record each finished step brought about, by address.
    pub fn live(&self) -> HashMap<&str, &Live> {
        self.report
            .outputs
            .values()
            .flatten()
            .map(|l| (l.address.as_str(), l))
            .collect()
    }
}

/// What `apply` did.
#[derive(Debug)]
pub struct Applied {
    pub plan: Plan,
    /// `None` when there was nothing to do.
    pub ran: Option<Ran>,
}

/// `ekstack apply`: converges the stack to its file.
pub async fn apply(
    target: &Target,
    stack: &Stack,
    prices: &PriceTable,
    options: &ApplyOptions,
    ui: &dyn Frontend,
) -> Result<Applied> {
    let aws = super::connect(target).await?;
    let (name, region) = (&stack.meta.name, &stack.meta.region);
    let work = apply_locked(&aws, stack, prices, options, ui);
    super::lock::with_lock(&aws, name, region, &options.resume, options.lock_timeout, work).await
}

/// [`apply`] once the stack's lock is held.
async fn apply_locked(
    aws: &Aws,
    stack: &Stack,
    prices: &PriceTable,
    options: &ApplyOptions,
    ui: &dyn Frontend,
) -> Result<Applied> {
    let planned = with_cost(make_plan(aws, stack, options.skip_final_snapshot).await?, stack, prices);
    ui.show_plan(&planned.plan)?;
    if !planned.plan.has_changes() {
        return Ok(Applied {
            plan: planned.plan,
            ran: None,
        });
    }
    check_safety(&planned, options.allow_data_loss)?;
    if !ui.confirm(Prompt::Apply)? {
        bail!("apply cancelled; nothing was changed");
    }
    if ui.asks_a_person() {
        // The user may have read the plan for a while: apply only what
        // they saw. If live state moved meanwhile, say so and stop.
        let fresh = make_plan(aws, stack, options.skip_final_snapshot).await?;
        if !same_actions(&fresh.plan, &planned.plan) {
            bail!("live state changed since the plan was shown; nothing was changed. Run apply again to see the new plan.");
        }
    }
    let ran = execute(aws, stack, &planned, options, ui).await?;
    Ok(Applied {
        plan: planned.plan,
        ran: Some(ran),
    })
}

/// Refuses, before anything changes, a plan that loses data without
/// `--allow-data-loss`, or that would delete what AWS protects.
pub fn check_safety(planned: &Planned, allow_data_loss: bool) -> Result<()> {
    let plan = &planned.plan;
    let losing: Vec<String> = plan
        .data_losing()
        .map(|a| {
            format!(
                "  {} {} — loses {}",
                if a.action == Action::Delete {
                    "delete"
                } else {
                    "replace"
                },
                a.address,
                a.data_loss
                    .as_ref()
                    .map(|l| l.english())
                    .unwrap_or_else(|| "data".into())
            )
        })
        .collect();
    if !losing.is_empty() && !allow_data_loss {
        bail!(
            "this plan loses data:\n{}\nNothing was changed. Re-run with --allow-data-loss if that is intended, or change the stack file.",
            losing.join("\n")
        );
    }
    protected_deletions(planned)?;
    within_quotas(&planned.plan)
}

/// A create past a quota fails when apply reaches it, leaving the stack
/// half made: refuse before anything changes.
fn within_quotas(plan: &Plan) -> Result<()> {
    if plan.quota_shortfalls.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = plan
        .quota_shortfalls
        .iter()
        .map(|q| {
            format!(
                "  {} in {}: {} allowed, {} in use, the plan adds {}",
                q.quota, q.scope, q.limit, q.in_use, q.adding
            )
        })
        .collect();
    bail!(
        "this plan needs more than the account's quotas allow:\n{}\nNothing was changed. Raise the quota or free room as the plan says, then apply again.",
        lines.join("\n")
    )
}

/// What AWS protects (a database with deletion protection) cannot be
/// deleted or replaced; ekstack never lifts the protection by itself.
fn protected_deletions(planned: &Planned) -> Result<()> {
    for a in planned
        .plan
        .actions
        .iter()
        .filter(|a| matches!(a.action, Action::Delete | Action::Replace))
    {
        let blocker = planned
            .live
            .ours()
            .filter(|l| Some(&l.id) == a.id.as_ref() && l.address == a.address)
            .find_map(|l| l.kind.ops().deletion_blocker(l));
        if let Some(b) = blocker {
            bail!(
                "{}, and this plan would {} it.\nNothing was changed. To go ahead, {}, then run this again.",
                b.reason,
                if a.action == Action::Delete {
                    "delete"
                } else {
                    "replace"
                },
                b.way_out
            );
        }
    }
    Ok(())
}

/// A status sink that forwards step states as events.
pub fn status_sink(events: &mpsc::UnboundedSender<Event>) -> StatusSink {
    let events = events.clone();
    Arc::new(move |key: &str, text: &str| {
        let _ = events.send(Event::Status {
            key: key.to_string(),
            text: text.to_string(),
        });
    })
}

/// Runs steps against AWS with the frontend showing progress, then hands
/// it the notes; a run that did not finish is an error naming the failed
/// step and the command that resumes.
pub async fn run_steps(
    aws: &Aws,
    stack: &Stack,
    nodes: Vec<Node<Work>>,
    options: &ApplyOptions,
    ui: &dyn Frontend,
) -> Result<Ran> {
    // From here Ctrl-C stops the steps gracefully (the executor's own
    // handling), and the lock is given back when they have stopped.
    super::lock::steps_started();
    let (events, rx) = mpsc::unbounded_channel();
    let progress = ui.progress(rx);
    let policy = super::plan::policy(stack, options.skip_final_snapshot);
    let run = RunOptions {
        final_snapshot: policy.final_snapshot,
        sleep_snapshot: policy.sleep_snapshot,
        ..options.run.clone()
    };
    let ctx = Arc::new(Ctx::new(aws.clone(), &stack.meta.name, run, status_sink(&events)));
    let runner = Arc::new(AwsRunner { ctx: ctx.clone() });
    let limits = Limits {
        parallelism: options.parallelism,
        per_group: 1,
    };
    let report = exec::run(nodes, runner, limits, events, ui.interrupts()).await;
    let notes = ctx.notes();
    // The context's status sink holds the last sender: progress ends with it.
    drop(ctx);
    let _ = progress.await;
    ui.notes(&notes);
    if !report.ok() {
        bail!("{}", failure_message(&report, &options.resume));
    }
    Ok(Ran { report, notes })
}

/// After a successful apply of the file: the database a deep sleep kept in
/// a snapshot is available again, so the snapshot goes (unless
/// `--keep-sleep-snapshot`), and then the sleeping mark.
async fn woken(
    aws: &Aws,
    stack: &Stack,
    planned: &Planned,
    asleep: &crate::plan::Asleep,
    options: &ApplyOptions,
    ui: &dyn Frontend,
) -> Result<()> {
    use crate::resources::{rds, sleep_mark};
    if let (Some(snapshot), Some(db)) = (&asleep.mark.snapshot, &stack.database) {
        let cluster = db.engine.is_aurora();
        if options.keep_sleep_snapshot {
            ui.note(&format!(
                "kept the sleep snapshot {snapshot} (--keep-sleep-snapshot); it bills as snapshot storage until `aws rds {} --region {} --{} {snapshot}`",
                if cluster { "delete-db-cluster-snapshot" } else { "delete-db-snapshot" },
                stack.meta.region,
                if cluster { "db-cluster-snapshot-identifier" } else { "db-snapshot-identifier" },
            ));
        } else {
            rds::delete_snapshot(aws, snapshot, cluster).await?;
            ui.note(&format!(
                "the database is available again; its sleep snapshot {snapshot} is deleted"
            ));
        }
    }
    if let Some(holder) = sleep_mark::holder(&planned.live) {
        sleep_mark::clear(aws, &holder.id).await?;
    }
    Ok(())
}

/// Executes a plan that has been shown and confirmed.
pub async fn execute(
    aws: &Aws,
    stack: &Stack,
    planned: &Planned,
    options: &ApplyOptions,
    ui: &dyn Frontend,
) -> Result<Ran> {
    check_safety(planned, options.allow_data_loss)?;
    let nodes = plan_steps(&planned.plan, &planned.graph, &planned.live, options.sweep.clone());
    let ran = run_steps(aws, stack, nodes, options, ui).await?;
    // A successful apply of the stack file wakes a sleeping stack.
    if let (Some(asleep), false) = (&planned.plan.sleep, stack.meta.asleep) {
        woken(aws, stack, planned, asleep, options, ui).await?;
    }
    Ok(ran)
}
