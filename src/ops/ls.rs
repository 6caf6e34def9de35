//! `ls`: every ekstack stack the credentials can see, in every enabled
//! region, so that nothing forgotten keeps billing: a stack left running in
//! another region, or one whose file was deleted.
//!
//! One tag query per region (Resource Groups Tagging API, GetResources on
//! the `ekstack:stack` key), run concurrently, plus EKS clusters by their
//! tags (the tagging API leaves some of them out, moto all), and IAM once:
//! it is global, and a half-destroyed stack may have only its roles left.
//! Each stack found is then discovered as `status` would, for its state
//! and what it costs now.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use serde::Serialize;

use crate::aws::errors::{has_code, AwsResultExt};
use crate::aws::{Aws, Target};
use crate::cost::{self, PriceTable};
use crate::live::{LiveState, Origin};
use crate::resources::discover::discover;
use crate::resources::tags::{TAG_CREATED, TAG_ENV, TAG_STACK};
use crate::resources::Kind;

/// One stack found.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub name: String,
    pub region: String,
    /// From `ekstack:env`; "unknown" for stacks made before it was written.
    pub env: String,
    /// From `ekstack:created`, the earliest; "unknown" likewise.
    pub created: String,
    pub state: StackState,
    /// What is missing that its resources imply, when partial.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    pub resources: usize,
    pub hourly_usd: f64,
    pub monthly_usd: f64,
    /// Whether every line of the cost has a price.
    pub cost_complete: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StackState {
    Awake,
    Asleep,
    /// Resources missing that the others imply: a failed apply, or a
    /// half-done destroy.
    Partial,
}

/// What `ls` found, and the regions it could not read.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    pub stacks: Vec<Listed>,
    pub regions: Vec<String>,
    /// Region → why it could not be read (not opted in, access denied).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unreachable: BTreeMap<String, String>,
}

/// `ekstack ls`: in `regions`, or every enabled region.
pub async fn ls(target: &Target, regions: Option<Vec<String>>, prices: &PriceTable) -> Result<Listing> {
    let home = super::connect(target).await?;
    let regions = match regions {
        Some(r) => r,
        None => enabled_regions(&home).await?,
    };
    let home = &home;
    let per_region = regions.iter().map(|region| async move {
        let aws = Aws::from_sdk_config(
            home.sdk
                .to_builder()
                .region(aws_config::Region::new(region.clone()))
                .build(),
            home.calls.clone(),
        );
        (region.clone(), aws.clone(), names_in(&aws).await)
    });
    let (found, iam) = tokio::join!(futures_util::future::join_all(per_region), role_stacks(home));
    let iam = iam?;
    let mut unreachable = BTreeMap::new();
    let mut candidates: Vec<(String, Aws, String)> = Vec::new();
    for (region, aws, names) in found {
        let mut names = match names {
            Ok(n) => n,
            Err(e) => {
                unreachable.insert(region.clone(), reason(&e));
                continue;
            }
        };
        names.extend(iam.iter().filter(|(_, r)| *r == region).map(|(n, _)| n.clone()));
        for name in names {
            candidates.push((name, aws.clone(), region.clone()));
        }
    }
    let described = candidates.iter().map(|(name, aws, region)| async move {
        let live = discover(aws, name, region).await?;
        Ok::<_, anyhow::Error>(listed(name, region, &live, prices))
    });
    let mut stacks: Vec<Listed> = futures_util::future::try_join_all(described)
        .await?
        .into_iter()
        .filter(|l| l.resources > 0)
        .collect();
    stacks.sort_by(|a, b| (&a.name, &a.region).cmp(&(&b.name, &b.region)));
    // Not one region read: "no stack" would be a guess.
    if !regions.is_empty() && unreachable.len() == regions.len() {
        let (region, why) = unreachable
            .iter()
            .next()
            .map(|(r, w)| (r.clone(), w.clone()))
            .unwrap_or_default();
        anyhow::bail!("no region could be read, so ekstack cannot tell which stacks exist; {region}: {why}");
    }
    Ok(Listing {
        stacks,
        regions,
        unreachable,
    })
}

/// The regions the account has enabled (DescribeRegions answers only
/// those by default).
async fn enabled_regions(aws: &Aws) -> Result<Vec<String>> {
    let out = aws.ec2.describe_regions().send().await.aws("ec2:DescribeRegions")?;
    let mut regions: Vec<String> = out
        .regions()
        .iter()
        .filter_map(|r| r.region_name().map(str::to_string))
        .collect();
    regions.sort();
    Ok(regions)
}

/// The stack names tags carry in one region: the tagging API's answer,
/// and the EKS clusters' own tags.
async fn names_in(aws: &Aws) -> Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    let mut pages = aws
        .tagging
        .get_resources()
        .tag_filters(
            aws_sdk_resourcegroupstagging::types::TagFilter::builder()
                .key(TAG_STACK)
                .build(),
        )
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for r in page.aws("tag:GetResources")?.resource_tag_mapping_list() {
            names.extend(
                r.tags()
                    .iter()
                    .filter(|t| t.key() == TAG_STACK)
                    .map(|t| t.value().to_string()),
            );
        }
    }
    let clusters = aws.eks.list_clusters().send().await.aws("eks:ListClusters")?;
    for c in clusters.clusters() {
        let out = crate::resources::existing(
            aws.eks
                .describe_cluster()
                .name(c)
                .send()
                .await
                .aws_on("eks:DescribeCluster", c),
        )?;
        if let Some(stack) = out
            .and_then(|o| o.cluster)
            .and_then(|c| c.tags)
            .and_then(|t| t.get(TAG_STACK).cloned())
        {
            names.insert(stack);
        }
    }
    Ok(names)
}

