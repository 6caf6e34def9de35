//! Raw (merged) configuration → resolved [`Stack`]: defaults, derived subnet
//! CIDRs and AWS's rules, checked before any AWS call. Every broken rule is
//! collected so the user sees them all at once.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::Ipv4Net;

use super::diagnostic::{did_you_mean, Diagnostic};
use super::model::*;
use super::raw::*;
use super::regions;
use super::source::{Located, Location, TableIndex};

/// Subnets are carved from the VPC at this many bits longer than its prefix:
/// a /16 gives /20s. Public subnet `i` takes block `i`, private subnet `i`
/// takes block `MAX_DERIVED_AZS + i`, so adding an AZ never moves a subnet.
pub const SUBNET_EXTRA_BITS: u8 = 4;
pub const MAX_DERIVED_AZS: usize = 8;

/// Tag key prefixes a user may not set: AWS reserves `aws:`, ekstack owns its
/// own and the Kubernetes discovery tags it puts on subnets.
const RESERVED_TAG_PREFIXES: &[&str] = &["aws:", "ekstack:", "kubernetes.io/"];

const RESERVED_DB_USERNAMES: &[&str] = &[
    "rdsadmin",
    "rdsrepladmin",
    "rds_superuser",
    "rds_replication",
    "rds_password",
];
const RESERVED_DB_NAMES: &[&str] = &[
    "postgres",
    "template0",
    "template1",
    "rdsadmin",
    "mysql",
    "sys",
    "information_schema",
    "performance_schema",
];

pub struct ResolveInput {
    pub raw: RawFile,
    pub env: Option<String>,
    /// Region from `--region`, used when the file names none (and checked against it when it does).
    pub region_fallback: Option<String>,
    /// Where to point errors about something missing entirely (start of the stack file).
    pub file_start: Location,
    pub tables: TableIndex,
}

pub fn resolve(input: ResolveInput) -> Result<Stack, Vec<Diagnostic>> {
    let mut r = Resolver {
        diags: Vec::new(),
        file_start: input.file_start.clone(),
        tables: input.tables.clone(),
    };
    let stack = r.stack(input);
    if r.diags.is_empty() {
        Ok(stack.expect("a stack is always built when no rule was broken"))
    } else {
        Err(r.diags)
    }
}

struct Resolver {
    diags: Vec<Diagnostic>,
    file_start: Location,
    tables: TableIndex,
}

fn loc<T>(l: &Located<T>) -> Option<Location> {
    Some(l.at())
}

impl Resolver {
    /// Where a table is written (its header), or the start of the stack file.
    fn table(&self, path: &str) -> Option<Location> {
        self.tables.find(path).or_else(|| Some(self.file_start.clone()))
    }

    fn error(&mut self, key: impl Into<String>, message: impl Into<String>, at: Option<Location>) {
        self.diags.push(Diagnostic::new(key, message, at));
    }

    fn error_help(
        &mut self,
        key: impl Into<String>,
        message: impl Into<String>,
        at: Option<Location>,
        help: Option<String>,
    ) {
        let mut d = Diagnostic::new(key, message, at);
        d.help = help;
        self.diags.push(d);
    }

    /// Parses an enumerated string, reporting the accepted values.
    fn one_of<T>(
        &mut self,
        key: &str,
        value: &Located<String>,
        names: &[&str],
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        let parsed = parse(&value.value);
        if parsed.is_none() {
            let list = names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
            let help = did_you_mean(&value.value, names.iter().copied()).map(|s| format!("did you mean \"{s}\"?"));
            self.error_help(
                key,
                format!("must be one of {list}, not \"{}\"", value.value),
                loc(value),
                help,
            );
        }
        parsed
    }

    fn int_in(&mut self, key: &str, value: &Located<i64>, min: i64, max: i64) -> Option<i32> {
        if value.value < min || value.value > max {
            self.error(
                key,
                format!("must be between {min} and {max}, not {}", value.value),
                loc(value),
            );
            None
        } else {
            Some(value.value as i32)
        }
    }

