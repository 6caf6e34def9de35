//! Elastic IPs for NAT gateways. Released on delete: an idle public IPv4
//! address bills by the hour.

use anyhow::Result;
use aws_sdk_ec2::types::{DomainType, ResourceType};

use super::ec2::{
    create_or_find, delete_confirmed, finder, no_retry, stack_filter, sync_tags, tag_map, tag_spec, Created,
};
use super::tags::{self, claimed_address};
use super::{retry_while, Attribute, Changes, Desired, Discovery, Found, Inputs, New, Ref};
use super::{Kind, ResourceKind, Step};
use crate::aws::errors::AwsResultExt;
use crate::config::Stack;
use crate::cost::Billable;
use crate::graph::Address;
use crate::live::{Live, LiveState, Readiness};
use crate::quota::Quota;

pub fn address(az: &str) -> Address {
    format!("eip.nat.{az}")
}

pub fn reference(az: &str) -> Ref<Eip> {
    Ref::new(address(az))
}

pub struct Eip;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec;

#[derive(Debug, Clone)]
pub struct Observed {
    pub public_ip: String,
    pub association_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    Tags,
}

impl ResourceKind for Eip {
    const KIND: Kind = Kind::Eip;
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        super::nat_gateway::azs(stack)
            .into_iter()
            .map(|az| {
                let address = address(az);
                let name = format!("{}-nat-{az}", stack.meta.name);
                New {
                    tags: tags::of(stack, &address, &name),
                    address,
                    name,
                    spec: Spec,
                    after: vec![],
                }
            })
            .collect()
    }

    fn references(_: &Spec) -> Vec<Address> {
        vec![]
    }

    fn attributes(d: &Desired<'_, Self>, _: &dyn super::Resolve) -> Vec<Attribute<Self>> {
        vec![tags::attribute(Attr::Tags, d, "ec2:CreateTags")]
    }

    fn points_at(_: &Observed) -> Vec<String> {
        vec![]
    }

    fn quotas(_: &Desired<'_, Self>) -> Vec<Quota> {
        vec![Quota::ElasticIps]
    }

    fn billables(_: &Desired<'_, Self>) -> Vec<Billable> {
        vec![Billable::PublicIpv4]
    }

    fn live_billables(_: &Found<Self>, _: &LiveState) -> Vec<Billable> {
        vec![Billable::PublicIpv4]
    }

    async fn discover(cx: &Discovery<'_>, _: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let out = cx
            .aws
            .ec2
            .describe_addresses()
            .filters(stack_filter(cx.stack))
            .send()
            .await
            .aws("ec2:DescribeAddresses")?;
        Ok(out
            .addresses()
            .iter()
            .filter_map(|a| {
                let tags = tag_map(a.tags());
                let address = claimed_address(&tags, cx.stack)?;
                let observed = Observed {
                    public_ip: a.public_ip().unwrap_or_default().to_string(),
                    association_id: a.association_id().map(str::to_string),
                };
                Some(Self::found(address, a.allocation_id()?, "allocated", Readiness::Ready, observed).with_tags(tags))
            })
            .collect())
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, _: &Inputs) -> Result<Found<Self>> {
        let created = create_or_find(step, d.address, "ec2:AllocateAddress", finder::<Self>(step), || {
            step.aws()
                .ec2
                .allocate_address()
                .domain(DomainType::Vpc)
                .tag_specifications(tag_spec(d.tags, ResourceType::ElasticIp))
                .customize()
                .config_override(no_retry())
                .send()
        })
        .await?;
        let out = match created {
            Created::New(out) => out,
            Created::Found(found) => return Ok(found),
        };
        let observed = Observed {
            public_ip: out.public_ip().unwrap_or_default().to_string(),
            association_id: None,
        };
        let id = out.allocation_id().unwrap_or_default();
        Ok(Self::found(d.address, id, "allocated", Readiness::Ready, observed).with_tags(d.tags.clone()))
    }

    async fn update(
        step: &Step<'_>,
        d: &Desired<'_, Self>,
        current: &Found<Self>,
        changes: &Changes<Self>,
        _: &Inputs,
    ) -> Result<Found<Self>> {
        let mut live = current.clone();
        if changes.has(Attr::Tags) {
            sync_tags(step, &live.id, &live.tags, d.tags).await?;
            live.tags = d.tags.clone();
        }
        Ok(live)
    }

    async fn delete(step: &Step<'_>, live: &Found<Self>) -> Result<()> {
        let ec2 = &step.aws().ec2;
        // A deleted NAT gateway frees its address only after a while.
        let patience = std::time::Duration::from_secs(5 * 60);
        delete_confirmed::<Self, _, _, _>(step, &live.id, || {
            retry_while(
                step,
                &["InvalidIPAddress.InUse"],
                "waiting for the address to be freed",
                patience,
                || async {
                    ec2.release_address()
                        .allocation_id(&live.id)
                        .send()
                        .await
                        .aws_on("ec2:ReleaseAddress", &live.id)
                },
            )
        })
        .await
    }
}
