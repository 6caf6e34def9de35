//! The `[network]` table: the VPC CIDR, its availability zones, NAT, and the
//! public and private subnets, explicit or derived so that adding an AZ never
//! moves an existing subnet. Every section but `[stack]` needs this one, so
//! it is resolved even when the file has no `[network]` table at all.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::stack::Region;
use super::{collect_all, loc, All, Reported, Resolver};
use crate::config::diagnostic::did_you_mean;
use crate::config::model::{NatMode, Network};
use crate::config::raw::RawNetwork;
use crate::config::source::{Located, Location};

/// Subnets are carved from the VPC at this many bits longer than its prefix:
/// a /16 gives /20s. Public subnet `i` takes block `i`, private subnet `i`
/// takes block `MAX_DERIVED_AZS + i`, so adding an AZ never moves a subnet.
pub const SUBNET_EXTRA_BITS: u8 = 4;
pub const MAX_DERIVED_AZS: usize = 8;

const DEFAULT_VPC: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(10, 0, 0, 0), 16);

impl Resolver {
    /// The network, and separately the rule that EKS and RDS need two AZs:
    /// breaking that one still lets the cross-section rules read the network.
    pub(super) fn network(
        &mut self,
        raw: Option<&RawNetwork>,
        region: Result<&Region, Reported>,
        azs_required: bool,
    ) -> (Result<Network, Reported>, Result<(), Reported>) {
        let default = RawNetwork::default();
        let n = raw.unwrap_or(&default);
        let table_at = self.table("network");
        if let Some(vpc_id) = &n.vpc_id {
            return self.given(n, vpc_id, region, azs_required);
        }
        for (key, ids) in [
            ("network.public_subnet_ids", &n.public_subnet_ids),
            ("network.private_subnet_ids", &n.private_subnet_ids),
        ] {
            if let Some(ids) = ids {
                let _ = self.error(
                    key,
                    "names subnets of a VPC ekstack did not create; give `vpc_id` too",
                    loc(ids),
                );
            }
        }

        let cidr = match &n.cidr {
            None => Ok(DEFAULT_VPC),
            Some(c) => self.cidr("network.cidr", c, None),
        };

        let azs = match (region, &n.azs) {
            (Err(reported), _) => Err(reported),
            (Ok(region), None) => Ok(region.zones.iter().take(2).cloned().collect::<Vec<_>>()),
            (Ok(region), Some(v)) => self.azs(region, v),
        };
        let two_azs = match &azs {
            Ok(azs) if azs_required && azs.len() < 2 => {
                let at = n.azs.as_ref().map(|a| a.at()).or(table_at.clone());
                Err(self.error(
                    "network.azs",
                    "EKS and RDS need subnets in at least two availability zones; give 2 or more",
                    at,
                ))
            }
            _ => Ok(()),
        };

        let nat = match &n.nat {
            None => Ok(NatMode::Single),
            Some(v) => self.variant("network.nat", v),
        };

        let network = (cidr, azs)
            .all()
            .and_then(|(cidr, azs)| self.subnets_of(n, cidr, azs, nat, table_at));
        (network, two_azs)
    }

    /// Both tiers of subnets, checked against each other.
    fn subnets_of(
        &mut self,
        n: &RawNetwork,
        cidr: Ipv4Net,
        azs: Vec<String>,
        nat: Result<NatMode, Reported>,
        table_at: Option<Location>,
    ) -> Result<Network, Reported> {
        let derive_at = n.cidr.as_ref().map(|c| c.at()).or(table_at);
        let public = self.subnets(
            "network.public_subnets",
            n.public_subnets.as_ref(),
            cidr,
            azs.len(),
            0,
            derive_at.clone(),
        );
        let private = self.subnets(
            "network.private_subnets",
            n.private_subnets.as_ref(),
            cidr,
            azs.len(),
            MAX_DERIVED_AZS,
            derive_at,
        );
        let (public, private) = (public, private).all()?;
        let apart = self.no_overlaps(n, &public, &private);
        let (nat, ()) = (nat, apart).all()?;
        let az_count = match n.azs.as_ref().map(|v| &v.value) {
            None | Some(toml::Value::Integer(_)) => Some(azs.len()),
            Some(_) => None,
        };
        Ok(Network {
            cidr,
            azs,
            az_count,
            nat,
            public_subnets: public,
            private_subnets: private,
            given: None,
        })
    }

