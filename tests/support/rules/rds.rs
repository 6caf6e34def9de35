//! RDS and Aurora as AWS documents them, where moto differs: databases take
//! minutes to create, modify and delete (DESIGN §8, scaled) and refuse
//! changes meanwhile; storage grows by at least 10% with a cooldown; some
//! classes have no Performance Insights; a stopped Aurora cluster refuses
//! changes until it is started.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::StatusCode;

use super::wire::{self, Reply};
use super::{Before, Req, Rules, Settings};

#[derive(Default)]
pub struct State {
    instances: HashMap<String, Life>,
    clusters: HashMap<String, Life>,
    /// Clusters stopped by StopDBCluster and not started since.
    stopped: std::collections::HashSet<String>,
    /// What each instance was made with, for its automated backups.
    made: HashMap<String, Made>,
    /// RDS proxies by name: what moto does not keep of them.
    proxies: HashMap<String, Proxy>,
    /// Parameter groups' effects moto does not show.
    pub parameters: super::rds_parameters::State,
    /// Clusters restored from an instance's snapshot, and from which (ARN).
    pub restored_from: HashMap<String, String>,
    /// Instances restored from a snapshot, by the snapshot they came from.
    pub instance_restored_from: HashMap<String, String>,
    /// Restored instances whose master password RDS does not manage yet:
    /// RestoreDBInstanceFromDBSnapshot takes ManageMasterUserPassword for
    /// RDS for Oracle only (API reference), so an instance restored from a
    /// snapshot has no MasterUserSecret until ModifyDBInstance asks for one
    /// (moto copies the source's).
    unmanaged_password: std::collections::HashSet<String>,
}

/// A proxy's state beyond moto's: AWS takes minutes to make one, and
/// moto has no ModifyDBProxy, so what it changed is kept here.
#[derive(Default)]
struct Proxy {
    life: Life,
    /// Members of `<DBProxy>` ModifyDBProxy set, shown over moto's.
    changed: Vec<(&'static str, String)>,
    /// Registered targets (instance or cluster identifiers).
    targets: std::collections::BTreeSet<String>,
}

/// Members AWS reports on a DBInstanceAutomatedBackup that moto leaves out
/// ("DBInstanceAutomatedBackup", RDS API Reference,
/// https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBInstanceAutomatedBackup.html).
#[derive(Clone)]
struct Made {
    dbi_resource_id: String,
    allocated_storage: String,
    retention: String,
}

#[derive(Default)]
struct Life {
    /// A transitional status and until when it lasts.
    status: Option<(&'static str, Instant)>,
    last_storage_change: Option<Instant>,
}

impl Life {
    fn shown(&self, now: Instant) -> Option<&'static str> {
        self.status.filter(|(_, until)| *until > now).map(|(s, _)| s)
    }

