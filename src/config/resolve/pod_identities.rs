//! `[eks.pod_identities.*]`: AWS permissions for a Kubernetes service
//! account. The mechanism follows where the namespace's pods run: a
//! namespace a Fargate profile selects gets IRSA (Fargate pods cannot use
//! EKS Pod Identity: "EKS Pod Identity restrictions", EKS user guide), one
//! that only node groups run gets EKS Pod Identity, which needs its agent.

use std::collections::BTreeMap;

use super::checks::is_dns_label;
use super::{collect_all, loc, All, Reported, Resolver};
use crate::config::addons::POD_IDENTITY_AGENT;
use crate::config::model::{Mechanism, PodIdentity, Statement};
use crate::config::raw::{RawEks, RawPodIdentity, RawStatement};
use crate::config::source::Located;

/// What the identities' namespaces run on, from the rest of `[eks]`.
pub(super) struct Compute<'a> {
    pub has_nodes: bool,
    /// Namespaces some Fargate profile selects.
    pub fargate_namespaces: Vec<&'a str>,
    pub agent: bool,
    pub has_database: bool,
}

impl<'a> Compute<'a> {
    /// `auto`: EKS Auto Mode, whose own EC2 nodes run every namespace
    /// and the Pod Identity agent.
    pub fn of(e: &'a RawEks, has_database: bool, auto: bool) -> Self {
        let agent = auto
            || e.addons
                .as_ref()
                .and_then(|m| m.get(POD_IDENTITY_AGENT))
                .and_then(|a| a.enabled.as_ref())
                .is_none_or(|en| en.value);
        Compute {
            has_nodes: auto || e.nodegroups.as_ref().is_some_and(|m| !m.is_empty()),
            fargate_namespaces: e
                .fargate
                .iter()
                .flatten()
                .flat_map(|(_, p)| p.namespaces.iter().flat_map(|l| l.value.iter()))
                .map(|n| n.value.as_str())
                .collect(),
            agent,
            has_database,
        }
    }
}

