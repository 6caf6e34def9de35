//! Stage one of configuration: serde structs that mirror the TOML exactly.
//!
//! Every field is optional and every value is located, so that an overlay can
//! be merged over a stack file key by key and every later error can point at
//! its source (tables are located separately, by `source::TableIndex`). Nothing
//! here checks a rule beyond types; unknown keys are found by `keys`, which
//! deserialises these types through `serde_ignored`, and rules are `resolve`'s.
//! The structs therefore accept unknown fields as far as serde is concerned
//! (serde would stop at the first one); `schemars(deny_unknown_fields)` still
//! tells editors that the schema is closed.
//! Enumerated strings are kept as strings so that a wrong value gets a
//! "must be one of …, did you mean …" message rather than serde's generic one;
//! the `schemars(with)` attributes still give editors the list of values.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::source::Located;

type L<T> = Located<T>;

/// A stack file or an environment overlay.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[schemars(title = "ekstack stack file or environment overlay")]
pub struct RawFile {
    /// Identity of the stack. Required in a stack file, optional in an overlay.
    pub stack: Option<RawStack>,
    /// The VPC: CIDR, availability zones, NAT.
    pub network: Option<RawNetwork>,
    /// The EKS cluster, its managed node groups and Fargate profiles.
    pub eks: Option<RawEks>,
    /// An RDS instance or Aurora cluster.
    pub database: Option<RawDatabase>,
    /// CI/CD: roles GitHub Actions assumes to plan, deploy and apply.
    pub ci: Option<RawCi>,
    /// ECR repositories for the stack's images.
    pub registry: Option<RawRegistry>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawCi {
    /// GitHub Actions, through the account's GitHub OIDC provider.
    pub github: Option<RawGithub>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawGithub {
    /// The repository whose workflows may assume the roles, `owner/name`.
    pub repository: Option<L<String>>,
    /// Branches that may deploy (and apply); a trailing `*` matches a
    /// prefix (`release/*`). Default `["main"]` unless `environments` is set.
    pub branches: Option<L<Vec<L<String>>>>,
    /// GitHub environments whose jobs may deploy (and apply).
    pub environments: Option<L<Vec<L<String>>>>,
    /// Namespaces the deploy role may write to (EKS `edit`).
    pub namespaces: Option<L<Vec<L<String>>>>,
    /// A role for `ekstack apply` from CI. Default false: infrastructure
    /// is applied from a person's machine.
    pub infra_apply: Option<L<bool>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawRegistry {
    /// Repository names; each is made as `<stack>/<name>`.
    pub repositories: Option<L<Vec<L<String>>>>,
    /// Images kept per repository; older ones expire. Default 30.
    pub keep_images: Option<L<i64>>,
    /// Refuse pushing a tag that already exists. Default false.
    pub immutable_tags: Option<L<bool>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawStack {
    /// `[a-z][a-z0-9-]{0,19}`; prefixes every resource name.
    pub name: Option<L<String>>,
    /// AWS region, e.g. `ap-northeast-1`.
    pub region: Option<L<String>>,
    /// Tags added to every resource.
    pub tags: Option<BTreeMap<String, L<String>>>,
    /// A monthly AWS Budget for the stack's tagged costs, in USD (above 0);
    /// needs `alert_email`.
    pub budget_usd_month: Option<L<f64>>,
    /// Where the budget's alarms go: 80% of the budget forecast, 100% spent.
    pub alert_email: Option<L<String>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawNetwork {
    /// VPC CIDR block, /16 to /28. Default `10.0.0.0/16`.
    pub cidr: Option<L<String>>,
    /// A count (the first N AZs of the region) or a list of AZ names. Default 2.
    #[schemars(with = "Option<AzsSchema>")]
    pub azs: Option<L<toml::Value>>,
    /// NAT gateways for the private subnets. Default `single`.
    #[schemars(with = "Option<NatSchema>")]
    pub nat: Option<L<String>>,
    /// Explicit public subnet CIDRs, one per AZ (derived when absent).
    pub public_subnets: Option<L<Vec<L<String>>>>,
    /// Explicit private subnet CIDRs, one per AZ (derived when absent).
    pub private_subnets: Option<L<Vec<L<String>>>>,
    /// A VPC ekstack did not create (`vpc-…`), used as it is: never
    /// changed or deleted. Then `cidr`, `nat`, `azs` and `*_subnets` are
    /// not given.
    pub vpc_id: Option<L<String>>,
    /// With `vpc_id`: its subnets for load balancers (one per AZ).
    pub public_subnet_ids: Option<L<Vec<L<String>>>>,
    /// With `vpc_id`: its subnets for nodes, pods and the database, in at
    /// least two AZs (one per AZ), each with egress.
    pub private_subnet_ids: Option<L<Vec<L<String>>>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawEks {
    /// Kubernetes version, e.g. "1.33".
    pub version: Option<L<String>>,
    /// API server endpoint access. Default `public`.
    #[schemars(with = "Option<EndpointSchema>")]
    pub endpoint: Option<L<String>>,
    /// CIDRs allowed to reach a public endpoint. Default `["0.0.0.0/0"]`.
    pub public_access_cidrs: Option<L<Vec<L<String>>>>,
    /// Control plane log types sent to CloudWatch.
    #[schemars(with = "Option<Vec<LogTypeSchema>>")]
    pub logging: Option<L<Vec<L<String>>>>,
    /// Managed node groups, keyed by name.
    pub nodegroups: Option<BTreeMap<String, RawNodegroup>>,
    /// Fargate profiles, keyed by name.
    pub fargate: Option<BTreeMap<String, RawFargate>>,
    /// Managed add-ons, keyed by add-on name. vpc-cni, kube-proxy, coredns and
    /// eks-pod-identity-agent are on unless `enabled = false`.
    pub addons: Option<BTreeMap<String, RawAddon>>,
    /// Principals (IAM roles or users) given access to the cluster, by key.
    pub access: Option<BTreeMap<String, RawAccess>>,
    /// AWS permissions for a Kubernetes service account, by name: EKS Pod
    /// Identity on EC2 nodes, IRSA on Fargate.
    pub pod_identities: Option<BTreeMap<String, RawPodIdentity>>,
    /// A role for the AWS Load Balancer Controller, bound to
    /// kube-system/aws-load-balancer-controller, so an Ingress gets an ALB.
    pub load_balancer_controller: Option<L<bool>>,
    /// How the cluster gets its nodes: `managed` (node groups and Fargate
    /// profiles, the default) or `auto` (EKS Auto Mode).
    #[schemars(with = "Option<ClusterModeSchema>")]
    pub mode: Option<L<String>>,
    /// Auto Mode only: how many instances the node pools are expected to
    /// start, for the cost estimate. Default 2.
    pub auto_mode_expected_instances: Option<L<i64>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawPodIdentity {
    /// The service account's namespace.
    pub namespace: Option<L<String>>,
    /// The service account's name. Default: the identity's name.
    pub service_account: Option<L<String>>,
    /// Managed policy ARNs attached to its role.
    pub policies: Option<L<Vec<L<String>>>>,
    /// Inline Allow statements: `{ actions = [...], resources = [...] }`.
    pub statements: Option<L<Vec<RawStatement>>>,
    /// Read the database's managed master secret (and nothing else of it).
    pub database: Option<L<bool>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawStatement {
    /// IAM actions such as `s3:GetObject`.
    pub actions: Option<L<Vec<L<String>>>>,
    /// Resource ARNs, or `*`.
    pub resources: Option<L<Vec<L<String>>>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawAddon {
    /// `default` (EKS's default for the Kubernetes version), `latest`, or a
    /// version such as `v1.19.2-eksbuild.1`. Default `default`.
    pub version: Option<L<String>>,
    /// Configuration values (the add-on's configuration schema), as a table.
    #[schemars(with = "Option<BTreeMap<String, serde_json::Value>>")]
    pub configuration: Option<L<toml::Value>>,
    /// `false` turns a default add-on off. Default true.
    pub enabled: Option<L<bool>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawAccess {
    /// An IAM role or user ARN, e.g. `arn:aws:iam::111122223333:role/dev`.
    pub principal: Option<L<String>>,
    /// `cluster-admin`, `admin`, `edit` or `view`.
    #[schemars(with = "Option<AccessPolicySchema>")]
    pub policy: Option<L<String>>,
    /// Limit the policy to these namespaces (default: the whole cluster).
    pub namespaces: Option<L<Vec<L<String>>>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawNodegroup {
    /// EC2 instance types, all of one CPU architecture. Default `["t3.medium"]`.
    pub instance_types: Option<L<Vec<L<String>>>>,
    /// `on-demand` or `spot`. Default `on-demand`.
    #[schemars(with = "Option<CapacitySchema>")]
    pub capacity: Option<L<String>>,
    /// Minimum number of nodes. Default 1.
    pub min: Option<L<i64>>,
    /// Desired number of nodes. Default 2.
    pub desired: Option<L<i64>>,
    /// Maximum number of nodes. Default 3.
    pub max: Option<L<i64>>,
    /// Root volume size in GiB. Default 20.
    pub disk_gib: Option<L<i64>>,
    /// Kubernetes labels put on the nodes.
    pub labels: Option<BTreeMap<String, L<String>>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawFargate {
    /// Namespaces whose pods run on Fargate (1 to 5).
    pub namespaces: Option<L<Vec<L<String>>>>,
    /// Pod labels that must also match (at most 5).
    pub labels: Option<BTreeMap<String, L<String>>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawDatabase {
    /// Default `postgres`.
    #[schemars(with = "Option<EngineSchema>")]
    pub engine: Option<L<String>>,
    /// Engine version: a major ("16") or a full version ("16.4").
    pub version: Option<L<String>>,
    /// Instance class, e.g. `db.t4g.micro`; `db.serverless` for Aurora Serverless v2.
    pub class: Option<L<String>>,
    /// Allocated storage in GiB (instance engines only). Default 20.
    pub storage_gib: Option<L<i64>>,
    /// A standby in a second AZ (instance engines only). Default false.
    pub multi_az: Option<L<bool>>,
    /// Aurora only: number of instances, writer plus readers. Default 1.
    pub instances: Option<L<i64>>,
    /// Days of automated backups, 0 to 35 (Aurora 1 to 35). Default 7.
    pub backup_retention_days: Option<L<i64>>,
    /// Refuse deletion until this is turned off. Default false.
    pub deletion_protection: Option<L<bool>>,
    /// Take a snapshot before the database is ever deleted. Default true.
    pub final_snapshot: Option<L<bool>>,
    /// Performance Insights. Default false.
    pub performance_insights: Option<L<bool>>,
    /// Master user name; the password is managed by RDS in Secrets Manager.
    pub username: Option<L<String>>,
    /// Name of the database created inside the engine.
    pub db_name: Option<L<String>>,
    /// Aurora Serverless v2 capacity range (with `class = "db.serverless"`).
    pub serverless: Option<RawServerless>,
    /// Read replicas of an instance engine, spread over the stack's other
    /// AZs (Aurora: use `instances`). Default 0.
    pub replicas: Option<L<i64>>,
    /// The replicas' class. Default: the primary's.
    pub replica_class: Option<L<String>>,
    /// An RDS Proxy in front of the writer, pooling the pods' connections.
    pub proxy: Option<RawProxy>,
    /// Engine parameters (name → value) in a custom parameter group: a DB
    /// parameter group for instances, a cluster parameter group for
    /// Aurora. Quote dotted names: `"rds.force_ssl" = 1`.
    #[schemars(with = "Option<BTreeMap<String, ParameterValueSchema>>")]
    pub parameters: Option<BTreeMap<String, L<toml::Value>>>,
    /// Aurora only: instance-level parameters, in a DB parameter group the
    /// cluster's instances use.
    #[schemars(with = "Option<BTreeMap<String, ParameterValueSchema>>")]
    pub instance_parameters: Option<BTreeMap<String, L<toml::Value>>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawProxy {
    /// Seconds a client connection may stay idle, 1 to 28800. Default 1800.
    pub idle_client_timeout_s: Option<L<i64>>,
    /// The share of the database's max_connections the proxy may open,
    /// 1 to 100. Default 90.
    pub max_connections_percent: Option<L<i64>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RawServerless {
    /// Minimum Aurora capacity units, 0 to 256 in steps of 0.5.
    pub min_acu: Option<L<f64>>,
    /// Maximum Aurora capacity units, 1 to 256 in steps of 0.5.
    pub max_acu: Option<L<f64>>,
}

// Schema-only types: they document the accepted values to editors.

#[allow(dead_code)]
#[derive(JsonSchema)]
#[serde(untagged)]
enum ParameterValueSchema {
    Text(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
}

#[allow(dead_code)]
#[derive(JsonSchema)]
#[serde(untagged)]
enum AzsSchema {
    Count(u8),
    Names(Vec<String>),
}

#[allow(dead_code)]
#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
enum NatSchema {
    None,
    Single,
    PerAz,
}

#[allow(dead_code)]
#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
enum ClusterModeSchema {
    Managed,
    Auto,
}

#[allow(dead_code)]
#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
enum EndpointSchema {
    Public,
    Private,
    PublicAndPrivate,
}

#[allow(dead_code)]
#[derive(JsonSchema)]
#[serde(rename_all = "camelCase")]
enum LogTypeSchema {
    Api,
    Audit,
    Authenticator,
    ControllerManager,
    Scheduler,
}

#[allow(dead_code)]
#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
enum AccessPolicySchema {
    ClusterAdmin,
    Admin,
    Edit,
    View,
}

#[allow(dead_code)]
#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
enum CapacitySchema {
    OnDemand,
    Spot,
}

#[allow(dead_code)]
#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
enum EngineSchema {
    Postgres,
    Mysql,
    AuroraPostgresql,
    AuroraMysql,
}

/// Overlays deep-merge tables; scalars and arrays replace.
pub trait Merge {
    fn merge(&mut self, overlay: Self);
}

fn replace<T>(base: &mut Option<T>, overlay: Option<T>) {
    if overlay.is_some() {
        *base = overlay;
    }
}

fn deep<T: Merge>(base: &mut Option<T>, overlay: Option<T>) {
    match (base.as_mut(), overlay) {
        (Some(b), Some(o)) => b.merge(o),
        (None, Some(o)) => *base = Some(o),
        _ => {}
    }
}

/// Keyed tables (node groups, Fargate profiles) merge entry by entry.
impl<T: Merge> Merge for BTreeMap<String, T> {
    fn merge(&mut self, overlay: Self) {
        for (key, value) in overlay {
            match self.get_mut(&key) {
                Some(existing) => existing.merge(value),
                None => {
                    self.insert(key, value);
                }
            }
        }
    }
}

/// Entries of string tables (tags, labels): the overlay's value wins, with its
/// location, so an error about it points into the overlay that set it.
impl Merge for L<String> {
    fn merge(&mut self, overlay: Self) {
        *self = overlay;
    }
}

/// Entries of parameter tables: likewise, the overlay's value wins.
impl Merge for L<toml::Value> {
    fn merge(&mut self, overlay: Self) {
        *self = overlay;
    }
}

impl Merge for RawFile {
    fn merge(&mut self, o: Self) {
        deep(&mut self.stack, o.stack);
        deep(&mut self.network, o.network);
        deep(&mut self.eks, o.eks);
        deep(&mut self.database, o.database);
        deep(&mut self.ci, o.ci);
        deep(&mut self.registry, o.registry);
    }
}

impl Merge for RawCi {
    fn merge(&mut self, o: Self) {
        deep(&mut self.github, o.github);
    }
}

impl Merge for RawGithub {
    fn merge(&mut self, o: Self) {
        replace(&mut self.repository, o.repository);
        replace(&mut self.branches, o.branches);
        replace(&mut self.environments, o.environments);
        replace(&mut self.namespaces, o.namespaces);
        replace(&mut self.infra_apply, o.infra_apply);
    }
}

impl Merge for RawRegistry {
    fn merge(&mut self, o: Self) {
        replace(&mut self.repositories, o.repositories);
        replace(&mut self.keep_images, o.keep_images);
        replace(&mut self.immutable_tags, o.immutable_tags);
    }
}

impl Merge for RawStack {
    fn merge(&mut self, o: Self) {
        replace(&mut self.name, o.name);
        replace(&mut self.region, o.region);
        deep(&mut self.tags, o.tags);
    }
}

impl Merge for RawNetwork {
    fn merge(&mut self, o: Self) {
        replace(&mut self.cidr, o.cidr);
        replace(&mut self.azs, o.azs);
        replace(&mut self.nat, o.nat);
        replace(&mut self.public_subnets, o.public_subnets);
        replace(&mut self.private_subnets, o.private_subnets);
        replace(&mut self.vpc_id, o.vpc_id);
        replace(&mut self.public_subnet_ids, o.public_subnet_ids);
        replace(&mut self.private_subnet_ids, o.private_subnet_ids);
    }
}

impl Merge for RawEks {
    fn merge(&mut self, o: Self) {
        replace(&mut self.version, o.version);
        replace(&mut self.endpoint, o.endpoint);
        replace(&mut self.public_access_cidrs, o.public_access_cidrs);
        replace(&mut self.logging, o.logging);
        deep(&mut self.nodegroups, o.nodegroups);
        deep(&mut self.fargate, o.fargate);
        deep(&mut self.addons, o.addons);
        deep(&mut self.access, o.access);
        deep(&mut self.pod_identities, o.pod_identities);
        replace(&mut self.load_balancer_controller, o.load_balancer_controller);
        replace(&mut self.mode, o.mode);
        replace(&mut self.auto_mode_expected_instances, o.auto_mode_expected_instances);
    }
}

impl Merge for RawAddon {
    fn merge(&mut self, o: Self) {
        replace(&mut self.version, o.version);
        replace(&mut self.configuration, o.configuration);
        replace(&mut self.enabled, o.enabled);
    }
}

impl Merge for RawPodIdentity {
    fn merge(&mut self, o: Self) {
        replace(&mut self.namespace, o.namespace);
        replace(&mut self.service_account, o.service_account);
        replace(&mut self.policies, o.policies);
        replace(&mut self.statements, o.statements);
        replace(&mut self.database, o.database);
    }
}

impl Merge for RawAccess {
    fn merge(&mut self, o: Self) {
        replace(&mut self.principal, o.principal);
        replace(&mut self.policy, o.policy);
        replace(&mut self.namespaces, o.namespaces);
    }
}

impl Merge for RawNodegroup {
    fn merge(&mut self, o: Self) {
        replace(&mut self.instance_types, o.instance_types);
        replace(&mut self.capacity, o.capacity);
        replace(&mut self.min, o.min);
        replace(&mut self.desired, o.desired);
        replace(&mut self.max, o.max);
        replace(&mut self.disk_gib, o.disk_gib);
        deep(&mut self.labels, o.labels);
    }
}

impl Merge for RawFargate {
    fn merge(&mut self, o: Self) {
        replace(&mut self.namespaces, o.namespaces);
        deep(&mut self.labels, o.labels);
    }
}

impl Merge for RawDatabase {
    fn merge(&mut self, o: Self) {
        replace(&mut self.engine, o.engine);
        replace(&mut self.version, o.version);
        replace(&mut self.class, o.class);
        replace(&mut self.storage_gib, o.storage_gib);
        replace(&mut self.multi_az, o.multi_az);
        replace(&mut self.instances, o.instances);
        replace(&mut self.backup_retention_days, o.backup_retention_days);
        replace(&mut self.deletion_protection, o.deletion_protection);
        replace(&mut self.final_snapshot, o.final_snapshot);
        replace(&mut self.performance_insights, o.performance_insights);
        replace(&mut self.username, o.username);
        replace(&mut self.db_name, o.db_name);
        deep(&mut self.serverless, o.serverless);
        replace(&mut self.replicas, o.replicas);
        replace(&mut self.replica_class, o.replica_class);
        deep(&mut self.proxy, o.proxy);
        deep(&mut self.parameters, o.parameters);
        deep(&mut self.instance_parameters, o.instance_parameters);
    }
}

impl Merge for RawProxy {
    fn merge(&mut self, o: Self) {
        replace(&mut self.idle_client_timeout_s, o.idle_client_timeout_s);
        replace(&mut self.max_connections_percent, o.max_connections_percent);
    }
}

impl Merge for RawServerless {
    fn merge(&mut self, o: Self) {
        replace(&mut self.min_acu, o.min_acu);
        replace(&mut self.max_acu, o.max_acu);
    }
}
