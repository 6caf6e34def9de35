//! The picture of a stack: what `ekstack diagram` draws, as a value.
//!
//! A [`Diagram`] is built from the resolved stack and its desired graph, and
//! optionally coloured by a plan's actions. Every box that stands for an
//! ekstack resource carries its graph address; what a plan deletes has no
//! graph resource but is drawn too, where its address puts it (the AZ a
//! NAT gateway's address names), so a reviewer sees what goes away. Things
//! ekstack does not make (the internet, the ALB an Ingress makes, the pods)
//! are context: drawn, never coloured. Nothing here knows about Mermaid or
//! SVG; the renderers in `crate::render::diagram` lay it out.

use std::collections::{BTreeMap, HashMap};

use ipnet::Ipv4Net;

use crate::config::{Capacity, EndpointAccess, Engine, Stack};
use crate::graph::{Address, Graph, Resource};
use crate::plan::Action;
use crate::resources::subnet::Tier;
use crate::resources::{
    db_cluster, db_cluster_instance, db_instance, db_proxy, db_replica, eks_addon, eks_cluster, eks_fargate_profile,
    eks_nodegroup, nat_gateway, subnet, vpc, Kind,
};

/// One action of a plan, as much of it as a picture needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedAction {
    pub address: Address,
    pub kind: Kind,
    pub action: Action,
}

impl PlannedAction {
    pub fn new(address: impl Into<Address>, kind: Kind, action: Action) -> Self {
        PlannedAction {
            address: address.into(),
            kind,
            action,
        }
    }
}

/// The whole picture of one stack.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagram {
    pub stack: String,
    pub env: Option<String>,
    pub region: String,
    /// Coloured by a plan: every resource has an action (`NoOp` when the
    /// plan leaves it alone). Without one, no resource has an action.
    pub planned: bool,
    pub internet: Node,
    pub network: Network,
    pub cluster: Option<Cluster>,
    pub database: Option<Database>,
    /// Resources of the stack that get no box of their own (security
    /// groups, IAM roles, route tables…), for a tally by kind.
    pub others: Vec<Node>,
    /// The traffic arrows, in drawing order.
    pub flows: Vec<Flow>,
}

/// One box: a resource of the stack, or context around it.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The graph (or plan) address it stands for; `None` for context.
    pub address: Option<Address>,
    pub part: Part,
    /// What the plan does to it; `None` without a plan, and for context.
    pub action: Option<Action>,
}

impl Node {
    fn context(part: Part) -> Node {
        Node {
            address: None,
            part,
            action: None,
        }
    }

    /// Not an ekstack resource: drawn without an action colour.
    pub fn is_context(&self) -> bool {
        self.address.is_none()
    }
}

/// What a box is, with the facts worth showing. Facts of a resource the
/// plan deletes are unknown (it is not in the file): those are `None`.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Internet,
    /// The ALB a Kubernetes Ingress makes: context.
    LoadBalancer {
        made_by: LoadBalancerMaker,
    },
    /// The workloads: context, around the node groups and profiles.
    Pods,
    /// Auto Mode's node pools: EKS runs the nodes (context).
    AutoModeNodes {
        node_pools: Vec<String>,
    },
    Vpc {
        cidr: Option<Ipv4Net>,
        /// A VPC the stack was given (`network.vpc_id`).
        given: Option<String>,
    },
    /// `given`: the given VPC's own gateway, context.
    InternetGateway {
        given: bool,
    },
    Subnet {
        tier: Tier,
        cidr: Option<Ipv4Net>,
        given_id: Option<String>,
    },
    NatGateway,
    ControlPlane {
        name: String,
        version: Option<String>,
        endpoint: Option<EndpointAccess>,
        auto: bool,
        logging: Vec<String>,
    },
    Nodegroup {
        key: String,
        instance_types: Vec<String>,
        capacity: Option<Capacity>,
        size: Option<Size>,
    },
    FargateProfile {
        key: String,
        namespaces: Vec<String>,
    },
    Addon {
        name: String,
        version: Option<String>,
    },
    /// An RDS instance: the primary, its Multi-AZ standby or a replica.
    DbInstance {
        role: DbRole,
        engine: Option<Engine>,
        class: Option<String>,
    },
    /// An Aurora cluster, around its instances.
    AuroraCluster {
        engine: Option<Engine>,
        serverless: Option<(f64, f64)>,
    },
    /// An instance of the Aurora cluster: 1 is the writer.
    AuroraInstance {
        ordinal: i32,
        class: Option<String>,
    },
    Proxy {
        engine_family: Option<String>,
    },
    /// A resource of this kind with no box of its own.
    Other {
        kind: Kind,
    },
}

