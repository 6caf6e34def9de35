//! RDS parameter groups as AWS documents them, where moto differs
//! ("Working with parameter groups", Amazon RDS User Guide,
//! https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithParamGroups.html;
//! the RDS API Reference pages of the actions named below):
//! - DescribeEngineDefaultParameters and DescribeEngineDefaultClusterParameters
//!   are served here (moto answers 500), from a catalog of real parameters
//!   with their types, allowed values and apply types;
//! - ModifyDBParameterGroup refuses more than 20 parameters, a name the
//!   family has not got, a parameter that is not modifiable, and
//!   "immediate" for a static parameter;
//! - ResetDBParameterGroup is served here (moto has none);
//! - a static change, or a new group, leaves the databases using it
//!   "pending-reboot" (`ParameterApplyStatus`, and
//!   `DBClusterParameterGroupStatus` of a cluster's members) until
//!   RebootDBInstance, which refuses ForceFailover on a single-AZ instance;
//! - a major engine upgrade of an instance on a custom group needs a group
//!   of the new family ("Upgrading the PostgreSQL DB engine for Amazon RDS");
//! - a group in use cannot be deleted (InvalidDBParameterGroupState);
//! - moto names an instance's default group `default.postgres` when it was
//!   made with a major version only; AWS names it by family
//!   (`default.postgres16`).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Instant;

use hyper::StatusCode;

use super::wire::{self, Reply};
use super::{Before, Req, Rules};

#[derive(Default)]
pub struct State {
    /// Instances whose DB parameter group waits for their reboot.
    pub instance_pending: HashSet<String>,
    /// Aurora members whose cluster parameter group waits for their reboot.
    pub member_pending: HashSet<String>,
    /// Parameters put back to their defaults, by group: moto cannot forget
    /// a parameter, so they are left out of DescribeDBParameters here.
    reset: HashMap<String, BTreeSet<String>>,
}

#[derive(Clone, Copy, PartialEq)]
enum Apply {
    Static,
    Dynamic,
}

/// One parameter of a family's default group.
struct Known {
    name: &'static str,
    value: &'static str,
    apply: Apply,
    data_type: &'static str,
    allowed: &'static str,
    modifiable: bool,
    /// Aurora: set in the cluster parameter group (else per instance).
    cluster: bool,
}

const fn p(
    name: &'static str,
    value: &'static str,
    apply: Apply,
    data_type: &'static str,
    allowed: &'static str,
    cluster: bool,
) -> Known {
    Known {
        name,
        value,
        apply,
        data_type,
        allowed,
        modifiable: true,
        cluster,
    }
}

use Apply::{Dynamic, Static};

/// PostgreSQL parameters as the default groups of RDS and Aurora
/// PostgreSQL 13-17 describe them (a subset of some 350).
const POSTGRES: &[Known] = &[
    p("autovacuum", "1", Dynamic, "boolean", "0,1", true),
    p("idle_in_transaction_session_timeout", "86400000", Dynamic, "integer", "0-2147483647", false),
    p("log_connections", "0", Dynamic, "boolean", "0,1", false),
    p("log_disconnections", "0", Dynamic, "boolean", "0,1", false),
    p("log_min_duration_statement", "-1", Dynamic, "integer", "-1-2147483647", false),
    p("log_statement", "none", Dynamic, "string", "none,ddl,mod,all", false),
    p("maintenance_work_mem", "65536", Dynamic, "integer", "1024-2147483647", false),
    p("max_connections", "{DBInstanceClassMemory/9531392}", Static, "integer", "6-8388607", false),
    p("max_wal_size", "2048", Dynamic, "integer", "2-2147483647", true),
    p("pg_stat_statements.track", "top", Dynamic, "string", "none,top,all", false),
    p("random_page_cost", "4", Dynamic, "real", "0-2147483647", false),
    p("rds.force_ssl", "1", Dynamic, "boolean", "0-1", true),
    p("rds.logical_replication", "0", Static, "boolean", "0-1", true),
    p("shared_buffers", "{DBInstanceClassMemory/32768}", Static, "integer", "16-1073741823", false),
    p(
        "shared_preload_libraries",
        "pg_stat_statements",
        Static,
        "list",
        "auto_explain,orafce,pg_cron,pg_hint_plan,pg_prewarm,pg_similarity,pg_stat_statements,pg_transport,pgaudit,plprofiler",
        true,
    ),
    p("statement_timeout", "0", Dynamic, "integer", "0-2147483647", false),
    p("timezone", "UTC", Dynamic, "string", "", true),
    p("track_io_timing", "1", Dynamic, "boolean", "0,1", false),
    p("work_mem", "4096", Dynamic, "integer", "64-2147483647", false),
    Known {
        name: "port",
        value: "5432",
        apply: Static,
        data_type: "integer",
        allowed: "1-65535",
        modifiable: false,
        cluster: true,
    },
];

