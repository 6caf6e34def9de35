//! EKS managed add-ons and EKS Pod Identity associations, which moto 5.2.5
//! does not implement (its EKS has no `/addons` or
//! `/pod-identity-associations` routes), served with the shapes of the EKS
//! API reference: CreateAddon, DescribeAddon, ListAddons, UpdateAddon,
//! DeleteAddon, DescribeAddonVersions, and Create/Describe/List/Delete
//! PodIdentityAssociation (https://docs.aws.amazon.com/eks/latest/APIReference/).
//!
//! An add-on is CREATING for about 1.5 modelled minutes (DESIGN §9:
//! "managed add-on create or update 1–2 min"). A Deployment add-on (CoreDNS,
//! metrics-server, the EBS CSI controller, the CloudWatch agent's operator)
//! needs somewhere to run: without an active node group, or for CoreDNS a
//! Fargate profile selecting kube-system and `computeType = "Fargate"`, it
//! stays CREATING for up to 5 minutes and then turns DEGRADED with AWS's
//! health issue InsufficientNumberOfReplicas.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hyper::StatusCode;
use serde_json::{json, Value};

use super::super::wire::{signing_region, Reply};
use super::super::{Before, Req, Rules};
use super::{epoch, in_use, invalid, new_update_id, not_found, Cluster, Effect, Update};

/// moto's account: GetCallerIdentity answers it for any key.
pub const ACCOUNT: &str = "123456789012";

/// One managed add-on as EKS keeps it.
#[derive(Clone)]
pub struct Addon {
    pub version: String,
    pub configuration: Option<String>,
    pub arn: String,
    pub created_at: f64,
    pub creating_until: Instant,
    /// Past this, a Deployment add-on with nowhere to run is DEGRADED.
    pub degraded_after: Instant,
    pub deleting_until: Option<Instant>,
    pub tags: BTreeMap<String, String>,
    pub associations: Vec<String>,
    pub service_account_role: Option<String>,
}

/// One Pod Identity association.
#[derive(Clone)]
pub struct Association {
    pub id: String,
    pub arn: String,
    pub namespace: String,
    pub service_account: String,
    pub role_arn: String,
    pub owner: Option<String>,
    pub created_at: f64,
    pub tags: BTreeMap<String, String>,
}

/// Kubernetes minors the catalog serves.
const MINORS: std::ops::RangeInclusive<u32> = 29..=36;

/// Where each add-on that needs AWS permissions runs its service account.
fn service_account_namespace(addon: &str) -> Option<&'static str> {
    match addon {
        "aws-ebs-csi-driver" => Some("kube-system"),
        "amazon-cloudwatch-observability" => Some("amazon-cloudwatch"),
        "vpc-cni" => Some("kube-system"),
        _ => None,
    }
}

/// A Deployment: it needs a node (or Fargate, for CoreDNS) to be healthy.
fn needs_compute(addon: &str) -> bool {
    matches!(
        addon,
        "coredns" | "metrics-server" | "aws-ebs-csi-driver" | "amazon-cloudwatch-observability"
    )
}

/// The versions EKS offers for `addon` on Kubernetes `1.minor`, oldest
/// first, with which one is the default; plus any published later.
pub fn catalog(addon: &str, minor: u32, published: &[(String, String)]) -> Vec<(String, bool)> {
    if !MINORS.contains(&minor) {
        return vec![];
    }
    let fixed: Vec<(&str, bool)> = match addon {
        "vpc-cni" => vec![
            ("v1.19.2-eksbuild.1", false),
            ("v1.20.4-eksbuild.2", true),
            ("v1.21.1-eksbuild.1", false),
        ],
        "coredns" if minor <= 33 => vec![("v1.11.3-eksbuild.2", false), ("v1.11.4-eksbuild.14", true)],
        "coredns" => vec![
            ("v1.11.4-eksbuild.14", false),
            ("v1.12.1-eksbuild.2", true),
            ("v1.12.4-eksbuild.1", false),
        ],
        "eks-pod-identity-agent" => vec![("v1.3.7-eksbuild.2", true), ("v1.3.8-eksbuild.2", false)],
        "aws-ebs-csi-driver" => vec![("v1.44.0-eksbuild.1", true), ("v1.45.0-eksbuild.2", false)],
        "metrics-server" => vec![("v0.7.2-eksbuild.3", true), ("v0.8.0-eksbuild.1", false)],
        "amazon-cloudwatch-observability" => vec![("v4.1.0-eksbuild.1", true), ("v4.2.0-eksbuild.1", false)],
        "kube-proxy" => {
            return demote(
                [(0, "1", false), (3, "2", true), (5, "1", false)]
                    .iter()
                    .map(|(patch, build, default)| (format!("v1.{minor}.{patch}-eksbuild.{build}"), *default))
                    .chain(later(addon, published))
                    .collect(),
            )
        }
        _ => return vec![],
    };
    demote(
        fixed
            .into_iter()
            .map(|(v, d)| (v.to_string(), d))
            .chain(later(addon, published))
            .collect(),
    )
}