/// Who makes the ALB from an Ingress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadBalancerMaker {
    /// The AWS Load Balancer Controller the stack installs.
    Controller,
    /// EKS Auto Mode's own load balancing.
    AutoMode,
    /// Nothing yet: the stack runs no load balancer controller.
    NoController,
}

/// A node group's scaling bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub min: i32,
    pub desired: i32,
    pub max: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbRole {
    Primary,
    /// Multi-AZ: a synchronous copy in another AZ, part of the primary.
    Standby,
    /// Read replica `n`.
    Replica(u32),
}

/// The VPC and what lives in its subnets, by AZ.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub vpc: Node,
    pub internet_gateway: Option<Node>,
    /// One column per AZ, in the order of the stack's AZs; AZs only a
    /// deletion still names come last.
    pub zones: Vec<Zone>,
    /// The ALB an Ingress makes, spanning the public subnets (context).
    pub load_balancer: Option<Node>,
}

/// One AZ's column.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// The AZ's name, or `subnet pair N` for a given VPC before plan read
    /// its subnets' AZs.
    pub name: String,
    pub public_subnet: Option<Node>,
    pub private_subnet: Option<Node>,
    pub nat_gateways: Vec<Node>,
    /// Database instances placed in this AZ (primary, standby, replicas,
    /// Aurora instances).
    pub databases: Vec<Node>,
}

/// The EKS cluster: its control plane (AWS-managed, outside the VPC) and
/// where pods run (inside it).
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub control_plane: Node,
    pub addons: Vec<Node>,
    /// The pods, around what runs them (context).
    pub pods: Node,
    /// Node groups, Fargate profiles, or Auto Mode's node pools.
    pub compute: Vec<Node>,
}

/// The database's boxes that are not in one AZ.
#[derive(Debug, Clone, PartialEq)]
pub struct Database {
    /// Aurora: the cluster, around its instances.
    pub aurora: Option<Node>,
    pub proxy: Option<Node>,
    /// Where the writer is: (zone index, index in its `databases`).
    pub writer: Option<(usize, usize)>,
}

/// One end of a traffic arrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Internet,
    InternetGateway,
    LoadBalancer,
    Pods,
    /// The NAT gateway(s) of this zone.
    Nat(usize),
    Proxy,
    /// The writer: the primary instance, or Aurora's writer.
    Database,
}

/// Which way traffic goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traffic {
    /// Requests from the internet to the app.
    Ingress,
    /// The app's queries to its database.
    Queries,
    /// The app's calls out to the internet.
    Egress,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    pub from: End,
    pub to: End,
    pub traffic: Traffic,
}

/// One thing to draw: a desired resource, or one only the plan knows
/// (a deletion).
struct Entry<'a> {
    address: &'a str,
    kind: Kind,
    resource: Option<&'a Resource>,
    action: Option<Action>,
}

/// The picture of `stack`, whose desired graph is `graph`, coloured by
/// `plan` when there is one.
pub fn build(stack: &Stack, graph: &Graph, plan: Option<&[PlannedAction]>) -> Diagram {
    let planned: HashMap<&str, &PlannedAction> = plan
        .unwrap_or_default()
        .iter()
        .map(|a| (a.address.as_str(), a))
        .collect();
    // With a plan, what it does not name is unchanged.
    let action_of = |address: &str| plan.map(|_| planned.get(address).map_or(Action::NoOp, |a| a.action));
    let mut entries: Vec<Entry> = graph
        .resources
        .iter()
        .map(|r| Entry {
            address: &r.address,
            kind: r.kind,
            resource: Some(r),
            action: action_of(&r.address),
        })
        .collect();
    let in_graph = graph.addresses();
    entries.extend(
        plan.unwrap_or_default()
            .iter()
            .filter(|a| !in_graph.contains(a.address.as_str()))
            .map(|a| Entry {
                address: &a.address,
                kind: a.kind,
                resource: None,
                action: Some(a.action),
            }),
    );

    let mut builder = Builder::new(stack, graph);
    for e in &entries {
        builder.add(e);
    }
    builder.finish(plan.is_some())
}