/// MySQL parameters as the default groups of RDS MySQL 8.0 and 8.4 and
/// Aurora MySQL 3 describe them (a subset).
const MYSQL: &[Known] = &[
    p("binlog_format", "ROW", Dynamic, "string", "ROW,STATEMENT,MIXED", true),
    p(
        "character_set_server",
        "utf8mb4",
        Dynamic,
        "string",
        "big5,latin1,utf8mb3,utf8mb4",
        true,
    ),
    p("general_log", "0", Dynamic, "boolean", "0,1", false),
    p(
        "innodb_buffer_pool_size",
        "{DBInstanceClassMemory*3/4}",
        Static,
        "integer",
        "5242880-18446744073709551615",
        false,
    ),
    p("long_query_time", "10", Dynamic, "float", "0-31536000", false),
    p(
        "max_allowed_packet",
        "67108864",
        Dynamic,
        "integer",
        "1024-1073741824",
        false,
    ),
    p(
        "max_connections",
        "{DBInstanceClassMemory/12582880}",
        Dynamic,
        "integer",
        "1-100000",
        false,
    ),
    p("performance_schema", "0", Static, "boolean", "0,1", false),
    p("require_secure_transport", "0", Dynamic, "boolean", "0,1", true),
    p("slow_query_log", "0", Dynamic, "boolean", "0,1", false),
    p("time_zone", "UTC", Dynamic, "string", "", true),
    p("wait_timeout", "28800", Dynamic, "integer", "1-31536000", false),
    Known {
        name: "port",
        value: "3306",
        apply: Static,
        data_type: "integer",
        allowed: "1-65535",
        modifiable: false,
        cluster: true,
    },
];

/// The families RDS has for the engines the tests use.
fn catalog(family: &str) -> Option<&'static [Known]> {
    let postgres = ["postgres", "aurora-postgresql"].iter().any(|e| {
        family
            .strip_prefix(e)
            .is_some_and(|v| ["13", "14", "15", "16", "17"].contains(&v))
    });
    let mysql = ["mysql8.0", "mysql8.4", "aurora-mysql8.0"].contains(&family);
    match (postgres, mysql) {
        (true, _) => Some(POSTGRES),
        (_, true) => Some(MYSQL),
        _ => None,
    }
}

/// The parameters a group of `family` and `cluster` scope may hold: every
/// one for an RDS instance's group; the cluster-level or instance-level
/// ones for Aurora.
fn in_scope(family: &str, cluster: bool) -> Vec<&'static Known> {
    let aurora = family.starts_with("aurora");
    catalog(family)
        .unwrap_or_default()
        .iter()
        .filter(|k| !aurora || k.cluster == cluster)
        .collect()
}

