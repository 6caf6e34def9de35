//! The sweep before the network goes: what Kubernetes and AWS made inside the
//! stack's VPC that ekstack did not. This is where eksctl and terraform
//! teardowns stop with DependencyViolation and leave load balancers billing.
//!
//! In order: load balancers (ELBv2 and classic) in the VPC, their target
//! groups, security groups other tools made there (the load balancer
//! controller's, the cluster's), detached network interfaces left by the VPC
//! CNI; EBS volumes made for persistent volumes are listed, and deleted only
//! with `--delete-volumes`.

use anyhow::Result;
use aws_sdk_ec2::types::Filter;

use crate::aws::errors::{is_not_found_error, AwsResultExt};
use crate::graph::build::VPC;
use crate::resources::security_group::delete_group;
use crate::resources::{Note, Step, TAG_STACK};

pub async fn sweep(step: &Step<'_>) -> Result<()> {
    let Some(vpc) = step.ctx.live(VPC).map(|l| l.id) else {
        return Ok(());
    };
    load_balancers(step, &vpc).await?;
    classic_load_balancers(step, &vpc).await?;
    target_groups(step, &vpc).await?;
    security_groups(step, &vpc).await?;
    network_interfaces(step, &vpc).await?;
    volumes(step).await?;
    Ok(())
}

async fn load_balancers(step: &Step<'_>, vpc: &str) -> Result<()> {
    let elb = &step.aws().elbv2;
    let mut arns = Vec::new();
    let mut pages = elb.describe_load_balancers().into_paginator().send();
    while let Some(page) = pages.next().await {
        for lb in page.aws("elbv2:DescribeLoadBalancers")?.load_balancers() {
            if lb.vpc_id() == Some(vpc) {
                arns.push((
                    lb.load_balancer_arn().unwrap_or_default().to_string(),
                    lb.load_balancer_name().unwrap_or_default().to_string(),
                ));
            }
        }
    }
    for (arn, name) in &arns {
        step.status(&format!("deleting load balancer {name}"));
        match elb
            .delete_load_balancer()
            .load_balancer_arn(arn)
            .send()
            .await
            .aws("elbv2:DeleteLoadBalancer")
        {
            Err(e) if is_not_found_error(&e) => {}
            other => {
                other?;
            }
        }
        step.ctx.note(Note::Info {
            text: format!("deleted load balancer {name}, left in the VPC by Kubernetes"),
        });
    }
    // Wait until they are gone: their network interfaces hold the subnets.
    for _ in 0..60 {
        let out = elb
            .describe_load_balancers()
            .send()
            .await
            .aws("elbv2:DescribeLoadBalancers")?;
        if !out.load_balancers().iter().any(|lb| lb.vpc_id() == Some(vpc)) {
            break;
        }
        step.ctx.pause(std::time::Duration::from_secs(5)).await;
    }
    Ok(())
}

async fn classic_load_balancers(step: &Step<'_>, vpc: &str) -> Result<()> {
    let elb = &step.aws().elb;
    let out = elb
        .describe_load_balancers()
        .send()
        .await
        .aws("elb:DescribeLoadBalancers")?;
    for lb in out
        .load_balancer_descriptions()
        .iter()
        .filter(|lb| lb.vpc_id() == Some(vpc))
    {
        let name = lb.load_balancer_name().unwrap_or_default();
        step.status(&format!("deleting classic load balancer {name}"));
        elb.delete_load_balancer()
            .load_balancer_name(name)
            .send()
            .await
            .aws("elb:DeleteLoadBalancer")?;
        step.ctx.note(Note::Info {
            text: format!("deleted classic load balancer {name}, left in the VPC by Kubernetes"),
        });
    }
    Ok(())
}

