//! RDS → Aurora as a migration: the cluster is restored from a snapshot of
//! the instance (served by the rules proxy, as moto restores only cluster
//! snapshots), the instance is kept until `--finish-migration`, and a
//! killed migration resumes from what exists.

use crate::support::*;

fn instance_stack() -> String {
    r#"[stack]
name = "mig"
region = "ap-northeast-1"

[network]
azs = 2

[database]
engine = "postgres"
version = "16"
"#
    .to_string()
}

fn aurora_stack() -> String {
    instance_stack().replace(
        "engine = \"postgres\"",
        "engine = \"aurora-postgresql\"\nclass = \"db.serverless\"",
    )
}

fn snapshot(aws: &Independent, id: &str) -> Option<aws_sdk_rds::types::DbSnapshot> {
    aws.block_on(aws.rds.describe_db_snapshots().db_snapshot_identifier(id).send())
        .ok()
        .and_then(|o| o.db_snapshots().first().cloned())
}

fn cluster(aws: &Independent, id: &str) -> Option<aws_sdk_rds::types::DbCluster> {
    aws.block_on(aws.rds.describe_db_clusters().db_cluster_identifier(id).send())
        .ok()
        .and_then(|o| o.db_clusters().first().cloned())
}

/// The move from PostgreSQL to Aurora PostgreSQL: the plan says what
/// happens and the write downtime; apply snapshots the instance and
/// restores the cluster from that very snapshot, with a managed password
/// of its own, and `output` moves to the cluster; the instance stays
/// through any number of applies, priced in plan and status, until
/// `--finish-migration` deletes it after a final snapshot; going back is
/// explained as the data loss it is.
#[test]
fn an_instance_migrates_to_aurora_from_its_own_snapshot_and_stays_until_finished() {
    require_emulator();
    let t = Scenario::new(&instance_stack(), "migr");
    t.p.write_env("asis", "# no overrides\n");
    let db = format!("{}-db", t.p.name);
    t.ok(&["apply", "--env", "asis", "--yes"]);
    let aws = t.aws("ap-northeast-1");

    // A pair RDS cannot restore is refused before anything is made.
    t.p.write_stack(&aurora_stack().replace("version = \"16\"", "version = \"17\""));
    let (code, _, err) = t.run(&["plan", "--env", "asis"]);
    assert_ne!(code, 0);
    assert!(err.contains("restores into aurora-postgresql 16 only, not 17"), "{err}");

    t.p.write_stack(&aurora_stack());
    let plan = t.ok(&["plan", "--env", "asis"]);
    assert!(
        plan.contains(&format!("migration from RDS instance {db} (postgres 16")),
        "{plan}"
    );
    assert!(
        plan.contains("writes made after the snapshot are not in the new cluster"),
        "{plan}"
    );
    assert!(
        plan.contains(&format!("migration in progress: old instance {db} kept, $")),
        "{plan}"
    );
    assert!(!plan.contains("DATA LOSS"), "a migration loses nothing: {plan}");
    assert!(
        plan.contains("Plan: 2 to add, 0 to change, 0 to replace, 0 to destroy."),
        "{plan}"
    );

    // No --allow-data-loss: nothing is deleted.
    t.ok(&["apply", "--env", "asis", "--yes"]);
    let snap = snapshot(&aws, &format!("{db}-to-aurora")).expect("the migration's snapshot");
    assert_eq!(
        snap.db_instance_identifier(),
        Some(db.as_str()),
        "a snapshot of the instance"
    );
    let restored = t.proxy.rules().unwrap().restored_from(&db);
    assert_eq!(
        restored.as_deref(),
        snap.db_snapshot_arn(),
        "the cluster was restored from that snapshot"
    );
    let c = cluster(&aws, &db).expect("the cluster");
    assert_eq!(c.engine(), Some("aurora-postgresql"));
    let secret = c
        .master_user_secret()
        .and_then(|s| s.secret_arn())
        .expect("a managed password of its own")
        .to_string();
    let instance_secret = aws
        .db_instance(&db)
        .expect("the old instance is kept")
        .master_user_secret()
        .and_then(|s| s.secret_arn())
        .map(str::to_string);
    assert_ne!(Some(secret.clone()), instance_secret, "a new secret");
    let (code, out, err) = t.run(&["output", "--env", "asis", "--json"]);
    assert_eq!(code, 0, "{err}");
    let out: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["db_endpoint"].as_str(), c.endpoint(), "output moves to the cluster");
    assert_eq!(out["db_secret_arn"].as_str(), Some(secret.as_str()));

    // A plain apply, twice, never deletes the old instance.
    t.ok(&["apply", "--env", "asis", "--yes"]);
    t.converged("asis");
    assert!(aws.db_instance(&db).is_some());
    let status = t.ok(&["status", "--env", "asis"]);
    assert!(
        status.contains(&format!("migration in progress: old instance {db} kept, $")),
        "{status}"
    );

    let done = t.ok(&["apply", "--env", "asis", "--finish-migration", "--yes"]);
    assert!(done.contains(&format!("final snapshot {db}-final-")), "{done}");
    assert!(aws.db_instance(&db).is_none(), "finished: the instance is gone");
    assert!(cluster(&aws, &db).is_some());
    t.converged("asis");

    // Back to an instance: no migration that way, and the plan says so.
    t.p.write_stack(&instance_stack());
    let plan = t.ok(&["plan", "--env", "asis"]);
    assert!(plan.contains("Aurora cannot go back to an RDS instance"), "{plan}");
    assert!(plan.contains("DATA LOSS"), "{plan}");

    t.p.write_stack(&aurora_stack());
    let out = t.ok(&["destroy", "--env", "asis", "--yes"]);
    assert!(out.contains("Destroy complete"), "{out}");
    assert!(cluster(&aws, &db).is_none());
}

