//! Resolved stack → desired graph, one step per part of the stack.

use super::*;
use crate::config::{NatMode, Stack};

/// AWS managed policies attached to the roles ekstack creates.
pub const CLUSTER_POLICIES: &[&str] = &["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"];
pub const NODE_POLICIES: &[&str] = &[
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
];
pub const FARGATE_POLICIES: &[&str] = &["arn:aws:iam::aws:policy/AmazonEKSFargatePodExecutionRolePolicy"];

pub const VPC: &str = "vpc";
pub const INTERNET_GATEWAY: &str = "internet-gateway";
pub const PUBLIC_ROUTE_TABLE: &str = "route-table.public";
pub const DB_SECURITY_GROUP: &str = "security-group.database";
pub const CLUSTER_ROLE: &str = "iam-role.cluster";
pub const NODE_ROLE: &str = "iam-role.node";
pub const FARGATE_ROLE: &str = "iam-role.fargate";
pub const EKS_CLUSTER: &str = "eks-cluster";
pub const DB_SUBNET_GROUP: &str = "db-subnet-group";
pub const DB_INSTANCE: &str = "db-instance";
pub const DB_CLUSTER: &str = "db-cluster";

pub fn subnet_address(tier: Tier, az: &str) -> Address {
    format!("subnet.{}.{az}", tier.as_str())
}
pub fn eip_address(az: &str) -> Address {
    format!("eip.nat.{az}")
}
pub fn nat_address(az: &str) -> Address {
    format!("nat-gateway.{az}")
}
pub fn private_route_table_address(az: &str) -> Address {
    format!("route-table.private.{az}")
}
pub fn nodegroup_address(key: &str) -> Address {
    format!("eks-nodegroup.{key}")
}
pub fn fargate_address(key: &str) -> Address {
    format!("eks-fargate-profile.{key}")
}
pub fn cluster_instance_address(ordinal: i32) -> Address {
    format!("db-cluster-instance.{ordinal}")
}

/// IAM is global, so role names carry the region as well as the stack.
pub fn role_name(stack: &str, region: &str, purpose: &str) -> String {
    format!("{stack}-{region}-{purpose}")
}

pub fn cluster_instance_identifier(stack: &str, ordinal: i32) -> String {
    format!("{}-{ordinal}", crate::config::db_identifier(stack))
}

/// Builds the desired graph of a resolved stack.
pub fn build(stack: &Stack) -> Graph {
    let mut g = Graph::default();
    network(stack, &mut g);
    iam(stack, &mut g);
    eks(stack, &mut g);
    database(stack, &mut g);
    debug_assert_eq!(g.check(), Ok(()));
    g
}

fn push(g: &mut Graph, address: Address, kind: Kind, name: String, spec: Spec, deps: Vec<Address>) {
    g.resources.push(Resource {
        address,
        kind,
        name,
        spec,
        deps,
    });
}

fn private_subnets(stack: &Stack) -> Vec<Address> {
    stack
        .network
        .azs
        .iter()
        .map(|az| subnet_address(Tier::Private, az))
        .collect()
}

