//! Account quotas a stack counts against, and what a plan needs beyond
//! them. A kind says what each of its resources uses ([`Quota`]); `ops`
//! reads the applied values and the current counts from AWS; `render`
//! shows the shortfalls. AWS refuses a create past a quota only when apply
//! reaches it (a NAT gateway at minute 3, after the VPC), so plan says it
//! first.

use serde::Serialize;

/// One quota a resource counts against, with its scope.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Quota {
    /// "VPCs per Region" (Service Quotas `vpc` L-F678F1CE, default 5).
    VpcsPerRegion,
    /// "NAT gateways per Availability Zone" (`vpc` L-FE5A380F, default 5).
    NatGatewaysPerAz(String),
    /// Elastic IP addresses per Region (EC2 account attribute
    /// `vpc-max-elastic-ips`, default 5).
    ElasticIps,
}

impl Quota {
    pub fn name(&self) -> &'static str {
        match self {
            Quota::VpcsPerRegion => "VPCs per Region",
            Quota::NatGatewaysPerAz(_) => "NAT gateways per Availability Zone",
            Quota::ElasticIps => "Elastic IP addresses",
        }
    }

    /// The Service Quotas service and quota code of an increase request.
    pub fn code(&self) -> (&'static str, &'static str) {
        match self {
            Quota::VpcsPerRegion => ("vpc", "L-F678F1CE"),
            Quota::NatGatewaysPerAz(_) => ("vpc", "L-FE5A380F"),
            Quota::ElasticIps => ("ec2", "L-0263D0A3"),
        }
    }

    /// What else frees room, besides a higher quota.
    fn or_else(&self) -> &'static str {
        match self {
            Quota::VpcsPerRegion => "delete VPCs you no longer use",
            Quota::NatGatewaysPerAz(_) => "delete unused NAT gateways, or set network.nat = \"single\"",
            Quota::ElasticIps => "release addresses you no longer use, or set network.nat = \"single\"",
        }
    }
}

/// A quota this plan would go past.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shortfall {
    /// "NAT gateways per Availability Zone"
    pub quota: String,
    /// The region, or for a per-AZ quota the AZ.
    pub scope: String,
    /// The account's applied value.
    pub limit: u32,
    /// In use now, by anything in the account.
    pub in_use: u32,
    /// What the plan creates.
    pub adding: u32,
    /// How to get room: the increase request and the alternatives.
    pub way_out: String,
}

impl Shortfall {
    pub fn new(quota: &Quota, region: &str, limit: u32, in_use: u32, adding: u32) -> Shortfall {
        let scope = match quota {
            Quota::NatGatewaysPerAz(az) => az.clone(),
            _ => region.to_string(),
        };
        let (service, code) = quota.code();
        let needed = in_use + adding;
        Shortfall {
            quota: quota.name().to_string(),
            scope,
            limit,
            in_use,
            adding,
            way_out: format!(
                "request {needed} with `aws service-quotas request-service-quota-increase --region {region} --service-code {service} --quota-code {code} --desired-value {needed}`, or {}",
                quota.or_else()
            ),
        }
    }
}
