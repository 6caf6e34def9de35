//! `plan`: desired graph against discovered live state.

use anyhow::Result;

use crate::aws::Aws;
use crate::config::Stack;
use crate::cost::{self, PriceTable};
use crate::graph::{self, Graph};
use crate::live::LiveState;
use crate::plan::{diff::diff, Plan};
use crate::resources::discover::{describe_foreign, discover};
use crate::resources::{Rules, TAG_SLEEPING};

/// A plan with the graph and live state it was made from, for apply.
#[derive(Debug, Clone)]
pub struct Planned {
    pub plan: Plan,
    pub graph: Graph,
    pub live: LiveState,
}

/// Reads live state and diffs the stack against it. Makes no mutating call.
pub async fn make_plan(aws: &Aws, stack: &Stack, skip_final_snapshot: bool) -> Result<Planned> {
    let graph = graph::build(stack);
    let live = discover(aws, &stack.meta.name, &stack.meta.region).await?;
    Ok(plan_against(stack, graph, live, skip_final_snapshot))
}

/// Adds what the stack will cost after apply and costs now.
pub fn with_cost(mut planned: Planned, stack: &Stack, prices: &PriceTable) -> Planned {
    let after_items = if stack.meta.asleep {
        cost::sleeping_billables(stack)
    } else {
        cost::stack_billables(stack)
    };
    let after = cost::estimate(&stack.meta.region, &after_items, prices);
    let current = cost::estimate(&stack.meta.region, &cost::live_billables(&planned.live), prices);
    planned.plan.cost = Some(cost::PlanCost::new(after, current));
    planned
}

/// The diff itself, for a graph and live state already in hand.
pub fn plan_against(stack: &Stack, graph: Graph, live: LiveState, skip_final_snapshot: bool) -> Planned {
    let rules = Rules {
        stack,
        skip_final_snapshot,
    };
    let (actions, mut warnings) = diff(&graph, &live, &rules);
    for f in &live.foreign {
        warnings.push(format!(
            "{}; plan leaves it alone (destroy removes it if it is inside the stack's cluster)",
            describe_foreign(f)
        ));
    }
    let mut actions = actions;
    explain_engine_family_change(&mut actions, &graph);
    let mut plan = Plan::new(
        &stack.meta.name,
        stack.meta.env.clone(),
        &stack.meta.region,
        actions,
        warnings,
    );
    plan.sleeping = live.resources.iter().any(|l| l.tags.contains_key(TAG_SLEEPING));
    Planned { plan, graph, live }
}

/// An RDS instance and an Aurora cluster are different resources, so moving
/// between them is a deletion and a creation; say so where it is deleted.
fn explain_engine_family_change(actions: &mut [crate::plan::ResourceAction], graph: &Graph) {
    use crate::graph::Kind;
    use crate::plan::Action;
    let to_aurora = graph.resources.iter().any(|r| r.kind == Kind::DbCluster);
    let to_instance = graph.resources.iter().any(|r| r.kind == Kind::DbInstance);
    for a in actions.iter_mut().filter(|a| a.action == Action::Delete) {
        let why = match a.kind {
            Kind::DbInstance if to_aurora => "replaced by db-cluster: an RDS instance cannot become Aurora in place",
            Kind::DbCluster if to_instance => {
                "replaced by db-instance: an Aurora cluster cannot become an RDS instance in place"
            }
            _ => continue,
        };
        a.reasons = vec![format!(
            "{why}; the data does not move by itself: restore the final snapshot into the new database, or migrate with a dump"
        )];
    }
}

/// Whether two plans would do the same thing: the same actions on the same
/// resources with the same changes (reasons and notes aside).
pub fn same_actions(a: &crate::plan::Plan, b: &crate::plan::Plan) -> bool {
    let key = |p: &crate::plan::Plan| -> Vec<serde_json::Value> {
        p.actions
            .iter()
            .map(|x| {
                let changes: Vec<_> = x.changes.iter().map(|c| (&c.attribute, &c.after)).collect();
                serde_json::json!([x.address, x.id, x.action, changes])
            })
            .collect()
    };
    key(a) == key(b)
}