/// Versions published later; the newest becomes the default, as EKS moves
/// its default to a new release after a while.
fn later<'a>(addon: &'a str, published: &'a [(String, String)]) -> impl Iterator<Item = (String, bool)> + 'a {
    let mine: Vec<&String> = published.iter().filter(|(a, _)| a == addon).map(|(_, v)| v).collect();
    let newest = mine.last().map(|v| v.to_string());
    mine.into_iter().map(move |v| (v.clone(), Some(v) == newest.as_ref()))
}

/// With a later default published, the fixed ones are no longer default.
fn demote(versions: Vec<(String, bool)>) -> Vec<(String, bool)> {
    let later_default = versions.iter().rposition(|(_, d)| *d);
    versions
        .into_iter()
        .enumerate()
        .map(|(i, (v, d))| (v, d && Some(i) == later_default))
        .collect()
}

fn minor(v: &str) -> Option<u32> {
    super::minor(v)
}

/// The add-ons moto's cluster would not know about, and its version as the
/// rules see it.
async fn cluster_of(rules: &Rules, req: &Req, name: &str, now: Instant) -> Result<String, Before> {
    match super::cluster_version(rules, req, name, now).await {
        Some(v) => {
            let mut st = rules.state();
            let c = st
                .eks
                .clusters
                .entry(name.to_string())
                .or_insert_with(|| super::fresh_cluster(now));
            if c.deleting_until.is_some_and(|t| t <= now) {
                return Err(not_found(&format!("No cluster found for name: {name}.")));
            }
            Ok(v)
        }
        None => Err(not_found(&format!("No cluster found for name: {name}."))),
    }
}

impl Cluster {
    /// Whether some node (or, for CoreDNS on Fargate, a kube-system
    /// profile) can run a Deployment add-on's pods now.
    fn can_run(&self, addon: &str, configuration: Option<&str>, now: Instant) -> bool {
        let nodes = self.nodegroups.values().any(|n| {
            n.life.status(now).is_none() && n.life.deleting_until.is_none() && !n.doomed && n.desired != Some(0)
        });
        // CoreDNS is annotated for EC2 unless its computeType says Fargate;
        // metrics-server's pods in kube-system match a kube-system profile.
        let fargate_ready = match addon {
            "coredns" => configuration
                .and_then(|c| serde_json::from_str::<Value>(c).ok())
                .is_some_and(|c| c["computeType"] == "Fargate"),
            "metrics-server" => true,
            _ => false,
        };
        let fargate = fargate_ready
            && self.system_profiles.iter().any(|p| {
                self.profiles
                    .get(p)
                    .is_some_and(|t| t.status(now).is_none() && t.deleting_until.is_none())
            });
        nodes || fargate
    }

    /// The add-on's status and health issues as DescribeAddon reports them.
    fn addon_status(&self, name: &str, a: &Addon, now: Instant) -> (&'static str, Vec<Value>) {
        if a.deleting_until.is_some_and(|t| t > now) {
            return ("DELETING", vec![]);
        }
        if self.update_of_addon(name, now).is_some() {
            return ("UPDATING", vec![]);
        }
        if a.creating_until > now {
            return ("CREATING", vec![]);
        }
        if needs_compute(name) && !self.can_run(name, a.configuration.as_deref(), now) {
            if a.degraded_after > now {
                return ("CREATING", vec![]);
            }
            return (
                "DEGRADED",
                vec![json!({
                    "code": "InsufficientNumberOfReplicas",
                    "message": "The add-on is unhealthy because it doesn't have the desired number of replicas.",
                    "resourceIds": [],
                })],
            );
        }
        ("ACTIVE", vec![])
    }

