//! EKS as AWS documents it, where moto differs: clusters, node groups and
//! Fargate profiles take minutes to come and go (DESIGN §8, scaled); updates
//! are tracked by id, one kind per UpdateClusterConfig call, one minor
//! version per UpdateClusterVersion and never past lagging node groups; a
//! fresh role is refused; the control plane refuses some AZs; one Fargate
//! profile per cluster may be in transition. moto lacks UpdateClusterVersion,
//! UpdateNodegroupVersion, DescribeUpdate and ListUpdates, and answers
//! UpdateClusterConfig with the cluster instead of the update: those are
//! served here with the shapes of the EKS API reference
//! (https://docs.aws.amazon.com/eks/latest/APIReference/).

mod access;
mod addons;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use super::wire::Reply;
use super::{Before, Req, Rules, Settings};

/// AZ ids EKS does not place control planes in ("View Amazon EKS
/// networking requirements for VPC and subnets",
/// https://docs.aws.amazon.com/eks/latest/userguide/network-reqs.html).
const NO_CONTROL_PLANE: &[&str] = &["use1-az3", "usw1-az2", "cac1-az3"];

#[derive(Default)]
pub struct State {
    clusters: HashMap<String, Cluster>,
    /// The security group EKS made for each cluster, by cluster name:
    /// moto reports none.
    cluster_security_groups: HashMap<String, String>,
}

impl State {
    /// See [`super::Rules::as_config_map_cluster`].
    pub fn config_map_only(&mut self, cluster: &str) {
        if let Some(c) = self.clusters.get_mut(cluster) {
            c.access_config["authenticationMode"] = json!("CONFIG_MAP");
            c.access.clear();
        }
    }
}

struct Cluster {
    creating_until: Instant,
    deleting_until: Option<Instant>,
    /// Set once a version update has finished (moto's version is older).
    version: Option<String>,
    access_config: Value,
    bootstrap_self_managed_addons: bool,
    /// Auto Mode's three configs, as last set.
    auto_mode: Option<Value>,
    updates: Vec<Update>,
    nodegroups: HashMap<String, Nodegroup>,
    profiles: HashMap<String, Transition>,
    /// Fargate profiles that select kube-system.
    system_profiles: BTreeSet<String>,
    addons: BTreeMap<String, addons::Addon>,
    /// Access entries by principal ARN.
    access: BTreeMap<String, access::Entry>,
    /// Pod Identity associations by id.
    associations: BTreeMap<String, addons::Association>,
    /// The id of its OIDC issuer: unique per cluster on AWS, while moto
    /// gives every cluster of a process the same one.
    issuer_id: String,
}

#[derive(Default)]
struct Nodegroup {
    life: Transition,
    version: Option<String>,
    /// Created on a cluster without the VPC CNI (and without EKS's
    /// self-managed one): its nodes never become Ready, and it fails.
    doomed: bool,
    /// Its scaling config's desired size, as last set.
    desired: Option<i64>,
}

#[derive(Default)]
struct Transition {
    creating_until: Option<Instant>,
    deleting_until: Option<Instant>,
}

impl Transition {
    fn creating(until: Instant) -> Self {
        Transition {
            creating_until: Some(until),
            deleting_until: None,
        }
    }

    fn status(&self, now: Instant) -> Option<&'static str> {
        // Once the delete has gone through, moto no longer has it.
        if self.deleting_until.is_some_and(|t| t > now) {
            Some("DELETING")
        } else if self.creating_until.is_some_and(|t| t > now) {
            Some("CREATING")
        } else {
            None
        }
    }
}

#[derive(Clone)]
struct Update {
    id: String,
    kind: &'static str,
    params: Vec<(String, String)>,
    created_at: f64,
    done_at: Instant,
    nodegroup: Option<String>,
    /// The add-on it updates (the next issue's add-ons record theirs).
    addon: Option<String>,
    /// What changes once the update has finished.
    effect: Option<Effect>,
}

#[derive(Clone)]
enum Effect {
    ClusterVersion(String),
    NodegroupVersion(String, String),
    Addon {
        name: String,
        version: Option<String>,
        configuration: Option<String>,
    },
}

impl Update {
    fn status(&self, now: Instant) -> &'static str {
        if self.done_at > now {
            "InProgress"
        } else {
            "Successful"
        }
    }

    fn json(&self, now: Instant) -> Value {
        json!({
            "id": self.id,
            "status": self.status(now),
            "type": self.kind,
            "params": self.params.iter().map(|(t, v)| json!({"type": t, "value": v})).collect::<Vec<_>>(),
            "createdAt": self.created_at,
            "errors": [],
        })
    }
}

impl Cluster {
    /// Applies what finished updates changed.
    fn settle(&mut self, now: Instant) {
        for u in self.updates.iter_mut().filter(|u| u.done_at <= now) {
            match u.effect.take() {
                Some(Effect::ClusterVersion(v)) => self.version = Some(v),
                Some(Effect::NodegroupVersion(ng, v)) => self.nodegroups.entry(ng).or_default().version = Some(v),
                Some(Effect::Addon {
                    name,
                    version,
                    configuration,
                }) => {
                    if let Some(a) = self.addons.get_mut(&name) {
                        if let Some(v) = version {
                            a.version = v;
                        }
                        if configuration.is_some() {
                            a.configuration = configuration;
                        }
                    }
                }
                None => {}
            }
        }
    }

    fn update_in_progress(&self, nodegroup: Option<&str>, now: Instant) -> Option<&Update> {
        self.updates
            .iter()
            .find(|u| u.nodegroup.as_deref() == nodegroup && u.addon.is_none() && u.done_at > now)
    }

    fn status(&self, now: Instant) -> &'static str {
        if self.deleting_until.is_some_and(|t| t > now) {
            "DELETING"
        } else if self.creating_until > now {
            "CREATING"
        } else if self.update_in_progress(None, now).is_some() {
            "UPDATING"
        } else {
            "ACTIVE"
        }
    }
}

fn epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

fn new_update_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("{:08x}-aaaa-4bbb-8ccc-{:012x}", n, epoch() as u64)
}

