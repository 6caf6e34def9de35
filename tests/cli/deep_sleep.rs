//! Sleeping over a longer break: `sleep --deep` deletes the cluster (after
//! sweeping what Kubernetes made), `--snapshot` the database after a
//! snapshot the wake restores it from; AWS's 7-day restart of a stopped
//! database is refused, recorded and shown when it has happened.

use crate::support::*;

fn json_of(t: &Scenario, args: &[&str]) -> serde_json::Value {
    let out = t.ok(args);
    let start = out.find('{').unwrap_or_else(|| panic!("no JSON in:\n{out}"));
    let mut de = serde_json::Deserializer::from_str(&out[start..]).into_iter::<serde_json::Value>();
    de.next().unwrap().unwrap()
}

fn status(t: &Scenario) -> serde_json::Value {
    json_of(t, &["status", "--env", "mvp", "--json"])
}

fn hourly(status: &serde_json::Value) -> f64 {
    status["cost"]["hourly_usd"].as_f64().unwrap()
}

/// The form body of a query-protocol request, decoded.
fn form(body: &[u8]) -> std::collections::HashMap<String, String> {
    url_form(std::str::from_utf8(body).unwrap_or(""))
}

fn url_form(s: &str) -> std::collections::HashMap<String, String> {
    s.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let v = v.replace('+', " ");
            (
                k.to_string(),
                percent_encoding::percent_decode_str(&v)
                    .decode_utf8_lossy()
                    .into_owned(),
            )
        })
        .collect()
}

/// Requests since `from` with action `action`, their form bodies.
fn since(t: &Scenario, from: usize, action: &str) -> Vec<std::collections::HashMap<String, String>> {
    t.proxy.requests()[from..]
        .iter()
        .filter(|(a, _)| a == action)
        .map(|(_, b)| form(b))
        .collect()
}

fn cluster_exists(aws: &Independent, name: &str) -> bool {
    aws.block_on(aws.eks.describe_cluster().name(name).send()).is_ok()
}

fn snapshot_exists(aws: &Independent, name: &str) -> bool {
    aws.block_on(aws.rds.describe_db_snapshots().db_snapshot_identifier(name).send())
        .is_ok_and(|o| !o.db_snapshots().is_empty())
}

