//! Promotion from mvp to prod in place, back again, and the changes around it:
//! a node group replaced without losing capacity, an AZ added, RDS → Aurora.

use crate::proxy::{FaultProxy, Faults};
use crate::support::*;

fn tag<'a>(tags: &'a [aws_sdk_ec2::types::Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
}

#[test]
fn mvp_promotes_to_prod_in_place_and_demotes_without_replacements() {
    require_emulator();
    let p = Project::from_sample("learning", "promo");
    p.apply_ok("mvp");
    let aws = Independent::new("ap-northeast-1");
    let subnets_before: Vec<String> = aws
        .subnets(&p.name)
        .iter()
        .map(|s| s.subnet_id().unwrap().to_string())
        .collect();

    let (code, out, _) = p.run(&["plan", "--env", "prod", "--json"]);
    assert_eq!(code, 0);
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["summary"]["replace"], 0, "promotion is in place: {out}");
    assert_eq!(plan["summary"]["delete"], 0);
    let db = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["address"] == "db-instance")
        .unwrap();
    let notes: Vec<&str> = db["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["note"].as_str())
        .collect();
    assert!(
        notes.iter().any(|n| n.contains("Multi-AZ conversion: no downtime")),
        "{notes:?}"
    );
    assert!(notes.iter().any(|n| n.contains("class change")), "{notes:?}");

    p.apply_ok("prod");
    let name = &p.name;
    let db = aws.db_instance(&format!("{name}-db")).unwrap();
    assert_eq!(db.multi_az(), Some(true));
    assert_eq!(db.db_instance_class(), Some("db.m6g.large"));
    assert_eq!(db.backup_retention_period(), Some(30));
    assert_eq!(db.deletion_protection(), Some(true));

    // One NAT per AZ, each private subnet routed to its own AZ's NAT.
    let subnets = aws.subnets(name);
    let az_of = |id: &str| {
        subnets
            .iter()
            .find(|s| s.subnet_id() == Some(id))
            .and_then(|s| s.availability_zone())
            .unwrap()
            .to_string()
    };
    let nats = aws.nat_gateways(name);
    assert_eq!(nats.len(), 2);
    let nat_az: std::collections::HashMap<String, String> = nats
        .iter()
        .map(|n| (n.nat_gateway_id().unwrap().to_string(), az_of(n.subnet_id().unwrap())))
        .collect();
    let mut azs: Vec<&String> = nat_az.values().collect();
    azs.sort();
    assert_eq!(azs, ["ap-northeast-1a", "ap-northeast-1c"]);
    for t in aws.route_tables(name) {
        if tag(t.tags(), "Name").is_some_and(|n| n.contains("-private-")) {
            let subnet = t.associations()[0].subnet_id().unwrap();
            let nat = t
                .routes()
                .iter()
                .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
                .and_then(|r| r.nat_gateway_id())
                .unwrap();
            assert_eq!(
                nat_az[nat],
                az_of(subnet),
                "private subnet {subnet} routes to its own AZ's NAT"
            );
        }
    }
    let ng = aws.nodegroup(name, "general").unwrap();
    let s = ng.scaling_config().unwrap();
    assert_eq!(
        (s.min_size(), s.desired_size(), s.max_size()),
        (Some(2), Some(3), Some(6))
    );
    let cluster = aws
        .block_on(aws.eks.describe_cluster().name(name).send())
        .unwrap()
        .cluster
        .unwrap();
    let enabled: Vec<&str> = cluster
        .logging()
        .unwrap()
        .cluster_logging()
        .iter()
        .filter(|l| l.enabled() == Some(true))
        .flat_map(|l| l.types().iter().map(|t| t.as_str()))
        .collect();
    assert_eq!(enabled, ["api", "audit", "authenticator"]);
    let subnets_after: Vec<String> = subnets.iter().map(|s| s.subnet_id().unwrap().to_string()).collect();
    assert_eq!(subnets_before.len(), subnets_after.len());
    assert!(
        subnets_before.iter().all(|s| subnets_after.contains(s)),
        "no subnet was touched"
    );

    let (code, out, _) = p.run(&["plan", "--env", "prod", "--detailed-exitcode"]);
    assert_eq!(code, 0, "promotion converged: {out}");

    // Demotion: in place too.
    let (code, out, _) = p.run(&["plan", "--env", "mvp", "--json"]);
    assert_eq!(code, 0);
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["summary"]["replace"], 0, "demotion has no replacement: {out}");
    assert!(plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["action"] != "replace"));
    p.apply_ok("mvp");
    assert_eq!(aws.nat_gateways(name).len(), 1);
    let (code, _, _) = p.run(&["plan", "--env", "mvp", "--detailed-exitcode"]);
    assert_eq!(code, 0);
    assert_eq!(p.destroy("mvp").0, 0);
}

