//! Route tables: the public one routes to the internet gateway, each private
//! one (one per AZ even with a single NAT) to a NAT gateway. Changing a
//! private table's NAT is one ReplaceRoute, so egress never has a gap when
//! NAT moves from single to per-AZ.

use std::collections::BTreeMap;

use anyhow::{anyhow, Result};
use aws_sdk_ec2::types::{ResourceType, RouteTable as SdkRouteTable};

use super::ec2::{
    create_or_find, delete_confirmed, finder, no_retry, once_visible, stack_filter, sync_tags, tag_map, tag_spec,
    Created,
};
use super::internet_gateway::InternetGateway;
use super::nat_gateway::NatGateway;
use super::subnet::{Subnet, Tier};
use super::tags::{self, claimed_address};
use super::vpc::Vpc;
use super::{gone_ok, Attribute, Changes, Desired, Discovery, Found, Inputs, Leftovers, New, Ref, Resolve};
use super::{Kind, ResourceKind, Step};
use crate::aws::errors::{has_code, is_not_found_error, AwsResultExt};
use crate::config::Stack;
use crate::graph::Address;
use crate::live::{Live, Readiness};
use crate::plan::Value;

const DEFAULT_ROUTE: &str = "0.0.0.0/0";

pub const PUBLIC: &str = "route-table.public";

pub fn private_address(az: &str) -> Address {
    format!("route-table.private.{az}")
}

/// The private route tables: what nodes and pods need to reach the internet.
pub fn private(stack: &Stack) -> Vec<Address> {
    // A given VPC's routes are the network team's (plan checks them).
    if stack.network.is_given() {
        return vec![];
    }
    stack.network.azs.iter().map(|az| private_address(az)).collect()
}

pub struct RouteTable;

/// Where `0.0.0.0/0` goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    InternetGateway(Ref<InternetGateway>),
    NatGateway(Ref<NatGateway>),
}

