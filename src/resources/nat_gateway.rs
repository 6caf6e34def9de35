//! NAT gateways: egress for the private subnets. One in the first AZ for
//! `nat = "single"`, one per AZ for `"per-az"`. Created with a client token
//! so that a retried create after a lost response returns the same gateway.

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use aws_sdk_ec2::types::{Filter, NatGateway as SdkNatGateway, ResourceType};

use super::ec2::{
    create_or_find, delete_confirmed, finder, no_retry, stack_filter, sync_tags, tag_map, tag_spec, Created,
};
use super::eip::Eip;
use super::internet_gateway;
use super::subnet::{Subnet, Tier};
use super::tags::{self, claimed_address};
use super::{Attribute, Changes, Desired, Discovery, Found, Inputs, New, Polled, Ref, Resolve};
use super::{Kind, ResourceKind, Step};
use crate::aws::errors::AwsResultExt;
use crate::aws::Aws;
use crate::config::{NatMode, Stack};
use crate::cost::Billable;
use crate::graph::Address;
use crate::live::{Live, LiveState, Readiness};
use crate::quota::Quota;

/// The AZs that get a NAT gateway. The single NAT has the first AZ's
/// address, so promoting to per-AZ keeps it.
pub fn azs(stack: &Stack) -> Vec<&String> {
    let azs = &stack.network.azs;
    match stack.network.nat {
        NatMode::None => vec![],
        NatMode::Single => azs.iter().take(1).collect(),
        NatMode::PerAz => azs.iter().collect(),
    }
}

pub fn address(az: &str) -> Address {
    format!("nat-gateway.{az}")
}

/// The NAT gateway the private subnet of `az` sends its traffic through.
pub fn serving(stack: &Stack, az: &str) -> Option<Ref<NatGateway>> {
    let azs = &stack.network.azs;
    match stack.network.nat {
        NatMode::None => None,
        NatMode::Single => azs.first().map(|first| Ref::new(address(first))),
        NatMode::PerAz => Some(Ref::new(address(az))),
    }
}

pub struct NatGateway;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub subnet: Ref<Subnet>,
    pub eip: Ref<Eip>,
    /// The AZ of its subnet: NAT gateways are counted per AZ.
    pub az: String,
}

#[derive(Debug, Clone)]
pub struct Observed {
    pub subnet_id: String,
    pub allocation_id: String,
    pub failure: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    Subnet,
    Eip,
    Tags,
}

fn readiness(state: &str) -> Readiness {
    match state {
        "available" => Readiness::Ready,
        "pending" => Readiness::Pending,
        "failed" => Readiness::Failed,
        _ => Readiness::Deleting,
    }
}

fn to_found(n: &SdkNatGateway, address: String) -> Option<Found<NatGateway>> {
    let state = n.state().map(|s| s.as_str().to_string()).unwrap_or_default();
    let observed = Observed {
        subnet_id: n.subnet_id().unwrap_or_default().to_string(),
        allocation_id: n
            .nat_gateway_addresses()
            .iter()
            .find_map(|a| a.allocation_id())
            .unwrap_or_default()
            .to_string(),
        failure: n.failure_message().map(str::to_string),
    };
    let readiness = readiness(&state);
    Some(NatGateway::found(address, n.nat_gateway_id()?, state, readiness, observed).with_tags(tag_map(n.tags())))
}

impl ResourceKind for NatGateway {
    const KIND: Kind = Kind::NatGateway;
    const READY_TIMEOUT: Duration = Duration::from_secs(10 * 60);
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    /// DESIGN §8: about 1.5 minutes to make, 1 to delete.
    fn usual(verb: super::Verb, _: Option<&Spec>) -> Option<super::kind::Expected> {
        match verb {
            super::Verb::Create => super::minutes(1.0, 2.0, "EC2 is still placing the gateway in its subnet"),
            super::Verb::Delete => super::minutes(0.5, 1.5, "EC2 is still releasing the gateway's network interface"),
            super::Verb::Update => None,
        }
    }