    fn update_of_addon(&self, name: &str, now: Instant) -> Option<&Update> {
        self.updates
            .iter()
            .find(|u| u.addon.as_deref() == Some(name) && u.done_at > now)
    }

    /// The add-on unless it has been deleted.
    fn live_addon(&self, name: &str, now: Instant) -> Option<&Addon> {
        self.addons
            .get(name)
            .filter(|a| a.deleting_until.is_none_or(|t| t > now))
    }

    fn addon_json(&self, cluster: &str, name: &str, a: &Addon, now: Instant) -> Value {
        let (status, issues) = self.addon_status(name, a, now);
        json!({
            "addonName": name,
            "clusterName": cluster,
            "status": status,
            "addonVersion": a.version,
            "health": { "issues": issues },
            "addonArn": a.arn,
            "createdAt": a.created_at,
            "modifiedAt": a.created_at,
            "serviceAccountRoleArn": a.service_account_role,
            "tags": a.tags,
            "configurationValues": a.configuration,
            "podIdentityAssociations": a.associations,
        })
    }
}

fn tags_of(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

/// `configurationValues` must be JSON (or YAML) matching the add-on's schema;
/// only JSON objects are taken here.
fn configuration_ok(v: &Value) -> Result<Option<String>, String> {
    match v.as_str() {
        None => Ok(None),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(_)) => Ok(Some(text.to_string())),
            _ => Err(format!("ConfigurationValue provided in request is not supported: Json schema validation failed with error: [$: string found, object expected]: {text}")),
        },
    }
}

fn version_refusal(addon: &str, version: &str, k8s: &str) -> String {
    format!("Addon version specified is not supported, addon: {addon}, version: {version}, kubernetes version: {k8s}")
}

pub async fn create(rules: &Rules, req: &Req, cluster: &str, now: Instant) -> Before {
    let k8s = match cluster_of(rules, req, cluster, now).await {
        Ok(v) => v,
        Err(refusal) => return refusal,
    };
    let body = req.json();
    let name = body["addonName"].as_str().unwrap_or_default().to_string();
    let published = rules.published();
    let offered = catalog(&name, minor(&k8s).unwrap_or(0), &published);
    if offered.is_empty() {
        return invalid(
            &format!("Addon {name} specified is not supported in {k8s} kubernetes version"),
            cluster,
        );
    }
    let version = match body["addonVersion"].as_str() {
        Some(v) if offered.iter().any(|(o, _)| o == v) => v.to_string(),
        Some(v) => return invalid(&version_refusal(&name, v, &k8s), cluster),
        None => offered
            .iter()
            .find(|(_, d)| *d)
            .map(|(v, _)| v.clone())
            .unwrap_or_default(),
    };
    let configuration = match configuration_ok(&body["configurationValues"]) {
        Ok(c) => c,
        Err(message) => return invalid(&message, cluster),
    };
    let region = signing_region(&req.headers);
    let mut st = rules.state();
    let st = &mut *st;
    let Some(c) = st.eks.clusters.get_mut(cluster) else {
        return not_found(&format!("No cluster found for name: {cluster}."));
    };
    c.settle(now);
    if c.status(now) != "ACTIVE" {
        return Before::Answer(Reply::eks_error(
            400,
            "InvalidRequestException",
            &format!("Cluster '{cluster}' is not in ACTIVE status"),
            json!({ "clusterName": cluster }),
        ));
    }
    if c.live_addon(&name, now).is_some() {
        return in_use("Addon already exists.", cluster);
    }
    let addon_arn = format!(
        "arn:aws:eks:{region}:{ACCOUNT}:addon/{cluster}/{name}/{}",
        new_update_id()
    );
    // "podIdentityAssociations": each names a service account of the
    // add-on and the role it gets (CreateAddon, EKS API reference).
    let mut associations = Vec::new();
    for a in body["podIdentityAssociations"].as_array().into_iter().flatten() {
        let Some(namespace) = service_account_namespace(&name) else {
            return invalid(
                &format!("Addon {name} does not support Pod Identity associations"),
                cluster,
            );
        };
        let role = a["roleArn"].as_str().unwrap_or_default();
        if st.iam.propagating(role, now) {
            return invalid(
                &format!("Role {role} cannot be assumed by pods.eks.amazonaws.com: check its trust policy"),
                cluster,
            );
        }
        let sa = a["serviceAccount"].as_str().unwrap_or_default().to_string();
        if c.associations
            .values()
            .any(|x| x.namespace == namespace && x.service_account == sa)
        {
            return in_use(
                &format!("Association already exists for service account {namespace}/{sa}"),
                cluster,
            );
        }
        let id = format!("a-{}", &new_update_id().replace('-', "")[..17]);
        let arn = format!("arn:aws:eks:{region}:{ACCOUNT}:podidentityassociation/{cluster}/{id}");
        associations.push(arn.clone());
        c.associations.insert(
            id.clone(),
            Association {
                id,
                arn,
                namespace: namespace.to_string(),
                service_account: sa,
                role_arn: role.to_string(),
                owner: Some(addon_arn.clone()),
                created_at: epoch(),
                tags: BTreeMap::new(),
            },
        );
    }
    let addon = Addon {
        version,
        configuration,
        arn: addon_arn,
        created_at: epoch(),
        creating_until: now + rules.settings.model(1.5),
        degraded_after: now + rules.settings.model(5.0),
        deleting_until: None,
        tags: tags_of(&body["tags"]),
        associations,
        service_account_role: body["serviceAccountRoleArn"].as_str().map(str::to_string),
    };
    let shown = c.addon_json(cluster, &name, &addon, now);
    c.addons.insert(name, addon);
    Before::Answer(Reply::json(StatusCode::OK, &json!({ "addon": shown })))
}

