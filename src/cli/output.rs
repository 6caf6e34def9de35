//! `ekstack output`: endpoints, names and the secret's ARN, with commands
//! ready to paste; `--k8s` prints the app's manifests.

use clap::Args;

use super::{Outcome, Session, StackArgs};

#[derive(Debug, Args)]
pub struct OutputArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Print JSON on stdout.
    #[arg(long, conflicts_with = "k8s")]
    pub json: bool,
    /// Print the app's Kubernetes manifests: Namespace, ServiceAccounts,
    /// ConfigMap, Deployment, Service, Ingress and HPA.
    #[arg(long)]
    pub k8s: bool,
    /// Print `gh variable set` commands that give the GitHub Actions
    /// workflows in examples/github-actions/ the role ARNs and registry
    /// URLs they read.
    #[arg(long, conflicts_with_all = ["json", "k8s"])]
    pub github: bool,
    /// The app's namespace.
    #[arg(long, default_value = "app")]
    pub namespace: String,
}

pub fn run(session: &Session, args: OutputArgs) -> anyhow::Result<Outcome> {
    let stack = args.stack.load(session)?.stack;
    let target = session.target(&stack);
    let out = session
        .runtime()?
        .block_on(crate::ops::output::outputs(&target, &stack))?;
    if args.json {
        crate::render::json(&out)?;
    } else if args.github {
        crate::render::stdout(&crate::render::output::github_variables(
            &out,
            &args.stack.stack.display().to_string(),
            args.stack.env.as_deref(),
        ))?;
    } else if args.k8s {
        crate::render::stdout(&crate::render::output::manifests(
            &out,
            &stack.meta.name,
            &args.namespace,
        )?)?;
    } else {
        crate::render::stdout(&crate::render::output::text(&out, &args.stack.as_typed()))?;
    }
    Ok(Outcome::Done)
}
