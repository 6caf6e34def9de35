//! `sleep`: stop paying without losing anything. Node groups go to zero, the
//! database stops, NAT gateways are deleted and their addresses released; the
//! control plane, network and data stay. It is an apply of the stack's
//! sleeping form, so `wake` (or any apply) is the way back.

use anyhow::{bail, Result};

use super::apply::{execute, ApplyOptions};
use super::plan::{make_plan, with_cost};
use super::{Frontend, Prompt};
use crate::aws::{Aws, Target};
use crate::config::Stack;
use crate::cost::PriceTable;
use crate::plan::Plan;
use crate::resources::vpc;

/// What `sleep` did.
#[derive(Debug)]
pub struct Slept {
    pub plan: Plan,
    /// Hourly cost before, and once asleep.
    pub hourly_now: f64,
    pub hourly_asleep: f64,
    /// The stack was asleep already; nothing ran.
    pub already: bool,
}

/// `ekstack sleep`: converges the stack to its sleeping form and marks it.
pub async fn sleep(
    target: &Target,
    stack: &Stack,
    prices: &PriceTable,
    options: &ApplyOptions,
    ui: &dyn Frontend,
) -> Result<Slept> {
    let aws = super::connect(target).await?;
    let (name, region) = (&stack.meta.name, &stack.meta.region);
    let work = sleep_locked(&aws, stack, prices, options, ui);
    super::lock::with_lock(&aws, name, region, &options.resume, options.lock_timeout, work).await
}

/// [`sleep`] once the stack's lock is held.
async fn sleep_locked(
    aws: &Aws,
    stack: &Stack,
    prices: &PriceTable,
    options: &ApplyOptions,
    ui: &dyn Frontend,
) -> Result<Slept> {
    let asleep = stack.sleeping();
    let planned = with_cost(make_plan(aws, &asleep, false).await?, &asleep, prices);
    if planned.live.ours().next().is_none() {
        bail!(
            "stack \"{}\" has nothing live in {} to put to sleep",
            stack.meta.name,
            stack.meta.region
        );
    }
    ui.show_plan(&planned.plan)?;
    let (hourly_now, hourly_asleep) = planned
        .plan
        .cost
        .as_ref()
        .map(|c| (c.current_hourly_usd, c.hourly_usd))
        .unwrap_or_default();
    if stack.database.is_some() {
        ui.note("AWS starts a stopped database again after 7 days; sleep again then if needed.");
    }
    let holder = vpc::sleep_mark_holder(&planned.live).map(|l| l.id.clone());
    if !planned.plan.has_changes() {
        // An interrupted sleep may have done everything but mark it.
        if let (false, Some(holder)) = (planned.plan.sleeping, &holder) {
            mark_asleep(aws, holder).await?;
        }
        return Ok(Slept {
            plan: planned.plan,
            hourly_now,
            hourly_asleep,
            already: true,
        });
    }
    if !ui.confirm(Prompt::Sleep)? {
        bail!("sleep cancelled; nothing was changed");
    }
    execute(aws, &asleep, &planned, options, ui).await?;
    if let Some(holder) = &holder {
        mark_asleep(aws, holder).await?;
    }
    Ok(Slept {
        plan: planned.plan,
        hourly_now,
        hourly_asleep,
        already: false,
    })
}

/// Records since when the stack sleeps, on the resource that carries the
/// mark; `plan` and `status` read it.
async fn mark_asleep(aws: &Aws, vpc_id: &str) -> Result<()> {
    let since = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    vpc::set_sleeping(aws, vpc_id, Some(&since)).await
}
