//! What a stack costs to run: a price table (`prices`), the billable things
//! each resource kind says it bills, and the estimator that turns the two
//! into priced lines with hourly and monthly totals.
//!
//! Billables are kept separate from how they were found so the same estimator
//! serves `plan` (the desired graph), `status` (what is live) and `sleep`
//! (the graph of the sleeping stack). A price that is not in the table is
//! reported as unknown and left out of the totals — never counted as zero —
//! so an estimate is either complete or says what it is missing.
//!
//! Left out on purpose: Fargate pods (the stack file does not say how many
//! run; a profile itself is free), load balancers Kubernetes may create,
//! CloudWatch logs and data transfer, all of which depend on use, not on the
//! file.

pub mod prices;
pub mod savings;

#[cfg(test)]
mod tests;

use serde::Serialize;

use crate::config::Engine;
use crate::graph::Graph;
use crate::live::{LiveState, Readiness};
pub use prices::{PriceEntry, PriceTable, RegionPrices, Section};

use prices::item;

/// AWS's own convention for monthly figures (365 × 24 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;

/// Aurora bills the storage a cluster uses, which nothing in the stack file
/// says; a new, small database is assumed to use this much.
pub const AURORA_ASSUMED_GIB: u32 = 10;

/// One billable thing, independent of how it was found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Billable {
    /// `extended`: on a Kubernetes version in extended support.
    EksControlPlane {
        extended: bool,
    },
    /// Per hour; data processing is excluded because traffic is unknown.
    NatGateway,
    /// An Elastic IP / public IPv4 address.
    PublicIpv4,
    /// `spot`: priced at on-demand as an upper bound, and labelled so.
    Ec2 {
        instance_type: String,
        count: u32,
        spot: bool,
    },
    EbsGp3 {
        gib: u32,
        count: u32,
    },
    FargatePod {
        vcpu: f64,
        memory_gib: f64,
        count: u32,
    },
    /// `running = false` (stopped): no instance hours; storage still bills.
    RdsInstance {
        engine: Engine,
        class: String,
        multi_az: bool,
        running: bool,
    },
    RdsStorage {
        gib: u32,
        multi_az: bool,
    },
    /// Class `db.serverless` is priced by ACU through [`Billable::AuroraServerless`].
    AuroraInstance {
        engine: Engine,
        class: String,
        running: bool,
    },
    /// Estimated at `min_acu`, with the cost at `max_acu` given as a bound.
    AuroraServerless {
        min_acu: f64,
        max_acu: f64,
        running: bool,
    },
    /// Storage used; `gib = 0` means unknown and assumes [`AURORA_ASSUMED_GIB`].
    AuroraStorage {
        gib: u32,
    },
    /// RDS snapshot storage (e.g. a final snapshot kept after destroy).
    Snapshot {
        gib: u32,
    },
    /// The instances EKS Auto Mode is expected to start: EC2 plus Auto
    /// Mode's management fee, each as [`AUTO_MODE_ASSUMED_INSTANCE`]
    /// (Auto Mode picks the types). `assumed_by_default`: the count is the
    /// default expectation, not the file's.
    EksAutoModeNodes {
        count: u32,
        assumed_by_default: bool,
    },
    /// An RDS Proxy: per vCPU-hour of its target (at least 2), or per
    /// ACU-hour in front of Aurora Serverless v2 (at least 8). Both `None`:
    /// the target's size is not known.
    RdsProxy {
        vcpus: Option<u32>,
        acu: Option<f64>,
    },
    /// Images stored in an ECR repository, in bytes (a new repository
    /// stores nothing, so only a kept or live one is priced).
    EcrStorage {
        bytes: u64,
    },
}

/// The instance type Auto Mode's nodes are priced as: a general-purpose
/// type its `general-purpose` node pool may choose (C, M or R families of
/// generation 5 or later).
pub const AUTO_MODE_ASSUMED_INSTANCE: &str = "m5.large";

/// One priced line. `None` amounts mean the price is unknown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostLine {
    pub address: String,
    pub description: String,
    pub hourly_usd: Option<f64>,
    pub monthly_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Priced lines and their totals. Totals cover known lines only; `unknown`
/// lists what they leave out and `complete` is false when anything is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    pub lines: Vec<CostLine>,
    pub hourly_usd: f64,
    pub monthly_usd: f64,
    pub unknown: Vec<String>,
    pub complete: bool,
}

/// What the desired graph bills once applied, by address.
pub fn desired_billables(graph: &Graph) -> Vec<(String, Billable)> {
    graph
        .resources
        .iter()
        .flat_map(|r| r.kind.ops().billables(r).into_iter().map(|b| (r.address.clone(), b)))
        .collect()
}

