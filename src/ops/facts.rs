//! What the stack file cannot know and plan asks AWS once: which AZs this
//! account sees in the region (and which of them EKS accepts for a control
//! plane), which account the credentials belong to, and which add-on
//! versions EKS offers for the cluster's Kubernetes version. `validate` runs
//! without credentials, so it makes do with the static table of AZs.

use anyhow::{bail, Result};
use aws_sdk_ec2::types::Filter;

use crate::aws::errors::AwsResultExt;
use crate::aws::Aws;
use std::collections::BTreeMap;

use crate::config::{AddonVersion, ResolvedVersion, Stack};
use crate::live::LiveState;
use crate::resources::subnet::Subnet;

/// AZ ids EKS does not place control planes in ("View Amazon EKS
/// networking requirements for VPC and subnets",
/// https://docs.aws.amazon.com/eks/latest/userguide/network-reqs.html).
pub const NO_CONTROL_PLANE: &[&str] = &["use1-az3", "usw1-az2", "cac1-az3"];

/// Who the credentials are (STS GetCallerIdentity).
pub struct Caller {
    /// Goes into ARNs that trust policies name.
    pub account: String,
    /// The caller's ARN (a role session's, for assumed roles).
    pub arn: String,
}

pub async fn caller(aws: &Aws) -> Result<Caller> {
    let out = aws
        .sts
        .get_caller_identity()
        .send()
        .await
        .aws("sts:GetCallerIdentity")?;
    match out.account {
        Some(account) if !account.is_empty() => Ok(Caller {
            account,
            arn: out.arn.unwrap_or_default(),
        }),
        _ => bail!("sts:GetCallerIdentity returned no account"),
    }
}

/// The account the credentials belong to.
pub async fn account(aws: &Aws) -> Result<String> {
    Ok(caller(aws).await?.account)
}

/// The add-on versions EKS offers for the stack's Kubernetes version (none
/// without a cluster or add-ons), newest first with the default marked.
pub async fn addon_versions(aws: &Aws, stack: &Stack) -> Result<BTreeMap<String, Vec<(String, bool)>>> {
    match &stack.eks {
        Some(eks) if !eks.addons.is_empty() => crate::resources::eks_addon::offered(aws, &eks.version).await,
        _ => Ok(BTreeMap::new()),
    }
}

/// Fills in the version each add-on runs. `"default"` and `"latest"` are
/// chosen when the add-on is made and when the cluster's Kubernetes version
/// changes; otherwise the running version stays, and a newer one is
/// reported as available. A pinned version must be offered for the
/// cluster's Kubernetes version.
pub fn resolve_addons(
    stack: &mut Stack,
    offered: &BTreeMap<String, Vec<(String, bool)>>,
    live: &LiveState,
) -> Result<()> {
    use crate::config::addons::version_key;
    use crate::resources::eks_addon::{self, pick, EksAddon};
    use crate::resources::eks_cluster::EksCluster;
    let Some(eks) = stack.eks.as_mut() else { return Ok(()) };
    let running = live.of_kind::<EksCluster>().next().map(|c| c.observed.version);
    let upgrading = running.as_deref().is_some_and(|v| v != eks.version);
    for (name, addon) in eks.addons.iter_mut() {
        let versions = offered.get(name).map(Vec::as_slice).unwrap_or_default();
        let list = || {
            versions
                .iter()
                .map(|(v, d)| if *d { format!("{v} (default)") } else { v.clone() })
                .collect::<Vec<_>>()
                .join(", ")
        };
        if versions.is_empty() {
            bail!(
                "eks.addons.{name}: EKS offers no version of {name} for Kubernetes {}",
                eks.version
            );
        }
        let Some(chosen) = pick(&addon.version, versions) else {
            bail!(
                "eks.addons.{name}.version = \"{}\" is not offered for Kubernetes {}; EKS offers {}",
                addon.version.as_str(),
                eks.version,
                list()
            );
        };
        let have = live
            .of_kind::<EksAddon>()
            .find(|a| a.address == eks_addon::address(name))
            .map(|a| a.observed.version);
        let floating = !matches!(addon.version, AddonVersion::Pinned(_));
        let resolved = match have {
            // What `default` or `latest` means today, if EKS has moved it on.
            Some(have) if floating && !upgrading => ResolvedVersion {
                available: (version_key(&chosen) > version_key(&have)).then(|| chosen.clone()),
                version: have,
            },
            _ => ResolvedVersion {
                version: chosen,
                available: None,
            },
        };
        addon.resolved = Some(resolved);
    }
    Ok(())
}

