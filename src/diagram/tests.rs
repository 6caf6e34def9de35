use std::path::Path;

use super::*;
use crate::config::{load, Overlay};

fn stack(name: &str, env: &str) -> Stack {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("stacks")
        .join(format!("{name}.toml"));
    load(&path, &Overlay::Env(env.into()), None).unwrap().stack
}

fn drawn(name: &str, env: &str, plan: Option<&[PlannedAction]>) -> Diagram {
    let s = stack(name, env);
    build(&s, &crate::graph::build(&s).unwrap(), plan)
}

fn zone_names(d: &Diagram) -> Vec<&str> {
    d.network.zones.iter().map(|z| z.name.as_str()).collect()
}

fn nats(d: &Diagram) -> Vec<usize> {
    d.network.zones.iter().map(|z| z.nat_gateways.len()).collect()
}

fn roles(zone: &Zone) -> Vec<DbRole> {
    zone.databases
        .iter()
        .filter_map(|n| match n.part {
            Part::DbInstance { role, .. } => Some(role),
            _ => None,
        })
        .collect()
}

#[test]
fn learning_mvp_has_two_az_columns_one_nat_and_a_single_az_database() {
    let d = drawn("learning", "mvp", None);
    assert!(!d.planned);
    assert_eq!(zone_names(&d), ["ap-northeast-1a", "ap-northeast-1c"]);
    assert_eq!(nats(&d), [1, 0]);
    for z in &d.network.zones {
        assert!(matches!(
            z.public_subnet.as_ref().unwrap().part,
            Part::Subnet { tier: Tier::Public, .. }
        ));
        assert_eq!(
            z.private_subnet.as_ref().unwrap().address.as_deref(),
            Some(format!("subnet.private.{}", z.name).as_str())
        );
    }
    let c = d.cluster.as_ref().unwrap();
    assert_eq!(c.control_plane.address.as_deref(), Some("eks-cluster"));
    let groups: Vec<&Part> = c.compute.iter().map(|n| &n.part).collect();
    assert!(groups.contains(&&Part::Nodegroup {
        key: "general".into(),
        instance_types: vec!["t3.medium".into()],
        capacity: Some(Capacity::OnDemand),
        size: Some(Size {
            min: 1,
            desired: 1,
            max: 2
        }),
    }));
    assert!(groups.contains(&&Part::FargateProfile {
        key: "apps".into(),
        namespaces: vec!["app".into()],
    }));
    assert!(c
        .addons
        .iter()
        .any(|a| a.address.as_deref() == Some("eks-addon.coredns")));
    // Single-AZ: the primary alone, no standby, no replica, no proxy.
    assert_eq!(roles(&d.network.zones[0]), [DbRole::Primary]);
    assert!(roles(&d.network.zones[1]).is_empty());
    let db = d.database.as_ref().unwrap();
    assert!(db.proxy.is_none() && db.aurora.is_none());
    assert_eq!(d.writer().unwrap().address.as_deref(), Some("db-instance"));
    // No action anywhere without a plan.
    assert!(d.nodes().iter().all(|n| n.action.is_none()));
    // Context is not an ekstack resource.
    assert!(d.internet.is_context() && c.pods.is_context());
    assert!(d.network.load_balancer.as_ref().unwrap().is_context());
}

