use std::collections::HashSet;
use std::path::Path;

use super::*;
use crate::config::{load, Overlay};
use crate::resources::{db_cluster, db_instance, db_subnet_group, eks_cluster, iam_role, nat_gateway, route_table};
use crate::resources::{subnet, vpc};

fn graph(stack: &str, env: &str) -> Graph {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("stacks")
        .join(format!("{stack}.toml"));
    build(&load(&path, &Overlay::Env(env.into()), None).unwrap().stack).unwrap()
}

#[test]
fn learning_mvp_has_every_kind_it_needs() {
    let g = graph("learning", "mvp");
    let count = |k: Kind| g.resources.iter().filter(|r| r.kind == k).count();
    assert_eq!(count(Kind::Vpc), 1);
    assert_eq!(count(Kind::Subnet), 4);
    assert_eq!(count(Kind::NatGateway), 1);
    assert_eq!(count(Kind::Eip), 1);
    assert_eq!(count(Kind::RouteTable), 3);
    assert_eq!(count(Kind::IamRole), 4);
    assert_eq!(count(Kind::IamOidcProvider), 1);
    assert_eq!(count(Kind::EksNodegroup), 1);
    assert_eq!(count(Kind::EksFargateProfile), 1);
    assert_eq!(count(Kind::DbInstance), 1);
    assert_eq!(count(Kind::EksAddon), 4);
    assert_eq!(count(Kind::SecurityGroupRule), 1);
    assert_eq!(g.resources.len(), 27);
}

/// The database admits the cluster security group by a rule made after
/// the cluster, so the database itself never waits for the control plane.
#[test]
fn the_database_does_not_wait_for_the_cluster_but_its_rule_does() {
    let g = graph("learning", "mvp");
    fn upstream<'a>(g: &'a Graph, from: &'a str, seen: &mut HashSet<&'a str>) {
        for dep in g.get(from).into_iter().flat_map(|r| r.deps()) {
            if seen.insert(dep.as_str()) {
                upstream(g, dep, seen);
            }
        }
    }
    let mut db = HashSet::new();
    upstream(&g, "db-instance", &mut db);
    assert!(!db.contains("eks-cluster"), "{db:?}");
    let rule = g.get("sg-rule.database-from-cluster").unwrap();
    let deps: Vec<&str> = rule.deps().map(String::as_str).collect();
    assert_eq!(deps, ["security-group.database", "eks-cluster"]);
    // With a cluster, the group itself admits no CIDR.
    let sg = g
        .spec::<crate::resources::security_group::SecurityGroup>("security-group.database")
        .unwrap();
    assert!(sg.ingress.is_empty(), "{:?}", sg.ingress);
}

#[test]
fn prod_routes_each_private_subnet_to_its_own_nat() {
    let target = |g: &Graph, az: &str| match &g
        .spec::<route_table::RouteTable>(&route_table::private_address(az))
        .unwrap()
        .default_route
    {
        Some(route_table::Target::NatGateway(r)) => r.address.clone(),
        other => panic!("{other:?}"),
    };
    let g = graph("learning", "prod");
    for az in ["ap-northeast-1a", "ap-northeast-1c"] {
        assert_eq!(target(&g, az), nat_gateway::address(az));
    }
    let mvp = graph("learning", "mvp");
    assert_eq!(target(&mvp, "ap-northeast-1c"), "nat-gateway.ap-northeast-1a");
}

#[test]
fn aurora_has_cluster_and_instances() {
    let g = graph("aurora", "prod");
    assert!(g.get(db_cluster::ADDRESS).is_some());
    assert!(g.get("db-cluster-instance.1").is_some());
    assert!(g.get(db_instance::ADDRESS).is_none());
}

#[test]
fn fargate_only_has_no_node_role() {
    let g = graph("fargate", "mvp");
    assert!(g.get(&iam_role::node().address).is_none());
    assert!(g.get(&iam_role::fargate().address).is_some());
    assert!(g.get(db_subnet_group::ADDRESS).is_none());
}

#[test]
fn edges_come_from_the_typed_references() {
    let g = graph("learning", "mvp");
    let cluster = g.get(eks_cluster::ADDRESS).unwrap();
    let mut refs = cluster.references.clone();
    refs.sort();
    assert_eq!(
        refs,
        vec![
            iam_role::cluster().address,
            subnet::address(subnet::Tier::Private, "ap-northeast-1a"),
            subnet::address(subnet::Tier::Private, "ap-northeast-1c"),
        ]
    );
    // Every subnet names the VPC it lives in; nothing reads an id it did not declare.
    for s in g.resources.iter().filter(|r| r.kind == Kind::Subnet) {
        assert_eq!(s.references, vec![vpc::ADDRESS.to_string()]);
    }
    // Nodes wait for egress as well, without referencing the route tables.
    let nodes = g.get("eks-nodegroup.general").unwrap();
    assert!(nodes.after.contains(&route_table::private_address("ap-northeast-1a")));
    assert!(!nodes.references.iter().any(|r| r.starts_with("route-table")));
}

#[test]
fn a_cycle_is_an_error_in_every_build() {
    let mut g = graph("learning", "mvp");
    // The VPC now waits for a subnet that waits for the VPC.
    let subnet = subnet::address(subnet::Tier::Public, "ap-northeast-1a");
    g.resources
        .iter_mut()
        .find(|r| r.address == vpc::ADDRESS)
        .unwrap()
        .after
        .push(subnet.clone());
    let err = g.check().unwrap_err().to_string();
    assert!(err.contains("cycle"), "{err}");
    assert!(err.contains(vpc::ADDRESS) && err.contains(&subnet), "{err}");

    let mut g = graph("learning", "mvp");
    g.resources[0].after.push("no-such-address".into());
    assert!(g.check().unwrap_err().to_string().contains("no-such-address"));
}
