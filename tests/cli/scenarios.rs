//! What a real account does, through a proxy of each test's own with the
//! AWS rules on (tests/support/rules): each scenario must converge in one
//! run of the command, as it would on AWS.

use crate::support::*;

fn learning() -> String {
    std::fs::read_to_string(repo().join("stacks/learning.toml")).unwrap()
}

/// A Fargate profile added to a running cluster needs a pod execution role
/// made seconds before; EKS refuses it until the role has propagated.
#[test]
fn a_profile_added_to_a_running_cluster_converges_in_one_apply() {
    require_emulator();
    let with_profile = learning();
    let without = with_profile.replace("[eks.fargate.apps]\nnamespaces = [\"app\"]\n", "");
    assert_ne!(without, with_profile);
    let s = Scenario::new(&without, "prof");
    s.ok(&["apply", "--env", "mvp", "--yes"]);
    s.p.write_stack(&with_profile);
    let out = s.ok(&["apply", "--env", "mvp", "--yes"]);
    assert!(out.contains("Apply complete"), "{out}");
    let creates = s.bodies(&format!("POST /clusters/{}/fargate-profiles", s.p.name));
    assert!(
        creates.len() >= 2,
        "EKS refused the profile while its role propagated, and the create was retried ({} calls)",
        creates.len()
    );
    let aws = Independent::new("ap-northeast-1");
    let profiles = aws
        .block_on(aws.eks.list_fargate_profiles().cluster_name(&s.p.name).send())
        .unwrap();
    assert_eq!(profiles.fargate_profile_names(), ["apps"]);
    s.converged("mvp");
    s.ok(&["destroy", "--env", "mvp", "--yes"]);
}

/// Logging and endpoint access are two kinds of cluster update: EKS takes
/// one kind per UpdateClusterConfig, and one update at a time.
#[test]
fn a_promotion_changing_logging_and_endpoint_access_sends_one_kind_per_update() {
    require_emulator();
    let s = Scenario::new(&learning(), "logend");
    s.ok(&["apply", "--env", "mvp", "--yes"]);
    s.p.write_stack(
        &learning()
            .replace("endpoint = \"public\"", "endpoint = \"public-and-private\"")
            .replace(
                "public_access_cidrs = [\"0.0.0.0/0\"]",
                "public_access_cidrs = [\"203.0.113.0/24\"]",
            ),
    );
    // Logging is the environment's to say.
    let mvp = std::fs::read_to_string(repo().join("environments/mvp.toml")).unwrap();
    assert!(mvp.contains("logging = []"));
    s.p.write_env("mvp", &mvp.replace("logging = []", "logging = [\"api\", \"audit\"]"));
    s.ok(&["apply", "--env", "mvp", "--yes"]);
    let updates = s.bodies(&format!("POST /clusters/{}/update-config", s.p.name));
    assert_eq!(updates.len(), 2, "{updates:?}");
    let kinds: Vec<Vec<String>> = updates
        .iter()
        .map(|u| {
            let keys = u.as_object().unwrap().keys();
            // The SDK fills in the idempotency token.
            keys.filter(|k| *k != "clientRequestToken").cloned().collect()
        })
        .collect();
    assert!(
        kinds.iter().all(|k| k.len() == 1),
        "one kind of update per call: {kinds:?}"
    );
    assert!(kinds.iter().any(|k| k[0] == "logging"), "{kinds:?}");
    let vpc = updates
        .iter()
        .find_map(|u| u.get("resourcesVpcConfig"))
        .expect("an endpoint update");
    assert_eq!(vpc["endpointPrivateAccess"], true, "{vpc}");
    assert_eq!(vpc["publicAccessCidrs"], serde_json::json!(["203.0.113.0/24"]), "{vpc}");
    // Each update is followed until EKS says it succeeded.
    let tracked = s
        .proxy
        .actions()
        .iter()
        .filter(|a| a.starts_with(&format!("GET /clusters/{}/updates/", s.p.name)))
        .count();
    assert!(tracked >= 2, "DescribeUpdate for each ({tracked})");
    s.converged("mvp");
    s.ok(&["destroy", "--env", "mvp", "--yes"]);
}