    fn set(&mut self, status: &'static str, until: Instant) {
        self.status = Some((status, until));
    }
}

fn invalid_cluster_state(cluster: &str) -> Before {
    // "You can't modify the configuration of an Aurora DB cluster, or any of
    // its DB instances, while the cluster is stopped. You also can't add or
    // remove DB instances from the cluster" ("Stopping and starting an
    // Amazon Aurora DB cluster",
    // https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-cluster-stop-start.html).
    Before::Answer(Reply::query_error(
        400,
        "InvalidDBClusterStateFault",
        &format!("Db cluster {cluster} is in stopped state"),
    ))
}

/// Performance Insights is not offered on the smallest classes ("Amazon
/// RDS DB engine, Region, and instance class support for Performance
/// Insights" and its Aurora counterpart): RDS for MySQL and MariaDB on
/// db.t2/t3/t4g micro and small; Aurora MySQL on db.t2, db.t3 and
/// db.t4g micro and small.
pub fn performance_insights_unsupported(engine: &str, class: &str) -> bool {
    let small = ["micro", "small"].iter().any(|s| class.ends_with(s));
    let family = class.trim_start_matches("db.").split('.').next().unwrap_or("");
    match engine {
        "mysql" | "mariadb" => small && matches!(family, "t2" | "t3" | "t4g"),
        "aurora-mysql" => matches!(family, "t2" | "t3") || (family == "t4g" && small),
        _ => false,
    }
}

/// The `<DBInstance>` of `id` as moto has it.
async fn describe_instance(rules: &Rules, req: &Req, id: &str) -> Option<String> {
    let body = wire::form_body(&[
        ("Action", "DescribeDBInstances"),
        ("Version", "2014-10-31"),
        ("DBInstanceIdentifier", id),
    ]);
    match rules.upstream(&req.with_body(body)).await {
        Ok((StatusCode::OK, body)) => {
            let text = String::from_utf8_lossy(&body).into_owned();
            wire::tag(&text, "DBInstance").map(str::to_string)
        }
        _ => None,
    }
}

pub async fn before(rules: &Rules, req: &Req, now: Instant) -> Before {
    if let Some(decided) = super::rds_parameters::before(rules, req, now).await {
        return decided;
    }
    let action = req.action();
    match action {
        "RebootDBInstance" => reboot_instance(rules, req, now).await,
        "RestoreDBClusterFromSnapshot" => restore_cluster(rules, req, now).await,
        "CreateDBInstance" => {
            if let Some(c) = req.param("DBClusterIdentifier") {
                if rules.state().rds.stopped.contains(c) {
                    return invalid_cluster_state(c);
                }
            }
            let enabled = req.param("EnablePerformanceInsights") == Some("true");
            let (engine, class) = (
                req.param("Engine").unwrap_or_default(),
                req.param("DBInstanceClass").unwrap_or_default(),
            );
            if enabled && performance_insights_unsupported(engine, class) {
                return pi_refused();
            }
            Before::Forward(None)
        }
        "ModifyDBInstance" => modify_instance(rules, req, now).await,
        "DeleteDBInstance" => delete_instance(rules, req, now).await,
        "StopDBInstance" => stop_instance(rules, req, now).await,
        "ModifyDBProxy" => modify_proxy(rules, req, now).await,
        "RegisterDBProxyTargets" => {
            let name = req.param("DBProxyName").unwrap_or_default();
            let asked = targets_of(req);
            let st = rules.state();
            let taken = st
                .rds
                .proxies
                .get(name)
                .is_some_and(|p| asked.iter().any(|t| p.targets.contains(t)));
            if taken {
                // "RegisterDBProxyTargets": a target can be registered once.
                return Before::Answer(Reply::query_error(
                    400,
                    "DBProxyTargetAlreadyRegisteredFault",
                    "The proxy is already associated with the specified RDS DB instance or Aurora DB cluster.",
                ));
            }
            Before::Forward(None)
        }
        "CreateDBInstanceReadReplica" => create_replica(rules, req, now).await,
        "ModifyDBCluster" | "DeleteDBCluster" => {
            let c = req.param("DBClusterIdentifier").unwrap_or_default();
            if rules.state().rds.stopped.contains(c) {
                return invalid_cluster_state(c);
            }
            if req.action() == "DeleteDBCluster" && req.param("DeleteAutomatedBackups") != Some("false") {
                return delete_cluster(rules, req, c).await;
            }
            Before::Forward(None)
        }
        _ => Before::Forward(None),
    }
}

fn pi_refused() -> Before {
    Before::Answer(Reply::query_error(
        400,
        "InvalidParameterCombination",
        "Performance Insights not supported for this configuration.",
    ))
}

async fn modify_instance(rules: &Rules, req: &Req, now: Instant) -> Before {
    let id = req.param("DBInstanceIdentifier").unwrap_or_default().to_string();
    {
        let st = rules.state();
        if let Some(s) = st.rds.instances.get(&id).and_then(|l| l.shown(now)) {
            return Before::Answer(Reply::query_error(
                400,
                "InvalidDBInstanceState",
                &format!("Database instance {id} is in {s} state and cannot be modified."),
            ));
        }
    }
    let Some(current) = describe_instance(rules, req, &id).await else {
        return Before::Forward(None);
    };
    if let Some(c) = wire::tag(&current, "DBClusterIdentifier") {
        if rules.state().rds.stopped.contains(c) {
            return invalid_cluster_state(c);
        }
    }
    if req.param("EnablePerformanceInsights") == Some("true") {
        let engine = wire::tag(&current, "Engine").unwrap_or_default();
        let class = req
            .param("DBInstanceClass")
            .or(wire::tag(&current, "DBInstanceClass"))
            .unwrap_or_default();
        if performance_insights_unsupported(engine, class) {
            return pi_refused();
        }
    }
    if let Some(wanted) = req.param("AllocatedStorage").and_then(|s| s.parse::<u64>().ok()) {
        let have: u64 = wire::tag(&current, "AllocatedStorage")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        // "When you increase the allocated storage, it must be by at least
        // 10 percent ... You can't make further storage modifications for
        // either six (6) hours or until storage optimization has completed"
        // ("Working with storage for Amazon RDS DB instances",
        // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.StorageTypes.html).
        if wanted != have {
            let cooling = rules.state().rds.instances.get(&id).and_then(|l| l.last_storage_change);
            if cooling.is_some_and(|t| now.duration_since(t) < rules.settings.model(6.0 * 60.0)) {
                return Before::Answer(Reply::query_error(
                    400,
                    "InvalidParameterCombination",
                    "You can't currently modify the storage of this DB instance because the previous storage change is being optimized.",
                ));
            }
            if wanted > have && wanted * 10 < have * 11 {
                return Before::Answer(Reply::query_error(
                    400,
                    "InvalidParameterCombination",
                    "The allocated storage must be increased by at least 10 percent.",
                ));
            }
        }
    }
    if let Some(refused) = super::rds_parameters::modify_instance(rules, req, &current).await {
        return refused;
    }
    Before::Forward(None)
}

/// DeleteDBCluster removes the cluster's automated backups unless told not
/// to ("DeleteAutomatedBackups: the default is to remove automated backups
/// immediately after the DB cluster is deleted", DeleteDBCluster API
/// reference); moto keeps them, and a cluster restored under the same name
/// within the minute would clash with them.
async fn delete_cluster(rules: &Rules, req: &Req, cluster: &str) -> Before {
    let answer = match rules.upstream(req).await {
        Ok((status, body)) => (status, body),
        Err(e) => return Before::Answer(Reply::query_error(500, "InternalFailure", &e)),
    };
    if answer.0 == StatusCode::OK {
        let list = wire::form_body(&[
            ("Action", "DescribeDBClusterSnapshots"),
            ("Version", "2014-10-31"),
            ("DBClusterIdentifier", cluster),
            ("SnapshotType", "automated"),
        ]);
        if let Ok((StatusCode::OK, body)) = rules.upstream(&req.with_body(list)).await {
            let text = String::from_utf8_lossy(&body).into_owned();
            let mut names = Vec::new();
            wire::map_blocks(&text, "DBClusterSnapshot", |block| {
                if let Some(n) = wire::tag(block, "DBClusterSnapshotIdentifier").filter(|n| n.starts_with("rds:")) {
                    names.push(n.to_string());
                }
                block.to_string()
            });
            for n in names {
                let delete = wire::form_body(&[
                    ("Action", "DeleteDBClusterSnapshot"),
                    ("Version", "2014-10-31"),
                    ("DBClusterSnapshotIdentifier", &n),
                ]);
                let _ = rules.upstream(&req.with_body(delete)).await;
            }
        }
    }
    Before::Answer(Reply {
        status: answer.0,
        ..Reply::xml(answer.1)
    })
}

/// A snapshot by name, as DescribeDBSnapshots (`cluster = false`) or
/// DescribeDBClusterSnapshots show it: its XML block.
async fn snapshot_block(rules: &Rules, req: &Req, name: &str, cluster: bool) -> Option<String> {
    let (action, param, block) = if cluster {
        (
            "DescribeDBClusterSnapshots",
            "DBClusterSnapshotIdentifier",
            "DBClusterSnapshot",
        )
    } else {
        ("DescribeDBSnapshots", "DBSnapshotIdentifier", "DBSnapshot")
    };
    let body = wire::form_body(&[("Action", action), ("Version", "2014-10-31"), (param, name)]);
    match rules.upstream(&req.with_body(body)).await {
        Ok((StatusCode::OK, body)) => {
            let text = String::from_utf8_lossy(&body).into_owned();
            wire::tag(&text, block).map(str::to_string)
        }
        _ => None,
    }
}

/// RestoreDBClusterFromSnapshot, which moto cannot do for an RDS
/// instance's snapshot (it restores cluster snapshots only), nor for a
/// snapshot of a cluster whose master password RDS manages (moto answers
/// 500, KeyError `_master_user_password`): the cluster is made in moto with
/// the snapshot's engine user, and its source is recorded. AWS refuses a
/// snapshot that is not available, or of an engine the Aurora engine cannot
/// take ("Migrating data from an RDS for PostgreSQL DB instance to an
/// Aurora PostgreSQL DB cluster by using an RDS snapshot"; "Migrating an
/// RDS for MySQL snapshot to Aurora"; "Restoring from a DB cluster
/// snapshot": the same engine).
async fn restore_cluster(rules: &Rules, req: &Req, now: Instant) -> Before {
    let given = req.param("SnapshotIdentifier").unwrap_or_default().to_string();
    let name = given.rsplit(':').next().unwrap_or_default().to_string();
    let (snapshot, of_cluster) = match snapshot_block(rules, req, &name, false).await {
        Some(s) => (s, false),
        None => match snapshot_block(rules, req, &name, true).await {
            Some(s) => (s, true),
            None => return Before::Forward(None),
        },
    };
    if wire::tag(&snapshot, "Status") != Some("available") {
        return Before::Answer(Reply::query_error(
            400,
            "InvalidDBSnapshotState",
            &format!("Snapshot {name} is not available."),
        ));
    }
    let source_engine = wire::tag(&snapshot, "Engine").unwrap_or_default();
    let engine = req.param("Engine").unwrap_or_default();
    let fits = if of_cluster {
        source_engine == engine
    } else {
        matches!(
            (source_engine, engine),
            ("postgres", "aurora-postgresql") | ("mysql", "aurora-mysql")
        )
    };
    let source_major = wire::tag(&snapshot, "EngineVersion")
        .unwrap_or_default()
        .split('.')
        .next()
        .unwrap_or_default()
        .to_string();
    let major = req
        .param("EngineVersion")
        .unwrap_or_default()
        .split('.')
        .next()
        .unwrap_or_default()
        .to_string();
    if !fits || source_major != major {
        return Before::Answer(Reply::query_error(
            400,
            "InvalidParameterCombination",
            &format!("The snapshot of {source_engine} {source_major} cannot be restored into {engine} {major}."),
        ));
    }
    let mut fields: Vec<(String, String)> = req
        .form
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "Action" | "SnapshotIdentifier"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    fields.push(("Action".into(), "CreateDBCluster".into()));
    fields.push((
        "MasterUsername".into(),
        wire::tag(&snapshot, "MasterUsername").unwrap_or("admin").to_string(),
    ));
    // The snapshot's password carries over on AWS; moto needs one given.
    fields.push(("MasterUserPassword".into(), "restored-from-snapshot".into()));
    fields.push(("StorageEncrypted".into(), "true".into()));
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let made = match rules.upstream(&req.with_body(wire::form_body(&pairs))).await {
        Ok((StatusCode::OK, body)) => String::from_utf8_lossy(&body).into_owned(),
        Ok((status, body)) => {
            return Before::Answer(Reply {
                status,
                ..Reply::xml(body)
            })
        }
        Err(e) => return Before::Answer(Reply::query_error(500, "InternalFailure", &e)),
    };
    let cluster = req.param("DBClusterIdentifier").unwrap_or_default().to_string();
    let arn = wire::tag(
        &snapshot,
        if of_cluster {
            "DBClusterSnapshotArn"
        } else {
            "DBSnapshotArn"
        },
    )
    .unwrap_or(&given)
    .to_string();
    {
        let mut st = rules.state();
        st.rds.restored_from.insert(cluster.clone(), arn);
        // A restore takes a while: about as long as making a cluster, and more with data.
        st.rds
            .clusters
            .entry(cluster)
            .or_default()
            .set("creating", now + rules.settings.model(5.0));
    }
    let block = wire::tag(&made, "DBCluster").unwrap_or_default();
    let shown = wire::set_tag(block, "Status", "creating");
    Before::Answer(Reply::xml(Bytes::from(format!(
        "<RestoreDBClusterFromSnapshotResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><RestoreDBClusterFromSnapshotResult><DBCluster>{shown}</DBCluster></RestoreDBClusterFromSnapshotResult><ResponseMetadata><RequestId>aws-rules</RequestId></ResponseMetadata></RestoreDBClusterFromSnapshotResponse>"
    ))))
}

/// RebootDBInstance: refused while the instance is busy ("Rebooting a DB
/// instance": it must be available), and ForceFailover only on Multi-AZ.
async fn reboot_instance(rules: &Rules, req: &Req, now: Instant) -> Before {
    let id = req.param("DBInstanceIdentifier").unwrap_or_default().to_string();
    if let Some(s) = rules.state().rds.instances.get(&id).and_then(|l| l.shown(now)) {
        return invalid_instance_state(&format!(
            "Database instance {id} is in {s} state and cannot be rebooted."
        ));
    }
    let Some(current) = describe_instance(rules, req, &id).await else {
        return Before::Forward(None);
    };
    if wire::tag(&current, "DBInstanceStatus") != Some("available") {
        return invalid_instance_state(&format!("Database instance {id} is not available."));
    }
    super::rds_parameters::reboot_refused(&current, req).unwrap_or(Before::Forward(None))
}

/// The instance or cluster identifiers of a (De)RegisterDBProxyTargets call.
fn targets_of(req: &Req) -> Vec<String> {
    req.form
        .iter()
        .filter(|(k, _)| {
            k.starts_with("DBInstanceIdentifiers.member.") || k.starts_with("DBClusterIdentifiers.member.")
        })
        .map(|(_, v)| v.clone())
        .collect()
}

/// ModifyDBProxy, which moto lacks: refused while the proxy is being made
/// or changed, answered with the proxy as it now is ("ModifyDBProxy", RDS
/// API Reference, https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBProxy.html).
async fn modify_proxy(rules: &Rules, req: &Req, now: Instant) -> Before {
    let name = req.param("DBProxyName").unwrap_or_default().to_string();
    let described = rules
        .upstream(&req.with_body(wire::form_body(&[
            ("Action", "DescribeDBProxies"),
            ("Version", "2014-10-31"),
            ("DBProxyName", &name),
        ])))
        .await;
    let Ok((StatusCode::OK, body)) = described else {
        return Before::Answer(Reply::query_error(
            404,
            "DBProxyNotFoundFault",
            &format!("DBProxy {name} not found."),
        ));
    };
    let text = String::from_utf8_lossy(&body).into_owned();
    let Some(block) = proxies(&text).into_iter().next() else {
        return Before::Answer(Reply::query_error(
            404,
            "DBProxyNotFoundFault",
            &format!("DBProxy {name} not found."),
        ));
    };
    let mut st = rules.state();
    let proxy = st.rds.proxies.entry(name.clone()).or_default();
    if let Some(s) = proxy.life.shown(now) {
        return Before::Answer(Reply::query_error(
            400,
            "InvalidDBProxyStateFault",
            &format!("DBProxy {name} is in {s} state and cannot be modified."),
        ));
    }
    for (param, member) in [
        ("IdleClientTimeout", "IdleClientTimeout"),
        ("RequireTLS", "RequireTLS"),
        ("RoleArn", "RoleArn"),
        ("Auth.member.1.SecretArn", "SecretArn"),
    ] {
        if let Some(v) = req.param(param) {
            proxy.changed.retain(|(m, _)| *m != member);
            proxy.changed.push((member, v.to_string()));
        }
    }
    proxy.life.set("modifying", now + rules.settings.model(1.0));
    let shown = show_proxy(&block, proxy, now);
    let answer = format!(
        "<ModifyDBProxyResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><ModifyDBProxyResult><DBProxy>{shown}</DBProxy></ModifyDBProxyResult><ResponseMetadata><RequestId>aws-rules-{}</RequestId></ResponseMetadata></ModifyDBProxyResponse>",
        wire::request_id()
    );
    Before::Answer(Reply::xml(Bytes::from(answer)))
}

/// The `<member>` blocks of a DescribeDBProxies answer's `<DBProxies>`:
/// the outer ones only (a proxy's lists hold members of their own).
fn proxies(xml: &str) -> Vec<String> {
    member_spans(xml)
        .into_iter()
        .map(|(a, b)| xml[a..b].to_string())
        .collect()
}

/// Where each outer `<member>`'s content is in `<DBProxies>`.
fn member_spans(xml: &str) -> Vec<(usize, usize)> {
    let Some(start) = xml.find("<DBProxies>").map(|i| i + "<DBProxies>".len()) else {
        return vec![];
    };
    let end = xml[start..]
        .find("</DBProxies>")
        .map(|i| start + i)
        .unwrap_or(xml.len());
    let (open, close) = ("<member>", "</member>");
    let mut spans = Vec::new();
    let (mut depth, mut at, mut content) = (0usize, start, start);
    while at < end {
        let next_open = xml[at..end].find(open).map(|i| at + i);
        let next_close = xml[at..end].find(close).map(|i| at + i);
        match (next_open, next_close) {
            (Some(o), Some(c)) if o < c => {
                if depth == 0 {
                    content = o + open.len();
                }
                depth += 1;
                at = o + open.len();
            }
            (_, Some(c)) => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    spans.push((content, c));
                }
                at = c + close.len();
            }
            _ => break,
        }
    }
    spans
}