pub async fn list(rules: &Rules, req: &Req, cluster: &str, now: Instant) -> Before {
    if let Err(refusal) = cluster_of(rules, req, cluster, now).await {
        return refusal;
    }
    let st = rules.state();
    let names: Vec<&String> = st.eks.clusters[cluster]
        .addons
        .iter()
        .filter(|(_, a)| a.deleting_until.is_none_or(|t| t > now))
        .map(|(n, _)| n)
        .collect();
    Before::Answer(Reply::json(
        StatusCode::OK,
        &json!({ "addons": names, "nextToken": null }),
    ))
}

fn no_addon(name: &str, cluster: &str) -> Before {
    Before::Answer(Reply::eks_error(
        404,
        "ResourceNotFoundException",
        &format!("No addon: {name} found in cluster: {cluster}"),
        json!({ "clusterName": cluster, "addonName": name }),
    ))
}

pub async fn describe(rules: &Rules, req: &Req, cluster: &str, name: &str, now: Instant) -> Before {
    if let Err(refusal) = cluster_of(rules, req, cluster, now).await {
        return refusal;
    }
    let mut st = rules.state();
    let c = st.eks.clusters.get_mut(cluster).expect("known above");
    c.settle(now);
    match c.live_addon(name, now) {
        Some(a) => Before::Answer(Reply::json(
            StatusCode::OK,
            &json!({ "addon": c.addon_json(cluster, name, a, now) }),
        )),
        None => no_addon(name, cluster),
    }
}

