//! `ekstack token`: an EKS bearer token as a Kubernetes ExecCredential, made
//! natively (a presigned STS GetCallerIdentity URL), so no AWS CLI is needed.

use std::time::SystemTime;

use anyhow::{anyhow, Context as _};
use aws_credential_types::provider::ProvideCredentials;
use clap::Args;

use super::{session, GlobalArgs, Outcome};
use crate::kube::token;

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
    session::runtime()?.block_on(async {
        let mut loader =
            aws_config::defaults(aws_config::BehaviorVersion::latest()).region(aws_config::Region::new(region.clone()));
        if let Some(p) = &global.profile {
            loader = loader.profile_name(p);
        }
        let sdk = loader.load().await;
        let provider = sdk
            .credentials_provider()
            .ok_or_else(|| anyhow!("no AWS credentials provider is configured"))?;
        let creds = tokio::time::timeout(std::time::Duration::from_secs(5), provider.provide_credentials())
            .await
            .map_err(|_| anyhow!("no AWS credentials found within 5s"))?
            .context("no usable AWS credentials")?;
        let now = SystemTime::now();
        let bearer = token::bearer_token(&creds, &region, &args.cluster, now)?;
        println!(
            "{}",
            token::exec_credential_json(&bearer, now + token::TOKEN_CACHE_LIFETIME)
        );
        Ok(Outcome::Done)
    })
}
