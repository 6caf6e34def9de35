//! Read replicas of an RDS instance, through a rules proxy of the test's own
//! that refuses what RDS refuses (stopping an instance that has replicas,
//! changing a replica still being made), checked with an independent client.

use crate::support::*;

fn replica_stack() -> String {
    std::fs::read_to_string(repo().join("stacks/learning.toml"))
        .unwrap()
        .replace("azs = 2", "azs = 3")
        .replace("db_name = \"app\"", "db_name = \"app\"\nreplicas = 2")
}

/// Two replicas of the learning stack's PostgreSQL over its other two AZs:
/// made from the primary, reported by `output` and `output --k8s`, priced;
/// `sleep` deletes them before stopping the primary (RDS refuses the stop
/// while they exist) and `wake` makes them again; fewer replicas delete the
/// last; a replica class changes in place.
#[test]
fn read_replicas_spread_over_the_other_azs_and_sleep_and_wake_with_the_primary() {
    require_emulator();
    let t = Scenario::new(&replica_stack(), "repl");
    let name = t.p.name.clone();
    let primary = format!("{name}-db");
    let (code, plan, err) = t.run(&["plan", "--env", "mvp", "--json"]);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&plan).unwrap();
    let replica_cost = json["cost"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["address"].as_str().is_some_and(|a| a.starts_with("db-replica.")))
        .count();
    assert_eq!(
        replica_cost, 4,
        "each replica bills its instance and storage: {}",
        json["cost"]
    );

    t.ok(&["apply", "--env", "mvp", "--yes"]);
    let aws = t.aws("ap-northeast-1");
    let replica = |n: u32| aws.db_instance(&format!("{primary}-replica-{n}"));
    let azs: Vec<String> = (1..=2)
        .map(|n| {
            let r = replica(n).expect("the replica exists");
            assert_eq!(r.read_replica_source_db_instance_identifier(), Some(primary.as_str()));
            assert_eq!(r.db_instance_class(), Some("db.t4g.micro"), "the primary's class");
            assert_eq!(r.publicly_accessible(), Some(false));
            r.availability_zone().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        azs,
        ["ap-northeast-1c", "ap-northeast-1d"],
        "the AZs after the first, in turn"
    );
    let source = aws.db_instance(&primary).unwrap();
    let mut listed = source.read_replica_db_instance_identifiers().to_vec();
    listed.sort();
    assert_eq!(listed, [format!("{primary}-replica-1"), format!("{primary}-replica-2")]);
    t.converged("mvp");

    let (code, text, err) = t.run(&["output", "--env", "mvp"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains(&format!("db_reader_endpoint  {primary}-replica-1.")),
        "{text}"
    );
    assert!(
        text.contains(&format!("db_replica_2        {primary}-replica-2.")),
        "{text}"
    );
    let (code, yaml, err) = t.run(&["output", "--env", "mvp", "--k8s"]);
    assert_eq!(code, 0, "{err}");
    let config = manifests(&yaml)
        .into_iter()
        .find(|d| d["kind"].as_str() == Some("ConfigMap"))
        .unwrap();
    assert!(config["data"]["DB_READER_HOST"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{primary}-replica-1.")));
    assert_eq!(
        config["data"]["DB_READER_HOSTS"].as_str().unwrap().split(',').count(),
        2,
        "{yaml}"
    );

    // RDS refuses to stop the primary while it has replicas (the emulator
    // as AWS documents it), so sleep deletes them first.
    let refused = aws.block_on(aws.rds.stop_db_instance().db_instance_identifier(&primary).send());
    let err = refused.expect_err("no stop while replicas exist");
    assert_eq!(
        aws_sdk_rds::error::ProvideErrorMetadata::code(&err.into_service_error()),
        Some("InvalidDBInstanceState")
    );
    let slept = t.ok(&["sleep", "--env", "mvp", "--yes"]);
    assert!(slept.contains("sleep deletes read replicas"), "{slept}");
    assert!(replica(1).is_none() && replica(2).is_none());
    assert_eq!(aws.db_instance(&primary).unwrap().db_instance_status(), Some("stopped"));
    let woken = t.ok(&["wake", "--env", "mvp", "--yes"]);
    assert!(woken.contains("wake: made again from the primary"), "{woken}");
    assert_eq!(
        replica(1).unwrap().read_replica_source_db_instance_identifier(),
        Some(primary.as_str())
    );
    assert!(replica(2).is_some());
    t.converged("mvp");

    // One replica fewer, and a class of their own: the last goes, the
    // first changes in place.
    t.p.write_stack(&replica_stack().replace("replicas = 2", "replicas = 1\nreplica_class = \"db.t4g.small\""));
    let plan = t.ok(&["plan", "--env", "mvp"]);
    assert!(plan.contains("database.replicas is 1"), "{plan}");
    assert!(
        plan.contains("database.replica_class: \"db.t4g.micro\" → \"db.t4g.small\""),
        "{plan}"
    );
    t.ok(&["apply", "--env", "mvp", "--yes"]);
    assert!(replica(2).is_none());
    assert_eq!(replica(1).unwrap().db_instance_class(), Some("db.t4g.small"));
    t.converged("mvp");

    let out = t.ok(&["destroy", "--env", "mvp", "--yes"]);
    assert!(out.contains("Destroy complete"), "{out}");
    assert!(replica(1).is_none() && aws.db_instance(&primary).is_none());
}
