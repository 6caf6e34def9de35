//! The sweep before the network goes: what Kubernetes and AWS made inside the
//! stack's VPC that ekstack did not. This is where eksctl and terraform
//! teardowns stop with DependencyViolation and leave load balancers billing.
//!
//! In order: load balancers (ELBv2 and classic) in the VPC, waited for until
//! gone (their network interfaces hold the subnets), their target groups,
//! security groups left in the VPC by the load balancer controller, EKS or
//! anything else (the VPC cannot be deleted while they exist), detached
//! network interfaces left by the VPC CNI. (EBS volumes made for persistent
//! volumes are not in the VPC: the destroy deals with them at its end.)

use std::time::Duration;

use anyhow::{bail, Result};
use aws_sdk_ec2::types::Filter;

use crate::aws::errors::AwsResultExt;
use crate::resources::security_group::delete_group;
use crate::resources::{gone_ok, Note, Step, TAG_STACK};

/// How long load balancers may take to disappear.
const LOAD_BALANCER_PATIENCE: Duration = Duration::from_secs(10 * 60);

/// What a sweep may remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The stack's own VPC: whatever is left in it.
    Vpc,
    /// A VPC the stack was given (`network.vpc_id`): only what the stack's
    /// cluster (named here) left, by the tags Kubernetes, the load balancer
    /// controller, EKS and the VPC CNI put on what they make. Everything
    /// else in that VPC is someone else's.
    Cluster(String),
}

impl Scope {
    /// Whether tags say the cluster made it.
    fn covers<'a>(&self, mut tags: impl Iterator<Item = (&'a str, &'a str)>) -> bool {
        match self {
            Scope::Vpc => true,
            Scope::Cluster(name) => {
                let owned = format!("kubernetes.io/cluster/{name}");
                tags.any(|(k, v)| {
                    k == owned
                        || (k == "elbv2.k8s.aws/cluster" && v == name)
                        || (k == "aws:eks:cluster-name" && v == name)
                        || (k == "cluster.k8s.amazonaws.com/name" && v == name)
                })
            }
        }
    }
}

/// Sweeps the VPC `vpc`, within `scope`.
pub async fn sweep(step: &Step<'_>, vpc: &str, scope: &Scope) -> Result<()> {
    load_balancers(step, vpc, scope).await?;
    classic_load_balancers(step, vpc, scope).await?;
    wait_for_load_balancers(step, vpc, scope).await?;
    target_groups(step, vpc, scope).await?;
    security_groups(step, vpc, scope).await?;
    network_interfaces(step, vpc, scope).await?;
    Ok(())
}

/// Of ELBv2 resources (load balancers, target groups) by ARN, those in
/// `scope`, from their tags (DescribeTags takes 20 ARNs a call).
async fn elbv2_in_scope(step: &Step<'_>, arns: Vec<String>, scope: &Scope) -> Result<Vec<String>> {
    if *scope == Scope::Vpc || arns.is_empty() {
        return Ok(arns);
    }
    let mut kept = Vec::new();
    for chunk in arns.chunks(20) {
        let out = step
            .aws()
            .elbv2
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .aws("elbv2:DescribeTags")?;
        for d in out.tag_descriptions() {
            let tags = d
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default())));
            if scope.covers(tags) {
                kept.extend(d.resource_arn().map(str::to_string));
            }
        }
    }
    Ok(kept)
}

/// ELBv2 load balancers (ALB, NLB) in the VPC and scope: ARN and name.
async fn elbv2_in(step: &Step<'_>, vpc: &str, scope: &Scope) -> Result<Vec<(String, String)>> {
    let all = elbv2_all_in(step, vpc).await?;
    let kept = elbv2_in_scope(step, all.iter().map(|(a, _)| a.clone()).collect(), scope).await?;
    Ok(all.into_iter().filter(|(a, _)| kept.contains(a)).collect())
}

