//! EC2 as AWS documents it: ids not visible right after their create, NAT
//! gateways that take minutes to come and go and hold their public address
//! meanwhile, and an account that sees only some of a region's AZs.

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;
use hyper::StatusCode;

use super::wire::{self, Reply};
use super::{Before, Req, Settings};

#[derive(Default)]
pub struct State {
    /// Ids EC2 has just given out, and until when it does not see them.
    fresh: HashMap<String, Instant>,
    /// Subnets as made: id → where.
    pub subnets: HashMap<String, Subnet>,
    /// NAT gateways as made: id → their life.
    nats: HashMap<String, Nat>,
}

#[derive(Debug, Clone)]
pub struct Subnet {
    pub az: String,
    pub zone_id: String,
    pub vpc: String,
}

#[derive(Debug, Clone)]
struct Nat {
    pending_until: Instant,
    deleting_until: Option<Instant>,
    vpc: String,
    allocation: String,
}

impl Nat {
    fn holds_its_address(&self, now: Instant) -> bool {
        self.deleting_until.is_none_or(|until| until > now)
    }
}

/// The id a create answer carries, by action.
fn created_id(action: &str) -> Option<&'static str> {
    Some(match action {
        "CreateVpc" => "vpcId",
        "CreateSubnet" => "subnetId",
        "CreateRouteTable" => "routeTableId",
        "CreateInternetGateway" => "internetGatewayId",
        "CreateSecurityGroup" => "groupId",
        "AllocateAddress" => "allocationId",
        "CreateNatGateway" => "natGatewayId",
        _ => return None,
    })
}

/// Whether `action` is one of those that fail for an id EC2 does not see
/// yet ("Eventual consistency in the Amazon EC2 API",
/// https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html:
/// a resource "might not be available for subsequent API calls" right after
/// its create). Describes fail only when they name the id explicitly.
fn names_ids(action: &str) -> bool {
    [
        "Modify",
        "Attach",
        "Detach",
        "Associate",
        "Disassociate",
        "Authorize",
        "Revoke",
        "Delete",
        "Release",
    ]
    .iter()
    .any(|p| action.starts_with(p))
        || matches!(action, "CreateRoute" | "ReplaceRoute")
}

/// AWS's "does not exist" for an id, as real answers word it.
fn not_found(action: &str, id: &str) -> Reply {
    let (code, message) = match id.split('-').next().unwrap_or("") {
        "vpc" => ("InvalidVpcID.NotFound", format!("The vpc ID '{id}' does not exist")),
        "subnet" => (
            "InvalidSubnetID.NotFound",
            format!("The subnet ID '{id}' does not exist"),
        ),
        "rtb" => (
            "InvalidRouteTableID.NotFound",
            format!("The routeTable ID '{id}' does not exist"),
        ),
        "igw" => (
            "InvalidInternetGatewayID.NotFound",
            format!("The internetGateway ID '{id}' does not exist"),
        ),
        "sg" => (
            "InvalidGroup.NotFound",
            format!("The security group '{id}' does not exist"),
        ),
        "eipalloc" => (
            "InvalidAllocationID.NotFound",
            format!("The allocation ID '{id}' does not exist"),
        ),
        // The NAT gateway's own APIs and the route APIs word it differently.
        "nat" if action.contains("NatGateway") => ("NatGatewayNotFound", format!("NAT gateway {id} was not found")),
        "nat" => (
            "InvalidNatGatewayID.NotFound",
            format!("The natGateway ID '{id}' does not exist"),
        ),
        _ => ("InvalidParameterValue", format!("{id} does not exist")),
    };
    Reply::ec2_error(code, &message)
}

pub fn before(settings: &Settings, st: &State, req: &Req, now: Instant) -> Before {
    let action = req.action();
    if settings.consistency {
        let describe_by_id = action.starts_with("Describe");
        let candidates = req.form.iter().filter(|(k, _)| {
            if describe_by_id {
                // VpcId.1, NatGatewayId.1, AllocationId.1 …
                k.rsplit_once('.')
                    .is_some_and(|(name, n)| name.ends_with("Id") && n.parse::<u32>().is_ok())
            } else {
                names_ids(action)
            }
        });
        for (_, v) in candidates {
            if st.fresh.get(v).is_some_and(|until| *until > now) {
                return Before::Answer(not_found(action, v));
            }
        }
    }
    match action {
        // An internet gateway stays attached while public addresses are
        // mapped in its VPC: a NAT gateway holds its Elastic IP until it is
        // deleted ("Detach an internet gateway from a VPC": "You can't
        // detach an internet gateway if the VPC has resources with
        // associated public IP addresses or Elastic IP addresses").
        "DetachInternetGateway" => {
            let vpc = req.param("VpcId").unwrap_or_default();
            if st.nats.values().any(|n| n.vpc == vpc && n.holds_its_address(now)) {
                return Before::Answer(Reply::ec2_error(
                    "DependencyViolation",
                    &format!("Network {vpc} has some mapped public address(es). Please unmap those public address(es) before detaching the gateway."),
                ));
            }
        }
        // An address a NAT gateway still holds cannot be released.
        "ReleaseAddress" => {
            let allocation = req.param("AllocationId").unwrap_or_default();
            if st
                .nats
                .values()
                .any(|n| n.allocation == allocation && n.holds_its_address(now))
            {
                return Before::Answer(Reply::ec2_error(
                    "InvalidIPAddress.InUse",
                    &format!("Address {allocation} is in use."),
                ));
            }
        }
        _ => {}
    }
    Before::Forward(None)
}

