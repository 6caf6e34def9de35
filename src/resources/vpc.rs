//! The VPC: created with DNS support and hostnames on, which EKS nodes and a
//! private API endpoint need. While the stack sleeps it carries the
//! sleeping mark ([`super::sleep_mark`]).

use anyhow::{anyhow, Result};
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};
use ipnet::Ipv4Net;

use super::ec2::{
    create_or_find, delete_confirmed, finder, no_retry, once_visible, stack_filter, sync_tags, tag_map, tag_spec,
    Created,
};
use super::tags::{self, claimed_address};
use super::{retry_while, Attribute, Changes, Desired, Discovery, Found, Inputs, Leftovers, New, Ref};
use super::{Kind, ResourceKind, Step};
use crate::aws::errors::AwsResultExt;
use crate::config::Stack;
use crate::graph::Address;
use crate::live::{Live, Readiness};
use crate::quota::Quota;

pub const ADDRESS: &str = "vpc";

/// The stack's VPC, for the kinds that live in it.
pub fn reference() -> Ref<Vpc> {
    Ref::new(ADDRESS)
}

pub struct Vpc;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub cidr: Ipv4Net,
    /// The id of a VPC ekstack did not create (`network.vpc_id`): used as
    /// it is, nothing compared (plan checks what the stack needs of it).
    pub given: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Observed {
    pub cidr: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    Cidr,
    Tags,
}

impl ResourceKind for Vpc {
    const KIND: Kind = Kind::Vpc;
    const LEFTOVERS: Leftovers = Leftovers::BlockedBy;
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        if let Some(given) = &stack.network.given {
            return vec![New {
                address: ADDRESS.into(),
                tags: Default::default(),
                name: given.vpc_id.clone(),
                spec: Spec {
                    cidr: stack.network.cidr,
                    given: Some(given.vpc_id.clone()),
                },
                after: vec![],
            }];
        }
        let name = format!("{}-vpc", stack.meta.name);
        vec![New {
            address: ADDRESS.into(),
            tags: tags::of(stack, ADDRESS, &name),
            name,
            spec: Spec {
                cidr: stack.network.cidr,
                given: None,
            },
            after: vec![],
        }]
    }

    fn references(_: &Spec) -> Vec<Address> {
        vec![]
    }

    fn quotas(d: &Desired<'_, Self>) -> Vec<Quota> {
        if d.spec.given.is_some() {
            return vec![];
        }
        vec![Quota::VpcsPerRegion]
    }

    fn attributes(d: &Desired<'_, Self>, _: &dyn super::Resolve) -> Vec<Attribute<Self>> {
        if d.spec.given.is_some() {
            return vec![];
        }
        vec![
            Attribute::<Self>::new(Attr::Cidr, "network.cidr", d.spec.cidr.to_string(), |l| {
                l.observed.cidr.clone().into()
            })
            .impossible(crate::i18n::Msg::new("impossible.vpc_cidr")),
            tags::attribute(Attr::Tags, d, "ec2:CreateTags"),
        ]
    }

    fn points_at(_: &Observed) -> Vec<String> {
        vec![]
    }

    async fn discover(cx: &Discovery<'_>, _: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let out = cx
            .aws
            .ec2
            .describe_vpcs()
            .filters(stack_filter(cx.stack))
            .send()
            .await
            .aws("ec2:DescribeVpcs")?;
        Ok(out
            .vpcs()
            .iter()
            .filter_map(|v| {
                let tags = tag_map(v.tags());
                let address = claimed_address(&tags, cx.stack)?;
                let state = v.state().map(|s| s.as_str().to_string()).unwrap_or_default();
                let readiness = if state == "pending" {
                    Readiness::Pending
                } else {
                    Readiness::Ready
                };
                let observed = Observed {
                    cidr: v.cidr_block().unwrap_or_default().to_string(),
                };
                Some(Self::found(address, v.vpc_id()?, state, readiness, observed).with_tags(tags))
            })
            .collect())
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, _: &Inputs) -> Result<Found<Self>> {
        if let Some(id) = &d.spec.given {
            anyhow::bail!("the given VPC {id} was not found (network.vpc_id); ekstack never creates a given VPC");
        }
        let ec2 = &step.aws().ec2;
        let created = create_or_find(step, d.address, "ec2:CreateVpc", finder::<Self>(step), || {
            ec2.create_vpc()
                .cidr_block(d.spec.cidr.to_string())
                .tag_specifications(tag_spec(d.tags, ResourceType::Vpc))
                .customize()
                .config_override(no_retry())
                .send()
        })
        .await?;
        let out = match created {
            Created::New(out) => out,
            Created::Found(found) => {
                enable_dns(step, &found.id).await?;
                return Ok(found);
            }
        };
        let vpc = out.vpc().ok_or_else(|| anyhow!("CreateVpc returned no VPC"))?;
        let id = vpc.vpc_id().unwrap_or_default().to_string();
        enable_dns(step, &id).await?;
        let observed = Observed {
            cidr: d.spec.cidr.to_string(),
        };
        Ok(Self::found(d.address, id, "available", Readiness::Ready, observed).with_tags(tag_map(vpc.tags())))
    }

    async fn update(
        step: &Step<'_>,
        d: &Desired<'_, Self>,
        current: &Found<Self>,
        changes: &Changes<Self>,
        _: &Inputs,
    ) -> Result<Found<Self>> {
        let mut live = current.clone();
        for change in changes.iter() {
            match change {
                Attr::Tags => {
                    sync_tags(step, &live.id, &live.tags, d.tags).await?;
                    live.tags = d.tags.clone();
                }
                Attr::Cidr => anyhow::bail!("a VPC's CIDR block cannot change in place"),
            }
        }
        Ok(live)
    }

    async fn delete(step: &Step<'_>, live: &Found<Self>) -> Result<()> {
        super::refuse_given(live)?;
        let ec2 = &step.aws().ec2;
        let patience = std::time::Duration::from_secs(15 * 60);
        delete_confirmed::<Self, _, _, _>(step, &live.id, || {
            retry_while(
                step,
                &["DependencyViolation"],
                "waiting for what is left in the VPC to go",
                patience,
                || async {
                    ec2.delete_vpc()
                        .vpc_id(&live.id)
                        .send()
                        .await
                        .aws_on("ec2:DeleteVpc", &live.id)
                },
            )
        })
        .await
    }
}

/// EKS nodes and a private API endpoint need DNS support and hostnames; the
/// API takes one attribute per call.
async fn enable_dns(step: &Step<'_>, id: &str) -> Result<()> {
    let ec2 = &step.aws().ec2;
    for (support, hostnames) in [(true, false), (false, true)] {
        once_visible(step, id, || {
            let mut call = ec2.modify_vpc_attribute().vpc_id(id);
            if support {
                call = call.enable_dns_support(AttributeBooleanValue::builder().value(true).build());
            }
            if hostnames {
                call = call.enable_dns_hostnames(AttributeBooleanValue::builder().value(true).build());
            }
            async move { call.send().await.aws_on("ec2:ModifyVpcAttribute", id) }
        })
        .await?;
    }
    Ok(())
}

/// The live record of a VPC the stack was given (`network.vpc_id`).
pub fn given(v: &aws_sdk_ec2::types::Vpc) -> Live {
    let observed = Observed {
        cidr: v.cidr_block().unwrap_or_default().to_string(),
    };
    let mut found = Vpc::found(
        ADDRESS,
        v.vpc_id().unwrap_or_default(),
        "available",
        Readiness::Ready,
        observed,
    )
    .with_tags(tag_map(v.tags()));
    found.origin = crate::live::Origin::Given;
    found.erase()
}
