//! `[eks.addons.*]` and `[eks.access.*]`: which managed add-ons the cluster
//! runs (the defaults unless turned off, plus the opt-in ones named), at
//! which version and with which configuration; and who besides its creator
//! may use it. The rules here are those AWS would otherwise enforce minutes
//! into an apply: add-ons that cannot run on Fargate, Pod Identity without
//! its agent, CoreDNS with nowhere to run, kube-proxy newer than the API
//! server, one access entry per principal.

use std::collections::BTreeMap;

use super::checks::{check_aws_child_name, is_dns_label};
use super::{collect_all, loc, All, Reported, Resolver};
use crate::config::addons::{self, POD_IDENTITY_AGENT};
use crate::config::diagnostic::did_you_mean;
use crate::config::model::{Access, AccessPolicy, Addon, AddonVersion};
use crate::config::raw::{RawAccess, RawAddon, RawEks};
use crate::config::source::Located;

/// Kubernetes lets kube-proxy be up to three minor versions older than the
/// API server, never newer ("Version Skew Policy", kubernetes.io).
const KUBE_PROXY_SKEW: u32 = 3;

impl Resolver {
    /// `auto`: EKS Auto Mode, which runs the default add-ons itself, so
    /// there are none by default and naming one is an error.
    pub(super) fn addons(
        &mut self,
        e: &RawEks,
        kubernetes: Option<&str>,
        auto: bool,
    ) -> Result<BTreeMap<String, Addon>, Reported> {
        let raw = e.addons.as_ref();
        // Auto Mode starts its own nodes.
        let has_nodes = auto || e.nodegroups.as_ref().is_some_and(|m| !m.is_empty());
        let kube_system_on_fargate = e.fargate.iter().flatten().any(|(_, p)| {
            p.namespaces
                .as_ref()
                .is_some_and(|l| l.value.iter().any(|n| n.value == "kube-system"))
        });
        let mut checks = Vec::new();
        for name in raw.into_iter().flatten().map(|(n, _)| n) {
            if addons::known(name).is_none() {
                let key = format!("eks.addons.{name}");
                let at = self.table(&key);
                let help = did_you_mean(name, addons::names()).map(|s| format!("did you mean \"{s}\"?"));
                checks.push(Err(self.error_help(
                    key,
                    format!(
                        "\"{name}\" is not an add-on ekstack knows ({})",
                        addons::names().join(", ")
                    ),
                    at,
                    help,
                )));
            }
        }
        let enabled = |name: &str| -> bool {
            let known = addons::known(name);
            let r = raw.and_then(|m| m.get(name));
            match r.and_then(|r| r.enabled.as_ref()) {
                Some(e) => e.value,
                None => known.is_some_and(|k| k.default && !auto) || r.is_some(),
            }
        };
        // Auto Mode runs the Pod Identity agent on its nodes.
        let agent = auto || enabled(POD_IDENTITY_AGENT);
        if auto {
            for known in addons::ADDONS.iter().filter(|k| k.in_auto_mode && enabled(k.name)) {
                let base = format!("eks.addons.{}", known.name);
                let at = raw
                    .and_then(|m| m.get(known.name))
                    .and_then(|r| r.enabled.as_ref().map(|l| l.at()))
                    .or_else(|| self.table(&base));
                checks.push(Err(self.error_help(
                    base,
                    format!(
                        "EKS Auto Mode runs {} ({}) itself; a managed add-on would run a second copy beside it",
                        known.name, known.what
                    ),
                    at,
                    Some(format!(
                        "remove [eks.addons.{}], or set eks.mode = \"managed\"",
                        known.name
                    )),
                )));
            }
        }
        let mut out = Vec::new();
        for known in addons::ADDONS
            .iter()
            .filter(|k| enabled(k.name) && !(auto && k.in_auto_mode))
        {
            let base = format!("eks.addons.{}", known.name);
            let r = raw.and_then(|m| m.get(known.name));
            let at = r
                .and_then(|r| r.enabled.as_ref().map(|l| l.at()))
                .or_else(|| self.table(&base));
            let runs = if known.needs_nodes && !has_nodes {
                Err(self.error_help(
                    &base,
                    format!(
                        "{} ({}) needs EC2 nodes, but the stack has no node groups: Fargate pods {}",
                        known.name,
                        known.what,
                        if known.name == "aws-ebs-csi-driver" {
                            "cannot mount EBS volumes"
                        } else {
                            "do not run its DaemonSet"
                        }
                    ),
                    at.clone(),
                    Some("add a node group under [eks.nodegroups], or leave this add-on out".into()),
                ))
            } else {
                Ok(())
            };
            let credentials = if known.permissions.is_some() && !agent {
                Err(self.error_help(
                    &base,
                    format!(
                        "{} gets its AWS permissions through EKS Pod Identity, which needs the {POD_IDENTITY_AGENT} add-on, but it is turned off",
                        known.name
                    ),
                    at.clone(),
                    Some(format!("remove `enabled = false` from [eks.addons.{POD_IDENTITY_AGENT}]")),
                ))
            } else {
                Ok(())
            };
            let placed = if known.name == "coredns" && !has_nodes && !kube_system_on_fargate {
                Err(self.error_help(
                    "eks.fargate",
                    "a stack without node groups runs CoreDNS on Fargate, but no Fargate profile selects the kube-system namespace: CoreDNS would stay Pending and nothing in the cluster would resolve names",
                    self.table("eks.fargate").or(self.table("eks")),
                    Some("add a profile: [eks.fargate.system] namespaces = [\"kube-system\"]".into()),
                ))
            } else {
                Ok(())
            };
            let version = self.addon_version(&base, known.name, r, kubernetes);
            let mut configuration = self.addon_configuration(&base, r);
            // On Fargate only, CoreDNS must say so or it waits for EC2 nodes
            // ("Get started with AWS Fargate": the coredns add-on's
            // `computeType` configuration value).
            if known.name == "coredns" && !has_nodes {
                if let Ok(c) = &mut configuration {
                    c.get_or_insert_with(serde_json::Map::new)
                        .entry("computeType")
                        .or_insert_with(|| serde_json::Value::String("Fargate".into()));
                }
            }
            out.push((runs, credentials, placed, version, configuration).all().map(
                |((), (), (), version, configuration)| {
                    (
                        known.name.to_string(),
                        Addon {
                            version,
                            configuration,
                            resolved: None,
                        },
                    )
                },
            ));
        }
        let (addons, ()) = (collect_all(out), collect_all(checks)).all()?;
        Ok(addons)
    }

