//! IAM roles for the cluster, its nodes and Fargate pods, with the AWS
//! managed policies each needs. IAM is global, so role names carry the
//! region as well as the stack: `<stack>-<region>-<purpose>`.

use anyhow::{bail, Result};
use aws_sdk_iam::types::Tag;
use serde_json::json;

use super::tags::{self, is_of_stack, TAG_ADDRESS, TAG_STACK};
use super::{gone_ok, Attribute, Changes, Desired, Discovery, Found, Inputs, New, Ref};
use super::{Kind, ResourceKind, Step};
use crate::aws::errors::{has_code, is_not_found_error, AwsResultExt};
use crate::aws::Aws;
use crate::config::Stack;
use crate::graph::Address;
use crate::live::{Live, Readiness, Tags};
use crate::plan::Value;

/// AWS managed policies attached to the roles ekstack creates.
pub const CLUSTER_POLICIES: &[&str] = &["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"];
pub const NODE_POLICIES: &[&str] = &[
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
];
pub const FARGATE_POLICIES: &[&str] = &["arn:aws:iam::aws:policy/AmazonEKSFargatePodExecutionRolePolicy"];

pub fn cluster() -> Ref<IamRole> {
    Ref::new("iam-role.cluster")
}

pub fn node() -> Ref<IamRole> {
    Ref::new("iam-role.node")
}

pub fn fargate() -> Ref<IamRole> {
    Ref::new("iam-role.fargate")
}

/// The role a managed add-on's pods get through EKS Pod Identity.
pub fn addon(name: &str) -> Ref<IamRole> {
    Ref::new(format!("iam-role.addon.{name}"))
}

/// The service EKS Pod Identity assumes roles as; it tags the session, so
/// its trust allows sts:TagSession too ("Create IAM role with trust policy
/// required by EKS Pod Identity",
/// https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html).
pub const POD_IDENTITY_SERVICE: &str = "pods.eks.amazonaws.com";

/// IAM is global, so role names carry the region as well as the stack.
pub fn role_name(stack: &str, region: &str, purpose: &str) -> String {
    format!("{stack}-{region}-{purpose}")
}

pub struct IamRole;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The service that assumes the role, e.g. `eks.amazonaws.com`.
    pub service: String,
    /// Only on behalf of resources matching this ARN (`aws:SourceArn`), so
    /// another account's cluster cannot have the service assume the role
    /// (the confused-deputy guard). `None` when the account is not known
    /// (`validate`).
    pub source_arn: Option<String>,
    /// ARNs of the AWS managed policies attached.
    pub policies: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Observed {
    pub service: String,
    pub source_arn: Option<String>,
    /// Sorted.
    pub policies: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    Service,
    SourceArn,
    Policies,
    Tags,
}

