//! Custom parameter groups (`[database.parameters]`), through a rules proxy
//! of the test's own that serves what moto lacks (the engine defaults,
//! resets, pending reboots), checked with an independent client.

use std::collections::HashMap;

use crate::rules::wire;
use crate::support::*;

const PARAMETERS: &str = r#"
[database.parameters]
"rds.force_ssl" = 1
log_min_duration_statement = 500
shared_preload_libraries = "pg_stat_statements,auto_explain"
"#;

fn db_stack(name_extra: &str, parameters: &str) -> String {
    format!(
        r#"[stack]
name = "pg"
region = "ap-northeast-1"

[network]
azs = 3

[database]
engine = "postgres"
version = "16"
multi_az = true
{name_extra}
{parameters}"#
    )
}

/// The requests of `action` the proxy saw, as their form fields.
fn forms(t: &Scenario, action: &str) -> Vec<HashMap<String, String>> {
    t.proxy
        .requests()
        .iter()
        .filter(|(a, _)| a == action)
        .map(|(_, b)| wire::form(b))
        .collect()
}

/// (family, parameters set) of a DB parameter group, or `None` if gone.
fn group(aws: &Independent, name: &str) -> Option<(String, HashMap<String, String>)> {
    let g = aws
        .block_on(
            aws.rds
                .describe_db_parameter_groups()
                .db_parameter_group_name(name)
                .send(),
        )
        .ok()?;
    let family = g
        .db_parameter_groups()
        .first()?
        .db_parameter_group_family()?
        .to_string();
    let p = aws
        .block_on(
            aws.rds
                .describe_db_parameters()
                .db_parameter_group_name(name)
                .source("user")
                .send(),
        )
        .unwrap();
    let values = p
        .parameters()
        .iter()
        .filter_map(|p| Some((p.parameter_name()?.to_string(), p.parameter_value()?.to_string())))
        .collect();
    Some((family, values))
}

/// The group an instance uses and its `ParameterApplyStatus`.
fn uses(aws: &Independent, id: &str) -> (String, String) {
    let d = aws.db_instance(id).expect("the instance exists");
    let g = d.db_parameter_groups().first().expect("a parameter group");
    (
        g.db_parameter_group_name().unwrap().to_string(),
        g.parameter_apply_status().unwrap().to_string(),
    )
}

