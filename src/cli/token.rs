//! `ekstack token`: an EKS bearer token as a Kubernetes ExecCredential, made
//! natively (a presigned STS GetCallerIdentity URL), so no AWS CLI is needed.

use anyhow::anyhow;
use clap::Args;

use super::{Outcome, Session};

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The EKS cluster name (the stack name).
    #[arg(long)]
    pub cluster: String,
}

pub fn run(session: &Session, args: TokenArgs) -> anyhow::Result<Outcome> {
    let region = session
        .global
        .region
        .clone()
        .or_else(|| std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()))
        .ok_or_else(|| anyhow!("give --region (or set AWS_REGION)"))?;
    let json = session.runtime()?.block_on(crate::ops::token::exec_credential(
        &args.cluster,
        &region,
        session.global.profile.as_deref(),
    ))?;
    crate::render::stdout(&format!("{json}\n"))?;
    Ok(Outcome::Done)
}
