//! The DB subnet group: the private subnets the database may live in.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use aws_sdk_rds::types::{DbSubnetGroup, Tag};
use serde_json::{json, Value};

use super::gone_ok;
use super::{live_user_tags, no_update, Step, TAG_ADDRESS, TAG_STACK};
use crate::aws::errors::{has_code, AwsResultExt};
use crate::aws::Aws;
use crate::config::Stack;
use crate::graph::build::DB_SUBNET_GROUP;
use crate::graph::{Kind, Resource, Spec};
use crate::live::{Live, Readiness};
use crate::plan::diff::{Attr, Compare};
use crate::plan::{ResourceAction, KNOWN_AFTER_APPLY};

pub fn attrs(stack: &Stack, r: &Resource, id_of: &dyn Fn(&str) -> Option<String>) -> Vec<Attr> {
    let Spec::DbSubnetGroup { subnets } = &r.spec else {
        return vec![];
    };
    let subnets: Vec<Value> = subnets
        .iter()
        .map(|s| id_of(s).unwrap_or_else(|| KNOWN_AFTER_APPLY.into()).into())
        .collect();
    vec![
        Attr::in_place(
            "subnets",
            "network.azs",
            Value::Array(subnets),
            "rds:ModifyDBSubnetGroup",
        )
        .compare(Compare::Unordered),
        Attr::in_place("tags", "stack.tags", json!(stack.meta.tags), "rds:AddTagsToResource"),
    ]
}

pub fn rds_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
        .collect()
}

fn to_live(g: &DbSubnetGroup, tags: BTreeMap<String, String>, stack: &str) -> Option<Live> {
    let mut subnets: Vec<String> = g
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_string))
        .collect();
    subnets.sort();
    let ours = tags.get(TAG_STACK).map(String::as_str) == Some(stack);
    let address = tags
        .get(TAG_ADDRESS)
        .filter(|_| ours)
        .cloned()
        .unwrap_or_else(|| DB_SUBNET_GROUP.to_string());
    let mut live = Live::new(
        Kind::DbSubnetGroup,
        address,
        g.db_subnet_group_name()?,
        g.subnet_group_status().unwrap_or("Complete"),
        Readiness::Ready,
    )
    .with_arn(g.db_subnet_group_arn().map(str::to_string))
    .attr("subnets", json!(subnets))
    .attr("tags", live_user_tags(&tags));
    if !ours {
        live = live.detail("foreign", true);
    }
    Some(live.with_tags(tags))
}

async fn describe(aws: &Aws, name: &str) -> Result<Option<DbSubnetGroup>> {
    let out = super::found(
        aws.rds
            .describe_db_subnet_groups()
            .db_subnet_group_name(name)
            .send()
            .await
            .aws("rds:DescribeDBSubnetGroups"),
    )?;
    Ok(out.and_then(|out| out.db_subnet_groups().first().cloned()))
}

pub async fn discover(aws: &Aws, stack: &str) -> Result<Vec<Live>> {
    let name = crate::config::db_identifier(stack);
    let Some(group) = describe(aws, &name).await? else {
        return Ok(vec![]);
    };
    let tags = match group.db_subnet_group_arn() {
        Some(arn) => tag_map(
            aws.rds
                .list_tags_for_resource()
                .resource_name(arn)
                .send()
                .await
                .aws("rds:ListTagsForResource")?
                .tag_list(),
        ),
        None => BTreeMap::new(),
    };
    Ok(to_live(&group, tags, stack).into_iter().collect())
}

pub async fn create(step: &Step<'_>, r: &Resource) -> Result<Live> {
    let Spec::DbSubnetGroup { subnets } = &r.spec else {
        bail!("internal error: {} is not a DB subnet group", r.address)
    };
    let subnet_ids = subnets.iter().map(|s| step.ctx.id_of(s)).collect::<Result<Vec<_>>>()?;
    create_named(step, &r.address, &r.name, subnet_ids).await
}

