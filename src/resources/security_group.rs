//! The database's security group. With a cluster, its port is opened to the
//! cluster security group by a rule of its own
//! ([`super::security_group_rule`]), added once the cluster exists, so the
//! group (and the database) are made at the same time as the control plane
//! rather than ~12 minutes after it. Without a cluster, it admits the
//! private subnets' CIDRs.

use std::fmt;

use anyhow::{anyhow, Result};
use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, SecurityGroup as SdkSecurityGroup, UserIdGroupPair};

use super::ec2::{
    create_or_find, delete_confirmed, finder, no_retry, once_visible, stack_filter, sync_tags, tag_map, tag_spec,
    Created,
};
use super::tags::{self, claimed_address};
use super::vpc::Vpc;
use super::{retry_while, Attribute, Changes, Desired, Discovery, Found, Inputs, Leftovers, New, Ref};
use super::{Kind, ResourceKind, Step};
use crate::aws::errors::{has_code, AwsResultExt};
use crate::config::Stack;
use crate::graph::Address;
use crate::live::{Live, Readiness};
use crate::plan::Value;

pub const DATABASE: &str = "security-group.database";
/// The RDS proxy's own group, which the database's admits.
pub const PROXY: &str = "security-group.proxy";

pub fn database() -> Ref<SecurityGroup> {
    Ref::new(DATABASE)
}

pub fn proxy() -> Ref<SecurityGroup> {
    Ref::new(PROXY)
}

pub struct SecurityGroup;

/// Where an ingress rule admits traffic from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Cidr(String),
    /// Another security group (rules other tools added).
    Group(String),
}

/// One ingress rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rule {
    pub protocol: String,
    pub port: i32,
    pub source: Source,
}

/// The form the plan shows: `tcp:5432:10.0.128.0/20`.
impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::Cidr(c) | Source::Group(c) => c,
        };
        write!(f, "{}:{}:{source}", self.protocol, self.port)
    }
}