/// A PostgreSQL instance (Multi-AZ, one replica) on a custom group of
/// family postgres16: made with the file's values; a static and a dynamic
/// change are planned one row each; without `--reboot` the instance and
/// its replica are left pending a reboot, which plan and status report;
/// `apply --reboot` reboots them (the primary with a failover); a major
/// upgrade to 17 moves to a postgres17 group with the same values and
/// deletes the old; a name PostgreSQL has not got is refused at plan time
/// with the closest one; removing the table returns the instance to the
/// default group and deletes the custom one.
#[test]
fn parameter_groups_are_diffed_one_by_one_wait_for_a_reboot_and_follow_a_major_upgrade() {
    require_emulator();
    let t = Scenario::new(&db_stack("replicas = 1", PARAMETERS), "pgrp");
    // The file as written: no overlay's multi_az or class.
    t.p.write_env("asis", "# no overrides\n");
    let name = t.p.name.clone();
    let (db, replica) = (format!("{name}-db"), format!("{name}-db-replica-1"));
    let (g16, g17) = (format!("{name}-postgres16"), format!("{name}-postgres17"));
    t.ok(&["apply", "--env", "asis", "--yes"]);
    let aws = t.aws("ap-northeast-1");
    let (family, values) = group(&aws, &g16).expect("the group exists");
    assert_eq!(family, "postgres16");
    assert_eq!(values["rds.force_ssl"], "1", "a TOML integer, as RDS stores it");
    assert_eq!(values["log_min_duration_statement"], "500");
    assert_eq!(values["shared_preload_libraries"], "pg_stat_statements,auto_explain");
    assert_eq!(values.len(), 3);
    assert_eq!(uses(&aws, &db), (g16.clone(), "in-sync".into()));
    assert_eq!(uses(&aws, &replica).0, g16, "the replica runs the primary's group");
    let modify = forms(&t, "ModifyDBParameterGroup");
    let method = |f: &HashMap<String, String>, name: &str| {
        (1..=20).find_map(|n| {
            (f.get(&format!("Parameters.Parameter.{n}.ParameterName"))? == name)
                .then(|| f[&format!("Parameters.Parameter.{n}.ApplyMethod")].clone())
        })
    };
    assert_eq!(
        method(&modify[0], "shared_preload_libraries").as_deref(),
        Some("pending-reboot"),
        "a static parameter can only wait for a reboot"
    );
    assert_eq!(
        method(&modify[0], "log_min_duration_statement").as_deref(),
        Some("immediate")
    );
    t.converged("asis");

    // A static and a dynamic change: one row each, and a reboot to come.
    let changed = PARAMETERS
        .replace("auto_explain\"", "auto_explain,pg_cron\"")
        .replace("= 500", "= 250");
    t.p.write_stack(&db_stack("replicas = 1", &changed));
    let plan = t.ok(&["plan", "--env", "asis"]);
    assert!(
        plan.contains("database.parameters.log_min_duration_statement: \"500\" → \"250\""),
        "{plan}"
    );
    assert!(plan.contains("dynamic: applies at once, no reboot"), "{plan}");
    assert!(plan.contains("static: applies at the next reboot"), "{plan}");
    t.ok(&["apply", "--env", "asis", "--yes"]);
    assert_eq!(group(&aws, &g16).unwrap().1["log_min_duration_statement"], "250");
    assert_eq!(uses(&aws, &db).1, "pending-reboot");
    assert_eq!(uses(&aws, &replica).1, "pending-reboot");
    assert!(forms(&t, "RebootDBInstance").is_empty(), "no reboot without --reboot");
    t.converged("asis");
    let plan = t.ok(&["plan", "--env", "asis"]);
    assert!(plan.contains("pending reboot"), "{plan}");
    let status = t.ok(&["status", "--env", "asis"]);
    assert!(status.contains("pending reboot"), "{status}");

    let plan = t.ok(&["plan", "--env", "asis", "--reboot"]);
    assert!(
        plan.contains("database.parameters: \"pending-reboot\" → \"in-sync\"  (rds:RebootDBInstance)"),
        "{plan}"
    );
    t.ok(&["apply", "--env", "asis", "--reboot", "--yes"]);
    let reboots = forms(&t, "RebootDBInstance");
    let failover = |id: &str| {
        reboots
            .iter()
            .find(|f| f["DBInstanceIdentifier"] == id)
            .map(|f| f.get("ForceFailover").cloned())
    };
    assert_eq!(failover(&db), Some(Some("true".into())), "Multi-AZ fails over");
    assert_eq!(failover(&replica), Some(None), "a replica just restarts");
    assert_eq!(uses(&aws, &db).1, "in-sync");
    assert_eq!(uses(&aws, &replica).1, "in-sync");
    t.converged("asis");

    // A major upgrade (the replica dropped first) moves to a postgres17
    // group with the same values, in the same ModifyDBInstance call.
    t.p.write_stack(&db_stack("", &changed).replace("version = \"16\"", "version = \"17\""));
    let plan = t.ok(&["plan", "--env", "asis"]);
    assert!(plan.contains("\"postgres16\" → \"postgres17\""), "{plan}");
    t.ok(&["apply", "--env", "asis", "--yes"]);
    let (family, values) = group(&aws, &g17).expect("the new family's group");
    assert_eq!(family, "postgres17");
    assert_eq!(
        values["shared_preload_libraries"],
        "pg_stat_statements,auto_explain,pg_cron"
    );
    assert!(group(&aws, &g16).is_none(), "the old family's group is deleted");
    let upgrade = forms(&t, "ModifyDBInstance")
        .into_iter()
        .find(|f| f.get("EngineVersion").map(String::as_str) == Some("17"))
        .expect("the upgrade call");
    assert_eq!(upgrade["DBParameterGroupName"], g17);
    assert_eq!(upgrade["AllowMajorVersionUpgrade"], "true");
    assert_eq!(uses(&aws, &db).0, g17);
    t.converged("asis");

    // A name PostgreSQL 17 has not got: refused at plan time, with the
    // closest, before any change.
    let mutating_before = t.proxy.requests().len();
    t.p.write_stack(
        &db_stack("", &changed)
            .replace("version = \"16\"", "version = \"17\"")
            .replace("\"rds.force_ssl\"", "\"rds.force_ssll\""),
    );
    let (code, out, err) = t.run(&["apply", "--env", "asis", "--yes"]);
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("database.parameters.\"rds.force_ssll\": postgres17 has no parameter of that name")
            && err.contains("did you mean \"rds.force_ssl\"?"),
        "{err}"
    );
    let after: Vec<String> = t.proxy.requests()[mutating_before..]
        .iter()
        .map(|(a, _)| a.clone())
        .filter(|a| {
            !["Describe", "List", "Get", "GET "]
                .iter()
                .any(|read| a.starts_with(read))
        })
        // The stack's lock (DynamoDB), taken and given back.
        .filter(|a| !["PutItem", "DeleteItem"].contains(&a.as_str()))
        .collect();
    assert!(after.is_empty(), "nothing changed: {after:?}");

    // No parameters: back to the default group; the custom one goes.
    t.p.write_stack(&db_stack("", "").replace("version = \"16\"", "version = \"17\""));
    t.ok(&["apply", "--env", "asis", "--yes"]);
    assert_eq!(uses(&aws, &db).0, "default.postgres17");
    assert!(group(&aws, &g17).is_none());
    t.ok(&["apply", "--env", "asis", "--reboot", "--yes"]);
    t.converged("asis");

    let out = t.ok(&["destroy", "--env", "asis", "--yes"]);
    assert!(out.contains("Destroy complete"), "{out}");
    assert!(aws.db_instance(&db).is_none());
}

