//! The cluster's IAM OIDC identity provider (`iam-oidc.cluster`), which
//! IRSA roles trust: made when a pod identity's namespace runs on Fargate,
//! where EKS Pod Identity does not work ("Create an IAM OIDC provider for
//! your cluster", https://docs.aws.amazon.com/eks/latest/userguide/enable-iam-roles-for-service-accounts.html).
//! Its URL is the cluster's issuer, known once the cluster exists.

use anyhow::{anyhow, Result};
use aws_sdk_iam::types::Tag;

use super::eks_cluster::EksCluster;
use super::tags::{self, is_of_stack};
use super::{gone_ok, Attribute, Changes, Desired, Discovery, Found, Inputs, New};
use super::{Kind, Ref, Resolve, ResourceKind, Step};
use crate::aws::errors::AwsResultExt;
use crate::config::{Mechanism, Stack};
use crate::graph::Address;
use crate::live::{Live, Readiness, Tags};
use crate::plan::Value;

pub const ADDRESS: &str = "iam-oidc.cluster";

pub fn reference() -> Ref<IamOidcProvider> {
    Ref::new(ADDRESS)
}

/// The audience IRSA tokens carry (and GitHub's, asked for STS).
pub const AUDIENCE: &str = "sts.amazonaws.com";

/// Makes the provider at `arn` accept tokens for STS, if its audiences
/// (`audiences`, updated) do not already.
pub(super) async fn accept_sts_audience(step: &Step<'_>, arn: &str, audiences: &mut Vec<String>) -> Result<()> {
    if audiences.iter().any(|a| a == AUDIENCE) {
        return Ok(());
    }
    step.aws()
        .iam
        .add_client_id_to_open_id_connect_provider()
        .open_id_connect_provider_arn(arn)
        .client_id(AUDIENCE)
        .send()
        .await
        .aws_on("iam:AddClientIDToOpenIDConnectProvider", arn)?;
    audiences.push(AUDIENCE.into());
    Ok(())
}

pub struct IamOidcProvider;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub cluster: Ref<EksCluster>,
}

#[derive(Debug, Clone)]
pub struct Observed {
    /// The cluster whose issuer it is: it goes before the cluster does.
    pub cluster: String,
    /// `https://oidc.eks.<region>.amazonaws.com/id/<id>`.
    pub url: String,
    pub audiences: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    Url,
    Audiences,
}

/// Whether the stack needs the provider: some identity uses IRSA.
fn needed(stack: &Stack) -> bool {
    stack
        .eks
        .as_ref()
        .is_some_and(|e| e.pod_identities.values().any(|p| p.mechanism == Mechanism::Irsa))
}

