//! Access entries: who besides the cluster's creator may use it, each an
//! IAM role or user with one EKS access policy, cluster-wide or for some
//! namespaces ("Grant IAM users access to Kubernetes with EKS access
//! entries", https://docs.aws.amazon.com/eks/latest/userguide/access-entries.html).
//!
//! EKS makes some entries itself in the API modes: the creator's, and one
//! for each node group's and Fargate profile's role. Those are never made a
//! second time and never deleted: an entry the file names that EKS already
//! made is adopted (tagged, with `ekstack:adopted`), and given back rather
//! than deleted when the file no longer names it.

use anyhow::{anyhow, Result};
use aws_sdk_eks::types::{AccessEntry as SdkAccessEntry, AccessScope, AccessScopeType};

use super::eks::{request_token, tag_map};
use super::eks_cluster::EksCluster;
use super::tags::{self, is_of_stack, TAG_ADDRESS};
use super::{gone_ok, Attribute, Changes, Desired, Discovery, Found, Inputs, New};
use super::{Kind, Ref, Resolve, ResourceKind, Step};
use crate::aws::errors::{has_code, AwsResultExt};
use crate::aws::Aws;
use crate::config::{AccessPolicy, Stack};
use crate::graph::{Address, Graph};
use crate::live::{Live, Readiness, Tags};
use crate::plan::Value;

pub fn address(key: &str) -> Address {
    format!("eks-access.{key}")
}

/// Marks an entry EKS made that the stack adopted.
pub const TAG_ADOPTED: &str = "ekstack:adopted";

pub struct EksAccessEntry;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub cluster: Ref<EksCluster>,
    pub principal: String,
    pub policy: AccessPolicy,
    /// Empty: the whole cluster.
    pub namespaces: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Observed {
    pub cluster: String,
    pub principal: String,
    /// Each associated policy with its scope, as [`grant`] writes it.
    pub policies: Vec<String>,
    /// Made by EKS, adopted by the stack.
    pub adopted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    Principal,
    Policy,
    Tags,
}

/// A policy with its scope as the plan shows it: `view`, or
/// `edit in app, jobs`. A policy ekstack does not name shows by its ARN's
/// last part.
fn grant(policy_arn: &str, namespaces: &[String]) -> String {
    let name = AccessPolicy::from_arn(policy_arn)
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| policy_arn.rsplit('/').next().unwrap_or(policy_arn).to_string());
    if namespaces.is_empty() {
        name
    } else {
        let mut ns = namespaces.to_vec();
        ns.sort();
        format!("{name} in {}", ns.join(", "))
    }
}

/// The role of the stack's own node group or Fargate profile: EKS makes
/// and removes those entries. (The stack's other roles, such as CI's
/// deploy role, have entries the stack makes.)
fn made_by_eks(principal: &str, stack: &str, region: &str) -> bool {
    let eks_made = ["node", "fargate"].map(|purpose| super::iam_role::role_name(stack, region, purpose));
    principal
        .rsplit_once(":role/")
        .is_some_and(|(_, name)| name.rsplit('/').next().is_some_and(|n| eks_made.iter().any(|m| m == n)))
}

/// The key of CI's deploy role's entry, which `[eks.access]` may not use.
pub const CI_DEPLOY: &str = "ci-deploy";

/// The access entry of CI's deploy role: EKS `edit` in the namespaces of
/// `[ci.github]`, made once the role exists (EKS checks the principal).
fn ci_deploy(stack: &Stack) -> Option<New<EksAccessEntry>> {
    let ci = stack.ci.as_ref().filter(|c| !c.namespaces.is_empty())?;
    stack.eks.as_ref()?;
    let key = CI_DEPLOY;
    let address = address(key);
    let role = super::iam_role::role_name(&stack.meta.name, &stack.meta.region, "ci-deploy");
    let account = stack.meta.account.as_deref().unwrap_or("<account>");
    Some(New {
        tags: tags::of(stack, &address, key),
        address,
        name: key.into(),
        spec: Spec {
            cluster: super::eks_cluster::reference(),
            principal: format!(
                "arn:{}:iam::{account}:role/{role}",
                super::iam_role::partition(&stack.meta.region)
            ),
            policy: AccessPolicy::Edit,
            namespaces: ci.namespaces.clone(),
        },
        after: vec![super::iam_role::ci_deploy().address],
    })
}