fn minor(v: &str) -> Option<u32> {
    v.split('.').nth(1)?.parse().ok()
}

fn invalid(message: &str, cluster: &str) -> Before {
    Before::Answer(Reply::eks_error(
        400,
        "InvalidParameterException",
        message,
        json!({ "clusterName": cluster }),
    ))
}

fn in_use(message: &str, cluster: &str) -> Before {
    Before::Answer(Reply::eks_error(
        409,
        "ResourceInUseException",
        message,
        json!({ "clusterName": cluster }),
    ))
}

fn not_found(message: &str) -> Before {
    Before::Answer(Reply::eks_error(404, "ResourceNotFoundException", message, json!({})))
}

/// A GET of `path` to moto, with the request's signature headers.
fn get(req: &Req, path: String) -> Req {
    Req {
        method: Method::GET,
        path,
        query: String::new(),
        headers: req.headers.clone(),
        body: Bytes::new(),
        service: req.service.clone(),
        form: HashMap::new(),
    }
}

async fn moto_json(rules: &Rules, req: &Req) -> Option<Value> {
    match rules.upstream(req).await {
        Ok((StatusCode::OK, body)) => serde_json::from_slice(&body).ok(),
        _ => None,
    }
}

pub async fn before(rules: &Rules, req: &Req, now: Instant) -> Before {
    let seg = req.segments();
    let settings = &rules.settings;
    match (&req.method, seg.as_slice()) {
        (&Method::POST, ["clusters"]) => match create_cluster(rules, req, now) {
            Before::Forward(body) => {
                cluster_security_group(rules, req).await;
                Before::Forward(body)
            }
            refused => refused,
        },
        (&Method::DELETE, ["clusters", name]) => delete_cluster(rules, req, name, now).await,
        (&Method::POST, ["clusters", name, "update-config"]) => update_cluster_config(rules, req, name, now).await,
        (&Method::POST, ["clusters", name, "updates"]) => update_cluster_version(rules, req, name, now).await,
        (&Method::GET, ["clusters", name, "updates"]) => {
            let mut st = rules.state();
            let Some(c) = st.eks.clusters.get_mut(*name) else {
                return Before::Forward(None);
            };
            c.settle(now);
            // ListUpdates lists the cluster's own updates, or with
            // nodegroupName / addonName those of one node group or add-on.
            let (ng, addon) = (req.query_param("nodegroupName"), req.query_param("addonName"));
            let ids: Vec<&str> = c
                .updates
                .iter()
                .filter(|u| u.nodegroup == ng && u.addon == addon)
                .map(|u| u.id.as_str())
                .collect();
            Before::Answer(Reply::json(
                StatusCode::OK,
                &json!({ "updateIds": ids, "nextToken": null }),
            ))
        }
        (&Method::GET, ["clusters", name, "updates", id]) => {
            let mut st = rules.state();
            let Some(c) = st.eks.clusters.get_mut(*name) else {
                return not_found(&format!("No cluster found for name: {name}."));
            };
            c.settle(now);
            let (ng, addon) = (req.query_param("nodegroupName"), req.query_param("addonName"));
            // A node group's or add-on's update is found only when it is named.
            match c
                .updates
                .iter()
                .find(|u| u.id == *id && u.nodegroup == ng && u.addon == addon)
            {
                Some(u) => Before::Answer(Reply::json(StatusCode::OK, &json!({ "update": u.json(now) }))),
                None => not_found(&format!("No update found for ID: {id}")),
            }
        }
        (&Method::POST, ["clusters", name, "node-groups"]) => create_nodegroup(rules, req, name, now).await,
        (&Method::DELETE, ["clusters", name, "node-groups", ng]) => {
            delayed_delete(rules, req, name, Some(ng), None, settings.model(4.5), now).await
        }
        (&Method::POST, ["clusters", name, "node-groups", ng, "update-config"]) => {
            update_nodegroup_config(rules, req, name, ng, now).await
        }
        (&Method::POST, ["clusters", name, "node-groups", ng, "update-version"]) => {
            update_nodegroup_version(rules, req, name, ng, now).await
        }
        (&Method::POST, ["clusters", name, "fargate-profiles"]) => create_fargate_profile(rules, req, name, now),
        (&Method::POST, ["clusters", name, "addons"]) => addons::create(rules, req, name, now).await,
        (&Method::GET, ["clusters", name, "addons"]) => addons::list(rules, req, name, now).await,
        (&Method::GET, ["clusters", name, "addons", addon]) => addons::describe(rules, req, name, addon, now).await,
        (&Method::POST, ["clusters", name, "addons", addon, "update"]) => {
            addons::update(rules, req, name, addon, now).await
        }
        (&Method::DELETE, ["clusters", name, "addons", addon]) => addons::delete(rules, req, name, addon, now).await,
        (&Method::GET, ["addons", "supported-versions"]) => addons::versions(rules, req),
        (_, ["clusters", name, "access-entries", rest @ ..]) => access::route(rules, req, name, rest, now).await,
        (&Method::GET, ["access-policies"]) => access::policies(),
        (_, ["clusters", name, "pod-identity-associations"]) => addons::pod_identity(rules, req, name, None, now).await,
        (_, ["clusters", name, "pod-identity-associations", id]) => {
            addons::pod_identity(rules, req, name, Some(id), now).await
        }
        (_, ["tags", arn]) => access::tags(rules, req, &super::wire::decode(arn)).unwrap_or(Before::Forward(None)),
        (&Method::DELETE, ["clusters", name, "fargate-profiles", profile]) => {
            if let Some(refusal) = fargate_slot_taken(rules, name, profile, "delete", now) {
                return refusal;
            }
            delayed_delete(rules, req, name, None, Some(profile), settings.model(2.0), now).await
        }
        _ => Before::Forward(None),
    }
}

