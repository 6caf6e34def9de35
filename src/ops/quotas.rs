//! Quota preflight: what the plan creates, against the account's applied
//! quotas and what it uses now. AWS refuses a create past a quota only when
//! apply reaches it; plan says so first. Reads only when the plan creates
//! something that counts against a quota, so a converged plan makes no
//! extra call.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::Result;
use aws_sdk_ec2::types::{AccountAttributeName, Filter};

use crate::aws::errors::{has_code, AwsResultExt};
use crate::aws::Aws;
use crate::graph::Graph;
use crate::plan::{Action, Plan};
use crate::quota::{Quota, Shortfall};

/// What the preflight found.
#[derive(Debug, Default)]
pub struct Checked {
    pub shortfalls: Vec<Shortfall>,
    /// Quotas it could not read (no permission for Service Quotas).
    pub warnings: Vec<String>,
}

/// Checks each quota the plan's creates count against.
pub async fn check(aws: &Aws, plan: &Plan, graph: &Graph) -> Result<Checked> {
    let mut adding: BTreeMap<Quota, u32> = BTreeMap::new();
    for a in plan.actions.iter().filter(|a| a.action == Action::Create) {
        if let Some(r) = graph.get(&a.address) {
            for q in r.kind.ops().quotas(r) {
                *adding.entry(q).or_default() += 1;
            }
        }
    }
    let mut checked = Checked::default();
    if adding.is_empty() {
        return Ok(checked);
    }
    let families: BTreeSet<Family> = adding.keys().map(Family::of).collect();
    let reads = families.iter().map(|f| read(aws, *f));
    let read = futures_util::future::try_join_all(reads).await?;
    let by_family: HashMap<Family, &Reading> = families.iter().copied().zip(read.iter()).collect();
    for (quota, adding) in &adding {
        let reading = by_family[&Family::of(quota)];
        let Some(limit) = reading.limit else {
            let (service, code) = quota.code();
            let why = reading.unreadable.as_deref().unwrap_or("unknown");
            let warning = format!(
                "could not read the quota \"{}\" ({service} {code}): {why}; not checked",
                quota.name()
            );
            if !checked.warnings.contains(&warning) {
                checked.warnings.push(warning);
            }
            continue;
        };
        let in_use = reading.in_use(quota);
        if in_use + adding > limit {
            checked
                .shortfalls
                .push(Shortfall::new(quota, &aws.region, limit, in_use, *adding));
        }
    }
    Ok(checked)
}

/// Quotas read together: the per-AZ NAT quota is one value and one count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Family {
    Vpcs,
    NatGateways,
    ElasticIps,
}

impl Family {
    fn of(quota: &Quota) -> Family {
        match quota {
            Quota::VpcsPerRegion => Family::Vpcs,
            Quota::NatGatewaysPerAz(_) => Family::NatGateways,
            Quota::ElasticIps => Family::ElasticIps,
        }
    }
}

#[derive(Debug)]
struct Reading {
    /// `None` when the quota could not be read.
    limit: Option<u32>,
    unreadable: Option<String>,
    /// In use in the region, or per AZ for NAT gateways.
    in_region: u32,
    per_az: HashMap<String, u32>,
}

impl Reading {
    fn in_use(&self, quota: &Quota) -> u32 {
        match quota {
            Quota::NatGatewaysPerAz(az) => self.per_az.get(az).copied().unwrap_or(0),
            _ => self.in_region,
        }
    }
}

async fn read(aws: &Aws, family: Family) -> Result<Reading> {
    let (limit, in_region, per_az) = match family {
        Family::Vpcs => {
            let (limit, count) = tokio::try_join!(service_quota(aws, &Quota::VpcsPerRegion), vpcs_in_use(aws))?;
            (limit, count, HashMap::new())
        }
        Family::NatGateways => {
            let quota = Quota::NatGatewaysPerAz(String::new());
            let (limit, per_az) = tokio::try_join!(service_quota(aws, &quota), nat_gateways_per_az(aws))?;
            (limit, 0, per_az)
        }
        Family::ElasticIps => {
            let (limit, count) = tokio::try_join!(elastic_ip_limit(aws), elastic_ips_in_use(aws))?;
            (Ok(limit), count, HashMap::new())
        }
    };
    let (limit, unreadable) = match limit {
        Ok(v) => (Some(v), None),
        Err(why) => (None, Some(why)),
    };
    Ok(Reading {
        limit,
        unreadable,
        in_region,
        per_az,
    })
}

