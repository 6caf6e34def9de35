//! `destroy`: everything of the stack, in reverse dependency order, after a
//! preflight that refuses up front what AWS would refuse half way.

use std::collections::HashMap;

use anyhow::{bail, Result};
use tokio::sync::mpsc;

use super::apply::{run_steps, ApplyOptions, Outcome};
use crate::aws::Aws;
use crate::config::Stack;
use crate::exec::steps::{delete_node, order_deletions, Work};
use crate::exec::{EventSender, Node};
use crate::graph::Kind;
use crate::live::{Live, LiveState};
use crate::plan::diff::KindRules;
use crate::plan::{Action, Plan, ResourceAction};
use crate::resources::discover::{describe_foreign, discover};
use crate::resources::Rules;

/// What a destroy will delete.
#[derive(Debug, Clone)]
pub struct DestroyPlanned {
    pub plan: Plan,
    pub targets: Vec<Live>,
}

pub async fn plan_destroy(aws: &Aws, stack: &Stack, skip_final_snapshot: bool) -> Result<DestroyPlanned> {
    let live = discover(aws, &stack.meta.name, &stack.meta.region).await?;
    Ok(destroy_against(stack, live, skip_final_snapshot))
}

pub fn destroy_against(stack: &Stack, live: LiveState, skip_final_snapshot: bool) -> DestroyPlanned {
    let rules = Rules {
        stack,
        skip_final_snapshot,
    };
    let cluster_is_ours = live.resources.iter().any(|l| l.kind == Kind::EksCluster);
    let mut warnings = Vec::new();
    let mut targets: Vec<Live> = live.resources;
    for f in live.foreign {
        // Node groups and profiles other tools added to the stack's cluster
        // must go before the cluster can.
        if cluster_is_ours && matches!(f.kind, Kind::EksNodegroup | Kind::EksFargateProfile) {
            warnings.push(format!(
                "{} {} was not made by ekstack but lives in the stack's cluster; it is deleted with it",
                f.kind, f.id
            ));
            targets.push(f);
        } else {
            warnings.push(format!("{}; left alone", describe_foreign(&f)));
        }
    }
    let actions = targets
        .iter()
        .map(|l| {
            let mut a = ResourceAction::new(
                &l.address,
                l.kind,
                Action::Delete,
                l.tags.get("Name").cloned().unwrap_or_else(|| l.id.clone()),
            );
            a.id = Some(l.id.clone());
            a.data_loss = rules.data_loss(l.kind, &l.id, Some(l));
            a
        })
        .collect();
    DestroyPlanned {
        plan: Plan::new(
            &stack.meta.name,
            stack.meta.env.clone(),
            &stack.meta.region,
            actions,
            warnings,
        ),
        targets,
    }
}

/// Stops the destroy before anything is deleted if AWS would refuse part of
/// it: a database with deletion protection.
pub fn preflight(planned: &DestroyPlanned) -> Result<()> {
    let protected: Vec<&Live> = planned
        .targets
        .iter()
        .filter(|l| matches!(l.kind, Kind::DbInstance | Kind::DbCluster))
        .filter(|l| l.attrs.get("deletion_protection") == Some(&serde_json::Value::Bool(true)))
        .collect();
    if let Some(db) = protected.first() {
        bail!(
            "database {} has deletion protection on, so AWS would refuse to delete it.\nNothing was deleted. Turn the protection off first: set `database.deletion_protection = false` (in the stack file or the environment), run `ekstack apply`, then destroy again.",
            db.id
        );
    }
    Ok(())
}

/// The steps of a destroy: one deletion per resource plus the sweep of what
/// Kubernetes left in the VPC.
pub fn destroy_steps(planned: &DestroyPlanned) -> Vec<Node<Work>> {
    let mut nodes: Vec<Node<Work>> = planned.targets.iter().map(|l| delete_node(l.clone(), "")).collect();
    if planned.targets.iter().any(|l| l.kind == Kind::Vpc) {
        nodes.push(Node {
            key: "sweep".into(),
            label: "sweep what Kubernetes left in the VPC".into(),
            group: None,
            deps: vec![],
            quiet: false,
            work: Work::Sweep,
        });
    }
    order_deletions(&mut nodes);
    nodes
}

pub async fn execute(
    aws: Aws,
    stack: Stack,
    planned: &DestroyPlanned,
    options: &ApplyOptions,
    events: EventSender,
    interrupt: mpsc::UnboundedReceiver<()>,
) -> Result<Outcome> {
    preflight(planned)?;
    let nodes = destroy_steps(planned);
    let known: HashMap<String, Live> = planned.targets.iter().map(|l| (l.address.clone(), l.clone())).collect();
    Ok(run_steps(aws, stack, nodes, known, options, events, interrupt).await)
}
