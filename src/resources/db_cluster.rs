//! An Aurora cluster (PostgreSQL or MySQL compatible), provisioned or
//! Serverless v2. Its instances are `db_cluster_instance`s.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use aws_sdk_rds::types::{DbCluster, Filter, ServerlessV2ScalingConfiguration};
use serde_json::json;

use super::db_instance::{engine_version_guard, final_snapshot_name, major, running_attr, settle_running};
use super::db_subnet_group::{rds_tags, sync_tags, tag_map};
use super::{live_user_tags, no_update, poll, ready_timeout, Polled, Step, TAG_ADDRESS, TAG_STACK};
use crate::aws::errors::{has_code, is_not_found_error, AwsResultExt};
use crate::aws::Aws;
use crate::config::Stack;
use crate::graph::build::DB_CLUSTER;
use crate::graph::{Kind, Resource, Spec};
use crate::live::{Live, Readiness};
use crate::plan::diff::{Attr, Compare};
use crate::plan::ResourceAction;

pub fn attrs(stack: &Stack, r: &Resource) -> Vec<Attr> {
    let Spec::DbCluster { db, .. } = &r.spec else {
        return vec![];
    };
    let data_loss = "a new cluster is made; its data does not carry over (restore from the final snapshot or a dump)";
    let mut attrs = vec![
        Attr::replace("engine", "database.engine", db.engine.as_str(), data_loss),
        Attr::in_place("version", "database.version", db.version.clone(), "rds:ModifyDBCluster")
            .compare(Compare::VersionPrefix)
            .guard(engine_version_guard),
        Attr::in_place(
            "backup_retention_days",
            "database.backup_retention_days",
            db.backup_retention_days,
            "rds:ModifyDBCluster",
        )
        .note("no downtime"),
        Attr::in_place(
            "deletion_protection",
            "database.deletion_protection",
            db.deletion_protection,
            "rds:ModifyDBCluster",
        )
        .note("no downtime"),
        Attr::replace("username", "database.username", db.username.clone(), data_loss),
        Attr::replace("db_name", "database.db_name", db.db_name.clone(), data_loss),
        running_attr(stack, "rds:StartDBCluster", "rds:StopDBCluster"),
        Attr::in_place("tags", "stack.tags", json!(stack.meta.tags), "rds:AddTagsToResource"),
    ];
    if let Some(s) = db.serverless {
        attrs.push(
            Attr::in_place(
                "serverless",
                "database.serverless",
                json!({"min_acu": s.min_acu, "max_acu": s.max_acu}),
                "rds:ModifyDBCluster",
            )
            .note("no downtime"),
        );
    }
    attrs
}

fn readiness(status: &str) -> Readiness {
    match status {
        "available" => Readiness::Ready,
        "stopped" => Readiness::Stopped,
        "deleting" => Readiness::Deleting,
        s if s == "failed" || s.starts_with("inaccessible") || s.starts_with("incompatible") => Readiness::Failed,
        _ => Readiness::Pending,
    }
}

fn to_live(c: &DbCluster, stack: &str) -> Option<Live> {
    let id = c.db_cluster_identifier()?;
    let tags = tag_map(c.tag_list());
    let ours = tags.get(TAG_STACK).map(String::as_str) == Some(stack);
    let address = tags
        .get(TAG_ADDRESS)
        .filter(|_| ours)
        .cloned()
        .unwrap_or_else(|| DB_CLUSTER.to_string());
    let status = c.status().unwrap_or_default().to_string();
    let mut live = Live::new(Kind::DbCluster, address, id, status.clone(), readiness(&status))
        .with_arn(c.db_cluster_arn().map(str::to_string))
        .attr("engine", c.engine().unwrap_or_default())
        .attr("version", c.engine_version().unwrap_or_default())
        .attr("backup_retention_days", c.backup_retention_period().unwrap_or(0))
        .attr("deletion_protection", c.deletion_protection().unwrap_or(false))
        .attr("username", c.master_username().unwrap_or_default())
        .attr("db_name", c.database_name().unwrap_or_default())
        .attr("running", !matches!(status.as_str(), "stopped" | "stopping"))
        .attr("tags", live_user_tags(&tags));
    if let Some(s) = c.serverless_v2_scaling_configuration() {
        live = live.attr(
            "serverless",
            json!({"min_acu": s.min_capacity().unwrap_or(0.0), "max_acu": s.max_capacity().unwrap_or(0.0)}),
        );
    }
    if let Some(e) = c.endpoint() {
        live = live.detail("endpoint", e);
    }
    if let Some(e) = c.reader_endpoint() {
        live = live.detail("reader_endpoint", e);
    }
    if let Some(p) = c.port() {
        live = live.detail("port", p);
    }
    if let Some(secret) = c.master_user_secret().and_then(|s| s.secret_arn()) {
        live = live.detail("secret_arn", secret);
    }
    if !ours {
        live = live.detail("foreign", true);
    }
    Some(live.with_tags(tags))
}

