//! `apply`: run a plan's steps, after the safety checks.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{bail, Result};
use tokio::sync::mpsc;

use super::plan::Planned;
use crate::aws::Aws;
use crate::config::Stack;
use crate::exec::steps::{plan_steps, AwsRunner, Work};
use crate::exec::{self, Event, EventSender, Limits, Node, RunReport};
use crate::graph::Kind;
use crate::live::Live;
use crate::plan::{Action, Plan};
use crate::resources::{Ctx, Note, RunOptions, StatusSink};

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub parallelism: usize,
    /// Allow replacements and deletions that lose data.
    pub allow_data_loss: bool,
    pub run: RunOptions,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            parallelism: 10,
            allow_data_loss: false,
            run: RunOptions::default(),
        }
    }
}

/// Refuses, before anything changes, a plan that loses data without
/// `--allow-data-loss`, or that would delete a database AWS protects.
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
                a.data_loss.as_deref().unwrap_or("data")
            )
        })
        .collect();
    if !losing.is_empty() && !allow_data_loss {
        bail!(
            "this plan loses data:\n{}\nNothing was changed. Re-run with --allow-data-loss if that is intended, or change the stack file.",
            losing.join("\n")
        );
    }
    protected_deletions(plan, planned)
}

/// A database with deletion protection cannot be deleted or replaced;
/// ekstack never turns the protection off by itself.
fn protected_deletions(plan: &Plan, planned: &Planned) -> Result<()> {
    for a in plan
        .actions
        .iter()
        .filter(|a| matches!(a.action, Action::Delete | Action::Replace))
    {
        if !matches!(a.kind, Kind::DbInstance | Kind::DbCluster) {
            continue;
        }
        let protected = planned.live.resources.iter().any(|l| {
            Some(&l.id) == a.id.as_ref() && l.attrs.get("deletion_protection") == Some(&serde_json::Value::Bool(true))
        });
        if protected {
            bail!(
                "database {} has deletion protection on, and this plan would {} it.\nNothing was changed. To go ahead, set `database.deletion_protection = false`, run `ekstack apply` to turn the protection off, then run this again.",
                a.id.as_deref().unwrap_or(&a.name),
                if a.action == Action::Delete { "delete" } else { "replace" }
            );
        }
    }
    Ok(())
}

/// What a run did.
#[derive(Debug)]
pub struct Outcome {
    pub report: RunReport,
    pub notes: Vec<Note>,
    pub known: HashMap<String, Live>,
}

/// A status sink that forwards step states as events.
pub fn status_sink(events: &EventSender) -> StatusSink {
    let events = events.clone();
    Arc::new(move |key: &str, text: &str| {
        let _ = events.send(Event::Status {
            key: key.to_string(),
            text: text.to_string(),
        });
    })
}

/// Runs steps against AWS with a fresh context.
pub async fn run_steps(
    aws: Aws,
    stack: Stack,
    nodes: Vec<Node<Work>>,
    known: HashMap<String, Live>,
    options: &ApplyOptions,
    events: EventSender,
    interrupt: mpsc::UnboundedReceiver<()>,
) -> Outcome {
    let ctx = Arc::new(Ctx::new(aws, stack, options.run.clone(), known, status_sink(&events)));
    let runner = Arc::new(AwsRunner { ctx: ctx.clone() });
    let limits = Limits {
        parallelism: options.parallelism,
        per_group: 1,
    };
    let report = exec::run(nodes, runner, limits, events, interrupt).await;
    Outcome {
        report,
        notes: ctx.notes(),
        known: ctx.known(),
    }
}

/// Executes a plan. The caller has shown it and had it confirmed.
pub async fn execute(
    aws: Aws,
    stack: Stack,
    planned: &Planned,
    options: &ApplyOptions,
    events: EventSender,
    interrupt: mpsc::UnboundedReceiver<()>,
) -> Result<Outcome> {
    check_safety(planned, options.allow_data_loss)?;
    let stack_asleep = stack.meta.asleep;
    let nodes = plan_steps(&planned.plan, &planned.graph, &planned.live);
    let outcome = run_steps(aws.clone(), stack, nodes, HashMap::new(), options, events, interrupt).await;
    // A successful apply of the stack file wakes a sleeping stack.
    if planned.plan.sleeping && outcome.report.ok() && !stack_asleep {
        if let Some(vpc) = outcome.known.get(crate::graph::build::VPC) {
            crate::resources::vpc::set_sleeping(&aws, &vpc.id, None).await?;
        }
    }
    Ok(outcome)
}
