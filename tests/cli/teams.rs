//! A cluster teammates can use and workloads can run on: access entries and
//! managed add-ons, through a rules proxy of each test's own, which serves
//! what moto lacks (add-ons, access entries, Pod Identity associations,
//! DescribeAddonVersions) with EKS's shapes. Everything is checked through
//! the SDK over HTTP, against that emulator, not through ekstack.

use crate::support::*;

/// The team stack: three teammates with their policies and scopes, the
/// default add-ons plus three opt-in ones at the versions EKS offers, the
/// CNI and kube-proxy before the node group, CoreDNS and the rest after
/// it, the EBS CSI driver's role tied to its service account; one apply
/// converges, and destroy leaves nothing.
#[test]
fn a_team_stack_gets_access_entries_and_addons_in_order() {
    require_emulator();
    let t = Scenario::from_sample("team", "team");
    let name = t.p.name.clone();
    let out = t.ok(&["plan", "--env", "mvp"]);
    assert!(out.contains("eks-access.developers"), "{out}");
    assert!(
        out.contains("\"edit in app, jobs\""),
        "the plan shows the policy and its scope:\n{out}"
    );
    assert!(
        out.contains("version = \"v1.12.1-eksbuild.2\""),
        "CoreDNS at 1.35's default:\n{out}"
    );
    assert!(
        out.contains("version = \"v0.8.0-eksbuild.1\""),
        "metrics-server at latest:\n{out}"
    );

    t.ok(&["apply", "--env", "mvp", "--yes"]);
    let aws = t.aws("us-east-1");

    // Access entries: the three teammates, the creator's (made by EKS)
    // and the node role's (made by EKS), one each.
    let entries = aws
        .block_on(aws.eks.list_access_entries().cluster_name(&name).send())
        .unwrap();
    let principals: Vec<&str> = entries.access_entries().iter().map(String::as_str).collect();
    for p in [
        "arn:aws:iam::111122223333:role/platform-admins",
        "arn:aws:iam::111122223333:role/developers",
        "arn:aws:iam::111122223333:user/auditor",
        "arn:aws:iam::123456789012:user/moto",
    ] {
        assert!(principals.contains(&p), "{p} has an entry: {principals:?}");
    }
    assert!(
        principals
            .iter()
            .any(|p| p.ends_with(&format!("role/{name}-us-east-1-node"))),
        "{principals:?}"
    );
    assert_eq!(principals.len(), 5, "no entry is made twice: {principals:?}");
    let policies = |principal: &str| {
        let out = aws
            .block_on(
                aws.eks
                    .list_associated_access_policies()
                    .cluster_name(&name)
                    .principal_arn(principal)
                    .send(),
            )
            .unwrap();
        out.associated_access_policies()
            .iter()
            .map(|p| {
                let scope = p.access_scope().unwrap();
                (
                    p.policy_arn().unwrap().rsplit('/').next().unwrap().to_string(),
                    scope.r#type().unwrap().as_str().to_string(),
                    scope.namespaces().to_vec(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        policies("arn:aws:iam::111122223333:role/developers"),
        [(
            "AmazonEKSEditPolicy".to_string(),
            "namespace".to_string(),
            vec!["app".to_string(), "jobs".to_string()]
        )]
    );
    assert_eq!(
        policies("arn:aws:iam::111122223333:user/auditor"),
        [("AmazonEKSViewPolicy".to_string(), "cluster".to_string(), vec![])]
    );
    assert_eq!(
        policies("arn:aws:iam::111122223333:role/platform-admins"),
        [("AmazonEKSClusterAdminPolicy".to_string(), "cluster".to_string(), vec![])]
    );
    let cluster = aws
        .block_on(aws.eks.describe_cluster().name(&name).send())
        .unwrap()
        .cluster
        .unwrap();
    assert_eq!(
        cluster.access_config().unwrap().authentication_mode().unwrap().as_str(),
        "API_AND_CONFIG_MAP"
    );

    // Add-ons: the defaults and the opt-in ones, at the resolved versions.
    let addons = aws.block_on(aws.eks.list_addons().cluster_name(&name).send()).unwrap();
    let mut names: Vec<&str> = addons.addons().iter().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "amazon-cloudwatch-observability",
            "aws-ebs-csi-driver",
            "coredns",
            "eks-pod-identity-agent",
            "kube-proxy",
            "metrics-server",
            "vpc-cni"
        ]
    );
    let addon = |a: &str| {
        aws.block_on(aws.eks.describe_addon().cluster_name(&name).addon_name(a).send())
            .unwrap()
            .addon
            .unwrap()
    };
    let coredns = addon("coredns");
    assert_eq!(coredns.addon_version(), Some("v1.12.1-eksbuild.2"));
    assert_eq!(coredns.configuration_values(), Some(r#"{"replicaCount":3}"#));
    assert_eq!(coredns.status().unwrap().as_str(), "ACTIVE");
    assert_eq!(addon("metrics-server").addon_version(), Some("v0.8.0-eksbuild.1"));
    assert_eq!(addon("kube-proxy").addon_version(), Some("v1.35.3-eksbuild.2"));

    // The EBS CSI driver's role, tied to its service account by the add-on.
    let assoc = aws
        .block_on(aws.eks.list_pod_identity_associations().cluster_name(&name).send())
        .unwrap();
    let ebs = assoc
        .associations()
        .iter()
        .find(|a| a.service_account() == Some("ebs-csi-controller-sa"))
        .expect("the EBS CSI driver has its association");
    assert_eq!(ebs.namespace(), Some("kube-system"));
    assert!(ebs.owner_arn().is_some_and(|o| o.contains(":addon/")), "{ebs:?}");
    let id = ebs.association_id().unwrap().to_string();
    let described = aws
        .block_on(
            aws.eks
                .describe_pod_identity_association()
                .cluster_name(&name)
                .association_id(&id)
                .send(),
        )
        .unwrap()
        .association
        .unwrap();
    let role_name = format!("{name}-us-east-1-ebs-csi");
    assert!(described.role_arn().unwrap().ends_with(&role_name), "{described:?}");
    let role = aws
        .block_on(aws.iam.get_role().role_name(&role_name).send())
        .unwrap()
        .role
        .unwrap();
    let trust = percent_encoding::percent_decode_str(role.assume_role_policy_document().unwrap())
        .decode_utf8()
        .unwrap()
        .to_string();
    assert!(
        trust.contains("pods.eks.amazonaws.com") && trust.contains("sts:TagSession"),
        "{trust}"
    );

    // Order: the CNI, kube-proxy and the agent before the node group;
    // CoreDNS and the Deployment add-ons after it.
    let addons_at = format!("POST /clusters/{name}/addons");
    let nodes_at = format!("POST /clusters/{name}/node-groups");
    let node_group = t.first(&nodes_at, "", "").expect("a node group was made");
    for before in ["vpc-cni", "kube-proxy", "eks-pod-identity-agent"] {
        let at = t.first(&addons_at, "addonName", before).unwrap();
        assert!(at < node_group, "{before} is made before the node group");
    }
    for after in ["coredns", "metrics-server", "aws-ebs-csi-driver"] {
        let at = t.first(&addons_at, "addonName", after).unwrap();
        assert!(at > node_group, "{after} is made after the node group");
    }

    // Converged, in a bounded number of reads.
    let before = t.proxy.requests().len();
    let (code, out, err) = t.run(&["plan", "--env", "mvp", "--detailed-exitcode"]);
    assert_eq!(code, 0, "one apply converges:\n{out}{err}");
    let reads = t.proxy.requests().len() - before;
    println!("converged plan of the team stack: {reads} calls");
    // One describe per add-on, entry and role (EKS and IAM have no batch
    // read for them), a listing per kind; its parameter group adds its
    // tags, its parameters and the engine's defaults (one page here).
    assert!(reads < 60, "plan made {reads} calls");

    // Removing a teammate deletes only that entry; EKS's stay.
    let text = std::fs::read_to_string(t.p.path()).unwrap();
    let without = text.replace(
        "[eks.access.auditor]\nprincipal = \"arn:aws:iam::111122223333:user/auditor\"\npolicy = \"view\"\n",
        "",
    );
    assert_ne!(without, text);
    t.p.write_stack(&without);
    let out = t.ok(&["apply", "--env", "mvp", "--yes"]);
    assert!(out.contains("eks-access.auditor"), "{out}");
    let entries = aws
        .block_on(aws.eks.list_access_entries().cluster_name(&name).send())
        .unwrap();
    assert_eq!(entries.access_entries().len(), 4, "{:?}", entries.access_entries());
    assert!(entries
        .access_entries()
        .iter()
        .any(|p| p == "arn:aws:iam::123456789012:user/moto"));

    let out = t.ok(&["destroy", "--env", "mvp", "--yes"]);
    assert!(out.contains("Destroy complete"), "{out}");
    assert!(aws.tagged_leftovers(&name).is_empty());
}

/// A Fargate-only stack: CoreDNS is told to run on Fargate (its
/// `computeType`), made after the kube-system profile, and turns ACTIVE.
#[test]
fn coredns_runs_on_fargate_on_a_fargate_only_stack() {
    require_emulator();
    let t = Scenario::from_sample("fargate", "fdns");
    let name = t.p.name.clone();
    t.ok(&["apply", "--env", "mvp", "--yes"]);
    let aws = t.aws("us-east-1");
    let coredns = aws
        .block_on(
            aws.eks
                .describe_addon()
                .cluster_name(&name)
                .addon_name("coredns")
                .send(),
        )
        .unwrap()
        .addon
        .unwrap();
    assert_eq!(coredns.configuration_values(), Some(r#"{"computeType":"Fargate"}"#));
    assert_eq!(coredns.status().unwrap().as_str(), "ACTIVE");
    let profile = t
        .first(
            &format!("POST /clusters/{name}/fargate-profiles"),
            "fargateProfileName",
            "system",
        )
        .unwrap();
    let dns = t
        .first(&format!("POST /clusters/{name}/addons"), "addonName", "coredns")
        .unwrap();
    assert!(dns > profile, "CoreDNS is made once the kube-system profile is");
    t.ok(&["destroy", "--env", "mvp", "--yes"]);
}

/// CoreDNS changed while nothing can run it (the node group scaled to
/// zero) turns DEGRADED: the step fails with EKS's health issue rather
/// than waiting forever, and with a node back one more run converges.
#[test]
fn a_degraded_addon_fails_the_step_with_its_health_issue() {
    require_emulator();
    let t = Scenario::from_sample("learning", "dgr");
    t.ok(&["apply", "--env", "mvp", "--yes"]);
    let text = std::fs::read_to_string(t.p.path()).unwrap();
    let scaled = |desired: &str| {
        format!(
            "{}\n[eks.addons.coredns]\nconfiguration = {{ replicaCount = 3 }}\n",
            text.replace("min = 1\ndesired = 1", &format!("min = 0\ndesired = {desired}"))
        )
    };
    t.p.write_stack(&scaled("0"));
    let (code, out, err) = t.run(&["apply", "--yes"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("add-on coredns is DEGRADED: InsufficientNumberOfReplicas"),
        "the health issue is the reason:\n{err}"
    );
    t.p.write_stack(&scaled("1"));
    t.ok(&["apply", "--yes"]);
    let (code, out, err) = t.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}{err}");
    t.ok(&["destroy", "--yes"]);
}

/// A version EKS publishes later is shown as available, not as a change;
/// a pinned version EKS does not offer is refused before any call.
#[test]
fn newer_addon_versions_are_available_not_changes() {
    require_emulator();
    let t = Scenario::from_sample("learning", "avail");
    t.ok(&["apply", "--env", "mvp", "--yes"]);
    t.proxy
        .rules()
        .unwrap()
        .publish_addon_version("coredns", "v1.12.9-eksbuild.1");
    let (code, out, err) = t.run(&["plan", "--env", "mvp", "--detailed-exitcode"]);
    assert_eq!(code, 0, "nothing to change:\n{out}{err}");
    assert!(
        out.contains("v1.12.9-eksbuild.1 is available"),
        "the newer version is reported:\n{out}"
    );

    let text = std::fs::read_to_string(t.p.path()).unwrap();
    t.p.write_stack(&format!(
        "{text}\n[eks.addons.coredns]\nversion = \"v1.12.9-eksbuild.1\"\n"
    ));
    let (code, out, err) = t.run(&["plan", "--env", "mvp", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let coredns = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["address"] == "eks-addon.coredns")
        .cloned()
        .unwrap();
    assert_eq!(coredns["action"], "update", "{coredns}");
    assert_eq!(coredns["changes"][0]["after"], "v1.12.9-eksbuild.1");

    t.p.write_stack(&format!(
        "{text}\n[eks.addons.coredns]\nversion = \"v1.99.0-eksbuild.1\"\n"
    ));
    let before = t.proxy.requests().len();
    let (code, out, err) = t.run(&["apply", "--env", "mvp", "--yes"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("eks.addons.coredns.version"), "{err}");
    assert!(err.contains("not offered for Kubernetes 1.35"), "{err}");
    let mutating = t.proxy.requests()[before..]
        .iter()
        .filter(|(a, _)| a.starts_with("POST") || a.starts_with("DELETE"))
        .count();
    assert_eq!(mutating, 0, "refused before any mutating call");
    t.ok(&["destroy", "--env", "mvp", "--yes"]);
}

/// `kubeconfig` says when the credentials have no access entry, so
/// kubectl would be refused.
#[test]
fn kubeconfig_warns_without_an_access_entry() {
    require_emulator();
    let t = Scenario::from_sample("fargate", "kcfg");
    let name = t.p.name.clone();
    t.ok(&["apply", "--env", "mvp", "--yes"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config");
    let file = file.to_str().unwrap();
    let out = t.ok(&["kubeconfig", "--env", "mvp", "--kubeconfig", file]);
    assert!(!out.contains("no access entry"), "the creator has one:\n{out}");
    let aws = t.aws("us-east-1");
    aws.block_on(
        aws.eks
            .delete_access_entry()
            .cluster_name(&name)
            .principal_arn("arn:aws:iam::123456789012:user/moto")
            .send(),
    )
    .unwrap();
    let out = t.ok(&["kubeconfig", "--env", "mvp", "--kubeconfig", file]);
    assert!(
        out.contains("arn:aws:iam::123456789012:user/moto has no access entry"),
        "{out}"
    );
    assert!(out.contains("[eks.access.me]"), "the way out is shown:\n{out}");
    t.ok(&["destroy", "--env", "mvp", "--yes"]);
}

/// A cluster made before access entries (CONFIG_MAP) moves to
/// API_AND_CONFIG_MAP in place, the plan says it is one-way, and the
/// teammates' entries follow in the same apply.
#[test]
fn a_config_map_cluster_moves_to_access_entries_in_place() {
    require_emulator();
    let text = format!(
        "{}\n[eks.access.dev]\nprincipal = \"arn:aws:iam::111122223333:role/dev\"\npolicy = \"view\"\n",
        std::fs::read_to_string(repo().join("stacks/fargate.toml")).unwrap()
    );
    let t = Scenario::new(&text, "cmap");
    let name = t.p.name.clone();
    t.ok(&["apply", "--env", "mvp", "--yes"]);
    t.proxy.rules().unwrap().as_config_map_cluster(&name);

    let (code, out, err) = t.run(&["plan", "--env", "mvp", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let action = |address: &str| {
        plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["address"] == address)
            .cloned()
            .unwrap_or_default()
    };
    let cluster = action("eks-cluster");
    assert_eq!(cluster["action"], "update", "{cluster}");
    assert_eq!(cluster["changes"][0]["before"], "CONFIG_MAP", "{cluster}");
    assert!(
        cluster["changes"][0]["note"].to_string().contains("one-way"),
        "{cluster}"
    );
    assert_eq!(action("eks-access.dev")["action"], "create");

    t.ok(&["apply", "--env", "mvp", "--yes"]);
    let updates = t.bodies(&format!("POST /clusters/{name}/update-config"));
    assert!(
        updates
            .iter()
            .any(|u| u["accessConfig"]["authenticationMode"] == "API_AND_CONFIG_MAP"),
        "{updates:?}"
    );
    let aws = t.aws("us-east-1");
    let entries = aws
        .block_on(aws.eks.list_access_entries().cluster_name(&name).send())
        .unwrap();
    assert!(entries
        .access_entries()
        .iter()
        .any(|p| p == "arn:aws:iam::111122223333:role/dev"));
    t.converged("mvp");
    t.ok(&["destroy", "--env", "mvp", "--yes"]);
}