fn network(stack: &Stack, g: &mut Graph) {
    let s = &stack.meta.name;
    let n = &stack.network;
    push(
        g,
        VPC.into(),
        Kind::Vpc,
        format!("{s}-vpc"),
        Spec::Vpc { cidr: n.cidr },
        vec![],
    );
    push(
        g,
        INTERNET_GATEWAY.into(),
        Kind::InternetGateway,
        format!("{s}-igw"),
        Spec::InternetGateway,
        vec![VPC.into()],
    );

    for (i, az) in n.azs.iter().enumerate() {
        for (tier, cidr) in [
            (Tier::Public, n.public_subnets[i]),
            (Tier::Private, n.private_subnets[i]),
        ] {
            push(
                g,
                subnet_address(tier, az),
                Kind::Subnet,
                format!("{s}-{}-{az}", tier.as_str()),
                Spec::Subnet {
                    cidr,
                    az: az.clone(),
                    tier,
                    index: i,
                },
                vec![VPC.into()],
            );
        }
    }

    // NAT gateways: one in the first AZ for "single", one per AZ for "per-az".
    // The single NAT has the first AZ's address, so promoting to per-az keeps it.
    let nat_azs: Vec<&String> = match n.nat {
        NatMode::None => vec![],
        NatMode::Single => n.azs.iter().take(1).collect(),
        NatMode::PerAz => n.azs.iter().collect(),
    };
    for az in &nat_azs {
        push(
            g,
            eip_address(az),
            Kind::Eip,
            format!("{s}-nat-{az}"),
            Spec::Eip,
            vec![],
        );
        push(
            g,
            nat_address(az),
            Kind::NatGateway,
            format!("{s}-nat-{az}"),
            Spec::NatGateway {
                subnet: subnet_address(Tier::Public, az),
                eip: eip_address(az),
            },
            // A public NAT gateway needs the VPC's internet gateway attached.
            vec![
                subnet_address(Tier::Public, az),
                eip_address(az),
                INTERNET_GATEWAY.into(),
            ],
        );
    }

    let public: Vec<Address> = n.azs.iter().map(|az| subnet_address(Tier::Public, az)).collect();
    let mut deps = vec![VPC.to_string(), INTERNET_GATEWAY.to_string()];
    deps.extend(public.iter().cloned());
    push(
        g,
        PUBLIC_ROUTE_TABLE.into(),
        Kind::RouteTable,
        format!("{s}-public"),
        Spec::RouteTable {
            default_route: Some(INTERNET_GATEWAY.into()),
            subnets: public,
        },
        deps,
    );

    // One private route table per AZ even with a single NAT, so that moving
    // to per-az NAT only swaps each table's default route.
    for az in &n.azs {
        let nat = match n.nat {
            NatMode::None => None,
            NatMode::Single => Some(nat_address(&n.azs[0])),
            NatMode::PerAz => Some(nat_address(az)),
        };
        let subnet = subnet_address(Tier::Private, az);
        let mut deps = vec![VPC.to_string(), subnet.clone()];
        deps.extend(nat.iter().cloned());
        push(
            g,
            private_route_table_address(az),
            Kind::RouteTable,
            format!("{s}-private-{az}"),
            Spec::RouteTable {
                default_route: nat,
                subnets: vec![subnet],
            },
            deps,
        );
    }

    // The database's security group admits its port from the private subnets,
    // where the cluster's nodes and pods get their addresses. Admitting by CIDR
    // rather than from the cluster security group lets the database be created
    // at the same time as the control plane instead of ~12 minutes after it.
    if let Some(db) = &stack.database {
        push(
            g,
            DB_SECURITY_GROUP.into(),
            Kind::SecurityGroup,
            format!("{s}-database"),
            Spec::SecurityGroup {
                group_name: format!("{s}-database"),
                description: format!("ekstack {s}: the database port, from the private subnets"),
                port: db.engine.port(),
                sources: n.private_subnets.clone(),
            },
            vec![VPC.into()],
        );
    }
}

fn iam(stack: &Stack, g: &mut Graph) {
    let Some(eks) = &stack.eks else { return };
    let (s, region) = (&stack.meta.name, &stack.meta.region);
    let mut role = |address: &str, purpose: &str, service: &str, policies: &[&str]| {
        push(
            g,
            address.into(),
            Kind::IamRole,
            role_name(s, region, purpose),
            Spec::IamRole {
                service: service.into(),
                policies: policies.iter().map(|p| p.to_string()).collect(),
            },
            vec![],
        );
    };
    role(CLUSTER_ROLE, "cluster", "eks.amazonaws.com", CLUSTER_POLICIES);
    if !eks.nodegroups.is_empty() {
        role(NODE_ROLE, "node", "ec2.amazonaws.com", NODE_POLICIES);
    }
    if !eks.fargate.is_empty() {
        role(
            FARGATE_ROLE,
            "fargate",
            "eks-fargate-pods.amazonaws.com",
            FARGATE_POLICIES,
        );
    }
}

fn eks(stack: &Stack, g: &mut Graph) {
    let Some(eks) = &stack.eks else { return };
    let s = &stack.meta.name;
    let subnets = private_subnets(stack);
    let mut deps = vec![CLUSTER_ROLE.to_string()];
    deps.extend(subnets.iter().cloned());
    push(
        g,
        EKS_CLUSTER.into(),
        Kind::EksCluster,
        s.clone(),
        Spec::EksCluster {
            eks: eks.clone(),
            role: CLUSTER_ROLE.into(),
            subnets: subnets.clone(),
        },
        deps,
    );

    // Nodes and Fargate pods need egress from the private subnets to join the
    // cluster, so they wait for the private route tables (and so the NAT).
    let egress: Vec<Address> = stack
        .network
        .azs
        .iter()
        .map(|az| private_route_table_address(az))
        .collect();
    for (key, ng) in &eks.nodegroups {
        let mut deps = vec![EKS_CLUSTER.to_string(), NODE_ROLE.to_string()];
        deps.extend(egress.iter().cloned());
        push(
            g,
            nodegroup_address(key),
            Kind::EksNodegroup,
            key.clone(),
            Spec::EksNodegroup {
                cluster: s.clone(),
                key: key.clone(),
                nodegroup: ng.clone(),
                version: eks.version.clone(),
                role: NODE_ROLE.into(),
                subnets: subnets.clone(),
            },
            deps,
        );
    }
    for (key, profile) in &eks.fargate {
        let mut deps = vec![EKS_CLUSTER.to_string(), FARGATE_ROLE.to_string()];
        deps.extend(egress.iter().cloned());
        push(
            g,
            fargate_address(key),
            Kind::EksFargateProfile,
            key.clone(),
            Spec::EksFargateProfile {
                cluster: s.clone(),
                profile: profile.clone(),
                role: FARGATE_ROLE.into(),
                subnets: subnets.clone(),
            },
            deps,
        );
    }
}

