//! The VPC: created with DNS support and hostnames on, which EKS nodes and a
//! private API endpoint need.

use anyhow::{anyhow, bail, Result};
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};

use super::ec2::{claimed_address, create_or_find, no_retry, stack_filter, sync_tags, tag_map, tag_spec, Created};
use super::gone_ok;
use super::{live_user_tags, no_update, tags_attr, Step, TAG_SLEEPING};
use crate::aws::errors::AwsResultExt;
use crate::aws::Aws;
use crate::config::Stack;
use crate::finder;
use crate::graph::{Kind, Resource, Spec};
use crate::live::{Live, Readiness};
use crate::plan::diff::Attr;
use crate::plan::ResourceAction;

pub fn attrs(stack: &Stack, r: &Resource) -> Vec<Attr> {
    let Spec::Vpc { cidr } = &r.spec else { return vec![] };
    vec![
        Attr::impossible(
            "cidr",
            "network.cidr",
            cidr.to_string(),
            "a VPC's CIDR block cannot change; to move the stack to a new range, `ekstack destroy` it and apply again",
        ),
        tags_attr(stack, "ec2:CreateTags"),
    ]
}

pub async fn discover(aws: &Aws, stack: &str) -> Result<Vec<Live>> {
    let out = aws
        .ec2
        .describe_vpcs()
        .filters(stack_filter(stack))
        .send()
        .await
        .aws("ec2:DescribeVpcs")?;
    Ok(out
        .vpcs()
        .iter()
        .filter_map(|v| {
            let tags = tag_map(v.tags());
            let address = claimed_address(&tags, stack)?;
            let state = v.state().map(|s| s.as_str().to_string()).unwrap_or_default();
            let readiness = if state == "pending" {
                Readiness::Pending
            } else {
                Readiness::Ready
            };
            let mut live = Live::new(Kind::Vpc, address, v.vpc_id()?, state, readiness)
                .attr("cidr", v.cidr_block().unwrap_or_default())
                .attr("tags", live_user_tags(&tags));
            if let Some(since) = tags.get(TAG_SLEEPING) {
                live = live.detail("sleeping_since", since.as_str());
            }
            Some(live.with_tags(tags))
        })
        .collect())
}

pub async fn create(step: &Step<'_>, r: &Resource) -> Result<Live> {
    let Spec::Vpc { cidr } = &r.spec else {
        bail!("internal error: {} is not a VPC", r.address)
    };
    let ec2 = &step.aws().ec2;
    let created = create_or_find(step, r, "ec2:CreateVpc", finder!(step, discover), || {
        ec2.create_vpc()
            .cidr_block(cidr.to_string())
            .tag_specifications(tag_spec(step, r, ResourceType::Vpc, &[]))
            .customize()
            .config_override(no_retry())
            .send()
    })
    .await?;
    let out = match created {
        Created::New(out) => out,
        Created::Found(live) => {
            enable_dns(step, &live.id).await?;
            return Ok(live.detail("adopted", true));
        }
    };
    let vpc = out.vpc().ok_or_else(|| anyhow!("CreateVpc returned no VPC"))?;
    let id = vpc.vpc_id().unwrap_or_default().to_string();
    enable_dns(step, &id).await?;
    let tags = tag_map(vpc.tags());
    Ok(Live::new(Kind::Vpc, &r.address, id, "available", Readiness::Ready)
        .attr("cidr", cidr.to_string())
        .attr("tags", live_user_tags(&tags))
        .with_tags(tags))
}

/// EKS nodes and a private API endpoint need DNS support and hostnames; the
/// API takes one attribute per call.
async fn enable_dns(step: &Step<'_>, id: &str) -> Result<()> {
    let ec2 = &step.aws().ec2;
    for (support, hostnames) in [(true, false), (false, true)] {
        let mut call = ec2.modify_vpc_attribute().vpc_id(id);
        if support {
            call = call.enable_dns_support(AttributeBooleanValue::builder().value(true).build());
        }
        if hostnames {
            call = call.enable_dns_hostnames(AttributeBooleanValue::builder().value(true).build());
        }
        call.send().await.aws("ec2:ModifyVpcAttribute")?;
    }
    Ok(())
}

pub async fn update(step: &Step<'_>, _r: &Resource, live: &Live, action: &ResourceAction) -> Result<Live> {
    for change in &action.changes {
        match change.attribute.as_str() {
            "tags" => sync_tags(step, &live.id, &live.tags).await?,
            _ => return Err(no_update(Kind::Vpc, action)),
        }
    }
    Ok(live.clone())
}

/// Marks or unmarks the stack as sleeping, on its VPC.
pub async fn set_sleeping(aws: &Aws, vpc_id: &str, since: Option<&str>) -> Result<()> {
    use aws_sdk_ec2::types::Tag;
    match since {
        Some(since) => {
            aws.ec2
                .create_tags()
                .resources(vpc_id)
                .tags(Tag::builder().key(TAG_SLEEPING).value(since).build())
                .send()
                .await
                .aws("ec2:CreateTags")?;
        }
        None => {
            aws.ec2
                .delete_tags()
                .resources(vpc_id)
                .tags(Tag::builder().key(TAG_SLEEPING).build())
                .send()
                .await
                .aws("ec2:DeleteTags")?;
        }
    }
    Ok(())
}

pub async fn delete(step: &Step<'_>, live: &Live) -> Result<()> {
    let ec2 = &step.aws().ec2;
    let patience = std::time::Duration::from_secs(15 * 60);
    super::retry_while(
        step,
        &["DependencyViolation"],
        "waiting for what is left in the VPC to go",
        patience,
        || async { gone_ok(ec2.delete_vpc().vpc_id(&live.id).send().await.aws("ec2:DeleteVpc")) },
    )
    .await
}
