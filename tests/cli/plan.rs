//! `plan` against live state: an empty account, a converged stack, drift.

use crate::support::*;

#[test]
fn plan_on_an_empty_account_creates_every_kind_with_no_mutating_call() {
    require_emulator();
    let p = Project::from_sample("learning", "plan");
    let (code, out, err, calls) = p.run_counted(&["plan", "--env", "mvp", "--json", "--detailed-exitcode"]);
    assert_eq!(code, 2, "changes present → exit 2\n{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["format_version"], 1);
    assert_eq!(plan["stack"], p.name.as_str());
    assert_eq!(plan["env"], "mvp");
    assert_eq!(plan["region"], "ap-northeast-1");
    let kinds: std::collections::BTreeSet<&str> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "vpc",
        "internet_gateway",
        "subnet",
        "eip",
        "nat_gateway",
        "route_table",
        "security_group",
        "iam_role",
        "eks_cluster",
        "eks_nodegroup",
        "eks_fargate_profile",
        "eks_addon",
        "security_group_rule",
        "db_subnet_group",
        "db_instance",
    ] {
        assert!(kinds.contains(kind), "missing {kind} in {kinds:?}");
    }
    assert!(plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["action"] == "create"));
    assert_eq!(plan["summary"]["create"], 27);
    assert_eq!(calls["mutating"], 0, "{calls}");
    let n = calls["calls"].as_u64().unwrap();
    assert!(n < 40, "plan on an empty account made {n} calls: {calls}");
}

#[test]
fn converged_plan_says_no_changes_and_drift_is_an_update_back_to_the_file() {
    require_emulator();
    let p = Project::from_sample("learning", "drift");
    p.apply_ok("mvp");

    let (code, out, err, calls) = p.run_counted(&["plan", "--env", "mvp", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("No changes."), "{out}");
    assert_eq!(calls["mutating"], 0);
    let n = calls["calls"].as_u64().unwrap();
    // 39 before parameter groups, which add one listing each of DB and
    // cluster parameter groups (they find the stack's groups of any
    // family), and one read of the stack's lock (plan notes a holder).
    // CI/CD adds one listing of ECR repositories and one of the account's
    // OIDC providers: a stack whose file dropped [registry] or [ci.github]
    // still finds what it made. The budget adds one DescribeBudget, for
    // the same reason (STS is asked once per command, however many ask).
    assert!(n < 46, "converged plan made {n} calls: {calls}");

    // Someone scales the node group in the console.
    let aws = Independent::new("ap-northeast-1");
    aws.block_on(
        aws.eks
            .update_nodegroup_config()
            .cluster_name(&p.name)
            .nodegroup_name("general")
            .scaling_config(
                aws_sdk_eks::types::NodegroupScalingConfig::builder()
                    .min_size(1)
                    .desired_size(2)
                    .max_size(2)
                    .build(),
            )
            .send(),
    )
    .unwrap();

    let (code, out, _) = p.run(&["plan", "--env", "mvp", "--json", "--detailed-exitcode"]);
    assert_eq!(code, 2);
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let actions = plan["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{out}");
    let a = &actions[0];
    assert_eq!(a["address"], "eks-nodegroup.general");
    assert_eq!(a["kind"], "eks_nodegroup");
    assert_eq!(a["action"], "update");
    assert_eq!(a["changes"][0]["path"], "eks.nodegroups.general.desired");
    assert_eq!(a["changes"][0]["before"], 2);
    assert_eq!(a["changes"][0]["after"], 1);
    assert_eq!(a["changes"][0]["forces_replacement"], false);
    assert_eq!(plan["summary"]["update"], 1);

    let (_, text, _) = p.run(&["plan", "--env", "mvp"]);
    assert!(text.contains("~ eks.nodegroups.general.desired: 2 → 1"), "{text}");
    assert!(
        text.contains("Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy."),
        "{text}"
    );

    p.apply_ok("mvp");
    let ng = aws.nodegroup(&p.name, "general").unwrap();
    assert_eq!(ng.scaling_config().unwrap().desired_size(), Some(1));
    let (code, _, _) = p.run(&["plan", "--env", "mvp", "--detailed-exitcode"]);
    assert_eq!(code, 0);
    assert_eq!(p.destroy("mvp").0, 0);
}

#[test]
fn replacement_and_data_loss_are_called_out() {
    require_emulator();
    let p = Project::from_sample("learning", "loss");
    p.apply_ok("mvp");
    let text = std::fs::read_to_string(p.path())
        .unwrap()
        .replace("engine = \"postgres\"", "engine = \"mysql\"")
        .replace("version = \"16\"\nclass", "version = \"8.0\"\nclass");
    p.write_stack(&text);
    let (code, out, _) = p.run(&["plan", "--env", "mvp", "--detailed-exitcode"]);
    assert_eq!(code, 2);
    assert!(out.contains("-/+ db-instance"), "{out}");
    assert!(
        out.contains("database.engine: \"postgres\" → \"mysql\" # forces replacement"),
        "{out}"
    );
    assert!(out.contains("DATA LOSS"), "{out}");
    // Apply refuses without the flag and changes nothing.
    let (code, _, err) = p.apply("mvp");
    assert_eq!(code, 1);
    assert!(
        err.contains("--allow-data-loss") && err.contains("Nothing was changed"),
        "{err}"
    );
    let aws = Independent::new("ap-northeast-1");
    assert_eq!(
        aws.db_instance(&format!("{}-db", p.name)).unwrap().engine(),
        Some("postgres")
    );
    let (code, _, _) = p.run(&[
        "destroy",
        "--env",
        "mvp",
        "--yes",
        "--skip-final-snapshot",
        "--poll-scale",
        "0.01",
    ]);
    assert_eq!(code, 0);
}