/// A migration killed (SIGKILL) right after its snapshot is asked for, or
/// right after the restore is, resumes with the next apply from what
/// exists: one snapshot, one cluster restored from it, the instance kept.
#[test]
fn a_killed_migration_resumes_from_what_exists() {
    require_emulator();
    for kill_after in ["CreateDBSnapshot", "RestoreDBClusterFromSnapshot"] {
        let t = Scenario::new(&instance_stack(), "migk");
        t.p.write_env("asis", "# no overrides\n");
        let db = format!("{}-db", t.p.name);
        t.ok(&["apply", "--env", "asis", "--yes"]);
        t.p.write_stack(&aurora_stack());
        let mut child = t.spawn(&["apply", "--env", "asis", "--yes"]);
        let started = std::time::Instant::now();
        while !t.proxy.actions().iter().any(|a| a == kill_after)
            && started.elapsed() < std::time::Duration::from_secs(60)
            && child.try_wait().unwrap().is_none()
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let _ = child.kill();
        let _ = child.wait();
        // Its lock stays until it expires: remove it, as a user would.
        let (code, out, err) = t.run(&["unlock", "--yes"]);
        assert_eq!(code, 0, "{kill_after}: the killed apply held the lock: {out}{err}");
        assert!(
            t.proxy.actions().iter().any(|a| a == kill_after),
            "killed after {kill_after}"
        );

        t.ok(&["apply", "--env", "asis", "--yes"]);
        t.converged("asis");
        let aws = t.aws("ap-northeast-1");
        let snap = snapshot(&aws, &format!("{db}-to-aurora")).expect("the snapshot");
        // One snapshot, whether the killed run's request reached RDS or not.
        let manual = aws
            .block_on(
                aws.rds
                    .describe_db_snapshots()
                    .db_instance_identifier(&db)
                    .snapshot_type("manual")
                    .send(),
            )
            .unwrap();
        assert_eq!(
            manual.db_snapshots().len(),
            1,
            "{kill_after}: the snapshot is made once"
        );
        let restores = t
            .proxy
            .actions()
            .iter()
            .filter(|a| *a == "RestoreDBClusterFromSnapshot")
            .count();
        assert!(restores >= 1, "{kill_after}");
        assert_eq!(
            t.proxy.rules().unwrap().restored_from(&db).as_deref(),
            snap.db_snapshot_arn(),
            "{kill_after}: restored from the instance's snapshot"
        );
        let c = cluster(&aws, &db).expect("one cluster");
        assert!(
            c.master_user_secret().is_some(),
            "{kill_after}: the managed password is on"
        );
        assert!(aws.db_instance(&db).is_some(), "{kill_after}: the instance is kept");
        let out = t.ok(&["destroy", "--env", "asis", "--yes"]);
        assert!(out.contains("Destroy complete"), "{out}");
        assert!(aws.db_instance(&db).is_none() && cluster(&aws, &db).is_none());
    }
}