/// The diagram as it is put together, entry by entry.
struct Builder<'a> {
    stack: &'a Stack,
    vpc: Option<Node>,
    internet_gateway: Option<Node>,
    zones: Vec<Zone>,
    /// A given VPC's subnets, by their index in the file, to their zone.
    given_zones: BTreeMap<usize, usize>,
    control_plane: Option<Node>,
    addons: Vec<Node>,
    compute: Vec<Node>,
    aurora: Option<Node>,
    proxy: Option<Node>,
    writer: Option<(usize, usize)>,
    others: Vec<Node>,
}

impl<'a> Builder<'a> {
    fn new(stack: &'a Stack, graph: &Graph) -> Self {
        let mut b = Builder {
            stack,
            vpc: None,
            internet_gateway: None,
            zones: Vec::new(),
            given_zones: BTreeMap::new(),
            control_plane: None,
            addons: Vec::new(),
            compute: Vec::new(),
            aurora: None,
            proxy: None,
            writer: None,
            others: Vec::new(),
        };
        // The columns come first, in the stack's AZ order, so that a
        // resource met later finds its AZ.
        let mut subnets: Vec<&subnet::Spec> = graph
            .resources
            .iter()
            .filter_map(|r| r.spec::<subnet::Subnet>())
            .collect();
        subnets.sort_by_key(|s| s.index);
        for s in subnets {
            match &s.given {
                Some(_) => {
                    if !b.given_zones.contains_key(&s.index) {
                        let name = if s.az.is_empty() {
                            format!("subnet pair {}", s.index + 1)
                        } else {
                            s.az.clone()
                        };
                        let zone = b.zone(&name);
                        b.given_zones.insert(s.index, zone);
                    }
                }
                None => {
                    b.zone(&s.az);
                }
            }
        }
        b
    }

    /// The index of the zone named `az`, added when new.
    fn zone(&mut self, az: &str) -> usize {
        if let Some(i) = self.zones.iter().position(|z| z.name == az) {
            return i;
        }
        self.zones.push(Zone {
            name: az.to_string(),
            public_subnet: None,
            private_subnet: None,
            nat_gateways: Vec::new(),
            databases: Vec::new(),
        });
        self.zones.len() - 1
    }

    /// The zone of the `n`th (1-based) of a row of instances spread over
    /// the AZs, skipping the first `skip` (replicas go beside the primary).
    fn spread(&mut self, n: usize, skip: usize) -> usize {
        let count = self.zones.len();
        if count == 0 {
            return self.zone(self.stack.network.azs.first().map_or("", String::as_str));
        }
        let usable = count.saturating_sub(skip).max(1);
        let first = if count > skip { skip } else { 0 };
        first + (n.saturating_sub(1)) % usable
    }

