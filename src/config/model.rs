//! Stage two of configuration: the resolved stack, with defaults filled in,
//! CIDRs derived and every rule checked. Everything downstream (the desired
//! graph, plan, cost) reads only this model, never the raw TOML.
//!
//! The enumerated settings spell themselves once, through strum: parsing,
//! `as_str`, the list of accepted values in error messages and the serialised
//! form (`serde(into)`) all come from `serialize_all = "kebab-case"`.

use std::collections::BTreeMap;

use ipnet::Ipv4Net;
use serde::Serialize;
use strum::{EnumString, IntoStaticStr, VariantNames};

/// A stack after merging the overlay, filling defaults and validating.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stack {
    #[serde(rename = "stack")]
    pub meta: StackMeta,
    pub network: Network,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eks: Option<Eks>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<Database>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "as_ci_table")]
    pub ci: Option<GithubCi>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<Registry>,
}

/// `ci` as the file writes it: `[ci.github]`.
fn as_ci_table<S: serde::Serializer>(ci: &Option<GithubCi>, s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Ci<'a> {
        github: &'a GithubCi,
    }
    match ci {
        Some(github) => Ci { github }.serialize(s),
        None => s.serialize_none(),
    }
}

/// `[ci.github]`: who in GitHub Actions may assume the stack's CI roles.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GithubCi {
    /// `owner/name`, never a pattern.
    pub repository: String,
    /// Branch names; one ending in `*` is a prefix.
    pub branches: Vec<String>,
    pub environments: Vec<String>,
    /// Where the deploy role has EKS `edit`.
    pub namespaces: Vec<String>,
    pub infra_apply: bool,
}

impl GithubCi {
    /// The `sub` claims of the refs and environments that may deploy:
    /// `repo:o/r:ref:refs/heads/main`, `repo:o/r:environment:prod`
    /// ("About security hardening with OpenID Connect", GitHub docs).
    pub fn deploy_subjects(&self) -> Vec<String> {
        let repo = &self.repository;
        self.branches
            .iter()
            .map(|b| format!("repo:{repo}:ref:refs/heads/{b}"))
            .chain(self.environments.iter().map(|e| format!("repo:{repo}:environment:{e}")))
            .collect()
    }

    /// What may plan: the repository's pull requests, and whatever may deploy.
    pub fn plan_subjects(&self) -> Vec<String> {
        std::iter::once(format!("repo:{}:pull_request", self.repository))
            .chain(self.deploy_subjects())
            .collect()
    }
}

/// `[registry]`: the stack's ECR repositories.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Registry {
    /// Names as the file gives them; AWS names are `<stack>/<name>`.
    pub repositories: Vec<String>,
    pub keep_images: u32,
    pub immutable_tags: bool,
}

/// Images an ECR repository keeps when the file does not say.
pub const KEEP_IMAGES: u32 = 30;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackMeta {
    pub name: String,
    pub region: String,
    /// The environment overlay applied, if any (`mvp`, `prod`, or a file name).
    #[serde(skip)]
    pub env: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// `budget_usd_month` and `alert_email`: the stack's AWS Budget.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    /// The sleeping form of the stack (`ekstack sleep`), never from a file.
    #[serde(skip)]
    pub asleep: bool,
    /// How deep the sleeping form goes (`sleep --deep [--snapshot]`).
    #[serde(skip)]
    pub depth: SleepDepth,
    /// The snapshot of the database that `sleep --deep --snapshot` takes
    /// (in the sleeping form) or took (learnt at plan time, when the
    /// database is absent): the wake restores the database from it.
    #[serde(skip)]
    pub sleep_snapshot: Option<SleepSnapshot>,
    /// `apply --reboot`: databases pending a reboot for their parameter
    /// group are rebooted. Never from a file.
    #[serde(skip)]
    pub reboot: bool,
    /// `apply --finish-migration`: the RDS instance an Aurora migration
    /// kept is deleted. Never from a file.
    #[serde(skip)]
    pub finish_migration: bool,
    /// `--delete-images`: ECR repositories that hold images may be deleted
    /// with them. Never from a file.
    #[serde(skip)]
    pub delete_images: bool,
    /// `--tag-subnets`: given subnets without their load balancer tag get
    /// it. Never from a file.
    #[serde(skip)]
    pub tag_subnets: bool,
    /// The AWS account the credentials belong to, learnt at plan time;
    /// `None` in `validate`, which runs without credentials.
    #[serde(skip)]
    pub account: Option<String>,
}