/// A stopped Aurora cluster refuses instance deletes and its own delete
/// until it is started: destroy starts it first.
#[test]
fn an_aurora_stack_slept_then_destroyed_leaves_nothing() {
    require_emulator();
    let text = std::fs::read_to_string(repo().join("stacks/aurora.toml")).unwrap();
    let s = Scenario::new(&text, "aursl");
    s.ok(&["apply", "--env", "mvp", "--yes"]);
    s.ok(&["sleep", "--env", "mvp", "--yes"]);
    let aws = Independent::new("eu-west-1");
    let id = format!("{}-db", s.p.name);
    let cluster = aws
        .block_on(aws.rds.describe_db_clusters().db_cluster_identifier(&id).send())
        .unwrap();
    assert_eq!(cluster.db_clusters()[0].status(), Some("stopped"));
    let out = s.ok(&["destroy", "--env", "mvp", "--yes"]);
    assert!(out.contains("Destroy complete"), "{out}");
    let starts = s.proxy.actions().iter().filter(|a| *a == "StartDBCluster").count();
    assert_eq!(starts, 1, "the cluster is started once, then deleted");
    assert_eq!(aws.tagged_leftovers(&s.p.name), Vec::<String>::new());
    let gone = aws.block_on(aws.rds.describe_db_clusters().db_cluster_identifier(&id).send());
    assert!(gone.is_err() || gone.unwrap().db_clusters().is_empty(), "cluster gone");
}

/// AZs come from what the account sees (the rules hide us-east-1b), minus
/// the zone ids EKS refuses for control planes (us-east-1e is use1-az3 on
/// the emulator).
#[test]
fn azs_come_from_the_account_and_skip_those_eks_refuses() {
    require_emulator();
    let fargate = std::fs::read_to_string(repo().join("stacks/fargate.toml")).unwrap();
    let s = Scenario::new(&fargate.replace("azs = 2", "azs = 4"), "azs");
    let (code, out, err) = s.run(&["plan", "--env", "mvp", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut azs: Vec<String> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| {
            a["address"]
                .as_str()?
                .strip_prefix("subnet.private.")
                .map(str::to_string)
        })
        .collect();
    azs.sort();
    assert_eq!(azs, ["us-east-1a", "us-east-1c", "us-east-1d", "us-east-1f"]);

    s.p.write_stack(&fargate.replace("azs = 2", "azs = 5"));
    let (code, out, err) = s.run(&["plan", "--env", "mvp"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("can use only 4 AZs of us-east-1 for EKS"), "{err}");

    s.p.write_stack(&fargate.replace("azs = 2", "azs = [\"us-east-1a\", \"us-east-1e\"]"));
    let (code, out, err) = s.run(&["plan", "--env", "mvp"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("us-east-1e (use1-az3), where EKS does not place control planes"),
        "{err}"
    );

    s.p.write_stack(&fargate.replace("azs = 2", "azs = [\"us-east-1a\", \"us-east-1b\"]"));
    let (code, out, err) = s.run(&["plan", "--env", "mvp"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("us-east-1b, which this account does not see"), "{err}");
}

/// An apply killed right after its first creates, then a destroy at once:
/// the VPC and the Elastic IP are too fresh for EC2 to see, so their
/// deletes first answer NotFound. Destroy may say "complete" only when a
/// fresh look finds nothing left.
#[test]
fn a_destroy_right_after_a_killed_apply_leaves_nothing_billing() {
    require_emulator();
    let s = Scenario::new(&learning(), "kild");
    let mut child = s.spawn(&["apply", "--env", "mvp", "--yes"]);
    let started = std::time::Instant::now();
    let made = |a: &String| a == "CreateVpc" || a == "AllocateAddress";
    while s.proxy.actions().iter().filter(|a| made(a)).count() < 2
        && started.elapsed() < std::time::Duration::from_secs(60)
        && child.try_wait().unwrap().is_none()
    {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // The proxy logs a create as it forwards it: under load, moto may not
    // have made the VPC yet. Kill once moto has it (the rules proxy still
    // hides it from EC2 calls for a moment, as AWS does).
    let aws = Independent::new("ap-northeast-1");
    while aws.vpcs(&s.p.name).is_empty() && started.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let _ = child.kill();
    let _ = child.wait();
    // Its lock stays until it expires: remove it, as a user would.
    let _ = s.run(&["unlock", "--yes"]);
    let out = s.ok(&["destroy", "--env", "mvp", "--yes"]);
    assert!(out.contains("Destroy complete"), "{out}");
    assert_eq!(aws.tagged_leftovers(&s.p.name), Vec::<String>::new(), "{out}");
    assert!(aws.addresses(&s.p.name).is_empty(), "no Elastic IP left billing: {out}");
    assert!(aws.vpcs(&s.p.name).is_empty(), "no VPC left: {out}");
}
