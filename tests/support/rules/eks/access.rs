//! EKS access entries and their access policies, which moto 5.2.5 does not
//! implement, served with the shapes of the EKS API reference:
//! Create/Describe/List/Update/DeleteAccessEntry, Associate/Disassociate
//! AccessPolicy, ListAssociatedAccessPolicies and ListAccessPolicies
//! (https://docs.aws.amazon.com/eks/latest/APIReference/).
//!
//! As on AWS ("Grant IAM users access to Kubernetes with EKS access
//! entries", EKS user guide): access entries need the authentication mode
//! API or API_AND_CONFIG_MAP; one entry per principal; EKS makes the
//! creator's entry (with AmazonEKSClusterAdminPolicy) at CreateCluster when
//! bootstrapClusterCreatorAdminPermissions is on, and an EC2_LINUX or
//! FARGATE_LINUX entry for each managed node group's and Fargate profile's
//! role; only STANDARD entries take access policies.

use std::collections::BTreeMap;
use std::time::Instant;

use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use super::super::wire::{decode, signing_region, Reply};
use super::super::{Before, Req, Rules};
use super::addons::ACCOUNT;
use super::{epoch, in_use, invalid, new_update_id, not_found, Cluster};

/// The access policies EKS offers (ListAccessPolicies), by name.
pub const POLICIES: &[&str] = &[
    "AmazonEKSAdminPolicy",
    "AmazonEKSAdminViewPolicy",
    "AmazonEKSClusterAdminPolicy",
    "AmazonEKSEditPolicy",
    "AmazonEKSViewPolicy",
];

pub(super) fn policy_arn(name: &str) -> String {
    format!("arn:aws:eks::aws:cluster-access-policy/{name}")
}

/// The principal whose credentials moto answers GetCallerIdentity with.
pub fn creator() -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/moto")
}

#[derive(Clone)]
pub struct Entry {
    pub arn: String,
    pub kind: String,
    pub username: String,
    pub groups: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub created_at: f64,
    /// Access policy ARN → its scope.
    pub policies: BTreeMap<String, (Value, f64)>,
}

impl Cluster {
    fn api_mode(&self) -> bool {
        self.access_config["authenticationMode"] != "CONFIG_MAP"
    }

    /// An entry EKS makes itself, unless one exists for the principal.
    pub fn eks_made_entry(&mut self, cluster: &str, region: &str, principal: &str, kind: &str) {
        if !self.api_mode() || self.access.contains_key(principal) {
            return;
        }
        let (username, groups) = match kind {
            "EC2_LINUX" => (
                "system:node:{{EC2PrivateDNSName}}".to_string(),
                vec!["system:nodes".to_string()],
            ),
            // Auto Mode's nodes: their permissions come from an access
            // policy, not groups.
            "EC2" => ("system:node:{{SessionName}}".to_string(), vec![]),
            "FARGATE_LINUX" => (
                "system:node:{{SessionName}}".to_string(),
                vec!["system:node-proxier".to_string(), "system:nodes".to_string()],
            ),
            _ => (principal.to_string(), vec![]),
        };
        let entry = Entry {
            arn: entry_arn(region, cluster, principal),
            kind: kind.to_string(),
            username,
            groups,
            tags: BTreeMap::new(),
            created_at: epoch(),
            policies: BTreeMap::new(),
        };
        self.access.insert(principal.to_string(), entry);
    }

    /// The creator's entry, as CreateCluster makes it.
    pub fn creator_entry(&mut self, cluster: &str, region: &str) {
        if self.access_config["bootstrapClusterCreatorAdminPermissions"] == false {
            return;
        }
        let me = creator();
        self.eks_made_entry(cluster, region, &me, "STANDARD");
        if let Some(e) = self.access.get_mut(&me) {
            e.policies.insert(
                policy_arn("AmazonEKSClusterAdminPolicy"),
                (json!({"type": "cluster", "namespaces": []}), epoch()),
            );
        }
    }
}

fn entry_arn(region: &str, cluster: &str, principal: &str) -> String {
    // arn:aws:eks:<region>:<account>:access-entry/<cluster>/<role|user>/<account>/<name>/<uuid>
    let (kind, name) = principal
        .rsplit_once(':')
        .and_then(|(_, r)| r.split_once('/'))
        .unwrap_or(("role", principal));
    let name = name.rsplit('/').next().unwrap_or(name);
    format!(
        "arn:aws:eks:{region}:{ACCOUNT}:access-entry/{cluster}/{kind}/{ACCOUNT}/{name}/{}",
        &new_update_id()[..8]
    )
}