    fn stack(&mut self, input: ResolveInput) -> Option<Stack> {
        let raw = input.raw;
        let meta = self.meta(raw.stack.as_ref(), input.env, input.region_fallback);
        let azs_required = raw.eks.is_some() || raw.database.is_some();
        let region = meta.as_ref().map(|m| m.region.clone());
        let network = self.network(raw.network.as_ref(), region.as_deref(), azs_required);
        let eks = raw.eks.as_ref().map(|e| self.eks(e));
        let database = raw.database.as_ref().map(|d| self.database(d));

        // Cross-section rules.
        if let (Some(Some(eks)), Some(network)) = (&eks, &network) {
            let needs_egress = !eks.nodegroups.is_empty() || !eks.fargate.is_empty();
            if needs_egress && network.nat == NatMode::None {
                let at = raw.network.as_ref().and_then(|n| n.nat.as_ref()).map(|n| n.at());
                self.error(
                    "network.nat",
                    "\"none\" leaves the private subnets without egress, but node groups and Fargate pods there need it to pull images and join the cluster; use \"single\" or \"per-az\"",
                    at,
                );
            }
        }

        Some(Stack {
            meta: meta?,
            network: network?,
            eks: match eks {
                Some(e) => Some(e?),
                None => None,
            },
            database: match database {
                Some(d) => Some(d?),
                None => None,
            },
        })
    }

    fn meta(
        &mut self,
        raw: Option<&RawStack>,
        env: Option<String>,
        region_fallback: Option<String>,
    ) -> Option<StackMeta> {
        let Some(raw) = raw else {
            self.error(
                "stack",
                "the stack file needs a [stack] table with `name` and `region`",
                Some(self.file_start.clone()),
            );
            return None;
        };
        let s = raw;
        let name = match &s.name {
            None => {
                self.error("stack.name", "is required", self.table("stack"));
                None
            }
            Some(n) => {
                if let Err(rule) = check_stack_name(&n.value) {
                    self.error("stack.name", rule, loc(n));
                    None
                } else {
                    Some(n.value.clone())
                }
            }
        };
        let region = match (&s.region, region_fallback) {
            (Some(r), fallback) => {
                if let Some(f) = fallback.filter(|f| f != &r.value) {
                    self.error(
                        "stack.region",
                        format!(
                            "is \"{}\" but --region says \"{f}\"; a stack lives in the region its file names",
                            r.value
                        ),
                        loc(r),
                    );
                    None
                } else if regions::availability_zones(&r.value).is_none() {
                    let help =
                        did_you_mean(&r.value, regions::region_names()).map(|s| format!("did you mean \"{s}\"?"));
                    let known = regions::region_names().collect::<Vec<_>>().join(", ");
                    self.error_help(
                        "stack.region",
                        format!("\"{}\" is not a region ekstack supports ({known})", r.value),
                        loc(r),
                        help,
                    );
                    None
                } else {
                    Some(r.value.clone())
                }
            }
            (None, Some(f)) if regions::availability_zones(&f).is_some() => Some(f),
            (None, _) => {
                self.error("stack.region", "is required (or give --region)", self.table("stack"));
                None
            }
        };
        let mut tags = BTreeMap::new();
        if let Some(raw_tags) = &s.tags {
            if raw_tags.len() > 40 {
                self.error(
                    "stack.tags",
                    format!(
                        "has {} tags; at most 40 leave room for ekstack's own (AWS allows 50 per resource)",
                        raw_tags.len()
                    ),
                    self.table("stack.tags"),
                );
            }
            for (k, v) in raw_tags {
                let key = format!("stack.tags.{k}");
                if k.is_empty() || k.chars().count() > 128 {
                    self.error(&key, "tag keys must be 1 to 128 characters", loc(v));
                } else if let Some(p) = RESERVED_TAG_PREFIXES
                    .iter()
                    .find(|p| k.to_ascii_lowercase().starts_with(*p))
                {
                    self.error(&key, format!("tag keys starting with \"{p}\" are reserved"), loc(v));
                } else if k == "Name" {
                    self.error(&key, "`Name` is set by ekstack on every resource", loc(v));
                } else if v.value.chars().count() > 256 {
                    self.error(&key, "tag values must be at most 256 characters", loc(v));
                } else {
                    tags.insert(k.clone(), v.value.clone());
                }
            }
        }
        Some(StackMeta {
            name: name?,
            region: region?,
            env,
            tags,
            asleep: false,
        })
    }

