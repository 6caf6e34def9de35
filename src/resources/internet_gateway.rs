//! The internet gateway, attached to the VPC: the public route table's
//! default route, and what a public NAT gateway sends through.

use anyhow::{anyhow, Result};
use aws_sdk_ec2::types::ResourceType;

use super::ec2::{
    create_or_find, delete_confirmed, finder, no_retry, once_visible, stack_filter, sync_tags, tag_map, tag_spec,
    Created,
};
use super::tags::{self, claimed_address};
use super::vpc::Vpc;
use super::{retry_while, Attribute, Changes, Desired, Discovery, Found, Inputs, Leftovers, New, Ref};
use super::{Kind, Resolve, ResourceKind, Step};
use crate::aws::errors::{has_code, is_not_found_error, AwsResultExt};
use crate::config::Stack;
use crate::graph::Address;
use crate::live::{Live, Readiness};
use crate::plan::Value;

pub const ADDRESS: &str = "internet-gateway";

pub fn reference() -> Ref<InternetGateway> {
    Ref::new(ADDRESS)
}

pub struct InternetGateway;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub vpc: Ref<Vpc>,
}

#[derive(Debug, Clone)]
pub struct Observed {
    /// The VPC it is attached to, if any.
    pub vpc_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    Vpc,
    Tags,
}

impl ResourceKind for InternetGateway {
    const KIND: Kind = Kind::InternetGateway;
    const LEFTOVERS: Leftovers = Leftovers::BlockedBy;
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        if stack.network.is_given() {
            return vec![];
        }
        let name = format!("{}-igw", stack.meta.name);
        vec![New {
            address: ADDRESS.into(),
            tags: tags::of(stack, ADDRESS, &name),
            name,
            spec: Spec {
                vpc: super::vpc::reference(),
            },
            after: vec![],
        }]
    }

    fn references(spec: &Spec) -> Vec<Address> {
        vec![spec.vpc.address.clone()]
    }

    fn attributes(d: &Desired<'_, Self>, refs: &dyn Resolve) -> Vec<Attribute<Self>> {
        vec![
            Attribute::<Self>::new(Attr::Vpc, "network", refs.id_value(&d.spec.vpc.address), |l| {
                Value::from(l.observed.vpc_id.clone())
            })
            .in_place("ec2:AttachInternetGateway"),
            tags::attribute(Attr::Tags, d, "ec2:CreateTags"),
        ]
    }

    fn points_at(o: &Observed) -> Vec<String> {
        o.vpc_id.iter().cloned().collect()
    }

    /// A NAT gateway's public address keeps the gateway from being detached.
    fn delete_after() -> &'static [Kind] {
        &[Kind::NatGateway]
    }

    async fn discover(cx: &Discovery<'_>, _: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let out = cx
            .aws
            .ec2
            .describe_internet_gateways()
            .filters(stack_filter(cx.stack))
            .send()
            .await
            .aws("ec2:DescribeInternetGateways")?;
        Ok(out
            .internet_gateways()
            .iter()
            .filter_map(|g| {
                let tags = tag_map(g.tags());
                let address = claimed_address(&tags, cx.stack)?;
                let observed = Observed {
                    vpc_id: g.attachments().iter().find_map(|a| a.vpc_id()).map(str::to_string),
                };
                Some(
                    Self::found(
                        address,
                        g.internet_gateway_id()?,
                        "available",
                        Readiness::Ready,
                        observed,
                    )
                    .with_tags(tags),
                )
            })
            .collect())
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, inputs: &Inputs) -> Result<Found<Self>> {
        let ec2 = &step.aws().ec2;
        let vpc = inputs.id(&d.spec.vpc)?;
        let created = create_or_find(
            step,
            d.address,
            "ec2:CreateInternetGateway",
            finder::<Self>(step),
            || {
                ec2.create_internet_gateway()
                    .tag_specifications(tag_spec(d.tags, ResourceType::InternetGateway))
                    .customize()
                    .config_override(no_retry())
                    .send()
            },
        )
        .await?;
        let out = match created {
            Created::New(out) => out,
            Created::Found(found) => return Ok(found),
        };
        let igw = out
            .internet_gateway()
            .ok_or_else(|| anyhow!("CreateInternetGateway returned nothing"))?;
        let id = igw.internet_gateway_id().unwrap_or_default().to_string();
        attach(step, &id, &vpc).await?;
        let observed = Observed { vpc_id: Some(vpc) };
        Ok(Self::found(d.address, id, "available", Readiness::Ready, observed).with_tags(tag_map(igw.tags())))
    }

    async fn update(
        step: &Step<'_>,
        d: &Desired<'_, Self>,
        current: &Found<Self>,
        changes: &Changes<Self>,
        inputs: &Inputs,
    ) -> Result<Found<Self>> {
        let mut live = current.clone();
        for change in changes.iter() {
            match change {
                Attr::Tags => {
                    sync_tags(step, &live.id, &live.tags, d.tags).await?;
                    live.tags = d.tags.clone();
                }
                Attr::Vpc => {
                    // Attached to nothing (a half-finished create): attach it.
                    let vpc = inputs.id(&d.spec.vpc)?;
                    attach(step, &live.id, &vpc).await?;
                    live.observed.vpc_id = Some(vpc);
                }
            }
        }
        Ok(live)
    }

    async fn delete(step: &Step<'_>, live: &Found<Self>) -> Result<()> {
        let ec2 = &step.aws().ec2;
        let patience = std::time::Duration::from_secs(15 * 60);
        if let Some(vpc) = &live.observed.vpc_id {
            // Detaching fails while public addresses are still mapped in the VPC
            // (a NAT gateway or load balancer on its way out).
            let detached = retry_while(
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
                        .aws_on("ec2:DetachInternetGateway", &live.id)
                },
            )
            .await;
            match detached {
                // Not attached, or not seen yet: the delete below finds out which.
                Err(e) if has_code(&e, "Gateway.NotAttached") || is_not_found_error(&e) => {}
                other => {
                    other?;
                }
            }
        }
        delete_confirmed::<Self, _, _, _>(step, &live.id, || async {
            ec2.delete_internet_gateway()
                .internet_gateway_id(&live.id)
                .send()
                .await
                .aws_on("ec2:DeleteInternetGateway", &live.id)
        })
        .await
    }
}

/// Attaches the gateway; a retry whose first answer was lost finds it
/// attached already.
async fn attach(step: &Step<'_>, igw: &str, vpc: &str) -> Result<()> {
    let attached = once_visible(step, igw, || async {
        step.aws()
            .ec2
            .attach_internet_gateway()
            .internet_gateway_id(igw)
            .vpc_id(vpc)
            .send()
            .await
            .aws_on("ec2:AttachInternetGateway", igw)
    })
    .await;
    match attached {
        Err(e) if has_code(&e, "Resource.AlreadyAssociated") => Ok(()),
        other => other.map(|_| ()),
    }
}
