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
    s.push_str(&format!("db_name             {}\n", or_dash(&o.db_name)));
    s.push_str(&format!("db_secret_arn       {}\n", or_dash(&o.db_secret_arn)));
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
        s.push_str("# The database admits connections only from the private subnets (the cluster's nodes and pods).\n");
    }
    s
}

/// A ConfigMap with the database's settings, and how to make its Secret.
pub fn config_map(o: &Outputs, stack: &str, namespace: &str) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "# The app's database settings. The password is not here: RDS keeps it in\n# Secrets Manager ({}).\n# Read it into a Secret with the External Secrets Operator, or once by hand:\n#   kubectl -n {namespace} create secret generic {stack}-db --from-literal=password=\"$(aws secretsmanager get-secret-value --secret-id '{}' --query SecretString --output text | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"password\"])')\"\n",
        or_dash(&o.db_secret_arn),
        or_dash(&o.db_secret_arn)
    ));
    s.push_str("apiVersion: v1\nkind: ConfigMap\nmetadata:\n");
    s.push_str(&format!(
        "  name: {stack}-db\n  namespace: {namespace}\n  labels:\n    app.kubernetes.io/managed-by: ekstack\n"
    ));
    s.push_str("data:\n");
    s.push_str(&format!("  DB_HOST: \"{}\"\n", or_dash(&o.db_endpoint)));
    s.push_str(&format!(
        "  DB_PORT: \"{}\"\n",
        o.db_port.map(|p| p.to_string()).unwrap_or_default()
    ));
    s.push_str(&format!("  DB_NAME: \"{}\"\n", or_dash(&o.db_name)));
    s.push_str(&format!("  DB_USER: \"{}\"\n", or_dash(&o.db_username)));
    s.push_str(&format!("  DB_SECRET_ARN: \"{}\"\n", or_dash(&o.db_secret_arn)));
    for sa in &o.service_accounts {
        s.push_str(&service_account(sa));
    }
    s
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

/// A ServiceAccount of a pod identity: IRSA needs the role annotation;
/// EKS Pod Identity binds the role through its association alone.
fn service_account(sa: &ServiceAccount) -> String {
    let mut s = format!(
        "---\n# pod identity {}: {}\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {}\n  namespace: {}\n  labels:\n    app.kubernetes.io/managed-by: ekstack\n",
        sa.identity,
        match sa.mechanism {
            Mechanism::Irsa => "IRSA (the namespace runs on Fargate)",
            Mechanism::PodIdentity => "EKS Pod Identity (the association binds the role)",
        },
        sa.name,
        sa.namespace
    );
    if sa.mechanism == Mechanism::Irsa {
        s.push_str(&format!(
            "  annotations:\n    eks.amazonaws.com/role-arn: \"{}\"\n",
            sa.role_arn.as_deref().unwrap_or("(known after apply)")
        ));
    }
    s
}