#[test]
fn a_deep_sleep_keeps_only_storage_and_the_wake_restores_the_same_database() {
    require_emulator();
    let t = Scenario::from_sample("learning", "dsl");
    let (name, region) = (t.p.name.clone(), "ap-northeast-1");
    let db = format!("{name}-db");
    t.ok(&["apply", "--env", "mvp", "--yes"]);
    let aws = Independent::new(region);
    let seen = t.aws(region);
    let old_secret = seen
        .block_on(seen.rds.describe_db_instances().db_instance_identifier(&db).send())
        .unwrap()
        .db_instances()[0]
        .master_user_secret()
        .and_then(|s| s.secret_arn())
        .map(str::to_string)
        .expect("a managed master secret");
    let awake = hourly(&status(&t));

    let out = t.ok(&["sleep", "--env", "mvp", "--deep", "--snapshot", "--for", "14", "--yes"]);
    assert!(out.contains("Workloads are not kept"), "{out}");
    assert!(out.contains("kubectl apply"), "says what to re-apply:\n{out}");
    assert!(out.contains("% of awake"), "{out}");

    // Only the network, the database's subnet group and security group, the
    // cluster's role and the snapshot are left.
    let s = status(&t);
    assert_eq!(s["sleeping"], true, "{s}");
    assert_eq!(s["sleep"]["depth"], "deep-snapshot", "{s}");
    assert!(
        s["sleep"].get("database_restarts").is_none(),
        "a deleted database does not restart: {s}"
    );
    assert!(s["sleep"]["until"].is_string(), "{s}");
    let snapshot = s["sleep"]["snapshot"].as_str().unwrap().to_string();
    assert!(snapshot.starts_with(&format!("{db}-sleep-")), "{snapshot}");
    assert!(snapshot_exists(&aws, &snapshot), "{snapshot}");
    assert!(aws.db_instance(&db).is_none(), "the database is deleted");
    assert!(!cluster_exists(&aws, &name), "the cluster is deleted");
    assert!(aws.nat_gateways(&name).is_empty() && aws.addresses(&name).is_empty());
    assert_eq!(aws.vpcs(&name).len(), 1, "the network stays");
    let asleep = hourly(&s);
    assert!(asleep > 0.0, "the snapshot bills: {s}");
    assert!(
        asleep <= 0.05 * awake,
        "asleep ${asleep}/h is more than 5% of awake ${awake}/h"
    );
    let lines: Vec<&str> = s["cost"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["description"].as_str().unwrap())
        .collect();
    assert_eq!(lines, ["Snapshot storage 20 GiB"], "only storage bills: {s}");

    // The plan of the file restores the database, never makes it empty.
    let (_, plan, err) = t.run(&["plan", "--env", "mvp"]);
    assert!(
        plan.contains(&format!("restored from its sleep snapshot {snapshot}")),
        "{plan}{err}"
    );
    assert!(plan.contains("Asleep since"), "{plan}");
    let again = t.ok(&["sleep", "--env", "mvp", "--deep", "--snapshot", "--yes"]);
    assert!(again.contains("Already asleep"), "{again}");

    let before_wake = t.proxy.requests().len();
    let woke = t.ok(&["wake", "--env", "mvp", "--yes"]);
    assert!(
        woke.contains(&format!("sleep snapshot {snapshot} is deleted")),
        "{woke}"
    );
    let restores = since(&t, before_wake, "RestoreDBInstanceFromDBSnapshot");
    assert_eq!(restores.len(), 1, "one restore");
    assert_eq!(restores[0]["DBSnapshotIdentifier"], snapshot);
    assert_eq!(restores[0]["DBInstanceIdentifier"], db);
    assert!(
        since(&t, before_wake, "CreateDBInstance").is_empty(),
        "never made empty"
    );
    assert_eq!(
        t.proxy.rules().unwrap().instance_restored_from(&db).as_deref(),
        Some(snapshot.as_str())
    );
    assert!(
        since(&t, before_wake, "ModifyDBInstance")
            .iter()
            .any(|f| f.get("ManageMasterUserPassword").map(String::as_str) == Some("true")),
        "the restored instance gets a managed password again"
    );
    let new_secret = seen
        .block_on(seen.rds.describe_db_instances().db_instance_identifier(&db).send())
        .unwrap()
        .db_instances()[0]
        .master_user_secret()
        .and_then(|s| s.secret_arn())
        .map(str::to_string)
        .expect("a managed master secret after the wake");
    assert_ne!(new_secret, old_secret, "the restored database's secret is new");
    let proxy_secret = t.ok(&["output", "--env", "mvp", "--json"]);
    assert!(
        proxy_secret.contains(&new_secret),
        "output follows the new secret:\n{proxy_secret}"
    );
    assert!(
        !snapshot_exists(&aws, &snapshot),
        "the sleep snapshot is deleted once the database is back"
    );
    assert!(cluster_exists(&aws, &name));
    t.converged("mvp");
    let s = status(&t);
    assert_eq!(s["sleeping"], false, "{s}");
    assert!((hourly(&s) - awake).abs() < 1e-6, "{s}");

    // Destroyed while asleep, the sleep snapshot is the final snapshot.
    t.ok(&["sleep", "--env", "mvp", "--deep", "--snapshot", "--yes"]);
    let second = status(&t)["sleep"]["snapshot"].as_str().unwrap().to_string();
    let out = t.ok(&["destroy", "--env", "mvp", "--yes"]);
    assert!(
        out.contains(&second),
        "the destroy lists the sleep snapshot it keeps:\n{out}"
    );
    assert!(snapshot_exists(&aws, &second));
    assert!(
        aws.tagged_leftovers(&name).is_empty(),
        "{:?}",
        aws.tagged_leftovers(&name)
    );
    aws.block_on(aws.rds.delete_db_snapshot().db_snapshot_identifier(&second).send())
        .unwrap();
}