const AURORA: &str = r#"[stack]
name = "au"
region = "eu-west-1"

[network]
azs = 2

[database]
engine = "aurora-postgresql"
version = "16"
class = "db.serverless"
instances = 2

[database.parameters]
"rds.force_ssl" = 1

[database.instance_parameters]
log_min_duration_statement = 1000
"#;

/// Aurora: `[database.parameters]` is a cluster parameter group of family
/// aurora-postgresql16 the cluster uses, `[database.instance_parameters]`
/// a DB parameter group both instances use. A static cluster parameter
/// leaves every member pending a reboot (as the cluster reports its
/// members) until `apply --reboot` reboots each; an instance-level
/// parameter in the cluster's table is refused with where it belongs;
/// destroy leaves neither group.
#[test]
fn aurora_has_a_cluster_parameter_group_and_one_for_its_instances() {
    require_emulator();
    let t = Scenario::new(AURORA, "aupg");
    t.p.write_env("asis", "# no overrides\n");
    let name = t.p.name.clone();
    let (cluster_group, instance_group) = (
        format!("{name}-aurora-postgresql16-cluster"),
        format!("{name}-aurora-postgresql16"),
    );
    t.ok(&["apply", "--env", "asis", "--yes"]);
    let aws = t.aws("eu-west-1");
    let cluster_groups = |name: &str| {
        aws.block_on(
            aws.rds
                .describe_db_cluster_parameter_groups()
                .db_cluster_parameter_group_name(name)
                .send(),
        )
        .ok()
        .and_then(|o| o.db_cluster_parameter_groups().first().cloned())
    };
    let made = cluster_groups(&cluster_group).expect("the cluster parameter group");
    assert_eq!(made.db_parameter_group_family(), Some("aurora-postgresql16"));
    let set = aws
        .block_on(
            aws.rds
                .describe_db_cluster_parameters()
                .db_cluster_parameter_group_name(&cluster_group)
                .source("user")
                .send(),
        )
        .unwrap();
    let values: Vec<(String, String)> = set
        .parameters()
        .iter()
        .map(|p| (p.parameter_name().unwrap().into(), p.parameter_value().unwrap().into()))
        .collect();
    assert_eq!(values, [("rds.force_ssl".to_string(), "1".to_string())]);
    let (family, values) = group(&aws, &instance_group).expect("the instances' group");
    assert_eq!(family, "aurora-postgresql16");
    assert_eq!(values["log_min_duration_statement"], "1000");
    let cluster = || {
        aws.block_on(
            aws.rds
                .describe_db_clusters()
                .db_cluster_identifier(format!("{name}-db"))
                .send(),
        )
        .unwrap()
        .db_clusters()[0]
            .clone()
    };
    assert_eq!(cluster().db_cluster_parameter_group(), Some(cluster_group.as_str()));
    for n in 1..=2 {
        assert_eq!(uses(&aws, &format!("{name}-db-{n}")).0, instance_group);
    }
    t.converged("asis");

    let with_static = AURORA.replace(
        "\"rds.force_ssl\" = 1",
        "\"rds.force_ssl\" = 1\n\"rds.logical_replication\" = 1",
    );
    t.p.write_stack(&with_static);
    t.ok(&["apply", "--env", "asis", "--yes"]);
    let pending: Vec<String> = cluster()
        .db_cluster_members()
        .iter()
        .map(|m| m.db_cluster_parameter_group_status().unwrap().to_string())
        .collect();
    assert_eq!(pending, ["pending-reboot", "pending-reboot"]);
    let status = t.ok(&["status", "--env", "asis"]);
    assert_eq!(status.matches("pending reboot").count(), 2, "{status}");
    t.ok(&["apply", "--env", "asis", "--reboot", "--yes"]);
    let mut rebooted: Vec<String> = forms(&t, "RebootDBInstance")
        .into_iter()
        .map(|f| f["DBInstanceIdentifier"].clone())
        .collect();
    rebooted.sort();
    assert_eq!(rebooted, [format!("{name}-db-1"), format!("{name}-db-2")]);
    assert!(cluster()
        .db_cluster_members()
        .iter()
        .all(|m| m.db_cluster_parameter_group_status() == Some("in-sync")));
    t.converged("asis");

    // work_mem is set per instance on Aurora.
    t.p.write_stack(&with_static.replace("\"rds.force_ssl\" = 1", "\"rds.force_ssl\" = 1\nwork_mem = 8192"));
    let (code, _, err) = t.run(&["plan", "--env", "asis"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("database.parameters.work_mem: is an instance-level parameter of aurora-postgresql16; put it in [database.instance_parameters]"),
        "{err}"
    );

    t.p.write_stack(&with_static);
    let out = t.ok(&["destroy", "--env", "asis", "--yes"]);
    assert!(out.contains("Destroy complete"), "{out}");
    assert!(
        cluster_groups(&cluster_group).is_none(),
        "the cluster parameter group is deleted"
    );
    assert!(
        group(&aws, &instance_group).is_none(),
        "the instances' group is deleted"
    );
}