#[test]
fn storage_never_shrinks_and_the_plan_explains() {
    require_emulator();
    let p = Project::from_sample("learning", "shrink");
    let text = std::fs::read_to_string(p.path())
        .unwrap()
        .replace("storage_gib = 20", "storage_gib = 50");
    p.write_stack(&text);
    p.apply_ok("mvp");
    p.write_stack(&text.replace("storage_gib = 50", "storage_gib = 20"));
    let (code, out, _) = p.run(&["plan", "--env", "mvp", "--detailed-exitcode"]);
    assert_eq!(code, 0, "nothing AWS can do: {out}");
    assert!(out.contains("No changes."), "{out}");
    assert!(
        out.contains("database.storage_gib: 50 → 20 cannot be applied: RDS storage can only grow"),
        "{out}"
    );
    assert!(
        out.contains("keep database.storage_gib = 50"),
        "the way out is named: {out}"
    );
    let (code, _, err) = p.apply("mvp");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        Independent::new("ap-northeast-1")
            .db_instance(&format!("{}-db", p.name))
            .unwrap()
            .allocated_storage(),
        Some(50)
    );
    assert_eq!(p.destroy("mvp").0, 0);
}

#[test]
fn changing_instance_types_replaces_the_node_group_new_one_first() {
    require_emulator();
    let p = Project::from_sample("learning", "cbd");
    p.apply_ok("mvp");
    let text = std::fs::read_to_string(p.path())
        .unwrap()
        .replace("instance_types = [\"t3.medium\"]", "instance_types = [\"t3.large\"]");
    p.write_stack(&text);
    let (code, out, _) = p.run(&["plan", "--env", "mvp", "--detailed-exitcode"]);
    assert_eq!(code, 2);
    assert!(out.contains("-/+ eks-nodegroup.general"), "{out}");
    assert!(out.contains("new one first"), "{out}");
    assert!(out.contains("# forces replacement"), "{out}");

    let proxy = FaultProxy::start_blocking(&moto(), Faults::default()).unwrap();
    let mut c = p.cmd(&["apply", "--env", "mvp", "--yes", "--poll-scale", "0.01"]);
    c.env("AWS_ENDPOINT_URL", proxy.url());
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{out}{err}");
    let actions = proxy.actions();
    let created = actions
        .iter()
        .position(|a| a.starts_with("POST") && a.ends_with("/node-groups"))
        .expect("a node group was created");
    let deleted = actions
        .iter()
        .position(|a| a.starts_with("DELETE") && a.ends_with("/node-groups/general"))
        .expect("the old group was deleted");
    assert!(
        created < deleted,
        "capacity never drops: create before delete ({actions:?})"
    );

    let aws = Independent::new("ap-northeast-1");
    let groups = aws
        .block_on(aws.eks.list_nodegroups().cluster_name(&p.name).send())
        .unwrap();
    assert_eq!(groups.nodegroups().len(), 1);
    let new = &groups.nodegroups()[0];
    assert!(new.starts_with("general-"), "{new}");
    assert_eq!(aws.nodegroup(&p.name, new).unwrap().instance_types(), ["t3.large"]);
    let (code, out, _) = p.run(&["plan", "--env", "mvp", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(p.destroy("mvp").0, 0);
}

#[test]
/// EKS cannot move a control plane to subnets in an AZ it was not created
/// in ("Cluster VPC and subnet considerations": the subnets given to
/// UpdateClusterConfig must be in the AZs given at creation), so the cluster
/// keeps its subnets and the plan says so; node groups and the DB subnet
/// group use the new AZ.
fn adding_an_az_keeps_existing_subnets_and_the_control_plane_where_it_is() {
    require_emulator();
    let text = std::fs::read_to_string(repo().join("stacks/aurora.toml"))
        .unwrap()
        .replace("azs = 3", "azs = 2");
    let p = Project::with_text(&text, "addaz");
    p.apply_ok("mvp");
    let aws = Independent::new("eu-west-1");
    let before: Vec<(String, String)> = aws
        .subnets(&p.name)
        .iter()
        .map(|s| (s.subnet_id().unwrap().into(), s.cidr_block().unwrap().into()))
        .collect();
    p.write_stack(&text.replace("azs = 2", "azs = 3"));
    let (code, out, _) = p.run(&["plan", "--env", "mvp", "--json"]);
    assert_eq!(code, 0);
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let find = |a: &str| {
        plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["address"] == a)
            .cloned()
            .unwrap_or_default()
    };
    let cluster = find("eks-cluster");
    assert_eq!(cluster["action"], "no-op", "{out}");
    assert!(
        cluster["notes"]
            .to_string()
            .contains("the control plane stays in the AZs it was created in"),
        "the plan says the control plane stays out of the new AZ: {out}"
    );
    assert_eq!(find("db-subnet-group")["action"], "update");
    assert_eq!(find("subnet.private.eu-west-1c")["action"], "create");
    assert!(plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| !(a["kind"] == "subnet" && a["action"] != "create")));
    p.apply_ok("mvp");
    let after = aws.subnets(&p.name);
    assert_eq!(after.len(), 6);
    for (id, cidr) in &before {
        assert!(
            after
                .iter()
                .any(|s| s.subnet_id() == Some(id.as_str()) && s.cidr_block() == Some(cidr.as_str())),
            "{id} kept"
        );
    }
    let cluster = aws
        .block_on(aws.eks.describe_cluster().name(&p.name).send())
        .unwrap()
        .cluster
        .unwrap();
    let kept: Vec<&str> = before.iter().map(|(id, _)| id.as_str()).collect();
    let mut cluster_subnets = cluster.resources_vpc_config().unwrap().subnet_ids().to_vec();
    cluster_subnets.sort();
    assert_eq!(cluster_subnets.len(), 2, "the control plane keeps its two AZs");
    assert!(
        cluster_subnets.iter().all(|s| kept.contains(&s.as_str())),
        "{cluster_subnets:?}"
    );
    let group = aws
        .block_on(aws.eks.list_nodegroups().cluster_name(&p.name).send())
        .unwrap();
    let group = aws.nodegroup(&p.name, &group.nodegroups()[0]).unwrap();
    assert_eq!(
        group.subnets().len(),
        3,
        "node groups use the new AZ: {:?}",
        group.subnets()
    );
    let (code, out, _) = p.run(&["plan", "--env", "mvp", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(p.destroy("mvp").0, 0);
}

/// The learning stack's PostgreSQL moved to Aurora PostgreSQL: a
/// migration, not a data-losing replacement, so apply needs no
/// `--allow-data-loss`; the cluster's managed secret is new, and the pod
/// role that reads it and the ConfigMap follow in the same apply (see
/// `migration` for the snapshot, the kept instance and resuming).
#[test]
fn rds_instance_to_aurora_migrates_and_the_pods_follow_the_new_secret() {
    require_emulator();
    let p = Project::from_sample("learning", "toaur");
    p.apply_ok("mvp");
    let text = std::fs::read_to_string(p.path())
        .unwrap()
        .replace("engine = \"postgres\"", "engine = \"aurora-postgresql\"")
        .replace("class = \"db.t4g.micro\"", "class = \"db.t4g.medium\"")
        .replace("storage_gib = 20\n", "")
        .replace("multi_az = false\n", "");
    p.write_stack(&text);
    let (code, out, _) = p.run(&["plan", "--env", "mvp"]);
    assert_eq!(code, 0);
    assert!(out.contains("+ db-cluster"), "{out}");
    assert!(out.contains("migration from RDS instance"), "{out}");
    assert!(!out.contains("DATA LOSS"), "{out}");
    p.apply_ok("mvp");

    let aws = Independent::new("ap-northeast-1");
    let db = format!("{}-db", p.name);
    let clusters = aws
        .block_on(aws.rds.describe_db_clusters().db_cluster_identifier(&db).send())
        .unwrap();
    let cluster = &clusters.db_clusters()[0];
    assert_eq!(cluster.engine(), Some("aurora-postgresql"));
    let secret = cluster.master_user_secret().and_then(|s| s.secret_arn()).unwrap();
    assert!(aws.db_instance(&db).is_some(), "the old instance is kept");
    let doc = crate::identities::inline_policy(&aws, &format!("{}-ap-northeast-1-pod-api", p.name));
    assert_eq!(
        doc["Statement"][0]["Resource"],
        serde_json::json!([secret]),
        "the pod role reads the new secret: {doc}"
    );
    let (code, yaml, err) = p.run(&["output", "--env", "mvp", "--k8s"]);
    assert_eq!(code, 0, "{err}");
    let config = manifests(&yaml)
        .into_iter()
        .find(|d| d["kind"].as_str() == Some("ConfigMap"))
        .unwrap();
    assert_eq!(config["data"]["DB_HOST"].as_str(), cluster.endpoint(), "{yaml}");
    let (code, _, _) = p.run(&["plan", "--env", "mvp", "--detailed-exitcode"]);
    assert_eq!(code, 0);
    assert_eq!(p.destroy("mvp").0, 0);
    assert!(aws.db_instance(&db).is_none(), "destroy takes the kept instance too");
}