impl ResourceKind for IamRole {
    const KIND: Kind = Kind::IamRole;
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        let Some(eks) = &stack.eks else { return vec![] };
        let mut roles = vec![(cluster(), "cluster", "eks.amazonaws.com", CLUSTER_POLICIES, None)];
        if !eks.nodegroups.is_empty() {
            roles.push((node(), "node", "ec2.amazonaws.com", NODE_POLICIES, None));
        }
        if !eks.fargate.is_empty() {
            // "Amazon EKS Pod execution IAM role": the trust policy names the
            // cluster's Fargate profiles as the only source.
            // https://docs.aws.amazon.com/eks/latest/userguide/pod-execution-role.html
            let source = stack.meta.account.as_ref().map(|account| {
                format!(
                    "arn:{}:eks:{}:{account}:fargateprofile/{}/*",
                    partition(&stack.meta.region),
                    stack.meta.region,
                    stack.meta.name
                )
            });
            roles.push((
                fargate(),
                "fargate",
                "eks-fargate-pods.amazonaws.com",
                FARGATE_POLICIES,
                source,
            ));
        }
        for name in eks.addons.keys() {
            if let Some(p) = crate::config::addons::known(name).and_then(|k| k.permissions) {
                roles.push((addon(name), p.purpose, POD_IDENTITY_SERVICE, p.policies, None));
            }
        }
        roles
            .into_iter()
            .map(|(r, purpose, service, policies, source_arn)| {
                let name = role_name(&stack.meta.name, &stack.meta.region, purpose);
                New {
                    tags: tags::of(stack, &r.address, &name),
                    address: r.address,
                    name,
                    spec: Spec {
                        service: service.into(),
                        source_arn,
                        policies: policies.iter().map(|p| p.to_string()).collect(),
                    },
                    after: vec![],
                }
            })
            .collect()
    }

    fn references(_: &Spec) -> Vec<Address> {
        vec![]
    }

    fn attributes(d: &Desired<'_, Self>, _: &dyn super::Resolve) -> Vec<Attribute<Self>> {
        let mut rows = vec![
            Attribute::<Self>::new(Attr::Service, "eks", d.spec.service.clone(), |l| {
                l.observed.service.clone().into()
            })
            .in_place("iam:UpdateAssumeRolePolicy"),
            Attribute::<Self>::new(Attr::Policies, "eks", &d.spec.policies, |l| {
                Value::from(&l.observed.policies)
            })
            .in_place("iam:AttachRolePolicy")
            .unordered(),
            tags::attribute(Attr::Tags, d, "iam:TagRole"),
        ];
        // Only roles whose trust names a source compare one.
        if let Some(source) = &d.spec.source_arn {
            rows.push(
                Attribute::<Self>::new(Attr::SourceArn, "eks", source.clone(), |l| {
                    l.observed.source_arn.clone().into()
                })
                .in_place("iam:UpdateAssumeRolePolicy"),
            );
        }
        rows
    }

    fn points_at(_: &Observed) -> Vec<String> {
        vec![]
    }

    /// Every role named for the stack in this region, in one listing (IAM
    /// has no tag filter), then each one's tags and policies.
    async fn discover(cx: &Discovery<'_>, _: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let prefix = role_name(cx.stack, cx.region, "");
        let mut names = Vec::new();
        let mut pages = cx.aws.iam.list_roles().into_paginator().send();
        while let Some(page) = pages.next().await {
            for role in page.aws("iam:ListRoles")?.roles() {
                if role.role_name().starts_with(&prefix) {
                    names.push(role.role_name().to_string());
                }
            }
        }
        let lookups = names.iter().map(|name| describe(cx.aws, cx.stack, name));
        let found = futures_util::future::try_join_all(lookups).await?;
        Ok(found.into_iter().flatten().collect())
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, _: &Inputs) -> Result<Found<Self>> {
        let iam = &step.aws().iam;
        let created = iam
            .create_role()
            .role_name(d.name)
            .assume_role_policy_document(trust_policy(d.spec))
            .description(format!("ekstack stack {}: {}", step.ctx.stack, d.address))
            .set_tags(Some(iam_tags(d.tags)?))
            .send()
            .await
            .aws_on("iam:CreateRole", d.name);
        let arn = match created {
            Ok(out) => out.role().map(|r| r.arn().to_string()),
            // Made by an interrupted run: finish it below.
            Err(e) if has_code(&e, "EntityAlreadyExists") => {
                let out = iam
                    .get_role()
                    .role_name(d.name)
                    .send()
                    .await
                    .aws_on("iam:GetRole", d.name)?;
                let role = out.role().ok_or_else(|| anyhow::anyhow!("role {} vanished", d.name))?;
                let ours = role
                    .tags()
                    .iter()
                    .any(|t| t.key() == TAG_STACK && t.value() == step.ctx.stack);
                if !ours {
                    bail!("an IAM role named {} already exists and was not made by ekstack for this stack; rename the stack or remove the role", d.name);
                }
                Some(role.arn().to_string())
            }
            Err(e) => return Err(e),
        };
        for policy in &d.spec.policies {
            iam.attach_role_policy()
                .role_name(d.name)
                .policy_arn(policy)
                .send()
                .await
                .aws_on("iam:AttachRolePolicy", d.name)?;
        }
        let mut policies = d.spec.policies.clone();
        policies.sort();
        let observed = Observed {
            service: d.spec.service.clone(),
            source_arn: d.spec.source_arn.clone(),
            policies,
        };
        Ok(Self::found(d.address, d.name, "available", Readiness::Ready, observed)
            .with_arn(arn)
            .with_tags(d.tags.clone()))
    }

    async fn update(
        step: &Step<'_>,
        d: &Desired<'_, Self>,
        current: &Found<Self>,
        changes: &Changes<Self>,
        _: &Inputs,
    ) -> Result<Found<Self>> {
        let iam = &step.aws().iam;
        let mut live = current.clone();
        for change in changes.iter() {
            match change {
                // One document holds both: it is written once for either.
                Attr::Service | Attr::SourceArn => {
                    if live.observed.service == d.spec.service && live.observed.source_arn == d.spec.source_arn {
                        continue;
                    }
                    iam.update_assume_role_policy()
                        .role_name(&live.id)
                        .policy_document(trust_policy(d.spec))
                        .send()
                        .await
                        .aws_on("iam:UpdateAssumeRolePolicy", &live.id)?;
                    live.observed.service = d.spec.service.clone();
                    live.observed.source_arn = d.spec.source_arn.clone();
                }
                Attr::Policies => {
                    let have = attached_policies(step.aws(), &live.id).await?;
                    for p in d.spec.policies.iter().filter(|p| !have.contains(p)) {
                        iam.attach_role_policy()
                            .role_name(&live.id)
                            .policy_arn(p)
                            .send()
                            .await
                            .aws_on("iam:AttachRolePolicy", &live.id)?;
                    }
                    for p in have.iter().filter(|p| !d.spec.policies.contains(p)) {
                        detach(step, &live.id, p).await?;
                    }
                    live.observed.policies = d.spec.policies.clone();
                    live.observed.policies.sort();
                }
                Attr::Tags => {
                    let (stale, set) = tags::changes(&live.tags, d.tags);
                    if !stale.is_empty() {
                        iam.untag_role()
                            .role_name(&live.id)
                            .set_tag_keys(Some(stale))
                            .send()
                            .await
                            .aws_on("iam:UntagRole", &live.id)?;
                    }
                    if !set.is_empty() {
                        iam.tag_role()
                            .role_name(&live.id)
                            .set_tags(Some(iam_tags(&set)?))
                            .send()
                            .await
                            .aws_on("iam:TagRole", &live.id)?;
                    }
                    live.tags = d.tags.clone();
                }
            }
        }
        Ok(live)
    }

    async fn delete(step: &Step<'_>, live: &Found<Self>) -> Result<()> {
        let iam = &step.aws().iam;
        let policies = match attached_policies(step.aws(), &live.id).await {
            Ok(p) => p,
            Err(e) if is_not_found_error(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        for p in policies {
            detach(step, &live.id, &p).await?;
        }
        gone_ok(
            iam.delete_role()
                .role_name(&live.id)
                .send()
                .await
                .aws_on("iam:DeleteRole", &live.id),
        )
    }
}

/// One role by name, if it is the stack's (a role of this name made by
/// someone else is not ours to change).
async fn describe(aws: &Aws, stack: &str, name: &str) -> Result<Option<Found<IamRole>>> {
    let role = match aws
        .iam
        .get_role()
        .role_name(name)
        .send()
        .await
        .aws_on("iam:GetRole", name)
    {
        Ok(out) => out.role,
        Err(e) if is_not_found_error(&e) => None,
        Err(e) => return Err(e),
    };
    let Some(role) = role else { return Ok(None) };
    let tags: Tags = role
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    if !is_of_stack(&tags, stack) {
        return Ok(None);
    }
    let Some(address) = tags.get(TAG_ADDRESS).cloned() else {
        return Ok(None);
    };
    let trust = role.assume_role_policy_document().and_then(read_trust);
    let observed = Observed {
        service: trust.as_ref().map(|t| t.0.clone()).unwrap_or_default(),
        source_arn: trust.and_then(|t| t.1),
        policies: attached_policies(aws, name).await?,
    };
    Ok(Some(
        IamRole::found(address, name, "available", Readiness::Ready, observed)
            .with_arn(Some(role.arn()))
            .with_tags(tags),
    ))
}

fn trust_policy(spec: &Spec) -> String {
    let action = if spec.service == POD_IDENTITY_SERVICE {
        json!(["sts:AssumeRole", "sts:TagSession"])
    } else {
        json!("sts:AssumeRole")
    };
    let mut statement = json!({
        "Effect": "Allow",
        "Principal": {"Service": spec.service},
        "Action": action
    });
    if let Some(source) = &spec.source_arn {
        statement["Condition"] = json!({"ArnLike": {"aws:SourceArn": source}});
    }
    json!({"Version": "2012-10-17", "Statement": [statement]}).to_string()
}

/// The partition of a region's ARNs.
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The service a trust policy lets assume the role, and the source ARN it
/// is limited to. AWS returns the document URL-encoded.
fn read_trust(document: &str) -> Option<(String, Option<String>)> {
    let decoded = percent_encoding::percent_decode_str(document).decode_utf8().ok()?;
    let v: serde_json::Value = serde_json::from_str(&decoded).ok()?;
    let statement = v.get("Statement")?.as_array()?.first()?;
    let service = match statement.get("Principal")?.get("Service")? {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) => a.first()?.as_str()?.to_string(),
        _ => return None,
    };
    let condition = statement.get("Condition");
    let source = ["ArnLike", "ArnEquals", "StringLike", "StringEquals"]
        .iter()
        .find_map(|op| condition?.get(op)?.get("aws:SourceArn")?.as_str())
        .map(str::to_string);
    Some((service, source))
}