fn entry_json(cluster: &str, principal: &str, e: &Entry) -> Value {
    json!({
        "clusterName": cluster,
        "principalArn": principal,
        "kubernetesGroups": e.groups,
        "accessEntryArn": e.arn,
        "createdAt": e.created_at,
        "modifiedAt": e.created_at,
        "tags": e.tags,
        "username": e.username,
        "type": e.kind,
    })
}

fn no_entry(principal: &str, cluster: &str) -> Before {
    Before::Answer(Reply::eks_error(
        404,
        "ResourceNotFoundException",
        &format!("The specified principalArn could not be found: {principal} in cluster {cluster}"),
        json!({ "clusterName": cluster }),
    ))
}

fn is_principal(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "iam"
        && (parts[5].starts_with("role/") || parts[5].starts_with("user/"))
}

/// Every access-entry route: `rest` is what follows
/// `/clusters/{cluster}/access-entries`.
pub async fn route(rules: &Rules, req: &Req, cluster: &str, rest: &[&str], now: Instant) -> Before {
    if super::cluster_version(rules, req, cluster, now).await.is_none() {
        return not_found(&format!("No cluster found for name: {cluster}."));
    }
    let region = signing_region(&req.headers);
    let mut st = rules.state();
    let c = st
        .eks
        .clusters
        .entry(cluster.to_string())
        .or_insert_with(|| super::fresh_cluster(now));
    if !c.api_mode() {
        return Before::Answer(Reply::eks_error(
            400,
            "InvalidRequestException",
            "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.",
            json!({ "clusterName": cluster }),
        ));
    }
    let body = req.json();
    let ok = |v: Value| Before::Answer(Reply::json(StatusCode::OK, &v));
    match (&req.method, rest) {
        (&Method::POST, []) => {
            let principal = body["principalArn"].as_str().unwrap_or_default().to_string();
            if !is_principal(&principal) {
                return invalid(
                    &format!("The principalArn parameter format is not valid: {principal}"),
                    cluster,
                );
            }
            if c.access.contains_key(&principal) {
                return in_use(
                    "The specified access entry resource is already in use on this cluster.",
                    cluster,
                );
            }
            let kind = body["type"].as_str().unwrap_or("STANDARD").to_string();
            let entry = Entry {
                arn: entry_arn(&region, cluster, &principal),
                kind,
                username: body["username"].as_str().unwrap_or(&principal).to_string(),
                groups: body["kubernetesGroups"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|g| g.as_str().map(str::to_string))
                    .collect(),
                tags: body["tags"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect(),
                created_at: epoch(),
                policies: BTreeMap::new(),
            };
            let shown = entry_json(cluster, &principal, &entry);
            c.access.insert(principal, entry);
            ok(json!({ "accessEntry": shown }))
        }
        (&Method::GET, []) => {
            let principals: Vec<&String> = c.access.keys().collect();
            ok(json!({ "accessEntries": principals, "nextToken": null }))
        }
        (method, [p, tail @ ..]) => {
            let principal = decode(p);
            let Some(entry) = c.access.get_mut(&principal) else {
                return no_entry(&principal, cluster);
            };
            match (method, tail) {
                (&Method::GET, []) => ok(json!({ "accessEntry": entry_json(cluster, &principal, entry) })),
                (&Method::POST, []) => {
                    if let Some(groups) = body["kubernetesGroups"].as_array() {
                        entry.groups = groups.iter().filter_map(|g| g.as_str().map(str::to_string)).collect();
                    }
                    if let Some(u) = body["username"].as_str() {
                        entry.username = u.to_string();
                    }
                    ok(json!({ "accessEntry": entry_json(cluster, &principal, entry) }))
                }
                (&Method::DELETE, []) => {
                    c.access.remove(&principal);
                    ok(json!({}))
                }
                (&Method::POST, ["access-policies"]) => {
                    let policy = body["policyArn"].as_str().unwrap_or_default().to_string();
                    if !POLICIES.iter().any(|p| policy_arn(p) == policy) {
                        return invalid(&format!("The policyArn {policy} is not a valid access policy"), cluster);
                    }
                    if entry.kind != "STANDARD" {
                        return Before::Answer(Reply::eks_error(
                            400,
                            "InvalidRequestException",
                            &format!(
                                "Access policies can only be associated with access entries of type STANDARD, not {}",
                                entry.kind
                            ),
                            json!({ "clusterName": cluster }),
                        ));
                    }
                    let scope = &body["accessScope"];
                    let namespaces = scope["namespaces"].as_array().cloned().unwrap_or_default();
                    match scope["type"].as_str() {
                        Some("cluster") if namespaces.is_empty() => {}
                        Some("namespace") if !namespaces.is_empty() => {}
                        _ => {
                            return invalid(
                                "accessScope must be of type cluster with no namespaces, or of type namespace with at least one namespace",
                                cluster,
                            )
                        }
                    }
                    let at = epoch();
                    entry.policies.insert(policy.clone(), (scope.clone(), at));
                    ok(json!({
                        "clusterName": cluster,
                        "principalArn": principal,
                        "associatedAccessPolicy": {
                            "policyArn": policy,
                            "accessScope": scope,
                            "associatedAt": at,
                            "modifiedAt": at,
                        },
                    }))
                }
                (&Method::GET, ["access-policies"]) => {
                    let list: Vec<Value> = entry
                        .policies
                        .iter()
                        .map(|(arn, (scope, at))| {
                            json!({ "policyArn": arn, "accessScope": scope, "associatedAt": at, "modifiedAt": at })
                        })
                        .collect();
                    ok(json!({
                        "clusterName": cluster,
                        "principalArn": principal,
                        "associatedAccessPolicies": list,
                        "nextToken": null,
                    }))
                }
                (&Method::DELETE, ["access-policies", policy]) => {
                    let policy = decode(policy);
                    if entry.policies.remove(&policy).is_none() {
                        return Before::Answer(Reply::eks_error(
                            404,
                            "ResourceNotFoundException",
                            &format!("The specified policy {policy} is not associated with {principal}"),
                            json!({ "clusterName": cluster }),
                        ));
                    }
                    ok(json!({}))
                }
                _ => Before::Forward(None),
            }
        }
        _ => Before::Forward(None),
    }
}

/// ListAccessPolicies.
pub fn policies() -> Before {
    let list: Vec<Value> = POLICIES
        .iter()
        .map(|p| json!({ "name": p, "arn": policy_arn(p) }))
        .collect();
    Before::Answer(Reply::json(
        StatusCode::OK,
        &json!({ "accessPolicies": list, "nextToken": null }),
    ))
}

/// TagResource, UntagResource and ListTagsForResource on an add-on, access
/// entry or Pod Identity association ARN, which moto's tag routes do not know.
pub fn tags(rules: &Rules, req: &Req, arn: &str) -> Option<Before> {
    if !arn.contains(":addon/") && !arn.contains(":access-entry/") && !arn.contains(":podidentityassociation/") {
        return None;
    }
    let cluster = arn.split(':').nth(5)?.split('/').nth(1)?.to_string();
    let mut st = rules.state();
    let c = st.eks.clusters.get_mut(&cluster)?;
    let tags: &mut BTreeMap<String, String> = if arn.contains(":addon/") {
        &mut c.addons.values_mut().find(|a| a.arn == arn)?.tags
    } else if arn.contains(":podidentityassociation/") {
        &mut c.associations.values_mut().find(|a| a.arn == arn)?.tags
    } else {
        &mut c.access.values_mut().find(|e| e.arn == arn)?.tags
    };
    let answer = match req.method {
        Method::POST => {
            for (k, v) in req.json()["tags"].as_object().into_iter().flatten() {
                if let Some(v) = v.as_str() {
                    tags.insert(k.clone(), v.to_string());
                }
            }
            json!({})
        }
        Method::DELETE => {
            for kv in req.query.split('&') {
                if let Some(("tagKeys", k)) = kv.split_once('=') {
                    tags.remove(&decode(k));
                }
            }
            json!({})
        }
        _ => json!({ "tags": tags }),
    };
    Some(Before::Answer(Reply::json(StatusCode::OK, &answer)))
}