    /// `vpc_id`: a VPC and subnets ekstack did not create. What it would
    /// derive or make (the CIDR, AZs, NAT, subnet CIDRs) is the network
    /// team's, so the file does not give it; the AZs are the private
    /// subnets', which plan reads (until then, the region's first ones).
    fn given(
        &mut self,
        n: &RawNetwork,
        vpc_id: &Located<String>,
        region: Result<&Region, Reported>,
        azs_required: bool,
    ) -> (Result<Network, Reported>, Result<(), Reported>) {
        let mut conflicts = Vec::new();
        let mut conflict = |r: &mut Self, key: &str, at: Option<Location>| {
            conflicts.push(Err::<(), _>(r.error(
                format!("network.{key}"),
                format!(
                    "is not given with `vpc_id`: the VPC {} is used as it is, with its own {key}",
                    vpc_id.value
                ),
                at,
            )));
        };
        if let Some(c) = &n.cidr {
            conflict(self, "cidr", loc(c));
        }
        if let Some(v) = &n.nat {
            conflict(self, "nat", loc(v));
        }
        if let Some(v) = &n.azs {
            conflict(self, "azs", loc(v));
        }
        if let Some(v) = &n.public_subnets {
            conflict(self, "public_subnets", loc(v));
        }
        if let Some(v) = &n.private_subnets {
            conflict(self, "private_subnets", loc(v));
        }
        let conflicts: Result<(), Reported> = collect_all(conflicts);
        let id = if is_ec2_id(&vpc_id.value, "vpc") {
            Ok(vpc_id.value.clone())
        } else {
            Err(self.error(
                "network.vpc_id",
                format!(
                    "\"{}\" is not a VPC id (vpc- and 8 or 17 hexadecimal digits)",
                    vpc_id.value
                ),
                loc(vpc_id),
            ))
        };
        let mut seen: Vec<String> = Vec::new();
        let mut ids = |r: &mut Self, key: &str, list: Option<&Located<Vec<Located<String>>>>| {
            let Some(list) = list else { return Ok(Vec::new()) };
            let mut out = Vec::new();
            let mut each = Vec::new();
            for (i, item) in list.value.iter().enumerate() {
                let k = format!("{key}[{i}]");
                each.push(if !is_ec2_id(&item.value, "subnet") {
                    Err(r.error(
                        k,
                        format!(
                            "\"{}\" is not a subnet id (subnet- and 8 or 17 hexadecimal digits)",
                            item.value
                        ),
                        loc(item),
                    ))
                } else if seen.contains(&item.value) {
                    Err(r.error(k, format!("\"{}\" is listed twice", item.value), loc(item)))
                } else {
                    seen.push(item.value.clone());
                    out.push(item.value.clone());
                    Ok(())
                });
            }
            collect_all::<(), Vec<()>>(each).map(|_| out)
        };
        let public = ids(self, "network.public_subnet_ids", n.public_subnet_ids.as_ref());
        let private = ids(self, "network.private_subnet_ids", n.private_subnet_ids.as_ref());
        let two_azs = match &private {
            Ok(p) if azs_required && p.len() < 2 => {
                let at = n.private_subnet_ids.as_ref().map(|l| l.at()).or(Some(vpc_id.at()));
                Err(self.error(
                    "network.private_subnet_ids",
                    format!(
                        "names {} subnet(s); EKS and RDS need private subnets in at least two availability zones",
                        p.len()
                    ),
                    at,
                ))
            }
            _ => Ok(()),
        };
        let network = (conflicts, id, public, private, region)
            .all()
            .map(|((), vpc_id, public, private, region)| Network {
                cidr: DEFAULT_VPC,
                azs: region.zones.iter().take(private.len()).cloned().collect(),
                az_count: None,
                nat: NatMode::None,
                public_subnets: Vec::new(),
                private_subnets: Vec::new(),
                given: Some(crate::config::model::GivenNetwork {
                    vpc_id,
                    public_subnet_ids: public,
                    private_subnet_ids: private,
                    subnets: Vec::new(),
                }),
            });
        (network, two_azs)
    }

