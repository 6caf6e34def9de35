//! Public and private subnets, tagged for Kubernetes load balancer discovery.

use anyhow::{anyhow, bail, Result};
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};

use super::ec2::{claimed_address, create_or_find, no_retry, stack_filter, sync_tags, tag_map, tag_spec, Created};
use super::gone_ok;
use super::{live_user_tags, no_update, tags_attr, Step};
use crate::aws::errors::AwsResultExt;
use crate::aws::Aws;
use crate::config::Stack;
use crate::finder;
use crate::graph::build::VPC;
use crate::graph::{Kind, Resource, Spec, Tier};
use crate::live::{Live, Readiness};
use crate::plan::diff::Attr;
use crate::plan::ResourceAction;

pub fn attrs(stack: &Stack, r: &Resource) -> Vec<Attr> {
    let Spec::Subnet { cidr, az, tier, index } = &r.spec else {
        return vec![];
    };
    let way_out = "a subnet's CIDR and AZ cannot change; keep the existing value, or destroy the stack and apply again";
    vec![
        Attr::impossible(
            "cidr",
            format!("network.{}_subnets[{index}]", tier.as_str()),
            cidr.to_string(),
            way_out,
        ),
        Attr::impossible("az", "network.azs", az.clone(), way_out),
        Attr::in_place(
            "map_public_ip",
            "network",
            *tier == Tier::Public,
            "ec2:ModifySubnetAttribute",
        ),
        tags_attr(stack, "ec2:CreateTags"),
    ]
}

/// Kubernetes finds subnets for load balancers by these tags.
fn role_tag(tier: Tier) -> (&'static str, &'static str) {
    match tier {
        Tier::Public => ("kubernetes.io/role/elb", "1"),
        Tier::Private => ("kubernetes.io/role/internal-elb", "1"),
    }
}

pub async fn discover(aws: &Aws, stack: &str) -> Result<Vec<Live>> {
    let out = aws
        .ec2
        .describe_subnets()
        .filters(stack_filter(stack))
        .send()
        .await
        .aws("ec2:DescribeSubnets")?;
    Ok(out
        .subnets()
        .iter()
        .filter_map(|s| {
            let tags = tag_map(s.tags());
            let address = claimed_address(&tags, stack)?;
            let state = s.state().map(|s| s.as_str().to_string()).unwrap_or_default();
            let readiness = if state == "pending" {
                Readiness::Pending
            } else {
                Readiness::Ready
            };
            Some(
                Live::new(Kind::Subnet, address, s.subnet_id()?, state, readiness)
                    .attr("cidr", s.cidr_block().unwrap_or_default())
                    .attr("az", s.availability_zone().unwrap_or_default())
                    .attr("map_public_ip", s.map_public_ip_on_launch().unwrap_or(false))
                    .attr("tags", live_user_tags(&tags))
                    .detail("vpc", s.vpc_id().unwrap_or_default())
                    .with_tags(tags),
            )
        })
        .collect())
}

pub async fn create(step: &Step<'_>, r: &Resource) -> Result<Live> {
    let Spec::Subnet { cidr, az, tier, .. } = &r.spec else {
        bail!("internal error: {} is not a subnet", r.address)
    };
    let ec2 = &step.aws().ec2;
    let vpc = step.ctx.id_of(VPC)?;
    let created = create_or_find(step, r, "ec2:CreateSubnet", finder!(step, discover), || {
        ec2.create_subnet()
            .vpc_id(&vpc)
            .cidr_block(cidr.to_string())
            .availability_zone(az)
            .tag_specifications(tag_spec(step, r, ResourceType::Subnet, &[role_tag(*tier)]))
            .customize()
            .config_override(no_retry())
            .send()
    })
    .await?;
    let out = match created {
        Created::New(out) => out,
        Created::Found(live) => return Ok(live.detail("adopted", true)),
    };
    let subnet = out.subnet().ok_or_else(|| anyhow!("CreateSubnet returned nothing"))?;
    let id = subnet.subnet_id().unwrap_or_default().to_string();
    let public = *tier == Tier::Public;
    set_public_ip(step, &id, public).await?;
    let tags = tag_map(subnet.tags());
    Ok(Live::new(Kind::Subnet, &r.address, id, "available", Readiness::Ready)
        .attr("cidr", cidr.to_string())
        .attr("az", az.as_str())
        .attr("map_public_ip", public)
        .attr("tags", live_user_tags(&tags))
        .detail("vpc", vpc)
        .with_tags(tags))
}

async fn set_public_ip(step: &Step<'_>, id: &str, on: bool) -> Result<()> {
    step.aws()
        .ec2
        .modify_subnet_attribute()
        .subnet_id(id)
        .map_public_ip_on_launch(AttributeBooleanValue::builder().value(on).build())
        .send()
        .await
        .aws("ec2:ModifySubnetAttribute")?;
    Ok(())
}

pub async fn update(step: &Step<'_>, r: &Resource, live: &Live, action: &ResourceAction) -> Result<Live> {
    let mut live = live.clone();
    for change in &action.changes {
        match change.attribute.as_str() {
            "tags" => sync_tags(step, &live.id, &live.tags).await?,
            "map_public_ip" => {
                let on = matches!(r.spec, Spec::Subnet { tier: Tier::Public, .. });
                set_public_ip(step, &live.id, on).await?;
                live.attrs.insert("map_public_ip".into(), on.into());
            }
            _ => return Err(no_update(Kind::Subnet, action)),
        }
    }
    Ok(live)
}

pub async fn delete(step: &Step<'_>, live: &Live) -> Result<()> {
    let ec2 = &step.aws().ec2;
    let patience = std::time::Duration::from_secs(15 * 60);
    super::retry_while(
        step,
        &["DependencyViolation"],
        "waiting for network interfaces to leave",
        patience,
        || async {
            gone_ok(
                ec2.delete_subnet()
                    .subnet_id(&live.id)
                    .send()
                    .await
                    .aws("ec2:DeleteSubnet"),
            )
        },
    )
    .await
}