fn create_cluster(rules: &Rules, req: &Req, now: Instant) -> Before {
    let body = req.json();
    let name = body["name"].as_str().unwrap_or_default();
    let st = rules.state();
    let role = body["roleArn"].as_str().unwrap_or_default();
    if st.iam.propagating(role, now) {
        return invalid(
            &format!("Role with arn: {role}, could not be assumed because it does not exist or the trusted entity is not correct"),
            name,
        );
    }
    // The control plane refuses some AZ ids outright.
    let subnets: Vec<&str> = body["resourcesVpcConfig"]["subnetIds"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str()).collect())
        .unwrap_or_default();
    let refused = subnets
        .iter()
        .filter_map(|s| st.ec2.subnets.get(*s))
        .find(|s| NO_CONTROL_PLANE.contains(&s.zone_id.as_str()));
    if let Some(bad) = refused {
        let valid: BTreeSet<&str> = st
            .ec2
            .subnets
            .values()
            .filter(|s| !NO_CONTROL_PLANE.contains(&s.zone_id.as_str()))
            .map(|s| s.az.as_str())
            .collect();
        let valid: Vec<&str> = valid.into_iter().collect();
        return Before::Answer(Reply::eks_error(
            400,
            "UnsupportedAvailabilityZoneException",
            &format!(
                "Cannot create cluster '{name}' because {}, the targeted availability zone, does not currently have sufficient capacity to support the cluster. Retry and choose from these availability zones: {}",
                bad.az,
                valid.join(", ")
            ),
            json!({ "clusterName": name, "validZones": valid }),
        ));
    }
    if let Some(refusal) = auto_mode_all_or_nothing(&body, name) {
        return refusal;
    }
    Before::Forward(None)
}

/// EKS Auto Mode's compute, block storage and load balancing capabilities
/// "must all be enabled or disabled ... in the same API request" (EKS user
/// guide, "Auto Mode API reference").
fn auto_mode_all_or_nothing(body: &Value, name: &str) -> Option<Before> {
    let flags = [
        &body["computeConfig"]["enabled"],
        &body["storageConfig"]["blockStorage"]["enabled"],
        &body["kubernetesNetworkConfig"]["elasticLoadBalancing"]["enabled"],
    ];
    let given: Vec<&Value> = flags.iter().copied().filter(|f| !f.is_null()).collect();
    let mixed = !given.is_empty() && (given.len() != 3 || given.iter().any(|f| *f != given[0]));
    mixed.then(|| {
        invalid(
            "For EKS Auto Mode, please ensure that all required configs, including computeConfig, kubernetesNetworkConfig, and blockStorage are all either fully enabled or fully disabled.",
            name,
        )
    })
}

/// An EC2 query request to moto on behalf of EKS, in `region`.
fn ec2_request(req: &Req, region: &str, fields: &[(&str, &str)]) -> Req {
    let mut headers = hyper::HeaderMap::new();
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/ec2/aws4_request, SignedHeaders=host, Signature=0"
    );
    if let Ok(v) = auth.parse() {
        headers.insert(hyper::header::AUTHORIZATION, v);
    }
    // In the moto account the request was served in.
    if let Some(account) = req.headers.get("x-moto-account-id") {
        headers.insert("x-moto-account-id", account.clone());
    }
    let mut fields = fields.to_vec();
    fields.push(("Version", "2016-11-15"));
    let mut r = req.with_body(super::wire::form_body(&fields));
    r.method = Method::POST;
    r.path = "/".into();
    r.query = String::new();
    r.headers = headers;
    r.service = "ec2".into();
    r
}

/// "When you create a cluster, Amazon EKS creates a security group that's
/// named eks-cluster-sg-my-cluster-uniqueID" in the cluster's VPC, and
/// puts the control plane's interfaces, managed nodes and Fargate pods in it
/// ("View Amazon EKS security group requirements for clusters",
/// https://docs.aws.amazon.com/eks/latest/userguide/sec-group-reqs.html).
/// moto makes none; this makes it in moto, so rules may name it.
async fn cluster_security_group(rules: &Rules, req: &Req) {
    let body = req.json();
    let Some(name) = body["name"].as_str() else { return };
    if rules.state().eks.cluster_security_groups.contains_key(name) {
        return;
    }
    let region = super::wire::signing_region(&req.headers);
    let Some(subnet) = body["resourcesVpcConfig"]["subnetIds"][0].as_str() else {
        return;
    };
    let known = rules.state().ec2.subnets.get(subnet).map(|s| s.vpc.clone());
    let vpc = match known {
        Some(v) => v,
        None => {
            let asked = ec2_request(req, &region, &[("Action", "DescribeSubnets"), ("SubnetId.1", subnet)]);
            let Ok((_, answer)) = rules.upstream(&asked).await else {
                return;
            };
            match super::wire::tag(&String::from_utf8_lossy(&answer), "vpcId") {
                Some(v) => v.to_string(),
                None => return,
            }
        }
    };
    let group = format!("eks-cluster-sg-{name}-{}", &new_update_id()[..8]);
    let tag = format!("kubernetes.io/cluster/{name}");
    let create = ec2_request(
        req,
        &region,
        &[
            ("Action", "CreateSecurityGroup"),
            ("GroupName", &group),
            (
                "GroupDescription",
                "EKS created security group applied to ENI that is attached to EKS Control Plane master nodes, as well as any managed workloads.",
            ),
            ("VpcId", &vpc),
            ("TagSpecification.1.ResourceType", "security-group"),
            ("TagSpecification.1.Tag.1.Key", &tag),
            ("TagSpecification.1.Tag.1.Value", "owned"),
            ("TagSpecification.1.Tag.2.Key", "Name"),
            ("TagSpecification.1.Tag.2.Value", &group),
        ],
    );
    let Ok((StatusCode::OK, answer)) = rules.upstream(&create).await else {
        return;
    };
    if let Some(id) = super::wire::tag(&String::from_utf8_lossy(&answer), "groupId") {
        let id = id.to_string();
        // Its default rule: everything from itself.
        let own = ec2_request(
            req,
            &region,
            &[
                ("Action", "AuthorizeSecurityGroupIngress"),
                ("GroupId", &id),
                ("IpPermissions.1.IpProtocol", "-1"),
                ("IpPermissions.1.Groups.1.GroupId", &id),
            ],
        );
        let _ = rules.upstream(&own).await;
        rules.state().eks.cluster_security_groups.insert(name.to_string(), id);
    }
}