/// A `<DBProxy>` block as AWS would show it now.
fn show_proxy(block: &str, proxy: &Proxy, now: Instant) -> String {
    let mut shown = block.to_string();
    for (member, value) in &proxy.changed {
        shown = wire::set_tag(&shown, member, value);
    }
    if let Some(s) = proxy.life.shown(now) {
        shown = wire::set_tag(&shown, "Status", s);
    }
    shown
}

fn invalid_instance_state(message: &str) -> Before {
    Before::Answer(Reply::query_error(400, "InvalidDBInstanceState", message))
}

/// "You can't stop a DB instance that has a read replica, or that is a
/// read replica" ("Stopping an Amazon RDS DB instance temporarily",
/// limitations, https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_StopInstance.html);
/// nor one that is busy. moto stops it anyway.
async fn stop_instance(rules: &Rules, req: &Req, now: Instant) -> Before {
    let id = req.param("DBInstanceIdentifier").unwrap_or_default().to_string();
    if let Some(s) = rules.state().rds.instances.get(&id).and_then(|l| l.shown(now)) {
        return invalid_instance_state(&format!("Instance {id} is in {s} state and cannot be stopped."));
    }
    let Some(current) = describe_instance(rules, req, &id).await else {
        return Before::Forward(None);
    };
    if wire::tag(&current, "ReadReplicaDBInstanceIdentifiers")
        .is_some_and(|r| r.contains("ReadReplicaDBInstanceIdentifier"))
    {
        return invalid_instance_state(&format!("Cannot stop DB instance {id} because it has read replicas."));
    }
    if wire::tag(&current, "ReadReplicaSourceDBInstanceIdentifier").is_some() {
        return invalid_instance_state(&format!("Cannot stop DB instance {id} because it is a read replica."));
    }
    Before::Forward(None)
}