async fn attached_policies(aws: &Aws, name: &str) -> Result<Vec<String>> {
    let out = aws
        .iam
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
        .aws_on("iam:ListAttachedRolePolicies", name)?;
    let mut arns: Vec<String> = out
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect();
    arns.sort();
    Ok(arns)
}

fn iam_tags(tags: &Tags) -> Result<Vec<Tag>> {
    tags.iter()
        .map(|(k, v)| Ok(Tag::builder().key(k).value(v).build()?))
        .collect()
}

/// Detaches a policy; one already detached (a retry after a lost answer) is fine.
async fn detach(step: &Step<'_>, role: &str, policy: &str) -> Result<()> {
    let detached = step
        .aws()
        .iam
        .detach_role_policy()
        .role_name(role)
        .policy_arn(policy)
        .send()
        .await;
    gone_ok(detached.aws_on("iam:DetachRolePolicy", role))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_url_encoded_trust_policy() {
        let doc = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22eks.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D";
        assert_eq!(read_trust(doc), Some(("eks.amazonaws.com".into(), None)));
    }

    #[test]
    fn the_fargate_trust_is_limited_to_the_clusters_profiles() {
        let spec = Spec {
            service: "eks-fargate-pods.amazonaws.com".into(),
            source_arn: Some("arn:aws:eks:us-east-1:111122223333:fargateprofile/shop/*".into()),
            policies: vec![],
        };
        let doc = trust_policy(&spec);
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(
            v["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"],
            "arn:aws:eks:us-east-1:111122223333:fargateprofile/shop/*"
        );
        assert_eq!(read_trust(&doc), Some((spec.service.clone(), spec.source_arn.clone())));
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("eu-west-1"), "aws");
    }
}
