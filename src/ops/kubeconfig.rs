//! `kubeconfig`: merge a context for the stack's cluster into the user's
//! kubeconfig, with an exec user that runs `ekstack token`.

use std::path::PathBuf;

use anyhow::{bail, Result};

use super::output::context_name;
use crate::aws::Target;
use crate::config::Stack;
use crate::kube::kubeconfig::{self, ClusterEntry};
use crate::resources::{eks_access_entry, eks_cluster};

/// Where and how to write the context.
#[derive(Debug, Clone)]
pub struct KubeconfigRequest {
    /// The file to write; `None`: $KUBECONFIG or ~/.kube/config.
    pub path: Option<PathBuf>,
    /// What kubectl runs for a token: `ekstack`, or this binary's full path.
    pub exec_command: String,
    /// The AWS profile the exec user keeps.
    pub profile: Option<String>,
}

/// What `kubeconfig` wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub context: String,
    pub path: PathBuf,
    /// The current context before, when it was another one.
    pub previous: Option<String>,
    /// Whether the credentials used can use the cluster.
    pub access: Access,
}

/// What the cluster says of the principal whose credentials wrote the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// It has an access entry.
    Entry { principal: String },
    /// It has none: kubectl will be refused.
    Missing { principal: String },
    /// The cluster takes only the aws-auth ConfigMap, which the EKS API
    /// cannot read.
    ConfigMapOnly { principal: String },
}

/// `ekstack kubeconfig`.
pub async fn kubeconfig(target: &Target, stack: &Stack, request: KubeconfigRequest) -> Result<Written> {
    let aws = super::connect(target).await?;
    let Some(cluster) = eks_cluster::describe(&aws, &stack.meta.name).await? else {
        bail!(
            "stack \"{}\" has no EKS cluster in {} yet; run `ekstack apply` first",
            stack.meta.name,
            stack.meta.region
        );
    };
    let entry = ClusterEntry {
        context_name: context_name(stack),
        cluster_name: stack.meta.name.clone(),
        region: stack.meta.region.clone(),
        endpoint: cluster.endpoint().unwrap_or_default().to_string(),
        certificate_authority_data: cluster
            .certificate_authority()
            .and_then(|c| c.data())
            .unwrap_or_default()
            .to_string(),
        exec_command: request.exec_command,
        profile: request.profile,
    };
    let path = match request.path {
        Some(p) => p,
        None => kubeconfig::default_path()?,
    };
    // Whoever these credentials are needs an access entry, or kubectl is
    // refused with "Unauthorized".
    let caller = super::facts::caller(&aws).await?;
    let principal = eks_access_entry::principal_of(&caller.arn);
    let access = match eks_access_entry::has_entry(&aws, &stack.meta.name, &principal).await? {
        Some(true) => Access::Entry { principal },
        Some(false) => Access::Missing { principal },
        None => Access::ConfigMapOnly { principal },
    };
    let previous = kubeconfig::merge(&path, &entry)?.filter(|p| p != &entry.context_name);
    Ok(Written {
        context: entry.context_name,
        path,
        previous,
        access,
    })
}