/// A replica is made from the source's automated backups, so the source
/// must have them and be available ("Working with DB instance read
/// replicas", https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.html:
/// "automatic backups must be turned on", "up to 15 read replicas").
async fn create_replica(rules: &Rules, req: &Req, now: Instant) -> Before {
    let source = req.param("SourceDBInstanceIdentifier").unwrap_or_default().to_string();
    if let Some(s) = rules.state().rds.instances.get(&source).and_then(|l| l.shown(now)) {
        return invalid_instance_state(&format!(
            "DB Instance {source} is in {s} state; a read replica can be made only of an available instance."
        ));
    }
    let Some(current) = describe_instance(rules, req, &source).await else {
        return Before::Forward(None);
    };
    if wire::tag(&current, "BackupRetentionPeriod") == Some("0") {
        return invalid_instance_state("Automated backups are not enabled for this database instance. To enable automated backups, use ModifyDBInstance to set the backup retention period to a non-zero value.");
    }
    let replicas = wire::tag(&current, "ReadReplicaDBInstanceIdentifiers")
        .map(|r| r.matches("<ReadReplicaDBInstanceIdentifier>").count())
        .unwrap_or(0);
    if replicas >= 15 {
        return Before::Answer(Reply::query_error(
            400,
            "InstanceQuotaExceeded",
            &format!("DB Instance {source} already has 15 read replicas."),
        ));
    }
    Before::Forward(None)
}