/// How much of the stack `ekstack sleep` takes down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, strum::IntoStaticStr, strum::EnumString)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum SleepDepth {
    /// Node groups at zero, the database stopped, NAT gateways deleted.
    #[default]
    Light,
    /// Also the cluster deleted: node groups, Fargate profiles, add-ons and
    /// the control plane. The database is stopped.
    Deep,
    /// Deep, and the database snapshotted and deleted.
    DeepSnapshot,
}

impl SleepDepth {
    pub fn is_deep(self) -> bool {
        self != SleepDepth::Light
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The manual snapshot a deep sleep left of the database.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SleepSnapshot {
    pub name: String,
    /// An Aurora cluster snapshot (not an instance's).
    pub cluster: bool,
    /// Its size as RDS reports it (allocated storage; 0 when unknown).
    pub gib: u32,
}

/// A monthly cost budget for the stack, with its alarm address.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Budget {
    #[serde(rename = "budget_usd_month")]
    pub usd_month: f64,
    #[serde(rename = "alert_email")]
    pub email: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, EnumString, IntoStaticStr, VariantNames)]
#[serde(into = "&'static str")]
#[strum(serialize_all = "kebab-case")]
pub enum NatMode {
    None,
    Single,
    PerAz,
}

impl NatMode {
    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub cidr: Ipv4Net,
    /// Resolved AZ names, in order; subnet `i` of each tier lives in `azs[i]`.
    pub azs: Vec<String>,
    /// `Some(n)` when the file asks for a number of AZs (or says nothing:
    /// two) rather than naming them; plan then picks them from what the
    /// account sees (`azs` holds the static table's guess until then).
    pub az_count: Option<usize>,
    pub nat: NatMode,
    pub public_subnets: Vec<Ipv4Net>,
    pub private_subnets: Vec<Ipv4Net>,
    /// `vpc_id`: a VPC ekstack did not create, used as it is.
    pub given: Option<GivenNetwork>,
}

/// A VPC and subnets the stack uses but did not make: never changed (but
/// for load balancer tags with `--tag-subnets`), never deleted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GivenNetwork {
    pub vpc_id: String,
    pub public_subnet_ids: Vec<String>,
    pub private_subnet_ids: Vec<String>,
    /// What plan read of each subnet; empty in `validate`.
    #[serde(skip)]
    pub subnets: Vec<GivenSubnet>,
}

/// One given subnet as plan found it.
#[derive(Debug, Clone, PartialEq)]
pub struct GivenSubnet {
    pub id: String,
    pub public: bool,
    pub az: String,
    /// It carries the load balancer tag of its tier.
    pub lb_tag: bool,
}

/// `[network]` as a file writes it: a given VPC by its ids alone.
impl Serialize for Network {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        match &self.given {
            Some(g) => {
                let mut t = s.serialize_struct("Network", 3)?;
                t.serialize_field("vpc_id", &g.vpc_id)?;
                t.serialize_field("public_subnet_ids", &g.public_subnet_ids)?;
                t.serialize_field("private_subnet_ids", &g.private_subnet_ids)?;
                t.end()
            }
            None => {
                let mut t = s.serialize_struct("Network", 5)?;
                t.serialize_field("cidr", &self.cidr)?;
                t.serialize_field("azs", &self.azs)?;
                t.serialize_field("nat", &self.nat)?;
                t.serialize_field("public_subnets", &self.public_subnets)?;
                t.serialize_field("private_subnets", &self.private_subnets)?;
                t.end()
            }
        }
    }
}