    fn add(&mut self, e: &Entry) {
        let node = |part: Part| Node {
            address: Some(e.address.to_string()),
            part,
            action: e.action,
        };
        let r = e.resource;
        match e.kind {
            Kind::Vpc => {
                let spec = r.and_then(|r| r.spec::<vpc::Vpc>());
                self.vpc = Some(node(Part::Vpc {
                    cidr: spec.filter(|s| s.given.is_none()).map(|s| s.cidr),
                    given: spec.and_then(|s| s.given.clone()),
                }));
            }
            Kind::InternetGateway => self.internet_gateway = Some(node(Part::InternetGateway { given: false })),
            Kind::Subnet => {
                let spec = r.and_then(|r| r.spec::<subnet::Subnet>());
                let (zone, tier, cidr, given_id) = match spec {
                    Some(s) => {
                        let zone = match (&s.given, self.given_zones.get(&s.index)) {
                            (Some(_), Some(z)) => *z,
                            _ => self.zone(&s.az),
                        };
                        let given = s.given.as_ref().map(|g| g.id.clone());
                        (zone, s.tier, given.is_none().then_some(s.cidr), given)
                    }
                    None => {
                        // `subnet.<tier>.<az>`: a subnet of an AZ the stack left.
                        let rest = e.address.trim_start_matches("subnet.");
                        let (tier, az) = rest.split_once('.').unwrap_or(("private", rest));
                        let tier = if tier == "public" { Tier::Public } else { Tier::Private };
                        (self.zone(az), tier, None, None)
                    }
                };
                let n = node(Part::Subnet { tier, cidr, given_id });
                match tier {
                    Tier::Public => self.zones[zone].public_subnet = Some(n),
                    Tier::Private => self.zones[zone].private_subnet = Some(n),
                }
            }
            Kind::NatGateway => {
                let az = match r.and_then(|r| r.spec::<nat_gateway::NatGateway>()) {
                    Some(s) => s.az.clone(),
                    None => e.address.trim_start_matches("nat-gateway.").to_string(),
                };
                let zone = self.zone(&az);
                self.zones[zone].nat_gateways.push(node(Part::NatGateway));
            }
            Kind::EksCluster => {
                let spec = r.and_then(|r| r.spec::<eks_cluster::EksCluster>());
                self.control_plane = Some(node(Part::ControlPlane {
                    name: r.map_or_else(|| self.stack.meta.name.clone(), |r| r.name.clone()),
                    version: spec.map(|s| s.version.clone()),
                    endpoint: spec.map(|s| s.endpoint),
                    auto: spec.is_some_and(|s| s.auto.is_some()),
                    logging: spec.map(|s| s.logging.clone()).unwrap_or_default(),
                }));
                if let Some(auto) = spec.and_then(|s| s.auto.as_ref()) {
                    self.compute.push(Node::context(Part::AutoModeNodes {
                        node_pools: auto.node_pools.clone(),
                    }));
                }
            }
            Kind::EksNodegroup => {
                let spec = r.and_then(|r| r.spec::<eks_nodegroup::EksNodegroup>());
                self.compute.push(node(Part::Nodegroup {
                    key: spec.map_or_else(
                        || e.address.trim_start_matches("eks-nodegroup.").to_string(),
                        |s| s.key.clone(),
                    ),
                    instance_types: spec.map(|s| s.group.instance_types.clone()).unwrap_or_default(),
                    capacity: spec.map(|s| s.group.capacity),
                    size: spec.map(|s| Size {
                        min: s.group.min,
                        desired: s.group.desired,
                        max: s.group.max,
                    }),
                }));
            }
            Kind::EksFargateProfile => {
                let spec = r.and_then(|r| r.spec::<eks_fargate_profile::EksFargateProfile>());
                self.compute.push(node(Part::FargateProfile {
                    key: e.address.trim_start_matches("eks-fargate-profile.").to_string(),
                    namespaces: spec.map(|s| s.namespaces.clone()).unwrap_or_default(),
                }));
            }
            Kind::EksAddon => {
                let spec = r.and_then(|r| r.spec::<eks_addon::EksAddon>());
                self.addons.push(node(Part::Addon {
                    name: spec.map_or_else(
                        || e.address.trim_start_matches("eks-addon.").to_string(),
                        |s| s.addon.clone(),
                    ),
                    version: spec.map(|s| s.version.clone().unwrap_or_else(|| s.choice.as_str().to_string())),
                }));
            }
            Kind::DbInstance => {
                let db = r.and_then(|r| r.spec::<db_instance::DbInstance>()).map(|s| &s.db);
                let primary = node(Part::DbInstance {
                    role: DbRole::Primary,
                    engine: db.map(|d| d.engine),
                    class: db.map(|d| d.class.clone()),
                });
                // RDS picks the AZs; the picture shows the primary in the
                // first and the standby in the next, as RDS spreads them.
                let zone = self.spread(1, 0);
                self.zones[zone].databases.insert(0, primary);
                // A replica met first sits in this zone too: the writer is first.
                self.writer = Some((zone, 0));
                if db.is_some_and(|d| d.multi_az) {
                    let standby = node(Part::DbInstance {
                        role: DbRole::Standby,
                        engine: db.map(|d| d.engine),
                        class: db.map(|d| d.class.clone()),
                    });
                    let zone = self.spread(2, 0);
                    // Right after a primary in the same zone (one AZ), else first.
                    let at = usize::from(self.writer.is_some_and(|(z, _)| z == zone));
                    self.zones[zone].databases.insert(at, standby);
                }
            }
            Kind::DbReplica => {
                let spec = r.and_then(|r| r.spec::<db_replica::DbReplica>());
                let n: u32 = e.address.trim_start_matches("db-replica.").parse().unwrap_or(1);
                let zone = match spec {
                    Some(s) if !s.az.is_empty() => self.zone(&s.az),
                    _ => self.spread(n as usize, 1),
                };
                self.zones[zone].databases.push(node(Part::DbInstance {
                    role: DbRole::Replica(n),
                    engine: spec.map(|s| s.engine),
                    class: spec.map(|s| s.class.clone()),
                }));
            }
            Kind::DbCluster => {
                let db = r.and_then(|r| r.spec::<db_cluster::DbCluster>()).map(|s| &s.db);
                self.aurora = Some(node(Part::AuroraCluster {
                    engine: db.map(|d| d.engine),
                    serverless: db.and_then(|d| d.serverless).map(|s| (s.min_acu, s.max_acu)),
                }));
            }
            Kind::DbClusterInstance => {
                let spec = r.and_then(|r| r.spec::<db_cluster_instance::DbClusterInstance>());
                let ordinal = spec.map_or_else(
                    || {
                        e.address
                            .trim_start_matches("db-cluster-instance.")
                            .parse()
                            .unwrap_or(1)
                    },
                    |s| s.ordinal,
                );
                // RDS places Aurora's instances across the subnet group's AZs.
                let zone = self.spread(ordinal.max(1) as usize, 0);
                let n = node(Part::AuroraInstance {
                    ordinal,
                    class: spec.map(|s| s.db.class.clone()),
                });
                if ordinal == 1 {
                    self.zones[zone].databases.insert(0, n);
                    self.writer = Some((zone, 0));
                } else {
                    self.zones[zone].databases.push(n);
                }
            }
            Kind::DbProxy => {
                let spec = r.and_then(|r| r.spec::<db_proxy::DbProxy>());
                self.proxy = Some(node(Part::Proxy {
                    engine_family: spec.map(|s| s.engine_family.to_string()),
                }));
            }
            kind => self.others.push(node(Part::Other { kind })),
        }
    }

