//! The `[eks]` table: the cluster (version, endpoint access, logging), its
//! managed node groups and its Fargate profiles, and the Kubernetes labels
//! both take. Node groups and profiles are keyed tables whose keys become AWS
//! names, so each is checked under its own `eks.nodegroups.<name>` key.

use std::collections::BTreeMap;

use ipnet::Ipv4Net;

use super::checks::{check_aws_child_name, is_dns_label, is_instance_type, is_label_key, is_label_name};
use super::{collect_all, loc, All, Reported, Resolver};
use crate::config::model::{Arch, Capacity, ClusterMode, Eks, EndpointAccess, FargateProfile, Nodegroup, LOG_TYPES};

/// The oldest Kubernetes minor version EKS Auto Mode runs.
const AUTO_MODE_MIN_MINOR: u32 = 29;

use crate::config::diagnostic::Diagnostic;
use crate::config::raw::{RawEks, RawFargate, RawNodegroup};
use crate::config::regions;
use crate::config::source::Located;
use crate::i18n::Msg;

impl Resolver {
    pub(super) fn eks(&mut self, e: &RawEks, has_database: bool) -> Result<Eks, Reported> {
        let today = regions::today();
        let version = match &e.version {
            None => Ok(regions::default_kubernetes_version(today).to_string()),
            Some(v) => match regions::support(&v.value, today) {
                Some(regions::Support::Standard | regions::Support::Extended(_)) => Ok(v.value.clone()),
                Some(regions::Support::Ended(on)) => Err(self.error_help(
                    "eks.version",
                    format!(
                        "EKS no longer runs Kubernetes {}: its extended support ended on {on}",
                        v.value
                    ),
                    loc(v),
                    Some(format!("use {}", regions::kubernetes_versions(today).join(", "))),
                )),
                None => Err(self.error(
                    "eks.version",
                    format!(
                        "\"{}\" is not a Kubernetes version EKS supports ({})",
                        v.value,
                        regions::kubernetes_versions(today).join(", ")
                    ),
                    loc(v),
                )),
            },
        };
        let endpoint = match &e.endpoint {
            None => Ok(EndpointAccess::Public),
            Some(v) => self.variant("eks.endpoint", v),
        };
        let cidrs = match &e.public_access_cidrs {
            None => Ok(vec!["0.0.0.0/0".to_string()]),
            Some(list) => {
                let count = self.require(
                    !list.value.is_empty() && list.value.len() <= 40,
                    "eks.public_access_cidrs",
                    "must list 1 to 40 CIDR blocks",
                    loc(list),
                );
                let public = self.require(
                    endpoint != Ok(EndpointAccess::Private),
                    "eks.public_access_cidrs",
                    "only applies to a public endpoint, but eks.endpoint is \"private\"",
                    loc(list),
                );
                // Without a private endpoint, nodes and Fargate pods reach the
                // API from the NAT gateway's address; restricting the public
                // endpoint locks them out ("Control network access to cluster
                // API server endpoint", EKS user guide).
                let open = list.value.iter().any(|c| c.value == "0.0.0.0/0");
                let reachable = if endpoint == Ok(EndpointAccess::Public) && !open {
                    Err(self.error_help(
                        "eks.public_access_cidrs",
                        "a public-only endpoint limited to these CIDRs cannot be reached by the cluster's own nodes and Fargate pods: they come from the NAT gateway's address",
                        loc(list),
                        Some("set eks.endpoint = \"public-and-private\", so nodes and pods reach the API inside the VPC".into()),
                    ))
                } else {
                    Ok(())
                };
                let each = collect_all(
                    list.value
                        .iter()
                        .enumerate()
                        .map(|(i, c)| self.access_cidr(&format!("eks.public_access_cidrs[{i}]"), c)),
                );
                (count, public, reachable, each).all().map(|((), (), (), cidrs)| cidrs)
            }
        };
        let logging = match &e.logging {
            None => Ok(Vec::new()),
            Some(list) => {
                let (enabled, each) = self.distinct("eks.logging", &list.value, |r, key, l| {
                    r.one_of(key, l, &LOG_TYPES, |s| LOG_TYPES.iter().copied().find(|t| *t == s))
                });
                // In the order of LOG_TYPES, whatever the order in the file.
                each.map(|()| {
                    LOG_TYPES
                        .iter()
                        .filter(|t| enabled.contains(*t))
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                })
            }
        };
        let nodegroups = collect_all(
            e.nodegroups
                .iter()
                .flatten()
                .map(|(name, ng)| self.nodegroup(name, ng).map(|n| (name.clone(), n))),
        );
        let fargate = collect_all(
            e.fargate
                .iter()
                .flatten()
                .map(|(name, p)| self.fargate(name, p).map(|f| (name.clone(), f))),
        );
        let mode = match &e.mode {
            None => Ok(ClusterMode::Managed),
            Some(m) => self.variant("eks.mode", m),
        };
        let auto = matches!(mode, Ok(ClusterMode::Auto));
        let auto_rules = self.auto_mode(e, auto, version.as_ref().ok().map(String::as_str));
        let addons = self.addons(e, version.as_ref().ok().map(String::as_str), auto);
        let access = self.access(e.access.as_ref());
        let compute = super::pod_identities::Compute::of(e, has_database, auto);
        let pod_identities = self.pod_identities(e.pod_identities.as_ref(), &compute);
        let controller = self.load_balancer_controller(e, &compute);
        let pod_identities = match (pod_identities, controller) {
            (Ok(mut ids), Ok(c)) => {
                ids.extend(c);
                Ok(ids)
            }
            (Err(r), _) | (_, Err(r)) => Err(r),
        };
        let load_balancer_controller = e.load_balancer_controller.as_ref().is_some_and(|l| l.value);
        let ((version, endpoint, cidrs, logging, nodegroups, fargate, addons, access, pod_identities), mode, expected) =
            (
                (
                    version,
                    endpoint,
                    cidrs,
                    logging,
                    nodegroups,
                    fargate,
                    addons,
                    access,
                    pod_identities,
                )
                    .all(),
                mode,
                auto_rules,
            )
                .all()?;
        Ok(Eks {
            version,
            endpoint,
            public_access_cidrs: if endpoint.public() { cidrs } else { Vec::new() },
            logging,
            nodegroups,
            fargate,
            addons,
            access,
            pod_identities,
            load_balancer_controller,
            mode,
            auto_mode_expected_instances: expected,
            parked: false,
        })
    }