impl ResourceKind for IamOidcProvider {
    const KIND: Kind = Kind::IamOidcProvider;
    const PARENT: Option<Kind> = Some(Kind::EksCluster);
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        if !needed(stack) {
            return vec![];
        }
        vec![New {
            address: ADDRESS.into(),
            tags: tags::of(stack, ADDRESS, &format!("{}-oidc", stack.meta.name)),
            name: format!("{}-oidc", stack.meta.name),
            spec: Spec {
                cluster: super::eks_cluster::reference(),
            },
            after: vec![],
        }]
    }

    fn references(spec: &Spec) -> Vec<Address> {
        vec![spec.cluster.address.clone()]
    }

    fn attributes(d: &Desired<'_, Self>, refs: &dyn Resolve) -> Vec<Attribute<Self>> {
        let issuer = refs
            .live(&d.spec.cluster.address)
            .and_then(|c| c.observed::<EksCluster>())
            .and_then(|c| c.issuer.clone());
        vec![
            Attribute::<Self>::new(
                Attr::Url,
                "eks.pod_identities",
                issuer.map(Value::Text).unwrap_or(Value::Unknown),
                |l| l.observed.url.clone().into(),
            )
            .replace("an OIDC provider's URL cannot change; a new cluster has a new issuer"),
            Attribute::<Self>::new(Attr::Audiences, "eks.pod_identities", vec![AUDIENCE], |l| {
                Value::from(&l.observed.audiences)
            })
            .in_place("iam:AddClientIDToOpenIDConnectProvider")
            .unordered(),
        ]
    }

    fn points_at(o: &Observed) -> Vec<String> {
        vec![o.cluster.clone()]
    }

    /// The provider for the cluster's issuer, by the ARN IAM gives it
    /// (`arn:aws:iam::<account>:oidc-provider/<issuer host>`): one call,
    /// however many providers the account has.
    async fn discover(cx: &Discovery<'_>, parent: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let Some(cluster) = parent else { return Ok(vec![]) };
        let (Some(issuer), Some(account)) = (
            cluster.observed::<EksCluster>().and_then(|c| c.issuer.clone()),
            cluster
                .arn
                .as_deref()
                .and_then(|a| a.split(':').nth(4))
                .map(str::to_string),
        ) else {
            return Ok(vec![]);
        };
        let host = issuer.trim_start_matches("https://");
        let arn = format!("arn:aws:iam::{account}:oidc-provider/{host}");
        let got = super::existing(
            cx.aws
                .iam
                .get_open_id_connect_provider()
                .open_id_connect_provider_arn(&arn)
                .send()
                .await
                .aws_on("iam:GetOpenIDConnectProvider", &arn),
        )?;
        let Some(p) = got else { return Ok(vec![]) };
        let tags: Tags = p
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        if !is_of_stack(&tags, cx.stack) {
            return Ok(vec![]);
        }
        let observed = Observed {
            cluster: cluster.id.clone(),
            url: issuer.clone(),
            audiences: p.client_id_list().to_vec(),
        };
        Ok(vec![Self::found(
            ADDRESS,
            &arn,
            "available",
            Readiness::Ready,
            observed,
        )
        .with_arn(Some(arn.clone()))
        .with_tags(tags)])
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, inputs: &Inputs) -> Result<Found<Self>> {
        let cluster = inputs.get(&d.spec.cluster)?;
        let url = cluster
            .observed
            .issuer
            .clone()
            .ok_or_else(|| anyhow!("EKS reported no OIDC issuer for cluster {}", cluster.id))?;
        let tags: Vec<Tag> = d
            .tags
            .iter()
            .map(|(k, v)| Ok(Tag::builder().key(k).value(v).build()?))
            .collect::<Result<_>>()?;
        // IAM trusts the EKS issuers' certificates itself; no thumbprint is
        // needed (CreateOpenIDConnectProvider, `ThumbprintList`).
        let out = step
            .aws()
            .iam
            .create_open_id_connect_provider()
            .url(&url)
            .client_id_list(AUDIENCE)
            .set_tags(Some(tags))
            .send()
            .await
            .aws_on("iam:CreateOpenIDConnectProvider", &url);
        let arn = match out {
            Ok(o) => o
                .open_id_connect_provider_arn()
                .map(str::to_string)
                .ok_or_else(|| anyhow!("CreateOpenIDConnectProvider returned no ARN"))?,
            // One provider per URL: an interrupted run's, or one made by
            // hand for this cluster (`eksctl utils associate-iam-oidc-provider`),
            // which IRSA can use as well; it is compared and tagged.
            Err(e) if crate::aws::errors::has_code(&e, "EntityAlreadyExists") => {
                let host = url.trim_start_matches("https://").to_string();
                let listed = step
                    .aws()
                    .iam
                    .list_open_id_connect_providers()
                    .send()
                    .await
                    .aws("iam:ListOpenIDConnectProviders")?;
                let found = listed
                    .open_id_connect_provider_list()
                    .iter()
                    .filter_map(|p| p.arn())
                    .find(|arn| arn.ends_with(&format!("oidc-provider/{host}")))
                    .map(str::to_string)
                    .ok_or(e)?;
                let tags: Vec<Tag> = d
                    .tags
                    .iter()
                    .map(|(k, v)| Ok(Tag::builder().key(k).value(v).build()?))
                    .collect::<Result<_>>()?;
                step.aws()
                    .iam
                    .tag_open_id_connect_provider()
                    .open_id_connect_provider_arn(&found)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .aws_on("iam:TagOpenIDConnectProvider", &found)?;
                found
            }
            Err(e) => return Err(e),
        };
        Ok(Self::found(
            d.address,
            &arn,
            "available",
            Readiness::Ready,
            Observed {
                cluster: cluster.id.clone(),
                url,
                audiences: vec![AUDIENCE.into()],
            },
        )
        .with_arn(Some(arn.clone()))
        .with_tags(d.tags.clone()))
    }

    async fn update(
        step: &Step<'_>,
        _: &Desired<'_, Self>,
        current: &Found<Self>,
        changes: &Changes<Self>,
        _: &Inputs,
    ) -> Result<Found<Self>> {
        let mut live = current.clone();
        if changes.has(Attr::Audiences) {
            accept_sts_audience(step, &live.id, &mut live.observed.audiences).await?;
        }
        Ok(live)
    }

    async fn delete(step: &Step<'_>, live: &Found<Self>) -> Result<()> {
        gone_ok(
            step.aws()
                .iam
                .delete_open_id_connect_provider()
                .open_id_connect_provider_arn(&live.id)
                .send()
                .await
                .aws_on("iam:DeleteOpenIDConnectProvider", &live.id),
        )
    }
}