    /// No two subnets may overlap, explicit or derived.
    fn no_overlaps(&mut self, n: &RawNetwork, public: &[Ipv4Net], private: &[Ipv4Net]) -> Result<(), Reported> {
        let written = |list: &Option<Located<Vec<Located<String>>>>, i: usize| {
            list.as_ref().and_then(|l| l.value.get(i)).map(|l| l.at())
        };
        let all: Vec<(String, Ipv4Net, Option<Location>)> = public
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    format!("network.public_subnets[{i}]"),
                    *s,
                    written(&n.public_subnets, i),
                )
            })
            .chain(private.iter().enumerate().map(|(i, s)| {
                (
                    format!("network.private_subnets[{i}]"),
                    *s,
                    written(&n.private_subnets, i),
                )
            }))
            .collect();
        let table_at = self.table("network");
        let mut overlaps = Vec::new();
        for (i, (key_a, a, at_a)) in all.iter().enumerate() {
            for (key_b, b, at_b) in &all[i + 1..] {
                if a.contains(b) || b.contains(a) {
                    // Point at whichever side was written: a derived subnet has no line.
                    let (key, message, at) = match (at_b, at_a) {
                        (Some(at), _) => (key_b, format!("{b} overlaps {key_a} ({a})"), Some(at.clone())),
                        (None, Some(at)) => (
                            key_a,
                            format!("{a} overlaps {key_b} ({b}, derived from network.cidr)"),
                            Some(at.clone()),
                        ),
                        (None, None) => (key_b, format!("{b} overlaps {key_a} ({a})"), table_at.clone()),
                    };
                    overlaps.push(Err(self.error(key.clone(), message, at)));
                }
            }
        }
        collect_all(overlaps)
    }

    fn cidr(&mut self, key: &str, value: &Located<String>, within: Option<Ipv4Net>) -> Result<Ipv4Net, Reported> {
        let Ok(net) = value.value.parse::<Ipv4Net>() else {
            return Err(self.error(
                key,
                format!("\"{}\" is not an IPv4 CIDR block like \"10.0.0.0/16\"", value.value),
                loc(value),
            ));
        };
        if net.network() != net.addr() {
            return Err(self.error_help(
                key,
                format!("\"{}\" has host bits set", value.value),
                loc(value),
                Some(format!("did you mean \"{}\"?", net.trunc())),
            ));
        }
        if !(16..=28).contains(&net.prefix_len()) {
            return Err(self.error(
                key,
                format!(
                    "/{} is outside the sizes AWS allows for a VPC or subnet (/16 to /28)",
                    net.prefix_len()
                ),
                loc(value),
            ));
        }
        match within {
            Some(vpc) if !vpc.contains(&net) => {
                Err(self.error(key, format!("{net} is not inside the VPC CIDR {vpc}"), loc(value)))
            }
            _ => Ok(net),
        }
    }

    fn azs(&mut self, region: &Region, value: &Located<toml::Value>) -> Result<Vec<String>, Reported> {
        let known = &region.zones;
        let region = &region.name;
        match &value.value {
            toml::Value::Integer(n) => {
                if *n < 1 || *n as usize > known.len() {
                    Err(self.error(
                        "network.azs",
                        format!(
                            "must be between 1 and {} ({region} has {} AZs: {}), not {n}",
                            known.len(),
                            known.len(),
                            known.join(", ")
                        ),
                        loc(value),
                    ))
                } else {
                    Ok(known.iter().take(*n as usize).cloned().collect())
                }
            }
            toml::Value::Array(items) => {
                let mut names: Vec<String> = Vec::new();
                let checked: Vec<Result<(), Reported>> = items
                    .iter()
                    .map(|item| match item.as_str() {
                        Some(name) if known.iter().any(|k| k == name) => {
                            let once = if names.iter().any(|n| n == name) {
                                Err(self.error("network.azs", format!("lists \"{name}\" twice"), loc(value)))
                            } else {
                                Ok(())
                            };
                            names.push(name.to_string());
                            once
                        }
                        Some(name) => {
                            let help = did_you_mean(name, known.iter().map(|s| s.as_str()))
                                .map(|s| format!("did you mean \"{s}\"?"));
                            Err(self.error_help(
                                "network.azs",
                                format!(
                                    "\"{name}\" is not an availability zone of {region} ({})",
                                    known.join(", ")
                                ),
                                loc(value),
                                help,
                            ))
                        }
                        None => Err(self.error(
                            "network.azs",
                            "must be a count or a list of AZ names (strings)",
                            loc(value),
                        )),
                    })
                    .collect();
                let () = collect_all(checked)?;
                if items.is_empty() {
                    return Err(self.error("network.azs", "must list at least one availability zone", loc(value)));
                }
                Ok(names)
            }
            _ => Err(self.error(
                "network.azs",
                "must be a count (e.g. 2) or a list of AZ names (e.g. [\"us-east-1a\", \"us-east-1b\"])",
                loc(value),
            )),
        }
    }

    /// Explicit subnet CIDRs, checked; or derived from the VPC at fixed indexes.
    fn subnets(
        &mut self,
        key: &str,
        explicit: Option<&Located<Vec<Located<String>>>>,
        vpc: Ipv4Net,
        az_count: usize,
        first_block: usize,
        derive_at: Option<Location>,
    ) -> Result<Vec<Ipv4Net>, Reported> {
        if let Some(list) = explicit {
            if list.value.len() != az_count {
                return Err(self.error(
                    key,
                    format!(
                        "has {} CIDRs but there are {az_count} availability zones; give one per AZ",
                        list.value.len()
                    ),
                    loc(list),
                ));
            }
            return collect_all(
                list.value
                    .iter()
                    .enumerate()
                    .map(|(i, c)| self.cidr(&format!("{key}[{i}]"), c, Some(vpc))),
            );
        }
        derive_subnets(vpc, az_count, first_block).map_err(|rule| self.error(key, rule, derive_at))
    }
}

/// Public subnet `i` → block `i`; private subnet `i` → block `MAX_DERIVED_AZS + i`.
pub fn derive_subnets(vpc: Ipv4Net, az_count: usize, first_block: usize) -> Result<Vec<Ipv4Net>, String> {
    let prefix = vpc.prefix_len() + SUBNET_EXTRA_BITS;
    if prefix > 28 {
        return Err(format!(
            "the VPC /{} is too small to derive subnets (ekstack carves /{} blocks, AWS's smallest subnet is /28); use a /24 or larger VPC, or list the subnets explicitly",
            vpc.prefix_len(),
            prefix
        ));
    }
    if az_count > MAX_DERIVED_AZS {
        return Err(format!(
            "derived subnets support at most {MAX_DERIVED_AZS} AZs; list the subnets explicitly"
        ));
    }
    let blocks = vpc.subnets(prefix).map_err(|e| e.to_string())?;
    Ok(blocks.skip(first_block).take(az_count).collect())
}

/// `vpc-0a1b2c3d` or `vpc-0a1b2c3d4e5f67890`: EC2's ids of either length.
fn is_ec2_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| {
            (hex.len() == 8 || hex.len() == 17) && hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        })
}