    /// What EKS Auto Mode excludes or requires, and how many instances its
    /// node pools are expected to start (`None` in managed mode).
    fn auto_mode(&mut self, e: &RawEks, auto: bool, version: Option<&str>) -> Result<Option<u32>, Reported> {
        let expected = e.auto_mode_expected_instances.as_ref();
        if !auto {
            return match expected {
                Some(n) => Err(self.error_help(
                    "eks.auto_mode_expected_instances",
                    "only applies to EKS Auto Mode, but eks.mode is \"managed\"",
                    loc(n),
                    Some("set eks.mode = \"auto\", or remove it".into()),
                )),
                None => Ok(None),
            };
        }
        let help = |what: &str| Some(format!("remove {what}, or set eks.mode = \"managed\""));
        // Auto Mode makes its own nodes, for every namespace.
        let compute = [
            (
                "eks.nodegroups",
                e.nodegroups.as_ref().is_some_and(|m| !m.is_empty()),
                "EKS Auto Mode starts and scales the nodes itself from its node pools; managed node groups belong to mode = \"managed\"",
                "[eks.nodegroups.*]",
            ),
            (
                "eks.fargate",
                e.fargate.as_ref().is_some_and(|m| !m.is_empty()),
                "EKS Auto Mode runs every namespace on its own nodes; Fargate profiles belong to mode = \"managed\"",
                "[eks.fargate.*]",
            ),
        ];
        let compute: Result<Vec<()>, Reported> = collect_all(compute.iter().map(|(key, present, rule, what)| {
            if *present {
                Err(self.error_help(*key, *rule, self.table(key), help(what)))
            } else {
                Ok(())
            }
        }));
        let controller = match e.load_balancer_controller.as_ref().filter(|l| l.value) {
            Some(on) => Err(self.error_help(
                "eks.load_balancer_controller",
                "EKS Auto Mode runs load balancing itself (IngressClass controller eks.amazonaws.com/alb); the AWS Load Balancer Controller would contend with it for the same Ingresses",
                loc(on),
                help("load_balancer_controller"),
            )),
            None => Ok(()),
        };
        // "EKS Auto Mode requires Kubernetes version 1.29 or greater"
        // (Auto Mode user guide, "Create a cluster with Amazon EKS Auto Mode").
        let minor = version.and_then(|v| v.split('.').nth(1)?.parse::<u32>().ok());
        let supported = match (minor, e.version.as_ref()) {
            (Some(m), Some(v)) if m < AUTO_MODE_MIN_MINOR => Err(self.error(
                "eks.version",
                format!(
                    "EKS Auto Mode needs Kubernetes 1.{AUTO_MODE_MIN_MINOR} or later, not {}",
                    v.value
                ),
                loc(v),
            )),
            _ => Ok(()),
        };
        let count = match expected {
            None => Ok(crate::config::model::AUTO_MODE_EXPECTED_INSTANCES),
            Some(n) => self
                .int_in("eks.auto_mode_expected_instances", n, 0, 1000)
                .map(|n| n as u32),
        };
        let (_, (), (), count) = (compute, controller, supported, count).all()?;
        Ok(Some(count))
    }

