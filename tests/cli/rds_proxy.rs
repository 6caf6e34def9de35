//! RDS Proxy in front of the writer, through a rules proxy of the test's own
//! that serves ModifyDBProxy (moto has none), shows a proxy being made, and
//! refuses a target registered twice. Checked with an independent client.

use crate::support::*;

fn with_proxy(extra: &str) -> String {
    std::fs::read_to_string(repo().join("stacks/learning.toml"))
        .unwrap()
        .replace(
            "db_name = \"app\"",
            &format!("db_name = \"app\"\n\n[database.proxy]\n{extra}"),
        )
}

/// The learning stack with a proxy: its role reads exactly the database's
/// managed secret; TLS is required; the instance is its target; the pool
/// takes the file's share of connections; the cluster reaches the proxy and
/// the proxy the database, through security groups of their own; the app's
/// DB_HOST is the proxy; a changed idle timeout is modified in place; a
/// removed proxy goes with its role, group and rules.
#[test]
fn a_proxy_fronts_the_writer_with_a_role_scoped_to_its_secret() {
    require_emulator();
    let t = Scenario::new(&with_proxy("max_connections_percent = 75\n"), "prox");
    let name = t.p.name.clone();
    t.ok(&["apply", "--env", "mvp", "--yes"]);
    let aws = t.aws("ap-northeast-1");

    let proxy = aws
        .block_on(
            aws.rds
                .describe_db_proxies()
                .db_proxy_name(format!("{name}-proxy"))
                .send(),
        )
        .unwrap()
        .db_proxies()[0]
        .clone();
    assert_eq!(proxy.require_tls(), Some(true));
    assert_eq!(proxy.idle_client_timeout(), Some(1800));
    assert_eq!(proxy.engine_family(), Some("POSTGRESQL"));
    let secret = aws
        .db_instance(&format!("{name}-db"))
        .unwrap()
        .master_user_secret()
        .unwrap()
        .secret_arn()
        .unwrap()
        .to_string();
    assert_eq!(proxy.auth()[0].secret_arn(), Some(secret.as_str()));

    // The role: trusted by RDS, reading the one secret and nothing else.
    let role = format!("{name}-ap-northeast-1-rds-proxy");
    assert_eq!(proxy.role_arn().unwrap().rsplit('/').next(), Some(role.as_str()));
    let policy = crate::identities::inline_policy(&aws, &role);
    let statements = policy["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1, "{policy}");
    assert_eq!(statements[0]["Resource"], serde_json::json!([secret]));
    let attached = aws
        .block_on(aws.iam.list_attached_role_policies().role_name(&role).send())
        .unwrap();
    assert!(attached.attached_policies().is_empty());
    let trust = aws.block_on(aws.iam.get_role().role_name(&role).send()).unwrap();
    let trust = percent_encoding::percent_decode_str(trust.role().unwrap().assume_role_policy_document().unwrap())
        .decode_utf8()
        .unwrap()
        .to_string();
    assert!(trust.contains("rds.amazonaws.com"), "{trust}");

    // Its target and pool.
    let proxy_name = format!("{name}-proxy");
    let targets = aws
        .block_on(aws.rds.describe_db_proxy_targets().db_proxy_name(&proxy_name).send())
        .unwrap();
    let ids: Vec<&str> = targets.targets().iter().filter_map(|t| t.rds_resource_id()).collect();
    assert_eq!(ids, [format!("{name}-db")]);
    let groups = aws
        .block_on(
            aws.rds
                .describe_db_proxy_target_groups()
                .db_proxy_name(&proxy_name)
                .send(),
        )
        .unwrap();
    assert_eq!(
        groups.target_groups()[0]
            .connection_pool_config()
            .unwrap()
            .max_connections_percent(),
        Some(75)
    );

    // Security groups: cluster → proxy → database.
    let cluster_sg = aws
        .cluster(&name)
        .resources_vpc_config()
        .unwrap()
        .cluster_security_group_id()
        .unwrap()
        .to_string();
    let sgs = aws
        .block_on(
            aws.ec2
                .describe_security_groups()
                .filters(Independent::stack_filter(&name))
                .send(),
        )
        .unwrap();
    let group = |n: &str| {
        sgs.security_groups()
            .iter()
            .find(|g| g.group_name() == Some(&format!("{name}-{n}")))
            .unwrap()
            .clone()
    };
    let (db_sg, proxy_sg) = (group("database"), group("proxy"));
    assert_eq!(
        proxy.vpc_security_group_ids(),
        [proxy_sg.group_id().unwrap().to_string()]
    );
    let sources = |g: &aws_sdk_ec2::types::SecurityGroup| {
        let mut s: Vec<String> = g
            .ip_permissions()
            .iter()
            .flat_map(|p| {
                p.user_id_group_pairs()
                    .iter()
                    .filter_map(|u| u.group_id().map(str::to_string))
            })
            .collect();
        s.sort();
        s
    };
    let mut want = vec![cluster_sg.clone(), proxy_sg.group_id().unwrap().to_string()];
    want.sort();
    assert_eq!(sources(&db_sg), want);
    assert_eq!(sources(&proxy_sg), [cluster_sg]);

    let (code, yaml, err) = t.run(&["output", "--env", "mvp", "--k8s"]);
    assert_eq!(code, 0, "{err}");
    let config = manifests(&yaml)
        .into_iter()
        .find(|d| d["kind"].as_str() == Some("ConfigMap"))
        .unwrap();
    assert_eq!(config["data"]["DB_HOST"].as_str(), proxy.endpoint());
    t.converged("mvp");

    // In place: the idle timeout (ModifyDBProxy).
    t.p.write_stack(&with_proxy(
        "max_connections_percent = 75\nidle_client_timeout_s = 600\n",
    ));
    let plan = t.ok(&["plan", "--env", "mvp"]);
    assert!(
        plan.contains("database.proxy.idle_client_timeout_s: 1800 → 600"),
        "{plan}"
    );
    t.ok(&["apply", "--env", "mvp", "--yes"]);
    let now = aws
        .block_on(aws.rds.describe_db_proxies().db_proxy_name(&proxy_name).send())
        .unwrap();
    assert_eq!(now.db_proxies()[0].idle_client_timeout(), Some(600));
    t.converged("mvp");

    // Without the proxy: it goes, with its role, group and rules.
    t.p.write_stack(&std::fs::read_to_string(repo().join("stacks/learning.toml")).unwrap());
    t.ok(&["apply", "--env", "mvp", "--yes"]);
    assert!(aws
        .block_on(aws.rds.describe_db_proxies().db_proxy_name(&proxy_name).send())
        .is_err());
    assert!(aws.block_on(aws.iam.get_role().role_name(&role).send()).is_err());
    t.converged("mvp");

    let out = t.ok(&["destroy", "--env", "mvp", "--yes"]);
    assert!(out.contains("Destroy complete"), "{out}");
}

/// The Aurora sample in prod: the proxy tracks the Serverless v2 cluster,
/// and both plan and status price it (at least 8 ACUs), with no price
/// left unknown.
#[test]
fn a_proxy_tracks_an_aurora_cluster_and_is_priced_live() {
    require_emulator();
    let t = Scenario::from_sample("aurora", "aprox");
    let name = t.p.name.clone();
    t.ok(&["apply", "--env", "prod", "--yes"]);
    let aws = t.aws("eu-west-1");
    let targets = aws
        .block_on(
            aws.rds
                .describe_db_proxy_targets()
                .db_proxy_name(format!("{name}-proxy"))
                .send(),
        )
        .unwrap();
    let tracked: Vec<(&str, &str)> = targets
        .targets()
        .iter()
        .filter_map(|t| Some((t.r#type()?.as_str(), t.rds_resource_id()?)))
        .collect();
    assert_eq!(tracked, [("TRACKED_CLUSTER", format!("{name}-db").as_str())]);
    t.converged("prod");

    let (code, out, err) = t.run(&["status", "--env", "prod", "--json"]);
    assert_eq!(code, 0, "{err}");
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["cost"]["complete"], true, "{}", status["cost"]);
    let proxy = status["cost"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["address"] == "db-proxy")
        .expect("the proxy is priced");
    assert_eq!(proxy["description"], "RDS Proxy (8 ACU)", "{proxy}");

    t.ok(&["apply", "--env", "mvp", "--yes"]);
    let out = t.ok(&["destroy", "--env", "mvp", "--yes"]);
    assert!(out.contains("Destroy complete"), "{out}");
}