    fn addon_version(
        &mut self,
        base: &str,
        name: &str,
        r: Option<&RawAddon>,
        kubernetes: Option<&str>,
    ) -> Result<AddonVersion, Reported> {
        let Some(v) = r.and_then(|r| r.version.as_ref()) else {
            return Ok(AddonVersion::Default);
        };
        let key = format!("{base}.version");
        let version = match v.value.as_str() {
            "default" => return Ok(AddonVersion::Default),
            "latest" => return Ok(AddonVersion::Latest),
            s if is_addon_version(s) => s.to_string(),
            s => {
                return Err(self.error(
                    key,
                    format!(
                        "must be \"default\", \"latest\" or an add-on version like \"v1.19.2-eksbuild.1\", not \"{s}\""
                    ),
                    loc(v),
                ))
            }
        };
        // kube-proxy's version is the Kubernetes version it was built for.
        if name == "kube-proxy" {
            let minor = |s: &str| s.trim_start_matches('v').split('.').nth(1)?.parse::<u32>().ok();
            if let (Some(proxy), Some(cluster)) = (minor(&version), kubernetes.and_then(minor)) {
                if proxy > cluster || proxy + KUBE_PROXY_SKEW < cluster {
                    return Err(self.error_help(
                        key,
                        format!(
                            "kube-proxy {version} is for Kubernetes 1.{proxy}, but the cluster runs {}: kube-proxy may be at most {KUBE_PROXY_SKEW} minor versions older than the API server and never newer",
                            kubernetes.unwrap_or_default()
                        ),
                        loc(v),
                        Some("use version = \"default\", which follows the cluster".into()),
                    ));
                }
            }
        }
        Ok(AddonVersion::Pinned(version))
    }

    fn addon_configuration(
        &mut self,
        base: &str,
        r: Option<&RawAddon>,
    ) -> Result<Option<serde_json::Map<String, serde_json::Value>>, Reported> {
        let Some(c) = r.and_then(|r| r.configuration.as_ref()) else {
            return Ok(None);
        };
        match serde_json::to_value(&c.value) {
            Ok(serde_json::Value::Object(map)) => Ok(Some(map)),
            _ => Err(self.error_help(
                format!("{base}.configuration"),
                "must be a table of the add-on's configuration values",
                loc(c),
                Some("for example configuration = { replicaCount = 3 }".into()),
            )),
        }
    }

