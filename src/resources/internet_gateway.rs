//! The internet gateway, attached to the VPC; the public route table's default route.

use anyhow::{anyhow, Result};
use aws_sdk_ec2::types::ResourceType;
use serde_json::Value;

use super::ec2::{claimed_address, create_or_find, no_retry, stack_filter, sync_tags, tag_map, tag_spec, Created};
use super::gone_ok;
use super::{live_user_tags, no_update, tags_attr, Step};
use crate::aws::errors::AwsResultExt;
use crate::aws::Aws;
use crate::config::Stack;
use crate::finder;
use crate::graph::build::VPC;
use crate::graph::{Kind, Resource};
use crate::live::{Live, Readiness};
use crate::plan::diff::Attr;
use crate::plan::{ResourceAction, KNOWN_AFTER_APPLY};

pub fn attrs(stack: &Stack, _r: &Resource, id_of: &dyn Fn(&str) -> Option<String>) -> Vec<Attr> {
    vec![
        Attr::in_place(
            "vpc",
            "network",
            id_of(VPC).unwrap_or_else(|| KNOWN_AFTER_APPLY.into()),
            "ec2:AttachInternetGateway",
        ),
        tags_attr(stack, "ec2:CreateTags"),
    ]
}

pub async fn discover(aws: &Aws, stack: &str) -> Result<Vec<Live>> {
    let out = aws
        .ec2
        .describe_internet_gateways()
        .filters(stack_filter(stack))
        .send()
        .await
        .aws("ec2:DescribeInternetGateways")?;
    Ok(out
        .internet_gateways()
        .iter()
        .filter_map(|g| {
            let tags = tag_map(g.tags());
            let address = claimed_address(&tags, stack)?;
            let vpc = g
                .attachments()
                .iter()
                .find_map(|a| a.vpc_id())
                .map(Value::from)
                .unwrap_or(Value::Null);
            Some(
                Live::new(
                    Kind::InternetGateway,
                    address,
                    g.internet_gateway_id()?,
                    "available",
                    Readiness::Ready,
                )
                .attr("vpc", vpc)
                .attr("tags", live_user_tags(&tags))
                .with_tags(tags),
            )
        })
        .collect())
}

pub async fn create(step: &Step<'_>, r: &Resource) -> Result<Live> {
    let ec2 = &step.aws().ec2;
    let vpc = step.ctx.id_of(VPC)?;
    let created = create_or_find(step, r, "ec2:CreateInternetGateway", finder!(step, discover), || {
        ec2.create_internet_gateway()
            .tag_specifications(tag_spec(step, r, ResourceType::InternetGateway, &[]))
            .customize()
            .config_override(no_retry())
            .send()
    })
    .await?;
    let out = match created {
        Created::New(out) => out,
        Created::Found(live) => return Ok(live.detail("adopted", true)),
    };
    let igw = out
        .internet_gateway()
        .ok_or_else(|| anyhow!("CreateInternetGateway returned nothing"))?;
    let id = igw.internet_gateway_id().unwrap_or_default().to_string();
    attach(step, &id, &vpc).await?;
    let tags = tag_map(igw.tags());
    Ok(
        Live::new(Kind::InternetGateway, &r.address, id, "available", Readiness::Ready)
            .attr("vpc", vpc)
            .attr("tags", live_user_tags(&tags))
            .with_tags(tags),
    )
}

pub async fn update(step: &Step<'_>, _r: &Resource, live: &Live, action: &ResourceAction) -> Result<Live> {
    let mut live = live.clone();
    for change in &action.changes {
        match change.attribute.as_str() {
            "tags" => sync_tags(step, &live.id, &live.tags).await?,
            "vpc" => {
                // Attached to nothing (a half-finished create): attach it.
                let vpc = step.ctx.id_of(VPC)?;
                attach(step, &live.id, &vpc).await?;
                live.attrs.insert("vpc".into(), vpc.into());
            }
            _ => return Err(no_update(Kind::InternetGateway, action)),
        }
    }
    Ok(live)
}

/// Attaches the gateway; a retry whose first answer was lost finds it
/// attached already.
async fn attach(step: &Step<'_>, igw: &str, vpc: &str) -> Result<()> {
    let attached = step
        .aws()
        .ec2
        .attach_internet_gateway()
        .internet_gateway_id(igw)
        .vpc_id(vpc)
        .send()
        .await;
    match attached.aws("ec2:AttachInternetGateway") {
        Err(e) if crate::aws::errors::has_code(&e, "Resource.AlreadyAssociated") => Ok(()),
        other => other.map(|_| ()),
    }
}

pub async fn delete(step: &Step<'_>, live: &Live) -> Result<()> {
    let ec2 = &step.aws().ec2;
    let patience = std::time::Duration::from_secs(15 * 60);
    if let Some(vpc) = live.attrs.get("vpc").and_then(|v| v.as_str()) {
        // Detaching fails while public addresses are still mapped in the VPC
        // (a NAT gateway or load balancer on its way out).
        let detached = super::retry_while(
            step,
            &["DependencyViolation"],
            "waiting for public addresses to be released",
            patience,
            || async {
                ec2.detach_internet_gateway()
                    .internet_gateway_id(&live.id)
                    .vpc_id(vpc)
                    .send()
                    .await
                    .aws("ec2:DetachInternetGateway")
            },
        )
        .await;
        match detached {
            Err(e) if crate::aws::errors::has_code(&e, "Gateway.NotAttached") => {}
            other => gone_ok(other)?,
        }
    }
    gone_ok(
        ec2.delete_internet_gateway()
            .internet_gateway_id(&live.id)
            .send()
            .await
            .aws("ec2:DeleteInternetGateway"),
    )
}
