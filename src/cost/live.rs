//! The billables of what is live now, for `status` and for the plan's
//! "current" cost: read from discovered resources rather than the file.

use super::Billable;
use crate::config::Engine;
use crate::graph::Kind;
use crate::live::{Live, LiveState, Readiness};

fn int(l: &Live, attr: &str) -> i64 {
    l.attrs.get(attr).and_then(|v| v.as_i64()).unwrap_or(0)
}

fn text<'a>(l: &'a Live, attr: &str) -> &'a str {
    l.attrs.get(attr).and_then(|v| v.as_str()).unwrap_or("")
}

/// Every billable live resource, by address.
pub fn live_billables(live: &LiveState) -> Vec<(String, Billable)> {
    let mut out = Vec::new();
    for l in live.resources.iter().filter(|l| l.readiness != Readiness::Deleting) {
        let a = l.address.clone();
        match l.kind {
            Kind::EksCluster => out.push((a, Billable::EksControlPlane)),
            Kind::NatGateway => out.push((a, Billable::NatGateway)),
            Kind::Eip => out.push((a, Billable::PublicIpv4)),
            Kind::EksNodegroup => {
                let count = int(l, "desired").max(0) as u32;
                let instance_type = l
                    .attrs
                    .get("instance_types")
                    .and_then(|v| v.get(0))
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string();
                let spot = text(l, "capacity") == "SPOT";
                out.push((
                    a.clone(),
                    Billable::Ec2 {
                        instance_type,
                        count,
                        spot,
                    },
                ));
                out.push((
                    a,
                    Billable::EbsGp3 {
                        gib: int(l, "disk_gib").max(0) as u32,
                        count,
                    },
                ));
            }
            Kind::DbInstance => {
                let Some(engine) = Engine::parse(text(l, "engine")) else {
                    continue;
                };
                let running = l.readiness != Readiness::Stopped;
                let multi_az = l.attrs.get("multi_az").and_then(|v| v.as_bool()).unwrap_or(false);
                out.push((
                    a.clone(),
                    Billable::RdsInstance {
                        engine,
                        class: text(l, "class").to_string(),
                        multi_az,
                        running,
                    },
                ));
                out.push((
                    a,
                    Billable::RdsStorage {
                        gib: int(l, "storage_gib").max(0) as u32,
                        multi_az,
                    },
                ));
            }
            Kind::DbCluster => {
                let running = l.readiness != Readiness::Stopped;
                if let Some(s) = l.attrs.get("serverless") {
                    let min_acu = s.get("min_acu").and_then(|v| v.as_f64()).unwrap_or(0.5);
                    let max_acu = s.get("max_acu").and_then(|v| v.as_f64()).unwrap_or(min_acu);
                    let serverless_instances = live
                        .resources
                        .iter()
                        .filter(|i| i.kind == Kind::DbClusterInstance && text(i, "class") == "db.serverless")
                        .count()
                        .max(1);
                    for _ in 0..serverless_instances {
                        out.push((
                            a.clone(),
                            Billable::AuroraServerless {
                                min_acu,
                                max_acu,
                                running,
                            },
                        ));
                    }
                }
                out.push((a, Billable::AuroraStorage { gib: 0 }));
            }
            Kind::DbClusterInstance => {
                let class = text(l, "class");
                if class == "db.serverless" {
                    continue; // priced by ACU with the cluster
                }
                let Some(engine) = Engine::parse(text(l, "engine")) else {
                    continue;
                };
                let running = l.readiness != Readiness::Stopped;
                out.push((
                    a,
                    Billable::AuroraInstance {
                        engine,
                        class: class.to_string(),
                        running,
                    },
                ));
            }
            _ => {}
        }
    }
    out
}