#[test]
fn learning_prod_has_a_nat_per_az_a_standby_a_replica_and_a_proxy() {
    let d = drawn("learning", "prod", None);
    assert_eq!(zone_names(&d), ["ap-northeast-1a", "ap-northeast-1c"]);
    assert_eq!(nats(&d), [1, 1]);
    let addresses: Vec<&str> = d.network.zones[1]
        .nat_gateways
        .iter()
        .filter_map(|n| n.address.as_deref())
        .collect();
    assert_eq!(addresses, ["nat-gateway.ap-northeast-1c"]);
    let c = d.cluster.as_ref().unwrap();
    let size = c.compute.iter().find_map(|n| match &n.part {
        Part::Nodegroup { size, .. } => *size,
        _ => None,
    });
    assert_eq!(
        size,
        Some(Size {
            min: 2,
            desired: 3,
            max: 6
        })
    );
    assert!(c
        .addons
        .iter()
        .any(|a| a.address.as_deref() == Some("eks-addon.metrics-server")));
    assert_eq!(roles(&d.network.zones[0]), [DbRole::Primary]);
    assert_eq!(roles(&d.network.zones[1]), [DbRole::Standby, DbRole::Replica(1)]);
    assert_eq!(d.network.zones[1].databases[1].address.as_deref(), Some("db-replica.1"));
    let db = d.database.as_ref().unwrap();
    assert_eq!(db.proxy.as_ref().unwrap().address.as_deref(), Some("db-proxy"));
    assert_eq!(db.writer, Some((0, 0)));
    // Through the proxy, and out through each AZ's NAT.
    let f = |from, to, traffic| Flow { from, to, traffic };
    for expected in [
        f(End::Internet, End::InternetGateway, Traffic::Ingress),
        f(End::InternetGateway, End::LoadBalancer, Traffic::Ingress),
        f(End::LoadBalancer, End::Pods, Traffic::Ingress),
        f(End::Pods, End::Proxy, Traffic::Queries),
        f(End::Proxy, End::Database, Traffic::Queries),
        f(End::Pods, End::Nat(0), Traffic::Egress),
        f(End::Nat(1), End::Internet, Traffic::Egress),
    ] {
        assert!(d.flows.contains(&expected), "{expected:?} in {:?}", d.flows);
    }
    assert!(!d.flows.contains(&f(End::Pods, End::Database, Traffic::Queries)));
}

#[test]
fn aurora_instances_sit_in_a_cluster_and_the_writer_is_the_first() {
    let d = drawn("aurora", "prod", None);
    assert_eq!(d.network.zones.len(), 3);
    let db = d.database.as_ref().unwrap();
    assert_eq!(db.aurora.as_ref().unwrap().address.as_deref(), Some("db-cluster"));
    assert_eq!(d.writer().unwrap().address.as_deref(), Some("db-cluster-instance.1"));
    assert!(matches!(
        db.aurora.as_ref().unwrap().part,
        Part::AuroraCluster {
            serverless: Some(_),
            ..
        }
    ));
}

#[test]
fn auto_mode_draws_eks_run_nodes_and_an_alb_made_by_auto_mode() {
    let d = drawn("auto", "mvp", None);
    let c = d.cluster.as_ref().unwrap();
    assert!(c
        .compute
        .iter()
        .any(|n| n.is_context() && matches!(n.part, Part::AutoModeNodes { .. })));
    assert_eq!(
        d.network.load_balancer.as_ref().unwrap().part,
        Part::LoadBalancer {
            made_by: LoadBalancerMaker::AutoMode
        }
    );
}

#[test]
fn a_given_vpc_has_columns_by_subnet_pair_and_no_gateways_of_ours() {
    let d = drawn("given-vpc", "mvp", None);
    assert_eq!(zone_names(&d), ["subnet pair 1", "subnet pair 2"]);
    assert!(matches!(&d.network.vpc.part, Part::Vpc { given: Some(id), .. } if id == "vpc-0a1b2c3d4e5f67890"));
    assert!(d.network.internet_gateway.as_ref().unwrap().is_context());
    assert_eq!(nats(&d), [0, 0]);
    assert!(d.flows.contains(&Flow {
        from: End::Pods,
        to: End::Internet,
        traffic: Traffic::Egress
    }));
}