/// EKS deletes the cluster security group with the cluster. One that a
/// rule of another group still names cannot be deleted (DependencyViolation)
/// and is left behind, as EKS leaves it.
async fn delete_cluster_security_group(rules: &Rules, req: &Req, name: &str) {
    let Some(id) = rules.state().eks.cluster_security_groups.remove(name) else {
        return;
    };
    let region = super::wire::signing_region(&req.headers);
    let _ = rules
        .upstream(&ec2_request(
            req,
            &region,
            &[("Action", "DeleteSecurityGroup"), ("GroupId", &id)],
        ))
        .await;
}

async fn delete_cluster(rules: &Rules, req: &Req, name: &str, now: Instant) -> Before {
    {
        let mut st = rules.state();
        if let Some(c) = st.eks.clusters.get_mut(name) {
            c.settle(now);
            if c.update_in_progress(None, now).is_some() {
                return in_use(
                    &format!("Cannot delete because cluster {name} currently has an update in progress"),
                    name,
                );
            }
        }
    }
    // A cluster with node groups cannot be deleted.
    if let Some(list) = moto_json(rules, &get(req, format!("/clusters/{name}/node-groups"))).await {
        if list["nodegroups"].as_array().is_some_and(|a| !a.is_empty()) {
            return in_use("Cluster has nodegroups attached", name);
        }
    }
    let answer = delayed_delete(rules, req, name, None, None, rules.settings.model(5.0), now).await;
    delete_cluster_security_group(rules, req, name).await;
    // Add-ons, access entries and Pod Identity associations go with the
    // cluster ("DeleteCluster": "you must delete node groups and Fargate
    // profiles first"; the rest is deleted with it).
    if let Some(c) = rules.state().eks.clusters.get_mut(name) {
        c.addons.clear();
        c.access.clear();
        c.associations.clear();
    }
    answer
}

/// Answers a delete as AWS does (the resource, now DELETING) and lets moto
/// delete it once the modelled time has passed.
async fn delayed_delete(
    rules: &Rules,
    req: &Req,
    cluster: &str,
    nodegroup: Option<&str>,
    profile: Option<&str>,
    delay: Duration,
    now: Instant,
) -> Before {
    let (path, member) = match (nodegroup, profile) {
        (Some(ng), _) => (format!("/clusters/{cluster}/node-groups/{ng}"), "nodegroup"),
        (_, Some(p)) => (format!("/clusters/{cluster}/fargate-profiles/{p}"), "fargateProfile"),
        _ => (format!("/clusters/{cluster}"), "cluster"),
    };
    let Some(mut current) = moto_json(rules, &get(req, path)).await else {
        return Before::Forward(None);
    };
    {
        let mut st = rules.state();
        let c = st
            .eks
            .clusters
            .entry(cluster.to_string())
            .or_insert_with(|| fresh_cluster(now));
        let until = Some(now + delay);
        match (nodegroup, profile) {
            (Some(ng), _) => c.nodegroups.entry(ng.to_string()).or_default().life.deleting_until = until,
            (_, Some(p)) => c.profiles.entry(p.to_string()).or_default().deleting_until = until,
            _ => c.deleting_until = until,
        }
    }
    current[member]["status"] = json!("DELETING");
    Before::Later {
        answer: Reply::json(StatusCode::OK, &current),
        delay,
    }
}

impl Cluster {
    /// Auto Mode's three configs as a request sets them. Turning it on
    /// makes the node role's access entry (type EC2, with
    /// AmazonEKSAutoNodePolicy): "When you create a new auto mode cluster,
    /// EKS automatically creates the corresponding Kubernetes permissions
    /// using Access entries" ("Learn about identity and access in EKS Auto
    /// Mode").
    fn set_auto_mode(&mut self, cluster: &str, region: &str, body: &Value) {
        self.auto_mode = Some(json!({
            "computeConfig": body["computeConfig"],
            "storageConfig": body["storageConfig"],
            "kubernetesNetworkConfig": body["kubernetesNetworkConfig"],
        }));
        if body["computeConfig"]["enabled"] == true {
            if let Some(role) = body["computeConfig"]["nodeRoleArn"].as_str() {
                self.eks_made_entry(cluster, region, role, "EC2");
                if let Some(e) = self.access.get_mut(role) {
                    e.policies.insert(
                        access::policy_arn("AmazonEKSAutoNodePolicy"),
                        (json!({"type": "cluster", "namespaces": []}), epoch()),
                    );
                }
            }
        }
    }
}

fn fresh_cluster(now: Instant) -> Cluster {
    Cluster {
        creating_until: now,
        deleting_until: None,
        version: None,
        access_config: json!({"authenticationMode": "CONFIG_MAP", "bootstrapClusterCreatorAdminPermissions": true}),
        bootstrap_self_managed_addons: true,
        auto_mode: None,
        updates: Vec::new(),
        nodegroups: HashMap::new(),
        profiles: HashMap::new(),
        system_profiles: BTreeSet::new(),
        addons: BTreeMap::new(),
        access: BTreeMap::new(),
        associations: BTreeMap::new(),
        issuer_id: new_update_id().replace('-', "").to_ascii_uppercase(),
    }
}

/// The kinds of change one UpdateClusterConfig body asks for.
fn config_update_kinds(body: &Value) -> Vec<&'static str> {
    let mut kinds = Vec::new();
    if !body["logging"].is_null() {
        kinds.push("LoggingUpdate");
    }
    let vpc = &body["resourcesVpcConfig"];
    if !vpc["subnetIds"].is_null() || !vpc["securityGroupIds"].is_null() {
        kinds.push("VpcConfigUpdate");
    }
    if !vpc["endpointPublicAccess"].is_null()
        || !vpc["endpointPrivateAccess"].is_null()
        || !vpc["publicAccessCidrs"].is_null()
    {
        kinds.push("EndpointAccessUpdate");
    }
    if !body["accessConfig"].is_null() {
        kinds.push("AccessConfigUpdate");
    }
    if !body["computeConfig"].is_null()
        || !body["storageConfig"].is_null()
        || !body["kubernetesNetworkConfig"].is_null()
    {
        kinds.push("AutoModeUpdate");
    }
    kinds
}

