//! The database's port opened to the cluster security group
//! (`sg-rule.database-from-cluster`): a rule of the database's security
//! group, made once the cluster exists and AWS reports the group EKS made
//! for it. Managed nodes, Fargate pods and Auto Mode's nodes all carry that
//! group ("View Amazon EKS security group requirements for clusters",
//! https://docs.aws.amazon.com/eks/latest/userguide/sec-group-reqs.html),
//! so the database admits the cluster's workloads and nothing else in the
//! subnets. Being its own step, it leaves the database free to be made
//! alongside the control plane.
//!
//! A security group rule has no tags to find it by: ekstack knows its rule
//! by the description it gives it ([`GROUP_RULE_DESCRIPTION`]).

use anyhow::{anyhow, Result};
use aws_sdk_ec2::types::{IpPermission, UserIdGroupPair};

use super::ec2::once_visible;
use super::eks_cluster::EksCluster;
use super::security_group::{SecurityGroup, GROUP_RULE_DESCRIPTION};
use super::{gone_ok, Attribute, Changes, Desired, Discovery, Found, Inputs, New, Ref};
use super::{Kind, Resolve, ResourceKind, Step};
use crate::aws::errors::{has_code, AwsResultExt};
use crate::config::Stack;
use crate::graph::Address;
use crate::live::{Live, Readiness};
use crate::plan::Value;

pub const DATABASE_FROM_CLUSTER: &str = "sg-rule.database-from-cluster";

pub struct SecurityGroupRule;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The group the rule belongs to.
    pub group: Ref<SecurityGroup>,
    /// The cluster whose security group it admits.
    pub cluster: Ref<EksCluster>,
    pub port: i32,
}

#[derive(Debug, Clone)]
pub struct Observed {
    pub group: String,
    pub source_group: String,
    pub port: i32,
    /// The cluster it admits: the rule goes before the cluster does, so
    /// EKS can delete the group it made.
    pub cluster: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    Source,
    Port,
}

fn permission(port: i32, source_group: &str) -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(source_group)
                .description(GROUP_RULE_DESCRIPTION)
                .build(),
        )
        .build()
}

/// `<group>/<source group>/<port>`: what AWS knows the rule by.
fn id_of(group: &str, source_group: &str, port: i32) -> String {
    format!("{group}/{source_group}/{port}")
}

impl ResourceKind for SecurityGroupRule {
    const KIND: Kind = Kind::SecurityGroupRule;
    const PARENT: Option<Kind> = Some(Kind::SecurityGroup);
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        let (Some(db), Some(_)) = (&stack.database, &stack.eks) else {
            return vec![];
        };
        vec![New {
            address: DATABASE_FROM_CLUSTER.into(),
            // Rules carry no tags.
            tags: Default::default(),
            name: format!("{}-database-from-cluster", stack.meta.name),
            spec: Spec {
                group: super::security_group::database(),
                cluster: super::eks_cluster::reference(),
                port: db.engine.port(),
            },
            after: vec![],
        }]
    }

    fn references(spec: &Spec) -> Vec<Address> {
        vec![spec.group.address.clone(), spec.cluster.address.clone()]
    }

    fn attributes(d: &Desired<'_, Self>, refs: &dyn Resolve) -> Vec<Attribute<Self>> {
        let source = refs
            .live(&d.spec.cluster.address)
            .and_then(|c| c.observed::<EksCluster>())
            .and_then(|c| c.cluster_security_group.clone());
        vec![
            Attribute::<Self>::new(
                Attr::Source,
                "eks",
                source.map(Value::Text).unwrap_or(Value::Unknown),
                |l| l.observed.source_group.clone().into(),
            )
            .replace("a new cluster has a new cluster security group"),
            Attribute::<Self>::new(Attr::Port, "database.engine", d.spec.port, |l| {
                Value::from(l.observed.port)
            })
            .replace("a rule's port is part of what it is"),
        ]
    }

    fn points_at(o: &Observed) -> Vec<String> {
        vec![o.group.clone(), o.cluster.clone()]
    }

    /// Read from the database group's own record: no call of its own.
    async fn discover(cx: &Discovery<'_>, parent: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let Some(group) = parent.filter(|g| g.address == super::security_group::DATABASE) else {
            return Ok(vec![]);
        };
        let Some(observed) = group.observed::<SecurityGroup>() else {
            return Ok(vec![]);
        };
        Ok(observed
            .group_rules
            .iter()
            .map(|(port, source)| {
                Self::found(
                    DATABASE_FROM_CLUSTER,
                    id_of(&group.id, source, *port),
                    "available",
                    Readiness::Ready,
                    Observed {
                        group: group.id.clone(),
                        source_group: source.clone(),
                        port: *port,
                        cluster: cx.stack.to_string(),
                    },
                )
            })
            .collect())
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, inputs: &Inputs) -> Result<Found<Self>> {
        let group = inputs.id(&d.spec.group)?;
        let cluster = inputs.get(&d.spec.cluster)?;
        let source = cluster.observed.cluster_security_group.clone().ok_or_else(|| {
            anyhow!(
                "EKS reported no cluster security group for cluster {}, so the database cannot admit it",
                cluster.id
            )
        })?;
        let what = format!("{group} and {source}");
        let authorized = once_visible(step, &what, || async {
            step.aws()
                .ec2
                .authorize_security_group_ingress()
                .group_id(&group)
                .ip_permissions(permission(d.spec.port, &source))
                .send()
                .await
                .aws_on("ec2:AuthorizeSecurityGroupIngress", &group)
        })
        .await;
        match authorized {
            // Added by an interrupted run.
            Err(e) if has_code(&e, "InvalidPermission.Duplicate") => {}
            other => {
                other?;
            }
        }
        Ok(Self::found(
            d.address,
            id_of(&group, &source, d.spec.port),
            "available",
            Readiness::Ready,
            Observed {
                group,
                source_group: source,
                port: d.spec.port,
                cluster: cluster.id.clone(),
            },
        ))
    }

    async fn update(
        _: &Step<'_>,
        _: &Desired<'_, Self>,
        current: &Found<Self>,
        _: &Changes<Self>,
        _: &Inputs,
    ) -> Result<Found<Self>> {
        // Every attribute replaces the rule.
        Ok(current.clone())
    }

    async fn delete(step: &Step<'_>, live: &Found<Self>) -> Result<()> {
        let revoked = step
            .aws()
            .ec2
            .revoke_security_group_ingress()
            .group_id(&live.observed.group)
            .ip_permissions(permission(live.observed.port, &live.observed.source_group))
            .send()
            .await
            .aws_on("ec2:RevokeSecurityGroupIngress", &live.observed.group);
        gone_ok(revoked)
    }
}