/// UpdateAddon: a new version offered for the cluster's Kubernetes version,
/// new configuration values, or both; refused while another update of the
/// add-on runs. Answered with the update, tracked by DescribeUpdate with
/// `addonName`.
pub async fn update(rules: &Rules, req: &Req, cluster: &str, name: &str, now: Instant) -> Before {
    let k8s = match cluster_of(rules, req, cluster, now).await {
        Ok(v) => v,
        Err(refusal) => return refusal,
    };
    let body = req.json();
    let configuration = match configuration_ok(&body["configurationValues"]) {
        Ok(c) => c,
        Err(message) => return invalid(&message, cluster),
    };
    let published = rules.published();
    let mut st = rules.state();
    let c = st.eks.clusters.get_mut(cluster).expect("known above");
    c.settle(now);
    let Some(current) = c.live_addon(name, now).cloned() else {
        return no_addon(name, cluster);
    };
    if let Some(u) = c.update_of_addon(name, now) {
        return in_use(
            &format!("Addon {name} currently has update {} in progress", u.id),
            cluster,
        );
    }
    let (status, _) = c.addon_status(name, &current, now);
    if status == "CREATING" || status == "DELETING" {
        return in_use(&format!("Addon {name} is currently {status}"), cluster);
    }
    let mut params = Vec::new();
    let version = body["addonVersion"].as_str().map(str::to_string);
    if let Some(v) = &version {
        if !catalog(name, minor(&k8s).unwrap_or(0), &published)
            .iter()
            .any(|(o, _)| o == v)
        {
            return invalid(&version_refusal(name, v, &k8s), cluster);
        }
        params.push(("AddonVersion".to_string(), v.clone()));
    }
    if let Some(cv) = &configuration {
        params.push(("ConfigurationValues".to_string(), cv.clone()));
    }
    if let Some(r) = body["resolveConflicts"].as_str() {
        params.push(("ResolveConflicts".to_string(), r.to_string()));
    }
    let update = Update {
        id: new_update_id(),
        kind: "AddonUpdate",
        params,
        created_at: epoch(),
        done_at: now + rules.settings.model(1.5),
        nodegroup: None,
        addon: Some(name.to_string()),
        effect: Some(Effect::Addon {
            name: name.to_string(),
            version,
            configuration,
        }),
    };
    let answer = json!({ "update": update.json(now) });
    c.updates.push(update);
    Before::Answer(Reply::json(StatusCode::OK, &answer))
}

pub async fn delete(rules: &Rules, req: &Req, cluster: &str, name: &str, now: Instant) -> Before {
    if let Err(refusal) = cluster_of(rules, req, cluster, now).await {
        return refusal;
    }
    let takes = rules.settings.model(1.0);
    let mut st = rules.state();
    let c = st.eks.clusters.get_mut(cluster).expect("known above");
    c.settle(now);
    let Some(a) = c.live_addon(name, now).cloned() else {
        return no_addon(name, cluster);
    };
    // The add-on's own associations go with it.
    c.associations.retain(|_, x| x.owner.as_deref() != Some(a.arn.as_str()));
    let mut shown = c.addon_json(cluster, name, &a, now);
    shown["status"] = json!("DELETING");
    if let Some(live) = c.addons.get_mut(name) {
        live.deleting_until = Some(now + takes.max(Duration::from_millis(1)));
    }
    Before::Answer(Reply::json(StatusCode::OK, &json!({ "addon": shown })))
}

/// DescribeAddonVersions, filtered by `addonName` and `kubernetesVersion`
/// as the API takes them.
pub fn versions(rules: &Rules, req: &Req) -> Before {
    let k8s = req.query_param("kubernetesVersion");
    let only = req.query_param("addonName");
    let published = rules.published();
    let names = [
        "vpc-cni",
        "kube-proxy",
        "coredns",
        "eks-pod-identity-agent",
        "aws-ebs-csi-driver",
        "metrics-server",
        "amazon-cloudwatch-observability",
    ];
    let minors: Vec<u32> = match k8s.as_deref() {
        Some(v) => minor(v).into_iter().collect(),
        None => MINORS.collect(),
    };
    let mut addons = Vec::new();
    for name in names.iter().filter(|n| only.as_deref().is_none_or(|o| o == **n)) {
        // One entry per version, with the cluster versions it runs on.
        let mut by_version: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for m in &minors {
            for (v, default) in catalog(name, *m, &published) {
                by_version.entry(v).or_default().push(json!({
                    "clusterVersion": format!("1.{m}"),
                    "platformVersions": ["*"],
                    "defaultVersion": default,
                }));
            }
        }
        if by_version.is_empty() {
            continue;
        }
        let mut versions: Vec<Value> = by_version
            .into_iter()
            .map(|(v, compat)| {
                json!({
                    "addonVersion": v,
                    "architecture": ["amd64", "arm64"],
                    "computeTypes": ["ec2"],
                    "compatibilities": compat,
                    "requiresConfiguration": false,
                    "requiresIamPermissions": service_account_namespace(name).is_some(),
                })
            })
            .collect();
        // EKS lists the newest first.
        versions.reverse();
        addons.push(json!({
            "addonName": name,
            "type": "networking",
            "addonVersions": versions,
            "publisher": "eks",
            "owner": "aws",
        }));
    }
    Before::Answer(Reply::json(
        StatusCode::OK,
        &json!({ "addons": addons, "nextToken": null }),
    ))
}

