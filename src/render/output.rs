//! `output` as text with commands ready to paste, or as a Kubernetes
//! ConfigMap. The password never appears: commands read it from Secrets
//! Manager when they run.

use crate::config::Mechanism;
use crate::ops::output::{Outputs, ServiceAccount};

fn or_dash(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

/// The outputs as aligned text, with kubectl and psql (or mysql) commands
/// ready to paste; `stack_args` is how the user named the stack
/// (`stacks/learning.toml --env mvp`).
pub fn text(o: &Outputs, stack_args: &str) -> String {
    let mut s = String::new();
    s.push_str(&format!("vpc_id              {}\n", or_dash(&o.vpc_id)));
    s.push_str(&format!("cluster_name        {}\n", or_dash(&o.cluster_name)));
    s.push_str(&format!("cluster_endpoint    {}\n", or_dash(&o.cluster_endpoint)));
    s.push_str(&format!("kubeconfig_context  {}\n", or_dash(&o.kubeconfig_context)));
    s.push_str(&format!("db_endpoint         {}\n", or_dash(&o.db_endpoint)));
    s.push_str(&format!(
        "db_port             {}\n",
        o.db_port.map(|p| p.to_string()).unwrap_or_else(|| "-".into())
    ));
    if let Some(proxy) = &o.db_proxy_endpoint {
        s.push_str(&format!("db_proxy_endpoint   {proxy}\n"));
    }
    if let Some(reader) = &o.db_reader_endpoint {
        s.push_str(&format!("db_reader_endpoint  {reader}\n"));
    }
    for (i, replica) in o.db_replica_endpoints.iter().enumerate().skip(1) {
        s.push_str(&format!("db_replica_{}        {replica}\n", i + 1));
    }
    s.push_str(&format!("db_name             {}\n", or_dash(&o.db_name)));
    s.push_str(&format!("db_secret_arn       {}\n", or_dash(&o.db_secret_arn)));
    if let Some(ci) = &o.ci {
        s.push_str(&format!("ci_plan_role_arn    {}\n", or_dash(&ci.plan_role_arn)));
        if ci.deploy_role_arn.is_some() {
            s.push_str(&format!("ci_deploy_role_arn  {}\n", or_dash(&ci.deploy_role_arn)));
        }
        if ci.apply_role_arn.is_some() {
            s.push_str(&format!("ci_apply_role_arn   {}\n", or_dash(&ci.apply_role_arn)));
        }
    }
    for (name, url) in &o.registry_urls {
        s.push_str(&format!("{:<20}{url}\n", format!("registry.{name}")));
    }
    if o.ci.is_some() {
        s.push_str(&format!(
            "\n# GitHub Actions (examples/github-actions/): set the repository's variables\nekstack output {stack_args} --github | sh\n"
        ));
    }
    if o.cluster_name.is_some() {
        s.push_str(&format!(
            "\n# kubectl\nekstack kubeconfig {stack_args} && kubectl get nodes\n"
        ));
    }
    let controller = o
        .service_accounts
        .iter()
        .find(|sa| sa.identity == crate::config::lb_controller::IDENTITY);
    if let (Some(sa), Some(cluster), Some(vpc)) = (controller, &o.cluster_name, &o.vpc_id) {
        s.push_str(&helm(sa, cluster, &o.region, vpc));
    }
    if let (Some(host), Some(secret)) = (&o.db_endpoint, &o.db_secret_arn) {
        let port = o.db_port.unwrap_or(5432);
        let user = o.db_username.as_deref().unwrap_or("app");
        let db = o.db_name.as_deref().unwrap_or("app");
        let fetch = format!(
            "aws secretsmanager get-secret-value --region {} --secret-id '{secret}' --query SecretString --output text",
            o.region
        );
        if port == 3306 {
            s.push_str(&format!("\n# mysql (the password is read from Secrets Manager, never stored)\nMYSQL_PWD=\"$({fetch} | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"password\"])')\" mysql -h {host} -P {port} -u {user} {db}\n"));
        } else {
            s.push_str(&format!("\n# psql (the password is read from Secrets Manager, never stored)\nPGPASSWORD=\"$({fetch} | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"password\"])')\" psql \"host={host} port={port} user={user} dbname={db} sslmode=require\"\n"));
        }
        s.push_str(if o.cluster_name.is_some() {
            "# The database admits connections only from the cluster security group (the cluster's nodes and pods).\n"
        } else {
            "# The database admits connections only from the private subnets.\n"
        });
    }
    s
}

/// The app's manifests as YAML documents for `kubectl apply -f -`, after a
/// comment on how the app reads its password.
pub fn manifests(o: &Outputs, stack: &str, namespace: &str) -> anyhow::Result<String> {
    let mut s = format!(
        "# The app for stack {stack}: kubectl apply -f - < this file.\n# The password is not here: RDS keeps it in Secrets Manager ({}). The app\n# reads it at start through its service account, for example in Python:\n#   secret = boto3.client(\"secretsmanager\").get_secret_value(SecretId=os.environ[\"DB_SECRET_ARN\"])\n#   password = json.loads(secret[\"SecretString\"])[\"password\"]\n",
        or_dash(&o.db_secret_arn)
    );
    let app = crate::kube::manifests::App {
        stack,
        namespace,
        outputs: o,
    };
    for doc in crate::kube::manifests::manifests(&app) {
        s.push_str("---\n");
        s.push_str(&yaml_serde::to_string(&doc)?);
    }
    Ok(s)
}

/// How to install the AWS Load Balancer Controller with its chart, bound to
/// the role ekstack made (its installation guide's Helm steps).
fn helm(sa: &ServiceAccount, cluster: &str, region: &str, vpc: &str) -> String {
    let mut s = format!(
        "\n# AWS Load Balancer Controller (an Ingress gets an ALB)\nhelm repo add eks https://aws.github.io/eks-charts && helm repo update eks\nhelm upgrade --install aws-load-balancer-controller eks/aws-load-balancer-controller -n {} \\\n  --set clusterName={cluster} --set region={region} --set vpcId={vpc} \\\n  --set serviceAccount.create=true --set serviceAccount.name={}",
        sa.namespace, sa.name
    );
    match (sa.mechanism, &sa.role_arn) {
        (Mechanism::Irsa, Some(arn)) => s.push_str(&format!(
            " \\\n  --set-string 'serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn={arn}'\n"
        )),
        (Mechanism::Irsa, None) => {
            s.push_str("\n# (apply first: the role's ARN goes into the service account's annotation)\n")
        }
        (Mechanism::PodIdentity, _) => {
            s.push_str("\n# (EKS Pod Identity binds the role to the service account; no annotation)\n")
        }
    }
    s
}

/// The repository variable that holds repository `name`'s URL:
/// `EKSTACK_REGISTRY_URL_API` for `api` (`-` and `/` become `_`).
pub fn registry_variable(name: &str) -> String {
    let suffix: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("EKSTACK_REGISTRY_URL_{suffix}")
}

/// `gh variable set` lines that give the example workflows what they read
/// (`vars.…`): region, stack file, overlay, cluster, role ARNs, registry
/// URLs. A role not made yet is left out, with a comment.
pub fn github_variables(o: &Outputs, stack_file: &str, env: Option<&str>) -> String {
    let Some(ci) = &o.ci else {
        return "# the stack has no [ci.github]\n".to_string();
    };
    let quote = |v: &str| format!("'{}'", v.replace('\'', r"'\''"));
    let mut vars: Vec<(String, Option<String>)> = vec![
        ("AWS_REGION".into(), Some(o.region.clone())),
        ("EKSTACK_STACK_FILE".into(), Some(stack_file.to_string())),
        ("EKSTACK_ENV".into(), Some(env.unwrap_or_default().to_string())),
        ("EKSTACK_CI_PLAN_ROLE_ARN".into(), ci.plan_role_arn.clone()),
        ("EKSTACK_INFRA_APPLY".into(), Some(ci.infra_apply.to_string())),
    ];
    if ci.infra_apply {
        vars.push(("EKSTACK_CI_APPLY_ROLE_ARN".into(), ci.apply_role_arn.clone()));
    }
    if ci.deploy_role_arn.is_some() || !o.registry_urls.is_empty() {
        vars.push(("EKSTACK_CI_DEPLOY_ROLE_ARN".into(), ci.deploy_role_arn.clone()));
    }
    if o.cluster_name.is_some() {
        vars.push(("EKSTACK_CLUSTER_NAME".into(), o.cluster_name.clone()));
    }
    for (name, url) in &o.registry_urls {
        vars.push((registry_variable(name), Some(url.clone())));
    }
    let mut s = format!(
        "# Repository variables for {}'s workflows (examples/github-actions/)\n",
        ci.repository
    );
    for (name, value) in vars {
        match value {
            Some(v) => s.push_str(&format!(
                "gh variable set {name} --repo {} --body {}\n",
                ci.repository,
                quote(&v)
            )),
            None => s.push_str(&format!("# {name}: not made yet; run `ekstack apply` first\n")),
        }
    }
    s
}