impl ResourceKind for EksAccessEntry {
    const KIND: Kind = Kind::EksAccessEntry;
    const PARENT: Option<Kind> = Some(Kind::EksCluster);
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        let Some(eks) = stack.running_cluster() else {
            return vec![];
        };
        let entries: Vec<New<Self>> = eks
            .access
            .iter()
            .map(|(key, a)| {
                let address = address(key);
                New {
                    tags: tags::of(stack, &address, key),
                    address,
                    name: key.clone(),
                    spec: Spec {
                        cluster: super::eks_cluster::reference(),
                        principal: a.principal.clone(),
                        policy: a.policy,
                        namespaces: a.namespaces.clone(),
                    },
                    after: vec![],
                }
            })
            .collect();
        entries.into_iter().chain(ci_deploy(stack)).collect()
    }

    fn purpose(d: &Desired<'_, Self>) -> crate::i18n::Msg {
        crate::i18n::Msg::new("purpose.eks_access_entry").arg("principal", &d.spec.principal)
    }

    fn references(spec: &Spec) -> Vec<Address> {
        vec![spec.cluster.address.clone()]
    }

    fn attributes(d: &Desired<'_, Self>, _: &dyn Resolve) -> Vec<Attribute<Self>> {
        let s = d.spec;
        // CI's entry comes from `[ci.github]`, the others from `[eks.access]`.
        let base = if d.address == address(CI_DEPLOY) {
            "ci.github".to_string()
        } else {
            format!("eks.access.{}", d.name)
        };
        vec![
            Attribute::<Self>::new(Attr::Principal, format!("{base}.principal"), s.principal.clone(), |l| {
                l.observed.principal.clone().into()
            })
            .replace("an access entry is its principal's; the old one is deleted and a new one made"),
            Attribute::<Self>::new(
                Attr::Policy,
                format!("{base}.policy"),
                vec![grant(s.policy.arn(), &s.namespaces)],
                |l| Value::from(&l.observed.policies),
            )
            .in_place("eks:AssociateAccessPolicy")
            .note(crate::i18n::Msg::new("note.within_seconds"))
            .unordered(),
            tags::attribute(Attr::Tags, d, "eks:TagResource"),
        ]
    }

    fn points_at(o: &Observed) -> Vec<String> {
        vec![o.cluster.clone()]
    }

    fn deletion_reason(live: &Found<Self>, _: &Graph, _: &super::Policy) -> Option<String> {
        live.observed.adopted.then(|| {
            "not in the stack file; EKS made this entry, so it is given back as it is (untagged), never deleted".into()
        })
    }

    /// One listing, then a describe of each entry that is not a node or
    /// Fargate role's (EKS makes and removes those), and the policies of
    /// the stack's own.
    async fn discover(cx: &Discovery<'_>, parent: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let Some(cluster) = parent else { return Ok(vec![]) };
        // A CONFIG_MAP cluster has no access entries to list (EKS refuses).
        let mode = cluster
            .observed::<EksCluster>()
            .and_then(|c| c.authentication_mode.clone());
        if mode.as_deref() == Some("CONFIG_MAP") {
            return Ok(vec![]);
        }
        let mut principals = Vec::new();
        let mut pages = cx
            .aws
            .eks
            .list_access_entries()
            .cluster_name(&cluster.id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            principals.extend(
                page.aws_on("eks:ListAccessEntries", &cluster.id)?
                    .access_entries()
                    .iter()
                    .filter(|p| !made_by_eks(p, cx.stack, cx.region))
                    .cloned(),
            );
        }
        let looked_up = principals.iter().map(|p| async move {
            let Some(entry) = describe(cx.aws, &cluster.id, p).await? else {
                return Ok::<_, anyhow::Error>(None);
            };
            let tags = tag_map(entry.tags());
            if !is_of_stack(&tags, cx.stack) {
                return Ok(None);
            }
            let policies = associated(cx.aws, &cluster.id, p).await?;
            Ok(to_found(&entry, tags, policies))
        });
        let found = futures_util::future::try_join_all(looked_up).await?;
        Ok(found.into_iter().flatten().collect())
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, inputs: &Inputs) -> Result<Found<Self>> {
        let s = d.spec;
        let cluster = inputs.id(&s.cluster)?;
        let aws = step.aws();
        let created = aws
            .eks
            .create_access_entry()
            .cluster_name(&cluster)
            .principal_arn(&s.principal)
            .set_tags(Some(d.tags.clone().into_iter().collect()))
            .client_request_token(request_token(&[&cluster, &s.principal]))
            .send()
            .await
            .aws_on("eks:CreateAccessEntry", &s.principal);
        let (entry, adopted) = match created {
            Ok(out) => (
                out.access_entry
                    .ok_or_else(|| anyhow!("CreateAccessEntry returned no entry"))?,
                false,
            ),
            // One entry per principal: EKS's own (the creator's), or an
            // interrupted run's.
            Err(e) if has_code(&e, "ResourceInUseException") => {
                let existing = describe(aws, &cluster, &s.principal).await?.ok_or(e)?;
                let tags = tag_map(existing.tags());
                let eks_made = !is_of_stack(&tags, &step.ctx.stack);
                if eks_made {
                    let mut marked = d.tags.clone();
                    marked.insert(TAG_ADOPTED.into(), "true".into());
                    tag(step, existing.access_entry_arn(), &marked).await?;
                }
                (existing, eks_made)
            }
            Err(e) => return Err(e),
        };
        let policies = if adopted {
            associated(aws, &cluster, &s.principal).await?
        } else {
            vec![]
        };
        let mut tags = d.tags.clone();
        if adopted {
            tags.insert(TAG_ADOPTED.into(), "true".into());
        }
        let live = to_found(&entry, tags, policies).ok_or_else(|| anyhow!("access entry without a principal"))?;
        // The entry grants nothing until its policy is associated.
        if live.observed.policies != [grant(s.policy.arn(), &s.namespaces)] {
            return Self::update(step, d, &live, &Changes::of(vec![Attr::Policy]), inputs).await;
        }
        Ok(live)
    }

    async fn update(
        step: &Step<'_>,
        d: &Desired<'_, Self>,
        current: &Found<Self>,
        changes: &Changes<Self>,
        _: &Inputs,
    ) -> Result<Found<Self>> {
        let s = d.spec;
        let mut live = current.clone();
        let cluster = live.observed.cluster.clone();
        let eks = &step.aws().eks;
        if changes.has(Attr::Policy) {
            let scope = if s.namespaces.is_empty() {
                AccessScope::builder().r#type(AccessScopeType::Cluster).build()
            } else {
                AccessScope::builder()
                    .r#type(AccessScopeType::Namespace)
                    .set_namespaces(Some(s.namespaces.clone()))
                    .build()
            };
            eks.associate_access_policy()
                .cluster_name(&cluster)
                .principal_arn(&live.id)
                .policy_arn(s.policy.arn())
                .access_scope(scope)
                .send()
                .await
                .aws_on("eks:AssociateAccessPolicy", &live.id)?;
            // One policy per entry, as the file says: any other goes.
            let out = eks
                .list_associated_access_policies()
                .cluster_name(&cluster)
                .principal_arn(&live.id)
                .send()
                .await
                .aws_on("eks:ListAssociatedAccessPolicies", &live.id)?;
            for other in out
                .associated_access_policies()
                .iter()
                .filter_map(|p| p.policy_arn())
                .filter(|arn| *arn != s.policy.arn())
            {
                gone_ok(
                    eks.disassociate_access_policy()
                        .cluster_name(&cluster)
                        .principal_arn(&live.id)
                        .policy_arn(other)
                        .send()
                        .await
                        .aws_on("eks:DisassociateAccessPolicy", &live.id),
                )?;
            }
            live.observed.policies = vec![grant(s.policy.arn(), &s.namespaces)];
        }
        if changes.has(Attr::Tags) {
            let mut want = d.tags.clone();
            if live.observed.adopted {
                want.insert(TAG_ADOPTED.into(), "true".into());
            }
            super::eks::sync_tags(step, live.arn.as_deref(), &live.tags, &want).await?;
            live.tags = want;
        }
        if changes.has(Attr::Principal) {
            anyhow::bail!("internal error: a changed principal replaces the access entry");
        }
        Ok(live)
    }

    async fn delete(step: &Step<'_>, live: &Found<Self>) -> Result<()> {
        let eks = &step.aws().eks;
        if live.observed.adopted {
            // EKS's entry: only what the stack added goes.
            let keys: Vec<String> = live.tags.keys().cloned().collect();
            if let (Some(arn), false) = (live.arn.as_deref(), keys.is_empty()) {
                gone_ok(
                    eks.untag_resource()
                        .resource_arn(arn)
                        .set_tag_keys(Some(keys))
                        .send()
                        .await
                        .aws_on("eks:UntagResource", arn),
                )?;
            }
            return Ok(());
        }
        gone_ok(
            eks.delete_access_entry()
                .cluster_name(&live.observed.cluster)
                .principal_arn(&live.id)
                .send()
                .await
                .aws_on("eks:DeleteAccessEntry", &live.id),
        )
    }
}