    fn network(&mut self, raw: Option<&RawNetwork>, region: Option<&str>, azs_required: bool) -> Option<Network> {
        let default = RawNetwork::default();
        let n = raw.unwrap_or(&default);
        let table_at = self.table("network");

        let cidr = match &n.cidr {
            None => Some("10.0.0.0/16".parse::<Ipv4Net>().expect("default CIDR parses")),
            Some(c) => self.cidr("network.cidr", c, None),
        };

        let azs = match (region, &n.azs) {
            (None, _) => None,
            (Some(region), None) => Some(
                regions::availability_zones(region)?
                    .into_iter()
                    .take(2)
                    .collect::<Vec<_>>(),
            ),
            (Some(region), Some(v)) => self.azs(region, v),
        };
        if let Some(azs) = &azs {
            if azs_required && azs.len() < 2 {
                let at = n.azs.as_ref().map(|a| a.at()).or(table_at.clone());
                self.error(
                    "network.azs",
                    "EKS and RDS need subnets in at least two availability zones; give 2 or more",
                    at,
                );
            }
        }

        let nat = match &n.nat {
            None => Some(NatMode::Single),
            Some(v) => self.one_of("network.nat", v, &NatMode::NAMES, NatMode::parse),
        };

        let (cidr, azs) = (cidr?, azs?);
        let public = self.subnets(
            "network.public_subnets",
            n.public_subnets.as_ref(),
            cidr,
            azs.len(),
            0,
            n.cidr.as_ref().map(|c| c.at()).or(table_at.clone()),
        );
        let private = self.subnets(
            "network.private_subnets",
            n.private_subnets.as_ref(),
            cidr,
            azs.len(),
            MAX_DERIVED_AZS,
            n.cidr.as_ref().map(|c| c.at()).or(table_at),
        );
        let (public, private) = (public?, private?);

        // No two subnets may overlap, explicit or derived.
        let all: Vec<(String, Ipv4Net, Option<Location>)> = public
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    format!("network.public_subnets[{i}]"),
                    *s,
                    n.public_subnets.as_ref().and_then(|l| l.value.get(i)).map(|l| l.at()),
                )
            })
            .chain(private.iter().enumerate().map(|(i, s)| {
                (
                    format!("network.private_subnets[{i}]"),
                    *s,
                    n.private_subnets.as_ref().and_then(|l| l.value.get(i)).map(|l| l.at()),
                )
            }))
            .collect();
        let mut overlap = false;
        for (i, (key_a, a, at_a)) in all.iter().enumerate() {
            for (key_b, b, at_b) in &all[i + 1..] {
                if a.contains(b) || b.contains(a) {
                    // Point at whichever side was written: a derived subnet has no line.
                    let (key, message, at) = match (at_b, at_a) {
                        (Some(at), _) => (key_b, format!("{b} overlaps {key_a} ({a})"), Some(at.clone())),
                        (None, Some(at)) => (
                            key_a,
                            format!("{a} overlaps {key_b} ({b}, derived from network.cidr)"),
                            Some(at.clone()),
                        ),
                        (None, None) => (key_b, format!("{b} overlaps {key_a} ({a})"), self.table("network")),
                    };
                    self.error(key.clone(), message, at);
                    overlap = true;
                }
            }
        }
        if overlap {
            return None;
        }
        Some(Network {
            cidr,
            azs,
            nat: nat?,
            public_subnets: public,
            private_subnets: private,
        })
    }

    fn cidr(&mut self, key: &str, value: &Located<String>, within: Option<Ipv4Net>) -> Option<Ipv4Net> {
        let net: Ipv4Net = match value.value.parse() {
            Ok(n) => n,
            Err(_) => {
                self.error(
                    key,
                    format!("\"{}\" is not an IPv4 CIDR block like \"10.0.0.0/16\"", value.value),
                    loc(value),
                );
                return None;
            }
        };
        if net.network() != net.addr() {
            self.error_help(
                key,
                format!("\"{}\" has host bits set", value.value),
                loc(value),
                Some(format!("did you mean \"{}\"?", net.trunc())),
            );
            return None;
        }
        if !(16..=28).contains(&net.prefix_len()) {
            self.error(
                key,
                format!(
                    "/{} is outside the sizes AWS allows for a VPC or subnet (/16 to /28)",
                    net.prefix_len()
                ),
                loc(value),
            );
            return None;
        }
        if let Some(vpc) = within {
            if !vpc.contains(&net) {
                self.error(key, format!("{net} is not inside the VPC CIDR {vpc}"), loc(value));
                return None;
            }
        }
        Some(net)
    }

    fn azs(&mut self, region: &str, value: &Located<toml::Value>) -> Option<Vec<String>> {
        let known = regions::availability_zones(region)?;
        match &value.value {
            toml::Value::Integer(n) => {
                if *n < 1 || *n as usize > known.len() {
                    self.error(
                        "network.azs",
                        format!(
                            "must be between 1 and {} ({region} has {} AZs: {}), not {n}",
                            known.len(),
                            known.len(),
                            known.join(", ")
                        ),
                        loc(value),
                    );
                    None
                } else {
                    Some(known.into_iter().take(*n as usize).collect())
                }
            }
            toml::Value::Array(items) => {
                let mut names = Vec::new();
                let mut ok = true;
                for item in items {
                    match item.as_str() {
                        Some(name) if known.iter().any(|k| k == name) => {
                            if names.iter().any(|n| n == name) {
                                self.error("network.azs", format!("lists \"{name}\" twice"), loc(value));
                                ok = false;
                            }
                            names.push(name.to_string());
                        }
                        Some(name) => {
                            let help = did_you_mean(name, known.iter().map(|s| s.as_str()))
                                .map(|s| format!("did you mean \"{s}\"?"));
                            self.error_help(
                                "network.azs",
                                format!(
                                    "\"{name}\" is not an availability zone of {region} ({})",
                                    known.join(", ")
                                ),
                                loc(value),
                                help,
                            );
                            ok = false;
                        }
                        None => {
                            self.error(
                                "network.azs",
                                "must be a count or a list of AZ names (strings)",
                                loc(value),
                            );
                            ok = false;
                        }
                    }
                }
                if names.is_empty() && ok {
                    self.error("network.azs", "must list at least one availability zone", loc(value));
                    ok = false;
                }
                ok.then_some(names)
            }
            _ => {
                self.error(
                    "network.azs",
                    "must be a count (e.g. 2) or a list of AZ names (e.g. [\"us-east-1a\", \"us-east-1b\"])",
                    loc(value),
                );
                None
            }
        }
    }

    /// Explicit subnet CIDRs, checked; or derived from the VPC at fixed indexes.
    fn subnets(
        &mut self,
        key: &str,
        explicit: Option<&Located<Vec<Located<String>>>>,
        vpc: Ipv4Net,
        az_count: usize,
        first_block: usize,
        derive_at: Option<Location>,
    ) -> Option<Vec<Ipv4Net>> {
        if let Some(list) = explicit {
            if list.value.len() != az_count {
                self.error(
                    key,
                    format!(
                        "has {} CIDRs but there are {az_count} availability zones; give one per AZ",
                        list.value.len()
                    ),
                    loc(list),
                );
                return None;
            }
            let mut out = Vec::new();
            let mut ok = true;
            for (i, c) in list.value.iter().enumerate() {
                match self.cidr(&format!("{key}[{i}]"), c, Some(vpc)) {
                    Some(n) => out.push(n),
                    None => ok = false,
                }
            }
            return ok.then_some(out);
        }
        match derive_subnets(vpc, az_count, first_block) {
            Ok(v) => Some(v),
            Err(rule) => {
                self.error(key, rule, derive_at);
                None
            }
        }
    }

    fn eks(&mut self, raw: &RawEks) -> Option<Eks> {
        let e = raw;
        let mut ok = true;
        let version = match &e.version {
            None => "1.33".to_string(),
            Some(v) => {
                if !regions::KUBERNETES_VERSIONS.contains(&v.value.as_str()) {
                    self.error(
                        "eks.version",
                        format!(
                            "\"{}\" is not a Kubernetes version EKS supports ({})",
                            v.value,
                            regions::KUBERNETES_VERSIONS.join(", ")
                        ),
                        loc(v),
                    );
                    ok = false;
                }
                v.value.clone()
            }
        };
        let endpoint = match &e.endpoint {
            None => Some(EndpointAccess::Public),
            Some(v) => self.one_of("eks.endpoint", v, &EndpointAccess::NAMES, EndpointAccess::parse),
        };
        let mut cidrs = Vec::new();
        match &e.public_access_cidrs {
            None => cidrs.push("0.0.0.0/0".to_string()),
            Some(list) => {
                if list.value.is_empty() || list.value.len() > 40 {
                    self.error("eks.public_access_cidrs", "must list 1 to 40 CIDR blocks", loc(list));
                    ok = false;
                }
                if endpoint == Some(EndpointAccess::Private) {
                    self.error(
                        "eks.public_access_cidrs",
                        "only applies to a public endpoint, but eks.endpoint is \"private\"",
                        loc(list),
                    );
                    ok = false;
                }
                for (i, c) in list.value.iter().enumerate() {
                    match c.value.parse::<Ipv4Net>() {
                        Ok(n) if n.network() == n.addr() => cidrs.push(n.to_string()),
                        Ok(n) => {
                            self.error_help(
                                format!("eks.public_access_cidrs[{i}]"),
                                format!("\"{}\" has host bits set", c.value),
                                loc(c),
                                Some(format!("did you mean \"{}\"?", n.trunc())),
                            );
                            ok = false;
                        }
                        Err(_) => {
                            self.error(
                                format!("eks.public_access_cidrs[{i}]"),
                                format!("\"{}\" is not an IPv4 CIDR block", c.value),
                                loc(c),
                            );
                            ok = false;
                        }
                    }
                }
            }
        }
        let mut logging = BTreeSet::new();
        if let Some(list) = &e.logging {
            for (i, l) in list.value.iter().enumerate() {
                let key = format!("eks.logging[{i}]");
                match self.one_of(&key, l, &LOG_TYPES, |s| LOG_TYPES.iter().position(|t| *t == s)) {
                    Some(p) => {
                        if !logging.insert(p) {
                            self.error(key, format!("\"{}\" is listed twice", l.value), loc(l));
                            ok = false;
                        }
                    }
                    None => ok = false,
                }
            }
        }
        let mut nodegroups = BTreeMap::new();
        if let Some(ngs) = &e.nodegroups {
            for (name, ng) in ngs {
                match self.nodegroup(name, ng) {
                    Some(n) => {
                        nodegroups.insert(name.clone(), n);
                    }
                    None => ok = false,
                }
            }
        }
        let mut fargate = BTreeMap::new();
        if let Some(profiles) = &e.fargate {
            for (name, p) in profiles {
                match self.fargate(name, p) {
                    Some(f) => {
                        fargate.insert(name.clone(), f);
                    }
                    None => ok = false,
                }
            }
        }
        let endpoint = endpoint?;
        if !ok {
            return None;
        }
        Some(Eks {
            version,
            endpoint,
            public_access_cidrs: if endpoint.public() { cidrs } else { Vec::new() },
            logging: logging.into_iter().map(|p| LOG_TYPES[p].to_string()).collect(),
            nodegroups,
            fargate,
        })
    }

    fn nodegroup(&mut self, name: &str, raw: &RawNodegroup) -> Option<Nodegroup> {
        let base = format!("eks.nodegroups.{name}");
        let n = raw;
        let table_at = self.table(&base);
        let mut ok = true;
        if let Err(rule) = check_aws_child_name(name) {
            self.error(&base, rule, table_at.clone());
            ok = false;
        }
        let mut instance_types = Vec::new();
        match &n.instance_types {
            None => instance_types.push("t3.medium".to_string()),
            Some(list) => {
                if list.value.is_empty() || list.value.len() > 20 {
                    self.error(
                        format!("{base}.instance_types"),
                        "must list 1 to 20 instance types",
                        loc(list),
                    );
                    ok = false;
                }
                for (i, t) in list.value.iter().enumerate() {
                    if !is_instance_type(&t.value) {
                        self.error(
                            format!("{base}.instance_types[{i}]"),
                            format!("\"{}\" is not an EC2 instance type like \"t3.medium\"", t.value),
                            loc(t),
                        );
                        ok = false;
                    } else if instance_types.contains(&t.value) {
                        self.error(
                            format!("{base}.instance_types[{i}]"),
                            format!("\"{}\" is listed twice", t.value),
                            loc(t),
                        );
                        ok = false;
                    } else {
                        instance_types.push(t.value.clone());
                    }
                }
            }
        }
        let arch = instance_types
            .first()
            .map(|t| Arch::of_instance_type(t))
            .unwrap_or(Arch::X86_64);
        if instance_types.iter().any(|t| Arch::of_instance_type(t) != arch) {
            let at = n.instance_types.as_ref().map(|l| l.at());
            self.error(format!("{base}.instance_types"), "mixes x86_64 and arm64 (Graviton) types; one node group runs one AMI, so use one architecture per group", at);
            ok = false;
        }
        let capacity = match &n.capacity {
            None => Some(Capacity::OnDemand),
            Some(c) => self.one_of(&format!("{base}.capacity"), c, &Capacity::NAMES, Capacity::parse),
        };
        let min = match &n.min {
            None => Some(1),
            Some(v) => self.int_in(&format!("{base}.min"), v, 0, 1000),
        };
        let max_given = n.max.as_ref().map(|v| self.int_in(&format!("{base}.max"), v, 1, 1000));
        let desired = match &n.desired {
            None => min.map(|m| 2.max(m).min(max_given.flatten().unwrap_or(i32::MAX))),
            Some(v) => self.int_in(&format!("{base}.desired"), v, 0, 1000),
        };
        let max = match max_given {
            None => desired.map(|d| d.max(3)),
            Some(m) => m,
        };
        if let (Some(min), Some(desired), Some(max)) = (min, desired, max) {
            if min > max {
                let at = n.min.as_ref().or(n.max.as_ref()).map(|l| l.at()).or(table_at.clone());
                self.error(
                    format!("{base}.min"),
                    format!("min ({min}) must not exceed max ({max})"),
                    at,
                );
                ok = false;
            } else if desired < min || desired > max {
                let at = n
                    .desired
                    .as_ref()
                    .or(n.min.as_ref())
                    .or(n.max.as_ref())
                    .map(|l| l.at())
                    .or(table_at.clone());
                self.error(
                    format!("{base}.desired"),
                    format!("desired ({desired}) must be between min ({min}) and max ({max})"),
                    at,
                );
                ok = false;
            }
        }
        let disk = match &n.disk_gib {
            None => Some(20),
            Some(v) => self.int_in(&format!("{base}.disk_gib"), v, 8, 16384),
        };
        let labels = self.labels(&format!("{base}.labels"), n.labels.as_ref(), 50);
        if !ok {
            return None;
        }
        Some(Nodegroup {
            instance_types,
            capacity: capacity?,
            min: min?,
            desired: desired?,
            max: max?,
            disk_gib: disk?,
            arch,
            labels: labels?,
        })
    }

    fn fargate(&mut self, name: &str, raw: &RawFargate) -> Option<FargateProfile> {
        let base = format!("eks.fargate.{name}");
        let f = raw;
        let table_at = self.table(&base);
        let mut ok = true;
        if let Err(rule) = check_aws_child_name(name) {
            self.error(&base, rule, table_at.clone());
            ok = false;
        }
        let mut namespaces = Vec::new();
        match &f.namespaces {
            None => {
                self.error(
                    format!("{base}.namespaces"),
                    "is required: the namespaces whose pods run on Fargate",
                    table_at.clone(),
                );
                ok = false;
            }
            Some(list) => {
                if list.value.is_empty() || list.value.len() > 5 {
                    self.error(
                        format!("{base}.namespaces"),
                        "must list 1 to 5 namespaces (AWS allows 5 selectors per Fargate profile)",
                        loc(list),
                    );
                    ok = false;
                }
                for (i, ns) in list.value.iter().enumerate() {
                    if !is_dns_label(&ns.value) {
                        self.error(format!("{base}.namespaces[{i}]"), format!("\"{}\" is not a Kubernetes namespace name (lowercase letters, digits and '-', at most 63)", ns.value), loc(ns));
                        ok = false;
                    } else if namespaces.contains(&ns.value) {
                        self.error(
                            format!("{base}.namespaces[{i}]"),
                            format!("\"{}\" is listed twice", ns.value),
                            loc(ns),
                        );
                        ok = false;
                    } else {
                        namespaces.push(ns.value.clone());
                    }
                }
            }
        }
        let labels = self.labels(&format!("{base}.labels"), f.labels.as_ref(), 5);
        if !ok {
            return None;
        }
        Some(FargateProfile {
            namespaces,
            labels: labels?,
        })
    }

    fn labels(
        &mut self,
        key: &str,
        raw: Option<&BTreeMap<String, Located<String>>>,
        max: usize,
    ) -> Option<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        let Some(raw) = raw else { return Some(out) };
        let mut ok = true;
        if raw.len() > max {
            self.error(
                key,
                format!("has {} labels; at most {max} are allowed here", raw.len()),
                self.table(key),
            );
            ok = false;
        }
        for (k, v) in raw {
            if !is_label_key(k) {
                self.error(format!("{key}.{k}"), "is not a Kubernetes label key (optional DNS prefix and '/', then at most 63 letters, digits, '-', '_' or '.')", loc(v));
                ok = false;
            } else if !(v.value.is_empty() || is_label_name(&v.value)) {
                self.error(
                    format!("{key}.{k}"),
                    format!(
                        "\"{}\" is not a Kubernetes label value (at most 63 letters, digits, '-', '_' or '.')",
                        v.value
                    ),
                    loc(v),
                );
                ok = false;
            } else {
                out.insert(k.clone(), v.value.clone());
            }
        }
        ok.then_some(out)
    }

    fn database(&mut self, raw: &RawDatabase) -> Option<Database> {
        let d = raw;
        let mut ok = true;
        let engine = match &d.engine {
            None => Some(Engine::Postgres),
            Some(e) => self.one_of("database.engine", e, &Engine::NAMES, Engine::parse),
        };
        let engine = engine?;
        let aurora = engine.is_aurora();

        let version = match &d.version {
            None => match engine {
                Engine::Postgres | Engine::AuroraPostgresql => "16".to_string(),
                Engine::Mysql | Engine::AuroraMysql => "8.0".to_string(),
            },
            Some(v) => {
                let majors = regions::engine_majors(engine);
                let fits = majors.iter().any(|m| version_has_prefix(&v.value, m));
                if !fits {
                    self.error(
                        "database.version",
                        format!(
                            "\"{}\" is not a {} version RDS offers (majors: {})",
                            v.value,
                            engine.as_str(),
                            majors.join(", ")
                        ),
                        loc(v),
                    );
                    ok = false;
                }
                v.value.clone()
            }
        };

        let serverless_section = d.serverless.as_ref();
        let class = match &d.class {
            None if serverless_section.is_some() => "db.serverless".to_string(),
            None if aurora => "db.t4g.medium".to_string(),
            None => "db.t4g.micro".to_string(),
            Some(c) => {
                if c.value == "db.serverless" {
                    if !aurora {
                        self.error("database.class", "\"db.serverless\" is Aurora Serverless v2; it needs engine \"aurora-postgresql\" or \"aurora-mysql\"", loc(c));
                        ok = false;
                    }
                } else if !is_db_class(&c.value) {
                    self.error(
                        "database.class",
                        format!("\"{}\" is not an RDS instance class like \"db.t4g.micro\"", c.value),
                        loc(c),
                    );
                    ok = false;
                } else if aurora && (c.value.ends_with(".micro") || c.value.ends_with(".small")) {
                    self.error("database.class", format!("Aurora does not offer \"{}\"; the smallest classes are db.t3.medium and db.t4g.medium, or use \"db.serverless\"", c.value), loc(c));
                    ok = false;
                }
                c.value.clone()
            }
        };

        let serverless = match serverless_section {
            Some(s) if class != "db.serverless" => {
                let _ = s;
                self.error(
                    "database.serverless",
                    format!("applies only with class = \"db.serverless\" (class is \"{class}\")"),
                    self.table("database.serverless"),
                );
                ok = false;
                None
            }
            Some(s) => self.serverless(s),
            None if class == "db.serverless" => Some(Serverless {
                min_acu: 0.5,
                max_acu: 4.0,
            }),
            None => None,
        };

        let storage_gib = match (&d.storage_gib, aurora) {
            (Some(s), true) => {
                self.error(
                    "database.storage_gib",
                    "does not apply to Aurora, whose storage grows by itself",
                    loc(s),
                );
                ok = false;
                None
            }
            (None, true) => None,
            (None, false) => Some(20),
            (Some(s), false) => {
                let v = self.int_in("database.storage_gib", s, 20, 65536);
                ok &= v.is_some();
                v
            }
        };
        let multi_az = match (&d.multi_az, aurora) {
            (Some(m), true) => {
                self.error("database.multi_az", "does not apply to Aurora; its storage is always replicated across AZs, and `instances = 2` or more adds a standby reader", loc(m));
                ok = false;
                false
            }
            (Some(m), false) => m.value,
            (None, _) => false,
        };
        let instances = match (&d.instances, aurora) {
            (Some(i), false) => {
                self.error(
                    "database.instances",
                    format!(
                        "applies only to Aurora; for {} use multi_az = true for a standby",
                        engine.as_str()
                    ),
                    loc(i),
                );
                ok = false;
                1
            }
            (Some(i), true) => self.int_in("database.instances", i, 1, 16).unwrap_or_else(|| {
                ok = false;
                1
            }),
            (None, _) => 1,
        };
        let backup = match &d.backup_retention_days {
            None => 7,
            Some(b) => {
                let min = if aurora { 1 } else { 0 };
                self.int_in("database.backup_retention_days", b, min, 35)
                    .unwrap_or_else(|| {
                        ok = false;
                        7
                    })
            }
        };
        let username = match &d.username {
            None => "app".to_string(),
            Some(u) => {
                let max = if engine.is_postgres() { 63 } else { 16 };
                if let Err(rule) = check_db_word(&u.value, max) {
                    self.error("database.username", rule, loc(u));
                    ok = false;
                } else if RESERVED_DB_USERNAMES.contains(&u.value.to_ascii_lowercase().as_str()) {
                    self.error(
                        "database.username",
                        format!("\"{}\" is reserved by RDS", u.value),
                        loc(u),
                    );
                    ok = false;
                }
                u.value.clone()
            }
        };
        let db_name = match &d.db_name {
            None => "app".to_string(),
            Some(n) => {
                let max = if engine.is_postgres() { 63 } else { 64 };
                if let Err(rule) = check_db_word(&n.value, max) {
                    self.error("database.db_name", rule, loc(n));
                    ok = false;
                } else if RESERVED_DB_NAMES.contains(&n.value.to_ascii_lowercase().as_str()) {
                    self.error(
                        "database.db_name",
                        format!("\"{}\" is reserved by the database engine", n.value),
                        loc(n),
                    );
                    ok = false;
                }
                n.value.clone()
            }
        };
        if !ok {
            return None;
        }
        Some(Database {
            engine,
            version,
            class,
            storage_gib,
            multi_az,
            instances,
            backup_retention_days: backup,
            deletion_protection: d.deletion_protection.as_ref().map(|v| v.value).unwrap_or(false),
            final_snapshot: d.final_snapshot.as_ref().map(|v| v.value).unwrap_or(true),
            performance_insights: d.performance_insights.as_ref().map(|v| v.value).unwrap_or(false),
            username,
            db_name,
            serverless,
        })
    }

    fn serverless(&mut self, raw: &RawServerless) -> Option<Serverless> {
        let s = raw;
        let table_at = self.table("database.serverless");
        let mut ok = true;
        let mut acu = |key: &str, v: &Option<Located<f64>>, default: f64, min: f64| -> f64 {
            let Some(v) = v else { return default };
            if !(min..=256.0).contains(&v.value) || (v.value * 2.0).fract() != 0.0 {
                self.error(
                    key,
                    format!("must be between {min} and 256 in steps of 0.5, not {}", v.value),
                    loc(v),
                );
                ok = false;
            }
            v.value
        };
        let min_acu = acu("database.serverless.min_acu", &s.min_acu, 0.5, 0.0);
        let max_acu = acu("database.serverless.max_acu", &s.max_acu, 4.0, 1.0);
        if ok && min_acu > max_acu {
            let at = s.min_acu.as_ref().map(|l| l.at()).or(table_at);
            self.error(
                "database.serverless.min_acu",
                format!("min_acu ({min_acu}) must not exceed max_acu ({max_acu})"),
                at,
            );
            ok = false;
        }
        ok.then_some(Serverless { min_acu, max_acu })
    }
}