impl Stack {
    /// A stack known by its name and region alone, for the commands that
    /// work without its file (`destroy --stack`): nothing desired, every
    /// default (a final snapshot of a database among them).
    pub fn bare(name: &str, region: &str) -> Stack {
        Stack {
            meta: StackMeta {
                name: name.to_string(),
                region: region.to_string(),
                env: None,
                tags: BTreeMap::new(),
                budget: None,
                asleep: false,
                depth: SleepDepth::Light,
                sleep_snapshot: None,
                reboot: false,
                finish_migration: false,
                delete_images: false,
                tag_subnets: false,
                account: None,
            },
            network: Network {
                cidr: Ipv4Net::new(std::net::Ipv4Addr::new(10, 0, 0, 0), 16).unwrap_or_default(),
                azs: Vec::new(),
                az_count: None,
                nat: NatMode::None,
                public_subnets: Vec::new(),
                private_subnets: Vec::new(),
                given: None,
            },
            eks: None,
            database: None,
            ci: None,
            registry: None,
        }
    }
}

impl Network {
    /// Whether the VPC is one ekstack did not create.
    pub fn is_given(&self) -> bool {
        self.given.is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, EnumString, IntoStaticStr, VariantNames)]
#[serde(into = "&'static str")]
#[strum(serialize_all = "kebab-case")]
pub enum EndpointAccess {
    Public,
    Private,
    PublicAndPrivate,
}

impl EndpointAccess {
    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn public(self) -> bool {
        matches!(self, EndpointAccess::Public | EndpointAccess::PublicAndPrivate)
    }

    pub fn private(self) -> bool {
        matches!(self, EndpointAccess::Private | EndpointAccess::PublicAndPrivate)
    }

    pub fn from_flags(public: bool, private: bool) -> Option<Self> {
        match (public, private) {
            (true, false) => Some(EndpointAccess::Public),
            (false, true) => Some(EndpointAccess::Private),
            (true, true) => Some(EndpointAccess::PublicAndPrivate),
            (false, false) => None,
        }
    }
}

/// The control plane log types EKS can send to CloudWatch, in AWS's spelling.
pub const LOG_TYPES: [&str; 5] = ["api", "audit", "authenticator", "controllerManager", "scheduler"];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Eks {
    pub version: String,
    pub endpoint: EndpointAccess,
    pub public_access_cidrs: Vec<String>,
    /// Enabled log types, in the order of [`LOG_TYPES`].
    pub logging: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub nodegroups: BTreeMap<String, Nodegroup>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fargate: BTreeMap<String, FargateProfile>,
    /// The managed add-ons the cluster runs: the defaults not turned off,
    /// and the opt-in ones the file names.
    pub addons: BTreeMap<String, Addon>,
    /// Who may use the cluster besides its creator, by key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub access: BTreeMap<String, Access>,
    /// AWS permissions for service accounts, by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_identities: BTreeMap<String, PodIdentity>,
    /// The AWS Load Balancer Controller's identity is among them.
    pub load_balancer_controller: bool,
    pub mode: ClusterMode,
    /// Auto Mode: the instances the node pools are expected to start, for
    /// the cost estimate (an assumption the plan states).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_mode_expected_instances: Option<u32>,
    /// A deep sleep deleted the cluster; the file still has it. Never from
    /// a file.
    #[serde(skip)]
    pub parked: bool,
}

/// The instances Auto Mode's node pools are assumed to start, for the cost
/// estimate, when the file does not say.
pub const AUTO_MODE_EXPECTED_INSTANCES: u32 = 2;

/// How the cluster gets its nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, EnumString, IntoStaticStr, VariantNames)]
#[serde(into = "&'static str")]
#[strum(serialize_all = "kebab-case")]
pub enum ClusterMode {
    /// Managed node groups and Fargate profiles that the file lists.
    Managed,
    /// EKS Auto Mode: EKS starts and runs the nodes from its node pools,
    /// and runs the CNI, kube-proxy, CoreDNS, the Pod Identity agent, the
    /// EBS CSI driver and load balancing itself.
    Auto,
}

