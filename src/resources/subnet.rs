//! Public and private subnets, one of each per AZ, tagged for Kubernetes
//! load balancer discovery. Their CIDRs are derived so that adding an AZ
//! never changes an existing subnet.

use anyhow::{anyhow, Result};
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};
use ipnet::Ipv4Net;

use super::ec2::{
    create_or_find, delete_confirmed, finder, no_retry, once_visible, stack_filter, sync_tags, tag_map, tag_spec,
    Created,
};
use super::tags::{self, claimed_address};
use super::vpc::Vpc;
use super::{retry_while, Attribute, Changes, Desired, Discovery, Found, Inputs, Leftovers, New, Ref};
use super::{Kind, ResourceKind, Step};
use crate::aws::errors::AwsResultExt;
use crate::config::Stack;
use crate::graph::Address;
use crate::live::{Live, Readiness};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Public,
    Private,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Public => "public",
            Tier::Private => "private",
        }
    }

    /// Kubernetes finds subnets for load balancers by these tags.
    fn role_tag(self) -> (&'static str, &'static str) {
        match self {
            Tier::Public => ("kubernetes.io/role/elb", "1"),
            Tier::Private => ("kubernetes.io/role/internal-elb", "1"),
        }
    }
}

pub fn address(tier: Tier, az: &str) -> Address {
    format!("subnet.{}.{az}", tier.as_str())
}

/// The subnet of `tier` in `az`.
pub fn reference(tier: Tier, az: &str) -> Ref<Subnet> {
    Ref::new(address(tier, az))
}

/// The stack's subnets of one tier, in AZ order.
pub fn all(stack: &Stack, tier: Tier) -> Vec<Ref<Subnet>> {
    if let Some(given) = &stack.network.given {
        return given_ids(given, tier)
            .iter()
            .map(|id| Ref::new(given_address(tier, id)))
            .collect();
    }
    stack.network.azs.iter().map(|az| reference(tier, az)).collect()
}

/// A given subnet's address, by its id: known before plan reads its AZ.
pub fn given_address(tier: Tier, id: &str) -> Address {
    format!("subnet.{}.{id}", tier.as_str())
}

fn given_ids(given: &crate::config::GivenNetwork, tier: Tier) -> &[String] {
    match tier {
        Tier::Public => &given.public_subnet_ids,
        Tier::Private => &given.private_subnet_ids,
    }
}

/// The live record of a subnet the stack was given, as DescribeSubnets
/// answered it.
pub fn given(s: &aws_sdk_ec2::types::Subnet, tier: Tier) -> Live {
    let id = s.subnet_id().unwrap_or_default();
    let observed = Observed {
        vpc_id: s.vpc_id().unwrap_or_default().to_string(),
        cidr: s.cidr_block().unwrap_or_default().to_string(),
        az: s.availability_zone().unwrap_or_default().to_string(),
        map_public_ip: s.map_public_ip_on_launch().unwrap_or(false),
    };
    let mut found = Subnet::found(given_address(tier, id), id, "available", Readiness::Ready, observed)
        .with_tags(tag_map(s.tags()));
    found.origin = crate::live::Origin::Given;
    found.erase()
}

/// Whether tags carry the load balancer tag of `tier`.
pub fn has_load_balancer_tag(tags: &crate::live::Tags, tier: Tier) -> bool {
    let (k, v) = tier.role_tag();
    tags.get(k).map(String::as_str) == Some(v)
}

/// The load balancer tag of `tier`, as `key=value`.
pub fn load_balancer_tag(tier: Tier) -> String {
    let (k, v) = tier.role_tag();
    format!("{k}={v}")
}

pub struct Subnet;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub vpc: Ref<Vpc>,
    pub cidr: Ipv4Net,
    pub az: String,
    pub tier: Tier,
    /// Index of the AZ in `network.azs`, for the stack-file path of its CIDR.
    pub index: usize,
    /// A subnet of a VPC ekstack did not create: its id, and whether its
    /// load balancer tag is to be added (`--tag-subnets`). Nothing else of
    /// it is compared or changed.
    pub given: Option<GivenSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GivenSpec {
    pub id: String,
    pub tag_for_load_balancers: bool,
}