/// Public subnet `i` → block `i`; private subnet `i` → block `MAX_DERIVED_AZS + i`.
pub fn derive_subnets(vpc: Ipv4Net, az_count: usize, first_block: usize) -> Result<Vec<Ipv4Net>, String> {
    let prefix = vpc.prefix_len() + SUBNET_EXTRA_BITS;
    if prefix > 28 {
        return Err(format!(
            "the VPC /{} is too small to derive subnets (ekstack carves /{} blocks, AWS's smallest subnet is /28); use a /24 or larger VPC, or list the subnets explicitly",
            vpc.prefix_len(),
            prefix
        ));
    }
    if az_count > MAX_DERIVED_AZS {
        return Err(format!(
            "derived subnets support at most {MAX_DERIVED_AZS} AZs; list the subnets explicitly"
        ));
    }
    let blocks = vpc.subnets(prefix).map_err(|e| e.to_string())?;
    Ok(blocks.skip(first_block).take(az_count).collect())
}

fn check_stack_name(name: &str) -> Result<(), String> {
    let valid_chars = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid_chars || name.len() > 20 {
        return Err(format!("\"{name}\" must match [a-z][a-z0-9-]{{0,19}}: a lowercase letter, then up to 19 lowercase letters, digits or '-'"));
    }
    // The database identifier is `<name>-db`, and RDS forbids "--" anywhere.
    if name.ends_with('-') || name.contains("--") {
        return Err(format!(
            "\"{name}\" must not end with '-' or contain \"--\" (RDS identifiers derived from it forbid both)"
        ));
    }
    Ok(())
}