fn association_json(cluster: &str, a: &Association) -> Value {
    json!({
        "clusterName": cluster,
        "namespace": a.namespace,
        "serviceAccount": a.service_account,
        "roleArn": a.role_arn,
        "associationArn": a.arn,
        "associationId": a.id,
        "tags": a.tags,
        "createdAt": a.created_at,
        "modifiedAt": a.created_at,
        "ownerArn": a.owner,
    })
}

/// Create/List/Describe/DeletePodIdentityAssociation.
pub async fn pod_identity(rules: &Rules, req: &Req, cluster: &str, id: Option<&str>, now: Instant) -> Before {
    if let Err(refusal) = cluster_of(rules, req, cluster, now).await {
        return refusal;
    }
    let region = signing_region(&req.headers);
    let mut st = rules.state();
    let st = &mut *st;
    let c = st.eks.clusters.get_mut(cluster).expect("known above");
    let missing = |id: &str| {
        Before::Answer(Reply::eks_error(
            404,
            "ResourceNotFoundException",
            &format!("No Pod Identity Association found for id: {id}"),
            json!({ "clusterName": cluster }),
        ))
    };
    match (&req.method, id) {
        (&hyper::Method::POST, None) => {
            let body = req.json();
            let namespace = body["namespace"].as_str().unwrap_or_default().to_string();
            let sa = body["serviceAccount"].as_str().unwrap_or_default().to_string();
            let role = body["roleArn"].as_str().unwrap_or_default().to_string();
            if c.associations
                .values()
                .any(|x| x.namespace == namespace && x.service_account == sa)
            {
                return in_use(
                    &format!("Association already exists for service account {namespace}/{sa}"),
                    cluster,
                );
            }
            let id = format!("a-{}", &new_update_id().replace('-', "")[..17]);
            let a = Association {
                arn: format!("arn:aws:eks:{region}:{ACCOUNT}:podidentityassociation/{cluster}/{id}"),
                id: id.clone(),
                namespace,
                service_account: sa,
                role_arn: role,
                owner: None,
                created_at: epoch(),
                tags: tags_of(&body["tags"]),
            };
            let shown = association_json(cluster, &a);
            c.associations.insert(id, a);
            Before::Answer(Reply::json(StatusCode::OK, &json!({ "association": shown })))
        }
        (&hyper::Method::GET, None) => {
            let (ns, sa) = (req.query_param("namespace"), req.query_param("serviceAccount"));
            let list: Vec<Value> = c
                .associations
                .values()
                .filter(|a| ns.as_deref().is_none_or(|n| n == a.namespace))
                .filter(|a| sa.as_deref().is_none_or(|s| s == a.service_account))
                .map(|a| {
                    let mut v = association_json(cluster, a);
                    if let Some(o) = v.as_object_mut() {
                        o.retain(|k, _| {
                            [
                                "clusterName",
                                "namespace",
                                "serviceAccount",
                                "associationArn",
                                "associationId",
                                "ownerArn",
                            ]
                            .contains(&k.as_str())
                        });
                    }
                    v
                })
                .collect();
            Before::Answer(Reply::json(
                StatusCode::OK,
                &json!({ "associations": list, "nextToken": null }),
            ))
        }
        (&hyper::Method::GET, Some(id)) => match c.associations.get(id) {
            Some(a) => Before::Answer(Reply::json(
                StatusCode::OK,
                &json!({ "association": association_json(cluster, a) }),
            )),
            None => missing(id),
        },
        (&hyper::Method::DELETE, Some(id)) => match c.associations.get(id) {
            Some(a) if a.owner.is_some() => Before::Answer(Reply::eks_error(
                400,
                "InvalidRequestException",
                &format!(
                    "Pod Identity Association {id} is managed by addon {}; update or delete the addon instead",
                    a.owner.clone().unwrap_or_default()
                ),
                json!({ "clusterName": cluster }),
            )),
            Some(_) => {
                let a = c.associations.remove(id).expect("found above");
                Before::Answer(Reply::json(
                    StatusCode::OK,
                    &json!({ "association": association_json(cluster, &a) }),
                ))
            }
            None => missing(id),
        },
        _ => Before::Forward(None),
    }
}