/// "Parameters.Parameter.N.Field" of a request, in order.
fn asked(req: &Req) -> Vec<(String, Option<String>, Option<String>)> {
    let mut n = 1;
    let mut out = Vec::new();
    loop {
        let field = |f: &str| req.param(&format!("Parameters.Parameter.{n}.{f}")).map(str::to_string);
        let Some(name) = field("ParameterName") else { break };
        out.push((name, field("ParameterValue"), field("ApplyMethod")));
        n += 1;
    }
    out
}

fn refuse(code: &str, message: &str) -> Before {
    Before::Answer(Reply::query_error(400, code, message))
}

fn answer(action: &str, result: &str) -> Before {
    Before::Answer(Reply::xml(bytes::Bytes::from(format!(
        "<{action}Response xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><{action}Result>{result}</{action}Result><ResponseMetadata><RequestId>aws-rules</RequestId></ResponseMetadata></{action}Response>"
    ))))
}

async fn upstream_text(rules: &Rules, req: &Req, fields: &[(&str, &str)]) -> Option<String> {
    let mut all = vec![("Version", "2014-10-31")];
    all.extend_from_slice(fields);
    match rules.upstream(&req.with_body(wire::form_body(&all))).await {
        Ok((StatusCode::OK, body)) => Some(String::from_utf8_lossy(&body).into_owned()),
        _ => None,
    }
}

fn blocks<'a>(xml: &'a str, block: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{block}>"), format!("</{block}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let start = i + open.len();
        let Some(len) = rest[start..].find(&close) else { break };
        out.push(&rest[start..start + len]);
        rest = &rest[start + len + close.len()..];
    }
    out
}

/// A group's family, from moto.
async fn family_of(rules: &Rules, req: &Req, group: &str, cluster: bool) -> Option<String> {
    let text = if cluster {
        upstream_text(
            rules,
            req,
            &[
                ("Action", "DescribeDBClusterParameterGroups"),
                ("DBClusterParameterGroupName", group),
            ],
        )
        .await?
    } else {
        upstream_text(
            rules,
            req,
            &[("Action", "DescribeDBParameterGroups"), ("DBParameterGroupName", group)],
        )
        .await?
    };
    wire::tag(&text, "DBParameterGroupFamily").map(str::to_string)
}

/// The instances using a DB parameter group, or the members of the
/// clusters using a cluster parameter group.
async fn users(rules: &Rules, req: &Req, group: &str, cluster: bool) -> Vec<String> {
    if cluster {
        let Some(text) = upstream_text(rules, req, &[("Action", "DescribeDBClusters")]).await else {
            return vec![];
        };
        blocks(&text, "DBCluster")
            .into_iter()
            .filter(|c| wire::tag(c, "DBClusterParameterGroup") == Some(group))
            .flat_map(|c| blocks(c, "DBClusterMember"))
            .filter_map(|m| wire::tag(m, "DBInstanceIdentifier").map(str::to_string))
            .collect()
    } else {
        let Some(text) = upstream_text(rules, req, &[("Action", "DescribeDBInstances")]).await else {
            return vec![];
        };
        blocks(&text, "DBInstance")
            .into_iter()
            .filter(|d| wire::tag(d, "DBParameterGroupName") == Some(group))
            .filter_map(|d| wire::tag(d, "DBInstanceIdentifier").map(str::to_string))
            .collect()
    }
}