async fn create_named(step: &Step<'_>, address: &str, name: &str, subnet_ids: Vec<String>) -> Result<Live> {
    let tags = super::tags(&step.ctx.stack, address, name);
    let result = step
        .aws()
        .rds
        .create_db_subnet_group()
        .db_subnet_group_name(name)
        .db_subnet_group_description(format!("ekstack {}: private subnets", step.ctx.stack_name()))
        .set_subnet_ids(Some(subnet_ids))
        .set_tags(Some(rds_tags(&tags)))
        .send()
        .await
        .aws("rds:CreateDBSubnetGroup");
    let (group, tags) = match result {
        Ok(out) => (out.db_subnet_group, tags),
        Err(e) if has_code(&e, "DBSubnetGroupAlreadyExists") => {
            let group = describe(step.aws(), name).await?;
            let arn = group
                .as_ref()
                .and_then(|g| g.db_subnet_group_arn())
                .unwrap_or_default()
                .to_string();
            let tags = step
                .aws()
                .rds
                .list_tags_for_resource()
                .resource_name(arn)
                .send()
                .await
                .aws("rds:ListTagsForResource")?;
            (group, tag_map(tags.tag_list()))
        }
        Err(e) => return Err(e),
    };
    let group = group.ok_or_else(|| anyhow!("CreateDBSubnetGroup returned nothing"))?;
    super::ours(to_live(&group, tags, step.ctx.stack_name()).ok_or_else(|| anyhow!("DB subnet group without a name"))?)
}

pub async fn update(step: &Step<'_>, r: &Resource, live: &Live, action: &ResourceAction) -> Result<Live> {
    let Spec::DbSubnetGroup { subnets } = &r.spec else {
        bail!("internal error: {} is not a DB subnet group", r.address)
    };
    let rds = &step.aws().rds;
    let mut live = live.clone();
    for change in &action.changes {
        match change.attribute.as_str() {
            "subnets" => {
                let subnet_ids = subnets.iter().map(|s| step.ctx.id_of(s)).collect::<Result<Vec<_>>>()?;
                rds.modify_db_subnet_group()
                    .db_subnet_group_name(&live.id)
                    .set_subnet_ids(Some(subnet_ids.clone()))
                    .send()
                    .await
                    .aws("rds:ModifyDBSubnetGroup")?;
                // moto 5 drops the group on modify; put it back if so.
                if describe(step.aws(), &live.id).await?.is_none() {
                    live = create_named(step, &r.address, &live.id, subnet_ids.clone()).await?;
                }
                let mut sorted = subnet_ids;
                sorted.sort();
                live.attrs.insert("subnets".into(), json!(sorted));
            }
            "tags" => {
                let arn = live.arn.clone().ok_or_else(|| anyhow!("{} has no ARN", live.id))?;
                sync_tags(step, &arn, &live.tags).await?;
            }
            _ => return Err(no_update(Kind::DbSubnetGroup, action)),
        }
    }
    Ok(live)
}

/// Brings the user tags of an RDS resource to what the stack file says.
pub async fn sync_tags(step: &Step<'_>, arn: &str, live_tags: &BTreeMap<String, String>) -> Result<()> {
    let (stale, set) = super::tag_changes(live_tags, &step.ctx.stack.meta.tags);
    let rds = &step.aws().rds;
    if !stale.is_empty() {
        rds.remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(stale))
            .send()
            .await
            .aws("rds:RemoveTagsFromResource")?;
    }
    if !set.is_empty() {
        rds.add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(rds_tags(&set)))
            .send()
            .await
            .aws("rds:AddTagsToResource")?;
    }
    Ok(())
}

pub async fn delete(step: &Step<'_>, live: &Live) -> Result<()> {
    let rds = &step.aws().rds;
    let patience = std::time::Duration::from_secs(10 * 60);
    // Still used by a database that is being deleted.
    super::retry_while(
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
                    .aws("rds:DeleteDBSubnetGroup"),
            )
        },
    )
    .await
}