    fn finish(mut self, planned: bool) -> Diagram {
        let stack = self.stack;
        let given = stack.network.given.as_ref();
        let vpc = self.vpc.take().unwrap_or_else(|| {
            Node::context(Part::Vpc {
                cidr: given.is_none().then_some(stack.network.cidr),
                given: given.map(|g| g.vpc_id.clone()),
            })
        });
        // A given VPC's gateway is not ours, but its traffic passes it.
        let internet_gateway = self
            .internet_gateway
            .take()
            .or_else(|| given.map(|_| Node::context(Part::InternetGateway { given: true })));
        let eks = stack.running_cluster();
        let cluster = self.control_plane.take().map(|control_plane| Cluster {
            control_plane,
            addons: std::mem::take(&mut self.addons),
            pods: Node::context(Part::Pods),
            compute: std::mem::take(&mut self.compute),
        });
        let has_public = self.zones.iter().any(|z| z.public_subnet.is_some());
        let load_balancer = (cluster.is_some() && has_public).then(|| {
            Node::context(Part::LoadBalancer {
                made_by: match eks {
                    Some(e) if e.auto() => LoadBalancerMaker::AutoMode,
                    Some(e) if e.load_balancer_controller => LoadBalancerMaker::Controller,
                    _ => LoadBalancerMaker::NoController,
                },
            })
        });
        // The writer's box may have moved when a standby or an earlier
        // replica went before it: find it again.
        let writer = self.writer.and_then(|(z, _)| {
            let zone = self.zones.get(z)?;
            let i = zone.databases.iter().position(|n| {
                matches!(
                    n.part,
                    Part::DbInstance {
                        role: DbRole::Primary,
                        ..
                    } | Part::AuroraInstance { ordinal: 1, .. }
                )
            })?;
            Some((z, i))
        });
        let database = (writer.is_some() || self.aurora.is_some() || self.proxy.is_some()).then(|| Database {
            aurora: self.aurora.take(),
            proxy: self.proxy.take(),
            writer,
        });

        let mut flows = Vec::new();
        let flow = |from, to, traffic| Flow { from, to, traffic };
        if cluster.is_some() {
            if load_balancer.is_some() {
                let gateway = if internet_gateway.is_some() {
                    flows.push(flow(End::Internet, End::InternetGateway, Traffic::Ingress));
                    End::InternetGateway
                } else {
                    End::Internet
                };
                flows.push(flow(gateway, End::LoadBalancer, Traffic::Ingress));
                flows.push(flow(End::LoadBalancer, End::Pods, Traffic::Ingress));
            }
            if let Some(db) = &database {
                match (&db.proxy, db.writer) {
                    (Some(_), writer) => {
                        flows.push(flow(End::Pods, End::Proxy, Traffic::Queries));
                        if writer.is_some() {
                            flows.push(flow(End::Proxy, End::Database, Traffic::Queries));
                        }
                    }
                    (None, Some(_)) => flows.push(flow(End::Pods, End::Database, Traffic::Queries)),
                    (None, None) => {}
                }
            }
            let mut nat_zones = self
                .zones
                .iter()
                .enumerate()
                .filter(|(_, z)| z.nat_gateways.iter().any(|n| n.action != Some(Action::Delete)))
                .map(|(i, _)| i)
                .peekable();
            if nat_zones.peek().is_some() {
                for z in nat_zones {
                    flows.push(flow(End::Pods, End::Nat(z), Traffic::Egress));
                    flows.push(flow(End::Nat(z), End::Internet, Traffic::Egress));
                }
            } else if given.is_some() {
                // The given VPC's own routes take it out.
                flows.push(flow(End::Pods, End::Internet, Traffic::Egress));
            }
        }

        Diagram {
            stack: stack.meta.name.clone(),
            env: stack.meta.env.clone(),
            region: stack.meta.region.clone(),
            planned,
            internet: Node::context(Part::Internet),
            network: Network {
                vpc,
                internet_gateway,
                zones: self.zones,
                load_balancer,
            },
            cluster,
            database,
            others: self.others,
            flows,
        }
    }
}

