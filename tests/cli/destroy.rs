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
        // One the EBS CSI driver made without being told the cluster's id:
        // only its own tags ("aws-ebs-csi-driver: docs/tagging.md").
        let unnamed = aws
            .ec2
            .create_volume()
            .size(4)
            .availability_zone("ap-northeast-1a")
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Volume)
                    .tags(Tag::builder().key("ebs.csi.aws.com/cluster").value("true").build())
                    .tags(Tag::builder().key("CSIVolumeName").value(format!("pvc-{name}")).build())
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .volume_id()
            .unwrap()
            .to_string();
        (lb_arn, sg, eni, (vol, unnamed))
    });
    let (volume, unnamed) = volume;

    let (code, out, err) = p.destroy("mvp");
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("Destroy complete"), "{err}");
    let snapshot = err
        .lines()
        .find_map(|l| l.trim().strip_prefix("final snapshot "))
        .map(|l| l.split_whitespace().next().unwrap().to_string());
    let snapshot = snapshot.unwrap_or_else(|| panic!("no final snapshot reported: {err}"));
    // What is kept on purpose is listed from a fresh look, each with its
    // cost and the way to delete it: the snapshot and both volumes.
    let kept = err
        .split("Kept on purpose, still billing:")
        .nth(1)
        .unwrap_or_else(|| panic!("no list of what is kept: {err}"));
    let line_of = |id: &str| {
        kept.lines()
            .find(|l| l.contains(id))
            .unwrap_or_else(|| panic!("{id} is not listed as kept:\n{err}"))
            .to_string()
    };
    assert!(
        line_of(&volume).contains("10 GiB") && line_of(&volume).contains("/month"),
        "{err}"
    );
    assert!(line_of(&unnamed).contains("no tag naming its cluster"), "{err}");
    assert!(line_of(&format!("snapshot {snapshot}")).contains("/month"), "{err}");
    assert!(
        kept.contains(&format!(
            "aws rds delete-db-snapshot --region ap-northeast-1 --db-snapshot-identifier {snapshot}"
        )),
        "{err}"
    );
    assert!(
        line_of("retained automated backups").contains("20 GiB"),
        "backups retained with the final snapshot are listed: {err}"
    );
    assert!(err.contains("kept on purpose (above)"), "{err}");

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

    // A second destroy has nothing to do but still lists what bills; with
    // --delete-volumes it deletes the cluster's volume, never the one no tag
    // ties to the cluster.
    let (code, out, err) = p.run(&["destroy", "--env", "mvp", "--yes", "--delete-volumes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Nothing to destroy"), "{out}");
    assert!(err.contains(&format!("deleted EBS volume {volume} (10 GiB)")), "{err}");
    assert!(err.contains(&snapshot), "the snapshot still bills: {err}");
    assert!(err.contains(&unnamed), "{err}");
    aws.block_on(async {
        let vols = aws.ec2.describe_volumes().volume_ids(&volume).send().await;
        assert!(
            vols.is_err() || vols.unwrap().volumes().is_empty(),
            "the cluster's volume is gone"
        );
        let vols = aws.ec2.describe_volumes().volume_ids(&unnamed).send().await.unwrap();
        assert_eq!(vols.volumes().len(), 1, "the unattributed volume is kept");
        aws.ec2.delete_volume().volume_id(&unnamed).send().await.unwrap();
    });
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