    /// Nodes and Fargate pods reach ECR and AWS's APIs through it while
    /// they drain; once they are gone nothing needs egress, and the NAT
    /// gateway goes while the control plane is still being deleted.
    fn delete_after() -> &'static [Kind] {
        &[Kind::EksNodegroup, Kind::EksFargateProfile]
    }

    /// DeleteNatGateway leaves the routes to it as blackholes, so the
    /// route tables (which wait for the sweep of what the cluster left)
    /// are deleted after it, not before.
    fn outlived_by_pointers_from() -> &'static [Kind] {
        &[Kind::RouteTable]
    }

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        azs(stack)
            .into_iter()
            .map(|az| {
                let address = address(az);
                let name = format!("{}-nat-{az}", stack.meta.name);
                New {
                    tags: tags::of(stack, &address, &name),
                    address,
                    name,
                    spec: Spec {
                        subnet: super::subnet::reference(Tier::Public, az),
                        eip: super::eip::reference(az),
                        az: az.to_string(),
                    },
                    // A public NAT gateway needs the VPC's internet gateway attached.
                    after: vec![internet_gateway::ADDRESS.into()],
                }
            })
            .collect()
    }

    fn purpose(d: &Desired<'_, Self>) -> crate::i18n::Msg {
        crate::i18n::Msg::new("purpose.nat_gateway").arg("az", &d.spec.az)
    }

    fn references(spec: &Spec) -> Vec<Address> {
        vec![spec.subnet.address.clone(), spec.eip.address.clone()]
    }

    fn attributes(d: &Desired<'_, Self>, refs: &dyn Resolve) -> Vec<Attribute<Self>> {
        let why = "a NAT gateway's subnet and address are fixed at creation";
        vec![
            Attribute::<Self>::new(
                Attr::Subnet,
                "network.nat",
                refs.id_value(&d.spec.subnet.address),
                |l| l.observed.subnet_id.clone().into(),
            )
            .replace(why),
            Attribute::<Self>::new(Attr::Eip, "network.nat", refs.id_value(&d.spec.eip.address), |l| {
                l.observed.allocation_id.clone().into()
            })
            .replace(why),
            tags::attribute(Attr::Tags, d, "ec2:CreateTags"),
        ]
    }

    fn points_at(o: &Observed) -> Vec<String> {
        vec![o.subnet_id.clone(), o.allocation_id.clone()]
    }

    fn quotas(d: &Desired<'_, Self>) -> Vec<Quota> {
        vec![Quota::NatGatewaysPerAz(d.spec.az.clone())]
    }

    fn billables(_: &Desired<'_, Self>) -> Vec<Billable> {
        vec![Billable::NatGateway]
    }

    fn live_billables(_: &Found<Self>, _: &LiveState) -> Vec<Billable> {
        vec![Billable::NatGateway]
    }

    async fn discover(cx: &Discovery<'_>, _: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let out = cx
            .aws
            .ec2
            .describe_nat_gateways()
            .filter(stack_filter(cx.stack))
            .send()
            .await
            .aws("ec2:DescribeNatGateways")?;
        Ok(out
            .nat_gateways()
            .iter()
            // Deleted gateways stay listed for a while, on AWS as in moto.
            .filter(|n| n.state().is_some_and(|s| s.as_str() != "deleted"))
            // moto ignores the tag filter here; the claim is checked again.
            .filter_map(|n| to_found(n, claimed_address(&tag_map(n.tags()), cx.stack)?))
            .collect())
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, inputs: &Inputs) -> Result<Found<Self>> {
        let subnet = inputs.id(&d.spec.subnet)?;
        let allocation = inputs.id(&d.spec.eip)?;
        // The token is unique to this address and subnet pair: retrying the same
        // create is idempotent, while a later re-create (new address) is not.
        let token = format!("ekstack-{allocation}-{}", subnet.trim_start_matches("subnet-"));
        let created = create_or_find(step, d.address, "ec2:CreateNatGateway", finder::<Self>(step), || {
            step.aws()
                .ec2
                .create_nat_gateway()
                .subnet_id(&subnet)
                .allocation_id(&allocation)
                .client_token(token.chars().take(64).collect::<String>())
                .tag_specifications(tag_spec(d.tags, ResourceType::Natgateway))
                .customize()
                .config_override(no_retry())
                .send()
        })
        .await?;
        let out = match created {
            Created::New(out) => out,
            Created::Found(found) => return Ok(found),
        };
        let nat = out
            .nat_gateway()
            .ok_or_else(|| anyhow!("CreateNatGateway returned nothing"))?;
        to_found(nat, d.address.to_string()).ok_or_else(|| anyhow!("CreateNatGateway returned no id"))
    }

    async fn wait_ready(step: &Step<'_>, live: &Found<Self>) -> Result<Found<Self>> {
        super::poll_usual(
            step,
            &format!("NAT gateway {}", live.id),
            Self::READY_TIMEOUT,
            || async {
                let Some(n) = describe(step.aws(), &live.id).await? else {
                    return Ok(Polled::Pending("not visible yet".into()));
                };
                let l = to_found(&n, live.address.clone()).ok_or_else(|| anyhow!("NAT gateway without id"))?;
                match l.readiness {
                    Readiness::Ready => Ok(Polled::Ready(l)),
                    Readiness::Pending => Ok(Polled::Pending(l.state)),
                    _ => {
                        let reason = l.observed.failure.as_deref().unwrap_or("no reason given");
                        bail!("NAT gateway {} is {}: {reason}", live.id, l.state)
                    }
                }
            },
        )
        .await
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
                Attr::Subnet | Attr::Eip => bail!("a NAT gateway's subnet and address are fixed at creation"),
            }
        }
        Ok(live)
    }

    async fn delete(step: &Step<'_>, live: &Found<Self>) -> Result<()> {
        let aws = step.aws();
        let deleted = delete_confirmed::<Self, _, _, _>(step, &live.id, || async {
            aws.ec2
                .delete_nat_gateway()
                .nat_gateway_id(&live.id)
                .send()
                .await
                .aws_on("ec2:DeleteNatGateway", &live.id)
        })
        .await;
        match deleted {
            // Already on its way out (a re-run of a destroy): just wait for it.
            Err(_) if live.readiness == Readiness::Deleting => {}
            other => other?,
        }
        // Its address and ENI are freed only once it reaches "deleted".
        super::poll_usual(
            step,
            &format!("NAT gateway {} to be deleted", live.id),
            Self::READY_TIMEOUT,
            || async {
                match describe(aws, &live.id).await? {
                    None => Ok(Polled::Ready(())),
                    Some(n) if n.state().is_some_and(|s| s.as_str() == "deleted") => Ok(Polled::Ready(())),
                    Some(n) => Ok(Polled::Pending(
                        n.state().map(|s| s.as_str().to_string()).unwrap_or_default(),
                    )),
                }
            },
        )
        .await
    }
}

async fn describe(aws: &Aws, id: &str) -> Result<Option<SdkNatGateway>> {
    let out = aws
        .ec2
        .describe_nat_gateways()
        .filter(Filter::builder().name("nat-gateway-id").values(id).build())
        .send()
        .await
        .aws_on("ec2:DescribeNatGateways", id)?;
    Ok(out.nat_gateways().first().cloned())
}
