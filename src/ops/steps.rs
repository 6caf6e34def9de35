//! Turning a plan into steps for the dispatcher, and running one step
//! against AWS through its kind.
//!
//! Creates and updates follow the desired graph's edges. Deletions follow
//! them reversed, as terraform's destroy does, from what live resources
//! actually point at: a resource goes only after everything that points at
//! it is deleted or updated away from it. The sweep of what Kubernetes left
//! runs after the kinds that leave things and before those it blocks.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Result;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use crate::exec::{Node, Runner};
use crate::graph::{Graph, Resource};
use crate::live::{Live, LiveState, Origin, Readiness};
use crate::plan::{Action, Change, Plan, ReplaceOrder, ResourceAction};
use crate::resources::{Ctx, Inputs, Leftovers, Step};

/// What one step does.
#[derive(Debug, Clone)]
// A run has a few dozen steps; boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Work {
    /// Bring an address to its desired state: create, update, replace, or
    /// (no-op) wait out a pending state and hand its record to dependants.
    Ensure {
        resource: Resource,
        action: ResourceAction,
        live: Option<Live>,
    },
    /// Delete one live resource.
    Delete { live: Live },
    /// Remove what Kubernetes left in the VPC (load balancers, their security
    /// groups, detached ENIs) so the network can go.
    Sweep { vpc: String, scope: super::sweep::Scope },
}

/// What a step hands on: the live record it brought about, if any.
pub type Output = Option<Live>;

/// The key of the sweep step.
pub const SWEEP: &str = "sweep";

/// The step that deletes one live resource.
pub fn delete_node(live: Live, why: &str) -> Node<Work> {
    Node {
        key: delete_key(&live.address, &live.id),
        label: format!("delete {} ({}{why})", live.address, live.id),
        group: live.kind.ops().concurrency_group().map(str::to_string),
        deps: vec![],
        quiet: false,
        expected: live.kind.ops().usual(crate::resources::Verb::Delete, None),
        work: Work::Delete { live },
    }
}

/// The key of a delete step.
pub fn delete_key(address: &str, id: &str) -> String {
    format!("delete:{address}:{id}")
}

/// The sweep step, for a VPC, within `scope`.
pub fn sweep_node(vpc: &str, scope: super::sweep::Scope) -> Node<Work> {
    Node {
        key: SWEEP.into(),
        label: "sweep what Kubernetes left in the VPC".into(),
        group: None,
        deps: vec![],
        quiet: false,
        expected: None,
        work: Work::Sweep { vpc: vpc.into(), scope },
    }
}

/// Steps for a plan, ordered; with `sweep`, the sweep of what the deleted
/// cluster left in the VPC (a deep sleep's).
pub fn plan_steps(
    plan: &Plan,
    graph: &Graph,
    live: &LiveState,
    sweep: Option<(String, super::sweep::Scope)>,
) -> Vec<Node<Work>> {
    let live_by_id: HashMap<(&str, &str), &Live> = live
        .resources
        .iter()
        .map(|l| ((l.address.as_str(), l.id.as_str()), l))
        .collect();
    let mut nodes: Vec<Node<Work>> = Vec::new();

    for a in &plan.actions {
        let current =
            a.id.as_deref()
                .and_then(|id| live_by_id.get(&(a.address.as_str(), id)).copied().cloned());
        if a.action == Action::Delete {
            if let Some(l) = current {
                nodes.push(delete_node(l, ""));
            }
            continue;
        }
        let Some(resource) = graph.get(&a.address) else {
            continue;
        };
        let verb = match a.action {
            Action::NoOp if a.pending.is_some() => "wait for",
            Action::NoOp => "read",
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
        };
        // A profile still CREATING (found on resume) holds the cluster's one
        // Fargate slot as much as one being created.
        let in_transition = a.action != Action::NoOp || a.pending.is_some();
        let group = resource.kind.ops().concurrency_group().filter(|_| in_transition);
        nodes.push(Node {
            key: a.address.clone(),
            label: format!("{verb} {}", a.address),
            group: group.map(str::to_string),
            deps: resource.deps().cloned().collect(),
            quiet: a.action == Action::NoOp && a.pending.is_none(),
            expected: match a.action {
                Action::Create | Action::Replace => resource
                    .kind
                    .ops()
                    .usual(crate::resources::Verb::Create, Some(resource)),
                Action::Update => resource
                    .kind
                    .ops()
                    .usual(crate::resources::Verb::Update, Some(resource)),
                Action::NoOp | Action::Delete => None,
            },
            work: Work::Ensure {
                resource: resource.clone(),
                action: a.clone(),
                live: current.clone(),
            },
        });
        // A replacement made before the old one goes: the old one is
        // deleted once the new one is ready.
        if a.action.is_replace() && a.replace_order == Some(ReplaceOrder::CreateBeforeDestroy) {
            if let Some(old) = current {
                let mut node = delete_node(old, ", replaced");
                node.deps.push(a.address.clone());
                nodes.push(node);
            }
        }
    }
    if let Some((vpc, scope)) = sweep {
        nodes.push(sweep_node(&vpc, scope));
    }
    order_deletions(&mut nodes);
    nodes
}

