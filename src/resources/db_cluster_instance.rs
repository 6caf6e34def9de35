//! The instances of an Aurora cluster: the first is the writer, the rest
//! readers (a standby in another AZ).

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use serde_json::json;

use super::db_instance::{describe, to_live, wait_gone};
use super::db_subnet_group::{rds_tags, sync_tags};
use super::{no_update, Step};
use crate::aws::errors::{has_code, is_not_found_error, AwsResultExt};
use crate::config::Stack;
use crate::graph::{Kind, Resource, Spec};
use crate::live::{Live, Readiness};
use crate::plan::diff::Attr;
use crate::plan::ResourceAction;

pub fn attrs(stack: &Stack, r: &Resource) -> Vec<Attr> {
    let Spec::DbClusterInstance { db, .. } = &r.spec else {
        return vec![];
    };
    vec![
        Attr::replace(
            "engine",
            "database.engine",
            db.engine.as_str(),
            "an instance belongs to one engine",
        ),
        Attr::in_place("class", "database.class", db.class.clone(), "rds:ModifyDBInstance")
            .note("this instance restarts; with more than one instance the cluster fails over to another (~30 s)"),
        Attr::in_place(
            "performance_insights",
            "database.performance_insights",
            db.performance_insights,
            "rds:ModifyDBInstance",
        )
        .note("no downtime"),
        Attr::in_place("tags", "stack.tags", json!(stack.meta.tags), "rds:AddTagsToResource"),
    ]
}

pub async fn create(step: &Step<'_>, r: &Resource) -> Result<Live> {
    let Spec::DbClusterInstance { cluster, db, .. } = &r.spec else {
        bail!("internal error: {} is not an Aurora instance", r.address)
    };
    let cluster_id = step.ctx.id_of(cluster)?;
    let tags: BTreeMap<String, String> = super::tags(&step.ctx.stack, &r.address, &r.name);
    let result = step
        .aws()
        .rds
        .create_db_instance()
        .db_instance_identifier(&r.name)
        .db_cluster_identifier(cluster_id)
        .engine(db.engine.as_str())
        .db_instance_class(&db.class)
        .publicly_accessible(false)
        .enable_performance_insights(db.performance_insights)
        .set_tags(Some(rds_tags(&tags)))
        .send()
        .await
        .aws("rds:CreateDBInstance");
    let instance = match result {
        Ok(out) => out.db_instance,
        Err(e) if has_code(&e, "DBInstanceAlreadyExists") => describe(step.aws(), &r.name).await?,
        Err(e) => return Err(e),
    };
    let instance = instance.ok_or_else(|| anyhow!("CreateDBInstance returned nothing"))?;
    super::ours(to_live(&instance, step.ctx.stack_name()).ok_or_else(|| anyhow!("DB instance without an identifier"))?)
}

pub async fn update(step: &Step<'_>, r: &Resource, live: &Live, action: &ResourceAction) -> Result<Live> {
    let Spec::DbClusterInstance { db, .. } = &r.spec else {
        bail!("internal error: {} is not an Aurora instance", r.address)
    };
    let rds = &step.aws().rds;
    let mut call = rds
        .modify_db_instance()
        .db_instance_identifier(&live.id)
        .apply_immediately(true);
    let mut any = false;
    for change in &action.changes {
        call = match change.attribute.as_str() {
            "class" => {
                any = true;
                call.db_instance_class(&db.class)
            }
            "performance_insights" => {
                any = true;
                call.enable_performance_insights(db.performance_insights)
            }
            "tags" => call,
            _ => return Err(no_update(Kind::DbClusterInstance, action)),
        };
    }
    let mut live = live.clone();
    if any {
        call.send().await.aws("rds:ModifyDBInstance")?;
        step.ctx.pause(std::time::Duration::from_secs(2)).await;
        live = super::db_instance::wait_ready(step, &live).await?;
    }
    if action.changes_attribute("tags") {
        let arn = live.arn.clone().ok_or_else(|| anyhow!("{} has no ARN", live.id))?;
        sync_tags(step, &arn, &live.tags).await?;
    }
    Ok(live)
}

pub async fn delete(step: &Step<'_>, live: &Live) -> Result<()> {
    // Members of a cluster take no snapshot of their own: the cluster's covers them.
    match step
        .aws()
        .rds
        .delete_db_instance()
        .db_instance_identifier(&live.id)
        .send()
        .await
        .aws("rds:DeleteDBInstance")
    {
        Err(e) if is_not_found_error(&e) => return Ok(()),
        // Already on its way out (a re-run of a destroy): just wait for it.
        Err(_) if live.readiness == Readiness::Deleting => {}
        Err(e) if has_code(&e, "InvalidDBInstanceState") => {}
        other => {
            other?;
        }
    }
    wait_gone(step, live).await
}