impl Rule {
    fn permission(&self) -> IpPermission {
        let b = IpPermission::builder()
            .ip_protocol(&self.protocol)
            .from_port(self.port)
            .to_port(self.port);
        match &self.source {
            Source::Cidr(cidr) => b
                .ip_ranges(
                    IpRange::builder()
                        .cidr_ip(cidr)
                        .description("ekstack: private subnets")
                        .build(),
                )
                .build(),
            Source::Group(id) => b
                .user_id_group_pairs(UserIdGroupPair::builder().group_id(id).build())
                .build(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub vpc: Ref<Vpc>,
    pub group_name: String,
    pub description: String,
    pub ingress: Vec<Rule>,
}

#[derive(Debug, Clone)]
pub struct Observed {
    pub vpc_id: String,
    pub description: String,
    /// Sorted; without the rules [`super::security_group_rule`] owns.
    pub ingress: Vec<Rule>,
    /// The rules from another group that ekstack's own rule kind made
    /// (their description says so), as (port, source group id, description).
    pub group_rules: Vec<(i32, String, String)>,
}

/// How the descriptions of the rules ekstack adds from another group start.
pub const GROUP_RULE_PREFIX: &str = "ekstack: ";

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    Ingress,
    Tags,
}

fn rules_value(rules: &[Rule]) -> Value {
    Value::from(rules.iter().map(|r| r.to_string()).collect::<Vec<_>>())
}

fn observed_rules(g: &SdkSecurityGroup) -> (Vec<Rule>, Vec<(i32, String, String)>) {
    let mut rules = Vec::new();
    let mut owned = Vec::new();
    for p in g.ip_permissions() {
        let protocol = p.ip_protocol().unwrap_or("-1").to_string();
        let port = p.from_port().unwrap_or(0);
        for range in p.ip_ranges() {
            rules.push(Rule {
                protocol: protocol.clone(),
                port,
                source: Source::Cidr(range.cidr_ip().unwrap_or_default().to_string()),
            });
        }
        for pair in p.user_id_group_pairs() {
            let group = pair.group_id().unwrap_or_default().to_string();
            if let Some(d) = pair.description().filter(|d| d.starts_with(GROUP_RULE_PREFIX)) {
                owned.push((port, group, d.to_string()));
                continue;
            }
            rules.push(Rule {
                protocol: protocol.clone(),
                port,
                source: Source::Group(group),
            });
        }
    }
    rules.sort();
    owned.sort();
    (rules, owned)
}

impl ResourceKind for SecurityGroup {
    const KIND: Kind = Kind::SecurityGroup;
    const LEFTOVERS: Leftovers = Leftovers::BlockedBy;
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        let Some(db) = &stack.database else { return vec![] };
        let mut groups = vec![group(
            stack,
            DATABASE,
            "database",
            "the database port",
            db.engine.port(),
        )];
        if db.proxy.is_some() {
            groups.push(group(stack, PROXY, "proxy", "the RDS proxy's port", db.engine.port()));
        }
        groups
    }

    fn purpose(d: &Desired<'_, Self>) -> crate::i18n::Msg {
        use crate::i18n::Msg;
        match d.address {
            "security-group.database" => Msg::new("purpose.security_group.database"),
            "security-group.proxy" => Msg::new("purpose.security_group.proxy"),
            _ => Msg::new("purpose.security_group.other").arg("name", d.name),
        }
    }

    fn references(spec: &Spec) -> Vec<Address> {
        vec![spec.vpc.address.clone()]
    }

    fn attributes(d: &Desired<'_, Self>, _: &dyn super::Resolve) -> Vec<Attribute<Self>> {
        // The description is fixed at creation and says nothing the rules do
        // not, so it is not compared: a change of engine moves the port in place.
        vec![
            Attribute::<Self>::new(
                Attr::Ingress,
                "network.private_subnets",
                rules_value(&d.spec.ingress),
                |l| rules_value(&l.observed.ingress),
            )
            .in_place("ec2:AuthorizeSecurityGroupIngress")
            .unordered(),
            tags::attribute(Attr::Tags, d, "ec2:CreateTags"),
        ]
    }

    fn points_at(o: &Observed) -> Vec<String> {
        vec![o.vpc_id.clone()]
    }

    async fn discover(cx: &Discovery<'_>, _: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let out = cx
            .aws
            .ec2
            .describe_security_groups()
            .filters(stack_filter(cx.stack))
            .send()
            .await
            .aws("ec2:DescribeSecurityGroups")?;
        Ok(out
            .security_groups()
            .iter()
            .filter_map(|g| {
                let tags = tag_map(g.tags());
                let address = claimed_address(&tags, cx.stack)?;
                let (ingress, group_rules) = observed_rules(g);
                let observed = Observed {
                    vpc_id: g.vpc_id().unwrap_or_default().to_string(),
                    description: g.description().unwrap_or_default().to_string(),
                    ingress,
                    group_rules,
                };
                Some(Self::found(address, g.group_id()?, "available", Readiness::Ready, observed).with_tags(tags))
            })
            .collect())
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, inputs: &Inputs) -> Result<Found<Self>> {
        let ec2 = &step.aws().ec2;
        let vpc = inputs.id(&d.spec.vpc)?;
        let created = create_or_find(step, d.address, "ec2:CreateSecurityGroup", finder::<Self>(step), || {
            ec2.create_security_group()
                .group_name(&d.spec.group_name)
                .description(&d.spec.description)
                .vpc_id(&vpc)
                .tag_specifications(tag_spec(d.tags, ResourceType::SecurityGroup))
                .customize()
                .config_override(no_retry())
                .send()
        })
        .await?;
        let out = match created {
            Created::New(out) => out,
            Created::Found(found) => return Ok(found),
        };
        let id = out
            .group_id()
            .ok_or_else(|| anyhow!("CreateSecurityGroup returned no id"))?
            .to_string();
        authorize(step, &id, &d.spec.ingress).await?;
        let mut ingress = d.spec.ingress.clone();
        ingress.sort();
        let observed = Observed {
            vpc_id: vpc,
            description: d.spec.description.clone(),
            ingress,
            group_rules: Vec::new(),
        };
        Ok(Self::found(d.address, id, "available", Readiness::Ready, observed).with_tags(d.tags.clone()))
    }

    async fn update(
        step: &Step<'_>,
        d: &Desired<'_, Self>,
        current: &Found<Self>,
        changes: &Changes<Self>,
        _: &Inputs,
    ) -> Result<Found<Self>> {
        let mut live = current.clone();
        for change in changes.iter() {
            match change {
                Attr::Tags => {
                    sync_tags(step, &live.id, &live.tags, d.tags).await?;
                    live.tags = d.tags.clone();
                }
                Attr::Ingress => {
                    let want = &d.spec.ingress;
                    let have = &live.observed.ingress;
                    let add: Vec<Rule> = want.iter().filter(|w| !have.contains(w)).cloned().collect();
                    let remove: Vec<IpPermission> = have
                        .iter()
                        .filter(|h| !want.contains(h))
                        .map(Rule::permission)
                        .collect();
                    authorize(step, &live.id, &add).await?;
                    if !remove.is_empty() {
                        step.aws()
                            .ec2
                            .revoke_security_group_ingress()
                            .group_id(&live.id)
                            .set_ip_permissions(Some(remove))
                            .send()
                            .await
                            .aws_on("ec2:RevokeSecurityGroupIngress", &live.id)?;
                    }
                    let mut now = want.clone();
                    now.sort();
                    live.observed.ingress = now;
                }
            }
        }
        Ok(live)
    }

    async fn delete(step: &Step<'_>, live: &Found<Self>) -> Result<()> {
        delete_group(step, &live.id).await
    }
}

/// One of the database's groups: the database's own, or the proxy's.
/// With a cluster, its port is opened by the rule kind instead: nodes of
/// managed node groups, Fargate pods and Auto Mode's nodes all carry the
/// cluster security group, while the subnets' CIDRs would admit anything
/// else placed in them too.
fn group(stack: &Stack, address: &str, purpose: &str, what: &str, port: i32) -> New<SecurityGroup> {
    let s = &stack.meta.name;
    let name = format!("{s}-{purpose}");
    let from_cluster = stack.eks.is_some();
    let ingress = if from_cluster {
        Vec::new()
    } else {
        stack
            .network
            .private_subnets
            .iter()
            .map(|cidr| Rule {
                protocol: "tcp".into(),
                port,
                source: Source::Cidr(cidr.to_string()),
            })
            .collect()
    };
    New {
        address: address.into(),
        tags: tags::of(stack, address, &name),
        spec: Spec {
            vpc: super::vpc::reference(),
            group_name: name.clone(),
            description: if from_cluster {
                format!("ekstack {s}: {what}, from the cluster")
            } else {
                format!("ekstack {s}: {what}, from the private subnets")
            },
            ingress,
        },
        name,
        after: vec![],
    }
}

async fn authorize(step: &Step<'_>, id: &str, rules: &[Rule]) -> Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    let authorized = once_visible(step, id, || async {
        step.aws()
            .ec2
            .authorize_security_group_ingress()
            .group_id(id)
            .set_ip_permissions(Some(rules.iter().map(Rule::permission).collect()))
            .send()
            .await
            .aws_on("ec2:AuthorizeSecurityGroupIngress", id)
    })
    .await;
    match authorized {
        Err(e) if has_code(&e, "InvalidPermission.Duplicate") => Ok(()),
        other => other.map(|_| ()),
    }
}

/// Deletes a security group, waiting out the minutes AWS takes to release the
/// network interfaces of a just-deleted database or load balancer.
pub async fn delete_group(step: &Step<'_>, id: &str) -> Result<()> {
    let ec2 = &step.aws().ec2;
    let patience = std::time::Duration::from_secs(15 * 60);
    delete_confirmed::<SecurityGroup, _, _, _>(step, id, || {
        retry_while(
            step,
            &["DependencyViolation"],
            "waiting for network interfaces to be released",
            patience,
            || async {
                ec2.delete_security_group()
                    .group_id(id)
                    .send()
                    .await
                    .aws_on("ec2:DeleteSecurityGroup", id)
            },
        )
    })
    .await
}