#[test]
fn a_plan_colours_every_resource_and_what_it_leaves_out_is_unchanged() {
    let plan = [
        PlannedAction::new("vpc", Kind::Vpc, Action::Create),
        PlannedAction::new("eks-nodegroup.general", Kind::EksNodegroup, Action::Update),
        PlannedAction::new("db-instance", Kind::DbInstance, Action::Replace),
    ];
    let d = drawn("learning", "prod", Some(&plan));
    assert!(d.planned);
    assert_eq!(d.network.vpc.action, Some(Action::Create));
    assert_eq!(d.node("eks-nodegroup.general").unwrap().action, Some(Action::Update));
    assert_eq!(d.writer().unwrap().action, Some(Action::Replace));
    // The standby is part of the primary: it goes with it.
    assert_eq!(d.network.zones[1].databases[0].action, Some(Action::Replace));
    assert_eq!(d.node("internet-gateway").unwrap().action, Some(Action::NoOp));
    assert_eq!(d.node("eks-cluster").unwrap().action, Some(Action::NoOp));
    // Context stays uncoloured.
    assert!(d.nodes().iter().filter(|n| n.is_context()).all(|n| n.action.is_none()));
    assert!(d.nodes().iter().filter(|n| !n.is_context()).all(|n| n.action.is_some()));
}

#[test]
fn what_the_plan_deletes_is_drawn_in_its_place() {
    // mvp now, after prod: the second NAT, the replica and the proxy go.
    let plan = [
        PlannedAction::new("nat-gateway.ap-northeast-1c", Kind::NatGateway, Action::Delete),
        PlannedAction::new("db-replica.1", Kind::DbReplica, Action::Delete),
        PlannedAction::new("db-proxy", Kind::DbProxy, Action::Delete),
        PlannedAction::new("eks-addon.metrics-server", Kind::EksAddon, Action::Delete),
        PlannedAction::new("subnet.public.ap-northeast-1d", Kind::Subnet, Action::Delete),
        PlannedAction::new("eip.nat.ap-northeast-1c", Kind::Eip, Action::Delete),
    ];
    let d = drawn("learning", "mvp", Some(&plan));
    assert_eq!(nats(&d), [1, 1, 0]);
    let gone = &d.network.zones[1].nat_gateways[0];
    assert_eq!(gone.address.as_deref(), Some("nat-gateway.ap-northeast-1c"));
    assert_eq!(gone.action, Some(Action::Delete));
    assert_eq!(d.network.zones[0].nat_gateways[0].action, Some(Action::NoOp));
    // The deleted NAT carries no egress.
    assert!(!d.flows.iter().any(|f| f.from == End::Nat(1)));
    let replica = d.node("db-replica.1").unwrap();
    assert_eq!(replica.action, Some(Action::Delete));
    assert_eq!(roles(&d.network.zones[1]), [DbRole::Replica(1)]);
    assert_eq!(d.node("db-proxy").unwrap().action, Some(Action::Delete));
    assert_eq!(
        d.node("eks-addon.metrics-server").unwrap().part,
        Part::Addon {
            name: "metrics-server".into(),
            version: None
        }
    );
    // An AZ only a deletion names gets its column, last.
    assert_eq!(d.network.zones[2].name, "ap-northeast-1d");
    assert_eq!(
        d.network.zones[2].public_subnet.as_ref().unwrap().action,
        Some(Action::Delete)
    );
    assert!(d
        .others
        .iter()
        .any(|n| n.address.as_deref() == Some("eip.nat.ap-northeast-1c")));
    // The primary stays the writer, first in its zone.
    assert_eq!(d.database.as_ref().unwrap().writer, Some((0, 0)));
}

#[test]
fn every_shipped_stack_and_env_draws() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(root.join("stacks")).unwrap() {
        let name = entry.unwrap().path().file_stem().unwrap().to_string_lossy().to_string();
        for env in ["mvp", "prod"] {
            let d = drawn(&name, env, None);
            assert!(!d.network.zones.is_empty(), "{name} {env}");
            assert_eq!(d.stack, stack(&name, env).meta.name);
        }
    }
}