impl Diagram {
    /// Every box, context included, in no particular order.
    pub fn nodes(&self) -> Vec<&Node> {
        let mut all = vec![&self.internet, &self.network.vpc];
        all.extend(&self.network.internet_gateway);
        all.extend(&self.network.load_balancer);
        for z in &self.network.zones {
            all.extend(&z.public_subnet);
            all.extend(&z.private_subnet);
            all.extend(&z.nat_gateways);
            all.extend(&z.databases);
        }
        if let Some(c) = &self.cluster {
            all.push(&c.control_plane);
            all.push(&c.pods);
            all.extend(&c.addons);
            all.extend(&c.compute);
        }
        if let Some(d) = &self.database {
            all.extend(&d.aurora);
            all.extend(&d.proxy);
        }
        all.extend(&self.others);
        all
    }

    /// The box standing for `address`, if any (the first: a Multi-AZ
    /// standby shares its primary's address).
    pub fn node(&self, address: &str) -> Option<&Node> {
        self.nodes().into_iter().find(|n| n.address.as_deref() == Some(address))
    }

    /// The database's writer box.
    pub fn writer(&self) -> Option<&Node> {
        let (z, i) = self.database.as_ref()?.writer?;
        self.network.zones.get(z)?.databases.get(i)
    }
}

#[cfg(test)]
mod tests;
