//! An RDS instance (PostgreSQL or MySQL), single-AZ or Multi-AZ. The master
//! password is managed by RDS in Secrets Manager and never seen by ekstack;
//! storage is encrypted; the instance is never publicly accessible. Deletion
//! takes a final snapshot with a unique dated name unless told otherwise.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use aws_sdk_rds::types::{DbInstance, Filter};
use serde_json::{json, Value};

use super::db_subnet_group::{rds_tags, sync_tags, tag_map};
use super::{live_user_tags, no_update, poll, ready_timeout, Polled, Step, TAG_ADDRESS, TAG_STACK};
use crate::aws::errors::{has_code, is_not_found_error, AwsResultExt};
use crate::aws::Aws;
use crate::config::{Database, Stack};
use crate::graph::build::{cluster_instance_address, DB_INSTANCE};
use crate::graph::{Kind, Resource, Spec};
use crate::live::{Live, Readiness};
use crate::plan::diff::{Attr, Compare, Verdict};
use crate::plan::ResourceAction;

/// Desired attributes shared by standalone and Aurora instances.
pub fn attrs(stack: &Stack, r: &Resource) -> Vec<Attr> {
    let Spec::DbInstance { db, .. } = &r.spec else {
        return vec![];
    };
    let data_loss = "a new database is made; its data does not carry over (restore from the final snapshot or a dump)";
    // Whether it is Multi-AZ *now* decides the outage; say both.
    let outage =
        "an outage of ~1-2 min if the instance is Multi-AZ (the standby takes over), several minutes if single-AZ";
    vec![
        Attr::replace("engine", "database.engine", db.engine.as_str(), data_loss),
        Attr::in_place(
            "version",
            "database.version",
            db.version.clone(),
            "rds:ModifyDBInstance",
        )
        .compare(Compare::VersionPrefix)
        .guard(engine_version_guard),
        Attr::in_place("class", "database.class", db.class.clone(), "rds:ModifyDBInstance")
            .note(format!("class change: {outage}")),
        Attr::in_place(
            "storage_gib",
            "database.storage_gib",
            db.storage_gib.unwrap_or(20),
            "rds:ModifyDBInstance",
        )
        .guard(storage_guard),
        Attr::in_place("multi_az", "database.multi_az", db.multi_az, "rds:ModifyDBInstance").guard(multi_az_guard),
        Attr::in_place(
            "backup_retention_days",
            "database.backup_retention_days",
            db.backup_retention_days,
            "rds:ModifyDBInstance",
        )
        .guard(backup_guard),
        Attr::in_place(
            "deletion_protection",
            "database.deletion_protection",
            db.deletion_protection,
            "rds:ModifyDBInstance",
        )
        .note("no downtime"),
        Attr::in_place(
            "performance_insights",
            "database.performance_insights",
            db.performance_insights,
            "rds:ModifyDBInstance",
        )
        .note("no downtime"),
        Attr::replace("username", "database.username", db.username.clone(), data_loss),
        Attr::replace("db_name", "database.db_name", db.db_name.clone(), data_loss),
        Attr::in_place("publicly_accessible", "database", false, "rds:ModifyDBInstance"),
        running_attr(stack, "rds:StartDBInstance", "rds:StopDBInstance"),
        Attr::in_place("tags", "stack.tags", json!(stack.meta.tags), "rds:AddTagsToResource"),
    ]
}

/// Running or stopped: `ekstack sleep` stops the database, apply starts it.
pub fn running_attr(stack: &Stack, start: &'static str, stop: &'static str) -> Attr {
    let via = if stack.meta.asleep { stop } else { start };
    Attr::in_place("running", "database", !stack.meta.asleep, via).guard(running_guard)
}

fn running_guard(_before: &Value, after: &Value) -> Verdict {
    if after.as_bool() == Some(false) {
        Verdict::AllowedWithNote(
            "stopped to save cost; storage still bills, and AWS starts a stopped database again after 7 days".into(),
        )
    } else {
        Verdict::AllowedWithNote("started again (it was stopped by `ekstack sleep`): a few minutes".into())
    }
}