impl Resolver {
    pub(super) fn pod_identities(
        &mut self,
        raw: Option<&BTreeMap<String, RawPodIdentity>>,
        compute: &Compute<'_>,
    ) -> Result<BTreeMap<String, PodIdentity>, Reported> {
        let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
        let mut out = Vec::new();
        for (name, p) in raw.into_iter().flatten() {
            let base = format!("eks.pod_identities.{name}");
            let at = self.table(&base);
            // The name goes into the role's name (`<stack>-<region>-pod-<name>`).
            let named = self.require(
                is_dns_label(name) && name.len() <= 24,
                &base,
                "a pod identity's name must be a lowercase DNS label of at most 24 characters (it names its IAM role)",
                at.clone(),
            );
            let namespace = match &p.namespace {
                None => Err(self.error(
                    format!("{base}.namespace"),
                    "is required: the service account's namespace",
                    at.clone(),
                )),
                Some(ns) if is_dns_label(&ns.value) => Ok(ns.value.clone()),
                Some(ns) => Err(self.error(
                    format!("{base}.namespace"),
                    format!(
                        "\"{}\" is not a Kubernetes namespace name (a lowercase DNS label)",
                        ns.value
                    ),
                    loc(ns),
                )),
            };
            let service_account = match &p.service_account {
                None if is_dns_label(name) => Ok(name.clone()),
                None => Err(self.error(format!("{base}.service_account"), "is required", at.clone())),
                Some(sa) if is_service_account_name(&sa.value) => Ok(sa.value.clone()),
                Some(sa) => Err(self.error(
                    format!("{base}.service_account"),
                    format!(
                        "\"{}\" is not a Kubernetes service account name (a lowercase DNS subdomain)",
                        sa.value
                    ),
                    loc(sa),
                )),
            };
            let policies = match &p.policies {
                None => Ok(Vec::new()),
                Some(list) => {
                    let (arns, each) = self.distinct(&format!("{base}.policies"), &list.value, |r, k, arn| {
                        if is_policy_arn(&arn.value) {
                            Ok(arn.value.clone())
                        } else {
                            Err(r.error_help(
                                k,
                                format!("\"{}\" is not an IAM policy ARN", arn.value),
                                loc(arn),
                                Some("for example \"arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess\"".into()),
                            ))
                        }
                    });
                    each.map(|()| arns)
                }
            };
            let statements = match &p.statements {
                None => Ok(Vec::new()),
                Some(list) => collect_all(
                    list.value
                        .iter()
                        .enumerate()
                        .map(|(i, s)| self.statement(&format!("{base}.statements[{i}]"), s, loc(list)))
                        .collect::<Vec<_>>(),
                ),
            };
            let database = p.database.as_ref().is_some_and(|d| d.value);
            let has_database = self.require(
                !database || compute.has_database,
                format!("{base}.database"),
                "gives access to the database's secret, but the stack has no [database]",
                p.database.as_ref().and_then(loc),
            );
            let grants = self.require(
                database
                    || p.policies.as_ref().is_some_and(|l| !l.value.is_empty())
                    || p.statements.as_ref().is_some_and(|l| !l.value.is_empty()),
                &base,
                "grants nothing: give policies, statements or database = true",
                at.clone(),
            );
            let mechanism = match &namespace {
                Ok(ns) if compute.fargate_namespaces.contains(&ns.as_str()) => Ok(Mechanism::Irsa),
                Ok(_) if compute.has_nodes && !compute.agent => Err(self.error_help(
                    &base,
                    format!("runs on EC2 nodes through EKS Pod Identity, which needs the {POD_IDENTITY_AGENT} add-on, but it is turned off"),
                    at.clone(),
                    Some(format!("remove `enabled = false` from [eks.addons.{POD_IDENTITY_AGENT}]")),
                )),
                Ok(_) if compute.has_nodes => Ok(Mechanism::PodIdentity),
                Ok(ns) => Err(self.error_help(
                    format!("{base}.namespace"),
                    format!("nothing runs namespace \"{ns}\": the stack has no node groups and no Fargate profile selects it"),
                    p.namespace.as_ref().and_then(loc),
                    Some(format!("add \"{ns}\" to a Fargate profile's namespaces, or add a node group")),
                )),
                Err(r) => Err(*r),
            };
            let unique = match (&namespace, &service_account) {
                (Ok(ns), Ok(sa)) => match seen.get(&(ns.clone(), sa.clone())) {
                    Some(first) => Err(self.error(
                        &base,
                        format!("names service account {ns}/{sa}, as eks.pod_identities.{first} does; a service account has one role"),
                        at.clone(),
                    )),
                    None => {
                        seen.insert((ns.clone(), sa.clone()), name.clone());
                        Ok(())
                    }
                },
                _ => Ok(()),
            };
            out.push(
                (
                    named,
                    namespace,
                    service_account,
                    policies,
                    statements,
                    has_database,
                    grants,
                    mechanism,
                    unique,
                )
                    .all()
                    .map(
                        |((), namespace, service_account, policies, statements, (), (), mechanism, ())| {
                            (
                                name.clone(),
                                PodIdentity {
                                    namespace,
                                    service_account,
                                    policies,
                                    statements,
                                    database,
                                    mechanism,
                                    role_purpose: format!("pod-{name}"),
                                    load_balancer_controller: false,
                                },
                            )
                        },
                    ),
            );
        }
        collect_all(out)
    }