async fn tag(step: &Step<'_>, arn: Option<&str>, tags: &Tags) -> Result<()> {
    let arn = arn.ok_or_else(|| anyhow!("the access entry has no ARN to tag"))?;
    step.aws()
        .eks
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(tags.clone().into_iter().collect()))
        .send()
        .await
        .aws_on("eks:TagResource", arn)?;
    Ok(())
}

fn to_found(e: &SdkAccessEntry, tags: Tags, policies: Vec<String>) -> Option<Found<EksAccessEntry>> {
    let principal = e.principal_arn()?;
    let key = tags.get(TAG_ADDRESS).cloned().unwrap_or_else(|| address(principal));
    let observed = Observed {
        cluster: e.cluster_name().unwrap_or_default().to_string(),
        principal: principal.to_string(),
        policies,
        adopted: tags.contains_key(TAG_ADOPTED),
    };
    Some(
        EksAccessEntry::found(key, principal, "ACTIVE", Readiness::Ready, observed)
            .with_arn(e.access_entry_arn())
            .with_tags(tags),
    )
}

async fn describe(aws: &Aws, cluster: &str, principal: &str) -> Result<Option<SdkAccessEntry>> {
    let out = super::existing(
        aws.eks
            .describe_access_entry()
            .cluster_name(cluster)
            .principal_arn(principal)
            .send()
            .await
            .aws_on("eks:DescribeAccessEntry", principal),
    )?;
    Ok(out.and_then(|o| o.access_entry))
}