/// The live record a step works on, if any.
fn live_of(n: &Node<Work>) -> Option<&Live> {
    match &n.work {
        Work::Ensure { live, .. } => live.as_ref(),
        Work::Delete { live } => Some(live),
        Work::Sweep { .. } => None,
    }
}

/// Adds the reversed edges: each deletion waits for every step on a live
/// resource that points at the one deleted, and for steps on the kinds its
/// kind says must go first; an update waits for the deletions its kind says
/// must come first, of resources pointing at it; the sweep waits for
/// deletions of the kinds that leave things behind, and deletions of the
/// kinds it unblocks wait for it.
pub fn order_deletions(nodes: &mut [Node<Work>]) {
    let info: Vec<(String, Option<Live>, bool)> = nodes
        .iter()
        .map(|n| {
            (
                n.key.clone(),
                live_of(n).cloned(),
                matches!(n.work, Work::Delete { .. }),
            )
        })
        .collect();
    let sweep = nodes.iter().any(|n| n.key == SWEEP);
    for n in nodes.iter_mut() {
        match &n.work {
            Work::Delete { live } => {
                let ops = live.kind.ops();
                for (key, other, other_deleted) in &info {
                    let Some(other) = other else { continue };
                    if *key == n.key {
                        continue;
                    }
                    let outlived = *other_deleted && ops.outlived_by_pointers_from().contains(&other.kind);
                    if (other.refers_to(live) && !outlived) || ops.delete_after().contains(&other.kind) {
                        n.deps.push(key.clone());
                    }
                }
                if sweep && ops.leftovers() == Leftovers::BlockedBy {
                    n.deps.push(SWEEP.into());
                }
            }
            Work::Sweep { .. } => {
                for (key, other, is_delete) in &info {
                    if *is_delete
                        && other
                            .as_ref()
                            .is_some_and(|l| l.kind.ops().leftovers() == Leftovers::Leaves)
                    {
                        n.deps.push(key.clone());
                    }
                }
            }
            Work::Ensure { live: Some(me), .. } => {
                let first = me.kind.ops().update_after_deleting();
                for (key, other, is_delete) in &info {
                    if *is_delete
                        && other
                            .as_ref()
                            .is_some_and(|o| first.contains(&o.kind) && o.refers_to(me))
                    {
                        n.deps.push(key.clone());
                    }
                }
            }
            Work::Ensure { live: None, .. } => {}
        }
    }
}

/// Runs steps against AWS.
pub struct AwsRunner {
    pub ctx: Arc<Ctx>,
}