pub(crate) fn major(v: &str) -> &str {
    // "16.4" → "16"; MySQL "8.0.39" → "8.0".
    let parts: Vec<&str> = v.split('.').collect();
    if parts.first().is_some_and(|p| p.parse::<u32>().is_ok_and(|n| n >= 10)) {
        parts[0]
    } else {
        let end = v.match_indices('.').nth(1).map(|(i, _)| i).unwrap_or(v.len());
        &v[..end]
    }
}

fn version_key(v: &str) -> Vec<u32> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

pub fn engine_version_guard(before: &Value, after: &Value) -> Verdict {
    let (Some(b), Some(a)) = (before.as_str(), after.as_str()) else {
        return Verdict::Allowed;
    };
    if version_key(major(a)) < version_key(major(b)) {
        return Verdict::Impossible(format!(
            "RDS cannot downgrade an engine ({b} → {a}); keep database.version = \"{}\", or restore a dump into a new database",
            major(b)
        ));
    }
    if major(a) != major(b) {
        Verdict::AllowedWithNote(format!(
            "major upgrade {} → {} (AllowMajorVersionUpgrade): outage of 10-30 min, not reversible; take a snapshot and test first",
            major(b),
            major(a)
        ))
    } else {
        Verdict::AllowedWithNote("minor upgrade: brief outage while the engine restarts".into())
    }
}

fn storage_guard(before: &Value, after: &Value) -> Verdict {
    match (before.as_i64(), after.as_i64()) {
        (Some(b), Some(a)) if a < b => Verdict::Impossible(format!(
            "RDS storage can only grow ({b} GiB → {a} GiB); keep database.storage_gib = {b}, or move the data to a new, smaller database with a dump"
        )),
        (Some(b), Some(a)) if a > b => Verdict::AllowedWithNote(format!(
            "storage grows {b} → {a} GiB with no downtime; the next storage change is possible after 6 hours"
        )),
        _ => Verdict::Allowed,
    }
}

fn multi_az_guard(_before: &Value, after: &Value) -> Verdict {
    if after.as_bool() == Some(true) {
        Verdict::AllowedWithNote(
            "Multi-AZ conversion: no downtime, ~10 min (a standby is built from a snapshot)".into(),
        )
    } else {
        Verdict::AllowedWithNote("back to single-AZ: no downtime; the standby is removed".into())
    }
}

fn backup_guard(before: &Value, after: &Value) -> Verdict {
    if before.as_i64() == Some(0) && after.as_i64().is_some_and(|a| a > 0) {
        Verdict::AllowedWithNote("turning backups on: brief outage while the first backup starts".into())
    } else if after.as_i64() == Some(0) {
        Verdict::AllowedWithNote("turning backups off deletes existing automated backups".into())
    } else {
        Verdict::AllowedWithNote("no downtime".into())
    }
}

fn readiness(status: &str, pending_modifications: bool) -> Readiness {
    match status {
        "available" | "storage-optimization" | "storage-full" if !pending_modifications => Readiness::Ready,
        "stopped" => Readiness::Stopped,
        "deleting" => Readiness::Deleting,
        s if s == "failed" || s.starts_with("incompatible") || s.starts_with("inaccessible") => Readiness::Failed,
        _ => Readiness::Pending,
    }
}

