//! `plan`: the desired graph against discovered live state, with what it
//! will cost.

use anyhow::Result;

use crate::aws::{Aws, Target};
use crate::config::Stack;
use crate::cost::{self, PriceTable};
use crate::graph::{self, Graph};
use crate::live::LiveState;
use crate::plan::diff::{diff, mark_duplicates};
use crate::plan::Plan;
use crate::resources::discover::{describe_foreign, discover};
use crate::resources::Policy;

/// A plan with the graph and live state it was made from, for apply.
#[derive(Debug, Clone)]
pub struct Planned {
    pub plan: Plan,
    pub graph: Graph,
    pub live: LiveState,
}

/// The stack with what only AWS knows filled in (its AZs), against the live
/// state it was read with.
pub async fn placed(aws: &Aws, stack: &Stack, live: &LiveState) -> Result<Stack> {
    let (zones, account, offered) = tokio::try_join!(
        super::facts::zones(aws),
        super::facts::account(aws),
        super::facts::addon_versions(aws, stack)
    )?;
    let mut stack = super::facts::place_azs(stack, &zones, live)?;
    stack.meta.account = Some(account);
    super::facts::resolve_addons(&mut stack, &offered, live)?;
    super::facts::resolve_parameters(aws, &mut stack).await?;
    Ok(stack)
}

/// Whether deleting the database takes a final snapshot: unless the file
/// says `final_snapshot = false` or the command `--skip-final-snapshot`.
pub fn policy(stack: &Stack, skip_final_snapshot: bool) -> Policy {
    Policy {
        final_snapshot: stack.database.as_ref().map(|d| d.final_snapshot).unwrap_or(true) && !skip_final_snapshot,
    }
}

/// `ekstack plan`: reads live state and diffs the stack against it, priced.
/// Makes no mutating call.
pub async fn plan(target: &Target, stack: &Stack, prices: &PriceTable) -> Result<Planned> {
    let aws = super::connect(target).await?;
    let planned = make_plan(&aws, stack, false).await?;
    Ok(with_cost(planned, stack, prices))
}

/// Reads live state and diffs the stack against it. Makes no mutating call.
pub async fn make_plan(aws: &Aws, stack: &Stack, skip_final_snapshot: bool) -> Result<Planned> {
    let live = discover(aws, &stack.meta.name, &stack.meta.region).await?;
    let stack = placed(aws, stack, &live).await?;
    let graph = graph::build(&stack)?;
    let mut planned = plan_against(&stack, graph, live, skip_final_snapshot)?;
    let quotas = super::quotas::check(aws, &planned.plan, &planned.graph).await?;
    planned.plan.quota_shortfalls = quotas.shortfalls;
    planned.plan.warnings.extend(quotas.warnings);
    Ok(planned)
}

/// Adds what the stack will cost after apply and costs now.
pub fn with_cost(mut planned: Planned, stack: &Stack, prices: &PriceTable) -> Planned {
    let after = cost::estimate(&stack.meta.region, &cost::desired_billables(&planned.graph), prices);
    let current = cost::estimate(&stack.meta.region, &cost::live_billables(&planned.live), prices);
    planned.plan.cost = Some(cost::PlanCost::new(after, current));
    planned
}

/// The diff itself, for a graph and live state already in hand.
pub fn plan_against(stack: &Stack, graph: Graph, mut live: LiveState, skip_final_snapshot: bool) -> Result<Planned> {
    let (actions, mut warnings) = diff(&graph, &live, &policy(stack, skip_final_snapshot))?;
    warnings.extend(graph.resources.iter().flat_map(|r| r.kind.ops().advice(r)));
    mark_duplicates(&mut live);
    for f in live.foreign() {
        warnings.push(format!(
            "{}; plan leaves it alone (destroy removes it if it is inside the stack's cluster)",
            describe_foreign(f)
        ));
    }
    let mut plan = Plan::new(
        &stack.meta.name,
        stack.meta.env.clone(),
        &stack.meta.region,
        actions,
        warnings,
    );
    plan.sleeping = is_asleep(&live);
    Ok(Planned { plan, graph, live })
}

/// Whether the stack carries the sleeping mark (`ekstack sleep`).
pub fn is_asleep(live: &LiveState) -> bool {
    live.of_kind::<crate::resources::vpc::Vpc>()
        .any(|v| v.observed.sleeping_since.is_some())
}

/// Whether two plans would do the same thing: the same actions on the same
/// resources with the same changes (reasons and notes aside).
pub fn same_actions(a: &Plan, b: &Plan) -> bool {
    let key = |p: &Plan| -> Vec<_> {
        p.actions
            .iter()
            .map(|x| {
                let changes: Vec<_> = x
                    .changes
                    .iter()
                    .map(|c| (c.attribute.clone(), c.after.clone()))
                    .collect();
                (x.address.clone(), x.id.clone(), x.action, changes)
            })
            .collect()
    };
    key(a) == key(b)
}
