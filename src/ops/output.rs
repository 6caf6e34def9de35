//! `output`: what an application and its operator need to reach the stack:
//! endpoints, names and the database secret's ARN, never the password.

use anyhow::Result;
use serde::Serialize;

use crate::aws::Target;
use crate::config::{Mechanism, Stack};
use crate::resources::discover::discover;
use crate::resources::{db_cluster, db_instance, eks_cluster, vpc};

/// What an application and its operator need to reach the stack.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outputs {
    pub vpc_id: Option<String>,
    pub cluster_name: Option<String>,
    pub cluster_endpoint: Option<String>,
    pub db_endpoint: Option<String>,
    /// Where reads can go: Aurora's reader endpoint where there are
    /// readers, or the first read replica.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_reader_endpoint: Option<String>,
    /// The RDS proxy's endpoint, where the app's DB_HOST points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_proxy_endpoint: Option<String>,
    /// Every read replica's endpoint, in replica order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub db_replica_endpoints: Vec<String>,
    pub db_port: Option<i64>,
    pub db_name: Option<String>,
    pub db_username: Option<String>,
    /// The Secrets Manager secret RDS manages; never the password itself.
    pub db_secret_arn: Option<String>,
    pub kubeconfig_context: Option<String>,
    pub region: String,
    /// The service accounts the stack's pod identities bind.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub service_accounts: Vec<ServiceAccount>,
    /// EKS Auto Mode runs the cluster's load balancing: an Ingress needs
    /// its IngressClass, and no controller.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub auto_mode: bool,
    /// `[ci.github]`: the roles GitHub Actions assumes, once made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci: Option<CiOutputs>,
    /// `[registry]`: each repository's URL (`docker push` target), by the
    /// file's name for it.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub registry_urls: std::collections::BTreeMap<String, String>,
}

/// What the workflows in `examples/github-actions/` read from the
/// repository's variables.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CiOutputs {
    pub repository: String,
    pub plan_role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy_role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply_role_arn: Option<String>,
    pub infra_apply: bool,
}

/// A service account with AWS permissions, and how its pods get them.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceAccount {
    pub identity: String,
    pub namespace: String,
    pub name: String,
    pub mechanism: Mechanism,
    /// May read the database's secret.
    pub database: bool,
    /// The role's ARN, once made.
    pub role_arn: Option<String>,
}

/// The kubeconfig context ekstack writes for a stack's cluster.
pub fn context_name(stack: &Stack) -> String {
    format!("{}.{}.ekstack", stack.meta.name, stack.meta.region)
}

/// `ekstack output`.
pub async fn outputs(target: &Target, stack: &Stack) -> Result<Outputs> {
    let aws = super::connect(target).await?;
    let live = discover(&aws, &stack.meta.name, &stack.meta.region).await?;
    let mut out = Outputs {
        region: stack.meta.region.clone(),
        ..Default::default()
    };
    out.vpc_id = live
        .get(vpc::ADDRESS)
        .map(|l| l.id.clone())
        .or_else(|| stack.network.given.as_ref().map(|g| g.vpc_id.clone()));
    if let Some(c) = live.find::<eks_cluster::EksCluster>(eks_cluster::ADDRESS) {
        out.cluster_name = Some(c.id.clone());
        out.cluster_endpoint = Some(c.observed.endpoint_url.clone()).filter(|e| !e.is_empty());
        out.kubeconfig_context = Some(context_name(stack));
        out.auto_mode = c.observed.auto_mode;
    } else {
        // Not made yet: what the file asks for.
        out.auto_mode = stack.eks.as_ref().is_some_and(|e| e.auto());
    }
    // Mid-migration both are live: the file's engine says which serves.
    let cluster = live.find::<db_cluster::DbCluster>(db_cluster::ADDRESS);
    let to_aurora = stack.database.as_ref().is_some_and(|d| d.engine.is_aurora()) && cluster.is_some();
    let instance = live
        .find::<db_instance::DbInstance>(db_instance::ADDRESS)
        .filter(|_| !to_aurora);
    if let Some(db) = instance {
        let o = db.observed;
        out.db_endpoint = o.endpoint;
        out.db_port = o.port.map(i64::from);
        out.db_secret_arn = o.secret_arn;
        out.db_name = Some(o.db_name);
        out.db_username = Some(o.username);
        let mut replicas: Vec<_> = live
            .of_kind::<crate::resources::db_replica::DbReplica>()
            .filter_map(|r| Some((r.address.clone(), r.observed.endpoint?)))
            .collect();
        replicas.sort_by_key(|(a, _)| a.trim_start_matches("db-replica.").parse::<u32>().unwrap_or(0));
        out.db_replica_endpoints = replicas.into_iter().map(|(_, e)| e).collect();
        out.db_reader_endpoint = out.db_replica_endpoints.first().cloned();
    } else if let Some(db) = cluster {
        let o = db.observed;
        out.db_endpoint = o.endpoint;
        // The reader endpoint serves only once a reader instance exists.
        let readers = live
            .of_kind::<crate::resources::db_cluster_instance::DbClusterInstance>()
            .count()
            > 1;
        out.db_reader_endpoint = o.reader_endpoint.filter(|_| readers);
        out.db_port = o.port.map(i64::from);
        out.db_secret_arn = o.secret_arn;
        // A cluster restored from a snapshot reports no DatabaseName.
        out.db_name = o.db_name.or_else(|| stack.database.as_ref().map(|d| d.db_name.clone()));
        out.db_username = Some(o.username);
    }
    out.db_proxy_endpoint = live
        .find::<crate::resources::db_proxy::DbProxy>(crate::resources::db_proxy::ADDRESS)
        .and_then(|p| p.observed.endpoint);
    if let Some(ci) = &stack.ci {
        let arn = |r: crate::resources::Ref<crate::resources::iam_role::IamRole>| {
            live.get(&r.address).and_then(|l| l.arn.clone())
        };
        use crate::resources::iam_role::{ci_apply, ci_deploy, ci_plan};
        out.ci = Some(CiOutputs {
            repository: ci.repository.clone(),
            plan_role_arn: arn(ci_plan()),
            deploy_role_arn: arn(ci_deploy()),
            apply_role_arn: arn(ci_apply()),
            infra_apply: ci.infra_apply,
        });
    }
    for name in stack.registry.iter().flat_map(|r| &r.repositories) {
        let repo = live
            .find::<crate::resources::ecr_repository::EcrRepository>(&crate::resources::ecr_repository::address(name));
        if let Some(repo) = repo {
            out.registry_urls.insert(name.clone(), repo.observed.uri);
        }
    }
    for (identity, p) in stack.eks.iter().flat_map(|e| &e.pod_identities) {
        out.service_accounts.push(ServiceAccount {
            identity: identity.clone(),
            namespace: p.namespace.clone(),
            name: p.service_account.clone(),
            mechanism: p.mechanism,
            database: p.database,
            role_arn: live
                .get(&crate::resources::iam_role::pod(identity).address)
                .and_then(|l| l.arn.clone()),
        });
    }
    Ok(out)
}
