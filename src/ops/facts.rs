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
    let (account, arn) = crate::resources::caller(aws).await?;
    Ok(Caller { account, arn })
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
    // A given VPC's AZs are its private subnets' (`given_network`).
    if stack.network.is_given() {
        return Ok(stack);
    }
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

/// The endpoints nodes in private subnets need when they have no NAT route
/// ("Deploy private clusters with limited internet access", EKS user guide,
/// https://docs.aws.amazon.com/eks/latest/userguide/private-clusters.html).
const ENDPOINTS_WITHOUT_NAT: &[&str] = &["ec2", "ecr.api", "ecr.dkr", "s3", "sts"];

/// A VPC the stack was given (`network.vpc_id`): checked for what the
/// stack needs of it (it exists, DNS support and hostnames are on, the
/// subnets are in it, one per AZ, and the private ones have egress when
/// nodes run there), read into live records at the addresses the stack's
/// resources reference, and its private subnets' AZs made the stack's.
/// Nothing is changed here: ekstack never changes what it did not create.
pub async fn given_network(aws: &Aws, stack: &mut Stack, live: &mut LiveState) -> Result<()> {
    let Some(given) = stack.network.given.clone() else {
        return Ok(());
    };
    let id = &given.vpc_id;
    let region = stack.meta.region.clone();
    if let Some(own) = live.get(crate::resources::vpc::ADDRESS) {
        bail!(
            "network.vpc_id: the stack already has a VPC of its own ({}); destroy the stack before moving it into the given VPC {id}",
            own.id
        );
    }
    let vpcs = crate::resources::existing(
        aws.ec2
            .describe_vpcs()
            .vpc_ids(id)
            .send()
            .await
            .aws_on("ec2:DescribeVpcs", id),
    )?;
    let Some(vpc) = vpcs.as_ref().and_then(|o| o.vpcs().first()).cloned() else {
        bail!("network.vpc_id: VPC {id} does not exist in {region} (or these credentials cannot see it)");
    };
    for (attribute, what) in [
        (aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport, "DNS support"),
        (
            aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames,
            "DNS hostnames",
        ),
    ] {
        let out = aws
            .ec2
            .describe_vpc_attribute()
            .vpc_id(id)
            .attribute(attribute.clone())
            .send()
            .await
            .aws_on("ec2:DescribeVpcAttribute", id)?;
        let on = match attribute {
            aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport => out.enable_dns_support(),
            _ => out.enable_dns_hostnames(),
        }
        .and_then(|v| v.value())
        .unwrap_or(false);
        if !on {
            bail!(
                "network.vpc_id: VPC {id} has {what} off; EKS nodes and private endpoints need DNS support and hostnames on. ekstack does not change a VPC it did not create: ask its owner to turn it on (aws ec2 modify-vpc-attribute --vpc-id {id} --enable-{} )",
                if what == "DNS support" { "dns-support" } else { "dns-hostnames" }
            );
        }
    }
    let all_ids: Vec<String> = given
        .public_subnet_ids
        .iter()
        .chain(&given.private_subnet_ids)
        .cloned()
        .collect();
    let subnets = match aws
        .ec2
        .describe_subnets()
        .set_subnet_ids(Some(all_ids.clone()))
        .send()
        .await
        .aws("ec2:DescribeSubnets")
    {
        Ok(out) => out.subnets().to_vec(),
        Err(e) if crate::aws::errors::is_not_found_error(&e) => {
            bail!("network: a subnet of public_subnet_ids or private_subnet_ids does not exist in {region}: {e}")
        }
        Err(e) => return Err(e),
    };
    use crate::resources::subnet::{self, Tier};
    let mut resolved = Vec::new();
    let mut records = vec![crate::resources::vpc::given(&vpc)];
    for (tier, ids) in [
        (Tier::Public, &given.public_subnet_ids),
        (Tier::Private, &given.private_subnet_ids),
    ] {
        let key = format!("network.{}_subnet_ids", tier.as_str());
        let mut azs: Vec<String> = Vec::new();
        for (i, sid) in ids.iter().enumerate() {
            let Some(s) = subnets.iter().find(|s| s.subnet_id() == Some(sid.as_str())) else {
                bail!("{key}[{i}]: subnet {sid} does not exist in {region}");
            };
            if s.vpc_id() != Some(id.as_str()) {
                bail!(
                    "{key}[{i}]: subnet {sid} is in {}, not in the given VPC {id}",
                    s.vpc_id().unwrap_or("another VPC")
                );
            }
            let az = s.availability_zone().unwrap_or_default().to_string();
            if azs.contains(&az) {
                bail!(
                    "{key}[{i}]: subnet {sid} is in {az}, like another of the list; give one {} subnet per AZ",
                    tier.as_str()
                );
            }
            azs.push(az.clone());
            let tags: crate::live::Tags = s
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
                .collect();
            resolved.push(crate::config::GivenSubnet {
                id: sid.clone(),
                public: tier == Tier::Public,
                az,
                lb_tag: subnet::has_load_balancer_tag(&tags, tier),
            });
            records.push(subnet::given(s, tier));
        }
        if tier == Tier::Private {
            stack.network.azs = azs;
        }
    }
    let nodes = stack
        .eks
        .as_ref()
        .is_some_and(|e| e.auto() || !e.nodegroups.is_empty() || !e.fargate.is_empty());
    if nodes {
        check_egress(aws, stack, id, &given.private_subnet_ids).await?;
    }
    if let Some(g) = stack.network.given.as_mut() {
        g.subnets = resolved;
    }
    live.resources.extend(records);
    Ok(())
}