/// The applied value of a Service Quotas quota; AWS's default when none
/// was ever applied (GetServiceQuota then answers NoSuchResourceException).
/// `Err` with the reason when the caller may not read it.
async fn service_quota(aws: &Aws, quota: &Quota) -> Result<std::result::Result<u32, String>> {
    let (service, code) = quota.code();
    let applied = aws
        .quotas
        .get_service_quota()
        .service_code(service)
        .quota_code(code)
        .send()
        .await
        .aws_on("servicequotas:GetServiceQuota", code);
    let value = match applied {
        Ok(out) => out.quota.and_then(|q| q.value),
        Err(e) if has_code(&e, "NoSuchResourceException") => {
            let default = aws
                .quotas
                .get_aws_default_service_quota()
                .service_code(service)
                .quota_code(code)
                .send()
                .await
                .aws_on("servicequotas:GetAWSDefaultServiceQuota", code);
            match default {
                Ok(out) => out.quota.and_then(|q| q.value),
                Err(e) => return Ok(Err(e.to_string())),
            }
        }
        Err(e) => return Ok(Err(e.to_string())),
    };
    Ok(value
        .map(|v| v as u32)
        .ok_or_else(|| "no value in the answer".to_string()))
}

async fn vpcs_in_use(aws: &Aws) -> Result<u32> {
    let mut n = 0;
    let mut pages = aws.ec2.describe_vpcs().into_paginator().send();
    while let Some(page) = pages.next().await {
        n += page.aws("ec2:DescribeVpcs")?.vpcs().len() as u32;
    }
    Ok(n)
}

/// NAT gateways that count (pending or available), per AZ of their subnet.
async fn nat_gateways_per_az(aws: &Aws) -> Result<HashMap<String, u32>> {
    let mut subnets = Vec::new();
    let mut pages = aws
        .ec2
        .describe_nat_gateways()
        .filter(
            Filter::builder()
                .name("state")
                .values("pending")
                .values("available")
                .build(),
        )
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for nat in page.aws("ec2:DescribeNatGateways")?.nat_gateways() {
            subnets.extend(nat.subnet_id().map(str::to_string));
        }
    }
    let mut per_az = HashMap::new();
    if subnets.is_empty() {
        return Ok(per_az);
    }
    let mut az_of = HashMap::new();
    let unique: BTreeSet<&String> = subnets.iter().collect();
    let unique: Vec<String> = unique.into_iter().cloned().collect();
    for chunk in unique.chunks(200) {
        let out = aws
            .ec2
            .describe_subnets()
            .filters(
                Filter::builder()
                    .name("subnet-id")
                    .set_values(Some(chunk.to_vec()))
                    .build(),
            )
            .send()
            .await
            .aws("ec2:DescribeSubnets")?;
        for s in out.subnets() {
            if let (Some(id), Some(az)) = (s.subnet_id(), s.availability_zone()) {
                az_of.insert(id.to_string(), az.to_string());
            }
        }
    }
    for s in &subnets {
        if let Some(az) = az_of.get(s) {
            *per_az.entry(az.clone()).or_default() += 1;
        }
    }
    Ok(per_az)
}

/// The account attribute `vpc-max-elastic-ips`.
async fn elastic_ip_limit(aws: &Aws) -> Result<u32> {
    let out = aws
        .ec2
        .describe_account_attributes()
        .attribute_names(AccountAttributeName::from("vpc-max-elastic-ips"))
        .send()
        .await
        .aws("ec2:DescribeAccountAttributes")?;
    let value = out
        .account_attributes()
        .iter()
        .find(|a| a.attribute_name() == Some("vpc-max-elastic-ips"))
        .and_then(|a| a.attribute_values().first())
        .and_then(|v| v.attribute_value())
        .and_then(|v| v.parse().ok());
    value.ok_or_else(|| anyhow::anyhow!("ec2:DescribeAccountAttributes did not report vpc-max-elastic-ips"))
}

async fn elastic_ips_in_use(aws: &Aws) -> Result<u32> {
    let out = aws
        .ec2
        .describe_addresses()
        .filters(Filter::builder().name("domain").values("vpc").build())
        .send()
        .await
        .aws("ec2:DescribeAddresses")?;
    Ok(out.addresses().len() as u32)
}