impl ClusterMode {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl Eks {
    pub fn auto(&self) -> bool {
        self.mode == ClusterMode::Auto
    }
}

/// An IAM role for one Kubernetes service account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodIdentity {
    pub namespace: String,
    pub service_account: String,
    /// Managed policy ARNs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub statements: Vec<Statement>,
    /// May read the database's managed master secret.
    pub database: bool,
    /// How the pods get the role's credentials; derived from where the
    /// namespace runs, so never written in a file.
    #[serde(skip)]
    pub mechanism: Mechanism,
    /// Its role's purpose in the role name (`pod-<name>`; `lbc` for the
    /// load balancer controller, whose name is too long for IAM).
    #[serde(skip)]
    pub role_purpose: String,
    /// Grants what the AWS Load Balancer Controller needs.
    #[serde(skip)]
    pub load_balancer_controller: bool,
}

/// One inline Allow statement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statement {
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

/// How a service account's pods get AWS credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mechanism {
    /// EKS Pod Identity: a role trusting `pods.eks.amazonaws.com` and an
    /// association; needs EC2 nodes and the Pod Identity agent.
    PodIdentity,
    /// IAM roles for service accounts: a role trusting the cluster's OIDC
    /// provider for exactly this service account. Fargate pods cannot use
    /// EKS Pod Identity.
    Irsa,
}

/// A managed add-on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Addon {
    pub version: AddonVersion,
    /// Configuration values (the add-on's JSON schema), as a table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<serde_json::Map<String, serde_json::Value>>,
    /// What plan resolved through DescribeAddonVersions; `None` in
    /// `validate`, which runs without credentials.
    #[serde(skip)]
    pub resolved: Option<ResolvedVersion>,
}

/// Which add-on version runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddonVersion {
    /// The one EKS marks default for the cluster's Kubernetes version, chosen
    /// when the add-on is made and at each Kubernetes upgrade.
    Default,
    /// The newest for the cluster's Kubernetes version, chosen likewise.
    Latest,
    /// This one, e.g. `v1.19.2-eksbuild.1`.
    Pinned(String),
}

impl AddonVersion {
    pub fn as_str(&self) -> &str {
        match self {
            AddonVersion::Default => "default",
            AddonVersion::Latest => "latest",
            AddonVersion::Pinned(v) => v,
        }
    }
}

impl Serialize for AddonVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// An add-on version plan found for the cluster's Kubernetes version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedVersion {
    /// The version to run.
    pub version: String,
    /// A newer version AWS offers that `version = "default"` or `"latest"`
    /// moves to only at the next Kubernetes upgrade.
    pub available: Option<String>,
}

/// One principal's access to the cluster: an access entry with one access
/// policy, cluster-wide or limited to namespaces.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Access {
    /// An IAM role or user ARN.
    pub principal: String,
    pub policy: AccessPolicy,
    /// Empty: the whole cluster.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
}

/// The EKS access policies a file may name
/// ("Review access policy permissions", EKS user guide).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, EnumString, IntoStaticStr, VariantNames)]
#[serde(into = "&'static str")]
#[strum(serialize_all = "kebab-case")]
pub enum AccessPolicy {
    ClusterAdmin,
    Admin,
    Edit,
    View,
}

impl AccessPolicy {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn arn(self) -> &'static str {
        match self {
            AccessPolicy::ClusterAdmin => "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
            AccessPolicy::Admin => "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy",
            AccessPolicy::Edit => "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
            AccessPolicy::View => "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
        }
    }

    pub fn from_arn(arn: &str) -> Option<Self> {
        [Self::ClusterAdmin, Self::Admin, Self::Edit, Self::View]
            .into_iter()
            .find(|p| p.arn() == arn)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, EnumString, IntoStaticStr, VariantNames)]
#[serde(into = "&'static str")]
#[strum(serialize_all = "kebab-case")]
pub enum Capacity {
    OnDemand,
    Spot,
}

impl Capacity {
    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The EKS API value (`ON_DEMAND` / `SPOT`).
    pub fn aws(self) -> &'static str {
        match self {
            Capacity::OnDemand => "ON_DEMAND",
            Capacity::Spot => "SPOT",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    X86_64,
    Arm64,
}

impl Arch {
    /// Graviton families carry a `g` after the generation digit (t4g, m7gd, c6gn).
    pub fn of_instance_type(instance_type: &str) -> Arch {
        let family = instance_type.split('.').next().unwrap_or("");
        let digits_end = family
            .char_indices()
            .skip_while(|(_, c)| c.is_ascii_alphabetic())
            .find(|(_, c)| !c.is_ascii_digit())
            .map(|(i, _)| i);
        let graviton = match digits_end {
            Some(i) => family[..i].chars().any(|c| c.is_ascii_digit()) && family[i..].starts_with('g'),
            None => false,
        };
        if graviton || family == "a1" {
            Arch::Arm64
        } else {
            Arch::X86_64
        }
    }