    fn access_cidr(&mut self, key: &str, c: &Located<String>) -> Result<String, Reported> {
        match c.value.parse::<Ipv4Net>() {
            Ok(n) if n.network() == n.addr() => Ok(n.to_string()),
            Ok(n) => Err(self.error_help(
                key,
                format!("\"{}\" has host bits set", c.value),
                loc(c),
                Some(format!("did you mean \"{}\"?", n.trunc())),
            )),
            Err(_) => Err(self.error(key, format!("\"{}\" is not an IPv4 CIDR block", c.value), loc(c))),
        }
    }

    fn nodegroup(&mut self, name: &str, n: &RawNodegroup) -> Result<Nodegroup, Reported> {
        let base = format!("eks.nodegroups.{name}");
        let table_at = self.table(&base);
        let named = check_aws_child_name(name).map_err(|rule| self.error(&base, rule, table_at.clone()));
        let (instance_types, each_type) = match &n.instance_types {
            None => (vec!["t3.medium".to_string()], Ok(())),
            Some(list) => {
                let count = self.require(
                    !list.value.is_empty() && list.value.len() <= 20,
                    format!("{base}.instance_types"),
                    "must list 1 to 20 instance types",
                    loc(list),
                );
                let (types, each) = self.distinct(&format!("{base}.instance_types"), &list.value, |r, key, t| {
                    if is_instance_type(&t.value) {
                        Ok(t.value.clone())
                    } else {
                        Err(r.error(
                            key,
                            format!("\"{}\" is not an EC2 instance type like \"t3.medium\"", t.value),
                            loc(t),
                        ))
                    }
                });
                (types, (count, each).all().map(|_| ()))
            }
        };
        // Checked over the valid types even when another type is broken.
        let arch = instance_types
            .first()
            .map(|t| Arch::of_instance_type(t))
            .unwrap_or(Arch::X86_64);
        let one_arch = self.require(
            instance_types.iter().all(|t| Arch::of_instance_type(t) == arch),
            format!("{base}.instance_types"),
            "mixes x86_64 and arm64 (Graviton) types; one node group runs one AMI, so use one architecture per group",
            n.instance_types.as_ref().map(|l| l.at()),
        );
        let ami = instance_types.first().map(|t| crate::config::model::ami_type_of(t));
        let one_ami = if one_arch.is_ok() {
            self.require(
                instance_types.iter().all(|t| Some(crate::config::model::ami_type_of(t)) == ami),
                format!("{base}.instance_types"),
                "mixes accelerated (GPU or Neuron) and standard types; one node group runs one AMI, so put them in separate groups",
                n.instance_types.as_ref().map(|l| l.at()),
            )
        } else {
            Ok(())
        };
        let one_arch = one_arch.and(one_ami);
        let capacity = match &n.capacity {
            None => Ok(Capacity::OnDemand),
            Some(c) => self.variant(&format!("{base}.capacity"), c),
        };
        let min = match &n.min {
            None => Ok(1),
            Some(v) => self.int_in(&format!("{base}.min"), v, 0, 1000),
        };
        let max_given = n.max.as_ref().map(|v| self.int_in(&format!("{base}.max"), v, 1, 1000));
        let desired = match &n.desired {
            None => min.map(|m| 2.max(m).min(max_given.and_then(Result::ok).unwrap_or(i32::MAX))),
            Some(v) => self.int_in(&format!("{base}.desired"), v, 0, 1000),
        };
        let max = max_given.unwrap_or_else(|| desired.map(|d| d.max(3)));
        let sizes = match (min, desired, max) {
            (Ok(min), Ok(_), Ok(max)) if min > max => {
                let at = n.min.as_ref().or(n.max.as_ref()).map(|l| l.at()).or(table_at.clone());
                Err(self.error(
                    format!("{base}.min"),
                    format!("min ({min}) must not exceed max ({max})"),
                    at,
                ))
            }
            (Ok(min), Ok(desired), Ok(max)) if desired < min || desired > max => {
                let at = n
                    .desired
                    .as_ref()
                    .or(n.min.as_ref())
                    .or(n.max.as_ref())
                    .map(|l| l.at())
                    .or(table_at.clone());
                let message = Msg::new("error.desired_between")
                    .arg("desired", desired)
                    .arg("min", min)
                    .arg("max", max);
                Err(self
                    .diags
                    .push(Diagnostic::localized(format!("{base}.desired"), message, None, at)))
            }
            _ => Ok(()),
        };
        let disk = match &n.disk_gib {
            None => Ok(20),
            Some(v) => self.int_in(&format!("{base}.disk_gib"), v, 8, 16384),
        };
        let labels = self.labels(&format!("{base}.labels"), n.labels.as_ref(), 50);
        let ((), (), (), capacity, min, desired, max, (), disk_gib, labels) = (
            named, each_type, one_arch, capacity, min, desired, max, sizes, disk, labels,
        )
            .all()?;
        Ok(Nodegroup {
            instance_types,
            capacity,
            min,
            desired,
            max,
            disk_gib,
            arch,
            labels,
        })
    }

