//! `token`: an EKS bearer token for kubectl, from the standard credentials.

use std::time::{Duration, SystemTime};

use anyhow::{anyhow, Context as _, Result};
use aws_credential_types::provider::ProvideCredentials;

use crate::kube::token;

/// The ExecCredential JSON for `cluster`, signed with the default credential
/// chain (or `profile`). Makes no AWS call: the token is a presigned URL.
pub async fn exec_credential(cluster: &str, region: &str, profile: Option<&str>) -> Result<String> {
    let mut loader =
        aws_config::defaults(aws_config::BehaviorVersion::latest()).region(aws_config::Region::new(region.to_string()));
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    let sdk = loader.load().await;
    let provider = sdk
        .credentials_provider()
        .ok_or_else(|| anyhow!("no AWS credentials provider is configured"))?;
    let creds = tokio::time::timeout(Duration::from_secs(5), provider.provide_credentials())
        .await
        .map_err(|_| anyhow!("no AWS credentials found within 5s"))?
        .context("no usable AWS credentials")?;
    let now = SystemTime::now();
    let bearer = token::bearer_token(&creds, region, cluster, now)?;
    Ok(token::exec_credential_json(&bearer, now + token::TOKEN_CACHE_LIFETIME))
}
