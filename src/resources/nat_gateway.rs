//! NAT gateways: egress for the private subnets. Created with a client token
//! so that a retried create after a lost response returns the same gateway.

use anyhow::{anyhow, bail, Result};
use aws_sdk_ec2::types::{Filter, NatGateway, ResourceType};

use super::ec2::{claimed_address, create_or_find, no_retry, stack_filter, sync_tags, tag_map, tag_spec, Created};
use super::{live_user_tags, no_update, poll, ready_timeout, tags_attr, Polled, Step};
use crate::aws::errors::{is_not_found_error, AwsResultExt};
use crate::aws::Aws;
use crate::config::Stack;
use crate::finder;
use crate::graph::{Kind, Resource, Spec};
use crate::live::{Live, Readiness};
use crate::plan::diff::Attr;
use crate::plan::{ResourceAction, KNOWN_AFTER_APPLY};

pub fn attrs(stack: &Stack, r: &Resource, id_of: &dyn Fn(&str) -> Option<String>) -> Vec<Attr> {
    let Spec::NatGateway { subnet, eip } = &r.spec else {
        return vec![];
    };
    let why = "a NAT gateway's subnet and address are fixed at creation";
    vec![
        Attr::replace(
            "subnet",
            "network.nat",
            id_of(subnet).unwrap_or_else(|| KNOWN_AFTER_APPLY.into()),
            why,
        ),
        Attr::replace(
            "eip",
            "network.nat",
            id_of(eip).unwrap_or_else(|| KNOWN_AFTER_APPLY.into()),
            why,
        ),
        tags_attr(stack, "ec2:CreateTags"),
    ]
}

fn readiness(state: &str) -> Readiness {
    match state {
        "available" => Readiness::Ready,
        "pending" => Readiness::Pending,
        "failed" => Readiness::Failed,
        _ => Readiness::Deleting,
    }
}

fn to_live(n: &NatGateway, address: String) -> Option<Live> {
    let tags = tag_map(n.tags());
    let state = n.state().map(|s| s.as_str().to_string()).unwrap_or_default();
    let allocation = n
        .nat_gateway_addresses()
        .iter()
        .find_map(|a| a.allocation_id())
        .unwrap_or_default();
    Some(
        Live::new(
            Kind::NatGateway,
            address,
            n.nat_gateway_id()?,
            state.clone(),
            readiness(&state),
        )
        .attr("subnet", n.subnet_id().unwrap_or_default())
        .attr("eip", allocation)
        .attr("tags", live_user_tags(&tags))
        .with_tags(tags),
    )
}

pub async fn discover(aws: &Aws, stack: &str) -> Result<Vec<Live>> {
    let out = aws
        .ec2
        .describe_nat_gateways()
        .filter(stack_filter(stack))
        .send()
        .await
        .aws("ec2:DescribeNatGateways")?;
    Ok(out
        .nat_gateways()
        .iter()
        .filter(|n| n.state().is_some_and(|s| s.as_str() != "deleted"))
        .filter_map(|n| {
            let address = claimed_address(&tag_map(n.tags()), stack)?;
            to_live(n, address)
        })
        .collect())
}

pub async fn create(step: &Step<'_>, r: &Resource) -> Result<Live> {
    let Spec::NatGateway { subnet, eip } = &r.spec else {
        bail!("internal error: {} is not a NAT gateway", r.address)
    };
    let subnet = step.ctx.id_of(subnet)?;
    let allocation = step.ctx.id_of(eip)?;
    // The token is unique to this address and subnet pair: retrying the same
    // create is idempotent, while a later re-create (new address) is not.
    let token = format!("ekstack-{allocation}-{}", subnet.trim_start_matches("subnet-"));
    let created = create_or_find(step, r, "ec2:CreateNatGateway", finder!(step, discover), || {
        step.aws()
            .ec2
            .create_nat_gateway()
            .subnet_id(&subnet)
            .allocation_id(&allocation)
            .client_token(token.chars().take(64).collect::<String>())
            .tag_specifications(tag_spec(step, r, ResourceType::Natgateway, &[]))
            .customize()
            .config_override(no_retry())
            .send()
    })
    .await?;
    let out = match created {
        Created::New(out) => out,
        Created::Found(live) => return Ok(live.detail("adopted", true)),
    };
    let nat = out
        .nat_gateway()
        .ok_or_else(|| anyhow!("CreateNatGateway returned nothing"))?;
    to_live(nat, r.address.clone()).ok_or_else(|| anyhow!("CreateNatGateway returned no id"))
}

async fn describe(aws: &Aws, id: &str) -> Result<Option<NatGateway>> {
    let out = aws
        .ec2
        .describe_nat_gateways()
        .filter(Filter::builder().name("nat-gateway-id").values(id).build())
        .send()
        .await
        .aws("ec2:DescribeNatGateways")?;
    Ok(out.nat_gateways().first().cloned())
}

pub async fn wait_ready(step: &Step<'_>, live: &Live) -> Result<Live> {
    let timeout = ready_timeout(Kind::NatGateway);
    poll(step, &format!("NAT gateway {}", live.id), timeout, || async {
        let Some(n) = describe(step.aws(), &live.id).await? else {
            return Ok(Polled::Pending("not visible yet".into()));
        };
        let l = to_live(&n, live.address.clone()).ok_or_else(|| anyhow!("NAT gateway without id"))?;
        match l.readiness {
            Readiness::Ready => Ok(Polled::Ready(l)),
            Readiness::Pending => Ok(Polled::Pending(l.state)),
            _ => {
                let reason = n.failure_message().unwrap_or("no reason given");
                bail!("NAT gateway {} is {}: {reason}", live.id, l.state)
            }
        }
    })
    .await
}

pub async fn update(step: &Step<'_>, _r: &Resource, live: &Live, action: &ResourceAction) -> Result<Live> {
    for change in &action.changes {
        match change.attribute.as_str() {
            "tags" => sync_tags(step, &live.id, &live.tags).await?,
            _ => return Err(no_update(Kind::NatGateway, action)),
        }
    }
    Ok(live.clone())
}

pub async fn delete(step: &Step<'_>, live: &Live) -> Result<()> {
    let aws = step.aws();
    match aws
        .ec2
        .delete_nat_gateway()
        .nat_gateway_id(&live.id)
        .send()
        .await
        .aws("ec2:DeleteNatGateway")
    {
        Err(e) if is_not_found_error(&e) => return Ok(()),
        // Already on its way out (a re-run of a destroy): just wait for it.
        Err(_) if live.readiness == Readiness::Deleting => {}
        other => {
            other?;
        }
    }
    // Its address and ENI are freed only once it reaches "deleted".
    poll(
        step,
        &format!("NAT gateway {} to be deleted", live.id),
        ready_timeout(Kind::NatGateway),
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