pub(crate) fn to_live(d: &DbInstance, stack: &str) -> Option<Live> {
    let id = d.db_instance_identifier()?;
    let tags = tag_map(d.tag_list());
    let ours = tags.get(TAG_STACK).map(String::as_str) == Some(stack);
    let in_cluster = d.db_cluster_identifier().is_some();
    let kind = if in_cluster {
        Kind::DbClusterInstance
    } else {
        Kind::DbInstance
    };
    let fallback = if in_cluster {
        let ordinal = id.rsplit('-').next().and_then(|n| n.parse().ok()).unwrap_or(0);
        cluster_instance_address(ordinal)
    } else {
        DB_INSTANCE.to_string()
    };
    let address = tags.get(TAG_ADDRESS).filter(|_| ours).cloned().unwrap_or(fallback);
    let status = d.db_instance_status().unwrap_or_default().to_string();
    let pending = d.pending_modified_values().is_some_and(|p| {
        p.db_instance_class().is_some()
            || p.allocated_storage().is_some()
            || p.multi_az().is_some()
            || p.engine_version().is_some()
    });
    let mut live = Live::new(kind, address, id, status.clone(), readiness(&status, pending))
        .with_arn(d.db_instance_arn().map(str::to_string))
        .attr("engine", d.engine().unwrap_or_default())
        .attr("version", d.engine_version().unwrap_or_default())
        .attr("class", d.db_instance_class().unwrap_or_default())
        .attr("publicly_accessible", d.publicly_accessible().unwrap_or(false))
        .attr("running", !matches!(status.as_str(), "stopped" | "stopping"))
        .attr("tags", live_user_tags(&tags));
    if !in_cluster {
        live = live
            .attr("storage_gib", d.allocated_storage().unwrap_or(0))
            .attr("multi_az", d.multi_az().unwrap_or(false))
            .attr("backup_retention_days", d.backup_retention_period().unwrap_or(0))
            .attr("deletion_protection", d.deletion_protection().unwrap_or(false))
            .attr("username", d.master_username().unwrap_or_default())
            .attr("db_name", d.db_name().unwrap_or_default());
    } else {
        live = live.detail("cluster", d.db_cluster_identifier().unwrap_or_default());
    }
    // moto never reports Performance Insights; only compare what AWS says.
    if let Some(pi) = d.performance_insights_enabled() {
        live = live.attr("performance_insights", pi);
    }
    if let Some(e) = d.endpoint() {
        live = live
            .detail("endpoint", e.address().unwrap_or_default())
            .detail("port", e.port().unwrap_or(0));
    }
    if let Some(secret) = d.master_user_secret().and_then(|s| s.secret_arn()) {
        live = live.detail("secret_arn", secret);
    }
    if let Some(az) = d.availability_zone() {
        live = live.detail("az", az);
    }
    if !ours {
        live = live.detail("foreign", true);
    }
    Some(live.with_tags(tags))
}

/// The stack's instances (standalone and Aurora members) in one call.
pub async fn discover(aws: &Aws, stack: &str) -> Result<Vec<Live>> {
    let base = crate::config::db_identifier(stack);
    let mut ids = vec![base.clone()];
    ids.extend((1..=16).map(|n| format!("{base}-{n}")));
    let out = aws
        .rds
        .describe_db_instances()
        .filters(Filter::builder().name("db-instance-id").set_values(Some(ids)).build())
        .send()
        .await
        .aws("rds:DescribeDBInstances")?;
    Ok(out.db_instances().iter().filter_map(|d| to_live(d, stack)).collect())
}

pub(crate) async fn describe(aws: &Aws, id: &str) -> Result<Option<DbInstance>> {
    let out = super::found(
        aws.rds
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .aws("rds:DescribeDBInstances"),
    )?;
    Ok(out.and_then(|out| out.db_instances().first().cloned()))
}