fn describe_defaults(req: &Req, cluster: bool) -> Before {
    let action = if cluster {
        "DescribeEngineDefaultClusterParameters"
    } else {
        "DescribeEngineDefaultParameters"
    };
    let family = req.param("DBParameterGroupFamily").unwrap_or_default();
    if catalog(family).is_none() {
        return refuse(
            "InvalidParameterValue",
            &format!("Invalid parameter group family: {family}"),
        );
    }
    // "MaxRecords: Default 100, minimum 20, maximum 100"; the marker is
    // where the next page starts.
    let max: usize = req.param("MaxRecords").and_then(|m| m.parse().ok()).unwrap_or(100);
    let start: usize = req.param("Marker").and_then(|m| m.parse().ok()).unwrap_or(0);
    let all = in_scope(family, cluster);
    let page: String = all
        .iter()
        .skip(start)
        .take(max)
        .map(|k| {
            format!(
                "<Parameter><ParameterName>{}</ParameterName><ParameterValue>{}</ParameterValue><Description>{}</Description><Source>engine-default</Source><ApplyType>{}</ApplyType><DataType>{}</DataType>{}<IsModifiable>{}</IsModifiable><ApplyMethod>pending-reboot</ApplyMethod></Parameter>",
                k.name,
                wire::escape(k.value),
                k.name,
                if k.apply == Static { "static" } else { "dynamic" },
                k.data_type,
                if k.allowed.is_empty() { String::new() } else { format!("<AllowedValues>{}</AllowedValues>", k.allowed) },
                k.modifiable
            )
        })
        .collect();
    let marker = if start + max < all.len() {
        format!("<Marker>{}</Marker>", start + max)
    } else {
        String::new()
    };
    answer(
        action,
        &format!(
            "<EngineDefaults><DBParameterGroupFamily>{family}</DBParameterGroupFamily>{marker}<Parameters>{page}</Parameters></EngineDefaults>"
        ),
    )
}

/// ModifyDB(Cluster)ParameterGroup and ResetDB(Cluster)ParameterGroup.
async fn change_group(rules: &Rules, req: &Req, cluster: bool, reset: bool) -> Before {
    let key = if cluster {
        "DBClusterParameterGroupName"
    } else {
        "DBParameterGroupName"
    };
    let group = req.param(key).unwrap_or_default().to_string();
    let Some(family) = family_of(rules, req, &group, cluster).await else {
        return refuse(
            "DBParameterGroupNotFound",
            &format!("DBParameterGroup not found: {group}"),
        );
    };
    let asked = asked(req);
    if asked.len() > 20 {
        return refuse(
            "InvalidParameterValue",
            "You can modify up to 20 parameters in a single request.",
        );
    }
    let known = in_scope(&family, cluster);
    let mut statics = false;
    for (name, _, method) in &asked {
        let Some(k) = known.iter().find(|k| k.name == name) else {
            return refuse(
                "InvalidParameterValue",
                &format!("Could not find parameter with name: {name}"),
            );
        };
        if !k.modifiable {
            return refuse(
                "InvalidParameterValue",
                &format!("The parameter {name} cannot be modified."),
            );
        }
        if k.apply == Static && method.as_deref() == Some("immediate") {
            return refuse(
                "InvalidParameterCombination",
                &format!("cannot use immediate apply method for static parameter {name}"),
            );
        }
        statics |= k.apply == Static;
    }
    let using = if statics {
        users(rules, req, &group, cluster).await
    } else {
        vec![]
    };
    {
        let mut st = rules.state();
        let p = &mut st.rds.parameters;
        let names = asked.iter().map(|(n, _, _)| n.clone());
        if reset {
            p.reset.entry(group.clone()).or_default().extend(names);
        } else if let Some(r) = p.reset.get_mut(&group) {
            for n in names {
                r.remove(&n);
            }
        }
        let pending = if cluster {
            &mut p.member_pending
        } else {
            &mut p.instance_pending
        };
        pending.extend(using);
    }
    if reset {
        let action = if cluster {
            "ResetDBClusterParameterGroup"
        } else {
            "ResetDBParameterGroup"
        };
        return answer(action, &format!("<{key}>{group}</{key}>"));
    }
    Before::Forward(None)
}