/// Checks the database's parameters against what RDS says of the family
/// (DescribeEngineDefaultParameters, or its cluster counterpart for
/// Aurora's `[database.parameters]`), and learns whether each is static or
/// dynamic. An unknown name is refused with the closest known one; so is
/// a value outside the parameter's type or allowed values, and a parameter
/// RDS does not let a custom group change. No call without parameters.
pub async fn resolve_parameters(aws: &Aws, stack: &mut Stack) -> Result<()> {
    use crate::config::db_parameters::{misfit, Typed};
    use crate::config::diagnostic::did_you_mean;
    use crate::config::resolve::parameter_key;
    use crate::resources::db_parameter_group::{engine_defaults, Scope};
    let Some(db) = stack.database.as_mut() else {
        return Ok(());
    };
    let family = db.family();
    let aurora = db.engine.is_aurora();
    let main = if aurora { Scope::Cluster } else { Scope::Instance };
    let tables = [
        ("database.parameters", main, &mut db.parameters),
        (
            "database.instance_parameters",
            Scope::Instance,
            &mut db.instance_parameters,
        ),
    ];
    let mut refused = Vec::new();
    // Read once, and only when a cluster-table name is unknown.
    let mut instance_level = None;
    for (table, scope, parameters) in tables {
        if parameters.is_empty() {
            continue;
        }
        let defaults = engine_defaults(aws, &family, scope).await?;
        for (name, p) in parameters.iter_mut() {
            let key = parameter_key(table, name);
            let Some(known) = defaults.get(name) else {
                // Aurora keeps some parameters on the instances only.
                if scope == Scope::Cluster && instance_level.is_none() {
                    instance_level = Some(engine_defaults(aws, &family, Scope::Instance).await?);
                }
                if scope == Scope::Cluster && instance_level.as_ref().is_some_and(|d| d.contains_key(name)) {
                    refused.push(format!(
                        "{key}: is an instance-level parameter of {family}; put it in [database.instance_parameters]"
                    ));
                    continue;
                }
                let hint = did_you_mean(name, defaults.keys().map(String::as_str))
                    .map(|m| format!("; did you mean \"{m}\"?"))
                    .unwrap_or_default();
                refused.push(format!(
                    "{key}: {family} has no parameter of that name (DescribeEngineDefaultParameters){hint}"
                ));
                continue;
            };
            if !known.modifiable {
                refused.push(format!(
                    "{key}: RDS does not let a parameter group change it (IsModifiable is false for {family})"
                ));
                continue;
            }
            let typed = Typed {
                data_type: &known.data_type,
                allowed: &known.allowed,
            };
            match misfit(typed, &p.value) {
                Some(why) => refused.push(format!("{key}: {why} ({family}: {})", known.data_type)),
                None => p.apply = known.apply,
            }
        }
    }
    match refused.len() {
        0 => Ok(()),
        1 => bail!("{}", refused[0]),
        n => bail!("{n} database parameters are refused:\n  {}", refused.join("\n  ")),
    }
}

/// An RDS instance moving to Aurora (`database.engine` changed): refused
/// at plan time when RDS cannot restore its snapshot into the Aurora engine
/// and version the file asks for. Aurora back to an instance is allowed
/// only as a replacement, which the plan explains.
pub fn check_migration(stack: &Stack, live: &LiveState) -> Result<()> {
    use crate::resources::db_cluster::{migration_refused, DbCluster};
    use crate::resources::db_instance::DbInstance;
    let Some(db) = stack.database.as_ref().filter(|d| d.engine.is_aurora()) else {
        return Ok(());
    };
    if live
        .of_kind::<DbCluster>()
        .any(|c| c.origin == crate::live::Origin::Ours)
    {
        return Ok(());
    }
    for i in live
        .of_kind::<DbInstance>()
        .filter(|i| i.origin == crate::live::Origin::Ours)
    {
        if let Some(why) = migration_refused(&i.observed.engine, &i.observed.version, db.engine, &db.version) {
            bail!("database.engine = \"{}\": {why}", db.engine.as_str());
        }
    }
    Ok(())
}

/// One AZ as the account sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    pub name: String,
    pub id: String,
}

/// The AZs of the region this account can use, in name order.
pub async fn zones(aws: &Aws) -> Result<Vec<Zone>> {
    let out = aws
        .ec2
        .describe_availability_zones()
        .filters(Filter::builder().name("state").values("available").build())
        .send()
        .await
        .aws("ec2:DescribeAvailabilityZones")?;
    let mut zones: Vec<Zone> = out
        .availability_zones()
        .iter()
        .filter(|z| z.zone_type().is_none_or(|t| t == "availability-zone"))
        .filter_map(|z| {
            Some(Zone {
                name: z.zone_name()?.to_string(),
                id: z.zone_id().unwrap_or_default().to_string(),
            })
        })
        .collect();
    zones.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(zones)
}