#[test]
fn a_stopped_database_restarts_after_seven_days_and_status_says_so() {
    require_emulator();
    let t = Scenario::from_sample("learning", "sv7");
    let db = format!("{}-db", t.p.name);

    // Refused before any AWS call.
    for (args, needle) in [
        (&["--for", "8"][..], "after 7 days"),
        (&["--deep", "--for", "8"][..], "--deep --snapshot"),
    ] {
        let mut all = vec!["sleep", "--env", "mvp", "--yes"];
        all.extend(args);
        let (code, out, err) = t.run(&all);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    for (args, needle) in [(&["--snapshot"][..], "--deep"), (&["--for", "0"][..], "--for")] {
        let mut all = vec!["sleep", "--env", "mvp", "--yes"];
        all.extend(args);
        let (code, out, err) = t.run(&all);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert!(t.proxy.requests().is_empty(), "{:?}", t.proxy.actions());

    t.ok(&["apply", "--env", "mvp", "--yes"]);
    t.ok(&["sleep", "--env", "mvp", "--for", "5", "--yes"]);
    let s = status(&t);
    let since = s["sleep"]["since"].as_str().unwrap();
    let restarts = s["sleep"]["database_restarts"].as_str().unwrap();
    let fmt = &time::format_description::well_known::Rfc3339;
    let days = time::OffsetDateTime::parse(restarts, fmt).unwrap() - time::OffsetDateTime::parse(since, fmt).unwrap();
    assert_eq!(days, time::Duration::days(7), "{s}");
    let until = time::OffsetDateTime::parse(s["sleep"]["until"].as_str().unwrap(), fmt).unwrap();
    assert_eq!(
        until - time::OffsetDateTime::parse(since, fmt).unwrap(),
        time::Duration::days(5)
    );
    let (_, text, _) = t.run(&["status", "--env", "mvp"]);
    assert!(
        text.contains(&format!("AWS starts the stopped database again on {restarts}")),
        "{text}"
    );

    // AWS starts it again after seven days.
    let aws = Independent::new("ap-northeast-1");
    aws.block_on(aws.rds.start_db_instance().db_instance_identifier(&db).send())
        .unwrap();
    let s = status(&t);
    assert_eq!(s["sleep"]["database_restarted"], true, "{s}");
    let (_, text, _) = t.run(&["status", "--env", "mvp"]);
    assert!(text.contains("awake again, billing"), "{text}");
    let (_, plan, _) = t.run(&["plan", "--env", "mvp"]);
    assert!(plan.contains("awake again, billing"), "{plan}");

    // Sleeping again stops it again.
    t.ok(&["sleep", "--env", "mvp", "--yes"]);
    assert_eq!(aws.db_instance(&db).unwrap().db_instance_status(), Some("stopped"));
    let s = status(&t);
    assert!(s["sleep"].get("database_restarted").is_none(), "{s}");
    t.ok(&["wake", "--env", "mvp", "--yes"]);
    t.converged("mvp");
    assert_eq!(t.p.destroy("mvp").0, 0);
}

#[test]
fn an_aurora_cluster_sleeps_in_a_cluster_snapshot_and_comes_back_from_it() {
    require_emulator();
    let t = Scenario::from_sample("aurora", "dsa");
    let (name, region) = (t.p.name.clone(), "eu-west-1");
    let db = format!("{name}-db");
    t.ok(&["apply", "--env", "mvp", "--yes"]);
    let aws = Independent::new(region);

    t.ok(&["sleep", "--env", "mvp", "--deep", "--snapshot", "--yes"]);
    let s = status(&t);
    let snapshot = s["sleep"]["snapshot"].as_str().unwrap().to_string();
    let found = aws
        .block_on(
            aws.rds
                .describe_db_cluster_snapshots()
                .db_cluster_snapshot_identifier(&snapshot)
                .send(),
        )
        .unwrap();
    assert_eq!(found.db_cluster_snapshots().len(), 1, "a cluster snapshot {snapshot}");
    let clusters = aws
        .block_on(aws.rds.describe_db_clusters().db_cluster_identifier(&db).send())
        .map(|o| o.db_clusters().len())
        .unwrap_or(0);
    assert_eq!(clusters, 0, "the cluster is deleted");

    let before_wake = t.proxy.requests().len();
    t.ok(&["wake", "--env", "mvp", "--yes"]);
    let restores = since(&t, before_wake, "RestoreDBClusterFromSnapshot");
    assert_eq!(restores.len(), 1);
    assert_eq!(restores[0]["SnapshotIdentifier"], snapshot);
    assert!(since(&t, before_wake, "CreateDBCluster").is_empty(), "never made empty");
    t.converged("mvp");
    let gone = aws
        .block_on(
            aws.rds
                .describe_db_cluster_snapshots()
                .db_cluster_snapshot_identifier(&snapshot)
                .send(),
        )
        .map(|o| o.db_cluster_snapshots().is_empty())
        .unwrap_or(true);
    assert!(gone, "the sleep snapshot is deleted once the cluster is back");
    assert_eq!(t.p.destroy("mvp").0, 0);
}
