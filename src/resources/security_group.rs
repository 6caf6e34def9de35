//! The database's security group: its port, from the private subnets only.

use anyhow::{anyhow, bail, Result};
use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, SecurityGroup};
use serde_json::json;

use super::ec2::{claimed_address, create_or_find, no_retry, stack_filter, sync_tags, tag_map, tag_spec, Created};
use super::gone_ok;
use super::{live_user_tags, no_update, tags_attr, Step};
use crate::aws::errors::{has_code, AwsResultExt};
use crate::aws::Aws;
use crate::config::Stack;
use crate::finder;
use crate::graph::build::VPC;
use crate::graph::{Kind, Resource, Spec};
use crate::live::{Live, Readiness};
use crate::plan::diff::{Attr, Compare};
use crate::plan::ResourceAction;

/// A rule in the form the plan compares: `tcp:5432:10.0.128.0/20`.
fn rule(protocol: &str, port: i32, cidr: &str) -> String {
    format!("{protocol}:{port}:{cidr}")
}

fn desired_rules(r: &Resource) -> Vec<String> {
    let Spec::SecurityGroup { port, sources, .. } = &r.spec else {
        return vec![];
    };
    sources.iter().map(|c| rule("tcp", *port, &c.to_string())).collect()
}

pub fn attrs(stack: &Stack, r: &Resource) -> Vec<Attr> {
    // The description is fixed at creation and says nothing the rules do
    // not, so it is not compared: a change of engine moves the port in place.
    vec![
        Attr::in_place(
            "ingress",
            "network.private_subnets",
            json!(desired_rules(r)),
            "ec2:AuthorizeSecurityGroupIngress",
        )
        .compare(Compare::Unordered),
        tags_attr(stack, "ec2:CreateTags"),
    ]
}

fn live_rules(g: &SecurityGroup) -> Vec<String> {
    let mut rules = Vec::new();
    for p in g.ip_permissions() {
        let proto = p.ip_protocol().unwrap_or("-1");
        let port = p.from_port().unwrap_or(0);
        for range in p.ip_ranges() {
            rules.push(rule(proto, port, range.cidr_ip().unwrap_or_default()));
        }
        for pair in p.user_id_group_pairs() {
            rules.push(rule(proto, port, pair.group_id().unwrap_or_default()));
        }
    }
    rules.sort();
    rules
}

pub async fn discover(aws: &Aws, stack: &str) -> Result<Vec<Live>> {
    let out = aws
        .ec2
        .describe_security_groups()
        .filters(stack_filter(stack))
        .send()
        .await
        .aws("ec2:DescribeSecurityGroups")?;
    Ok(out
        .security_groups()
        .iter()
        .filter_map(|g| {
            let tags = tag_map(g.tags());
            let address = claimed_address(&tags, stack)?;
            Some(
                Live::new(
                    Kind::SecurityGroup,
                    address,
                    g.group_id()?,
                    "available",
                    Readiness::Ready,
                )
                .attr("description", g.description().unwrap_or_default())
                .attr("ingress", json!(live_rules(g)))
                .attr("tags", live_user_tags(&tags))
                .detail("vpc", g.vpc_id().unwrap_or_default())
                .with_tags(tags),
            )
        })
        .collect())
}

fn permission(protocol: &str, port: i32, cidr: &str) -> IpPermission {
    IpPermission::builder()
        .ip_protocol(protocol)
        .from_port(port)
        .to_port(port)
        .ip_ranges(
            IpRange::builder()
                .cidr_ip(cidr)
                .description("ekstack: private subnets")
                .build(),
        )
        .build()
}

fn parse_rule(rule: &str) -> Option<(String, i32, String)> {
    let mut parts = rule.splitn(3, ':');
    Some((
        parts.next()?.to_string(),
        parts.next()?.parse().ok()?,
        parts.next()?.to_string(),
    ))
}