/// The stack with its AZs placed: named AZs are checked against what the
/// account sees; a count takes the AZs the stack's live subnets already use
/// (a plan never moves a running stack), then the first others the account
/// sees, skipping those EKS refuses for a control plane.
pub fn place_azs(stack: &Stack, zones: &[Zone], live: &LiveState) -> Result<Stack> {
    let mut stack = stack.clone();
    let eks = stack.eks.is_some();
    let usable = |z: &Zone| !(eks && NO_CONTROL_PLANE.contains(&z.id.as_str()));
    let region = stack.meta.region.clone();
    let Some(count) = stack.network.az_count else {
        for az in &stack.network.azs {
            match zones.iter().find(|z| &z.name == az) {
                None => bail!(
                    "network.azs names {az}, which this account does not see in {region} (it sees {})",
                    names(zones)
                ),
                Some(z) if !usable(z) => bail!(
                    "network.azs names {az} ({}), where EKS does not place control planes; name another AZ of {region}",
                    z.id
                ),
                Some(_) => {}
            }
        }
        return Ok(stack);
    };
    // The AZ each subnet index already lives in, from the live subnets' CIDRs.
    let n = &stack.network;
    let mut chosen: Vec<Option<String>> = vec![None; count];
    for s in live.of_kind::<Subnet>() {
        let index = n
            .public_subnets
            .iter()
            .chain(&n.private_subnets)
            .position(|c| c.to_string() == s.observed.cidr)
            .map(|i| i % n.public_subnets.len().max(1));
        if let Some(i) = index.filter(|i| *i < count) {
            if !chosen.iter().any(|c| c.as_deref() == Some(s.observed.az.as_str())) {
                chosen[i].get_or_insert(s.observed.az.clone());
            }
        }
    }
    let spare: Vec<String> = zones
        .iter()
        .filter(|z| usable(z))
        .filter(|z| !chosen.iter().any(|c| c.as_deref() == Some(z.name.as_str())))
        .map(|z| z.name.clone())
        .collect();
    let mut spare = spare.into_iter();
    let mut azs = Vec::with_capacity(count);
    for c in chosen {
        match c.or_else(|| spare.next()) {
            Some(az) => azs.push(az),
            None => bail!(
                "network.azs = {count}, but this account can use only {} AZs of {region}{}: {}",
                zones.iter().filter(|z| usable(z)).count(),
                if eks { " for EKS" } else { "" },
                names(&zones.iter().filter(|z| usable(z)).cloned().collect::<Vec<_>>())
            ),
        }
    }
    stack.network.azs = azs;
    Ok(stack)
}

fn names(zones: &[Zone]) -> String {
    zones.iter().map(|z| z.name.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load, Overlay};

    fn zone(name: &str, id: &str) -> Zone {
        Zone {
            name: name.into(),
            id: id.into(),
        }
    }

    fn stack(text: &str) -> Stack {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, text).unwrap();
        load(&path, &Overlay::None, None).unwrap().stack
    }

    #[test]
    fn a_count_skips_what_the_account_lacks_and_eks_refuses() {
        let s = stack("[stack]\nname = \"z\"\nregion = \"us-east-1\"\n[network]\nazs = 3\n[eks]\n[eks.nodegroups.g]\n");
        let zones = vec![
            zone("us-east-1a", "use1-az6"),
            zone("us-east-1c", "use1-az2"),
            zone("us-east-1d", "use1-az4"),
            zone("us-east-1e", "use1-az3"),
            zone("us-east-1f", "use1-az5"),
        ];
        let placed = place_azs(&s, &zones, &LiveState::default()).unwrap();
        assert_eq!(placed.network.azs, ["us-east-1a", "us-east-1c", "us-east-1d"]);
        let few = vec![zone("us-east-1a", "use1-az6"), zone("us-east-1e", "use1-az3")];
        let err = place_azs(&s, &few, &LiveState::default()).unwrap_err().to_string();
        assert!(err.contains("only 1 AZs of us-east-1 for EKS"), "{err}");

        let named = stack(
            "[stack]\nname = \"z\"\nregion = \"us-east-1\"\n[network]\nazs = [\"us-east-1a\", \"us-east-1e\"]\n[eks]\n[eks.nodegroups.g]\n",
        );
        let err = place_azs(&named, &zones, &LiveState::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("us-east-1e (use1-az3)"), "{err}");
    }
}
