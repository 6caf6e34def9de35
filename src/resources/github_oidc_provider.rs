//! The account's IAM OIDC provider for GitHub Actions' token issuer
//! (`iam-oidc.github`), which the CI roles trust ("Configuring OpenID
//! Connect in Amazon Web Services", GitHub docs; "Create an OpenID Connect
//! (OIDC) identity provider in IAM",
//! https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc.html).
//!
//! IAM allows one provider per issuer URL in an account, so it is shared:
//! by every ekstack stack with `[ci.github]`, in every region, and by
//! whatever else in the account uses GitHub's OIDC. Each stack that uses it
//! says so with a tag of its own (`ekstack:used-by:<stack>@<region>`); a
//! provider that already exists is adopted by adding that tag. Deleting it
//! for one stack removes that stack's tag, and the provider goes only when
//! no other stack's tag is left and ekstack made it (`ekstack:made-by`):
//! one made by hand or by another tool is never deleted.

use anyhow::{anyhow, Result};
use aws_sdk_iam::types::Tag;

use super::{gone_ok, Attribute, Changes, Desired, Discovery, Found, Inputs, New};
use super::{Kind, Ref, Resolve, ResourceKind, Step};
use crate::aws::errors::{has_code, AwsResultExt};
use crate::aws::Aws;
use crate::config::Stack;
use crate::graph::Address;
use crate::live::{Live, Readiness, Tags};

pub const ADDRESS: &str = "iam-oidc.github";

pub fn reference() -> Ref<GithubOidcProvider> {
    Ref::new(ADDRESS)
}

/// GitHub Actions' token issuer.
pub const URL: &str = "https://token.actions.githubusercontent.com";
/// The audience `aws-actions/configure-aws-credentials` asks tokens for.
use super::iam_oidc_provider::AUDIENCE;
/// Says which stack uses the provider: `ekstack:used-by:<stack>@<region>`.
const TAG_USED_BY: &str = "ekstack:used-by:";
/// Says ekstack made the provider (for `<stack>@<region>`), so that the
/// last stack using it may delete it.
const TAG_MADE_BY: &str = "ekstack:made-by";

/// The tag key that says `stack` in `region` uses the provider.
pub fn used_by_key(stack: &str, region: &str) -> String {
    format!("{TAG_USED_BY}{stack}@{region}")
}

pub struct GithubOidcProvider;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// This stack's tag key.
    pub used_by: String,
}

#[derive(Debug, Clone)]
pub struct Observed {
    pub audiences: Vec<String>,
    /// The stacks whose tags say they use it (`<stack>@<region>`), this
    /// one included.
    pub users: Vec<String>,
    pub made_by_ekstack: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    /// Whether tokens for `sts.amazonaws.com` are accepted.
    StsAudience,
}

/// How the ARN IAM gives the provider ends
/// (`arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com`).
const ARN_SUFFIX: &str = ":oidc-provider/token.actions.githubusercontent.com";