pub async fn create(step: &Step<'_>, r: &Resource) -> Result<Live> {
    let Spec::DbInstance {
        db,
        subnet_group,
        security_group,
    } = &r.spec
    else {
        bail!("internal error: {} is not a DB instance", r.address)
    };
    let group = step.ctx.id_of(subnet_group)?;
    let sg = step.ctx.id_of(security_group)?;
    let tags: BTreeMap<String, String> = super::tags(&step.ctx.stack, &r.address, &r.name);
    let result = step
        .aws()
        .rds
        .create_db_instance()
        .db_instance_identifier(&r.name)
        .engine(db.engine.as_str())
        .engine_version(&db.version)
        .db_instance_class(&db.class)
        .allocated_storage(db.storage_gib.unwrap_or(20))
        .storage_type("gp3")
        .storage_encrypted(true)
        .publicly_accessible(false)
        .multi_az(db.multi_az)
        .backup_retention_period(db.backup_retention_days)
        .deletion_protection(db.deletion_protection)
        .enable_performance_insights(db.performance_insights)
        .master_username(&db.username)
        .manage_master_user_password(true)
        .db_name(&db.db_name)
        .port(db.engine.port())
        .db_subnet_group_name(group)
        .vpc_security_group_ids(sg)
        .copy_tags_to_snapshot(true)
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

/// Waits for `available` with no pending modifications (or `stopped`, when
/// that is where it is going).
pub async fn wait_ready(step: &Step<'_>, live: &Live) -> Result<Live> {
    wait_for(step, live, Readiness::Ready).await
}

pub async fn wait_for(step: &Step<'_>, live: &Live, target: Readiness) -> Result<Live> {
    let stack = step.ctx.stack_name().to_string();
    poll(
        step,
        &format!("database {}", live.id),
        ready_timeout(live.kind),
        || async {
            let d = describe(step.aws(), &live.id)
                .await?
                .ok_or_else(|| anyhow!("database {} disappeared", live.id))?;
            let l = to_live(&d, &stack).ok_or_else(|| anyhow!("database without an identifier"))?;
            match l.readiness {
                r if r == target => Ok(Polled::Ready(l)),
                Readiness::Failed => bail!("database {} is {}", live.id, l.state),
                Readiness::Deleting => bail!("database {} is being deleted", live.id),
                _ => Ok(Polled::Pending(l.state)),
            }
        },
    )
    .await
}

pub async fn update(step: &Step<'_>, r: &Resource, live: &Live, action: &ResourceAction) -> Result<Live> {
    let Spec::DbInstance { db, .. } = &r.spec else {
        bail!("internal error: {} is not a DB instance", r.address)
    };
    modify(step, live, db, action).await
}

/// The running state comes first: `ekstack sleep` only stops a database
/// (the `true` returned: nothing else to do), and a stopped database cannot be
/// modified, so it is started before anything else changes. Shared by
/// instances and Aurora clusters, which differ only in the calls.
pub(crate) async fn settle_running<StopFut, StartFut, WaitFut>(
    step: &Step<'_>,
    live: &Live,
    action: &ResourceAction,
    stop: impl FnOnce() -> StopFut,
    start: impl FnOnce() -> StartFut,
    wait_ready: impl FnOnce() -> WaitFut,
) -> Result<(Live, bool)>
where
    StopFut: std::future::Future<Output = Result<Live>>,
    StartFut: std::future::Future<Output = Result<()>>,
    WaitFut: std::future::Future<Output = Result<Live>>,
{
    if step.ctx.stack.meta.asleep {
        if live.readiness == Readiness::Stopped {
            return Ok((live.clone(), true));
        }
        step.status("stopping");
        return Ok((stop().await?, true));
    }
    if action.changes_attribute("running") || live.readiness == Readiness::Stopped {
        step.status("starting");
        start().await?;
        return Ok((wait_ready().await?, false));
    }
    Ok((live.clone(), false))
}

/// Applies the in-place changes of a standalone or Aurora instance.
pub async fn modify(step: &Step<'_>, live: &Live, db: &Database, action: &ResourceAction) -> Result<Live> {
    let rds = &step.aws().rds;
    let start = || async {
        let started = rds.start_db_instance().db_instance_identifier(&live.id).send().await;
        match started.aws("rds:StartDBInstance") {
            Err(e) if has_code(&e, "InvalidDBInstanceState") => Ok(()),
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
        .modify_db_instance()
        .db_instance_identifier(&live.id)
        .apply_immediately(true);
    let mut any = false;
    for change in &action.changes {
        any |= !matches!(change.attribute.as_str(), "running" | "tags");
        call = match change.attribute.as_str() {
            "version" => {
                let current = live.attrs.get("version").and_then(|v| v.as_str()).unwrap_or_default();
                call.engine_version(&db.version)
                    .allow_major_version_upgrade(major(current) != major(&db.version))
            }
            "class" => call.db_instance_class(&db.class),
            "storage_gib" => call.allocated_storage(db.storage_gib.unwrap_or(20)),
            "multi_az" => call.multi_az(db.multi_az),
            "backup_retention_days" => call.backup_retention_period(db.backup_retention_days),
            "deletion_protection" => call.deletion_protection(db.deletion_protection),
            "performance_insights" => call.enable_performance_insights(db.performance_insights),
            "publicly_accessible" => call.publicly_accessible(false),
            "running" | "tags" => call,
            _ => return Err(no_update(live.kind, action)),
        };
    }
    if any {
        call.send().await.aws("rds:ModifyDBInstance")?;
        // RDS takes a moment to move to "modifying"; readiness also checks the
        // pending modifications so the wait cannot end before it starts.
        step.ctx.pause(std::time::Duration::from_secs(2)).await;
        live = wait_ready(step, &live).await?;
    }
    if action.changes_attribute("tags") {
        let arn = live.arn.clone().ok_or_else(|| anyhow!("{} has no ARN", live.id))?;
        sync_tags(step, &arn, &live.tags).await?;
    }
    Ok(live)
}

/// Stops a standalone instance (`ekstack sleep`).
pub async fn stop(step: &Step<'_>, live: &Live) -> Result<Live> {
    match step
        .aws()
        .rds
        .stop_db_instance()
        .db_instance_identifier(&live.id)
        .send()
        .await
        .aws("rds:StopDBInstance")
    {
        Err(e) if has_code(&e, "InvalidDBInstanceState") && live.readiness == Readiness::Stopped => {
            return Ok(live.clone())
        }
        other => {
            other?;
        }
    }
    wait_for(step, live, Readiness::Stopped).await
}

/// A unique, dated snapshot name, so a second destroy never collides.
pub fn final_snapshot_name(id: &str) -> String {
    let now = time::OffsetDateTime::now_utc();
    let stamp = now
        .format(&time::macros::format_description!(
            "[year][month][day]-[hour][minute][second]"
        ))
        .unwrap_or_else(|_| "now".into());
    format!("{id}-final-{stamp}")
}

pub async fn delete(step: &Step<'_>, live: &Live) -> Result<()> {
    let aws = step.aws();
    let snapshot = super::takes_final_snapshot(&step.ctx.stack, step.ctx.options.skip_final_snapshot);
    let mut call = aws
        .rds
        .delete_db_instance()
        .db_instance_identifier(&live.id)
        .delete_automated_backups(false);
    let name = final_snapshot_name(&live.id);
    call = if snapshot {
        call.final_db_snapshot_identifier(&name).skip_final_snapshot(false)
    } else {
        call.skip_final_snapshot(true)
    };
    match call.send().await.aws("rds:DeleteDBInstance") {
        Err(e) if is_not_found_error(&e) => return Ok(()),
        // Already on its way out (a re-run of a destroy): just wait for it.
        Err(_) if live.readiness == Readiness::Deleting => {}
        Err(e) if has_code(&e, "InvalidDBInstanceState") && live.readiness == Readiness::Deleting => {}
        other => {
            other?;
            if snapshot {
                let gib = live.attrs.get("storage_gib").and_then(|v| v.as_i64()).unwrap_or(0);
                step.ctx.note(super::Note::Snapshot {
                    name: name.clone(),
                    gib,
                    of: live.id.clone(),
                });
            }
        }
    }
    wait_gone(step, live).await
}

pub(crate) async fn wait_gone(step: &Step<'_>, live: &Live) -> Result<()> {
    let aws = step.aws();
    poll(
        step,
        &format!("database {} to be deleted", live.id),
        ready_timeout(live.kind),
        || async {
            match describe(aws, &live.id).await? {
                None => Ok(Polled::Ready(())),
                Some(d) => Ok(Polled::Pending(d.db_instance_status().unwrap_or_default().to_string())),
            }
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majors() {
        assert_eq!(major("16.4"), "16");
        assert_eq!(major("16"), "16");
        assert_eq!(major("8.0.39"), "8.0");
        assert!(matches!(
            engine_version_guard(&json!("16.4"), &json!("15")),
            Verdict::Impossible(_)
        ));
        assert!(
            matches!(engine_version_guard(&json!("15.7"), &json!("16")), Verdict::AllowedWithNote(n) if n.contains("major"))
        );
        assert!(matches!(storage_guard(&json!(50), &json!(20)), Verdict::Impossible(_)));
    }
}