impl Runner<Work, Output> for AwsRunner {
    fn run(&self, node: &Node<Work>, inputs: Vec<Output>) -> BoxFuture<'static, Result<Output>> {
        let ctx = self.ctx.clone();
        let node = node.clone();
        async move {
            let step = Step {
                ctx: &ctx,
                node: &node.key,
                expected: node.expected.as_ref(),
                started: tokio::time::Instant::now(),
            };
            let inputs = Inputs::new(inputs.into_iter().flatten());
            match &node.work {
                Work::Ensure { resource, action, live } => {
                    ensure(&step, resource, action, live.as_ref(), &inputs).await.map(Some)
                }
                Work::Delete { live } => {
                    live.kind.ops().delete(&step, live).await?;
                    Ok(None)
                }
                Work::Sweep { vpc, scope } => {
                    super::sweep::sweep(&step, vpc, scope).await?;
                    Ok(None)
                }
            }
        }
        .boxed()
    }
}

async fn ensure(
    step: &Step<'_>,
    r: &Resource,
    action: &ResourceAction,
    live: Option<&Live>,
    inputs: &Inputs,
) -> Result<Live> {
    let ops = r.kind.ops();
    match (action.action, live) {
        (Action::NoOp, Some(l)) if l.readiness == Readiness::Pending => ops.wait_ready(step, l).await,
        (Action::NoOp, Some(l)) => Ok(l.clone()),
        (Action::Create, _) | (Action::NoOp, None) => create(step, r, &r.name, inputs).await,
        (Action::Update, Some(l)) => {
            let l = if l.readiness == Readiness::Pending {
                ops.wait_ready(step, l).await?
            } else {
                l.clone()
            };
            update(step, r, &l, &action.changes, inputs).await
        }
        (Action::Replace, Some(l)) if action.replace_order == Some(ReplaceOrder::CreateBeforeDestroy) => {
            let name = ops.replacement_name(r, l)?;
            create(step, r, &name, inputs).await
        }
        (Action::Replace, Some(l)) => {
            if l.readiness != Readiness::Deleting {
                ops.delete(step, l).await?;
            }
            create(step, r, &r.name, inputs).await
        }
        (Action::Update | Action::Replace, None) => create(step, r, &r.name, inputs).await,
        (Action::Delete, _) => anyhow::bail!("internal error: {} is a deletion, not an ensure step", r.address),
    }
}

/// Creates a resource and waits until it is usable. One found instead of
/// made (its create's answer was lost) may lack what the steps after the
/// create call would have done: an attachment, a route, rules. It is
/// compared with the file and the in-place changes are made.
async fn create(step: &Step<'_>, r: &Resource, name: &str, inputs: &Inputs) -> Result<Live> {
    let ops = r.kind.ops();
    let mut live = ops.create(step, r, name, inputs).await?;
    if live.origin != Origin::Adopted {
        return ops.wait_ready(step, &live).await;
    }
    live.origin = Origin::Ours;
    let comparison = ops.compare(r, Some(&live), inputs)?;
    let in_place: Vec<Change> = comparison
        .changes
        .into_iter()
        .filter(|c| !c.forces_replacement)
        .collect();
    if in_place.is_empty() {
        return ops.wait_ready(step, &live).await;
    }
    update(step, r, &live, &in_place, inputs).await
}

/// Makes the in-place changes of an update, then waits until usable.
async fn update(step: &Step<'_>, r: &Resource, live: &Live, changes: &[Change], inputs: &Inputs) -> Result<Live> {
    let ops = r.kind.ops();
    let names: Vec<&str> = changes.iter().map(|c| c.attribute.as_str()).collect();
    let updated = ops.update(step, r, live, &names, inputs).await?;
    // A database put to sleep has settled as stopped; nothing more to wait for.
    if updated.readiness == Readiness::Stopped {
        return Ok(updated);
    }
    ops.wait_ready(step, &updated).await
}
