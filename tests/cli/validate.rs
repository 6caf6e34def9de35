//! Stack files: validation errors name file, line, key and rule, before any
//! AWS call; shipped stacks validate in every environment.

use crate::support::*;

/// A plan pointed at a port where nothing listens: a configuration error must
/// be reported without ever trying to reach AWS.
fn plan_without_aws(p: &Project) -> (i32, String, String) {
    let mut c = p.cmd(&["plan"]);
    c.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    run(c)
}

#[test]
fn shipped_stacks_validate_and_render_in_every_environment() {
    for stack in ["learning", "fargate", "aurora", "shop", "given-vpc"] {
        for env in ["mvp", "prod"] {
            let path = repo().join("stacks").join(format!("{stack}.toml"));
            let (code, out, err) = run({
                let mut c = ekstack();
                c.args(["validate"]).arg(&path).args(["--env", env]);
                c
            });
            assert_eq!(code, 0, "{stack}/{env}: {out}{err}");
            let (code, out, _) = run({
                let mut c = ekstack();
                c.args(["render"]).arg(&path).args(["--env", env]);
                c
            });
            assert_eq!(code, 0);
            // Derived subnet CIDRs, or a given VPC's subnet ids.
            assert!(out.contains("[network]") && out.contains("private_subnet"), "{out}");
        }
    }
}

