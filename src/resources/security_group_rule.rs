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
//! With an RDS proxy, two more: the proxy's group admits the cluster
//! (`sg-rule.proxy-from-cluster`) and the database's admits the proxy
//! (`sg-rule.database-from-proxy`).
//!
//! A security group rule has no tags to find it by: ekstack knows its rules
//! by the descriptions it gives them, which start "ekstack: ".

use anyhow::{anyhow, Result};
use aws_sdk_ec2::types::{IpPermission, UserIdGroupPair};

use super::ec2::once_visible;
use super::eks_cluster::EksCluster;
use super::security_group::{self, SecurityGroup};
use super::{gone_ok, Attribute, Changes, Desired, Discovery, Found, Inputs, New, Ref};
use super::{Kind, Resolve, ResourceKind, Step};
use crate::aws::errors::{has_code, AwsResultExt};
use crate::config::Stack;
use crate::graph::Address;
use crate::live::{Live, Readiness};
use crate::plan::Value;

pub const DATABASE_FROM_CLUSTER: &str = "sg-rule.database-from-cluster";
pub const PROXY_FROM_CLUSTER: &str = "sg-rule.proxy-from-cluster";
pub const DATABASE_FROM_PROXY: &str = "sg-rule.database-from-proxy";

const FROM_CLUSTER: &str = "ekstack: the cluster security group";
const FROM_PROXY: &str = "ekstack: the RDS proxy";

/// Each rule: its address, the group it is in, and what its description says.
const RULES: &[(&str, &str, &str)] = &[
    (DATABASE_FROM_CLUSTER, security_group::DATABASE, FROM_CLUSTER),
    (PROXY_FROM_CLUSTER, security_group::PROXY, FROM_CLUSTER),
    (DATABASE_FROM_PROXY, security_group::DATABASE, FROM_PROXY),
];

pub struct SecurityGroupRule;

/// Where a rule admits traffic from.
#[derive(Debug, Clone, PartialEq)]
pub enum From {
    /// The security group EKS made for the cluster.
    Cluster(Ref<EksCluster>),
    /// One of the stack's groups.
    Group(Ref<SecurityGroup>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The group the rule belongs to.
    pub group: Ref<SecurityGroup>,
    pub from: From,
    pub port: i32,
}

#[derive(Debug, Clone)]
pub struct Observed {
    pub group: String,
    pub source_group: String,
    pub port: i32,
    pub description: String,
    /// The cluster whose group a rule admits: the rule goes before the
    /// cluster does, so EKS can delete the group it made.
    pub cluster: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    Source,
    Port,
}

fn description_of(address: &str) -> &'static str {
    RULES
        .iter()
        .find(|(a, _, _)| *a == address)
        .map(|(_, _, d)| *d)
        .unwrap_or(FROM_CLUSTER)
}