/// The entry's policies with their scopes, as [`grant`] writes them.
async fn associated(aws: &Aws, cluster: &str, principal: &str) -> Result<Vec<String>> {
    let mut grants = Vec::new();
    let mut pages = aws
        .eks
        .list_associated_access_policies()
        .cluster_name(cluster)
        .principal_arn(principal)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for p in page
            .aws_on("eks:ListAssociatedAccessPolicies", principal)?
            .associated_access_policies()
        {
            let namespaces = p.access_scope().map(|s| s.namespaces().to_vec()).unwrap_or_default();
            grants.push(grant(p.policy_arn().unwrap_or_default(), &namespaces));
        }
    }
    grants.sort();
    Ok(grants)
}

/// The principal an access entry names for a caller: the role of an
/// assumed-role session, or the IAM user (moto answers users as
/// `arn:aws:sts::…:user/…`).
pub fn principal_of(caller: &str) -> String {
    if let Some(role) = crate::config::resolve::assumed_role(caller) {
        return role;
    }
    match caller.split_once(":sts::") {
        Some((partition, rest)) if rest.contains(":user/") => format!("{partition}:iam::{rest}"),
        _ => caller.to_string(),
    }
}

/// Whether `principal` (an IAM role or user ARN) has an entry on the
/// cluster; `None` when the cluster takes only the aws-auth ConfigMap.
pub async fn has_entry(aws: &Aws, cluster: &str, principal: &str) -> Result<Option<bool>> {
    let mut pages = aws
        .eks
        .list_access_entries()
        .cluster_name(cluster)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page.aws_on("eks:ListAccessEntries", cluster) {
            Ok(out) if out.access_entries().iter().any(|p| p == principal) => return Ok(Some(true)),
            Ok(_) => {}
            Err(e) if has_code(&e, "InvalidRequestException") => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    Ok(Some(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_read_as_the_file_writes_them() {
        assert_eq!(grant(AccessPolicy::View.arn(), &[]), "view");
        assert_eq!(
            grant(AccessPolicy::Edit.arn(), &["jobs".into(), "app".into()]),
            "edit in app, jobs"
        );
        assert_eq!(
            grant("arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy", &[]),
            "AmazonEKSAdminViewPolicy"
        );
        assert!(made_by_eks(
            "arn:aws:iam::111122223333:role/shop-us-east-1-node",
            "shop",
            "us-east-1"
        ));
        assert!(!made_by_eks(
            "arn:aws:iam::111122223333:role/developer",
            "shop",
            "us-east-1"
        ));
    }
}
