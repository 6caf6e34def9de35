//! The desired resource graph: every AWS resource a resolved stack needs, with
//! its stable address, kind, attributes and what it depends on.
//!
//! Built by small named steps (`network`, `iam`, `eks`, `database`), each a pure
//! function of the resolved stack, so the graph can be tested without AWS.

pub mod build;
pub mod kind;

use std::collections::{BTreeMap, HashMap, HashSet};

use ipnet::Ipv4Net;

pub use build::build;
pub use kind::Kind;

use crate::config::{Database, Eks, FargateProfile, Nodegroup};

/// A stable logical name, e.g. `subnet.private.ap-northeast-1a`.
pub type Address = String;

/// One desired resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub address: Address,
    pub kind: Kind,
    /// The `Name` tag, or the AWS name for kinds named by the API (EKS, RDS, IAM).
    pub name: String,
    pub spec: Spec,
    /// Addresses that must be ready before this resource can be created.
    pub deps: Vec<Address>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Public,
    Private,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Public => "public",
            Tier::Private => "private",
        }
    }
}

/// What each kind needs to be created. References to other resources are
/// addresses; they become AWS ids when the plan runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    Vpc {
        cidr: Ipv4Net,
    },
    InternetGateway,
    Subnet {
        cidr: Ipv4Net,
        az: String,
        tier: Tier,
        /// Index of the AZ in `network.azs`, for the stack-file path of its CIDR.
        index: usize,
    },
    Eip,
    NatGateway {
        subnet: Address,
        eip: Address,
    },
    RouteTable {
        /// The target of `0.0.0.0/0`: the internet gateway or a NAT gateway.
        default_route: Option<Address>,
        subnets: Vec<Address>,
    },
    SecurityGroup {
        group_name: String,
        description: String,
        port: i32,
        /// CIDRs admitted on `port`.
        sources: Vec<Ipv4Net>,
    },
    IamRole {
        /// The service that assumes the role, e.g. `eks.amazonaws.com`.
        service: String,
        /// ARNs of the AWS managed policies attached.
        policies: Vec<String>,
    },
    EksCluster {
        eks: Eks,
        role: Address,
        subnets: Vec<Address>,
    },
    EksNodegroup {
        cluster: String,
        key: String,
        nodegroup: Nodegroup,
        version: String,
        role: Address,
        subnets: Vec<Address>,
    },
    EksFargateProfile {
        cluster: String,
        profile: FargateProfile,
        role: Address,
        subnets: Vec<Address>,
    },
    DbSubnetGroup {
        subnets: Vec<Address>,
    },
    DbInstance {
        db: Database,
        subnet_group: Address,
        security_group: Address,
    },
    DbCluster {
        db: Database,
        subnet_group: Address,
        security_group: Address,
    },
    DbClusterInstance {
        cluster: Address,
        cluster_identifier: String,
        db: Database,
        /// 1 is the writer.
        ordinal: i32,
    },
}

/// The whole desired state of a stack.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub resources: Vec<Resource>,
}

impl Graph {
    pub fn get(&self, address: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.address == address)
    }

    pub fn addresses(&self) -> HashSet<&str> {
        self.resources.iter().map(|r| r.address.as_str()).collect()
    }

    /// Checks that every dependency exists and that there is no cycle.
    pub fn check(&self) -> Result<(), String> {
        let index: HashMap<&str, &Resource> = self.resources.iter().map(|r| (r.address.as_str(), r)).collect();
        if index.len() != self.resources.len() {
            return Err("two resources share an address".into());
        }
        for r in &self.resources {
            for d in &r.deps {
                if !index.contains_key(d.as_str()) {
                    return Err(format!("{} depends on {d}, which is not in the graph", r.address));
                }
            }
        }
        // Kahn's algorithm: whatever is left over sits on a cycle.
        let mut remaining: BTreeMap<&str, usize> = self
            .resources
            .iter()
            .map(|r| (r.address.as_str(), r.deps.len()))
            .collect();
        let mut ready: Vec<&str> = remaining.iter().filter(|(_, n)| **n == 0).map(|(a, _)| *a).collect();
        let mut done = 0;
        while let Some(a) = ready.pop() {
            done += 1;
            for r in self.resources.iter().filter(|r| r.deps.iter().any(|d| d == a)) {
                let n = remaining.get_mut(r.address.as_str()).expect("every address is counted");
                *n -= 1;
                if *n == 0 {
                    ready.push(r.address.as_str());
                }
            }
        }
        if done != self.resources.len() {
            return Err("the resource graph has a cycle".into());
        }
        Ok(())
    }
}
