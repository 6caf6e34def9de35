//! IAM roles for the cluster, its nodes and Fargate pods, with the AWS managed
//! policies each needs. IAM is global, so role names carry the region.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use aws_sdk_iam::types::Tag;
use serde_json::{json, Value};

use super::{live_user_tags, no_update, tags_attr, Step, TAG_STACK};
use crate::aws::errors::{is_not_found_error, AwsResultExt};
use crate::aws::Aws;
use crate::config::Stack;
use crate::graph::build::role_name;
use crate::graph::{Kind, Resource, Spec};
use crate::live::{Live, Readiness};
use crate::plan::diff::{Attr, Compare};
use crate::plan::ResourceAction;

/// The purposes ekstack makes roles for, with their addresses.
pub const ROLES: [(&str, &str); 3] = [
    ("cluster", "iam-role.cluster"),
    ("node", "iam-role.node"),
    ("fargate", "iam-role.fargate"),
];

pub fn attrs(stack: &Stack, r: &Resource) -> Vec<Attr> {
    let Spec::IamRole { service, policies } = &r.spec else {
        return vec![];
    };
    vec![
        Attr::in_place("service", "eks", service.clone(), "iam:UpdateAssumeRolePolicy"),
        Attr::in_place("policies", "eks", json!(policies), "iam:AttachRolePolicy").compare(Compare::Unordered),
        tags_attr(stack, "iam:TagRole"),
    ]
}

fn trust_policy(service: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]
    })
    .to_string()
}

/// The service a trust policy lets assume the role. AWS returns the document
/// URL-encoded.
fn trusted_service(document: &str) -> Option<String> {
    let decoded = percent_encoding::percent_decode_str(document).decode_utf8().ok()?;
    let v: Value = serde_json::from_str(&decoded).ok()?;
    let principal = v
        .get("Statement")?
        .as_array()?
        .first()?
        .get("Principal")?
        .get("Service")?;
    match principal {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => a.first()?.as_str().map(str::to_string),
        _ => None,
    }
}

async fn attached_policies(aws: &Aws, name: &str) -> Result<Vec<String>> {
    let out = aws
        .iam
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
        .aws("iam:ListAttachedRolePolicies")?;
    let mut arns: Vec<String> = out
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect();
    arns.sort();
    Ok(arns)
}

/// Looks up the stack's roles by their deterministic names.
pub async fn discover(aws: &Aws, stack: &str, region: &str) -> Result<Vec<Live>> {
    let lookups = ROLES.iter().map(|(purpose, _)| async move {
        let name = role_name(stack, region, purpose);
        let role = match aws.iam.get_role().role_name(&name).send().await.aws("iam:GetRole") {
            Ok(out) => out.role,
            Err(e) if is_not_found_error(&e) => None,
            Err(e) => return Err(e),
        };
        let Some(role) = role else { return Ok(None) };
        let tags: BTreeMap<String, String> = role
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        // A role of this name made by someone else is not ours to change.
        if tags.get(TAG_STACK).map(String::as_str) != Some(stack) {
            return Ok(None);
        }
        let Some(address) = tags.get(super::TAG_ADDRESS).cloned() else {
            return Ok(None);
        };
        let policies = attached_policies(aws, &name).await?;
        let service = role
            .assume_role_policy_document()
            .and_then(trusted_service)
            .unwrap_or_default();
        Ok(Some(
            Live::new(Kind::IamRole, address, name, "available", Readiness::Ready)
                .with_arn(Some(role.arn().to_string()))
                .attr("service", service)
                .attr("policies", json!(policies))
                .attr("tags", live_user_tags(&tags))
                .with_tags(tags),
        ))
    });
    let found = futures_util::future::try_join_all(lookups).await?;
    Ok(found.into_iter().flatten().collect())
}

fn iam_tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>> {
    tags.iter()
        .map(|(k, v)| Ok(Tag::builder().key(k).value(v).build()?))
        .collect()
}

