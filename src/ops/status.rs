//! `status`: every live resource of the stack, its state, whether it drifted
//! from the file, and what it all costs now.

use anyhow::Result;
use serde::Serialize;

use super::plan::{is_asleep, plan_against};
use crate::aws::Target;
use crate::config::Stack;
use crate::cost::{self, Estimate, PriceTable};
use crate::graph;
use crate::plan::Action;
use crate::resources::discover::discover;
use crate::resources::Kind;

/// One live resource as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct StatusLine {
    pub address: String,
    pub kind: Kind,
    pub id: String,
    pub state: String,
    /// Differs from the file (an update, replacement or deletion is planned).
    pub drift: bool,
    /// What plan would tell a reviewer of it that is not a change (a
    /// database pending a reboot, a newer add-on version).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub stack: String,
    pub env: Option<String>,
    pub region: String,
    pub resources: Vec<StatusLine>,
    /// Addresses in the file with nothing live yet.
    pub missing: Vec<String>,
    pub sleeping: bool,
    /// How it sleeps: since when, how deep, when AWS restarts its stopped
    /// database, and whether it has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sleep: Option<crate::plan::Asleep>,
    pub cost: Estimate,
    /// Compared with the stack file; `false` with `--stack` (no file):
    /// no drift and nothing missing can be told.
    pub compared: bool,
}

/// `ekstack status`; `from_file`: there is a file to compare with.
pub async fn status(target: &Target, stack: &Stack, from_file: bool, prices: &PriceTable) -> Result<Status> {
    let aws = super::connect(target).await?;
    let mut live = discover(&aws, &stack.meta.name, &stack.meta.region).await?;
    if !from_file {
        return Ok(inventory(stack, &live, prices));
    }
    // A sleeping stack is compared with its sleeping form: the NAT it lacks
    // and the nodes at zero are what sleep means, not drift.
    let compared = match crate::resources::sleep_mark::read(&live) {
        Some(mark) => stack.sleeping(mark.depth),
        None => stack.clone(),
    };
    // What only AWS knows (AZs, add-on versions) is filled in as plan does.
    let compared = super::plan::placed(&aws, &compared, &mut live).await?;
    let mut planned = plan_against(&compared, graph::build(&compared)?, live, false)?;
    super::plan::price_kept(&mut planned, &stack.meta.region, prices);
    let mut resources: Vec<StatusLine> = planned
        .live
        .ours()
        .map(|l| StatusLine {
            address: l.address.clone(),
            kind: l.kind,
            id: l.id.clone(),
            state: l.state.clone(),
            drift: planned
                .plan
                .actions
                .iter()
                .any(|a| a.address == l.address && a.action != Action::NoOp && a.action != Action::Create),
            notes: planned
                .plan
                .actions
                .iter()
                .filter(|a| a.address == l.address)
                .flat_map(|a| a.notes.iter().cloned())
                .collect(),
        })
        .collect();
    resources.sort_by(|a, b| (a.kind, &a.address).cmp(&(b.kind, &b.address)));
    let missing = planned
        .plan
        .actions
        .iter()
        .filter(|a| a.action == Action::Create)
        .map(|a| a.address.clone())
        .collect();
    Ok(Status {
        stack: stack.meta.name.clone(),
        env: stack.meta.env.clone(),
        region: stack.meta.region.clone(),
        resources,
        missing,
        sleeping: planned.plan.sleeping,
        cost: cost::estimate(&stack.meta.region, &live_billables(&compared, &planned.live), prices),
        sleep: planned.plan.sleep,
        compared: true,
    })
}

/// What the stack bills now: its live resources, and the snapshot a deep
/// sleep keeps its database in.
fn live_billables(stack: &Stack, live: &crate::live::LiveState) -> Vec<(String, cost::Billable)> {
    let mut billed = cost::live_billables(live);
    if let Some(s) = &stack.meta.sleep_snapshot {
        if crate::resources::rds::database_running(live).is_none() {
            billed.push((
                format!("sleep snapshot {}", s.name),
                cost::Billable::Snapshot { gib: s.gib },
            ));
        }
    }
    billed
}

/// What is live of a stack known by name alone: its resources, states and
/// cost, with nothing to compare them with.
fn inventory(stack: &Stack, live: &crate::live::LiveState, prices: &PriceTable) -> Status {
    let mut resources: Vec<StatusLine> = live
        .ours()
        .map(|l| StatusLine {
            address: l.address.clone(),
            kind: l.kind,
            id: l.id.clone(),
            state: l.state.clone(),
            drift: false,
            notes: vec![],
        })
        .collect();
    resources.sort_by(|a, b| (a.kind, &a.address).cmp(&(b.kind, &b.address)));
    Status {
        stack: stack.meta.name.clone(),
        env: None,
        region: stack.meta.region.clone(),
        resources,
        missing: vec![],
        sleeping: is_asleep(live),
        sleep: super::plan::asleep(live),
        cost: cost::estimate(&stack.meta.region, &cost::live_billables(live), prices),
        compared: false,
    }
}