/// "You can't delete a default DB parameter group, or one that is
/// associated with any DB instances" (DeleteDBParameterGroup).
async fn delete_group(rules: &Rules, req: &Req, cluster: bool) -> Before {
    let key = if cluster {
        "DBClusterParameterGroupName"
    } else {
        "DBParameterGroupName"
    };
    let group = req.param(key).unwrap_or_default().to_string();
    let used = if cluster {
        upstream_text(rules, req, &[("Action", "DescribeDBClusters")])
            .await
            .is_some_and(|t| {
                blocks(&t, "DBCluster")
                    .iter()
                    .any(|c| wire::tag(c, "DBClusterParameterGroup") == Some(group.as_str()))
            })
    } else {
        !users(rules, req, &group, false).await.is_empty()
    };
    if used {
        return refuse(
            "InvalidDBParameterGroupState",
            &format!("One or more database instances are still members of this parameter group {group}, so the group cannot be deleted"),
        );
    }
    Before::Forward(None)
}

fn major(v: &str) -> &str {
    let parts: Vec<&str> = v.split('.').collect();
    if parts.first().is_some_and(|p| p.parse::<u32>().is_ok_and(|n| n >= 10)) {
        parts[0]
    } else {
        let end = v.match_indices('.').nth(1).map(|(i, _)| i).unwrap_or(v.len());
        &v[..end]
    }
}

/// What ModifyDBInstance does to an instance's parameter group: a major
/// upgrade off a custom group needs a group of the new family; a new
/// group, without one, waits for a reboot.
pub async fn modify_instance(rules: &Rules, req: &Req, current: &str) -> Option<Before> {
    let id = wire::tag(current, "DBInstanceIdentifier")
        .unwrap_or_default()
        .to_string();
    let engine = wire::tag(current, "Engine").unwrap_or_default();
    let have_version = wire::tag(current, "EngineVersion").unwrap_or_default();
    let have_group = wire::tag(current, "DBParameterGroupName")
        .unwrap_or_default()
        .to_string();
    let upgrading = req
        .param("EngineVersion")
        .is_some_and(|v| major(v) != major(have_version));
    let asked = req.param("DBParameterGroupName").map(str::to_string);
    if upgrading && wire::tag(current, "DBClusterIdentifier").is_none() {
        let want = format!("{engine}{}", major(req.param("EngineVersion").unwrap_or_default()));
        match &asked {
            None if !have_group.starts_with("default.") => {
                return Some(refuse(
                    "InvalidParameterCombination",
                    &format!("The current DB parameter group {have_group} is not compatible with the requested engine version; specify a DB parameter group of family {want}"),
                ))
            }
            Some(g) => {
                let family = family_of(rules, req, g, false).await;
                if !g.starts_with("default.") && family.as_deref() != Some(want.as_str()) {
                    return Some(refuse(
                        "InvalidParameterCombination",
                        &format!("The parameter group {g} with DBParameterGroupFamily {} can't be used for this instance. Use a parameter group with DBParameterGroupFamily {want}.", family.unwrap_or_default()),
                    ));
                }
            }
            None => {}
        }
    }
    if let Some(g) = asked.as_deref().filter(|g| g.starts_with("default.")) {
        ensure_default(rules, req, g).await;
    }
    let mut st = rules.state();
    let p = &mut st.rds.parameters;
    if upgrading {
        // The upgrade restarts the engine with the group it names.
        p.instance_pending.remove(&id);
    } else if asked.as_ref().is_some_and(|g| *g != have_group) {
        p.instance_pending.insert(id);
    }
    None
}

/// AWS has a default group for every family ("Default and custom
/// parameter groups"); moto makes one only when it describes an instance,
/// under its own name, so a group named `default.<family>` is made in moto
/// before a call that names it.
async fn ensure_default(rules: &Rules, req: &Req, group: &str) {
    let family = group.trim_start_matches("default.");
    if family_of(rules, req, group, false).await.is_none() {
        let description = format!("Default parameter group for {family}");
        let _ = upstream_text(
            rules,
            req,
            &[
                ("Action", "CreateDBParameterGroup"),
                ("DBParameterGroupName", group),
                ("DBParameterGroupFamily", family),
                ("Description", &description),
            ],
        )
        .await;
    }
}

