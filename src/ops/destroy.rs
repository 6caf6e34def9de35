//! `destroy`: everything of the stack, in reverse dependency order, after a
//! preflight that refuses up front what AWS would refuse half way, and a
//! confirmation by the stack's name.

use anyhow::{bail, Result};

use super::apply::{run_steps, ApplyOptions, Ran};
use super::plan::policy;
use super::steps::{delete_node, order_deletions, sweep_node, Work};
use super::sweep::Scope;
use super::{Frontend, Prompt};
use crate::aws::errors::AwsResultExt;
use crate::aws::{Aws, Target};
use crate::config::Stack;
use crate::cost::{self, PriceTable};
use crate::exec::Node;
use crate::live::{Live, LiveState, Origin};
use crate::plan::{Action, Plan, ResourceAction};
use crate::resources::discover::{describe_foreign, discover};
use crate::resources::{eks_cluster, gone_ok, vpc, Discovery, Kind, Remains};

/// What a destroy will delete.
#[derive(Debug, Clone)]
pub struct DestroyPlanned {
    pub plan: Plan,
    pub targets: Vec<Live>,
    /// A VPC the stack was given: swept only of what its cluster left.
    pub given_vpc: Option<String>,
}

/// What `destroy` did.
#[derive(Debug)]
pub struct Destroyed {
    pub plan: Plan,
    /// `None` when nothing of the stack existed.
    pub ran: Option<Ran>,
    /// What stays on purpose and still bills, as a fresh look found it.
    pub kept: Vec<Kept>,
    /// EBS volumes of the cluster's persistent volumes deleted
    /// (`--delete-volumes`): id and GiB.
    pub volumes_deleted: Vec<(String, i32)>,
    /// ECR repositories an earlier destroy kept, deleted with their images
    /// (`--delete-images`): name and bytes.
    pub repositories_deleted: Vec<(String, u64)>,
}

/// One thing a destroy leaves on purpose, with what it costs.
#[derive(Debug, Clone)]
pub struct Kept {
    pub remains: Remains,
    /// `None` when the price table has no price for it.
    pub monthly_usd: Option<f64>,
}

/// `ekstack destroy`: deletes every resource of the stack.
pub async fn destroy(
    target: &Target,
    stack: &Stack,
    prices: &PriceTable,
    options: &ApplyOptions,
    ui: &dyn Frontend,
) -> Result<Destroyed> {
    let aws = super::connect(target).await?;
    let (name, region) = (&stack.meta.name, &stack.meta.region);
    let work = destroy_locked(&aws, stack, prices, options, ui);
    super::lock::with_lock(&aws, name, region, &options.resume, options.lock_timeout, work).await
}

/// [`destroy`] once the stack's lock is held.
async fn destroy_locked(
    aws: &Aws,
    stack: &Stack,
    prices: &PriceTable,
    options: &ApplyOptions,
    ui: &dyn Frontend,
) -> Result<Destroyed> {
    let planned = plan_destroy(aws, stack, options.skip_final_snapshot).await?;
    if planned.targets.is_empty() {
        // A destroy run again with --delete-volumes still removes the
        // volumes the first one kept.
        let volumes_deleted = delete_volumes(aws, stack, options).await?;
        let repositories_deleted = delete_kept_repositories(aws, stack, options).await?;
        return Ok(Destroyed {
            plan: planned.plan,
            ran: None,
            kept: kept(aws, stack, prices).await?,
            volumes_deleted,
            repositories_deleted,
        });
    }
    ui.show_plan(&planned.plan)?;
    preflight(&planned)?;
    if !ui.confirm(Prompt::Destroy {
        stack: &stack.meta.name,
    })? {
        bail!("destroy cancelled; nothing was deleted");
    }
    let ran = run_steps(aws, stack, destroy_steps(&planned), options, ui).await?;
    // "Complete" only when a fresh look finds nothing of the stack left:
    // a delete AWS accepted is not yet a resource gone.
    let after = discover(aws, &stack.meta.name, &stack.meta.region).await?;
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
    let volumes_deleted = delete_volumes(aws, stack, options).await?;
    let repositories_deleted = delete_kept_repositories(aws, stack, options).await?;
    Ok(Destroyed {
        plan: planned.plan,
        ran: Some(ran),
        kept: kept(aws, stack, prices).await?,
        volumes_deleted,
        repositories_deleted,
    })
}