pub fn after(settings: &Settings, st: &mut State, req: &Req, status: StatusCode, body: &mut Bytes, now: Instant) {
    if status != StatusCode::OK {
        return;
    }
    let action = req.action();
    let Ok(text) = std::str::from_utf8(body) else { return };
    let mut text = text.to_string();
    if let Some(tag) = created_id(action) {
        if let Some(id) = wire::tag(&text, tag) {
            st.fresh.insert(id.to_string(), now + settings.ec2_visibility);
        }
    }
    match action {
        "CreateSubnet" => {
            if let Some(id) = wire::tag(&text, "subnetId") {
                st.subnets.insert(
                    id.to_string(),
                    Subnet {
                        az: wire::tag(&text, "availabilityZone").unwrap_or_default().to_string(),
                        zone_id: wire::tag(&text, "availabilityZoneId").unwrap_or_default().to_string(),
                        vpc: wire::tag(&text, "vpcId").unwrap_or_default().to_string(),
                    },
                );
            }
        }
        // A NAT gateway is pending for about a minute and a half (DESIGN §8).
        "CreateNatGateway" => {
            if let Some(id) = wire::tag(&text, "natGatewayId").map(str::to_string) {
                let subnet = req.param("SubnetId").unwrap_or_default();
                st.nats.insert(
                    id,
                    Nat {
                        pending_until: now + settings.model(1.5),
                        deleting_until: None,
                        vpc: st.subnets.get(subnet).map(|s| s.vpc.clone()).unwrap_or_default(),
                        allocation: req.param("AllocationId").unwrap_or_default().to_string(),
                    },
                );
                text = nat_states(&text, &st.nats, now);
            }
        }
        // Deleting takes about a minute; the address is held meanwhile.
        "DeleteNatGateway" => {
            if let Some(nat) = req.param("NatGatewayId").and_then(|id| st.nats.get_mut(id)) {
                nat.deleting_until.get_or_insert(now + settings.model(1.0));
            }
        }
        "DescribeNatGateways" => text = nat_states(&text, &st.nats, now),
        // The account sees only some of the region's AZs
        // (DescribeAvailabilityZones lists the zones "available to you").
        "DescribeAvailabilityZones" => {
            text = wire::map_blocks(&text, "item", |item| {
                let hidden = wire::tag(item, "zoneName").is_some_and(|z| settings.hidden_azs.iter().any(|h| h == z));
                if hidden {
                    "<zoneState>hidden</zoneState>".to_string()
                } else {
                    item.to_string()
                }
            });
            text = drop_hidden_items(&text);
        }
        _ => return,
    }
    *body = Bytes::from(text);
}

/// Shows each NAT gateway's state as AWS would: `pending` until it is
/// made, `deleting` until it is gone.
fn nat_states(xml: &str, nats: &HashMap<String, Nat>, now: Instant) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(i) = rest.find("<natGatewayId>") {
        let start = i + "<natGatewayId>".len();
        let Some(len) = rest[start..].find("</natGatewayId>") else {
            break;
        };
        let id = &rest[start..start + len];
        let state = nats.get(id).and_then(|n| match n.deleting_until {
            Some(until) if until > now => Some("deleting"),
            None if n.pending_until > now => Some("pending"),
            _ => None,
        });
        let after_id = start + len;
        out.push_str(&rest[..after_id]);
        rest = &rest[after_id..];
        if let (Some(state), Some(s)) = (state, rest.find("<state>")) {
            let value = s + "<state>".len();
            if let Some(e) = rest[value..].find("</state>") {
                out.push_str(&rest[..value]);
                out.push_str(state);
                rest = &rest[value + e..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn drop_hidden_items(xml: &str) -> String {
    xml.replace("<item><zoneState>hidden</zoneState></item>", "")
}