/// RebootDBInstance: "ForceFailover ... can't be specified if the
/// instance isn't configured for Multi-AZ".
pub fn reboot_refused(current: &str, req: &Req) -> Option<Before> {
    (req.param("ForceFailover") == Some("true") && wire::tag(current, "MultiAZ") != Some("true")).then(|| {
        refuse(
            "InvalidParameterCombination",
            "Cannot specify ForceFailover for a DB instance that is not Multi-AZ.",
        )
    })
}

pub fn rebooted(st: &mut State, id: &str) {
    st.instance_pending.remove(id);
    st.member_pending.remove(id);
}

pub async fn before(rules: &Rules, req: &Req, _now: Instant) -> Option<Before> {
    Some(match req.action() {
        "DescribeEngineDefaultParameters" => describe_defaults(req, false),
        "DescribeEngineDefaultClusterParameters" => describe_defaults(req, true),
        "ModifyDBParameterGroup" => change_group(rules, req, false, false).await,
        "ModifyDBClusterParameterGroup" => change_group(rules, req, true, false).await,
        "ResetDBParameterGroup" => change_group(rules, req, false, true).await,
        "ResetDBClusterParameterGroup" => change_group(rules, req, true, true).await,
        "DeleteDBParameterGroup" => delete_group(rules, req, false).await,
        "DeleteDBClusterParameterGroup" => delete_group(rules, req, true).await,
        _ => return None,
    })
}

/// An instance as AWS shows it: its group named by family, and pending a
/// reboot when it is.
pub fn show_instance(st: &State, block: &str) -> String {
    let id = wire::tag(block, "DBInstanceIdentifier").unwrap_or_default();
    let engine = wire::tag(block, "Engine").unwrap_or_default();
    let version = wire::tag(block, "EngineVersion").unwrap_or_default();
    let mut shown = block.to_string();
    if wire::tag(block, "DBParameterGroupName") == Some(&format!("default.{engine}")) {
        shown = wire::set_tag(
            &shown,
            "DBParameterGroupName",
            &format!("default.{engine}{}", major(version)),
        );
    }
    if st.instance_pending.contains(id) {
        shown = wire::set_tag(&shown, "ParameterApplyStatus", "pending-reboot");
    }
    shown
}

/// A cluster's members as AWS shows them: pending a reboot for the
/// cluster parameter group when they are.
pub fn show_cluster(st: &State, block: &str) -> String {
    let mut shown = block.to_string();
    if wire::tag(block, "DBClusterParameterGroup").is_some_and(|g| g.starts_with("default.")) {
        let engine = wire::tag(block, "Engine").unwrap_or_default();
        let version = wire::tag(block, "EngineVersion").unwrap_or_default();
        shown = wire::set_tag(
            &shown,
            "DBClusterParameterGroup",
            &format!("default.{engine}{}", major(version)),
        );
    }
    wire::map_blocks(&shown, "DBClusterMember", |m| {
        let id = wire::tag(m, "DBInstanceIdentifier").unwrap_or_default();
        if st.member_pending.contains(id) {
            wire::set_tag(m, "DBClusterParameterGroupStatus", "pending-reboot")
        } else {
            m.to_string()
        }
    })
}

/// DescribeDB(Cluster)Parameters without the parameters reset here.
pub fn show_parameters(st: &State, req: &Req, xml: &str) -> Option<String> {
    let group = req
        .param("DBParameterGroupName")
        .or(req.param("DBClusterParameterGroupName"))?;
    let reset = st.reset.get(group).filter(|r| !r.is_empty())?;
    let (open, close) = ("<Parameter>", "</Parameter>");
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(i) = rest.find(open) {
        let Some(len) = rest[i..].find(close) else { break };
        let whole = &rest[i..i + len + close.len()];
        out.push_str(&rest[..i]);
        let name = wire::tag(whole, "ParameterName").unwrap_or_default();
        if !reset.contains(name) {
            out.push_str(whole);
        }
        rest = &rest[i + len + close.len()..];
    }
    out.push_str(rest);
    Some(out)
}
