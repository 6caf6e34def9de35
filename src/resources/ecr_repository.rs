//! The stack's ECR repositories (`ecr-repository.<name>`, named
//! `<stack>/<name>`): scanned on push, with a lifecycle policy that keeps
//! the last `keep_images` images ("Creating a lifecycle policy",
//! https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_examples.html).
//!
//! Images are data: a repository that holds any is deleted only with
//! `--delete-images`, after the plan has said how many and how large. A
//! destroy without it keeps the repository: its stack tags give way to
//! `ekstack:kept-from`, so the stack is gone, and the repository is listed
//! with what its storage costs. Applying the stack again takes it back.

use anyhow::{anyhow, Result};
use aws_sdk_ecr::types::{ImageScanningConfiguration, ImageTagMutability, Tag};

use super::tags::{self, claimed_address, TAG_ADDRESS, TAG_STACK};
use super::{gone_ok, Attribute, Changes, Desired, Discovery, Found, Inputs, New, Policy, Remains};
use super::{Kind, Resolve, ResourceKind, Step};
use crate::aws::errors::{has_code, AwsResultExt};
use crate::aws::Aws;
use crate::config::Stack;
use crate::cost::Billable;
use crate::graph::{Address, Graph};
use crate::live::{Live, LiveState, Readiness, Tags};
use crate::plan::Value;

/// Marks a repository a destroy kept because it held images: the stack it
/// was of.
pub const TAG_KEPT_FROM: &str = "ekstack:kept-from";

pub fn address(name: &str) -> Address {
    format!("ecr-repository.{name}")
}

/// The AWS name of the stack's repository `name`.
pub fn repository_name(stack: &str, name: &str) -> String {
    format!("{stack}/{name}")
}

pub struct EcrRepository;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub immutable_tags: bool,
    pub keep_images: u32,
}

#[derive(Debug, Clone)]
pub struct Observed {
    /// `<account>.dkr.ecr.<region>.amazonaws.com/<stack>/<name>`.
    pub uri: String,
    pub scan_on_push: bool,
    pub immutable_tags: bool,
    /// What the lifecycle policy keeps, when it is the one ekstack writes.
    pub keep_images: Option<u32>,
    /// The lifecycle policy as found, when there is one.
    pub lifecycle: Option<String>,
    pub images: u64,
    /// What the images take, as ECR reports each (compressed layers).
    pub bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    ScanOnPush,
    ImmutableTags,
    KeepImages,
    Tags,
}

/// The lifecycle policy: one rule expiring every image beyond the newest
/// `keep` ("Lifecycle policy properties", `countType` imageCountMoreThan,
/// https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html).
pub fn lifecycle_policy(keep: u32) -> String {
    serde_json::json!({
        "rules": [{
            "rulePriority": 1,
            "description": format!("ekstack: keep the last {keep} images"),
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
            "action": {"type": "expire"}
        }]
    })
    .to_string()
}

/// What a lifecycle policy keeps, if it is exactly the one
/// [`lifecycle_policy`] writes (any other policy reads as `None`, so the
/// plan puts ekstack's back).
fn kept_by(policy: &str) -> Option<u32> {
    let v: serde_json::Value = serde_json::from_str(policy).ok()?;
    let rules = v.get("rules")?.as_array()?;
    let [rule] = rules.as_slice() else { return None };
    let selection = rule.get("selection")?;
    let ours = selection.get("tagStatus")?.as_str()? == "any"
        && selection.get("countType")?.as_str()? == "imageCountMoreThan"
        && rule.get("action")?.get("type")?.as_str()? == "expire";
    if !ours {
        return None;
    }
    u32::try_from(selection.get("countNumber")?.as_u64()?).ok()
}

/// "3 images, 12.4 MB".
fn holding(o: &Observed) -> String {
    format!(
        "{} image{}, {}",
        o.images,
        if o.images == 1 { "" } else { "s" },
        crate::render::bytes(o.bytes)
    )
}

