//! `destroy`: nothing left billing, including what Kubernetes made.

use crate::support::*;

#[test]
fn destroy_removes_everything_including_what_kubernetes_left() {
    require_emulator();
    let p = Project::from_sample("learning", "dstr");
    p.apply_ok("mvp");
    let aws = Independent::new("ap-northeast-1");
    let name = p.name.clone();
    let vpc = aws.vpcs(&name)[0].vpc_id().unwrap().to_string();
    let public: Vec<String> = aws
        .subnets(&name)
        .iter()
        .filter(|s| s.tags().iter().any(|t| t.key() == Some("kubernetes.io/role/elb")))
        .map(|s| s.subnet_id().unwrap().to_string())
        .collect();

    // What the AWS load balancer controller and the VPC CNI leave behind.
    let (lb_arn, lb_sg, eni, volume) = aws.block_on(async {
        use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
        let sg = aws
            .ec2
            .create_security_group()
            .group_name(format!("k8s-{name}-web"))
            .description("[k8s] managed LoadBalancer security group")
            .vpc_id(&vpc)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::SecurityGroup)
                    .tags(Tag::builder().key("elbv2.k8s.aws/cluster").value(&name).build())
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .group_id()
            .unwrap()
            .to_string();
        let lb = aws
            .elbv2
            .create_load_balancer()
            .name(format!("k8s-{}", &name[..name.len().min(20)]))
            .set_subnets(Some(public.clone()))
            .security_groups(&sg)
            .tags(
                aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                    .key("elbv2.k8s.aws/cluster")
                    .value(&name)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let lb_arn = lb.load_balancers()[0].load_balancer_arn().unwrap().to_string();
        let eni = aws
            .ec2
            .create_network_interface()
            .subnet_id(&public[0])
            .send()
            .await
            .unwrap();
        let eni = eni
            .network_interface()
            .unwrap()
            .network_interface_id()
            .unwrap()
            .to_string();
        let vol = aws
            .ec2
            .create_volume()
            .size(10)
            .availability_zone("ap-northeast-1a")
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Volume)
                    .tags(
                        Tag::builder()
                            .key(format!("kubernetes.io/cluster/{name}"))
                            .value("owned")
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .volume_id()
            .unwrap()
            .to_string();
        (lb_arn, sg, eni, vol)
    });

    let (code, out, err) = p.destroy("mvp");
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("Destroy complete"), "{err}");
    assert!(err.contains(&volume), "the kept volume is reported by id: {err}");
    let snapshot = err
        .lines()
        .find_map(|l| l.trim().strip_prefix("final snapshot "))
        .map(|l| l.split_whitespace().next().unwrap().to_string());
    let snapshot = snapshot.unwrap_or_else(|| panic!("no final snapshot reported: {err}"));

    assert_eq!(aws.tagged_leftovers(&name), Vec::<String>::new());
    assert!(aws.addresses(&name).is_empty());
    aws.block_on(async {
        let vpcs = aws.ec2.describe_vpcs().vpc_ids(&vpc).send().await;
        assert!(vpcs.is_err() || vpcs.unwrap().vpcs().is_empty(), "VPC gone");
        let lbs = aws
            .elbv2
            .describe_load_balancers()
            .load_balancer_arns(&lb_arn)
            .send()
            .await;
        assert!(
            lbs.is_err() || lbs.unwrap().load_balancers().is_empty(),
            "load balancer gone"
        );
        let sgs = aws.ec2.describe_security_groups().group_ids(&lb_sg).send().await;
        assert!(
            sgs.is_err() || sgs.unwrap().security_groups().is_empty(),
            "its security group gone"
        );
        let enis = aws
            .ec2
            .describe_network_interfaces()
            .network_interface_ids(&eni)
            .send()
            .await;
        assert!(
            enis.is_err() || enis.unwrap().network_interfaces().is_empty(),
            "stray ENI gone"
        );
        let vols = aws.ec2.describe_volumes().volume_ids(&volume).send().await.unwrap();
        assert_eq!(vols.volumes().len(), 1, "the volume is kept without --delete-volumes");
        let snaps = aws
            .rds
            .describe_db_snapshots()
            .db_snapshot_identifier(&snapshot)
            .send()
            .await
            .unwrap();
        assert_eq!(snaps.db_snapshots().len(), 1, "final snapshot {snapshot} exists");
        assert!(
            aws.eks.describe_cluster().name(&name).send().await.is_err(),
            "cluster gone"
        );
        assert!(
            aws.iam
                .get_role()
                .role_name(format!("{name}-ap-northeast-1-cluster"))
                .send()
                .await
                .is_err(),
            "roles gone"
        );
    });

    // A second destroy has nothing to do.
    let (code, out, _) = p.destroy("mvp");
    assert_eq!(code, 0);
    assert!(out.contains("Nothing to destroy"), "{out}");
}

#[test]
fn a_protected_database_stops_destroy_before_anything_is_deleted() {
    require_emulator();
    let p = Project::from_sample("learning", "prot");
    p.apply_ok("prod");
    let (code, _, err, calls) = p.run_counted(&["destroy", "--env", "prod", "--yes", "--poll-scale", "0.01"]);
    assert_eq!(code, 1);
    assert!(err.contains("deletion protection"), "{err}");
    assert!(err.contains("Nothing was deleted"), "{err}");
    assert_eq!(calls["mutating"], 0, "zero deletes: {calls}");
    // Turn it off through the file, then destroy works.
    p.write_env(
        "prod",
        &std::fs::read_to_string(repo().join("environments/prod.toml"))
            .unwrap()
            .replace("deletion_protection = true", "deletion_protection = false"),
    );
    p.apply_ok("prod");
    let (code, _, err) = p.destroy("prod");
    assert_eq!(code, 0, "{err}");
}