/// Each private subnet reaches the internet through a NAT (or a transit
/// gateway, an instance, an interface: 0.0.0.0/0 to anything but an
/// internet gateway), or the VPC has the endpoints nodes need instead.
async fn check_egress(aws: &Aws, stack: &Stack, vpc: &str, private: &[String]) -> Result<()> {
    let out = aws
        .ec2
        .describe_route_tables()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .send()
        .await
        .aws_on("ec2:DescribeRouteTables", vpc)?;
    let tables = out.route_tables();
    let has_egress = |t: &aws_sdk_ec2::types::RouteTable| {
        t.routes().iter().any(|r| {
            r.destination_cidr_block() == Some("0.0.0.0/0")
                && (r.nat_gateway_id().is_some()
                    || r.transit_gateway_id().is_some()
                    || r.instance_id().is_some()
                    || r.network_interface_id().is_some())
        })
    };
    let main = tables
        .iter()
        .find(|t| t.associations().iter().any(|a| a.main() == Some(true)));
    let without: Vec<&String> = private
        .iter()
        .filter(|sid| {
            let table = tables
                .iter()
                .find(|t| t.associations().iter().any(|a| a.subnet_id() == Some(sid.as_str())))
                .or(main);
            !table.is_some_and(has_egress)
        })
        .collect();
    if without.is_empty() {
        return Ok(());
    }
    let endpoints = aws
        .ec2
        .describe_vpc_endpoints()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .send()
        .await
        .aws_on("ec2:DescribeVpcEndpoints", vpc)?;
    let region = &stack.meta.region;
    let missing: Vec<&str> = ENDPOINTS_WITHOUT_NAT
        .iter()
        .copied()
        .filter(|svc| {
            let name = format!("com.amazonaws.{region}.{svc}");
            !endpoints
                .vpc_endpoints()
                .iter()
                .any(|e| e.service_name() == Some(name.as_str()))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    bail!(
        "network.private_subnet_ids: {} {} no route to a NAT gateway (0.0.0.0/0), and the VPC lacks the endpoints nodes need without one ({}); nodes there could not pull images or join the cluster. Ask the VPC's owner for a NAT route or those endpoints",
        without.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
        if without.len() == 1 { "has" } else { "have" },
        missing.join(", ")
    )
}

/// Which sleep snapshot the database comes back from. A deep sleep with
/// `--snapshot` deleted the database after a snapshot the sleeping mark
/// names: while the database is absent, any plan of the file restores it
/// from that snapshot, never makes it empty. A snapshot the mark names
/// but RDS no longer has stops the plan; so does a snapshot of the other
/// kind of database (the file moved between an instance and Aurora while
/// the stack slept). The sleeping form itself names the snapshot it takes.
pub async fn sleep_snapshot(aws: &Aws, stack: &mut Stack, live: &LiveState) -> Result<()> {
    use crate::resources::{rds, sleep_mark};
    let Some(db) = &stack.database else { return Ok(()) };
    let aurora = db.engine.is_aurora();
    let Some(mark) = sleep_mark::read(live) else {
        return Ok(());
    };
    let Some(name) = mark.snapshot else { return Ok(()) };
    let configured = u32::try_from(db.storage_gib.unwrap_or(20)).unwrap_or(0);
    let running = rds::database_running(live).is_some();
    if stack.database_parked() {
        // The sleeping form: the snapshot this sleep takes, or took.
        let gib = match running {
            true => configured,
            false => rds::find_snapshot(aws, &name, aurora)
                .await?
                .map_or(configured, |s| s.gib),
        };
        stack.meta.sleep_snapshot = Some(crate::config::SleepSnapshot {
            name,
            cluster: aurora,
            gib,
        });
        return Ok(());
    }
    if running {
        return Ok(());
    }
    let id = stack.db_identifier();
    let found = match rds::find_snapshot(aws, &name, aurora).await? {
        Some(found) => found,
        None => match rds::find_snapshot(aws, &name, !aurora).await? {
            Some(_) => bail!(
                "the stack sleeps with its database in snapshot {name}, of {}, but the file now asks for {}: wake it with the database it had, then change it",
                if aurora { "an RDS instance" } else { "an Aurora cluster" },
                if aurora { "Aurora" } else { "an RDS instance" }
            ),
            None => bail!(
                "the stack sleeps with its database {id} in snapshot {name}, which RDS no longer has; ekstack will not make the database empty in its place. Restore it by hand, or to start empty remove the tag {} from the stack's VPC",
                crate::resources::tags::TAG_SLEEP_SNAPSHOT
            ),
        },
    };
    if found.status != "available" {
        bail!(
            "the sleep snapshot {name} of {id} is {}, not available yet; run again once RDS has finished it",
            found.status
        );
    }
    stack.meta.sleep_snapshot = Some(crate::config::SleepSnapshot {
        name,
        cluster: aurora,
        gib: found.gib,
    });
    Ok(())
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
