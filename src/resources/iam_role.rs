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
use crate::config::Mechanism;
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
/// What EKS Auto Mode adds to the cluster role: it starts instances, makes
/// volumes and load balancers, and manages their network interfaces
/// ("Amazon EKS Auto Mode cluster IAM role",
/// https://docs.aws.amazon.com/eks/latest/userguide/auto-cluster-iam-role.html).
pub const AUTO_CLUSTER_POLICIES: &[&str] = &[
    "arn:aws:iam::aws:policy/AmazonEKSBlockStoragePolicy",
    "arn:aws:iam::aws:policy/AmazonEKSComputePolicy",
    "arn:aws:iam::aws:policy/AmazonEKSLoadBalancingPolicy",
    "arn:aws:iam::aws:policy/AmazonEKSNetworkingPolicy",
];
/// An Auto Mode node's role is minimal: Auto Mode runs the CNI with the
/// cluster role ("Amazon EKS Auto Mode node IAM role",
/// https://docs.aws.amazon.com/eks/latest/userguide/auto-create-node-role.html).
pub const AUTO_NODE_POLICIES: &[&str] = &[
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodeMinimalPolicy",
];

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

/// The role RDS Proxy signs in to the database with: it may read exactly
/// the database's managed master secret ("Setting up IAM policies for RDS
/// Proxy", https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-iam-setup.html).
pub fn rds_proxy() -> Ref<IamRole> {
    Ref::new("iam-role.rds-proxy")
}

/// The role `ekstack plan` runs as in CI (`[ci.github]`).
pub fn ci_plan() -> Ref<IamRole> {
    Ref::new("iam-role.ci-plan")
}

/// The role CI deploys the app as: ECR push, EKS `edit` in its namespaces.
pub fn ci_deploy() -> Ref<IamRole> {
    Ref::new("iam-role.ci-deploy")
}

/// The role `ekstack apply` runs as in CI (`infra_apply = true`).
pub fn ci_apply() -> Ref<IamRole> {
    Ref::new("iam-role.ci-apply")
}

/// The role of a pod identity.
pub fn pod(name: &str) -> Ref<IamRole> {
    Ref::new(format!("iam-role.pod.{name}"))
}

/// The inline policy ekstack writes on a role.
const INLINE: &str = "ekstack";

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
    /// Trusted through the cluster's OIDC provider for one service account
    /// (IRSA) instead of a service.
    pub federated: Option<Federated>,
    /// What the role's own inline policy allows.
    pub inline: Option<Inline>,
    /// The trust lets the service tag its session too (sts:TagSession), as
    /// EKS Pod Identity and an Auto Mode cluster's role need.
    pub tag_session: bool,
}

/// IRSA: the cluster's OIDC provider may have the role assumed for exactly
/// this service account ("Assign IAM roles to Kubernetes service
/// accounts", https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html).
///
/// CI: GitHub's OIDC provider may have the role assumed by the workflows
/// of one repository's allowed refs ("Configuring OpenID Connect in Amazon
/// Web Services", GitHub docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Federated {
    /// `iam-oidc.cluster` or `iam-oidc.github`.
    pub provider: Address,
    /// The `sub` claims trusted: `system:serviceaccount:<namespace>:<name>`,
    /// or `repo:<owner>/<name>:ref:refs/heads/main`; one ending in `*` is
    /// a prefix (the trust then uses StringLike).
    pub subjects: Vec<String>,
}

/// An inline policy: the file's statements, and reading the database's
/// managed master secret.
#[derive(Debug, Clone, PartialEq)]
pub struct Inline {
    pub statements: Vec<crate::config::Statement>,
    /// The database whose secret may be read (`db-instance` or `db-cluster`).
    pub database: Option<Address>,
    /// What the AWS Load Balancer Controller needs.
    pub load_balancer_controller: bool,
    /// Statements written as IAM JSON already (the CI roles').
    pub granted: Vec<serde_json::Value>,
}