/// With `--delete-images`: the ECR repositories an earlier destroy kept
/// for their images, deleted with them.
async fn delete_kept_repositories(aws: &Aws, stack: &Stack, options: &ApplyOptions) -> Result<Vec<(String, u64)>> {
    if !options.run.delete_images {
        return Ok(Vec::new());
    }
    crate::resources::ecr_repository::delete_kept(aws, &stack.meta.name).await
}

/// With `--delete-volumes`: the EBS volumes a tag ties to the stack's
/// cluster and nothing uses. (Volumes the EBS CSI driver made without
/// naming a cluster are only listed: they may be another cluster's.)
async fn delete_volumes(aws: &Aws, stack: &Stack, options: &ApplyOptions) -> Result<Vec<(String, i32)>> {
    if !options.run.delete_volumes {
        return Ok(Vec::new());
    }
    let mut deleted = Vec::new();
    for v in eks_cluster::volumes(aws, &stack.meta.name).await? {
        if v.named && v.available {
            gone_ok(
                aws.ec2
                    .delete_volume()
                    .volume_id(&v.id)
                    .send()
                    .await
                    .aws_on("ec2:DeleteVolume", &v.id),
            )?;
            deleted.push((v.id, v.gib));
        }
    }
    Ok(deleted)
}

/// What each kind leaves on purpose (snapshots, retained backups, volumes),
/// priced.
pub async fn kept(aws: &Aws, stack: &Stack, prices: &PriceTable) -> Result<Vec<Kept>> {
    let cx = &Discovery {
        aws,
        stack: &stack.meta.name,
        region: &stack.meta.region,
    };
    let found = futures_util::future::try_join_all(Kind::all().map(|k| k.ops().remains(cx))).await?;
    Ok(found
        .into_iter()
        .flatten()
        .map(|remains| {
            let priced = cost::estimate(
                &stack.meta.region,
                &[(remains.what.clone(), remains.billable.clone())],
                prices,
            );
            Kept {
                monthly_usd: priced.lines.first().and_then(|l| l.monthly_usd),
                remains,
            }
        })
        .collect())
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
            // What the stack was given is never deleted.
            Origin::Given => {}
            _ => targets.push(l),
        }
    }
    let nothing_desired = crate::graph::Graph::default();
    let all = LiveState {
        resources: targets.clone(),
    };
    let actions = targets
        .iter()
        .map(|l| {
            let mut a = ResourceAction::new(&l.address, l.kind, Action::Delete, l.display_name());
            a.id = Some(l.id.clone());
            a.data_loss = l.kind.ops().data_loss(&l.id, Some(l), &policy);
            // What holds data it may not lose (a repository's images) is
            // released from the stack rather than deleted, and listed.
            a.kept = l.kind.ops().kept(l, &nothing_desired, &all, &policy);
            a.notes.extend(a.kept.clone());
            a
        })
        .collect();
    DestroyPlanned {
        given_vpc: stack.network.given.as_ref().map(|g| g.vpc_id.clone()),
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
        nodes.push(sweep_node(&vpc.id, Scope::Vpc));
    } else if let (Some(vpc), Some(cluster)) = (
        &planned.given_vpc,
        planned.targets.iter().find(|l| l.address == eks_cluster::ADDRESS),
    ) {
        nodes.push(sweep_node(vpc, Scope::Cluster(cluster.id.clone())));
    }
    order_deletions(&mut nodes);
    nodes
}