fn database(stack: &Stack, g: &mut Graph) {
    let Some(db) = &stack.database else { return };
    let s = &stack.meta.name;
    let subnets = private_subnets(stack);
    push(
        g,
        DB_SUBNET_GROUP.into(),
        Kind::DbSubnetGroup,
        format!("{s}-db"),
        Spec::DbSubnetGroup {
            subnets: subnets.clone(),
        },
        subnets,
    );
    let deps = vec![DB_SUBNET_GROUP.to_string(), DB_SECURITY_GROUP.to_string()];
    let identifier = stack.db_identifier();
    if db.engine.is_aurora() {
        push(
            g,
            DB_CLUSTER.into(),
            Kind::DbCluster,
            identifier.clone(),
            Spec::DbCluster {
                db: db.clone(),
                subnet_group: DB_SUBNET_GROUP.into(),
                security_group: DB_SECURITY_GROUP.into(),
            },
            deps,
        );
        for ordinal in 1..=db.instances {
            push(
                g,
                cluster_instance_address(ordinal),
                Kind::DbClusterInstance,
                cluster_instance_identifier(s, ordinal),
                Spec::DbClusterInstance {
                    cluster: DB_CLUSTER.into(),
                    cluster_identifier: identifier.clone(),
                    db: db.clone(),
                    ordinal,
                },
                vec![DB_CLUSTER.into()],
            );
        }
    } else {
        push(
            g,
            DB_INSTANCE.into(),
            Kind::DbInstance,
            identifier,
            Spec::DbInstance {
                db: db.clone(),
                subnet_group: DB_SUBNET_GROUP.into(),
                security_group: DB_SECURITY_GROUP.into(),
            },
            deps,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load, Overlay};
    use std::path::Path;

    fn graph(stack: &str, env: &str) -> Graph {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("stacks")
            .join(format!("{stack}.toml"));
        build(&load(&path, &Overlay::Env(env.into()), None).unwrap().stack)
    }

    #[test]
    fn learning_mvp_has_every_kind_it_needs() {
        let g = graph("learning", "mvp");
        g.check().unwrap();
        let count = |k: Kind| g.resources.iter().filter(|r| r.kind == k).count();
        assert_eq!(count(Kind::Vpc), 1);
        assert_eq!(count(Kind::Subnet), 4);
        assert_eq!(count(Kind::NatGateway), 1);
        assert_eq!(count(Kind::Eip), 1);
        assert_eq!(count(Kind::RouteTable), 3);
        assert_eq!(count(Kind::IamRole), 3);
        assert_eq!(count(Kind::EksNodegroup), 1);
        assert_eq!(count(Kind::EksFargateProfile), 1);
        assert_eq!(count(Kind::DbInstance), 1);
        assert_eq!(g.resources.len(), 20);
    }

    #[test]
    fn prod_routes_each_private_subnet_to_its_own_nat() {
        let g = graph("learning", "prod");
        for az in ["ap-northeast-1a", "ap-northeast-1c"] {
            let rt = g.get(&private_route_table_address(az)).unwrap();
            let Spec::RouteTable { default_route, .. } = &rt.spec else {
                panic!()
            };
            assert_eq!(default_route.as_deref(), Some(nat_address(az).as_str()));
        }
        let mvp = graph("learning", "mvp");
        let rt = mvp.get(&private_route_table_address("ap-northeast-1c")).unwrap();
        let Spec::RouteTable { default_route, .. } = &rt.spec else {
            panic!()
        };
        assert_eq!(default_route.as_deref(), Some("nat-gateway.ap-northeast-1a"));
    }

    #[test]
    fn aurora_has_cluster_and_instances() {
        let g = graph("aurora", "prod");
        g.check().unwrap();
        assert!(g.get(DB_CLUSTER).is_some());
        assert!(g.get("db-cluster-instance.1").is_some());
        assert!(g.get(DB_INSTANCE).is_none());
    }

    #[test]
    fn fargate_only_has_no_node_role() {
        let g = graph("fargate", "mvp");
        assert!(g.get(NODE_ROLE).is_none());
        assert!(g.get(FARGATE_ROLE).is_some());
        assert!(g.get(DB_SUBNET_GROUP).is_none());
    }
}
