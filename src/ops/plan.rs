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
pub async fn placed(aws: &Aws, stack: &Stack, live: &mut LiveState) -> Result<Stack> {
    let (zones, account, offered) = tokio::try_join!(
        super::facts::zones(aws),
        super::facts::account(aws),
        super::facts::addon_versions(aws, stack)
    )?;
    let mut stack = super::facts::place_azs(stack, &zones, live)?;
    stack.meta.account = Some(account);
    super::facts::given_network(aws, &mut stack, live).await?;
    super::facts::resolve_addons(&mut stack, &offered, live)?;
    super::facts::resolve_parameters(aws, &mut stack).await?;
    super::facts::check_migration(&stack, live)?;
    super::facts::sleep_snapshot(aws, &mut stack, live).await?;
    Ok(stack)
}

/// Whether deleting the database takes a final snapshot: unless the file
/// says `final_snapshot = false` or the command `--skip-final-snapshot`.
pub fn policy(stack: &Stack, skip_final_snapshot: bool) -> Policy {
    Policy {
        final_snapshot: stack.database.as_ref().map(|d| d.final_snapshot).unwrap_or(true) && !skip_final_snapshot,
        finish_migration: stack.meta.finish_migration,
        delete_images: stack.meta.delete_images,
        sleep_snapshot: stack
            .database_parked()
            .then(|| stack.meta.sleep_snapshot.as_ref().map(|s| s.name.clone()))
            .flatten(),
        sleeping: stack.meta.asleep,
    }
}

/// `ekstack plan`: reads live state and diffs the stack against it, priced.
/// Makes no mutating call.
pub async fn plan(target: &Target, stack: &Stack, prices: &PriceTable) -> Result<Planned> {
    let aws = super::connect(target).await?;
    let (planned, held) = tokio::try_join!(
        make_plan(&aws, stack, false),
        super::lock::holder(&aws, &stack.meta.name, &stack.meta.region)
    )?;
    let mut planned = with_cost(planned, stack, prices);
    // plan takes no lock, but says when a change may be under way.
    if let Some(h) = held {
        planned.plan.warnings.push(format!(
            "the stack is locked by {}: live state may change while it runs",
            h.describe()
        ));
    }
    Ok(planned)
}

/// Reads live state and diffs the stack against it. Makes no mutating call.
pub async fn make_plan(aws: &Aws, stack: &Stack, skip_final_snapshot: bool) -> Result<Planned> {
    let mut live = discover(aws, &stack.meta.name, &stack.meta.region).await?;
    let stack = placed(aws, stack, &mut live).await?;
    let graph = graph::build(&stack)?;
    let mut planned = plan_against(&stack, graph, live, skip_final_snapshot)?;
    let quotas = super::quotas::check(aws, &planned.plan, &planned.graph).await?;
    planned.plan.quota_shortfalls = quotas.shortfalls;
    planned.plan.warnings.extend(quotas.warnings);
    Ok(planned)
}

/// Adds what the stack will cost after apply and costs now.
pub fn with_cost(mut planned: Planned, stack: &Stack, prices: &PriceTable) -> Planned {
    let mut billed = cost::desired_billables(&planned.graph);
    billed.extend(price_kept(&mut planned, &stack.meta.region, prices));
    let mut live_billed = cost::live_billables(&planned.live);
    // A deep sleep's snapshot bills while the database is absent: after a
    // sleep that takes it, and now if one holds the database.
    let snapshot = || {
        let gib = stack.database.as_ref().and_then(|d| d.storage_gib).unwrap_or(20);
        let billable = cost::Billable::Snapshot {
            gib: u32::try_from(gib).unwrap_or(0),
        };
        ("database sleep snapshot".to_string(), billable)
    };
    if stack.database_parked() {
        billed.push(snapshot());
    }
    let holds_database = planned.plan.sleep.as_ref().is_some_and(|s| s.mark.snapshot.is_some())
        && crate::resources::rds::database_running(&planned.live).is_none();
    if holds_database {
        live_billed.push(snapshot());
    }
    let after = cost::estimate(&stack.meta.region, &billed, prices);
    let current = cost::estimate(&stack.meta.region, &live_billed, prices);
    planned.plan.cost = Some(cost::PlanCost::new(after, current));
    planned
}

/// What the resources a plan keeps (a migration's old database) bill: they
/// go on billing after apply, and their notes say how much a month.
pub fn price_kept(planned: &mut Planned, region: &str, prices: &PriceTable) -> Vec<(String, cost::Billable)> {
    let mut billed = Vec::new();
    for a in planned.plan.actions.iter_mut().filter(|a| a.kept.is_some()) {
        let Some(l) = planned
            .live
            .resources
            .iter()
            .find(|l| Some(&l.id) == a.id.as_ref() && l.kind == a.kind)
        else {
            continue;
        };
        let bills: Vec<_> = l
            .kind
            .ops()
            .live_billables(l, &planned.live)
            .into_iter()
            .map(|b| (a.address.clone(), b))
            .collect();
        if bills.is_empty() {
            continue;
        }
        let monthly = cost::estimate(region, &bills, prices).monthly_usd;
        if let (Some(why), Some(note)) = (a.kept.as_mut(), a.notes.last_mut()) {
            *why = match why.split_once("; ") {
                Some((what, then)) => format!("{what}, ${monthly:.2}/month; {then}"),
                None => format!("{why}, ${monthly:.2}/month"),
            };
            *note = why.clone();
        }
        billed.extend(bills);
    }
    billed
}

/// The diff itself, for a graph and live state already in hand.
pub fn plan_against(stack: &Stack, graph: Graph, mut live: LiveState, skip_final_snapshot: bool) -> Result<Planned> {
    let (actions, mut warnings) = diff(&graph, &live, &policy(stack, skip_final_snapshot))?;
    warnings.extend(graph.resources.iter().flat_map(|r| r.kind.ops().advice(r)));
    // A given subnet without its load balancer tag is only tagged when asked.
    if !stack.meta.tag_subnets {
        for s in stack
            .network
            .given
            .iter()
            .flat_map(|g| &g.subnets)
            .filter(|s| !s.lb_tag)
        {
            let tier = if s.public {
                crate::resources::subnet::Tier::Public
            } else {
                crate::resources::subnet::Tier::Private
            };
            warnings.push(format!(
                "given subnet {} lacks the load balancer tag {}: Kubernetes will not put {} load balancers there. `--tag-subnets` adds it (and destroy leaves it)",
                s.id,
                crate::resources::subnet::load_balancer_tag(tier),
                if s.public { "internet-facing" } else { "internal" }
            ));
        }
    }
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
    plan.sleep = asleep(&live);
    plan.sleeping = plan.sleep.is_some();
    Ok(Planned { plan, graph, live })
}

/// Whether the stack carries the sleeping mark (`ekstack sleep`).
pub fn is_asleep(live: &LiveState) -> bool {
    crate::resources::sleep_mark::is_asleep(live)
}

/// How the stack sleeps, if it does: the mark, and whether AWS has
/// started the stopped database again since.
pub fn asleep(live: &LiveState) -> Option<crate::plan::Asleep> {
    let mark = crate::resources::sleep_mark::read(live)?;
    let database_restarted =
        mark.database_restarts.is_some() && crate::resources::rds::database_running(live) == Some(true);
    Some(crate::plan::Asleep {
        mark,
        database_restarted,
    })
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
