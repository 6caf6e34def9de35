//! `ekstack kubeconfig`: merge a context for the stack's cluster into the
//! user's kubeconfig, with an exec user that runs `ekstack token`.

use clap::Args;

use super::{Outcome, Session, StackArgs};
use crate::ops::kubeconfig::KubeconfigRequest;

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

pub fn run(session: &Session, args: KubeconfigArgs) -> anyhow::Result<Outcome> {
    let stack = args.stack.load(session)?.stack;
    let target = session.target(&stack);
    let request = KubeconfigRequest {
        path: args.kubeconfig,
        exec_command: exec_command(),
        profile: session.global.profile.clone(),
    };
    let written = session
        .runtime()?
        .block_on(crate::ops::kubeconfig::kubeconfig(&target, &stack, request))?;
    crate::render::stderr(&crate::render::summary::kubeconfig(&written));
    Ok(Outcome::Done)
}