    /// The AWS Load Balancer Controller's identity, by the same rule as
    /// the file's: IRSA where kube-system runs on Fargate.
    pub(super) fn load_balancer_controller(
        &mut self,
        e: &RawEks,
        compute: &Compute<'_>,
    ) -> Result<Option<(String, PodIdentity)>, Reported> {
        use crate::config::lb_controller::{IDENTITY, NAMESPACE, SERVICE_ACCOUNT};
        let Some(on) = e.load_balancer_controller.as_ref().filter(|l| l.value) else {
            return Ok(None);
        };
        let key = "eks.load_balancer_controller";
        if e.pod_identities.as_ref().is_some_and(|m| m.contains_key(IDENTITY)) {
            return Err(self.error(
                key,
                format!("adds the pod identity \"{IDENTITY}\", which [eks.pod_identities.{IDENTITY}] already names"),
                loc(on),
            ));
        }
        let mechanism = if compute.fargate_namespaces.contains(&NAMESPACE) {
            Mechanism::Irsa
        } else if compute.has_nodes && compute.agent {
            Mechanism::PodIdentity
        } else if compute.has_nodes {
            return Err(self.error_help(
                key,
                format!("the controller runs on EC2 nodes through EKS Pod Identity, which needs the {POD_IDENTITY_AGENT} add-on, but it is turned off"),
                loc(on),
                Some(format!("remove `enabled = false` from [eks.addons.{POD_IDENTITY_AGENT}]")),
            ));
        } else {
            return Err(self.error(
                key,
                "the controller runs in kube-system, which nothing runs: add a node group or a Fargate profile selecting kube-system",
                loc(on),
            ));
        };
        Ok(Some((
            IDENTITY.to_string(),
            PodIdentity {
                namespace: NAMESPACE.into(),
                service_account: SERVICE_ACCOUNT.into(),
                policies: vec![],
                statements: vec![],
                database: false,
                mechanism,
                role_purpose: "lbc".into(),
                load_balancer_controller: true,
            },
        )))
    }

    fn statement(
        &mut self,
        key: &str,
        s: &RawStatement,
        at: Option<crate::config::source::Location>,
    ) -> Result<Statement, Reported> {
        let list = |r: &mut Self,
                    field: &str,
                    v: &Option<Located<Vec<Located<String>>>>,
                    ok: fn(&str) -> bool,
                    what: &str|
         -> Result<Vec<String>, Reported> {
            let k = format!("{key}.{field}");
            match v {
                None => Err(r.error(k, "is required", at.clone())),
                Some(l) if l.value.is_empty() => Err(r.error(k, "must list at least one", loc(l))),
                Some(l) => {
                    let (items, each) = r.distinct(&k, &l.value, |r, k, item| {
                        if ok(&item.value) {
                            Ok(item.value.clone())
                        } else {
                            Err(r.error(k, format!("\"{}\" is not {what}", item.value), loc(item)))
                        }
                    });
                    each.map(|()| items)
                }
            }
        };
        let actions = list(
            self,
            "actions",
            &s.actions,
            is_action,
            "an IAM action like \"s3:GetObject\"",
        );
        let resources = list(self, "resources", &s.resources, is_resource, "an ARN or \"*\"");
        (actions, resources)
            .all()
            .map(|(actions, resources)| Statement { actions, resources })
    }
}

/// A DNS subdomain (RFC 1123): what Kubernetes takes for object names.
fn is_service_account_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// `arn:aws:iam::aws:policy/…` or `arn:aws:iam::<account>:policy/…`.
fn is_policy_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts.as_slice() else {
        return false;
    };
    *prefix == "arn"
        && partition.starts_with("aws")
        && *service == "iam"
        && region.is_empty()
        && (*account == "aws" || (account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())))
        && resource.strip_prefix("policy/").is_some_and(|n| !n.is_empty())
}

/// `service:Action`, with `*` wildcards.
fn is_action(a: &str) -> bool {
    a == "*"
        || a.split_once(':').is_some_and(|(service, action)| {
            !service.is_empty()
                && service
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !action.is_empty()
                && action.chars().all(|c| c.is_ascii_alphanumeric() || c == '*')
        })
}

fn is_resource(r: &str) -> bool {
    r == "*" || (r.starts_with("arn:") && r.split(':').count() >= 6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_arns_and_actions_are_recognised() {
        assert!(is_policy_arn("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"));
        assert!(is_policy_arn("arn:aws:iam::111122223333:policy/app"));
        assert!(!is_policy_arn("AmazonS3ReadOnlyAccess"));
        assert!(!is_policy_arn("arn:aws:iam::aws:role/x"));
        assert!(is_action("s3:GetObject") && is_action("sqs:*") && is_action("*"));
        assert!(!is_action("GetObject"));
        assert!(is_resource("*") && is_resource("arn:aws:s3:::bucket/*"));
        assert!(!is_resource("bucket"));
        assert!(is_service_account_name("api.v1") && !is_service_account_name("Api"));
    }
}
