//! Turning a plan into steps, and running a step against AWS.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::{Node, Runner};
use crate::graph::{Graph, Kind, Resource};
use crate::live::{Live, LiveState, Readiness};
use crate::plan::{Action, Plan, ReplaceOrder, ResourceAction};
use crate::resources::{self, Ctx, Step};

/// What one step does.
#[derive(Debug, Clone)]
// A run has a few dozen steps; boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Work {
    /// Bring an address to its desired state: create, update, replace, or
    /// (no-op) wait out a pending state and make its id known to dependants.
    Ensure {
        resource: Resource,
        action: ResourceAction,
        live: Option<Live>,
    },
    /// Delete one live resource.
    Delete { live: Live },
    /// Remove what Kubernetes left in the VPC (load balancers, their security
    /// groups, detached ENIs) so the network can go.
    Sweep,
}

/// The concurrency group of a kind's steps: EKS allows one Fargate profile
/// per cluster to be creating or deleting at a time.
pub fn group_of(kind: Kind) -> Option<String> {
    (kind == Kind::EksFargateProfile).then(|| "fargate".to_string())
}

/// The step that deletes one live resource.
pub fn delete_node(live: Live, why: &str) -> Node<Work> {
    Node {
        key: delete_key(&live.address, &live.id),
        label: format!("delete {} ({}{why})", live.address, live.id),
        group: group_of(live.kind),
        deps: vec![],
        quiet: false,
        work: Work::Delete { live },
    }
}

/// The key of a delete step.
pub fn delete_key(address: &str, id: &str) -> String {
    format!("delete:{address}:{id}")
}

/// Steps for a plan. Creates and updates follow the desired graph's edges;
/// deletions follow them reversed: a resource goes only after everything of a
/// kind that may reference it has been deleted or updated away from it.
pub fn plan_steps(plan: &Plan, graph: &Graph, live: &LiveState) -> Vec<Node<Work>> {
    let live_by_id: HashMap<(&str, &str), &Live> = live
        .resources
        .iter()
        .chain(&live.foreign)
        .map(|l| ((l.address.as_str(), l.id.as_str()), l))
        .collect();
    let mut nodes: Vec<Node<Work>> = Vec::new();

    for a in &plan.actions {
        let current =
            a.id.as_deref()
                .and_then(|id| live_by_id.get(&(a.address.as_str(), id)).copied().cloned());
        match a.action {
            Action::Delete => {
                let Some(l) = current else { continue };
                nodes.push(delete_node(l, ""));
            }
            _ => {
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
                // A profile still CREATING (found on resume) holds the
                // cluster's one Fargate slot as much as one being created.
                let in_transition = a.action != Action::NoOp || a.pending.is_some();
                nodes.push(Node {
                    key: a.address.clone(),
                    label: format!("{verb} {}", a.address),
                    group: if in_transition { group_of(a.kind) } else { None },
                    deps: resource.deps.clone(),
                    quiet: a.action == Action::NoOp && a.pending.is_none(),
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
        }
    }
    order_deletions(&mut nodes);
    nodes
}

fn kind_of(n: &Node<Work>) -> Option<Kind> {
    match &n.work {
        Work::Ensure { resource, .. } => Some(resource.kind),
        Work::Delete { live } => Some(live.kind),
        Work::Sweep => None,
    }
}

/// Adds the reversed edges: each deletion waits for every step on a kind that
/// may reference the deleted kind. The sweep runs after EKS is gone and before
/// the network goes.
pub fn order_deletions(nodes: &mut [Node<Work>]) {
    let info: Vec<(String, Option<Kind>, bool)> = nodes
        .iter()
        .map(|n| (n.key.clone(), kind_of(n), matches!(n.work, Work::Delete { .. })))
        .collect();
    let sweep = nodes
        .iter()
        .find(|n| matches!(n.work, Work::Sweep))
        .map(|n| n.key.clone());
    for n in nodes.iter_mut() {
        match &n.work {
            Work::Delete { live } => {
                let referencing = live.kind.referenced_by();
                for (key, kind, _) in &info {
                    if key != &n.key && kind.is_some_and(|k| referencing.contains(&k)) {
                        n.deps.push(key.clone());
                    }
                }
                let network = live.kind.blocked_by_leftovers();
                if let (true, Some(s)) = (network, &sweep) {
                    n.deps.push(s.clone());
                }
            }
            Work::Sweep => {
                for (key, kind, is_delete) in &info {
                    if *is_delete
                        && matches!(
                            kind,
                            Some(Kind::EksCluster | Kind::EksNodegroup | Kind::EksFargateProfile)
                        )
                    {
                        n.deps.push(key.clone());
                    }
                }
            }
            Work::Ensure { .. } => {}
        }
    }
}

/// Runs steps against AWS.
pub struct AwsRunner {
    pub ctx: Arc<Ctx>,
}

impl Runner<Work> for AwsRunner {
    fn run(&self, node: &Node<Work>) -> BoxFuture<'static, anyhow::Result<()>> {
        let ctx = self.ctx.clone();
        let node = node.clone();
        async move {
            let step = Step {
                ctx: &ctx,
                node: &node.key,
            };
            match &node.work {
                Work::Ensure { resource, action, live } => ensure(&step, resource, action, live.as_ref()).await,
                Work::Delete { live } => {
                    resources::delete(&step, live).await?;
                    ctx.forget(&live.address, &live.id);
                    Ok(())
                }
                Work::Sweep => crate::ops::sweep::sweep(&step).await,
            }
        }
        .boxed()
    }
}

async fn ensure(step: &Step<'_>, r: &Resource, action: &ResourceAction, live: Option<&Live>) -> anyhow::Result<()> {
    let ctx = step.ctx;
    let result = match (action.action, live) {
        (Action::NoOp, Some(l)) if l.readiness == Readiness::Pending => resources::wait_ready(step, l).await?,
        (Action::NoOp, Some(l)) => l.clone(),
        (Action::Create, _) | (Action::NoOp, None) => resources::create(step, r).await?,
        (Action::Update, Some(l)) => {
            let l = if l.readiness == Readiness::Pending {
                resources::wait_ready(step, l).await?
            } else {
                l.clone()
            };
            resources::update(step, r, &l, action).await?
        }
        (Action::Replace, Some(l)) if action.replace_order == Some(ReplaceOrder::CreateBeforeDestroy) => {
            let name = resources::eks_nodegroup::replacement_name(r, &l.id);
            let created = resources::eks_nodegroup::create(step, r, &name).await?;
            resources::wait_ready(step, &created).await?
        }
        (Action::Replace, Some(l)) => {
            if l.readiness != Readiness::Deleting {
                resources::delete(step, l).await?;
            }
            ctx.forget(&l.address, &l.id);
            resources::create(step, r).await?
        }
        (Action::Update | Action::Replace, None) => resources::create(step, r).await?,
        (Action::Delete, _) => return Ok(()),
    };
    ctx.record(result);
    Ok(())
}