/// ELBv2 load balancers (ALB, NLB) in the VPC: ARN and name.
async fn elbv2_all_in(step: &Step<'_>, vpc: &str) -> Result<Vec<(String, String)>> {
    let mut found = Vec::new();
    let mut pages = step.aws().elbv2.describe_load_balancers().into_paginator().send();
    while let Some(page) = pages.next().await {
        for lb in page.aws("elbv2:DescribeLoadBalancers")?.load_balancers() {
            if lb.vpc_id() == Some(vpc) {
                found.push((
                    lb.load_balancer_arn().unwrap_or_default().to_string(),
                    lb.load_balancer_name().unwrap_or_default().to_string(),
                ));
            }
        }
    }
    Ok(found)
}

/// Classic load balancers in the VPC and scope, by name.
async fn classic_in(step: &Step<'_>, vpc: &str, scope: &Scope) -> Result<Vec<String>> {
    let all = classic_all_in(step, vpc).await?;
    if *scope == Scope::Vpc || all.is_empty() {
        return Ok(all);
    }
    let mut kept = Vec::new();
    for chunk in all.chunks(20) {
        let out = step
            .aws()
            .elb
            .describe_tags()
            .set_load_balancer_names(Some(chunk.to_vec()))
            .send()
            .await
            .aws("elb:DescribeTags")?;
        for d in out.tag_descriptions() {
            let tags = d.tags().iter().map(|t| (t.key(), t.value().unwrap_or_default()));
            if scope.covers(tags) {
                kept.extend(d.load_balancer_name().map(str::to_string));
            }
        }
    }
    Ok(kept)
}

/// Classic load balancers in the VPC, by name.
async fn classic_all_in(step: &Step<'_>, vpc: &str) -> Result<Vec<String>> {
    let mut found = Vec::new();
    let mut pages = step.aws().elb.describe_load_balancers().into_paginator().send();
    while let Some(page) = pages.next().await {
        for lb in page.aws("elb:DescribeLoadBalancers")?.load_balancer_descriptions() {
            if lb.vpc_id() == Some(vpc) {
                found.push(lb.load_balancer_name().unwrap_or_default().to_string());
            }
        }
    }
    Ok(found)
}

async fn load_balancers(step: &Step<'_>, vpc: &str, scope: &Scope) -> Result<()> {
    for (arn, name) in elbv2_in(step, vpc, scope).await? {
        step.status(&format!("deleting load balancer {name}"));
        gone_ok(
            step.aws()
                .elbv2
                .delete_load_balancer()
                .load_balancer_arn(&arn)
                .send()
                .await
                .aws("elbv2:DeleteLoadBalancer"),
        )?;
        step.ctx.note(Note::Info {
            text: format!("deleted load balancer {name}, left in the VPC by Kubernetes"),
        });
    }
    Ok(())
}

async fn classic_load_balancers(step: &Step<'_>, vpc: &str, scope: &Scope) -> Result<()> {
    for name in classic_in(step, vpc, scope).await? {
        step.status(&format!("deleting classic load balancer {name}"));
        gone_ok(
            step.aws()
                .elb
                .delete_load_balancer()
                .load_balancer_name(&name)
                .send()
                .await
                .aws("elb:DeleteLoadBalancer"),
        )?;
        step.ctx.note(Note::Info {
            text: format!("deleted classic load balancer {name}, left in the VPC by Kubernetes"),
        });
    }
    Ok(())
}

/// Until every load balancer of the VPC (in scope) is gone, or say which remain.
async fn wait_for_load_balancers(step: &Step<'_>, vpc: &str, scope: &Scope) -> Result<()> {
    let started = std::time::Instant::now();
    loop {
        let (v2, classic) = (elbv2_in(step, vpc, scope).await?, classic_in(step, vpc, scope).await?);
        if v2.is_empty() && classic.is_empty() {
            return Ok(());
        }
        if started.elapsed() > LOAD_BALANCER_PATIENCE {
            let names: Vec<String> = v2.into_iter().map(|(_, n)| n).chain(classic).collect();
            bail!(
                "load balancers still in the VPC after {}s: {}; re-run destroy",
                LOAD_BALANCER_PATIENCE.as_secs(),
                names.join(", ")
            );
        }
        step.status("waiting for load balancers to go");
        step.ctx.pause(Duration::from_secs(5)).await;
    }
}

