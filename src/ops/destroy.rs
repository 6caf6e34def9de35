//! `destroy`: everything of the stack, in reverse dependency order, after a
//! preflight that refuses up front what AWS would refuse half way, and a
//! confirmation by the stack's name.

use anyhow::{bail, Result};

use super::apply::{run_steps, ApplyOptions, Ran};
use super::plan::policy;
use super::steps::{delete_node, order_deletions, sweep_node, Work};
use super::{Frontend, Prompt};
use crate::aws::{Aws, Target};
use crate::config::Stack;
use crate::exec::Node;
use crate::live::{Live, LiveState, Origin};
use crate::plan::{Action, Plan, ResourceAction};
use crate::resources::discover::{describe_foreign, discover};
use crate::resources::{eks_cluster, vpc};

/// What a destroy will delete.
#[derive(Debug, Clone)]
pub struct DestroyPlanned {
    pub plan: Plan,
    pub targets: Vec<Live>,
}

/// What `destroy` did.
#[derive(Debug)]
pub struct Destroyed {
    pub plan: Plan,
    /// `None` when nothing of the stack existed.
    pub ran: Option<Ran>,
}

/// `ekstack destroy`: deletes every resource of the stack.
pub async fn destroy(target: &Target, stack: &Stack, options: &ApplyOptions, ui: &dyn Frontend) -> Result<Destroyed> {
    let aws = super::connect(target).await?;
    let planned = plan_destroy(&aws, stack, options.skip_final_snapshot).await?;
    if planned.targets.is_empty() {
        return Ok(Destroyed {
            plan: planned.plan,
            ran: None,
        });
    }
    ui.show_plan(&planned.plan)?;
    preflight(&planned)?;
    if !ui.confirm(Prompt::Destroy {
        stack: &stack.meta.name,
    })? {
        bail!("destroy cancelled; nothing was deleted");
    }
    let ran = run_steps(&aws, stack, destroy_steps(&planned), options, ui).await?;
    // "Complete" only when a fresh look finds nothing of the stack left:
    // a delete AWS accepted is not yet a resource gone.
    let after = discover(&aws, &stack.meta.name, &stack.meta.region).await?;
    let left: Vec<String> = after
        .ours()
        .map(|l| format!("{} {} ({}, {})", l.kind, l.id, l.address, l.state))
        .collect();
    if !left.is_empty() {
        bail!(
            "destroy did not finish: {} resource(s) of stack \"{}\" still exist:\n  {}\nThey keep billing. Run `{}` again; if they stay, delete them in the console.",
            left.len(),
            stack.meta.name,
            left.join("\n  "),
            options.resume
        );
    }
    Ok(Destroyed {
        plan: planned.plan,
        ran: Some(ran),
    })
}

pub async fn plan_destroy(aws: &Aws, stack: &Stack, skip_final_snapshot: bool) -> Result<DestroyPlanned> {
    let live = discover(aws, &stack.meta.name, &stack.meta.region).await?;
    Ok(destroy_against(stack, live, skip_final_snapshot))
}

pub fn destroy_against(stack: &Stack, live: LiveState, skip_final_snapshot: bool) -> DestroyPlanned {
    let policy = policy(stack, skip_final_snapshot);
    let mut warnings = Vec::new();
    let mut targets: Vec<Live> = Vec::new();
    for l in live.resources {
        // What other tools added under a parent of the stack (node groups
        // in its cluster) must go before the parent can; anything else
        // foreign is left alone.
        let inside_ours = l.kind.ops().parent().is_some();
        match l.origin {
            Origin::Foreign if inside_ours => {
                warnings.push(format!(
                    "{} {} was not made by ekstack but lives in the stack's cluster; it is deleted with it",
                    l.kind, l.id
                ));
                targets.push(l);
            }
            Origin::Foreign => warnings.push(format!("{}; left alone", describe_foreign(&l))),
            _ => targets.push(l),
        }
    }
    let actions = targets
        .iter()
        .map(|l| {
            let mut a = ResourceAction::new(&l.address, l.kind, Action::Delete, l.display_name());
            a.id = Some(l.id.clone());
            a.data_loss = l.kind.ops().data_loss(&l.id, Some(l), &policy);
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
    if let Some(b) = planned.targets.iter().find_map(|l| l.kind.ops().deletion_blocker(l)) {
        bail!(
            "{}, so AWS would refuse to delete it.\nNothing was deleted. To go ahead, {}, then destroy again.",
            b.reason,
            b.way_out
        );
    }
    Ok(())
}

/// The steps of a destroy: one deletion per resource, plus the sweep of
/// what Kubernetes left in the VPC when there is a VPC to sweep.
pub fn destroy_steps(planned: &DestroyPlanned) -> Vec<Node<Work>> {
    let mut nodes: Vec<Node<Work>> = planned.targets.iter().map(|l| delete_node(l.clone(), "")).collect();
    let vpc = planned.targets.iter().find(|l| l.address == vpc::ADDRESS);
    if let Some(vpc) = vpc {
        let cluster = planned
            .targets
            .iter()
            .find(|l| l.address == eks_cluster::ADDRESS)
            .map(|c| c.id.clone())
            .unwrap_or_else(|| planned.plan.stack.clone());
        nodes.push(sweep_node(&vpc.id, &cluster));
    }
    order_deletions(&mut nodes);
    nodes
}