/// What the live resources bill now, by address.
pub fn live_billables(live: &LiveState) -> Vec<(String, Billable)> {
    live.ours()
        .filter(|l| l.readiness != Readiness::Deleting)
        .flat_map(|l| {
            l.kind
                .ops()
                .live_billables(l, live)
                .into_iter()
                .map(|b| (l.address.clone(), b))
        })
        .collect()
}

/// Prices `items` in `region`.
pub fn estimate(region: &str, items: &[(String, Billable)], prices: &PriceTable) -> Estimate {
    let pricer = Pricer { region, prices };
    let priced: Vec<(&String, Priced)> = items.iter().map(|(a, b)| (a, pricer.price(b))).collect();
    // Totals from the unrounded figures, so rounding each line cannot drift them.
    // Summing nothing gives -0.0 in Rust; add 0.0 so an empty stack costs $0.00.
    let hourly: f64 = priced.iter().filter_map(|(_, p)| p.hourly).sum::<f64>() + 0.0;
    let lines: Vec<CostLine> = priced
        .into_iter()
        .map(|(address, p)| CostLine {
            address: address.clone(),
            description: p.description,
            hourly_usd: p.hourly.map(|h| round(h, 6)),
            monthly_usd: p.hourly.map(|h| round(h * HOURS_PER_MONTH, 2)),
            note: if p.notes.is_empty() {
                None
            } else {
                Some(p.notes.join("; "))
            },
        })
        .collect();
    let unknown: Vec<String> = lines
        .iter()
        .filter(|l| l.hourly_usd.is_none())
        .map(|l| l.description.clone())
        .collect();
    Estimate {
        complete: unknown.is_empty(),
        unknown,
        hourly_usd: round(hourly, 4),
        monthly_usd: round(hourly * HOURS_PER_MONTH, 2),
        lines,
    }
}

fn round(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

/// The outcome of pricing one billable, before rounding.
struct Priced {
    description: String,
    hourly: Option<f64>,
    notes: Vec<String>,
}

struct Pricer<'a> {
    region: &'a str,
    prices: &'a PriceTable,
}