    fn fargate(&mut self, name: &str, f: &RawFargate) -> Result<FargateProfile, Reported> {
        let base = format!("eks.fargate.{name}");
        let table_at = self.table(&base);
        let named = check_aws_child_name(name).map_err(|rule| self.error(&base, rule, table_at.clone()));
        let namespaces = match &f.namespaces {
            None => Err(self.error(
                format!("{base}.namespaces"),
                "is required: the namespaces whose pods run on Fargate",
                table_at.clone(),
            )),
            Some(list) => {
                let count = self.require(
                    !list.value.is_empty() && list.value.len() <= 5,
                    format!("{base}.namespaces"),
                    "must list 1 to 5 namespaces (AWS allows 5 selectors per Fargate profile)",
                    loc(list),
                );
                let (namespaces, each) = self.distinct(&format!("{base}.namespaces"), &list.value, |r, key, ns| {
                    if is_dns_label(&ns.value) {
                        Ok(ns.value.clone())
                    } else {
                        Err(r.error(key, format!("\"{}\" is not a Kubernetes namespace name (lowercase letters, digits and '-', at most 63)", ns.value), loc(ns)))
                    }
                });
                (count, each).all().map(|_| namespaces)
            }
        };
        let labels = self.labels(&format!("{base}.labels"), f.labels.as_ref(), 5);
        let ((), namespaces, labels) = (named, namespaces, labels).all()?;
        Ok(FargateProfile { namespaces, labels })
    }

    fn labels(
        &mut self,
        key: &str,
        raw: Option<&BTreeMap<String, Located<String>>>,
        max: usize,
    ) -> Result<BTreeMap<String, String>, Reported> {
        let Some(raw) = raw else {
            return Ok(BTreeMap::new());
        };
        let count = self.require(
            raw.len() <= max,
            key,
            format!("has {} labels; at most {max} are allowed here", raw.len()),
            self.table(key),
        );
        let labels = collect_all(raw.iter().map(|(k, v)| self.label(&format!("{key}.{k}"), k, v)));
        let ((), labels) = (count, labels).all()?;
        Ok(labels)
    }

    fn label(&mut self, key: &str, k: &str, v: &Located<String>) -> Result<(String, String), Reported> {
        if !is_label_key(k) {
            Err(self.error(key, "is not a Kubernetes label key (optional DNS prefix and '/', then at most 63 letters, digits, '-', '_' or '.')", loc(v)))
        } else if !(v.value.is_empty() || is_label_name(&v.value)) {
            Err(self.error(
                key,
                format!(
                    "\"{}\" is not a Kubernetes label value (at most 63 letters, digits, '-', '_' or '.')",
                    v.value
                ),
                loc(v),
            ))
        } else {
            Ok((k.to_string(), v.value.clone()))
        }
    }
}