impl Target {
    fn address(&self) -> &Address {
        match self {
            Target::InternetGateway(r) => &r.address,
            Target::NatGateway(r) => &r.address,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub vpc: Ref<Vpc>,
    pub default_route: Option<Target>,
    pub subnets: Vec<Ref<Subnet>>,
}

/// A default route as AWS reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// Through an internet gateway (`igw-…`).
    Gateway(String),
    /// Through a NAT gateway (`nat-…`).
    Nat(String),
}

impl Route {
    fn target_id(&self) -> &str {
        match self {
            Route::Gateway(id) | Route::Nat(id) => id,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Observed {
    pub vpc_id: String,
    pub default_route: Option<Route>,
    /// Associated subnet id → association id.
    pub associations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    DefaultRoute,
    Subnets,
    Tags,
}

fn to_found(rt: &SdkRouteTable, address: String) -> Option<Found<RouteTable>> {
    let default_route = rt
        .routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some(DEFAULT_ROUTE))
        .and_then(|r| match (r.nat_gateway_id(), r.gateway_id()) {
            (Some(nat), _) => Some(Route::Nat(nat.to_string())),
            (None, Some(gw)) => Some(Route::Gateway(gw.to_string())),
            (None, None) => None,
        });
    let associations = rt
        .associations()
        .iter()
        .filter(|a| a.main() != Some(true))
        .filter_map(|a| Some((a.subnet_id()?.to_string(), a.route_table_association_id()?.to_string())))
        .collect();
    let observed = Observed {
        vpc_id: rt.vpc_id().unwrap_or_default().to_string(),
        default_route,
        associations,
    };
    Some(
        RouteTable::found(address, rt.route_table_id()?, "available", Readiness::Ready, observed)
            .with_tags(tag_map(rt.tags())),
    )
}

impl ResourceKind for RouteTable {
    const KIND: Kind = Kind::RouteTable;
    const LEFTOVERS: Leftovers = Leftovers::BlockedBy;
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        if stack.network.is_given() {
            return vec![];
        }
        let s = &stack.meta.name;
        let mut out = vec![New {
            address: PUBLIC.into(),
            name: format!("{s}-public"),
            tags: tags::of(stack, PUBLIC, &format!("{s}-public")),
            spec: Spec {
                vpc: super::vpc::reference(),
                default_route: Some(Target::InternetGateway(super::internet_gateway::reference())),
                subnets: super::subnet::all(stack, Tier::Public),
            },
            after: vec![],
        }];
        for az in &stack.network.azs {
            let address = private_address(az);
            let name = format!("{s}-private-{az}");
            out.push(New {
                tags: tags::of(stack, &address, &name),
                address,
                name,
                spec: Spec {
                    vpc: super::vpc::reference(),
                    default_route: super::nat_gateway::serving(stack, az).map(Target::NatGateway),
                    subnets: vec![super::subnet::reference(Tier::Private, az)],
                },
                after: vec![],
            });
        }
        out
    }

    fn purpose(d: &Desired<'_, Self>) -> crate::i18n::Msg {
        crate::i18n::Msg::new(match d.spec.default_route {
            Some(Target::InternetGateway(_)) => "purpose.route_table.public",
            Some(Target::NatGateway(_)) => "purpose.route_table.private",
            None => "purpose.route_table.isolated",
        })
    }

    fn references(spec: &Spec) -> Vec<Address> {
        let mut refs = vec![spec.vpc.address.clone()];
        refs.extend(spec.default_route.iter().map(|t| t.address().clone()));
        refs.extend(spec.subnets.iter().map(|s| s.address.clone()));
        refs
    }

    fn attributes(d: &Desired<'_, Self>, refs: &dyn Resolve) -> Vec<Attribute<Self>> {
        let target = match &d.spec.default_route {
            None => Value::Null,
            Some(t) => refs.id_value(t.address()),
        };
        let subnets: Vec<Value> = d.spec.subnets.iter().map(|s| refs.id_value(&s.address)).collect();
        vec![
            Attribute::<Self>::new(Attr::DefaultRoute, "network.nat", target, |l| {
                Value::from(l.observed.default_route.as_ref().map(|r| r.target_id().to_string()))
            })
            .in_place("ec2:ReplaceRoute")
            .note(crate::i18n::Msg::new("note.route_moves")),
            Attribute::<Self>::new(Attr::Subnets, "network.azs", subnets, |l| {
                Value::from(l.observed.associations.keys().cloned().collect::<Vec<_>>())
            })
            .in_place("ec2:AssociateRouteTable")
            .unordered(),
            tags::attribute(Attr::Tags, d, "ec2:CreateTags"),
        ]
    }

    fn points_at(o: &Observed) -> Vec<String> {
        let mut ids = vec![o.vpc_id.clone()];
        ids.extend(o.default_route.iter().map(|r| r.target_id().to_string()));
        ids.extend(o.associations.keys().cloned());
        ids
    }

    async fn discover(cx: &Discovery<'_>, _: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let out = cx
            .aws
            .ec2
            .describe_route_tables()
            .filters(stack_filter(cx.stack))
            .send()
            .await
            .aws("ec2:DescribeRouteTables")?;
        Ok(out
            .route_tables()
            .iter()
            .filter_map(|rt| to_found(rt, claimed_address(&tag_map(rt.tags()), cx.stack)?))
            .collect())
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, inputs: &Inputs) -> Result<Found<Self>> {
        let ec2 = &step.aws().ec2;
        let vpc = inputs.id(&d.spec.vpc)?;
        let created = create_or_find(step, d.address, "ec2:CreateRouteTable", finder::<Self>(step), || {
            ec2.create_route_table()
                .vpc_id(&vpc)
                .tag_specifications(tag_spec(d.tags, ResourceType::RouteTable))
                .customize()
                .config_override(no_retry())
                .send()
        })
        .await?;
        let out = match created {
            Created::New(out) => out,
            Created::Found(found) => return Ok(found),
        };
        let rt = out
            .route_table()
            .ok_or_else(|| anyhow!("CreateRouteTable returned nothing"))?;
        let mut live = to_found(rt, d.address.to_string()).ok_or_else(|| anyhow!("CreateRouteTable returned no id"))?;
        if let Some(target) = &d.spec.default_route {
            let route = resolve(target, inputs)?;
            set_default_route(step, &live.id, None, &route).await?;
            live.observed.default_route = Some(route);
        }
        for subnet in inputs.ids(&d.spec.subnets)? {
            let id = associate(step, &live.id, &subnet).await?;
            live.observed.associations.insert(subnet, id);
        }
        Ok(live)
    }

    async fn update(
        step: &Step<'_>,
        d: &Desired<'_, Self>,
        current: &Found<Self>,
        changes: &Changes<Self>,
        inputs: &Inputs,
    ) -> Result<Found<Self>> {
        let mut live = current.clone();
        for change in changes.iter() {
            match change {
                Attr::Tags => {
                    sync_tags(step, &live.id, &live.tags, d.tags).await?;
                    live.tags = d.tags.clone();
                }
                Attr::DefaultRoute => {
                    let current = live.observed.default_route.clone();
                    match &d.spec.default_route {
                        Some(target) => {
                            let route = resolve(target, inputs)?;
                            set_default_route(step, &live.id, current.as_ref(), &route).await?;
                            live.observed.default_route = Some(route);
                        }
                        None if current.is_some() => {
                            delete_default_route(step, &live.id).await?;
                            live.observed.default_route = None;
                        }
                        None => {}
                    }
                }
                Attr::Subnets => {
                    let want = inputs.ids(&d.spec.subnets)?;
                    for subnet in &want {
                        if !live.observed.associations.contains_key(subnet) {
                            let id = associate(step, &live.id, subnet).await?;
                            live.observed.associations.insert(subnet.clone(), id);
                        }
                    }
                    let stale: Vec<String> = live
                        .observed
                        .associations
                        .keys()
                        .filter(|s| !want.contains(s))
                        .cloned()
                        .collect();
                    for subnet in stale {
                        if let Some(id) = live.observed.associations.remove(&subnet) {
                            disassociate(step, &id).await?;
                        }
                    }
                }
            }
        }
        Ok(live)
    }

    async fn delete(step: &Step<'_>, live: &Found<Self>) -> Result<()> {
        // Disassociate first: a table with associations cannot be deleted.
        for id in live.observed.associations.values() {
            disassociate(step, id).await?;
        }
        delete_confirmed::<Self, _, _, _>(step, &live.id, || async {
            step.aws()
                .ec2
                .delete_route_table()
                .route_table_id(&live.id)
                .send()
                .await
                .aws_on("ec2:DeleteRouteTable", &live.id)
        })
        .await
    }
}

/// The route to a referenced target, with its id.
fn resolve(target: &Target, inputs: &Inputs) -> Result<Route> {
    Ok(match target {
        Target::InternetGateway(r) => Route::Gateway(inputs.id(r)?),
        Target::NatGateway(r) => Route::Nat(inputs.id(r)?),
    })
}

async fn associate(step: &Step<'_>, table: &str, subnet: &str) -> Result<String> {
    let out = once_visible(step, &format!("{table} and {subnet}"), || async {
        step.aws()
            .ec2
            .associate_route_table()
            .route_table_id(table)
            .subnet_id(subnet)
            .send()
            .await
            .aws_on("ec2:AssociateRouteTable", table)
    })
    .await?;
    Ok(out.association_id().unwrap_or_default().to_string())
}

async fn disassociate(step: &Step<'_>, association: &str) -> Result<()> {
    gone_ok(
        step.aws()
            .ec2
            .disassociate_route_table()
            .association_id(association)
            .send()
            .await
            .aws_on("ec2:DisassociateRouteTable", association),
    )
}

async fn set_default_route(step: &Step<'_>, table: &str, current: Option<&Route>, route: &Route) -> Result<()> {
    let ec2 = &step.aws().ec2;
    let what = format!("{table} and {}", route.target_id());
    if current.is_none() {
        let created = once_visible(step, &what, || {
            let create = ec2
                .create_route()
                .route_table_id(table)
                .destination_cidr_block(DEFAULT_ROUTE);
            let create = match route {
                Route::Nat(id) => create.nat_gateway_id(id),
                Route::Gateway(id) => create.gateway_id(id),
            };
            async move { create.send().await.aws_on("ec2:CreateRoute", table) }
        })
        .await;
        match created {
            Ok(_) => return Ok(()),
            // Made by an earlier, interrupted run: point it where it belongs.
            Err(e) if has_code(&e, "RouteAlreadyExists") => {}
            Err(e) => return Err(e),
        }
    }
    once_visible(step, &what, || {
        let replace = ec2
            .replace_route()
            .route_table_id(table)
            .destination_cidr_block(DEFAULT_ROUTE);
        let replace = match route {
            Route::Nat(id) => replace.nat_gateway_id(id),
            Route::Gateway(id) => replace.gateway_id(id),
        };
        async move { replace.send().await.aws_on("ec2:ReplaceRoute", table) }
    })
    .await?;
    Ok(())
}

async fn delete_default_route(step: &Step<'_>, table: &str) -> Result<()> {
    let deleted = step
        .aws()
        .ec2
        .delete_route()
        .route_table_id(table)
        .destination_cidr_block(DEFAULT_ROUTE)
        .send()
        .await
        .aws_on("ec2:DeleteRoute", table);
    match deleted {
        Err(e) if is_not_found_error(&e) => Ok(()),
        other => other.map(|_| ()),
    }
}