async fn target_groups(step: &Step<'_>, vpc: &str, scope: &Scope) -> Result<()> {
    let elb = &step.aws().elbv2;
    let mut arns = Vec::new();
    let mut pages = elb.describe_target_groups().into_paginator().send();
    while let Some(page) = pages.next().await {
        for tg in page.aws("elbv2:DescribeTargetGroups")?.target_groups() {
            if tg.vpc_id() == Some(vpc) {
                arns.extend(tg.target_group_arn().map(str::to_string));
            }
        }
    }
    for arn in elbv2_in_scope(step, arns, scope).await? {
        gone_ok(
            elb.delete_target_group()
                .target_group_arn(&arn)
                .send()
                .await
                .aws("elbv2:DeleteTargetGroup"),
        )?;
    }
    Ok(())
}

/// Security groups in the VPC that ekstack did not make (except `default`).
/// Their rules may reference each other, so the rules go first.
async fn security_groups(step: &Step<'_>, vpc: &str, scope: &Scope) -> Result<()> {
    let ec2 = &step.aws().ec2;
    let stack = step.ctx.stack.as_str();
    let mut groups = Vec::new();
    let mut pages = ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        groups.extend(
            page.aws("ec2:DescribeSecurityGroups")?
                .security_groups()
                .iter()
                .cloned(),
        );
    }
    let foreign: Vec<_> = groups
        .into_iter()
        .filter(|g| g.group_name() != Some("default"))
        .filter(|g| {
            !g.tags()
                .iter()
                .any(|t| t.key() == Some(TAG_STACK) && t.value() == Some(stack))
        })
        .filter(|g| {
            scope.covers(
                g.tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))),
            )
        })
        .collect();
    for g in &foreign {
        let id = g.group_id().unwrap_or_default();
        if !g.ip_permissions().is_empty() {
            let revoke = ec2
                .revoke_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(g.ip_permissions().to_vec()));
            gone_ok(revoke.send().await.aws("ec2:RevokeSecurityGroupIngress"))?;
        }
        if !g.ip_permissions_egress().is_empty() {
            let revoke = ec2
                .revoke_security_group_egress()
                .group_id(id)
                .set_ip_permissions(Some(g.ip_permissions_egress().to_vec()));
            gone_ok(revoke.send().await.aws("ec2:RevokeSecurityGroupEgress"))?;
        }
    }
    for g in &foreign {
        let id = g.group_id().unwrap_or_default();
        step.status(&format!("deleting security group {id}"));
        delete_group(step, id).await?;
        step.ctx.note(Note::Info {
            text: format!(
                "deleted security group {id} ({}), left in the VPC by another tool",
                g.group_name().unwrap_or_default()
            ),
        });
    }
    Ok(())
}

/// Detached interfaces the VPC CNI leaves behind when nodes go.
async fn network_interfaces(step: &Step<'_>, vpc: &str, scope: &Scope) -> Result<()> {
    let ec2 = &step.aws().ec2;
    let mut ids = Vec::new();
    let mut pages = ec2
        .describe_network_interfaces()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .filters(Filter::builder().name("status").values("available").build())
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        ids.extend(
            page.aws("ec2:DescribeNetworkInterfaces")?
                .network_interfaces()
                .iter()
                .filter(|e| {
                    scope.covers(
                        e.tag_set()
                            .iter()
                            .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))),
                    )
                })
                .filter_map(|e| e.network_interface_id().map(str::to_string)),
        );
    }
    for id in ids {
        gone_ok(
            ec2.delete_network_interface()
                .network_interface_id(&id)
                .send()
                .await
                .aws("ec2:DeleteNetworkInterface"),
        )?;
        step.ctx.note(Note::Info {
            text: format!("deleted detached network interface {id}"),
        });
    }
    Ok(())
}