    /// The EKS managed node group AMI type (Amazon Linux 2023).
    pub fn ami_type(self) -> &'static str {
        match self {
            Arch::X86_64 => "AL2023_x86_64_STANDARD",
            Arch::Arm64 => "AL2023_ARM_64_STANDARD",
        }
    }
}

/// The EKS managed node group AMI type for an instance type: the
/// accelerated Amazon Linux 2023 AMIs for GPU (NVIDIA) and Inferentia or
/// Trainium (Neuron) families ("Use EKS-optimized accelerated AMIs for GPU
/// instances"), otherwise the standard one of its architecture.
pub fn ami_type_of(instance_type: &str) -> &'static str {
    let family = instance_type.split('.').next().unwrap_or("");
    let generation_follows = |prefix: &str| {
        family
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
    };
    let arch = Arch::of_instance_type(instance_type);
    let nvidia = generation_follows("p") || generation_follows("g") || generation_follows("gr");
    let neuron = generation_follows("inf") || generation_follows("trn");
    match (nvidia, neuron, arch) {
        (true, _, Arch::Arm64) => "AL2023_ARM_64_NVIDIA",
        (true, _, Arch::X86_64) => "AL2023_x86_64_NVIDIA",
        (_, true, _) => "AL2023_x86_64_NEURON",
        (_, _, arch) => arch.ami_type(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Nodegroup {
    pub instance_types: Vec<String>,
    pub capacity: Capacity,
    pub min: i32,
    pub desired: i32,
    pub max: i32,
    pub disk_gib: i32,
    /// Derived from the instance types.
    #[serde(skip)]
    pub arch: Arch,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Nodegroup {
    /// The one AMI type of the group (validation keeps its types to one).
    pub fn ami_type(&self) -> &'static str {
        self.instance_types
            .first()
            .map(|t| ami_type_of(t))
            .unwrap_or_else(|| self.arch.ami_type())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FargateProfile {
    pub namespaces: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, EnumString, IntoStaticStr, VariantNames)]
#[serde(into = "&'static str")]
#[strum(serialize_all = "kebab-case")]
pub enum Engine {
    Postgres,
    Mysql,
    AuroraPostgresql,
    AuroraMysql,
}

impl Engine {
    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }

    /// The RDS API engine name, which is also the name in the file.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn is_aurora(self) -> bool {
        matches!(self, Engine::AuroraPostgresql | Engine::AuroraMysql)
    }

    pub fn is_postgres(self) -> bool {
        matches!(self, Engine::Postgres | Engine::AuroraPostgresql)
    }

    pub fn port(self) -> i32 {
        if self.is_postgres() {
            5432
        } else {
            3306
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Database {
    pub engine: Engine,
    pub version: String,
    pub class: String,
    /// Instance engines only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_gib: Option<i32>,
    pub multi_az: bool,
    /// Aurora only: writer plus readers.
    pub instances: i32,
    pub backup_retention_days: i32,
    pub deletion_protection: bool,
    pub final_snapshot: bool,
    pub performance_insights: bool,
    pub username: String,
    pub db_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serverless: Option<Serverless>,
    /// Read replicas (instance engines only).
    #[serde(skip_serializing_if = "is_zero")]
    pub replicas: u32,
    /// The replicas' class when not the primary's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica_class: Option<String>,
    /// An RDS Proxy in front of the writer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Proxy>,
    /// `[database.parameters]`: the custom group's entries (Aurora: the
    /// cluster parameter group's).
    #[serde(skip_serializing_if = "BTreeMap::is_empty", serialize_with = "parameter_values")]
    pub parameters: BTreeMap<String, Parameter>,
    /// `[database.instance_parameters]` (Aurora only): the DB parameter
    /// group of the cluster's instances.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", serialize_with = "parameter_values")]
    pub instance_parameters: BTreeMap<String, Parameter>,
}

/// Parameters as a stack file writes them: name = value.
fn parameter_values<S: serde::Serializer>(map: &BTreeMap<String, Parameter>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(map.iter().map(|(n, p)| (n, &p.value)))
}

/// One engine parameter as RDS stores it: its value is always a string
/// (booleans are "1" and "0").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parameter {
    pub value: String,
    /// Whether a change applies at once or at the next reboot; learnt at
    /// plan time from DescribeEngineDefaultParameters (`None` offline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply: Option<ApplyType>,
}

/// `ApplyType` of an RDS parameter ("Parameter", RDS API Reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::EnumString, strum::IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum ApplyType {
    Static,
    Dynamic,
}

/// The major version a full engine version belongs to: "16" of "16.4",
/// "8.0" of MySQL "8.0.39" and of Aurora MySQL "8.0.mysql_aurora.3.05.2".
pub fn engine_major(v: &str) -> &str {
    let parts: Vec<&str> = v.split('.').collect();
    if parts.first().is_some_and(|p| p.parse::<u32>().is_ok_and(|n| n >= 10)) {
        parts[0]
    } else {
        let end = v.match_indices('.').nth(1).map(|(i, _)| i).unwrap_or(v.len());
        &v[..end]
    }
}

/// The parameter group family of an engine version ("Working with
/// parameter groups": `postgres16`, `mysql8.0`, `aurora-postgresql16`,
/// `aurora-mysql8.0`).
pub fn parameter_family(engine: Engine, version: &str) -> String {
    format!("{}{}", engine.as_str(), engine_major(version))
}

/// An RDS Proxy's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Proxy {
    pub idle_client_timeout_s: i32,
    pub max_connections_percent: i32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Database {
    /// The parameter group family of the desired version.
    pub fn family(&self) -> String {
        parameter_family(self.engine, &self.version)
    }

    /// The class read replicas run: their own, or the primary's.
    pub fn replica_class(&self) -> &str {
        self.replica_class.as_deref().unwrap_or(&self.class)
    }
}

/// How many read replicas RDS allows one MySQL, MariaDB or PostgreSQL
/// instance ("Working with DB instance read replicas": up to 15).
pub const MAX_READ_REPLICAS: i64 = 15;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Serverless {
    pub min_acu: f64,
    pub max_acu: f64,
}

impl Stack {
    /// What `ekstack sleep` converges to: no NAT gateways (nor their public
    /// addresses), node groups at zero, the database stopped. The network
    /// and the data stay. Deep, the cluster goes too (its node groups,
    /// Fargate profiles, add-ons, access entries and the roles of its pods),
    /// and so does an RDS Proxy; with a snapshot, the database is deleted
    /// after a snapshot of it.
    pub fn sleeping(&self, depth: SleepDepth) -> Stack {
        let mut s = self.clone();
        s.meta.asleep = true;
        s.meta.depth = depth;
        s.network.nat = NatMode::None;
        if let Some(eks) = &mut s.eks {
            for ng in eks.nodegroups.values_mut() {
                ng.min = 0;
                ng.desired = 0;
            }
            if depth.is_deep() {
                eks.parked = true;
                eks.nodegroups.clear();
                eks.fargate.clear();
                eks.addons.clear();
                eks.access.clear();
                eks.pod_identities.clear();
            }
        }
        if let (true, Some(db)) = (depth.is_deep(), &mut s.database) {
            db.proxy = None;
        }
        s
    }

    /// The cluster, unless a deep sleep deleted it.
    pub fn running_cluster(&self) -> Option<&Eks> {
        self.eks.as_ref().filter(|e| !e.parked)
    }

    /// The database is deleted while the stack sleeps (`--snapshot`).
    pub fn database_parked(&self) -> bool {
        self.meta.asleep && self.meta.depth == SleepDepth::DeepSnapshot
    }

    /// RDS identifier of the database (instance or Aurora cluster).
    pub fn db_identifier(&self) -> String {
        db_identifier(&self.meta.name)
    }
}

pub fn db_identifier(stack: &str) -> String {
    format!("{stack}-db")
}