async fn delete_instance(rules: &Rules, req: &Req, now: Instant) -> Before {
    let id = req.param("DBInstanceIdentifier").unwrap_or_default().to_string();
    let Some(current) = describe_instance(rules, req, &id).await else {
        return Before::Forward(None);
    };
    if let Some(c) = wire::tag(&current, "DBClusterIdentifier") {
        if rules.state().rds.stopped.contains(c) {
            return invalid_cluster_state(c);
        }
    }
    // Refused at once, before anything is deleted ("Deleting a DB
    // instance": deletion protection must be turned off first).
    if wire::tag(&current, "DeletionProtection") == Some("true") {
        return Before::Answer(Reply::query_error(
            400,
            "InvalidParameterCombination",
            "Cannot delete protected DB Instance, please disable deletion protection and try again.",
        ));
    }
    // A database takes about five minutes to delete (DESIGN §8).
    let delay = rules.settings.model(5.0);
    rules
        .state()
        .rds
        .instances
        .entry(id)
        .or_default()
        .set("deleting", now + delay + Duration::from_secs(3600));
    let shown = wire::set_tag(&current, "DBInstanceStatus", "deleting");
    let answer = format!(
        "<DeleteDBInstanceResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><DeleteDBInstanceResult><DBInstance>{shown}</DBInstance></DeleteDBInstanceResult><ResponseMetadata><RequestId>aws-rules</RequestId></ResponseMetadata></DeleteDBInstanceResponse>"
    );
    Before::Later {
        answer: Reply::xml(Bytes::from(answer)),
        delay,
    }
}