    pub(super) fn access(
        &mut self,
        raw: Option<&BTreeMap<String, RawAccess>>,
    ) -> Result<BTreeMap<String, Access>, Reported> {
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut out = Vec::new();
        for (key, a) in raw.into_iter().flatten() {
            let base = format!("eks.access.{key}");
            let table_at = self.table(&base);
            let named = check_aws_child_name(key).map_err(|rule| self.error(&base, rule, table_at.clone()));
            let principal = match &a.principal {
                None => Err(self.error(
                    format!("{base}.principal"),
                    "is required: the IAM role or user ARN given access",
                    table_at.clone(),
                )),
                Some(p) => self.principal(&format!("{base}.principal"), p).and_then(|arn| {
                    match seen.get(&arn) {
                        Some(first) => Err(self.error(
                            format!("{base}.principal"),
                            format!("names the same principal as eks.access.{first}; AWS allows one access entry per principal, so give it one policy there"),
                            loc(p),
                        )),
                        None => {
                            seen.insert(arn.clone(), key.clone());
                            Ok(arn)
                        }
                    }
                }),
            };
            let policy = match &a.policy {
                None => Err(self.error(
                    format!("{base}.policy"),
                    "is required: \"cluster-admin\", \"admin\", \"edit\" or \"view\"",
                    table_at.clone(),
                )),
                Some(p) => self.variant::<AccessPolicy>(&format!("{base}.policy"), p),
            };
            let namespaces = match &a.namespaces {
                None => Ok(Vec::new()),
                Some(list) => {
                    let count = self.require(
                        !list.value.is_empty(),
                        format!("{base}.namespaces"),
                        "must list at least one namespace (leave it out for the whole cluster)",
                        loc(list),
                    );
                    let (names, each) = self.distinct(&format!("{base}.namespaces"), &list.value, |r, k, ns| {
                        if is_dns_label(&ns.value) {
                            Ok(ns.value.clone())
                        } else {
                            Err(r.error(
                                k,
                                format!("\"{}\" is not a Kubernetes namespace name", ns.value),
                                loc(ns),
                            ))
                        }
                    });
                    (count, each).all().map(|_| names)
                }
            };
            out.push(
                (named, principal, policy, namespaces)
                    .all()
                    .map(|((), principal, policy, namespaces)| {
                        (
                            key.clone(),
                            Access {
                                principal,
                                policy,
                                namespaces,
                            },
                        )
                    }),
            );
        }
        collect_all(out)
    }

    /// An IAM role or user ARN, as access entries take them.
    fn principal(&mut self, key: &str, p: &Located<String>) -> Result<String, Reported> {
        let arn = p.value.as_str();
        if let Some(role) = assumed_role(arn) {
            return Err(self.error_help(
                key,
                format!("\"{arn}\" is a session of a role, not the role; access entries name the role"),
                loc(p),
                Some(format!("use \"{role}\"")),
            ));
        }
        if is_principal_arn(arn) {
            Ok(arn.to_string())
        } else {
            Err(self.error_help(
                key,
                format!("\"{arn}\" is not an IAM role or user ARN"),
                loc(p),
                Some("for example \"arn:aws:iam::111122223333:role/developer\"".into()),
            ))
        }
    }
}

/// `v1.19.2-eksbuild.1`, `v0.7.1-eksbuild.2`, `v1.0.0`.
fn is_addon_version(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else { return false };
    let (numbers, build) = rest.split_once('-').unwrap_or((rest, ""));
    let parts: Vec<&str> = numbers.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && build.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

/// `arn:aws:iam::123456789012:role/name` or `…:user/name`, with a path.
fn is_principal_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts.as_slice() else {
        return false;
    };
    let kind_ok = resource
        .split_once('/')
        .is_some_and(|(kind, name)| (kind == "role" || kind == "user") && !name.is_empty() && !name.ends_with('/'));
    *prefix == "arn"
        && matches!(*partition, "aws" | "aws-cn" | "aws-us-gov")
        && *service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && kind_ok
        && resource
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
}

/// The role of an STS assumed-role session ARN.
pub fn assumed_role(arn: &str) -> Option<String> {
    let rest = arn.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':')?;
    let rest = rest.strip_prefix("sts::")?;
    let (account, resource) = rest.split_once(':')?;
    let role = resource.strip_prefix("assumed-role/")?.split('/').next()?;
    Some(format!("arn:{partition}:iam::{account}:role/{role}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_and_versions_are_recognised() {
        assert!(is_principal_arn("arn:aws:iam::111122223333:role/dev"));
        assert!(is_principal_arn("arn:aws:iam::111122223333:user/team/alice"));
        assert!(!is_principal_arn("arn:aws:iam::11112222333:role/dev"));
        assert!(!is_principal_arn("arn:aws:iam::111122223333:group/dev"));
        assert!(!is_principal_arn("alice"));
        assert_eq!(
            assumed_role("arn:aws:sts::111122223333:assumed-role/dev/alice").as_deref(),
            Some("arn:aws:iam::111122223333:role/dev")
        );
        assert!(is_addon_version("v1.19.2-eksbuild.1"));
        assert!(is_addon_version("v0.7.1"));
        assert!(!is_addon_version("1.19.2"));
        assert!(!is_addon_version("v1.19"));
    }
}