impl ResourceKind for GithubOidcProvider {
    const KIND: Kind = Kind::GithubOidcProvider;
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        if stack.ci.is_none() {
            return vec![];
        }
        let used_by = used_by_key(&stack.meta.name, &stack.meta.region);
        // Only this stack's own tag: the stack's other tags would fight
        // with every other stack's over one shared resource.
        let tags: Tags = [(used_by.clone(), "ekstack".to_string())].into_iter().collect();
        vec![New {
            address: ADDRESS.into(),
            name: "token.actions.githubusercontent.com".into(),
            tags,
            spec: Spec { used_by },
            after: vec![],
        }]
    }

    fn references(_: &Spec) -> Vec<Address> {
        vec![]
    }

    fn attributes(_: &Desired<'_, Self>, _: &dyn Resolve) -> Vec<Attribute<Self>> {
        vec![Attribute::<Self>::new(Attr::StsAudience, "ci.github", true, |l| {
            l.observed.audiences.iter().any(|a| a == AUDIENCE).into()
        })
        .in_place("iam:AddClientIDToOpenIDConnectProvider")]
    }

    fn notes(d: &Desired<'_, Self>, live: Option<&Found<Self>>, _: &dyn Resolve) -> Vec<String> {
        let Some(live) = live else {
            return vec![
                "one per account: if the account already has GitHub's OIDC provider, it is adopted (tagged as used by this stack) rather than made".into(),
            ];
        };
        let me = d.spec.used_by.trim_start_matches(TAG_USED_BY);
        let others: Vec<&str> = live
            .observed
            .users
            .iter()
            .map(String::as_str)
            .filter(|u| *u != me)
            .collect();
        if !others.is_empty() {
            vec![format!(
                "shared with {}: destroying this stack leaves it",
                others.join(", ")
            )]
        } else if !live.observed.made_by_ekstack {
            vec!["made outside ekstack: destroying this stack leaves it".into()]
        } else {
            vec![]
        }
    }

    fn points_at(_: &Observed) -> Vec<String> {
        vec![]
    }

    /// The provider, by the ARN IAM gives it, when this stack's tag says
    /// it uses it: two calls.
    async fn discover(cx: &Discovery<'_>, _: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let Some(found) = read(cx.aws).await? else {
            return Ok(vec![]);
        };
        if !found.tags.contains_key(&used_by_key(cx.stack, cx.region)) {
            return Ok(vec![]);
        }
        Ok(vec![found])
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, _: &Inputs) -> Result<Found<Self>> {
        let iam = &step.aws().iam;
        let made_by = d.spec.used_by.trim_start_matches(TAG_USED_BY).to_string();
        // IAM trusts GitHub's certificate itself; no thumbprint is needed
        // (CreateOpenIDConnectProvider, `ThumbprintList`).
        let created = iam
            .create_open_id_connect_provider()
            .url(URL)
            .client_id_list(AUDIENCE)
            .set_tags(Some(vec![
                Tag::builder().key(&d.spec.used_by).value("ekstack").build()?,
                Tag::builder().key(TAG_MADE_BY).value(&made_by).build()?,
            ]))
            .send()
            .await
            .aws_on("iam:CreateOpenIDConnectProvider", URL);
        match created {
            Ok(_) => {}
            // The account's provider (another stack's, or made by hand):
            // adopted, by this stack's tag.
            Err(e) if has_code(&e, "EntityAlreadyExists") => {
                let existing = read(step.aws()).await?.ok_or(e)?;
                iam.tag_open_id_connect_provider()
                    .open_id_connect_provider_arn(&existing.id)
                    .tags(Tag::builder().key(&d.spec.used_by).value("ekstack").build()?)
                    .send()
                    .await
                    .aws_on("iam:TagOpenIDConnectProvider", &existing.id)?;
                let mut audiences = existing.observed.audiences.clone();
                super::iam_oidc_provider::accept_sts_audience(step, &existing.id, &mut audiences).await?;
            }
            Err(e) => return Err(e),
        }
        let found = read(step.aws())
            .await?
            .ok_or_else(|| anyhow!("GitHub's OIDC provider is not there after CreateOpenIDConnectProvider"))?;
        Ok(found)
    }

    async fn update(
        step: &Step<'_>,
        _: &Desired<'_, Self>,
        current: &Found<Self>,
        changes: &Changes<Self>,
        _: &Inputs,
    ) -> Result<Found<Self>> {
        let mut live = current.clone();
        if changes.has(Attr::StsAudience) {
            super::iam_oidc_provider::accept_sts_audience(step, &live.id, &mut live.observed.audiences).await?;
        }
        Ok(live)
    }

    /// This stack stops using it; the provider itself goes only with its
    /// last ekstack user, and only if ekstack made it. Its tags are read
    /// afresh: another stack may have started using it since the plan.
    async fn delete(step: &Step<'_>, _: &Found<Self>) -> Result<()> {
        let Some(now) = read(step.aws()).await? else {
            return Ok(());
        };
        let mine = used_by_key(&step.ctx.stack, &step.aws().region);
        let others = now.tags.keys().any(|k| k.starts_with(TAG_USED_BY) && *k != mine);
        let iam = &step.aws().iam;
        if others || !now.observed.made_by_ekstack {
            return gone_ok(
                iam.untag_open_id_connect_provider()
                    .open_id_connect_provider_arn(&now.id)
                    .tag_keys(&mine)
                    .send()
                    .await
                    .aws_on("iam:UntagOpenIDConnectProvider", &now.id),
            );
        }
        gone_ok(
            iam.delete_open_id_connect_provider()
                .open_id_connect_provider_arn(&now.id)
                .send()
                .await
                .aws_on("iam:DeleteOpenIDConnectProvider", &now.id),
        )
    }
}

/// The account's GitHub provider with its tags, whoever uses it: found in
/// the account's list (IAM names it by ARN, and the list needs no account
/// id), then read.
async fn read(aws: &Aws) -> Result<Option<Found<GithubOidcProvider>>> {
    let listed = aws
        .iam
        .list_open_id_connect_providers()
        .send()
        .await
        .aws("iam:ListOpenIDConnectProviders")?;
    let Some(arn) = listed
        .open_id_connect_provider_list()
        .iter()
        .filter_map(|p| p.arn())
        .find(|arn| arn.ends_with(ARN_SUFFIX))
        .map(str::to_string)
    else {
        return Ok(None);
    };
    let got = super::existing(
        aws.iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(&arn)
            .send()
            .await
            .aws_on("iam:GetOpenIDConnectProvider", &arn),
    )?;
    let Some(p) = got else { return Ok(None) };
    let tags: Tags = p
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    let observed = Observed {
        audiences: p.client_id_list().to_vec(),
        users: tags
            .keys()
            .filter_map(|k| k.strip_prefix(TAG_USED_BY))
            .map(str::to_string)
            .collect(),
        made_by_ekstack: tags.contains_key(TAG_MADE_BY),
    };
    Ok(Some(
        GithubOidcProvider::found(ADDRESS, &arn, "available", Readiness::Ready, observed)
            .with_arn(Some(arn.clone()))
            .with_tags(tags),
    ))
}