pub fn after(settings: &Settings, st: &mut State, req: &Req, status: StatusCode, body: &mut Bytes, now: Instant) {
    if status != StatusCode::OK {
        return;
    }
    let action = req.action();
    let id = req.param("DBInstanceIdentifier").unwrap_or_default().to_string();
    let cluster = req.param("DBClusterIdentifier").unwrap_or_default().to_string();
    match action {
        // Single-AZ about 6 minutes, Multi-AZ about 15, an Aurora instance
        // about 8, an Aurora cluster about 2 (DESIGN §8).
        "CreateDBInstance" => {
            let minutes = if !cluster.is_empty() {
                8.0
            } else if req.param("MultiAZ") == Some("true") {
                15.0
            } else {
                6.0
            };
            st.instances
                .entry(id)
                .or_default()
                .set("creating", now + settings.model(minutes));
        }
        "ModifyDBInstance" => {
            if req.param("ManageMasterUserPassword") == Some("true") {
                st.unmanaged_password.remove(&id);
            }
            let life = st.instances.entry(id).or_default();
            let minutes = if req.param("MultiAZ") == Some("true") {
                10.0
            } else {
                2.0
            };
            life.set("modifying", now + settings.model(minutes));
            if req.param("AllocatedStorage").is_some() {
                life.last_storage_change = Some(now);
            }
        }
        // A restore copies the data from S3 before the instance is up:
        // longer than an empty create.
        "RestoreDBInstanceFromDBSnapshot" => {
            st.instances
                .entry(id.clone())
                .or_default()
                .set("creating", now + settings.model(10.0));
            st.unmanaged_password.insert(id.clone());
            st.instance_restored_from
                .insert(id, req.param("DBSnapshotIdentifier").unwrap_or_default().to_string());
        }
        // A replica is restored from a snapshot of the source: about as long
        // as a single-AZ instance takes to create.
        "CreateDBInstanceReadReplica" => st
            .instances
            .entry(id)
            .or_default()
            .set("creating", now + settings.model(6.0)),
        // A proxy takes a few minutes to become available.
        "CreateDBProxy" => {
            let name = req.param("DBProxyName").unwrap_or_default().to_string();
            let proxy = st.proxies.entry(name).or_default();
            *proxy = Proxy::default();
            proxy.life.set("creating", now + settings.model(3.0));
        }
        "DeleteDBProxy" => {
            st.proxies.remove(req.param("DBProxyName").unwrap_or_default());
        }
        "RegisterDBProxyTargets" => {
            let name = req.param("DBProxyName").unwrap_or_default().to_string();
            st.proxies.entry(name).or_default().targets.extend(targets_of(req));
        }
        "DeregisterDBProxyTargets" => {
            if let Some(p) = st.proxies.get_mut(req.param("DBProxyName").unwrap_or_default()) {
                for t in targets_of(req) {
                    p.targets.remove(&t);
                }
            }
        }
        "StopDBInstance" => st
            .instances
            .entry(id)
            .or_default()
            .set("stopping", now + settings.model(3.0)),
        // About a minute; with a failover, about as long.
        "RebootDBInstance" => {
            super::rds_parameters::rebooted(&mut st.parameters, &id);
            st.instances
                .entry(id)
                .or_default()
                .set("rebooting", now + settings.model(1.0));
        }
        "StartDBInstance" => st
            .instances
            .entry(id)
            .or_default()
            .set("starting", now + settings.model(5.0)),
        "CreateDBCluster" => st
            .clusters
            .entry(cluster)
            .or_default()
            .set("creating", now + settings.model(2.0)),
        "ModifyDBCluster" => st
            .clusters
            .entry(cluster)
            .or_default()
            .set("modifying", now + settings.model(1.0)),
        "StopDBCluster" => {
            st.stopped.insert(cluster.clone());
            st.clusters
                .entry(cluster)
                .or_default()
                .set("stopping", now + settings.model(3.0));
        }
        "StartDBCluster" => {
            st.stopped.remove(&cluster);
            st.clusters
                .entry(cluster)
                .or_default()
                .set("starting", now + settings.model(5.0));
        }
        _ => {}
    }
    let Ok(text) = std::str::from_utf8(body) else { return };
    if action == "CreateDBInstance" {
        let made = Made {
            dbi_resource_id: wire::tag(text, "DbiResourceId").unwrap_or_default().to_string(),
            allocated_storage: wire::tag(text, "AllocatedStorage").unwrap_or("0").to_string(),
            retention: wire::tag(text, "BackupRetentionPeriod").unwrap_or("1").to_string(),
        };
        st.made
            .insert(req.param("DBInstanceIdentifier").unwrap_or_default().to_string(), made);
    }
    let shown = match action {
        "DescribeDBInstanceAutomatedBackups" => wire::map_blocks(text, "DBInstanceAutomatedBackup", |block| {
            let id = wire::tag(block, "DBInstanceIdentifier").unwrap_or_default();
            match st.made.get(id) {
                Some(m) if wire::tag(block, "DbiResourceId").is_none() => format!(
                    "{block}<DbiResourceId>{}</DbiResourceId><AllocatedStorage>{}</AllocatedStorage><BackupRetentionPeriod>{}</BackupRetentionPeriod>",
                    m.dbi_resource_id, m.allocated_storage, m.retention
                ),
                _ => block.to_string(),
            }
        }),
        "CreateDBInstance"
        | "RestoreDBInstanceFromDBSnapshot"
        | "CreateDBInstanceReadReplica"
        | "ModifyDBInstance"
        | "DescribeDBInstances"
        | "StopDBInstance"
        | "RebootDBInstance"
        | "StartDBInstance" => wire::map_blocks(text, "DBInstance", |block| {
            let id = wire::tag(block, "DBInstanceIdentifier").unwrap_or_default();
            let mut block = super::rds_parameters::show_instance(&st.parameters, block);
            if st.unmanaged_password.contains(id) {
                block = without(&block, "MasterUserSecret");
            }
            match st.instances.get(id).and_then(|l| l.shown(now)) {
                Some(s) => wire::set_tag(&block, "DBInstanceStatus", s),
                None => block,
            }
        }),
        "DescribeDBParameters" | "DescribeDBClusterParameters" => {
            match super::rds_parameters::show_parameters(&st.parameters, req, text) {
                Some(shown) => shown,
                None => return,
            }
        }
        "CreateDBProxy" => wire::map_blocks(text, "DBProxy", |block| {
            let name = wire::tag(block, "DBProxyName").unwrap_or_default();
            match st.proxies.get(name) {
                Some(p) => show_proxy(block, p, now),
                None => block.to_string(),
            }
        }),
        "DescribeDBProxies" => {
            let mut shown = String::new();
            let mut last = 0;
            for (a, b) in member_spans(text) {
                let block = &text[a..b];
                let name = wire::tag(block, "DBProxyName").unwrap_or_default();
                shown.push_str(&text[last..a]);
                shown.push_str(&match st.proxies.get(name) {
                    Some(p) => show_proxy(block, p, now),
                    None => block.to_string(),
                });
                last = b;
            }
            shown.push_str(&text[last..]);
            shown
        }
        "CreateDBCluster" | "ModifyDBCluster" | "DescribeDBClusters" | "StopDBCluster" | "StartDBCluster" => {
            wire::map_blocks(text, "DBCluster", |block| {
                let id = wire::tag(block, "DBClusterIdentifier").unwrap_or_default();
                let block = super::rds_parameters::show_cluster(&st.parameters, block);
                match st.clusters.get(id).and_then(|l| l.shown(now)) {
                    Some(s) => wire::set_tag(&block, "Status", s),
                    None => block,
                }
            })
        }
        _ => return,
    };
    *body = Bytes::from(shown);
}

/// An XML block without its `<tag>…</tag>` member.
fn without(block: &str, tag: &str) -> String {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    match (block.find(&open), block.find(&close)) {
        (Some(a), Some(b)) if a < b => format!("{}{}", &block[..a], &block[b + close.len()..]),
        _ => block.to_string(),
    }
}
