//! Elastic IPs for NAT gateways. Released on delete: an idle public IPv4
//! address bills by the hour.

use std::collections::BTreeMap;

use anyhow::Result;
use aws_sdk_ec2::types::{DomainType, ResourceType};

use super::ec2::{claimed_address, create_or_find, no_retry, stack_filter, sync_tags, tag_map, tag_spec, Created};
use super::gone_ok;
use super::{live_user_tags, no_update, tags_attr, Step};
use crate::aws::errors::AwsResultExt;
use crate::aws::Aws;
use crate::config::Stack;
use crate::finder;
use crate::graph::{Kind, Resource};
use crate::live::{Live, Readiness};
use crate::plan::diff::Attr;
use crate::plan::ResourceAction;

pub fn attrs(stack: &Stack, _r: &Resource) -> Vec<Attr> {
    vec![tags_attr(stack, "ec2:CreateTags")]
}

pub async fn discover(aws: &Aws, stack: &str) -> Result<Vec<Live>> {
    let out = aws
        .ec2
        .describe_addresses()
        .filters(stack_filter(stack))
        .send()
        .await
        .aws("ec2:DescribeAddresses")?;
    Ok(out
        .addresses()
        .iter()
        .filter_map(|a| {
            let tags = tag_map(a.tags());
            let address = claimed_address(&tags, stack)?;
            let mut live = Live::new(Kind::Eip, address, a.allocation_id()?, "allocated", Readiness::Ready)
                .attr("tags", live_user_tags(&tags))
                .detail("public_ip", a.public_ip().unwrap_or_default());
            if let Some(assoc) = a.association_id() {
                live = live.detail("association_id", assoc);
            }
            Some(live.with_tags(tags))
        })
        .collect())
}

pub async fn create(step: &Step<'_>, r: &Resource) -> Result<Live> {
    let created = create_or_find(step, r, "ec2:AllocateAddress", finder!(step, discover), || {
        step.aws()
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(tag_spec(step, r, ResourceType::ElasticIp, &[]))
            .customize()
            .config_override(no_retry())
            .send()
    })
    .await?;
    let out = match created {
        Created::New(out) => out,
        Created::Found(live) => return Ok(live.detail("adopted", true)),
    };
    let tags: BTreeMap<String, String> = super::tags(&step.ctx.stack, &r.address, &r.name);
    Ok(Live::new(
        Kind::Eip,
        &r.address,
        out.allocation_id().unwrap_or_default(),
        "allocated",
        Readiness::Ready,
    )
    .attr("tags", live_user_tags(&tags))
    .detail("public_ip", out.public_ip().unwrap_or_default())
    .with_tags(tags))
}

pub async fn update(step: &Step<'_>, _r: &Resource, live: &Live, action: &ResourceAction) -> Result<Live> {
    for change in &action.changes {
        match change.attribute.as_str() {
            "tags" => sync_tags(step, &live.id, &live.tags).await?,
            _ => return Err(no_update(Kind::Eip, action)),
        }
    }
    Ok(live.clone())
}

pub async fn delete(step: &Step<'_>, live: &Live) -> Result<()> {
    let ec2 = &step.aws().ec2;
    // A deleted NAT gateway frees its address only after a while.
    let patience = std::time::Duration::from_secs(5 * 60);
    super::retry_while(
        step,
        &["InvalidIPAddress.InUse"],
        "waiting for the address to be freed",
        patience,
        || async {
            gone_ok(
                ec2.release_address()
                    .allocation_id(&live.id)
                    .send()
                    .await
                    .aws("ec2:ReleaseAddress"),
            )
        },
    )
    .await
}