#[derive(Debug, Clone)]
pub struct Observed {
    pub vpc_id: String,
    pub cidr: String,
    pub az: String,
    pub map_public_ip: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    Cidr,
    Az,
    MapPublicIp,
    Tags,
    /// A given subnet's load balancer tag (`--tag-subnets`).
    LoadBalancerTag,
}

impl ResourceKind for Subnet {
    const KIND: Kind = Kind::Subnet;
    const LEFTOVERS: Leftovers = Leftovers::BlockedBy;
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        let n = &stack.network;
        let mut out = Vec::new();
        if let Some(given) = &n.given {
            for tier in [Tier::Public, Tier::Private] {
                for (index, id) in given_ids(given, tier).iter().enumerate() {
                    let az = given
                        .subnets
                        .iter()
                        .find(|s| &s.id == id)
                        .map(|s| s.az.clone())
                        .unwrap_or_default();
                    out.push(New {
                        address: given_address(tier, id),
                        name: id.clone(),
                        tags: Default::default(),
                        spec: Spec {
                            vpc: super::vpc::reference(),
                            cidr: n.cidr,
                            az,
                            tier,
                            index,
                            given: Some(GivenSpec {
                                id: id.clone(),
                                tag_for_load_balancers: stack.meta.tag_subnets,
                            }),
                        },
                        after: vec![],
                    });
                }
            }
            return out;
        }
        for (index, az) in n.azs.iter().enumerate() {
            for (tier, cidr) in [
                (Tier::Public, n.public_subnets[index]),
                (Tier::Private, n.private_subnets[index]),
            ] {
                let address = address(tier, az);
                let name = format!("{}-{}-{az}", stack.meta.name, tier.as_str());
                let mut tags = tags::of(stack, &address, &name);
                let (k, v) = tier.role_tag();
                tags.insert(k.into(), v.into());
                out.push(New {
                    address,
                    name,
                    tags,
                    spec: Spec {
                        vpc: super::vpc::reference(),
                        cidr,
                        az: az.clone(),
                        tier,
                        index,
                        given: None,
                    },
                    after: vec![],
                });
            }
        }
        out
    }

    fn purpose(d: &Desired<'_, Self>) -> crate::i18n::Msg {
        let key = match (d.spec.tier, d.spec.given.is_some()) {
            (Tier::Public, false) => "purpose.subnet.public",
            (Tier::Private, false) => "purpose.subnet.private",
            (Tier::Public, true) => "purpose.subnet.given_public",
            (Tier::Private, true) => "purpose.subnet.given_private",
        };
        crate::i18n::Msg::new(key).arg("az", &d.spec.az)
    }

    fn references(spec: &Spec) -> Vec<Address> {
        vec![spec.vpc.address.clone()]
    }

    fn attributes(d: &Desired<'_, Self>, _: &dyn super::Resolve) -> Vec<Attribute<Self>> {
        let s = d.spec;
        if let Some(given) = &s.given {
            // Only the load balancer tag, and only when asked to add it.
            let tier = s.tier;
            return given
                .tag_for_load_balancers
                .then(|| {
                    Attribute::<Self>::new(
                        Attr::LoadBalancerTag,
                        format!("network.{}_subnet_ids[{}]", tier.as_str(), s.index),
                        load_balancer_tag(tier),
                        move |l| {
                            if has_load_balancer_tag(&l.tags, tier) {
                                load_balancer_tag(tier).into()
                            } else {
                                crate::plan::Value::Null
                            }
                        },
                    )
                    .in_place("ec2:CreateTags")
                    .note(crate::i18n::Msg::new("note.tag_subnets"))
                })
                .into_iter()
                .collect();
        }
        let way_out = || crate::i18n::Msg::new("impossible.subnet_fixed");
        vec![
            Attribute::<Self>::new(
                Attr::Cidr,
                format!("network.{}_subnets[{}]", s.tier.as_str(), s.index),
                s.cidr.to_string(),
                |l| l.observed.cidr.clone().into(),
            )
            .impossible(way_out()),
            Attribute::<Self>::new(Attr::Az, "network.azs", s.az.clone(), |l| l.observed.az.clone().into())
                .impossible(way_out()),
            Attribute::<Self>::new(Attr::MapPublicIp, "network", s.tier == Tier::Public, |l| {
                l.observed.map_public_ip.into()
            })
            .in_place("ec2:ModifySubnetAttribute"),
            tags::attribute(Attr::Tags, d, "ec2:CreateTags"),
        ]
    }

    fn points_at(o: &Observed) -> Vec<String> {
        vec![o.vpc_id.clone()]
    }

    async fn discover(cx: &Discovery<'_>, _: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let out = cx
            .aws
            .ec2
            .describe_subnets()
            .filters(stack_filter(cx.stack))
            .send()
            .await
            .aws("ec2:DescribeSubnets")?;
        Ok(out
            .subnets()
            .iter()
            .filter_map(|s| {
                let tags = tag_map(s.tags());
                let address = claimed_address(&tags, cx.stack)?;
                let state = s.state().map(|s| s.as_str().to_string()).unwrap_or_default();
                let readiness = if state == "pending" {
                    Readiness::Pending
                } else {
                    Readiness::Ready
                };
                let observed = Observed {
                    vpc_id: s.vpc_id().unwrap_or_default().to_string(),
                    cidr: s.cidr_block().unwrap_or_default().to_string(),
                    az: s.availability_zone().unwrap_or_default().to_string(),
                    map_public_ip: s.map_public_ip_on_launch().unwrap_or(false),
                };
                Some(Self::found(address, s.subnet_id()?, state, readiness, observed).with_tags(tags))
            })
            .collect())
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, inputs: &Inputs) -> Result<Found<Self>> {
        let s = d.spec;
        if let Some(given) = &s.given {
            anyhow::bail!(
                "the given subnet {} was not found; ekstack never creates a given subnet",
                given.id
            );
        }
        let ec2 = &step.aws().ec2;
        let vpc = inputs.id(&s.vpc)?;
        let created = create_or_find(step, d.address, "ec2:CreateSubnet", finder::<Self>(step), || {
            ec2.create_subnet()
                .vpc_id(&vpc)
                .cidr_block(s.cidr.to_string())
                .availability_zone(&s.az)
                .tag_specifications(tag_spec(d.tags, ResourceType::Subnet))
                .customize()
                .config_override(no_retry())
                .send()
        })
        .await?;
        let out = match created {
            Created::New(out) => out,
            Created::Found(found) => return Ok(found),
        };
        let subnet = out.subnet().ok_or_else(|| anyhow!("CreateSubnet returned nothing"))?;
        let id = subnet.subnet_id().unwrap_or_default().to_string();
        let public = s.tier == Tier::Public;
        set_public_ip(step, &id, public).await?;
        let observed = Observed {
            vpc_id: vpc,
            cidr: s.cidr.to_string(),
            az: s.az.clone(),
            map_public_ip: public,
        };
        Ok(Self::found(d.address, id, "available", Readiness::Ready, observed).with_tags(tag_map(subnet.tags())))
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
                Attr::MapPublicIp => {
                    let on = d.spec.tier == Tier::Public;
                    set_public_ip(step, &live.id, on).await?;
                    live.observed.map_public_ip = on;
                }
                Attr::Cidr | Attr::Az => anyhow::bail!("a subnet's CIDR and AZ cannot change in place"),
                // The one change ekstack makes to a given subnet.
                Attr::LoadBalancerTag => {
                    let (k, v) = d.spec.tier.role_tag();
                    step.aws()
                        .ec2
                        .create_tags()
                        .resources(&live.id)
                        .tags(aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())
                        .send()
                        .await
                        .aws_on("ec2:CreateTags", &live.id)?;
                    live.tags.insert(k.into(), v.into());
                }
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
                "waiting for network interfaces to leave",
                patience,
                || async {
                    ec2.delete_subnet()
                        .subnet_id(&live.id)
                        .send()
                        .await
                        .aws_on("ec2:DeleteSubnet", &live.id)
                },
            )
        })
        .await
    }
}

async fn set_public_ip(step: &Step<'_>, id: &str, on: bool) -> Result<()> {
    once_visible(step, id, || async {
        step.aws()
            .ec2
            .modify_subnet_attribute()
            .subnet_id(id)
            .map_public_ip_on_launch(AttributeBooleanValue::builder().value(on).build())
            .send()
            .await
            .aws_on("ec2:ModifySubnetAttribute", id)
    })
    .await?;
    Ok(())
}