impl ResourceKind for EcrRepository {
    const KIND: Kind = Kind::EcrRepository;
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        let Some(registry) = &stack.registry else { return vec![] };
        registry
            .repositories
            .iter()
            .map(|name| {
                let address = address(name);
                let aws_name = repository_name(&stack.meta.name, name);
                New {
                    tags: tags::of(stack, &address, &aws_name),
                    address,
                    name: aws_name,
                    spec: Spec {
                        immutable_tags: registry.immutable_tags,
                        keep_images: registry.keep_images,
                    },
                    after: vec![],
                }
            })
            .collect()
    }

    fn references(_: &Spec) -> Vec<Address> {
        vec![]
    }

    fn attributes(d: &Desired<'_, Self>, _: &dyn Resolve) -> Vec<Attribute<Self>> {
        vec![
            Attribute::<Self>::new(Attr::ScanOnPush, "registry", true, |l| l.observed.scan_on_push.into())
                .in_place("ecr:PutImageScanningConfiguration"),
            Attribute::<Self>::new(
                Attr::ImmutableTags,
                "registry.immutable_tags",
                d.spec.immutable_tags,
                |l| l.observed.immutable_tags.into(),
            )
            .in_place("ecr:PutImageTagMutability"),
            Attribute::<Self>::new(
                Attr::KeepImages,
                "registry.keep_images",
                Value::from(i64::from(d.spec.keep_images)),
                |l| {
                    l.observed
                        .keep_images
                        .map(|k| Value::from(i64::from(k)))
                        .unwrap_or_else(|| Value::from(l.observed.lifecycle.clone()))
                },
            )
            .in_place("ecr:PutLifecyclePolicy")
            .note(crate::i18n::Msg::new("note.images_expire")),
            tags::attribute(Attr::Tags, d, "ecr:TagResource"),
        ]
    }

    fn notes(_: &Desired<'_, Self>, live: Option<&Found<Self>>, _: &dyn Resolve) -> Vec<String> {
        live.filter(|l| l.observed.images > 0)
            .map(|l| vec![format!("holds {}", holding(&l.observed))])
            .unwrap_or_default()
    }

    fn points_at(_: &Observed) -> Vec<String> {
        vec![]
    }

    fn data_loss(name: &str, live: Option<&Found<Self>>, policy: &Policy) -> Option<crate::i18n::Msg> {
        let live = live.filter(|l| l.observed.images > 0)?;
        policy.delete_images.then(|| {
            crate::i18n::Msg::new("loss.images")
                .arg("images", holding(&live.observed))
                .arg("name", name)
        })
    }

    /// A repository that holds images stays unless `--delete-images`.
    fn kept(live: &Found<Self>, _: &Graph, _: &LiveState, policy: &Policy) -> Option<String> {
        (live.observed.images > 0 && !policy.delete_images).then(|| {
            format!(
                "holds {}: kept; --delete-images deletes them with the repository",
                holding(&live.observed)
            )
        })
    }

    fn live_billables(live: &Found<Self>, _: &LiveState) -> Vec<Billable> {
        vec![Billable::EcrStorage {
            bytes: live.observed.bytes,
        }]
    }

    /// The repositories named `<stack>/…`, from one listing, then each
    /// one's tags, lifecycle policy and images.
    async fn discover(cx: &Discovery<'_>, _: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let found = list(cx.aws, cx.stack).await?;
        Ok(found
            .into_iter()
            .filter_map(|(address, found)| {
                let address = address?;
                Some(Found::<Self> { address, ..found })
            })
            .collect())
    }

    /// Repositories a destroy kept because they held images.
    async fn remains(cx: &Discovery<'_>) -> Result<Vec<Remains>> {
        let found = list(cx.aws, cx.stack).await?;
        Ok(found
            .into_iter()
            .filter(|(_, f)| f.tags.get(TAG_KEPT_FROM).map(String::as_str) == Some(cx.stack))
            .map(|(_, f)| Remains {
                what: format!("ECR repository {} ({})", f.id, holding(&f.observed)),
                billable: Billable::EcrStorage {
                    bytes: f.observed.bytes,
                },
                way_out: format!(
                    "`ekstack destroy --delete-images`, or `aws ecr delete-repository --repository-name {} --force`",
                    f.id
                ),
            })
            .collect())
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, _: &Inputs) -> Result<Found<Self>> {
        let ecr = &step.aws().ecr;
        let created = ecr
            .create_repository()
            .repository_name(d.name)
            .image_scanning_configuration(ImageScanningConfiguration::builder().scan_on_push(true).build())
            .image_tag_mutability(mutability(d.spec.immutable_tags))
            .set_tags(Some(ecr_tags(d.tags)?))
            .send()
            .await
            .aws_on("ecr:CreateRepository", d.name);
        let mut adopted = false;
        match created {
            Ok(_) => {}
            // An interrupted run's, or one a destroy kept for its images:
            // taken back. Anyone else's is not ours.
            Err(e) if has_code(&e, "RepositoryAlreadyExistsException") => {
                let (_, found) = one(step.aws(), &step.ctx.stack, d.name).await?.ok_or(e)?;
                let ours = found.tags.get(TAG_STACK).map(String::as_str) == Some(step.ctx.stack.as_str())
                    || found.tags.get(TAG_KEPT_FROM).map(String::as_str) == Some(step.ctx.stack.as_str());
                if !ours {
                    anyhow::bail!(
                        "ECR repository {} already exists and was not made by ekstack for this stack; rename the repository in [registry] or remove it",
                        d.name
                    );
                }
                let arn = found.arn.clone().unwrap_or_default();
                ecr.untag_resource()
                    .resource_arn(&arn)
                    .tag_keys(TAG_KEPT_FROM)
                    .send()
                    .await
                    .aws_on("ecr:UntagResource", d.name)?;
                ecr.tag_resource()
                    .resource_arn(&arn)
                    .set_tags(Some(ecr_tags(d.tags)?))
                    .send()
                    .await
                    .aws_on("ecr:TagResource", d.name)?;
                ecr.put_image_scanning_configuration()
                    .repository_name(d.name)
                    .image_scanning_configuration(ImageScanningConfiguration::builder().scan_on_push(true).build())
                    .send()
                    .await
                    .aws_on("ecr:PutImageScanningConfiguration", d.name)?;
                ecr.put_image_tag_mutability()
                    .repository_name(d.name)
                    .image_tag_mutability(mutability(d.spec.immutable_tags))
                    .send()
                    .await
                    .aws_on("ecr:PutImageTagMutability", d.name)?;
                adopted = true;
            }
            Err(e) => return Err(e),
        }
        put_lifecycle(step, d.name, d.spec.keep_images).await?;
        let (_, mut found) = one(step.aws(), &step.ctx.stack, d.name)
            .await?
            .ok_or_else(|| anyhow!("ECR repository {} is not listed after CreateRepository", d.name))?;
        found.address = d.address.to_string();
        found.tags = d.tags.clone();
        if adopted {
            found.origin = crate::live::Origin::Adopted;
        }
        Ok(found)
    }

    async fn update(
        step: &Step<'_>,
        d: &Desired<'_, Self>,
        current: &Found<Self>,
        changes: &Changes<Self>,
        _: &Inputs,
    ) -> Result<Found<Self>> {
        let ecr = &step.aws().ecr;
        let mut live = current.clone();
        for change in changes.iter() {
            match change {
                Attr::ScanOnPush => {
                    ecr.put_image_scanning_configuration()
                        .repository_name(&live.id)
                        .image_scanning_configuration(ImageScanningConfiguration::builder().scan_on_push(true).build())
                        .send()
                        .await
                        .aws_on("ecr:PutImageScanningConfiguration", &live.id)?;
                    live.observed.scan_on_push = true;
                }
                Attr::ImmutableTags => {
                    ecr.put_image_tag_mutability()
                        .repository_name(&live.id)
                        .image_tag_mutability(mutability(d.spec.immutable_tags))
                        .send()
                        .await
                        .aws_on("ecr:PutImageTagMutability", &live.id)?;
                    live.observed.immutable_tags = d.spec.immutable_tags;
                }
                Attr::KeepImages => {
                    put_lifecycle(step, &live.id, d.spec.keep_images).await?;
                    live.observed.keep_images = Some(d.spec.keep_images);
                }
                Attr::Tags => {
                    let arn = live.arn.clone().unwrap_or_default();
                    let (stale, set) = tags::changes(&live.tags, d.tags);
                    if !stale.is_empty() {
                        ecr.untag_resource()
                            .resource_arn(&arn)
                            .set_tag_keys(Some(stale))
                            .send()
                            .await
                            .aws_on("ecr:UntagResource", &live.id)?;
                    }
                    if !set.is_empty() {
                        ecr.tag_resource()
                            .resource_arn(&arn)
                            .set_tags(Some(ecr_tags(&set)?))
                            .send()
                            .await
                            .aws_on("ecr:TagResource", &live.id)?;
                    }
                    live.tags = d.tags.clone();
                }
            }
        }
        Ok(live)
    }

    /// Deletes the repository, its images with it under `--delete-images`.
    /// Without it, one that holds images (counted afresh: a push since the
    /// plan counts) is kept: given the kept tag in place of the stack's.
    async fn delete(step: &Step<'_>, live: &Found<Self>) -> Result<()> {
        let ecr = &step.aws().ecr;
        let (images, bytes) = match images(step.aws(), &live.id).await {
            Ok(counted) => counted,
            Err(e) if crate::aws::errors::is_not_found_error(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        if images > 0 && !step.ctx.options.delete_images {
            let arn = live.arn.clone().unwrap_or_default();
            ecr.tag_resource()
                .resource_arn(&arn)
                .tags(Tag::builder().key(TAG_KEPT_FROM).value(&step.ctx.stack).build()?)
                .send()
                .await
                .aws_on("ecr:TagResource", &live.id)?;
            ecr.untag_resource()
                .resource_arn(&arn)
                .tag_keys(TAG_STACK)
                .tag_keys(TAG_ADDRESS)
                .send()
                .await
                .aws_on("ecr:UntagResource", &live.id)?;
            step.ctx.note(super::Note::Info {
                text: format!(
                    "ECR repository {} kept: it holds {images} image(s), {}; `--delete-images` deletes them",
                    live.id,
                    crate::render::bytes(bytes)
                ),
            });
            return Ok(());
        }
        gone_ok(
            ecr.delete_repository()
                .repository_name(&live.id)
                .force(step.ctx.options.delete_images)
                .send()
                .await
                .aws_on("ecr:DeleteRepository", &live.id),
        )
    }
}

/// Deletes the repositories a destroy kept for `stack`, with their images
/// (`destroy --delete-images` run again): their names and bytes.
pub async fn delete_kept(aws: &Aws, stack: &str) -> Result<Vec<(String, u64)>> {
    let mut deleted = Vec::new();
    for (_, f) in list(aws, stack).await? {
        if f.tags.get(TAG_KEPT_FROM).map(String::as_str) != Some(stack) {
            continue;
        }
        gone_ok(
            aws.ecr
                .delete_repository()
                .repository_name(&f.id)
                .force(true)
                .send()
                .await
                .aws_on("ecr:DeleteRepository", &f.id),
        )?;
        deleted.push((f.id.clone(), f.observed.bytes));
    }
    Ok(deleted)
}

fn mutability(immutable: bool) -> ImageTagMutability {
    if immutable {
        ImageTagMutability::Immutable
    } else {
        ImageTagMutability::Mutable
    }
}

fn ecr_tags(tags: &Tags) -> Result<Vec<Tag>> {
    tags.iter()
        .map(|(k, v)| Ok(Tag::builder().key(k).value(v).build()?))
        .collect()
}

async fn put_lifecycle(step: &Step<'_>, name: &str, keep: u32) -> Result<()> {
    step.aws()
        .ecr
        .put_lifecycle_policy()
        .repository_name(name)
        .lifecycle_policy_text(lifecycle_policy(keep))
        .send()
        .await
        .aws_on("ecr:PutLifecyclePolicy", name)?;
    Ok(())
}

/// How many images a repository holds and their total size.
async fn images(aws: &Aws, name: &str) -> Result<(u64, u64)> {
    let (mut count, mut bytes) = (0u64, 0u64);
    let mut pages = aws.ecr.describe_images().repository_name(name).into_paginator().send();
    while let Some(page) = pages.next().await {
        for image in page.aws_on("ecr:DescribeImages", name)?.image_details() {
            count += 1;
            bytes += image.image_size_in_bytes().unwrap_or(0).max(0) as u64;
        }
    }
    Ok((count, bytes))
}

/// Every repository named `<stack>/…` with its tags, lifecycle policy and
/// images, and the address it claims for the stack (`None`: not the
/// stack's, e.g. kept by a destroy, or someone else's).
async fn list(aws: &Aws, stack: &str) -> Result<Vec<(Option<Address>, Found<EcrRepository>)>> {
    read(aws, stack, None).await
}

/// The repository `name` alone (a create reads back only its own).
async fn one(aws: &Aws, stack: &str, name: &str) -> Result<Option<(Option<Address>, Found<EcrRepository>)>> {
    Ok(super::existing(read(aws, stack, Some(name)).await)?.and_then(|mut found| found.pop()))
}

/// [`list`], or with `only` that one repository by name.
async fn read(aws: &Aws, stack: &str, only: Option<&str>) -> Result<Vec<(Option<Address>, Found<EcrRepository>)>> {
    let prefix = format!("{stack}/");
    let mut repositories = Vec::new();
    let mut pages = aws
        .ecr
        .describe_repositories()
        .set_repository_names(only.map(|n| vec![n.to_string()]))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for r in page.aws("ecr:DescribeRepositories")?.repositories() {
            if r.repository_name().is_some_and(|n| n.starts_with(&prefix)) {
                repositories.push(r.clone());
            }
        }
    }
    let lookups = repositories.into_iter().map(|r| async move {
        let name = r.repository_name().unwrap_or_default().to_string();
        let arn = r.repository_arn().unwrap_or_default().to_string();
        let listed = aws
            .ecr
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .aws_on("ecr:ListTagsForResource", &name)?;
        let tags: Tags = listed
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        let lifecycle = super::existing(
            aws.ecr
                .get_lifecycle_policy()
                .repository_name(&name)
                .send()
                .await
                .aws_on("ecr:GetLifecyclePolicy", &name),
        )?
        .and_then(|p| p.lifecycle_policy_text().map(str::to_string));
        let (count, bytes) = images(aws, &name).await?;
        let observed = Observed {
            uri: r.repository_uri().unwrap_or_default().to_string(),
            scan_on_push: r.image_scanning_configuration().is_some_and(|c| c.scan_on_push()),
            immutable_tags: r.image_tag_mutability() == Some(&ImageTagMutability::Immutable),
            keep_images: lifecycle.as_deref().and_then(kept_by),
            lifecycle,
            images: count,
            bytes,
        };
        let claimed = claimed_address(&tags, stack);
        let found = EcrRepository::found(
            claimed.clone().unwrap_or_default(),
            &name,
            "available",
            Readiness::Ready,
            observed,
        )
        .with_arn(Some(arn))
        .with_tags(tags);
        Ok::<_, anyhow::Error>((claimed, found))
    });
    futures_util::future::try_join_all(lookups).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifecycle_policy_keeps_the_newest_images_and_reads_back() {
        let text = lifecycle_policy(30);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["rules"][0]["selection"]["countNumber"], 30);
        assert_eq!(v["rules"][0]["selection"]["countType"], "imageCountMoreThan");
        assert_eq!(v["rules"][0]["selection"]["tagStatus"], "any");
        assert_eq!(v["rules"][0]["action"]["type"], "expire");
        assert_eq!(kept_by(&text), Some(30));
        // Someone else's policy is not read as ekstack's.
        assert_eq!(
            kept_by(
                r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}"#
            ),
            None
        );
    }
}
