//! `ekstack kubeconfig`: merge a context for the stack's cluster into the
//! user's kubeconfig, with an exec user that runs `ekstack token`.

use anyhow::bail;
use clap::Args;

use super::{session, GlobalArgs, Outcome, StackArgs};
use crate::kube::kubeconfig::{self, ClusterEntry};

#[derive(Debug, Args)]
pub struct KubeconfigArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Write this file instead of $KUBECONFIG or ~/.kube/config.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<std::path::PathBuf>,
}

/// `ekstack` if that name finds this binary on PATH, else its full path.
fn exec_command() -> String {
    let me = std::env::current_exe().ok().and_then(|p| p.canonicalize().ok());
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join("ekstack").canonicalize().ok() == me && me.is_some()))
        .unwrap_or(false);
    match (on_path, me) {
        (false, Some(path)) => path.display().to_string(),
        _ => "ekstack".to_string(),
    }
}

pub fn run(global: &GlobalArgs, args: KubeconfigArgs) -> anyhow::Result<Outcome> {
    let loaded = args.stack.load(global)?;
    let stack = loaded.stack;
    session::runtime()?.block_on(async {
        let aws = session::connect(global, &stack).await?;
        let _calls = session::CallReport::new(global, &aws);
        let Some(cluster) = crate::resources::eks_cluster::describe(&aws, &stack.meta.name).await? else {
            bail!(
                "stack \"{}\" has no EKS cluster in {} yet; run `ekstack apply` first",
                stack.meta.name,
                stack.meta.region
            );
        };
        let entry = ClusterEntry {
            context_name: crate::ops::inventory::context_name(&stack),
            cluster_name: stack.meta.name.clone(),
            region: stack.meta.region.clone(),
            endpoint: cluster.endpoint().unwrap_or_default().to_string(),
            certificate_authority_data: cluster
                .certificate_authority()
                .and_then(|c| c.data())
                .unwrap_or_default()
                .to_string(),
            exec_command: exec_command(),
            profile: global.profile.clone(),
        };
        let path = match args.kubeconfig {
            Some(p) => p,
            None => kubeconfig::default_path()?,
        };
        let previous = kubeconfig::merge(&path, &entry)?;
        let was = previous
            .filter(|p| p != &entry.context_name)
            .map(|p| format!(" (was \"{p}\")"))
            .unwrap_or_default();
        eprintln!(
            "Wrote context \"{}\" to {} and made it current{was}.",
            entry.context_name,
            path.display()
        );
        eprintln!("Try: kubectl get nodes");
        Ok(Outcome::Done)
    })
}