/// The destroy order comes from what live resources point at, as AWS
/// reports it: checked on the steps ekstack would run for a stack that
/// really exists in the emulator.
#[test]
fn destroy_order_follows_what_each_live_resource_points_at() {
    use ekstack::ops::steps::{Work, SWEEP};
    require_emulator();
    let p = Project::from_sample("learning", "order");
    p.apply_ok("mvp");
    let stack = ekstack::config::load(p.path(), &ekstack::config::Overlay::Env("mvp".into()), None)
        .unwrap()
        .stack;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let nodes = rt.block_on(async {
        let target = ekstack::aws::Target {
            region: stack.meta.region.clone(),
            profile: None,
            endpoint_url: Some(endpoint()),
            calls: std::sync::Arc::new(ekstack::aws::CallLog::new(None)),
        };
        let aws = ekstack::ops::connect(&target).await.unwrap();
        let planned = ekstack::ops::destroy::plan_destroy(&aws, &stack, false).await.unwrap();
        ekstack::ops::destroy::destroy_steps(&planned)
    });
    let key_of = |address: &str| {
        nodes
            .iter()
            .find(|n| matches!(&n.work, Work::Delete { live } if live.address == address))
            .unwrap_or_else(|| panic!("no delete step for {address}"))
            .key
            .clone()
    };
    let waits = |address: &str, on: &[&str]| {
        let node = nodes.iter().find(|n| n.key == key_of(address)).unwrap();
        for o in on {
            let key = if *o == SWEEP { SWEEP.to_string() } else { key_of(o) };
            assert!(node.deps.contains(&key), "{address} must wait for {o}: {:?}", node.deps);
        }
    };
    let (a, c) = ("ap-northeast-1a", "ap-northeast-1c");
    waits(
        "vpc",
        &[
            "internet-gateway",
            &format!("subnet.public.{a}"),
            &format!("subnet.private.{c}"),
            "route-table.public",
            "security-group.database",
            SWEEP,
        ],
    );
    waits(
        &format!("subnet.public.{a}"),
        &[&format!("nat-gateway.{a}"), "route-table.public", SWEEP],
    );
    waits(
        &format!("subnet.private.{a}"),
        &[
            "eks-cluster",
            "eks-nodegroup.general",
            "eks-fargate-profile.apps",
            "db-subnet-group",
            &format!("route-table.private.{a}"),
        ],
    );
    waits(&format!("eip.nat.{a}"), &[&format!("nat-gateway.{a}")]);
    waits("internet-gateway", &[&format!("nat-gateway.{a}"), "route-table.public"]);
    // The NAT gateway goes once nothing needs egress (nodes, Fargate pods),
    // beside the control plane's deletion: not after the route tables,
    // which wait for the sweep, which waits for the cluster.
    waits(
        &format!("nat-gateway.{a}"),
        &["eks-nodegroup.general", "eks-fargate-profile.apps"],
    );
    let nat = nodes
        .iter()
        .find(|n| n.key == key_of(&format!("nat-gateway.{a}")))
        .unwrap();
    for o in [
        key_of(&format!("route-table.private.{c}")),
        key_of(&format!("route-table.private.{a}")),
        key_of("eks-cluster"),
        SWEEP.to_string(),
    ] {
        assert!(
            !nat.deps.contains(&o),
            "the NAT gateway need not wait for {o}: {:?}",
            nat.deps
        );
    }
    waits("eks-cluster", &["eks-nodegroup.general", "eks-fargate-profile.apps"]);
    waits("iam-role.cluster", &["eks-cluster"]);
    waits("iam-role.node", &["eks-nodegroup.general"]);
    waits("iam-role.fargate", &["eks-fargate-profile.apps"]);
    waits("db-subnet-group", &["db-instance"]);
    waits("security-group.database", &["db-instance"]);
    let sweep = nodes.iter().find(|n| n.key == SWEEP).unwrap();
    for k in ["eks-cluster", "eks-nodegroup.general", "eks-fargate-profile.apps"] {
        assert!(sweep.deps.contains(&key_of(k)), "the sweep waits for {k}");
    }
    assert_eq!(p.destroy("mvp").0, 0);
}

/// Plain output says how long each slow step usually takes and how long the
/// run has left, falling as steps finish; and the NAT gateway is deleted
/// while the control plane is, before the sweep that waits for it.
#[test]
fn progress_shows_usual_durations_and_time_left_and_nat_goes_with_the_cluster() {
    require_emulator();
    let t = Scenario::from_sample("learning", "prg");
    let out = t.ok(&["apply", "--env", "mvp", "--yes"]);
    assert!(
        out.contains("create eks-cluster: started (usually 9–15 min)"),
        "the cluster's create says how long it usually takes:\n{out}"
    );
    assert!(
        out.contains("create eks-nodegroup.general: started (usually 2m00s–3m30s)"),
        "{out}"
    );
    let lefts: Vec<u64> = out
        .lines()
        .filter_map(|l| l.split("steps done, about ").nth(1))
        .filter_map(|rest| rest.split('m').next())
        .filter_map(|m| m.trim().parse().ok())
        .collect();
    assert!(lefts.len() >= 2, "the time left is told more than once:\n{out}");
    assert!(lefts.windows(2).all(|w| w[1] < w[0]), "and it falls: {lefts:?}");
    assert!(
        lefts[0] >= 14,
        "the learning stack's critical path is about 15 minutes: {lefts:?}"
    );
    assert!(out.contains("steps done, nothing left"), "{out}");

    let before = t.proxy.requests().len();
    let out = t.ok(&["destroy", "--env", "mvp", "--yes"]);
    assert!(
        out.contains("delete eks-cluster") && out.contains("(usually 4–6 min)"),
        "{out}"
    );
    let actions: Vec<String> = t.proxy.requests()[before..].iter().map(|(a, _)| a.clone()).collect();
    let first = |p: &dyn Fn(&str) -> bool, what: &str| {
        actions
            .iter()
            .position(|x| p(x))
            .unwrap_or_else(|| panic!("no {what}: {actions:?}"))
    };
    let last = |p: &dyn Fn(&str) -> bool, what: &str| {
        actions
            .iter()
            .rposition(|x| p(x))
            .unwrap_or_else(|| panic!("no {what}: {actions:?}"))
    };
    let nat = first(&|a| a == "DeleteNatGateway", "DeleteNatGateway");
    // After the polls that saw the node group and the Fargate profile gone…
    let nodes_gone = last(
        &|a| a.starts_with("GET ") && a.contains("/node-groups/"),
        "node group polls",
    );
    let pods_gone = last(
        &|a| a.starts_with("GET ") && a.contains("/fargate-profiles/"),
        "Fargate polls",
    );
    assert!(nat > nodes_gone && nat > pods_gone, "{actions:?}");
    // …and before the sweep (which waits for the cluster to be gone).
    let sweep = first(&|a| a == "DescribeLoadBalancers", "the sweep");
    let cluster_gone = last(
        &|a| a.starts_with("GET /clusters/") && a.matches('/').count() == 2,
        "cluster polls",
    );
    assert!(
        nat < sweep && nat < cluster_gone,
        "the NAT goes while the control plane is deleted: {actions:?}"
    );
    assert!(
        nat < first(&|a| a == "DeleteRouteTable", "DeleteRouteTable"),
        "{actions:?}"
    );
}
