//! `ekstack token`: an EKS bearer token as a Kubernetes ExecCredential, made
//! natively (a presigned STS GetCallerIdentity URL), so no AWS CLI is needed.

use anyhow::anyhow;
use clap::Args;

use super::{session, GlobalArgs, Outcome};

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The EKS cluster name (the stack name).
    #[arg(long)]
    pub cluster: String,
}

pub fn run(global: &GlobalArgs, args: TokenArgs) -> anyhow::Result<Outcome> {
    let region = global
        .region
        .clone()
        .or_else(|| std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()))
        .ok_or_else(|| anyhow!("give --region (or set AWS_REGION)"))?;
    let json = session::runtime()?.block_on(crate::ops::token::exec_credential(
        &args.cluster,
        &region,
        global.profile.as_deref(),
    ))?;
    println!("{json}");
    Ok(Outcome::Done)
}