pub async fn discover(aws: &Aws, stack: &str) -> Result<Vec<Live>> {
    let out = aws
        .rds
        .describe_db_clusters()
        .filters(
            Filter::builder()
                .name("db-cluster-id")
                .values(crate::config::db_identifier(stack))
                .build(),
        )
        .send()
        .await
        .aws("rds:DescribeDBClusters")?;
    Ok(out.db_clusters().iter().filter_map(|c| to_live(c, stack)).collect())
}

async fn describe(aws: &Aws, id: &str) -> Result<Option<DbCluster>> {
    let out = super::found(
        aws.rds
            .describe_db_clusters()
            .db_cluster_identifier(id)
            .send()
            .await
            .aws("rds:DescribeDBClusters"),
    )?;
    Ok(out.and_then(|out| out.db_clusters().first().cloned()))
}

fn scaling(min: f64, max: f64) -> ServerlessV2ScalingConfiguration {
    ServerlessV2ScalingConfiguration::builder()
        .min_capacity(min)
        .max_capacity(max)
        .build()
}

pub async fn create(step: &Step<'_>, r: &Resource) -> Result<Live> {
    let Spec::DbCluster {
        db,
        subnet_group,
        security_group,
    } = &r.spec
    else {
        bail!("internal error: {} is not a DB cluster", r.address)
    };
    let group = step.ctx.id_of(subnet_group)?;
    let sg = step.ctx.id_of(security_group)?;
    let tags: BTreeMap<String, String> = super::tags(&step.ctx.stack, &r.address, &r.name);
    let mut call = step
        .aws()
        .rds
        .create_db_cluster()
        .db_cluster_identifier(&r.name)
        .engine(db.engine.as_str())
        .engine_version(&db.version)
        .master_username(&db.username)
        .manage_master_user_password(true)
        .database_name(&db.db_name)
        .db_subnet_group_name(group)
        .vpc_security_group_ids(sg)
        .storage_encrypted(true)
        .backup_retention_period(db.backup_retention_days)
        .deletion_protection(db.deletion_protection)
        .copy_tags_to_snapshot(true)
        .port(db.engine.port())
        .set_tags(Some(rds_tags(&tags)));
    if let Some(s) = db.serverless {
        call = call.serverless_v2_scaling_configuration(scaling(s.min_acu, s.max_acu));
    }
    let cluster = match call.send().await.aws("rds:CreateDBCluster") {
        Ok(out) => out.db_cluster,
        Err(e) if has_code(&e, "DBClusterAlreadyExistsFault") => describe(step.aws(), &r.name).await?,
        Err(e) => return Err(e),
    };
    let cluster = cluster.ok_or_else(|| anyhow!("CreateDBCluster returned nothing"))?;
    super::ours(to_live(&cluster, step.ctx.stack_name()).ok_or_else(|| anyhow!("DB cluster without an identifier"))?)
}

pub async fn wait_ready(step: &Step<'_>, live: &Live) -> Result<Live> {
    wait_for(step, live, Readiness::Ready).await
}

pub async fn wait_for(step: &Step<'_>, live: &Live, target: Readiness) -> Result<Live> {
    let stack = step.ctx.stack_name().to_string();
    poll(
        step,
        &format!("Aurora cluster {}", live.id),
        ready_timeout(Kind::DbCluster),
        || async {
            let c = describe(step.aws(), &live.id)
                .await?
                .ok_or_else(|| anyhow!("Aurora cluster {} disappeared", live.id))?;
            let l = to_live(&c, &stack).ok_or_else(|| anyhow!("cluster without an identifier"))?;
            match l.readiness {
                r if r == target => Ok(Polled::Ready(l)),
                Readiness::Failed => bail!("Aurora cluster {} is {}", live.id, l.state),
                _ => Ok(Polled::Pending(l.state)),
            }
        },
    )
    .await
}