#[test]
fn broken_files_fail_with_file_line_key_and_rule_before_any_aws_call() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[network]\nnatt = \"single\"\n",
            "stack.toml:5:1: network.natt",
            "did you mean `nat`?",
        ),
        (
            "[network]\nnat = \"dual\"\n",
            "stack.toml:5:7: network.nat",
            "must be one of",
        ),
        (
            "[network]\ncidr = \"10.0.0.0/12\"\n",
            "stack.toml:5:8: network.cidr",
            "/16 to /28",
        ),
        (
            "[eks.nodegroups.web]\nmin = 3\ndesired = 1\nmax = 5\n",
            "stack.toml:6:11: eks.nodegroups.web.desired",
            "between min (3) and max (5)",
        ),
        (
            "[database]\nengine = \"aurora-postgresql\"\nmulti_az = true\n",
            "stack.toml:6:12: database.multi_az",
            "does not apply to Aurora",
        ),
        (
            "[database]\nbackup_retention_days = 40\n",
            "stack.toml:5:25: database.backup_retention_days",
            "between 0 and 35",
        ),
        (
            "[eks]\nversion = \"1.20\"\n",
            "stack.toml:5:11: eks.version",
            "not a Kubernetes version",
        ),
    ];
    for (body, located, rule) in cases {
        let p = Project::with_text(&format!("[stack]\nname = \"x\"\nregion = \"us-east-1\"\n{body}"), "val");
        let (code, out, err) = plan_without_aws(&p);
        assert_eq!(code, 1, "{body}: {out}{err}");
        assert!(err.contains(located), "{body}: wanted {located} in\n{err}");
        assert!(err.contains(rule), "{body}: wanted {rule} in\n{err}");
        assert!(err.contains("nothing was sent to AWS"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// Add-ons and access entries: every mistake AWS would refuse minutes into
/// an apply is named, with its file, line, key and rule, before any call.
#[test]
fn addon_and_access_mistakes_fail_before_any_aws_call() {
    let with_nodes = "[eks]\nversion = \"1.35\"\n[eks.nodegroups.g]\n";
    let cases: &[(&str, &str, &str)] = &[
        (
            "[eks.addons.coredsn]\n",
            "stack.toml:7:1: eks.addons.coredsn",
            "did you mean \"coredns\"?",
        ),
        (
            "[eks.addons.coredns]\nconfiguration = \"replicaCount=3\"\n",
            "stack.toml:8:17: eks.addons.coredns.configuration",
            "must be a table",
        ),
        (
            "[eks.access.dev]\nprincipal = \"alice\"\npolicy = \"edit\"\n",
            "stack.toml:8:13: eks.access.dev.principal",
            "is not an IAM role or user ARN",
        ),
        (
            "[eks.access.dev]\nprincipal = \"arn:aws:sts::111122223333:assumed-role/dev/alice\"\npolicy = \"view\"\n",
            "stack.toml:8:13: eks.access.dev.principal",
            "use \"arn:aws:iam::111122223333:role/dev\"",
        ),
        (
            "[eks.access.dev]\nprincipal = \"arn:aws:iam::111122223333:role/dev\"\npolicy = \"owner\"\n",
            "stack.toml:9:10: eks.access.dev.policy",
            "must be one of \"cluster-admin\", \"admin\", \"edit\", \"view\"",
        ),
        (
            "[eks.access.a]\nprincipal = \"arn:aws:iam::111122223333:role/dev\"\npolicy = \"view\"\n[eks.access.b]\nprincipal = \"arn:aws:iam::111122223333:role/dev\"\npolicy = \"edit\"\n",
            "stack.toml:11:13: eks.access.b.principal",
            "AWS allows one access entry per principal",
        ),
        (
            "[eks.addons.kube-proxy]\nversion = \"v1.36.1-eksbuild.1\"\n",
            "stack.toml:8:11: eks.addons.kube-proxy.version",
            "never newer",
        ),
        (
            "[eks.addons.kube-proxy]\nversion = \"1.35\"\n",
            "stack.toml:8:11: eks.addons.kube-proxy.version",
            "must be \"default\", \"latest\" or an add-on version",
        ),
    ];
    let identities: &[(&str, &str, &str)] = &[
        (
            "[eks.pod_identities.api]\nnamespace = \"App\"\npolicies = [\"arn:aws:iam::aws:policy/ReadOnlyAccess\"]\n",
            "stack.toml:8:13: eks.pod_identities.api.namespace",
            "not a Kubernetes namespace name",
        ),
        (
            "[eks.pod_identities.api]\nnamespace = \"app\"\nservice_account = \"Api_1\"\npolicies = [\"arn:aws:iam::aws:policy/ReadOnlyAccess\"]\n",
            "stack.toml:9:19: eks.pod_identities.api.service_account",
            "not a Kubernetes service account name",
        ),
        (
            "[eks.pod_identities.api]\nnamespace = \"app\"\npolicies = [\"ReadOnlyAccess\"]\n",
            "stack.toml:9:13: eks.pod_identities.api.policies[0]",
            "is not an IAM policy ARN",
        ),
        (
            "[eks.pod_identities.api]\nnamespace = \"app\"\ndatabase = true\n",
            "stack.toml:9:12: eks.pod_identities.api.database",
            "the stack has no [database]",
        ),
    ];
    let fargate_only = [
        (
            "[eks.fargate.apps]\nnamespaces = [\"app\"]\n",
            "stack.toml:5:6: eks.fargate",
            "no Fargate profile selects the kube-system namespace",
        ),
        (
            "[eks.fargate.system]\nnamespaces = [\"kube-system\"]\n[eks.pod_identities.api]\nnamespace = \"app\"\npolicies = [\"arn:aws:iam::aws:policy/ReadOnlyAccess\"]\n",
            "stack.toml:8:13: eks.pod_identities.api.namespace",
            "nothing runs namespace \"app\"",
        ),
        (
            "[eks.fargate.system]\nnamespaces = [\"kube-system\"]\n[eks.addons.aws-ebs-csi-driver]\n",
            "stack.toml:7:1: eks.addons.aws-ebs-csi-driver",
            "Fargate pods cannot mount EBS volumes",
        ),
    ];
    // EKS Auto Mode: what it runs itself, or cannot take, is refused.
    let auto = [
        (
            "[eks.nodegroups.g]\n",
            "stack.toml:6:6: eks.nodegroups",
            "managed node groups belong to mode = \"managed\"",
        ),
        (
            "[eks.fargate.apps]\nnamespaces = [\"app\"]\n",
            "stack.toml:6:6: eks.fargate",
            "Fargate profiles belong to mode = \"managed\"",
        ),
        (
            "[eks.addons.coredns]\nconfiguration = { replicaCount = 3 }\n",
            "stack.toml:6:1: eks.addons.coredns",
            "EKS Auto Mode runs coredns (cluster DNS) itself",
        ),
        (
            "[eks.addons.aws-ebs-csi-driver]\nenabled = true\n",
            "stack.toml:7:11: eks.addons.aws-ebs-csi-driver",
            "EKS Auto Mode runs aws-ebs-csi-driver",
        ),
        (
            "load_balancer_controller = true\n",
            "stack.toml:6:28: eks.load_balancer_controller",
            "EKS Auto Mode runs load balancing itself",
        ),
        (
            "auto_mode_expected_instances = -1\n",
            "stack.toml:6:32: eks.auto_mode_expected_instances",
            "must be between 0 and 1000",
        ),
    ];
    let managed = [(
        "[eks]\nauto_mode_expected_instances = 3\n",
        "stack.toml:5:32: eks.auto_mode_expected_instances",
        "only applies to EKS Auto Mode",
    )];
    let all = cases
        .iter()
        .chain(identities)
        .map(|(body, at, rule)| (format!("{with_nodes}{body}"), *at, *rule))
        .chain(
            fargate_only
                .iter()
                .map(|(body, at, rule)| (format!("[eks]\n{body}"), *at, *rule)),
        )
        .chain(
            auto.iter()
                .map(|(body, at, rule)| (format!("[eks]\nmode = \"auto\"\n{body}"), *at, *rule)),
        )
        .chain(managed.iter().map(|(body, at, rule)| (body.to_string(), *at, *rule)));
    for (body, located, rule) in all {
        let p = Project::with_text(&format!("[stack]\nname = \"x\"\nregion = \"us-east-1\"\n{body}"), "val");
        let (code, out, err) = plan_without_aws(&p);
        assert_eq!(code, 1, "{body}: {out}{err}");
        assert!(err.contains(located), "{body}: wanted {located} in\n{err}");
        assert!(err.contains(rule), "{body}: wanted {rule} in\n{err}");
        assert!(err.contains("nothing was sent to AWS"), "{err}");
    }
}

#[test]
fn errors_in_an_overlay_point_into_the_overlay() {
    let p = Project::from_sample("learning", "ovl");
    p.write_env("bad", "[database]\nmulti_az = \"yes\"\n");
    let mut c = p.cmd(&["validate", "--env", "bad"]);
    c.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    let (code, _, err) = run(c);
    assert_eq!(code, 1);
    assert!(err.contains("environments/bad.toml:2:12: database.multi_az"), "{err}");
}

#[test]
fn committed_schema_matches_the_types() {
    let (code, out, _) = run({
        let mut c = ekstack();
        c.arg("schema");
        c
    });
    assert_eq!(code, 0);
    let committed = std::fs::read_to_string(repo().join("schema/ekstack.schema.json")).unwrap();
    assert_eq!(
        out.trim(),
        committed.trim(),
        "run `make schema` to regenerate schema/ekstack.schema.json"
    );
}

#[test]
fn missing_credentials_fail_fast_with_a_clear_message() {
    let p = Project::from_sample("learning", "cred");
    let mut c = p.cmd(&["plan"]);
    without_credentials(&mut c);
    let (code, _, err) = run(c);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("credentials"), "{err}");
}

/// Read replicas and the proxy: what RDS would refuse minutes into an
/// apply is named before any call.
#[test]
fn replica_mistakes_fail_before_any_aws_call() {
    let cases = [
        (
            "engine = \"aurora-postgresql\"\nreplicas = 1\n",
            "stack.toml:6:12: database.replicas",
            "set database.instances = 2",
        ),
        (
            "replicas = 16\n",
            "stack.toml:5:12: database.replicas",
            "must be between 0 and 15",
        ),
        (
            "replicas = 1\nbackup_retention_days = 0\n",
            "stack.toml:5:12: database.replicas",
            "read replicas need automated backups",
        ),
        (
            "replicas = 1\nreplica_class = \"m5.large\"\n",
            "stack.toml:6:17: database.replica_class",
            "is not an RDS instance class",
        ),
        (
            "[database.proxy]\nidle_client_timeout_s = 0\n",
            "stack.toml:6:25: database.proxy.idle_client_timeout_s",
            "must be between 1 and 28800",
        ),
        (
            "[database.proxy]\nmax_connections_percent = 101\n",
            "stack.toml:6:27: database.proxy.max_connections_percent",
            "must be between 1 and 100",
        ),
    ];
    refused_offline(&cases);
}

/// Parameter values of the wrong type, and a table that does not apply,
/// are named before any call; names are checked at plan time, against
/// RDS (see `parameter_groups`).
#[test]
fn parameter_mistakes_fail_before_any_aws_call() {
    let cases = [
        (
            "[database.parameters]\nshared_preload_libraries = [\"pg_cron\"]\n",
            "stack.toml:6:28: database.parameters.shared_preload_libraries",
            "is an array; a parameter's value is a string, a number or a boolean",
        ),
        (
            "[database.parameters]\nwork_mem = \"lots\"\n",
            "stack.toml:6:12: database.parameters.work_mem",
            "is an integer, not \"lots\"",
        ),
        (
            "[database.parameters]\n\"rds.force_ssl\" = \"yes\"\n",
            "stack.toml:6:19: database.parameters.\"rds.force_ssl\"",
            "is a boolean, written 1 or 0",
        ),
        (
            "[database.parameters]\nlog_statement = \"some\"\n",
            "stack.toml:6:17: database.parameters.log_statement",
            "must be one of none,ddl,mod,all",
        ),
        (
            "[database.instance_parameters]\nwork_mem = 8192\n",
            "database.instance_parameters",
            "applies only to Aurora",
        ),
    ];
    refused_offline(&cases);
}

/// Each `[database]` body is refused before any call, at `located`, for `rule`.
fn refused_offline(cases: &[(&str, &str, &str)]) {
    for (body, located, rule) in cases {
        let p = Project::with_text(
            &format!("[stack]\nname = \"x\"\nregion = \"us-east-1\"\n[database]\n{body}"),
            "val",
        );
        let (code, out, err) = plan_without_aws(&p);
        assert_eq!(code, 1, "{body}: {out}{err}");
        assert!(err.contains(located), "{body}: wanted {located} in\n{err}");
        assert!(err.contains(rule), "{body}: wanted {rule} in\n{err}");
        assert!(err.contains("nothing was sent to AWS"), "{err}");
    }
}