fn enabled_logs(logging: &Value) -> BTreeSet<String> {
    logging["clusterLogging"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["enabled"].as_bool() == Some(true))
        .flat_map(|s| s["types"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect()
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// UpdateClusterConfig: one kind of update per call ("Only one type of
/// update can be allowed."), none while another runs, none that asks for
/// what is already there.
async fn update_cluster_config(rules: &Rules, req: &Req, name: &str, now: Instant) -> Before {
    let body = req.json();
    let kinds = config_update_kinds(&body);
    if kinds.len() > 1 {
        return invalid("Only one type of update can be allowed.", name);
    }
    let Some(&kind) = kinds.first() else {
        return invalid("No update was requested.", name);
    };
    if kind == "AutoModeUpdate" {
        if let Some(refusal) = auto_mode_all_or_nothing(&body, name) {
            return refusal;
        }
    }
    if let Some(refusal) = cluster_busy(rules, name, kind, now) {
        return refusal;
    }
    let Some(current) = moto_json(rules, &get(req, format!("/clusters/{name}"))).await else {
        return not_found(&format!("No cluster found for name: {name}."));
    };
    let current = &current["cluster"];
    let have_vpc = &current["resourcesVpcConfig"];
    let want_vpc = &body["resourcesVpcConfig"];
    let mut forward: Option<Value> = None;
    let mut params: Vec<(String, String)> = Vec::new();
    match kind {
        "LoggingUpdate" => {
            if enabled_logs(&body["logging"]) == enabled_logs(&current["logging"]) {
                return invalid("No changes needed for the logging config provided", name);
            }
            params.push(("ClusterLogging".into(), body["logging"].to_string()));
            forward = Some(json!({ "logging": body["logging"] }));
        }
        "EndpointAccessUpdate" => {
            let pick = |k: &str| {
                if want_vpc[k].is_null() {
                    have_vpc[k].clone()
                } else {
                    want_vpc[k].clone()
                }
            };
            let (public, private, cidrs) = (
                pick("endpointPublicAccess"),
                pick("endpointPrivateAccess"),
                pick("publicAccessCidrs"),
            );
            let same = public == have_vpc["endpointPublicAccess"]
                && private == have_vpc["endpointPrivateAccess"]
                && strings(&cidrs) == strings(&have_vpc["publicAccessCidrs"]);
            if same {
                let list: Vec<String> = strings(&cidrs).into_iter().collect();
                return invalid(
                    &format!(
                        "Cluster is already at the desired configuration with endpointPrivateAccess: {private} , endpointPublicAccess: {public}, and Public Endpoint Restrictions: [{}]",
                        list.join(", ")
                    ),
                    name,
                );
            }
            params.push(("EndpointPublicAccess".into(), public.to_string()));
            params.push(("EndpointPrivateAccess".into(), private.to_string()));
            params.push(("PublicAccessCidrs".into(), cidrs.to_string()));
            let mut merged = have_vpc.clone();
            merged["endpointPublicAccess"] = public;
            merged["endpointPrivateAccess"] = private;
            merged["publicAccessCidrs"] = cidrs;
            forward = Some(json!({ "resourcesVpcConfig": merged }));
        }
        "VpcConfigUpdate" => {
            let subnets = if want_vpc["subnetIds"].is_null() {
                have_vpc["subnetIds"].clone()
            } else {
                want_vpc["subnetIds"].clone()
            };
            if strings(&subnets) == strings(&have_vpc["subnetIds"]) && want_vpc["securityGroupIds"].is_null() {
                return invalid(
                    "Cluster is already at the desired configuration with the subnets and security groups provided",
                    name,
                );
            }
            // "All subnets that you add must be in the same set of AZs as
            // originally provided when you created the cluster" (network-reqs).
            {
                let st = rules.state();
                let az = |s: &String| st.ec2.subnets.get(s).map(|s| s.az.clone());
                let original: BTreeSet<String> = strings(&have_vpc["subnetIds"]).iter().filter_map(az).collect();
                let wanted: BTreeSet<String> = strings(&subnets).iter().filter_map(az).collect();
                if !original.is_empty() && !wanted.is_subset(&original) {
                    let new: Vec<&String> = wanted.difference(&original).collect();
                    return invalid(
                        &format!("Provided subnets are in availability zones the cluster was not created in: {new:?}"),
                        name,
                    );
                }
            }
            params.push(("Subnets".into(), subnets.to_string()));
            let mut merged = have_vpc.clone();
            merged["subnetIds"] = subnets;
            if !want_vpc["securityGroupIds"].is_null() {
                merged["securityGroupIds"] = want_vpc["securityGroupIds"].clone();
                params.push(("SecurityGroups".into(), want_vpc["securityGroupIds"].to_string()));
            }
            forward = Some(json!({ "resourcesVpcConfig": merged }));
        }
        "AccessConfigUpdate" => {
            let mode = body["accessConfig"]["authenticationMode"].clone();
            let st_mode = {
                let st = rules.state();
                st.eks
                    .clusters
                    .get(name)
                    .map(|c| c.access_config["authenticationMode"].clone())
                    .unwrap_or(json!("CONFIG_MAP"))
            };
            if mode == st_mode {
                return invalid(
                    &format!("Cluster is already at the desired configuration with authenticationMode: {mode}"),
                    name,
                );
            }
            // The authentication mode moves towards API only, never back
            // ("Change authentication mode to use access entries").
            let order = |m: &Value| match m.as_str() {
                Some("CONFIG_MAP") => 0,
                Some("API_AND_CONFIG_MAP") => 1,
                Some("API") => 2,
                _ => -1,
            };
            if order(&mode) < order(&st_mode) {
                return invalid(
                    &format!("Unsupported authentication mode update from {} to {}", st_mode, mode),
                    name,
                );
            }
            params.push(("AuthenticationMode".into(), mode.to_string()));
            let mut st = rules.state();
            let c = st
                .eks
                .clusters
                .entry(name.to_string())
                .or_insert_with(|| fresh_cluster(now));
            c.access_config["authenticationMode"] = mode;
        }
        _ => {
            params.push(("ComputeConfig".into(), body["computeConfig"].to_string()));
            params.push(("StorageConfig".into(), body["storageConfig"].to_string()));
            params.push((
                "KubernetesNetworkConfig".into(),
                body["kubernetesNetworkConfig"].to_string(),
            ));
            let mut st = rules.state();
            let c = st
                .eks
                .clusters
                .entry(name.to_string())
                .or_insert_with(|| fresh_cluster(now));
            c.set_auto_mode(name, &super::wire::signing_region(&req.headers), &body);
        }
    }
    if let Some(fields) = forward {
        let to_moto = req.with_body(Bytes::from(fields.to_string()));
        if !matches!(rules.upstream(&to_moto).await, Ok((StatusCode::OK, _))) {
            return not_found(&format!("No cluster found for name: {name}."));
        }
    }
    let minutes = match kind {
        "LoggingUpdate" | "AccessConfigUpdate" => 1.0,
        _ => 4.0,
    };
    record_update(
        rules,
        name,
        None,
        Change {
            kind,
            params,
            takes: rules.settings.model(minutes),
            effect: None,
        },
        now,
    )
}

#[allow(clippy::too_many_arguments)]
/// EKS runs one update of a cluster at a time, and none while the cluster
/// is not ACTIVE (a 409 ResourceInUseException naming the update).
fn cluster_busy(rules: &Rules, name: &str, kind: &str, now: Instant) -> Option<Before> {
    let mut st = rules.state();
    let c = st.eks.clusters.get_mut(name)?;
    c.settle(now);
    if let Some(u) = c.update_in_progress(None, now) {
        return Some(in_use(
            &format!(
                "Cannot {kind} because cluster {name} currently has update {} in progress",
                u.id
            ),
            name,
        ));
    }
    let status = c.status(now);
    (status != "ACTIVE").then(|| in_use(&format!("Cluster {name} is currently {status}"), name))
}

/// What an update is: its type, its parameters, how long it takes, and
/// what it changes once done.
struct Change {
    kind: &'static str,
    params: Vec<(String, String)>,
    takes: Duration,
    effect: Option<Effect>,
}

fn record_update(rules: &Rules, cluster: &str, nodegroup: Option<&str>, change: Change, now: Instant) -> Before {
    let update = Update {
        id: new_update_id(),
        kind: change.kind,
        params: change.params,
        created_at: epoch(),
        done_at: now + change.takes,
        nodegroup: nodegroup.map(str::to_string),
        addon: None,
        effect: change.effect,
    };
    let answer = json!({ "update": update.json(now) });
    let mut st = rules.state();
    let c = st
        .eks
        .clusters
        .entry(cluster.to_string())
        .or_insert_with(|| fresh_cluster(now));
    c.updates.push(update);
    Before::Answer(Reply::json(StatusCode::OK, &answer))
}

/// The cluster's version as AWS would report it.
async fn cluster_version(rules: &Rules, req: &Req, name: &str, now: Instant) -> Option<String> {
    {
        let mut st = rules.state();
        if let Some(c) = st.eks.clusters.get_mut(name) {
            c.settle(now);
            if let Some(v) = &c.version {
                return Some(v.clone());
            }
        }
    }
    let current = moto_json(rules, &get(req, format!("/clusters/{name}"))).await?;
    current["cluster"]["version"].as_str().map(str::to_string)
}

/// UpdateClusterVersion: "you can update only one minor version at a time",
/// and only once every managed node group is at the control plane's version
/// ("Update existing cluster to new Kubernetes version",
/// https://docs.aws.amazon.com/eks/latest/userguide/update-cluster.html).
async fn update_cluster_version(rules: &Rules, req: &Req, name: &str, now: Instant) -> Before {
    let wanted = req.json()["version"].as_str().unwrap_or_default().to_string();
    let Some(current) = cluster_version(rules, req, name, now).await else {
        return not_found(&format!("No cluster found for name: {name}."));
    };
    if minor(&wanted).zip(minor(&current)).is_none_or(|(w, c)| w != c + 1) {
        return invalid(
            &format!("Unsupported Kubernetes minor version update from {current} to {wanted}"),
            name,
        );
    }
    if let Some(refusal) = cluster_busy(rules, name, "VersionUpdate", now) {
        return refusal;
    }
    let mut lagging = Vec::new();
    if let Some(list) = moto_json(rules, &get(req, format!("/clusters/{name}/node-groups"))).await {
        for ng in list["nodegroups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str())
        {
            let version = nodegroup_version(rules, req, name, ng, now).await;
            if version.as_deref().and_then(minor) < minor(&current) {
                lagging.push(ng.to_string());
            }
        }
    }
    if !lagging.is_empty() {
        return invalid(
            &format!(
                "Nodegroups {} must be updated to match cluster version {current} before updating cluster version",
                lagging.join(", ")
            ),
            name,
        );
    }
    let params = vec![
        ("Version".to_string(), wanted.clone()),
        ("PlatformVersion".to_string(), "eks.1".to_string()),
    ];
    let takes = rules.settings.model(9.0);
    record_update(
        rules,
        name,
        None,
        Change {
            kind: "VersionUpdate",
            params,
            takes,
            effect: Some(Effect::ClusterVersion(wanted)),
        },
        now,
    )
}

async fn nodegroup_version(rules: &Rules, req: &Req, cluster: &str, ng: &str, now: Instant) -> Option<String> {
    {
        let mut st = rules.state();
        if let Some(c) = st.eks.clusters.get_mut(cluster) {
            c.settle(now);
            if let Some(v) = c.nodegroups.get(ng).and_then(|n| n.version.clone()) {
                return Some(v);
            }
        }
    }
    let described = moto_json(rules, &get(req, format!("/clusters/{cluster}/node-groups/{ng}"))).await?;
    described["nodegroup"]["version"].as_str().map(str::to_string)
}

async fn create_nodegroup(rules: &Rules, req: &Req, cluster: &str, now: Instant) -> Before {
    let mut body = req.json();
    {
        let mut st = rules.state();
        let role = body["nodeRole"].as_str().unwrap_or_default();
        if st.iam.propagating(role, now) {
            return invalid(
                "The provided role doesn't have the Amazon EKS Managed Policies associated with it. Please ensure the following policies [arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy, arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy, arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly] are attached",
                cluster,
            );
        }
        if let Some(c) = st.eks.clusters.get_mut(cluster) {
            c.settle(now);
            let status = c.status(now);
            if matches!(status, "CREATING" | "DELETING") {
                return Before::Answer(Reply::eks_error(
                    400,
                    "InvalidRequestException",
                    &format!("Cluster '{cluster}' is not in ACTIVE status"),
                    json!({ "clusterName": cluster }),
                ));
            }
        }
    }
    // "By default, the Kubernetes version of the cluster is used"
    // (CreateNodegroup, `version`); moto would say 1.19.
    if body["version"].is_null() {
        if let Some(v) = cluster_version(rules, req, cluster, now).await {
            body["version"] = json!(v);
            return Before::Forward(Some(Bytes::from(body.to_string())));
        }
    }
    Before::Forward(None)
}

async fn update_nodegroup_config(rules: &Rules, req: &Req, cluster: &str, ng: &str, now: Instant) -> Before {
    {
        let mut st = rules.state();
        if let Some(c) = st.eks.clusters.get_mut(cluster) {
            c.settle(now);
            if let Some(u) = c.update_in_progress(Some(ng), now) {
                return in_use(
                    &format!("Nodegroup {ng} currently has update {} in progress", u.id),
                    cluster,
                );
            }
        }
    }
    if !matches!(rules.upstream(req).await, Ok((StatusCode::OK, _))) {
        return not_found(&format!("No node group found for name: {ng}."));
    }
    let body = req.json();
    if let Some(size) = body["scalingConfig"]["desiredSize"].as_i64() {
        let mut st = rules.state();
        if let Some(n) = st.eks.clusters.get_mut(cluster).and_then(|c| c.nodegroups.get_mut(ng)) {
            n.desired = Some(size);
        }
    }
    let mut params = Vec::new();
    for (k, t) in [
        ("minSize", "MinSize"),
        ("maxSize", "MaxSize"),
        ("desiredSize", "DesiredSize"),
    ] {
        if let Some(v) = body["scalingConfig"][k].as_i64() {
            params.push((t.to_string(), v.to_string()));
        }
    }
    if !body["labels"].is_null() {
        params.push(("LabelsToAdd".into(), body["labels"]["addOrUpdateLabels"].to_string()));
        params.push(("LabelsToRemove".into(), body["labels"]["removeLabels"].to_string()));
    }
    record_update(
        rules,
        cluster,
        Some(ng),
        Change {
            kind: "ConfigUpdate",
            params,
            takes: rules.settings.model(1.0),
            effect: None,
        },
        now,
    )
}

/// UpdateNodegroupVersion: to the cluster's version (the default when none
/// is given), never past it.
async fn update_nodegroup_version(rules: &Rules, req: &Req, cluster: &str, ng: &str, now: Instant) -> Before {
    let Some(cluster_v) = cluster_version(rules, req, cluster, now).await else {
        return not_found(&format!("No cluster found for name: {cluster}."));
    };
    let wanted = req.json()["version"]
        .as_str()
        .map(str::to_string)
        .unwrap_or(cluster_v.clone());
    if minor(&wanted) > minor(&cluster_v) {
        return invalid(
            &format!("Requested Nodegroup Kubernetes version {wanted} is newer than the cluster version {cluster_v}"),
            cluster,
        );
    }
    {
        let mut st = rules.state();
        if let Some(c) = st.eks.clusters.get_mut(cluster) {
            if let Some(u) = c.update_in_progress(Some(ng), now) {
                return in_use(
                    &format!("Nodegroup {ng} currently has update {} in progress", u.id),
                    cluster,
                );
            }
        }
    }
    let params = vec![("Version".to_string(), wanted.clone())];
    let effect = Some(Effect::NodegroupVersion(ng.to_string(), wanted));
    record_update(
        rules,
        cluster,
        Some(ng),
        Change {
            kind: "VersionUpdate",
            params,
            takes: rules.settings.model(5.0),
            effect,
        },
        now,
    )
}

/// EKS lets one Fargate profile per cluster be creating or deleting at a
/// time ("AWS Fargate profile": "only one Fargate profile in a cluster can
/// be in the CREATING or DELETING status at a time").
fn fargate_slot_taken(rules: &Rules, cluster: &str, profile: &str, verb: &str, now: Instant) -> Option<Before> {
    let st = rules.state();
    let c = st.eks.clusters.get(cluster)?;
    let (other, status) = c
        .profiles
        .iter()
        .filter(|(name, _)| name.as_str() != profile)
        .find_map(|(name, t)| Some((name, t.status(now)?)))?;
    Some(in_use(
        &format!("Cannot {verb} Fargate Profile {profile} because cluster {cluster} currently has Fargate profile {other} in status {status}"),
        cluster,
    ))
}

fn create_fargate_profile(rules: &Rules, req: &Req, cluster: &str, now: Instant) -> Before {
    let body = req.json();
    let profile = body["fargateProfileName"].as_str().unwrap_or_default();
    {
        let st = rules.state();
        let role = body["podExecutionRoleArn"].as_str().unwrap_or_default();
        if st.iam.propagating(role, now) {
            return invalid(
                "Misconfigured PodExecutionRole Trust Policy; Please add the eks-fargate-pods.amazonaws.com Service Principal",
                cluster,
            );
        }
    }
    if let Some(refusal) = fargate_slot_taken(rules, cluster, profile, "create", now) {
        return refusal;
    }
    Before::Forward(None)
}

pub fn after(settings: &Settings, st: &mut State, req: &Req, status: StatusCode, body: &mut Bytes, now: Instant) {
    if status != StatusCode::OK {
        return;
    }
    let Ok(mut v) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let seg = req.segments();
    match (&req.method, seg.as_slice()) {
        // A control plane takes 9-15 minutes to create (DESIGN §8); it keeps
        // what it was created with (moto drops these two).
        (&Method::POST, ["clusters"]) => {
            let sent = req.json();
            let Some(name) = sent["name"].as_str() else { return };
            let mut c = fresh_cluster(now + settings.model(12.0));
            if !sent["accessConfig"].is_null() {
                for (k, val) in sent["accessConfig"].as_object().into_iter().flatten() {
                    c.access_config[k] = val.clone();
                }
            }
            if let Some(b) = sent["bootstrapSelfManagedAddons"].as_bool() {
                c.bootstrap_self_managed_addons = b;
            }
            c.creator_entry(name, &super::wire::signing_region(&req.headers));
            // moto drops Auto Mode's configs; EKS keeps them and makes the
            // node role's access entry itself.
            if !sent["computeConfig"].is_null() {
                c.set_auto_mode(name, &super::wire::signing_region(&req.headers), &sent);
            }
            st.clusters.insert(name.to_string(), c);
            show_cluster(st, name, &mut v["cluster"], now);
        }
        (&Method::GET, ["clusters", name]) => show_cluster(st, name, &mut v["cluster"], now),
        // A node group takes about 2.5 minutes to create.
        (&Method::POST, ["clusters", cluster, "node-groups"]) => {
            let Some(ng) = req.json()["nodegroupName"].as_str().map(str::to_string) else {
                return;
            };
            let c = st
                .clusters
                .entry(cluster.to_string())
                .or_insert_with(|| fresh_cluster(now));
            let sent = req.json();
            // Nodes join only with a CNI: EKS's self-managed one, or the
            // managed add-on made first.
            let cni =
                c.bootstrap_self_managed_addons || c.addons.get("vpc-cni").is_some_and(|a| a.deleting_until.is_none());
            let entry = c.nodegroups.entry(ng.clone()).or_default();
            entry.life = Transition::creating(now + settings.model(2.5));
            entry.doomed = !cni;
            entry.desired = sent["scalingConfig"]["desiredSize"].as_i64();
            if let Some(role) = sent["nodeRole"].as_str() {
                c.eks_made_entry(cluster, &super::wire::signing_region(&req.headers), role, "EC2_LINUX");
            }
            show_nodegroup(st, cluster, &ng, &mut v["nodegroup"], now);
        }
        (&Method::GET, ["clusters", cluster, "node-groups", ng]) => {
            show_nodegroup(st, cluster, ng, &mut v["nodegroup"], now)
        }
        // A Fargate profile takes about 2 minutes to create.
        (&Method::POST, ["clusters", cluster, "fargate-profiles"]) => {
            let Some(p) = req.json()["fargateProfileName"].as_str().map(str::to_string) else {
                return;
            };
            let c = st
                .clusters
                .entry(cluster.to_string())
                .or_insert_with(|| fresh_cluster(now));
            c.profiles
                .insert(p.clone(), Transition::creating(now + settings.model(2.0)));
            let sent = req.json();
            let system = sent["selectors"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| s["namespace"] == "kube-system");
            if system {
                c.system_profiles.insert(p.clone());
            }
            if let Some(role) = sent["podExecutionRoleArn"].as_str() {
                c.eks_made_entry(
                    cluster,
                    &super::wire::signing_region(&req.headers),
                    role,
                    "FARGATE_LINUX",
                );
            }
            show_profile(st, cluster, &p, &mut v["fargateProfile"], now);
        }
        (&Method::GET, ["clusters", cluster, "fargate-profiles", p]) => {
            show_profile(st, cluster, p, &mut v["fargateProfile"], now)
        }
        _ => return,
    }
    *body = Bytes::from(v.to_string());
}

fn show_cluster(st: &mut State, name: &str, cluster: &mut Value, now: Instant) {
    if let Some(sg) = st.cluster_security_groups.get(name) {
        cluster["resourcesVpcConfig"]["clusterSecurityGroupId"] = json!(sg);
    }
    let Some(c) = st.clusters.get_mut(name) else { return };
    c.settle(now);
    cluster["status"] = json!(c.status(now));
    if let Some(v) = &c.version {
        cluster["version"] = json!(v);
    }
    cluster["accessConfig"] = c.access_config.clone();
    if let Some(issuer) = cluster["identity"]["oidc"]["issuer"].as_str() {
        if let Some((base, _)) = issuer.rsplit_once("/id/") {
            cluster["identity"]["oidc"]["issuer"] = json!(format!("{base}/id/{}", c.issuer_id));
        }
    }
    cluster["bootstrapSelfManagedAddons"] = json!(c.bootstrap_self_managed_addons);
    if let Some(auto) = &c.auto_mode {
        for k in ["computeConfig", "storageConfig", "kubernetesNetworkConfig"] {
            cluster[k] = auto[k].clone();
        }
    }
}

fn show_nodegroup(st: &mut State, cluster: &str, ng: &str, nodegroup: &mut Value, now: Instant) {
    let Some(c) = st.clusters.get_mut(cluster) else { return };
    c.settle(now);
    let updating = c.update_in_progress(Some(ng), now).is_some();
    let Some(n) = c.nodegroups.get(ng) else { return };
    if n.doomed && n.life.status(now).is_none() && n.life.deleting_until.is_none() {
        nodegroup["status"] = json!("CREATE_FAILED");
        nodegroup["health"] = json!({"issues": [{
            "code": "NodeCreationFailure",
            "message": "Instances failed to join the kubernetes cluster",
            "resourceIds": [],
        }]});
        return;
    }
    let status = n.life.status(now).or(updating.then_some("UPDATING"));
    if let Some(s) = status {
        nodegroup["status"] = json!(s);
    }
    if let Some(v) = &n.version {
        nodegroup["version"] = json!(v);
    }
}

fn show_profile(st: &mut State, cluster: &str, p: &str, profile: &mut Value, now: Instant) {
    let Some(t) = st.clusters.get(cluster).and_then(|c| c.profiles.get(p)) else {
        return;
    };
    if let Some(s) = t.status(now) {
        profile["status"] = json!(s);
    }
}
