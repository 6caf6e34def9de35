//! The AWS session: SDK configuration, one client per service, and a count of
//! every call made (for `-v` and for tests that assert a plan makes no
//! mutating call).

mod calls;
pub mod errors;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::ProvideCredentials;

pub use calls::{CallLog, CallObserver, CallRecord, CallStats};

/// Where and how to reach AWS; the non-config half of a run.
#[derive(Debug, Clone)]
pub struct Target {
    pub region: String,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    /// Every call made through this target is counted here.
    pub calls: Arc<CallLog>,
}

/// Where the billing services' one endpoint is ("AWS Budgets endpoints
/// and quotas", "AWS Cost Explorer endpoints": us-east-1).
const GLOBAL_BILLING_REGION: &str = "us-east-1";

/// Clients for every service ekstack uses, sharing one configuration.
#[derive(Clone, Debug)]
pub struct Aws {
    pub region: String,
    pub sdk: aws_config::SdkConfig,
    pub ec2: aws_sdk_ec2::Client,
    pub eks: aws_sdk_eks::Client,
    pub rds: aws_sdk_rds::Client,
    pub iam: aws_sdk_iam::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub elb: aws_sdk_elasticloadbalancing::Client,
    pub sts: aws_sdk_sts::Client,
    pub quotas: aws_sdk_servicequotas::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    /// AWS Budgets and Cost Explorer are global services signed in
    /// us-east-1, whatever the stack's region.
    pub budgets: aws_sdk_budgets::Client,
    pub costs: aws_sdk_costexplorer::Client,
    /// Who the credentials are (STS GetCallerIdentity: account, ARN), asked
    /// once per command: the lock, discovery and plan all need it.
    pub caller: Arc<tokio::sync::OnceCell<(String, String)>>,
    pub calls: Arc<CallLog>,
}

/// How long finding credentials may take before we say there are none.
/// The default chain ends with the EC2 instance metadata service, which on a
/// laptop only times out; this bounds it.
const CREDENTIALS_TIMEOUT: Duration = Duration::from_secs(5);

impl Aws {
    /// Loads the SDK configuration and checks that credentials exist.
    pub async fn connect(target: &Target) -> anyhow::Result<Aws> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(target.region.clone()))
            // Adaptive retry backs off on throttling and 5xx and also slows the
            // client down when AWS signals it is over its rate.
            .retry_config(
                RetryConfig::adaptive()
                    .with_max_attempts(10)
                    .with_initial_backoff(Duration::from_millis(200))
                    // SDK default is 20 s; at the start of a run the adaptive rate
                    // limiter has measured nothing yet and would hold a throttled
                    // call for the whole cap.
                    .with_max_backoff(Duration::from_secs(10)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .build(),
            );
        if let Some(profile) = &target.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &target.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let sdk = loader.load().await;
        check_credentials(&sdk).await?;
        Ok(Self::from_sdk_config(sdk, target.calls.clone()))
    }

    /// Builds the clients from a loaded configuration (tests pass their own).
    pub fn from_sdk_config(sdk: aws_config::SdkConfig, calls: Arc<CallLog>) -> Aws {
        let interceptor = calls::Counter(calls.clone());
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        Aws {
            region,
            ec2: aws_sdk_ec2::Client::from_conf(
                aws_sdk_ec2::config::Builder::from(&sdk)
                    .interceptor(interceptor.clone())
                    .build(),
            ),
            eks: aws_sdk_eks::Client::from_conf(
                aws_sdk_eks::config::Builder::from(&sdk)
                    .interceptor(interceptor.clone())
                    .build(),
            ),
            rds: aws_sdk_rds::Client::from_conf(
                aws_sdk_rds::config::Builder::from(&sdk)
                    .interceptor(interceptor.clone())
                    .build(),
            ),
            iam: aws_sdk_iam::Client::from_conf(
                aws_sdk_iam::config::Builder::from(&sdk)
                    .interceptor(interceptor.clone())
                    .build(),
            ),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::from_conf(
                aws_sdk_elasticloadbalancingv2::config::Builder::from(&sdk)
                    .interceptor(interceptor.clone())
                    .build(),
            ),
            elb: aws_sdk_elasticloadbalancing::Client::from_conf(
                aws_sdk_elasticloadbalancing::config::Builder::from(&sdk)
                    .interceptor(interceptor.clone())
                    .build(),
            ),
            sts: aws_sdk_sts::Client::from_conf(
                aws_sdk_sts::config::Builder::from(&sdk)
                    .interceptor(interceptor.clone())
                    .build(),
            ),
            quotas: aws_sdk_servicequotas::Client::from_conf(
                aws_sdk_servicequotas::config::Builder::from(&sdk)
                    .interceptor(interceptor.clone())
                    .build(),
            ),
            dynamodb: aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(&sdk)
                    .interceptor(interceptor.clone())
                    .build(),
            ),
            ecr: aws_sdk_ecr::Client::from_conf(
                aws_sdk_ecr::config::Builder::from(&sdk)
                    .interceptor(interceptor.clone())
                    .build(),
            ),
            tagging: aws_sdk_resourcegroupstagging::Client::from_conf(
                aws_sdk_resourcegroupstagging::config::Builder::from(&sdk)
                    .interceptor(interceptor.clone())
                    .build(),
            ),
            budgets: aws_sdk_budgets::Client::from_conf(
                aws_sdk_budgets::config::Builder::from(&sdk)
                    .region(Region::from_static(GLOBAL_BILLING_REGION))
                    .interceptor(interceptor.clone())
                    .build(),
            ),
            costs: aws_sdk_costexplorer::Client::from_conf(
                aws_sdk_costexplorer::config::Builder::from(&sdk)
                    .region(Region::from_static(GLOBAL_BILLING_REGION))
                    .interceptor(interceptor)
                    .build(),
            ),
            sdk,
            calls,
            caller: Arc::default(),
        }
    }
}

async fn check_credentials(sdk: &aws_config::SdkConfig) -> anyhow::Result<()> {
    use crate::i18n::{Localized, Msg};
    let Some(provider) = sdk.credentials_provider() else {
        return Err(crate::i18n::error(Msg::new("error.no_credentials_provider")));
    };
    match tokio::time::timeout(CREDENTIALS_TIMEOUT, provider.provide_credentials()).await {
        Err(_) => Err(crate::i18n::error(
            Msg::new("error.no_credentials").arg("seconds", CREDENTIALS_TIMEOUT.as_secs()),
        )),
        Ok(Err(e)) => Err(anyhow::Error::new(e)).context(Localized(Msg::new("error.unusable_credentials"))),
        Ok(Ok(_)) => Ok(()),
    }
}