pub async fn create(step: &Step<'_>, r: &Resource) -> Result<Live> {
    let Spec::IamRole { service, policies } = &r.spec else {
        bail!("internal error: {} is not a role", r.address)
    };
    let iam = &step.aws().iam;
    let tags = super::tags(&step.ctx.stack, &r.address, &r.name);
    let created = iam
        .create_role()
        .role_name(&r.name)
        .assume_role_policy_document(trust_policy(service))
        .description(format!("ekstack stack {}: {}", step.ctx.stack_name(), r.address))
        .set_tags(Some(iam_tags(&tags)?))
        .send()
        .await
        .aws("iam:CreateRole");
    let arn = match created {
        Ok(out) => out.role().map(|r| r.arn().to_string()),
        // Made by an interrupted run: finish it below.
        Err(e) if crate::aws::errors::has_code(&e, "EntityAlreadyExists") => {
            let out = iam.get_role().role_name(&r.name).send().await.aws("iam:GetRole")?;
            let role = out.role().ok_or_else(|| anyhow::anyhow!("role {} vanished", r.name))?;
            let ours = role
                .tags()
                .iter()
                .any(|t| t.key() == TAG_STACK && t.value() == step.ctx.stack_name());
            if !ours {
                bail!("an IAM role named {} already exists and was not made by ekstack for this stack; rename the stack or remove the role", r.name);
            }
            Some(role.arn().to_string())
        }
        Err(e) => return Err(e),
    };
    for policy in policies {
        iam.attach_role_policy()
            .role_name(&r.name)
            .policy_arn(policy)
            .send()
            .await
            .aws("iam:AttachRolePolicy")?;
    }
    let mut sorted = policies.clone();
    sorted.sort();
    Ok(
        Live::new(Kind::IamRole, &r.address, &r.name, "available", Readiness::Ready)
            .with_arn(arn)
            .attr("service", service.as_str())
            .attr("policies", json!(sorted))
            .attr("tags", live_user_tags(&tags))
            .with_tags(tags),
    )
}

pub async fn update(step: &Step<'_>, r: &Resource, live: &Live, action: &ResourceAction) -> Result<Live> {
    let Spec::IamRole { service, policies } = &r.spec else {
        bail!("internal error: {} is not a role", r.address)
    };
    let iam = &step.aws().iam;
    let mut live = live.clone();
    for change in &action.changes {
        match change.attribute.as_str() {
            "service" => {
                iam.update_assume_role_policy()
                    .role_name(&live.id)
                    .policy_document(trust_policy(service))
                    .send()
                    .await
                    .aws("iam:UpdateAssumeRolePolicy")?;
                live.attrs.insert("service".into(), service.as_str().into());
            }
            "policies" => {
                let have = attached_policies(step.aws(), &live.id).await?;
                for p in policies.iter().filter(|p| !have.contains(p)) {
                    iam.attach_role_policy()
                        .role_name(&live.id)
                        .policy_arn(p)
                        .send()
                        .await
                        .aws("iam:AttachRolePolicy")?;
                }
                for p in have.iter().filter(|p| !policies.contains(p)) {
                    detach(step, &live.id, p).await?;
                }
                live.attrs.insert("policies".into(), json!(policies));
            }
            "tags" => {
                let (stale, set) = super::tag_changes(&live.tags, &step.ctx.stack.meta.tags);
                if !stale.is_empty() {
                    iam.untag_role()
                        .role_name(&live.id)
                        .set_tag_keys(Some(stale))
                        .send()
                        .await
                        .aws("iam:UntagRole")?;
                }
                if !set.is_empty() {
                    iam.tag_role()
                        .role_name(&live.id)
                        .set_tags(Some(iam_tags(&set)?))
                        .send()
                        .await
                        .aws("iam:TagRole")?;
                }
            }
            _ => return Err(no_update(Kind::IamRole, action)),
        }
    }
    Ok(live)
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
    super::gone_ok(detached.aws("iam:DetachRolePolicy"))
}

pub async fn delete(step: &Step<'_>, live: &Live) -> Result<()> {
    let iam = &step.aws().iam;
    let policies = match attached_policies(step.aws(), &live.id).await {
        Ok(p) => p,
        Err(e) if is_not_found_error(&e) => return Ok(()),
        Err(e) => return Err(e),
    };
    for p in policies {
        detach(step, &live.id, &p).await?;
    }
    super::gone_ok(iam.delete_role().role_name(&live.id).send().await.aws("iam:DeleteRole"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_url_encoded_trust_policy() {
        let doc = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22eks.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D";
        assert_eq!(super::trusted_service(doc).as_deref(), Some("eks.amazonaws.com"));
        assert_eq!(
            super::trusted_service(&super::trust_policy("ec2.amazonaws.com")).as_deref(),
            Some("ec2.amazonaws.com")
        );
    }
}