impl Pricer<'_> {
    /// A price and, when it is derived rather than found, a note saying so.
    fn lookup(&self, section: Section, item: &str, notes: &mut Vec<String>) -> Option<f64> {
        let entry = self.prices.get(self.region, section, item)?;
        let mut note = |n: String| {
            if !notes.contains(&n) {
                notes.push(n);
            }
        };
        if entry.estimated {
            note("price estimated (see prices/aws.toml)".to_string());
        }
        if entry.origin != "builtin" {
            note(format!("price from {}", entry.origin));
        }
        Some(entry.usd)
    }

    fn price(&self, billable: &Billable) -> Priced {
        let mut notes = Vec::new();
        let (description, hourly) = match billable {
            Billable::EksControlPlane { extended: false } => (
                "EKS control plane".to_string(),
                self.lookup(Section::Eks, item::EKS_CLUSTER_HOUR, &mut notes),
            ),
            Billable::EksControlPlane { extended: true } => {
                notes.push("Kubernetes version in extended support: 6x the standard rate until upgraded".to_string());
                (
                    "EKS control plane (extended support)".to_string(),
                    self.lookup(Section::Eks, item::EKS_EXTENDED_CLUSTER_HOUR, &mut notes),
                )
            }
            Billable::NatGateway => {
                let hourly = self.lookup(Section::Vpc, item::NAT_GATEWAY_HOUR, &mut notes);
                let per_gb = self.prices.get(self.region, Section::Vpc, item::NAT_GATEWAY_GB);
                notes.push(match per_gb {
                    Some(p) => format!("plus {} USD per GB processed, not included (traffic unknown)", p.usd),
                    None => "plus data processing per GB, not included (traffic unknown)".to_string(),
                });
                ("NAT gateway".to_string(), hourly)
            }
            Billable::PublicIpv4 => (
                "Public IPv4 address".to_string(),
                self.lookup(Section::Vpc, item::PUBLIC_IPV4_HOUR, &mut notes),
            ),
            Billable::Ec2 {
                instance_type,
                count,
                spot,
            } => {
                let kind = if *spot { "spot" } else { "on-demand" };
                let description = format!("{count} x EC2 {instance_type} ({kind})");
                let hourly = if *count == 0 {
                    // Nothing runs, so nothing bills, whatever the price.
                    notes.push("scaled to 0".to_string());
                    Some(0.0)
                } else {
                    self.lookup(Section::Ec2, instance_type, &mut notes)
                        .map(|p| p * f64::from(*count))
                };
                if *spot && *count > 0 {
                    notes
                        .push("spot: on-demand price shown as an upper bound; spot usually bills far less".to_string());
                }
                (description, hourly)
            }
            Billable::EbsGp3 { gib, count } => {
                let description = format!("{count} x EBS gp3 {gib} GiB");
                let hourly = if *count == 0 || *gib == 0 {
                    Some(0.0)
                } else {
                    self.lookup(Section::Ebs, item::GP3_GB_MONTH, &mut notes)
                        .map(|p| p * f64::from(*gib) * f64::from(*count) / HOURS_PER_MONTH)
                };
                (description, hourly)
            }
            Billable::FargatePod {
                vcpu,
                memory_gib,
                count,
            } => {
                let description = format!("{count} x Fargate pod ({vcpu} vCPU, {memory_gib} GiB)");
                let hourly = if *count == 0 {
                    Some(0.0)
                } else {
                    let cpu = self.lookup(Section::Fargate, item::FARGATE_VCPU_HOUR, &mut notes);
                    let mem = self.lookup(Section::Fargate, item::FARGATE_GB_HOUR, &mut notes);
                    cpu.zip(mem)
                        .map(|(c, m)| (c * vcpu + m * memory_gib) * f64::from(*count))
                };
                (description, hourly)
            }
            Billable::RdsInstance {
                engine,
                class,
                multi_az,
                running,
            } => {
                let az = if *multi_az { "Multi-AZ" } else { "Single-AZ" };
                let description = format!("RDS {} {class} ({az})", engine.as_str());
                let section = match (engine, multi_az) {
                    (Engine::Postgres, false) => Section::RdsPostgres,
                    (Engine::Postgres, true) => Section::RdsPostgresMultiAz,
                    (Engine::Mysql, false) => Section::RdsMysql,
                    (Engine::Mysql, true) => Section::RdsMysqlMultiAz,
                    // An Aurora engine here is a caller's slip; price it as Aurora.
                    (Engine::AuroraPostgresql, _) => Section::AuroraPostgresql,
                    (Engine::AuroraMysql, _) => Section::AuroraMysql,
                };
                let hourly = if *running {
                    self.lookup(section, class, &mut notes)
                } else {
                    notes.push("stopped: no instance hours (AWS restarts it after 7 days)".to_string());
                    Some(0.0)
                };
                (description, hourly)
            }
            Billable::RdsStorage { gib, multi_az } => {
                let az = if *multi_az { " (Multi-AZ)" } else { "" };
                let description = format!("RDS gp3 storage {gib} GiB{az}");
                let per_gb = if *multi_az {
                    self.lookup(Section::RdsStorage, item::GP3_MULTI_AZ_GB_MONTH, &mut notes)
                        .or_else(|| {
                            // Multi-AZ stores two copies; double the single-AZ rate if
                            // the table lacks the Multi-AZ one.
                            let single = self.lookup(Section::RdsStorage, item::GP3_GB_MONTH, &mut notes)?;
                            notes.push("Multi-AZ storage taken as 2x single-AZ".to_string());
                            Some(single * 2.0)
                        })
                } else {
                    self.lookup(Section::RdsStorage, item::GP3_GB_MONTH, &mut notes)
                };
                notes.push("backups up to the provisioned size are free".to_string());
                (description, per_gb.map(|p| p * f64::from(*gib) / HOURS_PER_MONTH))
            }
            Billable::AuroraInstance { engine, class, running } => {
                let description = format!("Aurora {} {class}", engine.as_str());
                let section = if engine.is_postgres() {
                    Section::AuroraPostgresql
                } else {
                    Section::AuroraMysql
                };
                let hourly = if !*running {
                    notes.push("stopped: no instance hours (AWS restarts it after 7 days)".to_string());
                    Some(0.0)
                } else if class == "db.serverless" {
                    notes.push("db.serverless bills per ACU; price it as Aurora Serverless v2".to_string());
                    None
                } else {
                    self.lookup(section, class, &mut notes)
                };
                (description, hourly)
            }
            Billable::AuroraServerless {
                min_acu,
                max_acu,
                running,
            } => {
                let description = format!("Aurora Serverless v2 ({min_acu}-{max_acu} ACU)");
                let hourly = if !*running {
                    notes.push("stopped: no ACU hours".to_string());
                    Some(0.0)
                } else {
                    let per_acu = self.lookup(Section::Aurora, item::ACU_HOUR, &mut notes);
                    if let Some(p) = per_acu {
                        notes.push(format!(
                            "at the minimum {min_acu} ACU; up to {:.4} USD/hour ({:.2}/month) at {max_acu} ACU",
                            p * max_acu,
                            p * max_acu * HOURS_PER_MONTH
                        ));
                    }
                    per_acu.map(|p| p * min_acu)
                };
                (description, hourly)
            }
            Billable::AuroraStorage { gib } => {
                let used = if *gib == 0 {
                    notes.push(format!("storage used is unknown; {AURORA_ASSUMED_GIB} GiB assumed"));
                    AURORA_ASSUMED_GIB
                } else {
                    *gib
                };
                notes.push("I/O requests billed extra, not included".to_string());
                let per_gb = self.lookup(Section::Aurora, item::STORAGE_GB_MONTH, &mut notes);
                (
                    format!("Aurora storage {used} GiB"),
                    per_gb.map(|p| p * f64::from(used) / HOURS_PER_MONTH),
                )
            }
            Billable::EksAutoModeNodes {
                count,
                assumed_by_default,
            } => {
                let t = AUTO_MODE_ASSUMED_INSTANCE;
                notes.push(if *assumed_by_default {
                    format!("assumed: {count} instances of {t} (the default expectation; Auto Mode's instances are not counted)")
                } else {
                    format!("assumed: eks.auto_mode_expected_instances = {count}, each priced as {t} (Auto Mode picks the types and scales with the pods)")
                });
                let hourly = if *count == 0 {
                    Some(0.0)
                } else {
                    let ec2 = self.lookup(Section::Ec2, t, &mut notes);
                    let fee = self.lookup(Section::EksAutoMode, t, &mut notes);
                    ec2.zip(fee).map(|(e, f)| (e + f) * f64::from(*count))
                };
                (
                    format!("{count} x EKS Auto Mode node ({t}: EC2 + Auto Mode fee)"),
                    hourly,
                )
            }
            Billable::RdsProxy { vcpus, acu } => match (vcpus, acu) {
                (_, Some(acu)) => {
                    notes.push(format!(
                        "in front of Aurora Serverless v2: billed for its ACUs, at least {}",
                        crate::resources::db_proxy::MIN_SERVERLESS_ACU
                    ));
                    (
                        format!("RDS Proxy ({acu} ACU)"),
                        self.lookup(Section::RdsProxy, item::PROXY_ACU_HOUR, &mut notes)
                            .map(|p| p * acu),
                    )
                }
                (Some(v), None) => {
                    let v = (*v).max(2);
                    (
                        format!("RDS Proxy ({v} vCPU of its target)"),
                        self.lookup(Section::RdsProxy, item::PROXY_VCPU_HOUR, &mut notes)
                            .map(|p| p * f64::from(v)),
                    )
                }
                (None, None) => {
                    notes.push("the target's vCPUs are not known".into());
                    ("RDS Proxy".to_string(), None)
                }
            },
            Billable::EcrStorage { bytes } => {
                let gb = *bytes as f64 / 1e9;
                let per_gb = self.lookup(Section::Ecr, item::STORAGE_GB_MONTH, &mut notes);
                (
                    format!("ECR image storage {}", crate::render::bytes(*bytes)),
                    per_gb.map(|p| p * gb / HOURS_PER_MONTH),
                )
            }
            Billable::Snapshot { gib } => {
                let per_gb = self.lookup(Section::RdsStorage, item::BACKUP_GB_MONTH, &mut notes);
                (
                    format!("Snapshot storage {gib} GiB"),
                    per_gb.map(|p| p * f64::from(*gib) / HOURS_PER_MONTH),
                )
            }
        };
        if hourly.is_none() && !notes.iter().any(|n| n.starts_with("db.serverless")) {
            if self.prices.regions.contains_key(self.region) {
                notes.push(format!("no price in the table for {}", self.region));
            } else {
                notes.push(format!("no prices for region {}", self.region));
            }
        }
        Priced {
            description,
            hourly,
            notes,
        }
    }
}

/// The cost side of a plan: after apply against now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanCost {
    pub monthly_usd: f64,
    pub hourly_usd: f64,
    pub current_monthly_usd: f64,
    pub current_hourly_usd: f64,
    pub delta_monthly_usd: f64,
    /// False when a price is unknown; the totals then leave it out.
    pub complete: bool,
    pub unknown: Vec<String>,
    /// The stack after apply, line by line.
    pub lines: Vec<CostLine>,
}

impl PlanCost {
    pub fn new(after: Estimate, current: Estimate) -> PlanCost {
        let mut unknown = after.unknown.clone();
        for u in current.unknown {
            if !unknown.contains(&u) {
                unknown.push(u);
            }
        }
        PlanCost {
            monthly_usd: after.monthly_usd,
            hourly_usd: after.hourly_usd,
            current_monthly_usd: current.monthly_usd,
            current_hourly_usd: current.hourly_usd,
            delta_monthly_usd: after.monthly_usd - current.monthly_usd,
            complete: after.complete && current.complete,
            unknown,
            lines: after.lines,
        }
    }
}
