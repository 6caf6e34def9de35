//! Route tables: the public one routes to the internet gateway, each private
//! one to a NAT gateway. Changing a private table's NAT is one ReplaceRoute,
//! so egress never has a gap when NAT moves from single to per-AZ.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use aws_sdk_ec2::types::{ResourceType, RouteTable};
use serde_json::{json, Value};

use super::ec2::{claimed_address, create_or_find, no_retry, stack_filter, sync_tags, tag_map, tag_spec, Created};
use super::{live_user_tags, no_update, tags_attr, Step};
use crate::aws::errors::{has_code, is_not_found_error, AwsResultExt};
use crate::aws::Aws;
use crate::config::Stack;
use crate::finder;
use crate::graph::build::VPC;
use crate::graph::{Kind, Resource, Spec};
use crate::live::{Live, Readiness};
use crate::plan::diff::{Attr, Compare};
use crate::plan::{ResourceAction, KNOWN_AFTER_APPLY};

const DEFAULT_ROUTE: &str = "0.0.0.0/0";

pub fn attrs(stack: &Stack, r: &Resource, id_of: &dyn Fn(&str) -> Option<String>) -> Vec<Attr> {
    let Spec::RouteTable { default_route, subnets } = &r.spec else {
        return vec![];
    };
    let target = match default_route {
        None => Value::Null,
        Some(a) => id_of(a).unwrap_or_else(|| KNOWN_AFTER_APPLY.into()).into(),
    };
    let subnets: Vec<Value> = subnets
        .iter()
        .map(|s| id_of(s).unwrap_or_else(|| KNOWN_AFTER_APPLY.into()).into())
        .collect();
    vec![
        Attr::in_place("default_route", "network.nat", target, "ec2:ReplaceRoute")
            .note("no gap in egress: the new target is ready before the route moves"),
        Attr::in_place(
            "subnets",
            "network.azs",
            Value::Array(subnets),
            "ec2:AssociateRouteTable",
        )
        .compare(Compare::Unordered),
        tags_attr(stack, "ec2:CreateTags"),
    ]
}

fn to_live(rt: &RouteTable, address: String) -> Option<Live> {
    let tags = tag_map(rt.tags());
    let target = rt
        .routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some(DEFAULT_ROUTE))
        .and_then(|r| r.nat_gateway_id().or(r.gateway_id()))
        .map(Value::from)
        .unwrap_or(Value::Null);
    let mut associations = BTreeMap::new();
    for a in rt.associations().iter().filter(|a| a.main() != Some(true)) {
        if let (Some(subnet), Some(id)) = (a.subnet_id(), a.route_table_association_id()) {
            associations.insert(subnet.to_string(), id.to_string());
        }
    }
    let subnets: Vec<&String> = associations.keys().collect();
    Some(
        Live::new(
            Kind::RouteTable,
            address,
            rt.route_table_id()?,
            "available",
            Readiness::Ready,
        )
        .attr("default_route", target)
        .attr("subnets", json!(subnets))
        .attr("tags", live_user_tags(&tags))
        .detail("associations", json!(associations))
        .with_tags(tags),
    )
}

pub async fn discover(aws: &Aws, stack: &str) -> Result<Vec<Live>> {
    let out = aws
        .ec2
        .describe_route_tables()
        .filters(stack_filter(stack))
        .send()
        .await
        .aws("ec2:DescribeRouteTables")?;
    Ok(out
        .route_tables()
        .iter()
        .filter_map(|rt| to_live(rt, claimed_address(&tag_map(rt.tags()), stack)?))
        .collect())
}

pub async fn create(step: &Step<'_>, r: &Resource) -> Result<Live> {
    let Spec::RouteTable { default_route, subnets } = &r.spec else {
        bail!("internal error: {} is not a route table", r.address)
    };
    let ec2 = &step.aws().ec2;
    let vpc = step.ctx.id_of(VPC)?;
    let created = create_or_find(step, r, "ec2:CreateRouteTable", finder!(step, discover), || {
        ec2.create_route_table()
            .vpc_id(&vpc)
            .tag_specifications(tag_spec(step, r, ResourceType::RouteTable, &[]))
            .customize()
            .config_override(no_retry())
            .send()
    })
    .await?;
    let out = match created {
        Created::New(out) => out,
        Created::Found(live) => return Ok(live.detail("adopted", true)),
    };
    let rt = out
        .route_table()
        .ok_or_else(|| anyhow!("CreateRouteTable returned nothing"))?;
    let mut live = to_live(rt, r.address.clone()).ok_or_else(|| anyhow!("CreateRouteTable returned no id"))?;
    if let Some(target) = default_route {
        let target = step.ctx.id_of(target)?;
        set_default_route(step, &live.id, None, &target).await?;
        live.attrs.insert("default_route".into(), target.into());
    }
    let mut associations = BTreeMap::new();
    for s in subnets {
        let subnet = step.ctx.id_of(s)?;
        let id = associate(step, &live.id, &subnet).await?;
        associations.insert(subnet, id);
    }
    live.attrs
        .insert("subnets".into(), json!(associations.keys().collect::<Vec<_>>()));
    live.details.insert("associations".into(), json!(associations));
    Ok(live)
}

