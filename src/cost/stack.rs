//! The billable things a resolved stack creates, with the addresses the rest
//! of ekstack uses for them, so cost lines line up with plan and status lines.

use crate::config::{Capacity, NatMode, Stack};

use super::Billable;

/// The billables of `stack` as it will be after apply: nodes at `desired`,
/// one gp3 root volume of `disk_gib` per node, a NAT gateway and its public
/// IPv4 address per NAT (none, one in the first AZ, or one per AZ), and the
/// database per engine.
///
/// Left out on purpose: Fargate pods (the stack file does not say how many run;
/// a profile itself is free), load balancers Kubernetes may create, CloudWatch
/// logs and data transfer, all of which depend on use, not on the file. A node
/// group with several instance types is priced at its first, which EKS
/// prefers for on-demand capacity.
pub fn stack_billables(stack: &Stack) -> Vec<(String, Billable)> {
    billables(stack, false)
}

/// The billables of `stack` while asleep (`ekstack sleep`): node groups at 0,
/// the database stopped, NAT gateways deleted and their addresses released.
/// The control plane and storage keep billing, which is why sleep saves much
/// but not all.
pub fn sleeping_billables(stack: &Stack) -> Vec<(String, Billable)> {
    billables(stack, true)
}

fn billables(stack: &Stack, asleep: bool) -> Vec<(String, Billable)> {
    let mut items = Vec::new();
    if let Some(eks) = &stack.eks {
        items.push(("eks-cluster".to_string(), Billable::EksControlPlane));
        for (key, ng) in &eks.nodegroups {
            let count = if asleep {
                0
            } else {
                u32::try_from(ng.desired).unwrap_or(0)
            };
            let address = format!("eks-nodegroup.{key}");
            if let Some(instance_type) = ng.instance_types.first() {
                items.push((
                    address.clone(),
                    Billable::Ec2 {
                        instance_type: instance_type.clone(),
                        count,
                        spot: ng.capacity == Capacity::Spot,
                    },
                ));
            }
            let gib = u32::try_from(ng.disk_gib).unwrap_or(0);
            items.push((address, Billable::EbsGp3 { gib, count }));
        }
    }
    if !asleep {
        let nat_azs: &[String] = match stack.network.nat {
            NatMode::None => &[],
            // A single NAT gateway lives in the first AZ, as the graph builds it.
            NatMode::Single => &stack.network.azs[..stack.network.azs.len().min(1)],
            NatMode::PerAz => &stack.network.azs,
        };
        for az in nat_azs {
            items.push((format!("nat-gateway.{az}"), Billable::NatGateway));
            items.push((format!("eip.nat.{az}"), Billable::PublicIpv4));
        }
    }
    if let Some(db) = &stack.database {
        let running = !asleep;
        if db.engine.is_aurora() {
            // Aurora bills storage used, unknown before the data exists (gib 0).
            items.push(("db-cluster".to_string(), Billable::AuroraStorage { gib: 0 }));
            for n in 1..=db.instances.max(1) {
                let billable = match (&db.serverless, db.class.as_str()) {
                    (Some(sv), _) => Billable::AuroraServerless {
                        min_acu: sv.min_acu,
                        max_acu: sv.max_acu,
                        running,
                    },
                    // db.serverless without a range: Aurora's own default minimum.
                    (None, "db.serverless") => Billable::AuroraServerless {
                        min_acu: 0.5,
                        max_acu: 0.5,
                        running,
                    },
                    (None, class) => Billable::AuroraInstance {
                        engine: db.engine,
                        class: class.to_string(),
                        running,
                    },
                };
                items.push((format!("db-cluster-instance.{n}"), billable));
            }
        } else {
            items.push((
                "db-instance".to_string(),
                Billable::RdsInstance {
                    engine: db.engine,
                    class: db.class.clone(),
                    multi_az: db.multi_az,
                    running,
                },
            ));
            let gib = u32::try_from(db.storage_gib.unwrap_or(20)).unwrap_or(0);
            items.push((
                "db-instance".to_string(),
                Billable::RdsStorage {
                    gib,
                    multi_az: db.multi_az,
                },
            ));
        }
    }
    items
}