async fn target_groups(step: &Step<'_>, vpc: &str) -> Result<()> {
    let elb = &step.aws().elbv2;
    let out = elb
        .describe_target_groups()
        .send()
        .await
        .aws("elbv2:DescribeTargetGroups")?;
    for tg in out.target_groups().iter().filter(|t| t.vpc_id() == Some(vpc)) {
        if let Some(arn) = tg.target_group_arn() {
            match elb
                .delete_target_group()
                .target_group_arn(arn)
                .send()
                .await
                .aws("elbv2:DeleteTargetGroup")
            {
                Err(e) if is_not_found_error(&e) => {}
                other => {
                    other?;
                }
            }
        }
    }
    Ok(())
}

/// Security groups in the VPC that ekstack did not make (except `default`):
/// the load balancer controller's and the EKS cluster's. Their rules may
/// reference each other, so rules go first, then the groups.
async fn security_groups(step: &Step<'_>, vpc: &str) -> Result<()> {
    let ec2 = &step.aws().ec2;
    let stack = step.ctx.stack_name();
    let out = ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .send()
        .await
        .aws("ec2:DescribeSecurityGroups")?;
    let foreign: Vec<_> = out
        .security_groups()
        .iter()
        .filter(|g| g.group_name() != Some("default"))
        .filter(|g| {
            !g.tags()
                .iter()
                .any(|t| t.key() == Some(TAG_STACK) && t.value() == Some(stack))
        })
        .collect();
    for g in &foreign {
        let id = g.group_id().unwrap_or_default();
        if !g.ip_permissions().is_empty() {
            let _ = ec2
                .revoke_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(g.ip_permissions().to_vec()))
                .send()
                .await;
        }
    }
    for g in &foreign {
        let id = g.group_id().unwrap_or_default();
        step.status(&format!("deleting security group {id}"));
        delete_group(step, id).await?;
        step.ctx.note(Note::Info {
            text: format!(
                "deleted security group {id} ({}), made in the VPC by another tool",
                g.group_name().unwrap_or_default()
            ),
        });
    }
    Ok(())
}

/// Detached interfaces the VPC CNI leaves behind when nodes go.
async fn network_interfaces(step: &Step<'_>, vpc: &str) -> Result<()> {
    let ec2 = &step.aws().ec2;
    let out = ec2
        .describe_network_interfaces()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .filters(Filter::builder().name("status").values("available").build())
        .send()
        .await
        .aws("ec2:DescribeNetworkInterfaces")?;
    for eni in out.network_interfaces() {
        let Some(id) = eni.network_interface_id() else { continue };
        match ec2
            .delete_network_interface()
            .network_interface_id(id)
            .send()
            .await
            .aws("ec2:DeleteNetworkInterface")
        {
            Err(e) if is_not_found_error(&e) => {}
            other => {
                other?;
                step.ctx.note(Note::Info {
                    text: format!("deleted detached network interface {id}"),
                });
            }
        }
    }
    Ok(())
}

/// EBS volumes the EBS CSI driver made for the cluster's persistent volumes.
async fn volumes(step: &Step<'_>) -> Result<()> {
    let ec2 = &step.aws().ec2;
    let cluster = step.ctx.stack_name();
    let out = ec2
        .describe_volumes()
        .filters(
            Filter::builder()
                .name("tag-key")
                .values(format!("kubernetes.io/cluster/{cluster}"))
                .build(),
        )
        .send()
        .await
        .aws("ec2:DescribeVolumes")?;
    for v in out.volumes() {
        let Some(id) = v.volume_id() else { continue };
        let gib = v.size().unwrap_or(0) as i64;
        let available = v.state().is_some_and(|s| s.as_str() == "available");
        if step.ctx.options.delete_volumes && available {
            ec2.delete_volume().volume_id(id).send().await.aws("ec2:DeleteVolume")?;
            step.ctx.note(Note::Volume {
                id: id.to_string(),
                gib,
                deleted: true,
            });
        } else {
            step.ctx.note(Note::Volume {
                id: id.to_string(),
                gib,
                deleted: false,
            });
        }
    }
    Ok(())
}
