//! `apply`: what it creates, checked by an independent client; a second apply
//! changes nothing.

use crate::support::*;

#[test]
fn apply_creates_the_learning_stack_as_the_file_says() {
    require_emulator();
    let p = Project::from_sample("learning", "apply");
    let (code, out, err, calls) = p.run_counted(&["apply", "--env", "mvp", "--yes", "--poll-scale", "0.01"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("Apply complete"), "{err}");
    // Tags come with the create calls, never from a later tagging call.
    for op in [
        "ec2:CreateTags",
        "eks:TagResource",
        "rds:AddTagsToResource",
        "iam:TagRole",
    ] {
        assert_eq!(count(&calls, op), 0, "{op} was called: {calls}");
    }

    let aws = Independent::new("ap-northeast-1");
    let name = &p.name;
    let vpcs = aws.vpcs(name);
    assert_eq!(vpcs.len(), 1);
    let vpc = vpcs[0].vpc_id().unwrap().to_string();
    assert_eq!(vpcs[0].cidr_block(), Some("10.0.0.0/16"));

    let subnets = aws.subnets(name);
    assert_eq!(subnets.len(), 4);
    let mut cidrs: Vec<(String, String, bool)> = subnets
        .iter()
        .map(|s| {
            let elb = s.tags().iter().any(|t| t.key() == Some("kubernetes.io/role/elb"));
            (
                s.cidr_block().unwrap().to_string(),
                s.availability_zone().unwrap().to_string(),
                elb,
            )
        })
        .collect();
    cidrs.sort();
    assert_eq!(
        cidrs,
        vec![
            ("10.0.0.0/20".into(), "ap-northeast-1a".into(), true),
            ("10.0.128.0/20".into(), "ap-northeast-1a".into(), false),
            ("10.0.144.0/20".into(), "ap-northeast-1c".into(), false),
            ("10.0.16.0/20".into(), "ap-northeast-1c".into(), true),
        ]
    );
    for s in &subnets {
        assert!(
            s.tags()
                .iter()
                .any(|t| t.key() == Some("owner") && t.value() == Some("learner")),
            "user tags on every subnet"
        );
        assert!(s.tags().iter().any(|t| t.key() == Some("ekstack:address")));
    }

    let nats = aws.nat_gateways(name);
    assert_eq!(nats.len(), 1, "single NAT");
    let nat = nats[0].nat_gateway_id().unwrap().to_string();
    let public_a = subnets
        .iter()
        .find(|s| s.cidr_block() == Some("10.0.0.0/20"))
        .unwrap()
        .subnet_id()
        .unwrap();
    assert_eq!(nats[0].subnet_id(), Some(public_a));
    assert_eq!(aws.addresses(name).len(), 1);

    let tables = aws.route_tables(name);
    assert_eq!(tables.len(), 3);
    for t in &tables {
        let default = t
            .routes()
            .iter()
            .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
            .expect("default route");
        let tname = t
            .tags()
            .iter()
            .find(|x| x.key() == Some("Name"))
            .and_then(|x| x.value())
            .unwrap();
        if tname.ends_with("-public") {
            assert!(default.gateway_id().unwrap().starts_with("igw-"));
            assert_eq!(t.associations().len(), 2);
        } else {
            assert_eq!(default.nat_gateway_id(), Some(nat.as_str()), "private → the single NAT");
            assert_eq!(t.associations().len(), 1);
        }
    }

    // EKS reports its cluster security group through the rules proxy;
    // moto alone makes none.
    let rules = Independent::through(&endpoint(), "ap-northeast-1");
    let cluster_sg = rules
        .block_on(rules.eks.describe_cluster().name(name).send())
        .unwrap()
        .cluster
        .unwrap()
        .resources_vpc_config()
        .unwrap()
        .cluster_security_group_id()
        .unwrap()
        .to_string();
    aws.block_on(async {
        let groups = aws
            .ec2
            .describe_security_groups()
            .filters(Independent::stack_filter(name))
            .send()
            .await
            .unwrap();
        let sg = &groups.security_groups()[0];
        assert_eq!(sg.vpc_id(), Some(vpc.as_str()));
        // The database's port, from the cluster security group only.
        assert_eq!(sg.ip_permissions().len(), 1, "{:?}", sg.ip_permissions());
        let perm = &sg.ip_permissions()[0];
        assert_eq!(perm.from_port(), Some(5432));
        assert!(perm.ip_ranges().is_empty(), "no CIDR: {:?}", perm.ip_ranges());
        let sources: Vec<&str> = perm.user_id_group_pairs().iter().filter_map(|g| g.group_id()).collect();
        assert_eq!(sources, [cluster_sg.as_str()]);

        let role = aws
            .iam
            .get_role()
            .role_name(format!("{name}-ap-northeast-1-node"))
            .send()
            .await
            .unwrap();
        assert!(role
            .role()
            .unwrap()
            .tags()
            .iter()
            .any(|t| t.key() == "ekstack:stack" && t.value() == name));
        let attached = aws
            .iam
            .list_attached_role_policies()
            .role_name(format!("{name}-ap-northeast-1-node"))
            .send()
            .await
            .unwrap();
        assert_eq!(attached.attached_policies().len(), 3);

        let cluster = aws
            .eks
            .describe_cluster()
            .name(name)
            .send()
            .await
            .unwrap()
            .cluster
            .unwrap();
        assert_eq!(cluster.version(), Some("1.35"));
        assert_eq!(cluster.resources_vpc_config().unwrap().subnet_ids().len(), 2);
        assert_eq!(
            cluster.tags().unwrap().get("ekstack:address").map(String::as_str),
            Some("eks-cluster")
        );
        let fp = aws
            .eks
            .describe_fargate_profile()
            .cluster_name(name)
            .fargate_profile_name("apps")
            .send()
            .await
            .unwrap();
        assert_eq!(fp.fargate_profile().unwrap().selectors()[0].namespace(), Some("app"));
    });
    let ng = aws.nodegroup(name, "general").unwrap();
    let scaling = ng.scaling_config().unwrap();
    assert_eq!(
        (scaling.min_size(), scaling.desired_size(), scaling.max_size()),
        (Some(1), Some(1), Some(2))
    );
    assert_eq!(ng.instance_types(), ["t3.medium"]);

    let db = aws.db_instance(&format!("{name}-db")).unwrap();
    assert_eq!(db.db_instance_class(), Some("db.t4g.micro"));
    assert_eq!(db.engine(), Some("postgres"));
    assert_eq!(db.multi_az(), Some(false));
    assert_eq!(db.storage_encrypted(), Some(true));
    assert_eq!(db.publicly_accessible(), Some(false));
    assert_eq!(db.backup_retention_period(), Some(7));
    assert!(
        db.master_user_secret().and_then(|s| s.secret_arn()).is_some(),
        "password managed by RDS in Secrets Manager"
    );

    // A second apply finds nothing to do and makes no mutating call.
    let (code, out, _, calls) = p.run_counted(&["apply", "--env", "mvp", "--yes"]);
    assert_eq!(code, 0);
    assert!(out.contains("No changes."), "{out}");
    assert_eq!(calls["mutating"], 0, "{calls}");

    assert_eq!(p.destroy("mvp").0, 0);
}

#[test]
fn apply_without_a_terminal_refuses_without_yes() {
    require_emulator();
    let p = Project::from_sample("fargate", "noyes");
    let (code, _, err, calls) = p.run_counted(&["apply", "--env", "mvp"]);
    assert_eq!(code, 1);
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(calls["mutating"], 0);
}

#[test]
fn the_fargate_only_stack_applies_and_destroys() {
    require_emulator();
    let p = Project::from_sample("fargate", "farg");
    let (code, out, err) = p.apply("prod");
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("not applied"),
        "prod's node group and database are left out with a note: {err}"
    );
    let aws = Independent::new("us-east-1");
    let profiles = aws
        .block_on(aws.eks.list_fargate_profiles().cluster_name(&p.name).send())
        .unwrap();
    let mut names = profiles.fargate_profile_names().to_vec();
    names.sort();
    assert_eq!(names, ["apps", "system"]);
    let groups = aws
        .block_on(aws.eks.list_nodegroups().cluster_name(&p.name).send())
        .unwrap();
    assert!(groups.nodegroups().is_empty());
    assert_eq!(aws.nat_gateways(&p.name).len(), 2, "prod: a NAT per AZ");
    assert!(
        aws.block_on(
            aws.iam
                .get_role()
                .role_name(format!("{}-us-east-1-node", p.name))
                .send()
        )
        .is_err(),
        "no node role"
    );
    // The pod execution role trusts Fargate only for this cluster's
    // profiles in this account ("Amazon EKS Pod execution IAM role").
    let role = aws
        .block_on(
            aws.iam
                .get_role()
                .role_name(format!("{}-us-east-1-fargate", p.name))
                .send(),
        )
        .unwrap()
        .role
        .unwrap();
    let document = percent_encoding::percent_decode_str(role.assume_role_policy_document().unwrap())
        .decode_utf8()
        .unwrap()
        .into_owned();
    let trust: serde_json::Value = serde_json::from_str(&document).unwrap();
    let account = role.arn().split(':').nth(4).unwrap().to_string();
    assert_eq!(
        trust["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"],
        format!("arn:aws:eks:us-east-1:{account}:fargateprofile/{}/*", p.name),
        "{document}"
    );
    let (code, out, _) = p.run(&["plan", "--env", "prod", "--detailed-exitcode"]);
    assert_eq!(code, 0, "the trust policy reads back as written:\n{out}");
    let (code, _, err) = p.destroy("prod");
    assert_eq!(code, 0, "{err}");
    assert_eq!(aws.tagged_leftovers(&p.name), Vec::<String>::new());
}
