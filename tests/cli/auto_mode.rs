//! EKS Auto Mode, through a rules proxy of each test's own that keeps what
//! moto drops (CreateCluster's and UpdateClusterConfig's compute, block
//! storage and load balancing configs, the node role's access entry EKS
//! makes) and refuses what EKS refuses (the three capabilities set apart).
//! The roles and the cluster are checked through the SDK, not through
//! ekstack.

use crate::support::*;

const AUTO_CLUSTER_POLICIES: [&str; 5] = [
    "AmazonEKSBlockStoragePolicy",
    "AmazonEKSClusterPolicy",
    "AmazonEKSComputePolicy",
    "AmazonEKSLoadBalancingPolicy",
    "AmazonEKSNetworkingPolicy",
];

fn attached(aws: &Independent, role: &str) -> Vec<String> {
    let out = aws
        .block_on(aws.iam.list_attached_role_policies().role_name(role).send())
        .unwrap();
    let mut names: Vec<String> = out
        .attached_policies()
        .iter()
        .map(|p| p.policy_name().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// The actions a role's trust policy allows its principal.
fn trusted_actions(aws: &Independent, role: &str) -> Vec<String> {
    let out = aws.block_on(aws.iam.get_role().role_name(role).send()).unwrap();
    let doc = out.role().unwrap().assume_role_policy_document().unwrap();
    let text = percent_encoding::percent_decode_str(doc).decode_utf8().unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    match &v["Statement"][0]["Action"] {
        serde_json::Value::String(a) => vec![a.clone()],
        serde_json::Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
        other => panic!("{other}"),
    }
}

/// The Auto Mode sample: CreateCluster carries compute (both built-in node
/// pools and the node role), block storage and load balancing; the roles
/// carry Auto Mode's policies and trust; no add-on is made; the app's
/// identity is an EKS Pod Identity association; output --k8s has the
/// IngressClass Auto Mode's ALBs answer to; one apply converges and
/// destroy leaves nothing.
#[test]
fn an_auto_mode_stack_creates_its_cluster_with_compute_storage_and_load_balancing() {
    require_emulator();
    let t = Scenario::from_sample("auto", "auto");
    let name = t.p.name.clone();
    let plan = t.ok(&["plan", "--env", "mvp"]);
    assert!(plan.contains("mode = \"auto\""), "{plan}");
    assert!(
        plan.contains("assumed: eks.auto_mode_expected_instances = 2, each priced as m5.large"),
        "the plan states what the cost rests on:\n{plan}"
    );
    assert!(
        !plan.contains("eks-addon."),
        "Auto Mode runs the default add-ons itself:\n{plan}"
    );

    t.ok(&["apply", "--env", "mvp", "--yes"]);
    let aws = t.aws("us-east-1");
    let node_role = format!("{name}-us-east-1-node");
    let node_arn = aws
        .block_on(aws.iam.get_role().role_name(&node_role).send())
        .unwrap()
        .role()
        .unwrap()
        .arn()
        .to_string();

    let creates: Vec<serde_json::Value> = t
        .proxy
        .requests()
        .iter()
        .filter(|(a, _)| a == "POST /clusters")
        .map(|(_, b)| serde_json::from_slice(b).unwrap())
        .collect();
    // One create; a retry (the cluster role still propagating, under load)
    // sends the same request with the same idempotency token.
    assert!(!creates.is_empty());
    assert!(
        creates.iter().all(|c| c == &creates[0]),
        "retries repeat one request: {creates:?}"
    );
    let sent = &creates[0];
    assert_eq!(sent["computeConfig"]["enabled"], true, "{sent}");
    assert_eq!(
        sent["computeConfig"]["nodePools"],
        serde_json::json!(["general-purpose", "system"])
    );
    assert_eq!(sent["computeConfig"]["nodeRoleArn"], node_arn.as_str());
    assert_eq!(sent["storageConfig"]["blockStorage"]["enabled"], true, "{sent}");
    assert_eq!(
        sent["kubernetesNetworkConfig"]["elasticLoadBalancing"]["enabled"], true,
        "{sent}"
    );
    assert_eq!(sent["bootstrapSelfManagedAddons"], false);
    assert_eq!(sent["accessConfig"]["authenticationMode"], "API_AND_CONFIG_MAP");

    // What EKS reports back, and what it made.
    assert_eq!(aws.cluster(&name).compute_config().unwrap().enabled(), Some(true));
    assert!(aws.addon_names(&name).is_empty(), "{:?}", aws.addon_names(&name));
    let node_entry = aws
        .block_on(
            aws.eks
                .describe_access_entry()
                .cluster_name(&name)
                .principal_arn(&node_arn)
                .send(),
        )
        .unwrap();
    assert_eq!(node_entry.access_entry().unwrap().r#type(), Some("EC2"));

    // The cluster role: Auto Mode's four policies besides the cluster
    // policy, and a trust that lets EKS tag its sessions. The node role:
    // the minimal two.
    let cluster_role = format!("{name}-us-east-1-cluster");
    assert_eq!(attached(&aws, &cluster_role), AUTO_CLUSTER_POLICIES);
    assert_eq!(
        trusted_actions(&aws, &cluster_role),
        ["sts:AssumeRole", "sts:TagSession"]
    );
    assert_eq!(
        attached(&aws, &node_role),
        ["AmazonEC2ContainerRegistryPullOnly", "AmazonEKSWorkerNodeMinimalPolicy"]
    );
    assert_eq!(trusted_actions(&aws, &node_role), ["sts:AssumeRole"]);

    // The app's identity: Pod Identity on Auto Mode's EC2 nodes.
    let associations = aws
        .block_on(aws.eks.list_pod_identity_associations().cluster_name(&name).send())
        .unwrap();
    let bound: Vec<(String, String)> = associations
        .associations()
        .iter()
        .map(|a| {
            (
                a.namespace().unwrap().to_string(),
                a.service_account().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(bound, [("app".to_string(), "api".to_string())]);

    t.converged("mvp");

    // The manifests: the CRD kind's shape checked here, the rest against
    // Kubernetes' schemas.
    let (code, yaml, err) = t.run(&["output", "--env", "mvp", "--k8s"]);
    assert_eq!(code, 0, "{err}");
    let docs = manifests(&yaml);
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "Namespace",
            "ServiceAccount",
            "ConfigMap",
            "Deployment",
            "Service",
            "IngressClassParams",
            "IngressClass",
            "Ingress",
            "HorizontalPodAutoscaler"
        ],
        "{yaml}"
    );
    let params = &docs[5];
    assert_eq!(params["apiVersion"].as_str(), Some("eks.amazonaws.com/v1"));
    assert!(params["metadata"]["namespace"].is_null(), "cluster-scoped: {yaml}");
    assert_eq!(params["spec"]["scheme"].as_str(), Some("internet-facing"));
    let class = &docs[6];
    assert_eq!(class["spec"]["controller"].as_str(), Some("eks.amazonaws.com/alb"));
    assert_eq!(
        class["spec"]["parameters"]["apiGroup"].as_str(),
        Some("eks.amazonaws.com")
    );
    assert_eq!(class["spec"]["parameters"]["kind"].as_str(), Some("IngressClassParams"));
    assert_eq!(class["spec"]["parameters"]["name"], params["metadata"]["name"]);
    assert_eq!(docs[7]["spec"]["ingressClassName"], class["metadata"]["name"]);
    let standard: String = docs
        .iter()
        .filter(|d| d["kind"].as_str() != Some("IngressClassParams"))
        .map(|d| format!("---\n{}", yaml_serde::to_string(d).unwrap()))
        .collect();
    crate::identities::assert_offline_valid(&standard);

    let (code, out, err) = t.run(&["destroy", "--env", "mvp", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("Destroy complete") || out.contains("Destroy complete"),
        "{out}{err}"
    );
    assert!(
        aws.tagged_leftovers(&name).is_empty(),
        "{:?}",
        aws.tagged_leftovers(&name)
    );
}

/// A managed cluster switched to Auto Mode: the plan says it is in place
/// and what happens to the pods; the apply turns the three capabilities on
/// in one UpdateClusterConfig (the emulator refuses them apart), gives the
/// cluster role Auto Mode's policies and trust first, and removes the node
/// group and the add-ons Auto Mode replaces. The cluster is never made
/// again. Switched back, Auto Mode goes off in one call too, and the cluster
/// role's Auto Mode policies go in the apply after, once EKS no longer
/// needs them.
#[test]
fn a_managed_cluster_switches_to_auto_mode_in_place() {
    require_emulator();
    let auto = std::fs::read_to_string(repo().join("stacks/auto.toml")).unwrap();
    let managed = auto
        .replace("mode = \"auto\"", "mode = \"managed\"")
        .replace("auto_mode_expected_instances = 2\n", "")
        .replace(
            "[eks.pod_identities.api]",
            "[eks.nodegroups.general]\ninstance_types = [\"t3.medium\"]\n\n[eks.pod_identities.api]",
        );
    let t = Scenario::new(&managed, "toauto");
    let name = t.p.name.clone();
    t.ok(&["apply", "--env", "mvp", "--yes"]);
    let aws = t.aws("us-east-1");
    assert_eq!(aws.addon_names(&name).len(), 4, "{:?}", aws.addon_names(&name));

    t.p.write_stack(&auto);
    let plan = t.ok(&["plan", "--env", "mvp"]);
    assert!(plan.contains("eks.mode: \"managed\" → \"auto\""), "{plan}");
    assert!(
        plan.contains("in place: one UpdateClusterConfig turns on Auto Mode's compute"),
        "{plan}"
    );
    assert!(plan.contains("- eks-nodegroup.general"), "{plan}");
    assert!(plan.contains("- eks-addon.vpc-cni"), "{plan}");
    assert!(!plan.contains("must be replaced"), "{plan}");

    let sent_before = t.proxy.requests().len();
    t.ok(&["apply", "--env", "mvp", "--yes"]);
    let requests = t.proxy.requests();
    let second: Vec<&(String, bytes::Bytes)> = requests[sent_before..].iter().collect();
    assert!(
        !second
            .iter()
            .any(|(a, _)| a == "POST /clusters" || *a == format!("DELETE /clusters/{name}")),
        "in place"
    );
    let update_config = format!("POST /clusters/{name}/update-config");
    let switches: Vec<serde_json::Value> = second
        .iter()
        .filter(|(a, _)| *a == update_config)
        .map(|(_, b)| serde_json::from_slice(b).unwrap())
        .collect();
    assert_eq!(switches.len(), 1, "{switches:?}");
    let s = &switches[0];
    assert_eq!(s["computeConfig"]["enabled"], true, "{s}");
    assert_eq!(s["storageConfig"]["blockStorage"]["enabled"], true, "{s}");
    assert_eq!(
        s["kubernetesNetworkConfig"]["elasticLoadBalancing"]["enabled"], true,
        "{s}"
    );
    assert!(s["computeConfig"]["nodeRoleArn"]
        .as_str()
        .unwrap()
        .ends_with(&format!("role/{name}-us-east-1-node")));
    // The cluster role had Auto Mode's permissions before EKS used them.
    let attach = second
        .iter()
        .position(|(a, b)| a == "AttachRolePolicy" && String::from_utf8_lossy(b).contains("AmazonEKSComputePolicy"))
        .expect("the compute policy is attached");
    let trust = second
        .iter()
        .position(|(a, b)| {
            a == "UpdateAssumeRolePolicy" && String::from_utf8_lossy(b).contains(&format!("{name}-us-east-1-cluster"))
        })
        .expect("the cluster role's trust gains sts:TagSession");
    let switch = second.iter().position(|(a, _)| *a == update_config).unwrap();
    assert!(
        attach < switch && trust < switch,
        "roles first: {attach} {trust} {switch}"
    );

    assert_eq!(aws.cluster(&name).compute_config().unwrap().enabled(), Some(true));
    assert!(aws.addon_names(&name).is_empty(), "{:?}", aws.addon_names(&name));
    assert!(aws.nodegroup(&name, "general").is_none());
    let cluster_role = format!("{name}-us-east-1-cluster");
    assert_eq!(attached(&aws, &cluster_role), AUTO_CLUSTER_POLICIES);
    assert_eq!(
        trusted_actions(&aws, &cluster_role),
        ["sts:AssumeRole", "sts:TagSession"]
    );
    t.converged("mvp");

    // And back: Auto Mode off in one call, with the cluster role still
    // holding Auto Mode's policies for EKS to end its instances; the next
    // apply detaches them.
    t.p.write_stack(&managed);
    let plan = t.ok(&["plan", "--env", "mvp"]);
    assert!(plan.contains("eks.mode: \"auto\" → \"managed\""), "{plan}");
    assert!(plan.contains("the next apply detaches them"), "{plan}");
    let sent_before = t.proxy.requests().len();
    t.ok(&["apply", "--env", "mvp", "--yes"]);
    let offs: Vec<serde_json::Value> = t.proxy.requests()[sent_before..]
        .iter()
        .filter(|(a, _)| *a == update_config)
        .map(|(_, b)| serde_json::from_slice(b).unwrap())
        .collect();
    assert_eq!(offs.len(), 1, "{offs:?}");
    assert_eq!(offs[0]["computeConfig"]["enabled"], false, "{}", offs[0]);
    assert_eq!(offs[0]["storageConfig"]["blockStorage"]["enabled"], false);
    assert_eq!(
        offs[0]["kubernetesNetworkConfig"]["elasticLoadBalancing"]["enabled"],
        false
    );
    assert_eq!(
        attached(&aws, &cluster_role),
        AUTO_CLUSTER_POLICIES,
        "kept while EKS needed them"
    );
    assert!(aws.nodegroup(&name, "general").is_some());
    let plan = t.ok(&["plan", "--env", "mvp"]);
    assert!(plan.contains("~ iam-role.cluster"), "{plan}");
    t.ok(&["apply", "--env", "mvp", "--yes"]);
    assert_eq!(attached(&aws, &cluster_role), ["AmazonEKSClusterPolicy"]);
    t.converged("mvp");

    let (code, out, err) = t.run(&["destroy", "--env", "mvp", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(aws.tagged_leftovers(&name).is_empty());
}