/// Node group and Fargate profile names become AWS names as they are.
fn check_aws_child_name(name: &str) -> Result<(), String> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.len() <= 50;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "name \"{name}\" must start with a letter or digit and use at most 50 letters, digits, '-' or '_'"
        ))
    }
}

fn check_db_word(word: &str, max: usize) -> Result<(), String> {
    let ok = word.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && word.len() <= max;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{word}\" must start with a letter and use at most {max} letters, digits or '_'"
        ))
    }
}

fn is_instance_type(t: &str) -> bool {
    let mut parts = t.split('.');
    let (Some(family), Some(size), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    family.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && family
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && family.chars().any(|c| c.is_ascii_digit())
        && is_instance_size(size)
}

/// The sizes EC2 and RDS name: nano … large, xlarge, 2xlarge … 48xlarge,
/// metal and metal-24xl.
fn is_instance_size(size: &str) -> bool {
    const NAMED: &[&str] = &["nano", "micro", "small", "medium", "large", "xlarge", "metal"];
    if NAMED.contains(&size) {
        return true;
    }
    let multiple = |n: &str| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) && !n.starts_with('0');
    size.strip_suffix("xlarge").is_some_and(multiple)
        || size
            .strip_prefix("metal-")
            .and_then(|s| s.strip_suffix("xl"))
            .is_some_and(multiple)
}

fn is_db_class(c: &str) -> bool {
    c.strip_prefix("db.").is_some_and(is_instance_type)
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_label_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
}

fn is_label_key(k: &str) -> bool {
    match k.split_once('/') {
        Some((prefix, name)) => prefix.len() <= 253 && prefix.split('.').all(is_dns_label) && is_label_name(name),
        None => is_label_name(k),
    }
}

/// "16.4" has the prefix "16"; "160" does not.
pub fn version_has_prefix(version: &str, prefix: &str) -> bool {
    version == prefix || version.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.'))
}
