//! The DB subnet group: the private subnets the database may live in, named
//! like the database (`<stack>-db`).

use anyhow::{anyhow, Result};
use aws_sdk_rds::types::DbSubnetGroup as SdkDbSubnetGroup;

use super::rds::{self, rds_tags, sync_tags};
use super::subnet::{Subnet, Tier};
use super::tags::{self, is_of_stack, TAG_ADDRESS};
use super::{existing, gone_ok, ours, retry_while, Attribute, Changes, Desired, Discovery, Found, Inputs, New, Ref};
use super::{Kind, Resolve, ResourceKind, Step};
use crate::aws::errors::{has_code, AwsResultExt};
use crate::aws::Aws;
use crate::config::Stack;
use crate::graph::Address;
use crate::live::{Live, Origin, Readiness, Tags};
use crate::plan::Value;

pub const ADDRESS: &str = "db-subnet-group";

pub fn reference() -> Ref<DbSubnetGroup> {
    Ref::new(ADDRESS)
}

pub struct DbSubnetGroup;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub subnets: Vec<Ref<Subnet>>,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct Observed {
    /// Sorted.
    pub subnets: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    Subnets,
    Tags,
}

impl ResourceKind for DbSubnetGroup {
    const KIND: Kind = Kind::DbSubnetGroup;
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        if stack.database.is_none() {
            return vec![];
        }
        let name = stack.db_identifier();
        vec![New {
            address: ADDRESS.into(),
            tags: tags::of(stack, ADDRESS, &name),
            name,
            spec: Spec {
                subnets: super::subnet::all(stack, Tier::Private),
                description: format!("ekstack {}: private subnets", stack.meta.name),
            },
            after: vec![],
        }]
    }

    fn references(spec: &Spec) -> Vec<Address> {
        spec.subnets.iter().map(|s| s.address.clone()).collect()
    }

    fn attributes(d: &Desired<'_, Self>, refs: &dyn Resolve) -> Vec<Attribute<Self>> {
        let subnets: Vec<Value> = d.spec.subnets.iter().map(|r| refs.id_value(&r.address)).collect();
        vec![
            Attribute::<Self>::new(Attr::Subnets, "network.azs", subnets, |l| {
                Value::from(&l.observed.subnets)
            })
            .in_place("rds:ModifyDBSubnetGroup")
            .unordered(),
            tags::attribute(Attr::Tags, d, "rds:AddTagsToResource"),
        ]
    }

    fn points_at(o: &Observed) -> Vec<String> {
        o.subnets.clone()
    }

    async fn discover(cx: &Discovery<'_>, _: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let name = crate::config::db_identifier(cx.stack);
        let Some(group) = describe(cx.aws, &name).await? else {
            return Ok(vec![]);
        };
        let tags = rds::list_tags(cx.aws, group.db_subnet_group_arn()).await?;
        Ok(to_found(&group, tags, cx.stack).into_iter().collect())
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, inputs: &Inputs) -> Result<Found<Self>> {
        let subnet_ids = inputs.ids(&d.spec.subnets)?;
        create_named(step, d, subnet_ids).await
    }

    async fn update(
        step: &Step<'_>,
        d: &Desired<'_, Self>,
        current: &Found<Self>,
        changes: &Changes<Self>,
        inputs: &Inputs,
    ) -> Result<Found<Self>> {
        let rds = &step.aws().rds;
        let mut live = current.clone();
        for change in changes.iter() {
            match change {
                Attr::Subnets => {
                    let subnet_ids = inputs.ids(&d.spec.subnets)?;
                    rds.modify_db_subnet_group()
                        .db_subnet_group_name(&live.id)
                        .set_subnet_ids(Some(subnet_ids.clone()))
                        .send()
                        .await
                        .aws_on("rds:ModifyDBSubnetGroup", &live.id)?;
                    // moto 5 drops the group on modify; put it back if so.
                    if describe(step.aws(), &live.id).await?.is_none() {
                        live = create_named(step, d, subnet_ids.clone()).await?;
                    }
                    let mut sorted = subnet_ids;
                    sorted.sort();
                    live.observed.subnets = sorted;
                }
                Attr::Tags => {
                    sync_tags(step, live.arn.as_deref(), &live.tags, d.tags).await?;
                    live.tags = d.tags.clone();
                }
            }
        }
        Ok(live)
    }

    async fn delete(step: &Step<'_>, live: &Found<Self>) -> Result<()> {
        let rds = &step.aws().rds;
        let patience = std::time::Duration::from_secs(10 * 60);
        // Still used by a database that is being deleted.
        retry_while(
            step,
            &["InvalidDBSubnetGroupStateFault"],
            "waiting for the database to release it",
            patience,
            || async {
                gone_ok(
                    rds.delete_db_subnet_group()
                        .db_subnet_group_name(&live.id)
                        .send()
                        .await
                        .aws_on("rds:DeleteDBSubnetGroup", &live.id),
                )
            },
        )
        .await
    }
}

fn to_found(g: &SdkDbSubnetGroup, tags: Tags, stack: &str) -> Option<Found<DbSubnetGroup>> {
    let mut subnets: Vec<String> = g
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_string))
        .collect();
    subnets.sort();
    let ours = is_of_stack(&tags, stack);
    let address = tags
        .get(TAG_ADDRESS)
        .filter(|_| ours)
        .cloned()
        .unwrap_or_else(|| ADDRESS.to_string());
    let origin = if ours { Origin::Ours } else { Origin::Foreign };
    Some(
        DbSubnetGroup::found(
            address,
            g.db_subnet_group_name()?,
            g.subnet_group_status().unwrap_or("Complete"),
            Readiness::Ready,
            Observed { subnets },
        )
        .with_arn(g.db_subnet_group_arn())
        .with_tags(tags)
        .with_origin(origin),
    )
}

async fn describe(aws: &Aws, name: &str) -> Result<Option<SdkDbSubnetGroup>> {
    let out = existing(
        aws.rds
            .describe_db_subnet_groups()
            .db_subnet_group_name(name)
            .send()
            .await
            .aws_on("rds:DescribeDBSubnetGroups", name),
    )?;
    Ok(out.and_then(|out| out.db_subnet_groups().first().cloned()))
}

async fn create_named(
    step: &Step<'_>,
    d: &Desired<'_, DbSubnetGroup>,
    subnet_ids: Vec<String>,
) -> Result<Found<DbSubnetGroup>> {
    let result = step
        .aws()
        .rds
        .create_db_subnet_group()
        .db_subnet_group_name(d.name)
        .db_subnet_group_description(&d.spec.description)
        .set_subnet_ids(Some(subnet_ids))
        .set_tags(Some(rds_tags(d.tags)))
        .send()
        .await
        .aws_on("rds:CreateDBSubnetGroup", d.name);
    let (group, tags) = match result {
        Ok(out) => (out.db_subnet_group, d.tags.clone()),
        Err(e) if has_code(&e, "DBSubnetGroupAlreadyExists") => {
            let group = describe(step.aws(), d.name).await?;
            let tags = rds::list_tags(step.aws(), group.as_ref().and_then(|g| g.db_subnet_group_arn())).await?;
            (group, tags)
        }
        Err(e) => return Err(e),
    };
    let group = group.ok_or_else(|| anyhow!("CreateDBSubnetGroup returned nothing"))?;
    ours(to_found(&group, tags, &step.ctx.stack).ok_or_else(|| anyhow!("DB subnet group without a name"))?)
}
