//! `sleep`: stop paying without losing anything. Node groups go to zero, the
//! database stops, NAT gateways are deleted and their addresses released; the
//! control plane, network and data stay. It is an apply of the stack's
//! sleeping form, so `wake` (or any apply) is the way back.

use anyhow::Result;
use tokio::sync::mpsc;

use super::apply::{execute, ApplyOptions, Outcome};
use super::plan::{make_plan, with_cost, Planned};
use crate::aws::Aws;
use crate::config::Stack;
use crate::cost::PriceTable;
use crate::exec::EventSender;
use crate::graph::build::VPC;

/// The plan that puts a stack to sleep, with the hourly cost now and asleep.
pub async fn plan_sleep(aws: &Aws, stack: &Stack, prices: &PriceTable) -> Result<Planned> {
    let asleep = stack.sleeping();
    let planned = make_plan(aws, &asleep, false).await?;
    Ok(with_cost(planned, &asleep, prices))
}

/// Hourly cost now and once asleep.
pub fn hourly(planned: &Planned) -> (f64, f64) {
    planned
        .plan
        .cost
        .as_ref()
        .map(|c| (c.current_hourly_usd, c.hourly_usd))
        .unwrap_or_default()
}

pub async fn sleep(
    aws: Aws,
    stack: &Stack,
    planned: &Planned,
    options: &ApplyOptions,
    events: EventSender,
    interrupt: mpsc::UnboundedReceiver<()>,
) -> Result<Outcome> {
    let asleep = stack.sleeping();
    let outcome = execute(aws.clone(), asleep, planned, options, events, interrupt).await?;
    if outcome.report.ok() {
        if let Some(vpc) = outcome.known.get(VPC) {
            mark_asleep(&aws, &vpc.id).await?;
        }
    }
    Ok(outcome)
}

/// Records on the VPC since when the stack sleeps; `plan` and `status` read it.
pub async fn mark_asleep(aws: &Aws, vpc_id: &str) -> Result<()> {
    let since = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    crate::resources::vpc::set_sleeping(aws, vpc_id, Some(&since)).await
}

/// Whether the stack has a database that sleeping stops.
pub fn stops_database(stack: &Stack) -> bool {
    stack.database.is_some()
}