pub async fn create(step: &Step<'_>, r: &Resource) -> Result<Live> {
    let Spec::SecurityGroup {
        group_name,
        description,
        ..
    } = &r.spec
    else {
        bail!("internal error: {} is not a security group", r.address)
    };
    let ec2 = &step.aws().ec2;
    let vpc = step.ctx.id_of(VPC)?;
    let created = create_or_find(step, r, "ec2:CreateSecurityGroup", finder!(step, discover), || {
        ec2.create_security_group()
            .group_name(group_name)
            .description(description)
            .vpc_id(&vpc)
            .tag_specifications(tag_spec(step, r, ResourceType::SecurityGroup, &[]))
            .customize()
            .config_override(no_retry())
            .send()
    })
    .await?;
    let out = match created {
        Created::New(out) => out,
        Created::Found(live) => return Ok(live.detail("adopted", true)),
    };
    let id = out
        .group_id()
        .ok_or_else(|| anyhow!("CreateSecurityGroup returned no id"))?
        .to_string();
    let rules = desired_rules(r);
    authorize(step, &id, &rules).await?;
    let tags = super::tags(&step.ctx.stack, &r.address, &r.name);
    Ok(
        Live::new(Kind::SecurityGroup, &r.address, id, "available", Readiness::Ready)
            .attr("description", description.as_str())
            .attr("ingress", json!(rules))
            .attr("tags", live_user_tags(&tags))
            .detail("vpc", vpc)
            .with_tags(tags),
    )
}

async fn authorize(step: &Step<'_>, id: &str, rules: &[String]) -> Result<()> {
    let permissions: Vec<IpPermission> = rules
        .iter()
        .filter_map(|r| parse_rule(r))
        .map(|(p, port, c)| permission(&p, port, &c))
        .collect();
    if permissions.is_empty() {
        return Ok(());
    }
    match step
        .aws()
        .ec2
        .authorize_security_group_ingress()
        .group_id(id)
        .set_ip_permissions(Some(permissions))
        .send()
        .await
        .aws("ec2:AuthorizeSecurityGroupIngress")
    {
        Err(e) if has_code(&e, "InvalidPermission.Duplicate") => Ok(()),
        other => other.map(|_| ()),
    }
}

pub async fn update(step: &Step<'_>, r: &Resource, live: &Live, action: &ResourceAction) -> Result<Live> {
    let mut live = live.clone();
    for change in &action.changes {
        match change.attribute.as_str() {
            "tags" => sync_tags(step, &live.id, &live.tags).await?,
            "ingress" => {
                let want = desired_rules(r);
                let have: Vec<String> =
                    serde_json::from_value(live.attrs.get("ingress").cloned().unwrap_or(json!([]))).unwrap_or_default();
                let add: Vec<String> = want.iter().filter(|w| !have.contains(w)).cloned().collect();
                let remove: Vec<IpPermission> = have
                    .iter()
                    .filter(|h| !want.contains(h))
                    .filter_map(|h| parse_rule(h))
                    .map(|(p, port, c)| permission(&p, port, &c))
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
                        .aws("ec2:RevokeSecurityGroupIngress")?;
                }
                live.attrs.insert("ingress".into(), json!(want));
            }
            _ => return Err(no_update(Kind::SecurityGroup, action)),
        }
    }
    Ok(live)
}

pub async fn delete(step: &Step<'_>, live: &Live) -> Result<()> {
    delete_group(step, &live.id).await
}

/// Deletes a security group, waiting out the minutes AWS takes to release the
/// network interfaces of a just-deleted database or load balancer.
pub async fn delete_group(step: &Step<'_>, id: &str) -> Result<()> {
    let ec2 = &step.aws().ec2;
    let patience = std::time::Duration::from_secs(15 * 60);
    super::retry_while(
        step,
        &["DependencyViolation"],
        "waiting for network interfaces to be released",
        patience,
        || async {
            gone_ok(
                ec2.delete_security_group()
                    .group_id(id)
                    .send()
                    .await
                    .aws("ec2:DeleteSecurityGroup"),
            )
        },
    )
    .await
}