fn permission(port: i32, source_group: &str, description: &str) -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(source_group)
                .description(description)
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
        let Some(db) = &stack.database else { return vec![] };
        let cluster = || From::Cluster(super::eks_cluster::reference());
        let mut rules = Vec::new();
        if stack.running_cluster().is_some() {
            rules.push((DATABASE_FROM_CLUSTER, security_group::database(), cluster()));
            if db.proxy.is_some() {
                rules.push((PROXY_FROM_CLUSTER, security_group::proxy(), cluster()));
            }
        }
        if db.proxy.is_some() {
            rules.push((
                DATABASE_FROM_PROXY,
                security_group::database(),
                From::Group(security_group::proxy()),
            ));
        }
        rules
            .into_iter()
            .map(|(address, group, from)| New {
                address: address.into(),
                // Rules carry no tags.
                tags: Default::default(),
                name: format!("{}-{}", stack.meta.name, address.trim_start_matches("sg-rule.")),
                spec: Spec {
                    group,
                    from,
                    port: db.engine.port(),
                },
                after: vec![],
            })
            .collect()
    }

    fn purpose(d: &Desired<'_, Self>) -> crate::i18n::Msg {
        use crate::i18n::Msg;
        let msg = match d.address {
            "sg-rule.database-from-cluster" => Msg::new("purpose.security_group_rule.database_from_cluster"),
            "sg-rule.database-from-proxy" => Msg::new("purpose.security_group_rule.database_from_proxy"),
            "sg-rule.proxy-from-cluster" => Msg::new("purpose.security_group_rule.proxy_from_cluster"),
            _ => Msg::new("purpose.security_group_rule.other"),
        };
        msg.arg("port", d.spec.port)
    }

    fn references(spec: &Spec) -> Vec<Address> {
        let from = match &spec.from {
            From::Cluster(c) => c.address.clone(),
            From::Group(g) => g.address.clone(),
        };
        vec![spec.group.address.clone(), from]
    }

    fn attributes(d: &Desired<'_, Self>, refs: &dyn Resolve) -> Vec<Attribute<Self>> {
        let source = match &d.spec.from {
            From::Cluster(c) => refs
                .live(&c.address)
                .and_then(|c| c.observed::<EksCluster>())
                .and_then(|c| c.cluster_security_group.clone()),
            From::Group(g) => refs.live(&g.address).map(|l| l.id.clone()),
        };
        vec![
            Attribute::<Self>::new(
                Attr::Source,
                "eks",
                source.map(Value::Text).unwrap_or(Value::Unknown),
                |l| l.observed.source_group.clone().into(),
            )
            .replace("a new cluster (or proxy group) is a new source"),
            Attribute::<Self>::new(Attr::Port, "database.engine", d.spec.port, |l| {
                Value::from(l.observed.port)
            })
            .replace("a rule's port is part of what it is"),
        ]
    }

    fn points_at(o: &Observed) -> Vec<String> {
        let mut ids = vec![o.group.clone(), o.source_group.clone()];
        ids.extend(o.cluster.iter().cloned());
        ids
    }

    /// Read from their group's own record: no call of their own.
    async fn discover(cx: &Discovery<'_>, parent: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let Some(group) = parent else { return Ok(vec![]) };
        let Some(observed) = group.observed::<SecurityGroup>() else {
            return Ok(vec![]);
        };
        Ok(observed
            .group_rules
            .iter()
            .filter_map(|(port, source, description)| {
                let (address, _, _) = RULES.iter().find(|(_, g, d)| *g == group.address && d == description)?;
                Some(Self::found(
                    *address,
                    id_of(&group.id, source, *port),
                    "available",
                    Readiness::Ready,
                    Observed {
                        group: group.id.clone(),
                        source_group: source.clone(),
                        port: *port,
                        description: description.clone(),
                        cluster: (description == FROM_CLUSTER).then(|| cx.stack.to_string()),
                    },
                ))
            })
            .collect())
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, inputs: &Inputs) -> Result<Found<Self>> {
        let group = inputs.id(&d.spec.group)?;
        let (source, cluster) = match &d.spec.from {
            From::Cluster(c) => {
                let cluster = inputs.get(c)?;
                let source = cluster.observed.cluster_security_group.clone().ok_or_else(|| {
                    anyhow!(
                        "EKS reported no cluster security group for cluster {}, so the database cannot admit it",
                        cluster.id
                    )
                })?;
                (source, Some(cluster.id.clone()))
            }
            From::Group(g) => (inputs.id(g)?, None),
        };
        let description = description_of(d.address);
        let what = format!("{group} and {source}");
        let authorized = once_visible(step, &what, || async {
            step.aws()
                .ec2
                .authorize_security_group_ingress()
                .group_id(&group)
                .ip_permissions(permission(d.spec.port, &source, description))
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
                description: description.to_string(),
                cluster,
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
            .ip_permissions(permission(
                live.observed.port,
                &live.observed.source_group,
                &live.observed.description,
            ))
            .send()
            .await
            .aws_on("ec2:RevokeSecurityGroupIngress", &live.observed.group);
        gone_ok(revoked)
    }
}