/// Stacks whose IAM roles are left (`<stack>-<region>-<purpose>`, tagged
/// `ekstack:stack`): IAM is global, so one listing serves every region.
async fn role_stacks(aws: &Aws) -> Result<BTreeSet<(String, String)>> {
    let regions = crate::config::regions::region_names().collect::<Vec<_>>();
    let mut found = BTreeSet::new();
    let mut pages = aws.iam.list_roles().into_paginator().send();
    let mut named = Vec::new();
    while let Some(page) = pages.next().await {
        for role in page.aws("iam:ListRoles")?.roles() {
            let name = role.role_name();
            if let Some((stack, region)) = regions.iter().find_map(|r| {
                let (stack, _) = name.split_once(&format!("-{r}-"))?;
                Some((stack.to_string(), r.to_string()))
            }) {
                named.push((name.to_string(), stack, region));
            }
        }
    }
    for (role, stack, region) in named {
        let out = crate::resources::existing(
            aws.iam
                .get_role()
                .role_name(&role)
                .send()
                .await
                .aws_on("iam:GetRole", &role),
        )?;
        let tagged = out
            .and_then(|o| o.role)
            .is_some_and(|r| r.tags().iter().any(|t| t.key() == TAG_STACK && t.value() == stack));
        if tagged {
            found.insert((stack, region));
        }
    }
    Ok(found)
}

/// Why a region could not be read, naming the permission when it is one.
fn reason(e: &anyhow::Error) -> String {
    if has_code(e, "AccessDeniedException") || has_code(e, "AccessDenied") || has_code(e, "UnauthorizedOperation") {
        format!("access denied: the credentials need tag:GetResources and eks:ListClusters ({e})")
    } else if has_code(e, "UnrecognizedClientException") || has_code(e, "InvalidClientTokenId") {
        format!("not reachable: the region is not opted in, or the credentials are not valid there ({e})")
    } else {
        e.to_string()
    }
}

/// One stack's line: state, what it lacks, cost now.
fn listed(name: &str, region: &str, live: &LiveState, prices: &PriceTable) -> Listed {
    let ours: Vec<_> = live.ours().filter(|l| l.origin != Origin::Given).collect();
    let tag = |key: &str| {
        ours.iter()
            .filter_map(|l| l.tags.get(key).cloned())
            .min()
            .unwrap_or_else(|| "unknown".into())
    };
    let has = |k: Kind| ours.iter().any(|l| l.kind == k);
    let mut missing = Vec::new();
    // What each resource implies of the rest of the stack.
    if has(Kind::Vpc) && !has(Kind::Subnet) {
        missing.push("subnets of its VPC".to_string());
    }
    if has(Kind::EksCluster) && !has(Kind::IamRole) {
        missing.push("the cluster's role".into());
    }
    if (has(Kind::DbInstance) || has(Kind::DbCluster)) && !has(Kind::DbSubnetGroup) {
        missing.push("the database's subnet group".into());
    }
    if (has(Kind::EksNodegroup) || has(Kind::EksFargateProfile)) && !has(Kind::EksCluster) {
        missing.push("the cluster".into());
    }
    let serving = has(Kind::Vpc) || has(Kind::EksCluster) || has(Kind::DbInstance) || has(Kind::DbCluster);
    if !serving && !ours.is_empty() {
        missing.push("its VPC, cluster and database (only leftovers remain)".into());
    }
    let state = if !missing.is_empty() {
        StackState::Partial
    } else if super::plan::is_asleep(live) {
        StackState::Asleep
    } else {
        StackState::Awake
    };
    let estimate = cost::estimate(region, &cost::live_billables(live), prices);
    Listed {
        name: name.to_string(),
        region: region.to_string(),
        env: tag(TAG_ENV),
        created: tag(TAG_CREATED),
        state,
        missing,
        resources: ours.len(),
        hourly_usd: estimate.hourly_usd,
        monthly_usd: estimate.monthly_usd,
        cost_complete: estimate.complete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::Readiness;
    use crate::resources::vpc::Vpc;
    use crate::resources::ResourceKind;

    /// A VPC without its subnets is what a failed apply or a half-done
    /// destroy leaves: partial, naming what is missing.
    #[test]
    fn a_vpc_without_subnets_is_partial() {
        let vpc = Vpc::found(
            "vpc",
            "vpc-1",
            "available",
            Readiness::Ready,
            crate::resources::vpc::Observed {
                cidr: "10.0.0.0/16".into(),
            },
        )
        .erase();
        let live = LiveState { resources: vec![vpc] };
        let l = listed("shop", "us-east-1", &live, &PriceTable::builtin());
        assert_eq!(l.state, StackState::Partial);
        assert_eq!(l.missing, ["subnets of its VPC"]);
        assert_eq!((l.env.as_str(), l.created.as_str()), ("unknown", "unknown"));
    }
}