async fn associate(step: &Step<'_>, table: &str, subnet: &str) -> Result<String> {
    let out = step
        .aws()
        .ec2
        .associate_route_table()
        .route_table_id(table)
        .subnet_id(subnet)
        .send()
        .await
        .aws("ec2:AssociateRouteTable")?;
    Ok(out.association_id().unwrap_or_default().to_string())
}

async fn set_default_route(step: &Step<'_>, table: &str, current: Option<&str>, target: &str) -> Result<()> {
    let ec2 = &step.aws().ec2;
    let nat = target.starts_with("nat-");
    if current.is_none() {
        let create = ec2
            .create_route()
            .route_table_id(table)
            .destination_cidr_block(DEFAULT_ROUTE);
        let create = if nat {
            create.nat_gateway_id(target)
        } else {
            create.gateway_id(target)
        };
        match create.send().await.aws("ec2:CreateRoute") {
            Ok(_) => return Ok(()),
            // Made by an earlier, interrupted run: point it where it belongs.
            Err(e) if has_code(&e, "RouteAlreadyExists") => {}
            Err(e) => return Err(e),
        }
    }
    let replace = ec2
        .replace_route()
        .route_table_id(table)
        .destination_cidr_block(DEFAULT_ROUTE);
    let replace = if nat {
        replace.nat_gateway_id(target)
    } else {
        replace.gateway_id(target)
    };
    replace.send().await.aws("ec2:ReplaceRoute")?;
    Ok(())
}

pub async fn update(step: &Step<'_>, r: &Resource, live: &Live, action: &ResourceAction) -> Result<Live> {
    let Spec::RouteTable { default_route, subnets } = &r.spec else {
        bail!("internal error: {} is not a route table", r.address)
    };
    let mut live = live.clone();
    let ec2 = &step.aws().ec2;
    for change in &action.changes {
        match change.attribute.as_str() {
            "tags" => sync_tags(step, &live.id, &live.tags).await?,
            "default_route" => {
                let current = live
                    .attrs
                    .get("default_route")
                    .and_then(|v| v.as_str())
                    .map(str::to_string);
                match default_route {
                    Some(target) => {
                        let target = step.ctx.id_of(target)?;
                        set_default_route(step, &live.id, current.as_deref(), &target).await?;
                        live.attrs.insert("default_route".into(), target.into());
                    }
                    None if current.is_some() => {
                        match ec2
                            .delete_route()
                            .route_table_id(&live.id)
                            .destination_cidr_block(DEFAULT_ROUTE)
                            .send()
                            .await
                            .aws("ec2:DeleteRoute")
                        {
                            Err(e) if is_not_found_error(&e) => {}
                            other => {
                                other?;
                            }
                        }
                        live.attrs.insert("default_route".into(), Value::Null);
                    }
                    None => {}
                }
            }
            "subnets" => {
                let mut associations: BTreeMap<String, String> =
                    serde_json::from_value(live.details.get("associations").cloned().unwrap_or(json!({})))
                        .unwrap_or_default();
                let mut want = Vec::new();
                for s in subnets {
                    want.push(step.ctx.id_of(s)?);
                }
                for subnet in &want {
                    if !associations.contains_key(subnet) {
                        let id = associate(step, &live.id, subnet).await?;
                        associations.insert(subnet.clone(), id);
                    }
                }
                let stale: Vec<String> = associations.keys().filter(|s| !want.contains(s)).cloned().collect();
                for subnet in stale {
                    if let Some(id) = associations.remove(&subnet) {
                        disassociate(step, &id).await?;
                    }
                }
                live.attrs
                    .insert("subnets".into(), json!(associations.keys().collect::<Vec<_>>()));
                live.details.insert("associations".into(), json!(associations));
            }
            _ => return Err(no_update(Kind::RouteTable, action)),
        }
    }
    Ok(live)
}

async fn disassociate(step: &Step<'_>, association: &str) -> Result<()> {
    super::gone_ok(
        step.aws()
            .ec2
            .disassociate_route_table()
            .association_id(association)
            .send()
            .await
            .aws("ec2:DisassociateRouteTable"),
    )
}

pub async fn delete(step: &Step<'_>, live: &Live) -> Result<()> {
    // Disassociate first: a table with associations cannot be deleted.
    if let Some(Value::Object(associations)) = live.details.get("associations") {
        for id in associations.values().filter_map(|v| v.as_str()) {
            disassociate(step, id).await?;
        }
    }
    super::gone_ok(
        step.aws()
            .ec2
            .delete_route_table()
            .route_table_id(&live.id)
            .send()
            .await
            .aws("ec2:DeleteRouteTable"),
    )
}