#[derive(Debug, Clone)]
pub struct Observed {
    pub service: String,
    pub source_arn: Option<String>,
    /// Sorted.
    pub policies: Vec<String>,
    /// The federated principal and its `:sub` condition, as `<arn> <subject>`.
    pub federation: Option<String>,
    /// The inline policy document, canonical JSON; read only for the roles
    /// that have one in the file (pod identities).
    pub inline: Option<String>,
    /// The trust allows sts:TagSession.
    pub tag_session: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    Service,
    SourceArn,
    Policies,
    Federation,
    Inline,
    TagSession,
    Tags,
}

impl ResourceKind for IamRole {
    const KIND: Kind = Kind::IamRole;
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        let Some(eks) = &stack.eks else {
            let roles: Vec<New<Self>> = proxy_role(stack).into_iter().collect();
            return with_ci_roles(stack, roles);
        };
        let auto = eks.auto();
        let cluster_policies: Vec<&str> = if auto {
            CLUSTER_POLICIES.iter().chain(AUTO_CLUSTER_POLICIES).copied().collect()
        } else {
            CLUSTER_POLICIES.to_vec()
        };
        let mut roles = vec![(cluster(), "cluster", "eks.amazonaws.com", cluster_policies, None)];
        if auto {
            roles.push((node(), "node", "ec2.amazonaws.com", AUTO_NODE_POLICIES.to_vec(), None));
        } else if !eks.nodegroups.is_empty() {
            roles.push((node(), "node", "ec2.amazonaws.com", NODE_POLICIES.to_vec(), None));
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
                FARGATE_POLICIES.to_vec(),
                source,
            ));
        }
        for name in eks.addons.keys() {
            if let Some(p) = crate::config::addons::known(name).and_then(|k| k.permissions) {
                roles.push((addon(name), p.purpose, POD_IDENTITY_SERVICE, p.policies.to_vec(), None));
            }
        }
        let roles = roles
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
                        federated: None,
                        inline: None,
                        tag_session: service == POD_IDENTITY_SERVICE || (auto && purpose == "cluster"),
                    },
                    after: vec![],
                }
            })
            .chain(proxy_role(stack))
            .chain(eks.pod_identities.iter().map(|(name, p)| {
                let r = pod(name);
                let role = role_name(&stack.meta.name, &stack.meta.region, &p.role_purpose);
                let database = p.database.then(|| match &stack.database {
                    Some(db) if db.engine.is_aurora() => super::db_cluster::ADDRESS.to_string(),
                    _ => super::db_instance::ADDRESS.to_string(),
                });
                let federated = (p.mechanism == Mechanism::Irsa).then(|| Federated {
                    provider: super::iam_oidc_provider::ADDRESS.into(),
                    subjects: vec![format!("system:serviceaccount:{}:{}", p.namespace, p.service_account)],
                });
                New {
                    tags: tags::of(stack, &r.address, &role),
                    address: r.address,
                    name: role,
                    spec: Spec {
                        service: if federated.is_some() {
                            String::new()
                        } else {
                            POD_IDENTITY_SERVICE.into()
                        },
                        source_arn: None,
                        policies: p.policies.clone(),
                        federated,
                        inline: (database.is_some() || !p.statements.is_empty() || p.load_balancer_controller).then(
                            || Inline {
                                statements: p.statements.clone(),
                                database,
                                load_balancer_controller: p.load_balancer_controller,
                                granted: vec![],
                            },
                        ),
                        tag_session: p.mechanism == Mechanism::PodIdentity,
                    },
                    after: vec![],
                }
            }))
            .collect();
        with_ci_roles(stack, roles)
    }

    /// Each role is told apart by its address: what it lets do, and who.
    fn purpose(d: &Desired<'_, Self>) -> crate::i18n::Msg {
        use crate::i18n::Msg;
        let role = d.address.strip_prefix("iam-role.").unwrap_or(d.address);
        match role.split_once('.') {
            Some(("pod", name)) => Msg::new("purpose.iam_role.pod").arg("name", name),
            Some(("addon", name)) => Msg::new("purpose.iam_role.addon").arg("name", name),
            _ => match role {
                "cluster" => Msg::new("purpose.iam_role.cluster"),
                "node" => Msg::new("purpose.iam_role.node"),
                "fargate" => Msg::new("purpose.iam_role.fargate"),
                "rds-proxy" => Msg::new("purpose.iam_role.rds_proxy"),
                "ci-plan" => Msg::new("purpose.iam_role.ci_plan"),
                "ci-deploy" => Msg::new("purpose.iam_role.ci_deploy"),
                "ci-apply" => Msg::new("purpose.iam_role.ci_apply"),
                _ => Msg::new("purpose.iam_role.other").arg("name", d.name),
            },
        }
    }

    fn references(spec: &Spec) -> Vec<Address> {
        let mut refs: Vec<Address> = spec.federated.iter().map(|f| f.provider.clone()).collect();
        refs.extend(spec.inline.iter().flat_map(|i| i.database.clone()));
        refs
    }

    fn attributes(d: &Desired<'_, Self>, refs: &dyn super::Resolve) -> Vec<Attribute<Self>> {
        let mut rows = vec![
            Attribute::<Self>::new(Attr::Service, "eks", d.spec.service.clone(), |l| {
                l.observed.service.clone().into()
            })
            .in_place("iam:UpdateAssumeRolePolicy"),
            Attribute::<Self>::new(
                Attr::Policies,
                "eks",
                policies_to_keep(d, cluster_in_auto_mode(refs)),
                |l| Value::from(&l.observed.policies),
            )
            .in_place("iam:AttachRolePolicy")
            .unordered(),
            tags::attribute(Attr::Tags, d, "iam:TagRole"),
        ];
        // Compared where the trust needs it; a trust that allows a tagged
        // session it no longer needs is left as it is.
        if d.spec.tag_session {
            rows.push(
                Attribute::<Self>::new(Attr::TagSession, "eks", true, |l| Value::from(l.observed.tag_session))
                    .in_place("iam:UpdateAssumeRolePolicy"),
            );
        }
        if let Some(f) = &d.spec.federated {
            let provider = refs.live(&f.provider).and_then(|l| l.arn.clone());
            let path = if f.provider == super::github_oidc_provider::ADDRESS {
                "ci.github"
            } else {
                "eks.pod_identities"
            };
            rows.push(
                Attribute::<Self>::new(
                    Attr::Federation,
                    path,
                    provider
                        .map(|arn| Value::Text(format!("{arn} {}", f.subjects.join(" "))))
                        .unwrap_or(Value::Unknown),
                    |l| Value::from(l.observed.federation.clone()),
                )
                .in_place("iam:UpdateAssumeRolePolicy"),
            );
        }
        if let Some(inline) = &d.spec.inline {
            rows.push(
                Attribute::<Self>::new(
                    Attr::Inline,
                    "eks.pod_identities",
                    inline_document(inline, |a| super::rds::managed_secret(refs.live(a)))
                        .map(Value::Text)
                        .unwrap_or(Value::Unknown),
                    |l| Value::from(l.observed.inline.clone()),
                )
                .in_place("iam:PutRolePolicy"),
            );
        }
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

    /// Which mechanism a pod identity's role is used through, and why.
    fn notes(d: &Desired<'_, Self>, live: Option<&Found<Self>>, _: &dyn super::Resolve) -> Vec<String> {
        // Said when the role is made; a converged plan stays quiet.
        if !d.address.starts_with("iam-role.pod.") || live.is_some() {
            return vec![];
        }
        match &d.spec.federated {
            Some(f) => vec![format!(
                "IRSA: {} runs on Fargate, where EKS Pod Identity does not work, so the role trusts the cluster's OIDC provider for {} only",
                f.subjects[0].split(':').nth(2).unwrap_or_default(),
                f.subjects[0]
            )],
            None => vec!["EKS Pod Identity: the service account's pods run on EC2 nodes; an association binds the role".into()],
        }
    }

    /// The OIDC provider a federated trust names: the role goes first.
    fn points_at(o: &Observed) -> Vec<String> {
        o.federation
            .iter()
            .filter_map(|f| f.split_whitespace().next())
            .map(str::to_string)
            .collect()
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

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, inputs: &Inputs) -> Result<Found<Self>> {
        let iam = &step.aws().iam;
        let federation = federation(d.spec, inputs)?;
        let created = iam
            .create_role()
            .role_name(d.name)
            .assume_role_policy_document(trust_document(d.spec, federation.as_ref()))
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
        let inline = match &d.spec.inline {
            Some(i) => Some(put_inline(step, d.name, i, inputs).await?),
            None => None,
        };
        let mut policies = d.spec.policies.clone();
        policies.sort();
        let observed = Observed {
            service: d.spec.service.clone(),
            source_arn: d.spec.source_arn.clone(),
            policies,
            federation: federation.map(|f| f.text()),
            inline,
            tag_session: d.spec.tag_session,
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
        inputs: &Inputs,
    ) -> Result<Found<Self>> {
        let iam = &step.aws().iam;
        let mut live = current.clone();
        let federation = federation(d.spec, inputs)?;
        for change in changes.iter() {
            match change {
                // One document holds them all: it is written once for any.
                Attr::Service | Attr::SourceArn | Attr::Federation | Attr::TagSession => {
                    let federated = federation.as_ref().map(Federation::text);
                    if live.observed.service == d.spec.service
                        && live.observed.source_arn == d.spec.source_arn
                        && live.observed.federation == federated
                        && live.observed.tag_session == d.spec.tag_session
                    {
                        continue;
                    }
                    iam.update_assume_role_policy()
                        .role_name(&live.id)
                        .policy_document(trust_document(d.spec, federation.as_ref()))
                        .send()
                        .await
                        .aws_on("iam:UpdateAssumeRolePolicy", &live.id)?;
                    live.observed.service = d.spec.service.clone();
                    live.observed.source_arn = d.spec.source_arn.clone();
                    live.observed.federation = federated;
                    live.observed.tag_session = d.spec.tag_session;
                }
                Attr::Inline => {
                    live.observed.inline = match &d.spec.inline {
                        Some(i) => Some(put_inline(step, &live.id, i, inputs).await?),
                        None => {
                            delete_inline(step, &live.id).await?;
                            None
                        }
                    };
                }
                Attr::Policies => {
                    let have = attached_policies(step.aws(), &live.id).await?;
                    // Only the cluster role leaving Auto Mode asks EKS.
                    let leaving_auto = d.address == cluster().address
                        && AUTO_CLUSTER_POLICIES
                            .iter()
                            .any(|p| have.iter().any(|h| h == p) && !d.spec.policies.iter().any(|w| w == p));
                    let auto_now = leaving_auto
                        && super::eks_cluster::describe(step.aws(), &step.ctx.stack)
                            .await?
                            .and_then(|c| c.compute_config().and_then(|cc| cc.enabled()))
                            == Some(true);
                    let want = policies_to_keep(d, auto_now);
                    for p in want.iter().filter(|p| !have.contains(p)) {
                        iam.attach_role_policy()
                            .role_name(&live.id)
                            .policy_arn(p)
                            .send()
                            .await
                            .aws_on("iam:AttachRolePolicy", &live.id)?;
                    }
                    for p in have.iter().filter(|p| !want.contains(p)) {
                        detach(step, &live.id, p).await?;
                    }
                    live.observed.policies = want;
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
        // A role with an inline policy cannot be deleted (DeleteConflict).
        if live.observed.inline.is_some() || has_inline(&live.address) {
            delete_inline(step, &live.id).await?;
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

/// The stack's roles, and with `[ci.github]` its CI roles, each trusted
/// through GitHub's OIDC provider by the repository's allowed refs only:
/// `ci-plan` (pull requests too), `ci-deploy` (when it has something to
/// deploy: repositories or namespaces) and, with `infra_apply`, `ci-apply`,
/// which may attach only the managed policies the other roles use.
fn with_ci_roles(stack: &Stack, mut roles: Vec<New<IamRole>>) -> Vec<New<IamRole>> {
    let Some(ci) = &stack.ci else { return roles };
    let mut managed: Vec<String> = roles.iter().flat_map(|r| r.spec.policies.clone()).collect();
    managed.sort();
    managed.dedup();
    let mut ci_roles = vec![(
        ci_plan(),
        "ci-plan",
        ci.plan_subjects(),
        super::ci_permissions::plan(stack),
    )];
    if stack.registry.is_some() || !ci.namespaces.is_empty() {
        ci_roles.push((
            ci_deploy(),
            "ci-deploy",
            ci.deploy_subjects(),
            super::ci_permissions::deploy(stack),
        ));
    }
    if ci.infra_apply {
        ci_roles.push((
            ci_apply(),
            "ci-apply",
            ci.deploy_subjects(),
            super::ci_permissions::apply(stack, &managed),
        ));
    }
    roles.extend(ci_roles.into_iter().map(|(r, purpose, subjects, granted)| {
        let name = role_name(&stack.meta.name, &stack.meta.region, purpose);
        New {
            tags: tags::of(stack, &r.address, &name),
            address: r.address,
            name,
            spec: Spec {
                service: String::new(),
                source_arn: None,
                policies: vec![],
                federated: Some(Federated {
                    provider: super::github_oidc_provider::ADDRESS.into(),
                    subjects,
                }),
                inline: Some(Inline {
                    statements: vec![],
                    database: None,
                    load_balancer_controller: false,
                    granted,
                }),
                tag_session: false,
            },
            after: vec![],
        }
    }));
    roles
}

/// The proxy's role, when the database has a proxy.
fn proxy_role(stack: &Stack) -> Option<New<IamRole>> {
    let db = stack.database.as_ref().filter(|d| d.proxy.is_some())?;
    let r = rds_proxy();
    let name = role_name(&stack.meta.name, &stack.meta.region, "rds-proxy");
    let database = if db.engine.is_aurora() {
        super::db_cluster::ADDRESS
    } else {
        super::db_instance::ADDRESS
    };
    Some(New {
        tags: tags::of(stack, &r.address, &name),
        address: r.address,
        name,
        spec: Spec {
            service: "rds.amazonaws.com".into(),
            source_arn: None,
            policies: vec![],
            federated: None,
            inline: Some(Inline {
                statements: vec![],
                database: Some(database.to_string()),
                load_balancer_controller: false,
                granted: vec![],
            }),
            tag_session: false,
        },
        after: vec![],
    })
}

/// Whether a role's inline policy is ekstack's to read and write.
fn has_inline(address: &str) -> bool {
    address.starts_with("iam-role.pod.") || address.starts_with("iam-role.ci-") || address == "iam-role.rds-proxy"
}

/// Whether the stack's live cluster runs EKS Auto Mode.
fn cluster_in_auto_mode(refs: &dyn super::Resolve) -> bool {
    refs.live(super::eks_cluster::ADDRESS)
        .and_then(|c| c.observed::<super::eks_cluster::EksCluster>())
        .is_some_and(|c| c.auto_mode)
}

/// The policies the role should have now: the file's, and on the cluster
/// role of a cluster still in Auto Mode, Auto Mode's too. EKS turns Auto
/// Mode off (and ends its instances) with the cluster role, and that update
/// comes after the role's, so its policies go only once EKS reports Auto
/// Mode off: the apply after.
fn policies_to_keep(d: &Desired<'_, IamRole>, cluster_in_auto_mode: bool) -> Vec<String> {
    let mut want = d.spec.policies.clone();
    if d.address == cluster().address && cluster_in_auto_mode {
        for p in AUTO_CLUSTER_POLICIES {
            if !want.iter().any(|w| w == p) {
                want.push(p.to_string());
            }
        }
    }
    want
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
    let document = role.assume_role_policy_document();
    let trust = document.and_then(read_trust);
    // Only pod identities' and the proxy's roles carry an inline policy.
    let inline = if has_inline(&address) {
        read_inline(aws, name).await?
    } else {
        None
    };
    let observed = Observed {
        service: trust.as_ref().map(|t| t.0.clone()).unwrap_or_default(),
        source_arn: trust.and_then(|t| t.1),
        policies: attached_policies(aws, name).await?,
        federation: document.and_then(read_federation),
        inline,
        tag_session: document.is_some_and(trusts_tag_session),
    };
    Ok(Some(
        IamRole::found(address, name, "available", Readiness::Ready, observed)
            .with_arn(Some(role.arn()))
            .with_tags(tags),
    ))
}

/// The OIDC provider an IRSA role trusts, from the provider's live record.
struct Federation {
    provider_arn: String,
    /// The issuer without `https://`: the prefix of its condition keys.
    issuer: String,
    subjects: Vec<String>,
}

impl Federation {
    /// As the plan compares it: `<provider arn> <subject> …`.
    fn text(&self) -> String {
        format!("{} {}", self.provider_arn, self.subjects.join(" "))
    }
}

fn federation(spec: &Spec, inputs: &Inputs) -> Result<Option<Federation>> {
    let Some(f) = &spec.federated else { return Ok(None) };
    let provider = super::Resolve::live(inputs, &f.provider)
        .ok_or_else(|| anyhow::anyhow!("internal error: {} is not among the role's inputs", f.provider))?;
    let arn = provider.arn.clone().unwrap_or_else(|| provider.id.clone());
    // `arn:aws:iam::<account>:oidc-provider/<issuer host and path>`.
    let issuer = arn
        .split_once(":oidc-provider/")
        .map(|(_, issuer)| issuer.to_string())
        .ok_or_else(|| anyhow::anyhow!("{arn} is not an OIDC provider's ARN"))?;
    Ok(Some(Federation {
        provider_arn: arn,
        issuer,
        subjects: f.subjects.clone(),
    }))
}

fn trust_document(spec: &Spec, federation: Option<&Federation>) -> String {
    match federation {
        Some(f) => {
            let sub = format!("{}:sub", f.issuer);
            let aud = format!("{}:aud", f.issuer);
            let subjects = match f.subjects.as_slice() {
                [one] => json!(one),
                many => json!(many),
            };
            // Conditions under different operators must all hold, so the
            // subjects go under one: StringLike when any is a prefix.
            let condition = if f.subjects.iter().any(|s| s.ends_with('*')) {
                json!({"StringEquals": {aud: "sts.amazonaws.com"}, "StringLike": {sub: subjects}})
            } else {
                json!({"StringEquals": {sub: subjects, aud: "sts.amazonaws.com"}})
            };
            json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"Federated": f.provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": condition
                }]
            })
            .to_string()
        }
        None => trust_policy(spec),
    }
}

/// `<provider arn> <subject>` of a federated trust, if it is one.
fn read_federation(document: &str) -> Option<String> {
    let decoded = percent_encoding::percent_decode_str(document).decode_utf8().ok()?;
    let v: serde_json::Value = serde_json::from_str(&decoded).ok()?;
    let statement = v.get("Statement")?.as_array()?.first()?;
    let arn = statement.get("Principal")?.get("Federated")?.as_str()?;
    let condition = statement.get("Condition")?;
    let subjects = ["StringEquals", "StringLike"].iter().find_map(|op| {
        condition
            .get(op)?
            .as_object()?
            .iter()
            .find(|(k, _)| k.ends_with(":sub"))
            .map(|(_, v)| v.clone())
    })?;
    let subjects: Vec<&str> = match &subjects {
        serde_json::Value::String(s) => vec![s.as_str()],
        serde_json::Value::Array(a) => a.iter().filter_map(|s| s.as_str()).collect(),
        _ => return None,
    };
    Some(format!("{arn} {}", subjects.join(" ")))
}

/// The inline policy: the file's statements, and GetSecretValue on exactly
/// the database's managed secret. `None` while the secret is not known
/// (the database is made in the same apply). RDS encrypts that secret with
/// the `aws/secretsmanager` key unless told otherwise, whose key policy lets
/// Secrets Manager decrypt for the caller, so no kms:Decrypt is granted.
fn inline_document(inline: &Inline, secret: impl Fn(&str) -> Option<String>) -> Option<String> {
    let mut statements: Vec<serde_json::Value> = inline
        .statements
        .iter()
        .map(|s| json!({"Effect": "Allow", "Action": s.actions, "Resource": s.resources}))
        .collect();
    if inline.load_balancer_controller {
        statements.extend(crate::config::lb_controller::statements());
    }
    statements.extend(inline.granted.iter().cloned());
    if let Some(db) = &inline.database {
        statements.push(json!({
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": [secret(db)?],
        }));
    }
    Some(canonical(&json!({"Version": "2012-10-17", "Statement": statements})))
}

/// JSON with sorted keys, compact.
fn canonical(v: &serde_json::Value) -> String {
    fn sorted(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let ordered: std::collections::BTreeMap<&String, serde_json::Value> =
                    m.iter().map(|(k, v)| (k, sorted(v))).collect();
                serde_json::to_value(ordered).unwrap_or_default()
            }
            serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(v).to_string()
}

async fn put_inline(step: &Step<'_>, role: &str, inline: &Inline, inputs: &Inputs) -> Result<String> {
    let document = inline_document(inline, |address| {
        super::rds::managed_secret(super::Resolve::live(inputs, address))
    })
    .ok_or_else(|| anyhow::anyhow!("the database's managed secret is not known yet"))?;
    step.aws()
        .iam
        .put_role_policy()
        .role_name(role)
        .policy_name(INLINE)
        .policy_document(&document)
        .send()
        .await
        .aws_on("iam:PutRolePolicy", role)?;
    Ok(document)
}

/// Removes the role's inline policy; one already gone is fine.
async fn delete_inline(step: &Step<'_>, role: &str) -> Result<()> {
    gone_ok(
        step.aws()
            .iam
            .delete_role_policy()
            .role_name(role)
            .policy_name(INLINE)
            .send()
            .await
            .aws_on("iam:DeleteRolePolicy", role),
    )
}

async fn read_inline(aws: &Aws, role: &str) -> Result<Option<String>> {
    match aws
        .iam
        .get_role_policy()
        .role_name(role)
        .policy_name(INLINE)
        .send()
        .await
        .aws_on("iam:GetRolePolicy", role)
    {
        Ok(out) => {
            let decoded = percent_encoding::percent_decode_str(out.policy_document())
                .decode_utf8()
                .map(|d| d.to_string())
                .unwrap_or_default();
            Ok(serde_json::from_str::<serde_json::Value>(&decoded)
                .ok()
                .map(|v| canonical(&v)))
        }
        Err(e) if is_not_found_error(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether a trust policy's first statement allows sts:TagSession.
fn trusts_tag_session(document: &str) -> bool {
    let Some(decoded) = percent_encoding::percent_decode_str(document).decode_utf8().ok() else {
        return false;
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&decoded) else {
        return false;
    };
    match &v["Statement"][0]["Action"] {
        serde_json::Value::String(a) => a == "sts:TagSession",
        serde_json::Value::Array(a) => a.iter().any(|x| x == "sts:TagSession"),
        _ => false,
    }
}

fn trust_policy(spec: &Spec) -> String {
    let action = if spec.tag_session {
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
pub(super) fn partition(region: &str) -> &'static str {
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
            federated: None,
            inline: None,
            tag_session: false,
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
