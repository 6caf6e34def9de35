//! Workload identities: a service account's AWS permissions, by IRSA on
//! Fargate and EKS Pod Identity on EC2 nodes, checked through the SDK over
//! HTTP against the emulator (moto serves IAM and its OIDC providers; the
//! rules proxy serves Pod Identity associations).

use crate::support::*;

#[test]
fn identities_get_least_privilege_roles_by_the_mechanism_their_namespace_needs() {
    require_emulator();
    let text = format!(
        "{}\n[eks.pod_identities.worker]\nnamespace = \"jobs\"\npolicies = [\"arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess\"]\n",
        std::fs::read_to_string(repo().join("stacks/learning.toml"))
            .unwrap()
            .replace("logging = []\n", "logging = []\nload_balancer_controller = true\n")
    );
    let t = Scenario::new(&text, "podid");
    let name = t.p.name.clone();
    let (code, out, err) = t.run(&["plan", "--env", "mvp"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("IRSA: app runs on Fargate"),
        "the plan says which mechanism:\n{out}"
    );
    assert!(
        out.contains("EKS Pod Identity: the service account's pods run on EC2 nodes"),
        "{out}"
    );
    t.ok(&["apply", "--env", "mvp", "--yes"]);
    let aws = t.aws("ap-northeast-1");

    // IRSA for `app/api`: the cluster's OIDC provider, and a role that
    // trusts it for exactly that service account.
    let cluster = aws
        .block_on(aws.eks.describe_cluster().name(&name).send())
        .unwrap()
        .cluster
        .unwrap();
    let issuer = cluster
        .identity()
        .unwrap()
        .oidc()
        .unwrap()
        .issuer()
        .unwrap()
        .to_string();
    let host = issuer.trim_start_matches("https://").to_string();
    let provider_arn = format!("arn:aws:iam::123456789012:oidc-provider/{host}");
    let provider = aws
        .block_on(
            aws.iam
                .get_open_id_connect_provider()
                .open_id_connect_provider_arn(&provider_arn)
                .send(),
        )
        .unwrap();
    assert_eq!(provider.client_id_list(), ["sts.amazonaws.com"]);
    let role = |purpose: &str| {
        let role_name = format!("{name}-ap-northeast-1-{purpose}");
        let role = aws
            .block_on(aws.iam.get_role().role_name(&role_name).send())
            .unwrap()
            .role
            .unwrap();
        let trust: serde_json::Value = serde_json::from_str(
            &percent_encoding::percent_decode_str(role.assume_role_policy_document().unwrap())
                .decode_utf8()
                .unwrap(),
        )
        .unwrap();
        (role_name, role.arn().to_string(), trust["Statement"][0].clone())
    };
    let (api_name, api_arn, api_trust) = role("pod-api");
    assert_eq!(
        api_trust["Principal"]["Federated"],
        provider_arn.as_str(),
        "{api_trust}"
    );
    assert_eq!(api_trust["Action"], "sts:AssumeRoleWithWebIdentity");
    assert_eq!(
        api_trust["Condition"]["StringEquals"][format!("{host}:sub")],
        "system:serviceaccount:app:api"
    );
    assert_eq!(
        api_trust["Condition"]["StringEquals"][format!("{host}:aud")],
        "sts.amazonaws.com"
    );

    // The database identity reads exactly the database's managed secret.
    let db = aws.db_instance(&format!("{name}-db")).unwrap();
    let secret = db.master_user_secret().unwrap().secret_arn().unwrap().to_string();
    let doc = inline_policy(&aws, &api_name);
    let statements = doc["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1, "{doc}");
    assert_eq!(statements[0]["Resource"], serde_json::json!([secret]), "{doc}");
    assert_eq!(
        statements[0]["Action"],
        serde_json::json!(["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"])
    );
    let attached = aws
        .block_on(aws.iam.list_attached_role_policies().role_name(&api_name).send())
        .unwrap();
    assert!(attached.attached_policies().is_empty(), "nothing else is granted");

    // EKS Pod Identity for `jobs/worker`: a role trusting the agent's
    // service, bound by an association; none for the IRSA identity.
    let (_, worker_arn, worker_trust) = role("pod-worker");
    assert_eq!(worker_trust["Principal"]["Service"], "pods.eks.amazonaws.com");
    assert_eq!(
        worker_trust["Action"],
        serde_json::json!(["sts:AssumeRole", "sts:TagSession"])
    );
    let listed = aws
        .block_on(aws.eks.list_pod_identity_associations().cluster_name(&name).send())
        .unwrap();
    let mut ours: Vec<_> = listed
        .associations()
        .iter()
        .filter(|a| a.owner_arn().is_none())
        .collect();
    ours.sort_by_key(|a| a.namespace().map(str::to_string));
    assert_eq!(ours.len(), 2, "the worker and the load balancer controller: {ours:?}");
    // kube-system runs on the node group here: the controller gets EKS Pod Identity.
    assert_eq!(ours[1].namespace(), Some("kube-system"));
    assert_eq!(ours[1].service_account(), Some("aws-load-balancer-controller"));
    assert_eq!(ours[0].namespace(), Some("jobs"));
    assert_eq!(ours[0].service_account(), Some("worker"));
    let association = aws
        .block_on(
            aws.eks
                .describe_pod_identity_association()
                .cluster_name(&name)
                .association_id(ours[0].association_id().unwrap())
                .send(),
        )
        .unwrap()
        .association
        .unwrap();
    assert_eq!(association.role_arn(), Some(worker_arn.as_str()));

    // The manifests carry the IRSA annotation where it is needed, the app
    // runs as the database identity, and the Ingress is the controller's.
    let (code, k8s, err) = t.run(&["output", "--env", "mvp", "--k8s"]);
    assert_eq!(code, 0, "{err}");
    let docs = manifests(&k8s);
    let account = |name: &str| {
        docs.iter()
            .find(|d| d["kind"].as_str() == Some("ServiceAccount") && d["metadata"]["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("no ServiceAccount {name}:\n{k8s}"))
            .clone()
    };
    assert_eq!(
        account("api")["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].as_str(),
        Some(api_arn.as_str())
    );
    assert_eq!(account("worker")["metadata"]["namespace"].as_str(), Some("jobs"));
    assert!(
        account("worker")["metadata"]["annotations"].is_null(),
        "Pod Identity needs no annotation"
    );
    let deployment = docs.iter().find(|d| d["kind"].as_str() == Some("Deployment")).unwrap();
    assert_eq!(
        deployment["spec"]["template"]["spec"]["serviceAccountName"].as_str(),
        Some("api")
    );
    let ingress = docs.iter().find(|d| d["kind"].as_str() == Some("Ingress")).unwrap();
    assert_eq!(ingress["spec"]["ingressClassName"].as_str(), Some("alb"));
    assert_offline_valid(&k8s);

    // The database admits the cluster security group EKS reports, on its
    // port, and no CIDR; it was made before the rule, which waited for the
    // cluster.
    let cluster_sg = cluster
        .resources_vpc_config()
        .and_then(|v| v.cluster_security_group_id())
        .expect("EKS reports the cluster security group")
        .to_string();
    let groups = aws
        .block_on(
            aws.ec2
                .describe_security_groups()
                .filters(Independent::stack_filter(&name))
                .send(),
        )
        .unwrap();
    let db_sg = groups
        .security_groups()
        .iter()
        .find(|g| g.group_name() == Some(&format!("{name}-database")))
        .expect("the database's group");
    let rules: Vec<(i32, Vec<String>, usize)> = db_sg
        .ip_permissions()
        .iter()
        .map(|p| {
            (
                p.from_port().unwrap_or(0),
                p.user_id_group_pairs()
                    .iter()
                    .map(|g| g.group_id().unwrap().to_string())
                    .collect(),
                p.ip_ranges().len(),
            )
        })
        .collect();
    assert_eq!(rules, [(5432, vec![cluster_sg.clone()], 0)]);
    let order = |action: &str, needle: &str| {
        t.proxy
            .requests()
            .iter()
            .position(|(a, b)| a == action && String::from_utf8_lossy(b).contains(needle))
    };
    let db_made = order("CreateDBInstance", &format!("{name}-db")).expect("the database was made");
    let admitted = order("AuthorizeSecurityGroupIngress", &cluster_sg).expect("the rule was added");
    let cluster_made = t
        .proxy
        .requests()
        .iter()
        .position(|(a, _)| a == "POST /clusters")
        .unwrap();
    assert!(
        db_made < admitted && cluster_made < admitted,
        "{db_made} {cluster_made} {admitted}"
    );

    t.converged("mvp");
    let out = t.ok(&["destroy", "--env", "mvp", "--yes"]);
    assert!(out.contains("Destroy complete"), "{out}");
    // EKS's group went with the cluster: nothing named it any more.
    let left = aws.block_on(aws.ec2.describe_security_groups().group_ids(&cluster_sg).send());
    assert!(
        left.map(|o| o.security_groups().is_empty()).unwrap_or(true),
        "the cluster security group is gone"
    );
    assert!(aws
        .block_on(
            aws.iam
                .get_open_id_connect_provider()
                .open_id_connect_provider_arn(&provider_arn)
                .send()
        )
        .is_err());
    assert!(aws.block_on(aws.iam.get_role().role_name(&api_name).send()).is_err());
}

/// `load_balancer_controller = true` on a stack whose kube-system runs on
/// Fargate: the controller's role trusts the OIDC provider for its service
/// account, allows what the controller's guide lists with its cluster-tag
/// conditions, and `output` prints the Helm install filled in.
#[test]
fn the_load_balancer_controller_gets_its_role_and_its_install_command() {
    require_emulator();
    let text = std::fs::read_to_string(repo().join("stacks/fargate.toml"))
        .unwrap()
        .replace(
            "version = \"1.35\"\n",
            "version = \"1.35\"\nload_balancer_controller = true\n",
        );
    let t = Scenario::new(&text, "lbc");
    let name = t.p.name.clone();
    t.ok(&["apply", "--env", "mvp", "--yes"]);
    let aws = t.aws("us-east-1");
    let role_name = format!("{name}-us-east-1-lbc");
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
        trust.contains("system:serviceaccount:kube-system:aws-load-balancer-controller"),
        "{trust}"
    );
    let doc = inline_policy(&aws, &role_name);
    let create = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["Action"]
                .to_string()
                .contains("elasticloadbalancing:CreateLoadBalancer")
        })
        .cloned()
        .unwrap();
    assert!(
        create["Condition"].to_string().contains("elbv2.k8s.aws/cluster"),
        "{create}"
    );

    let out = t.ok(&["output", "--env", "mvp"]);
    let vpc = aws.vpcs(&name)[0].vpc_id().unwrap().to_string();
    assert!(
        out.contains(&format!(
            "--set clusterName={name} --set region=us-east-1 --set vpcId={vpc}"
        )),
        "{out}"
    );
    assert!(out.contains(&format!("role-arn={}", role.arn())), "{out}");
    t.converged("mvp");
    t.ok(&["destroy", "--env", "mvp", "--yes"]);
}

/// The manifests checked against Kubernetes' own schemas, offline
/// (`kubectl apply --dry-run=client` needs an API server): the
/// `kubernetes-validate` package in the test venv, strict, for the
/// cluster's Kubernetes version.
pub(crate) fn assert_offline_valid(yaml: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.yaml");
    std::fs::write(&file, yaml).unwrap();
    let validator = repo().join(".venv/bin/kubernetes-validate");
    assert!(validator.exists(), "make test installs kubernetes-validate into .venv");
    let out = std::process::Command::new(validator)
        .args(["--strict", "-k", "1.35.0"])
        .arg(&file)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the manifests fail the schema check:\n{text}\n{yaml}"
    );
    assert!(!text.contains("ERROR"), "{text}");
}

/// Manifests on a stack not applied yet still pass the schema check: what
/// is not known yet is a placeholder, never a broken document.
#[test]
fn manifests_are_valid_kubernetes_before_and_after_apply() {
    require_emulator();
    let p = Project::from_sample("learning", "mani");
    let (code, yaml, err) = p.run(&["output", "--env", "mvp", "--k8s"]);
    assert_eq!(code, 0, "{err}");
    let kinds: Vec<String> = manifests(&yaml)
        .iter()
        .map(|d| d["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "Namespace",
            "ServiceAccount",
            "ConfigMap",
            "Deployment",
            "Service",
            "HorizontalPodAutoscaler"
        ],
        "{yaml}"
    );
    assert_offline_valid(&yaml);
}

/// The role's inline policy ekstack wrote, as JSON.
pub(crate) fn inline_policy(aws: &Independent, role: &str) -> serde_json::Value {
    let inline = aws
        .block_on(aws.iam.get_role_policy().role_name(role).policy_name("ekstack").send())
        .unwrap();
    let text = percent_encoding::percent_decode_str(inline.policy_document())
        .decode_utf8()
        .unwrap()
        .to_string();
    serde_json::from_str(&text).unwrap()
}