pub async fn update(step: &Step<'_>, r: &Resource, live: &Live, action: &ResourceAction) -> Result<Live> {
    let Spec::DbCluster { db, .. } = &r.spec else {
        bail!("internal error: {} is not a DB cluster", r.address)
    };
    let rds = &step.aws().rds;
    let start = || async {
        let started = rds.start_db_cluster().db_cluster_identifier(&live.id).send().await;
        match started.aws("rds:StartDBCluster") {
            Err(e) if has_code(&e, "InvalidDBClusterStateFault") => Ok(()),
            other => other.map(|_| ()),
        }
    };
    let settled = settle_running(
        step,
        live,
        action,
        || stop(step, live),
        start,
        || wait_ready(step, live),
    )
    .await?;
    let (mut live, asleep) = settled;
    if asleep {
        return Ok(live);
    }
    let mut call = rds
        .modify_db_cluster()
        .db_cluster_identifier(&live.id)
        .apply_immediately(true);
    let mut any = false;
    for change in &action.changes {
        any |= !matches!(change.attribute.as_str(), "running" | "tags");
        call = match change.attribute.as_str() {
            "version" => {
                let current = live.attrs.get("version").and_then(|v| v.as_str()).unwrap_or_default();
                let major_change = major(current) != major(&db.version);
                call.engine_version(&db.version)
                    .allow_major_version_upgrade(major_change)
            }
            "backup_retention_days" => call.backup_retention_period(db.backup_retention_days),
            "deletion_protection" => call.deletion_protection(db.deletion_protection),
            "serverless" => match db.serverless {
                Some(s) => call.serverless_v2_scaling_configuration(scaling(s.min_acu, s.max_acu)),
                None => call,
            },
            "running" | "tags" => call,
            _ => return Err(no_update(Kind::DbCluster, action)),
        };
    }
    if any {
        call.send().await.aws("rds:ModifyDBCluster")?;
        step.ctx.pause(std::time::Duration::from_secs(2)).await;
        live = wait_ready(step, &live).await?;
    }
    if action.changes_attribute("tags") {
        let arn = live.arn.clone().ok_or_else(|| anyhow!("{} has no ARN", live.id))?;
        sync_tags(step, &arn, &live.tags).await?;
    }
    Ok(live)
}

/// Stops the cluster (`ekstack sleep`); its instances stop with it.
pub async fn stop(step: &Step<'_>, live: &Live) -> Result<Live> {
    match step
        .aws()
        .rds
        .stop_db_cluster()
        .db_cluster_identifier(&live.id)
        .send()
        .await
        .aws("rds:StopDBCluster")
    {
        Err(e) if has_code(&e, "InvalidDBClusterStateFault") && live.readiness == Readiness::Stopped => {
            return Ok(live.clone())
        }
        other => {
            other?;
        }
    }
    wait_for(step, live, Readiness::Stopped).await
}

pub async fn delete(step: &Step<'_>, live: &Live) -> Result<()> {
    let aws = step.aws();
    let snapshot = super::takes_final_snapshot(&step.ctx.stack, step.ctx.options.skip_final_snapshot);
    let name = final_snapshot_name(&live.id);
    let mut call = aws.rds.delete_db_cluster().db_cluster_identifier(&live.id);
    call = if snapshot {
        call.final_db_snapshot_identifier(&name).skip_final_snapshot(false)
    } else {
        call.skip_final_snapshot(true)
    };
    match call.send().await.aws("rds:DeleteDBCluster") {
        Err(e) if is_not_found_error(&e) => return Ok(()),
        // Already on its way out (a re-run of a destroy): just wait for it.
        Err(_) if live.readiness == Readiness::Deleting => {}
        other => {
            other?;
            if snapshot {
                step.ctx.note(super::Note::Snapshot {
                    name: name.clone(),
                    gib: 0,
                    of: live.id.clone(),
                });
            }
        }
    }
    poll(
        step,
        &format!("Aurora cluster {} to be deleted", live.id),
        ready_timeout(Kind::DbCluster),
        || async {
            match describe(aws, &live.id).await? {
                None => Ok(Polled::Ready(())),
                Some(c) => Ok(Polled::Pending(c.status().unwrap_or_default().to_string())),
            }
        },
    )
    .await
}
