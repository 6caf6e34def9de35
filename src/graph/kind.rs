//! Resource kinds, and the order in which kinds depend on each other.

use serde::Serialize;

/// The kinds of DESIGN §3; also the `kind` values of JSON output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Vpc,
    InternetGateway,
    Subnet,
    Eip,
    NatGateway,
    RouteTable,
    SecurityGroup,
    IamRole,
    EksCluster,
    EksNodegroup,
    EksFargateProfile,
    DbSubnetGroup,
    DbInstance,
    DbCluster,
    DbClusterInstance,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Vpc => "vpc",
            Kind::InternetGateway => "internet_gateway",
            Kind::Subnet => "subnet",
            Kind::Eip => "eip",
            Kind::NatGateway => "nat_gateway",
            Kind::RouteTable => "route_table",
            Kind::SecurityGroup => "security_group",
            Kind::IamRole => "iam_role",
            Kind::EksCluster => "eks_cluster",
            Kind::EksNodegroup => "eks_nodegroup",
            Kind::EksFargateProfile => "eks_fargate_profile",
            Kind::DbSubnetGroup => "db_subnet_group",
            Kind::DbInstance => "db_instance",
            Kind::DbCluster => "db_cluster",
            Kind::DbClusterInstance => "db_cluster_instance",
        }
    }

    /// Kinds whose live resources may reference a resource of this kind, so
    /// must be deleted (or updated away from it) before it is deleted. This is
    /// the edge-reversal used for deletion: the VPC cannot go while subnets remain.
    pub fn referenced_by(self) -> &'static [Kind] {
        use Kind::*;
        match self {
            Vpc => &[InternetGateway, Subnet, RouteTable, SecurityGroup],
            InternetGateway => &[RouteTable, NatGateway],
            Subnet => &[
                NatGateway,
                RouteTable,
                EksCluster,
                EksNodegroup,
                EksFargateProfile,
                DbSubnetGroup,
            ],
            Eip => &[NatGateway],
            NatGateway => &[RouteTable],
            RouteTable => &[],
            SecurityGroup => &[DbInstance, DbCluster, DbClusterInstance],
            IamRole => &[EksCluster, EksNodegroup, EksFargateProfile],
            EksCluster => &[EksNodegroup, EksFargateProfile],
            EksNodegroup => &[],
            EksFargateProfile => &[],
            DbSubnetGroup => &[DbInstance, DbCluster, DbClusterInstance],
            DbInstance => &[],
            DbCluster => &[DbClusterInstance],
            DbClusterInstance => &[],
        }
    }
}

impl Kind {
    /// Network pieces that anything Kubernetes left in the VPC (load
    /// balancers, their interfaces) can block from being deleted.
    pub fn blocked_by_leftovers(self) -> bool {
        matches!(
            self,
            Kind::Subnet | Kind::InternetGateway | Kind::SecurityGroup | Kind::Vpc | Kind::RouteTable
        )
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
