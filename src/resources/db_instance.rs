//! An RDS instance (PostgreSQL or MySQL), single-AZ or Multi-AZ. The master
//! password is managed by RDS in Secrets Manager and never seen by ekstack;
//! storage is encrypted; the instance is never publicly accessible. Deletion
//! takes a final snapshot with a unique dated name unless told otherwise.

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use aws_sdk_rds::types::{DbInstance as SdkDbInstance, Filter};

use super::db_parameter_group::Scope;
use super::db_subnet_group::DbSubnetGroup;
use super::rds::{
    self, engine_version_guard, final_snapshot_name, major, rds_tags, running_guard, settle_running, ParameterLink,
};
use super::security_group::SecurityGroup;
use super::tags::{self, is_of_stack, TAG_ADDRESS};
use super::{existing, ours, poll, Attribute, Blocker, Changes, Desired, Discovery, Found, Inputs, New, Note};
use super::{Kind, Policy, Polled, Ref, Remains, ResourceKind, Step};
use crate::aws::errors::{has_code, is_not_found_error, AwsResultExt};
use crate::aws::Aws;
use crate::config::{db_identifier, Database, Engine, Stack};
use crate::cost::Billable;
use crate::graph::{Address, Graph};
use crate::i18n::Msg;
use crate::live::{named, Live, LiveState, Origin, Readiness};
use crate::plan::Value;

pub const ADDRESS: &str = "db-instance";

pub struct DbInstance;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub db: Database,
    /// False while the stack sleeps: the database is stopped.
    pub running: bool,
    pub subnet_group: Ref<DbSubnetGroup>,
    pub security_group: Ref<SecurityGroup>,
    pub parameters: ParameterLink,
    /// The sleep snapshot it is restored from when it is made again
    /// (`sleep --deep --snapshot`): never made empty in its place.
    pub restore_from: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Observed {
    pub engine: String,
    pub version: String,
    pub class: String,
    pub storage_gib: i32,
    pub multi_az: bool,
    pub backup_retention_days: i32,
    pub deletion_protection: bool,
    /// moto leaves it out of its answers.
    pub performance_insights: Option<bool>,
    /// Whether AWS applies minor engine versions itself.
    pub auto_minor_version_upgrade: bool,
    pub username: String,
    pub db_name: String,
    pub publicly_accessible: bool,
    pub running: bool,
    pub endpoint: Option<String>,
    pub port: Option<i32>,
    /// The Secrets Manager secret RDS manages for the master password.
    pub secret_arn: Option<String>,
    pub az: Option<String>,
    pub subnet_group: Option<String>,
    pub security_groups: Vec<String>,
    /// `ReadReplicaDBInstanceIdentifiers`: its replicas.
    pub replicas: Vec<String>,
    pub parameter_group: Option<String>,
    /// Its parameter group's changes wait for a reboot.
    pub pending_reboot: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    Engine,
    Version,
    Class,
    StorageGib,
    MultiAz,
    BackupRetentionDays,
    DeletionProtection,
    PerformanceInsights,
    AutoMinorVersionUpgrade,
    Username,
    DbName,
    PubliclyAccessible,
    Running,
    ParameterGroup,
    PendingReboot,
    ManagedPassword,
    Tags,
}

const DATA_LOSS: &str =
    "a new database is made; its data does not carry over (restore from the final snapshot or a dump)";
/// Whether it is Multi-AZ *now* decides the outage; say both.
impl ResourceKind for DbInstance {
    const KIND: Kind = Kind::DbInstance;
    const READY_TIMEOUT: Duration = Duration::from_secs(60 * 60);
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    /// DESIGN §8: single-AZ about 6 minutes, Multi-AZ about 15, a restore
    /// from a snapshot about 10, a delete about 5.
    fn usual(verb: super::Verb, spec: Option<&Spec>) -> Option<super::kind::Expected> {
        match (verb, spec) {
            (super::Verb::Create, Some(s)) if s.restore_from.is_some() => super::minutes(
                8.0,
                14.0,
                "RDS is still copying the snapshot's data onto the new volume; more data takes longer",
            ),
            (super::Verb::Create, Some(s)) if s.db.multi_az => super::minutes(
                12.0,
                18.0,
                "RDS is still making the standby in the other AZ and its first backup",
            ),
            (super::Verb::Create, _) => {
                super::minutes(5.0, 8.0, "RDS is still making the instance and its first backup")
            }
            (super::Verb::Delete, _) => super::minutes(
                4.0,
                6.0,
                "RDS is still taking the final snapshot and releasing the storage",
            ),
            (super::Verb::Update, _) => None,
        }
    }

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        // Deleted while the stack sleeps, after a snapshot (`sleep --deep --snapshot`).
        if stack.database_parked() {
            return vec![];
        }
        let Some(db) = stack.database.as_ref().filter(|d| !d.engine.is_aurora()) else {
            return vec![];
        };
        let name = stack.db_identifier();
        vec![New {
            address: ADDRESS.into(),
            tags: tags::of(stack, ADDRESS, &name),
            name,
            spec: Spec {
                db: db.clone(),
                running: !stack.meta.asleep,
                subnet_group: super::db_subnet_group::reference(),
                security_group: super::security_group::database(),
                parameters: ParameterLink::new(stack, &db.family(), Scope::Instance, &db.parameters),
                restore_from: stack
                    .meta
                    .sleep_snapshot
                    .as_ref()
                    .filter(|s| !s.cluster)
                    .map(|s| s.name.clone()),
            },
            after: vec![],
        }]
    }

    fn purpose(d: &Desired<'_, Self>) -> Msg {
        let engine = if d.spec.db.engine.is_postgres() {
            "PostgreSQL"
        } else {
            "MySQL"
        };
        Msg::new("purpose.db_instance").arg("engine", engine)
    }

    fn references(spec: &Spec) -> Vec<Address> {
        let mut refs = vec![spec.subnet_group.address.clone(), spec.security_group.address.clone()];
        refs.extend(spec.parameters.custom.iter().map(|r| r.address.clone()));
        refs
    }

    fn attributes(d: &Desired<'_, Self>, refs: &dyn super::Resolve) -> Vec<Attribute<Self>> {
        let db = &d.spec.db;
        let link = d.spec.parameters.clone();
        let statics = link.statics_coming(refs);
        let (running, version) = (d.spec.running, db.version.clone());
        let pending_after = move |l: &Found<Self>| {
            let o = &l.observed;
            let upgrading = major(&o.version) != major(&version);
            let pending = link.pending_after(statics, o.pending_reboot, o.parameter_group.as_deref(), upgrading);
            rds::apply_status(running && o.running && pending)
        };
        let modify = "rds:ModifyDBInstance";
        let (start, stop) = ("rds:StartDBInstance", "rds:StopDBInstance");
        let mut attrs = vec![
            Attribute::<Self>::new(Attr::Engine, "database.engine", db.engine.as_str(), |l| {
                l.observed.engine.clone().into()
            })
            .replace(DATA_LOSS),
            Attribute::<Self>::new(Attr::Version, "database.version", db.version.clone(), |l| {
                l.observed.version.clone().into()
            })
            .in_place(modify)
            .version_prefix()
            .guard(engine_version_guard),
            Attribute::<Self>::new(Attr::Class, "database.class", db.class.clone(), |l| {
                l.observed.class.clone().into()
            })
            .in_place(modify)
            .note(crate::i18n::Msg::new("note.instance_class")),
            Attribute::<Self>::new(
                Attr::StorageGib,
                "database.storage_gib",
                db.storage_gib.unwrap_or(20),
                |l| l.observed.storage_gib.into(),
            )
            .in_place(modify)
            .guard(storage_guard),
            Attribute::<Self>::new(Attr::MultiAz, "database.multi_az", db.multi_az, |l| {
                l.observed.multi_az.into()
            })
            .in_place(modify)
            .guard(multi_az_guard),
            Attribute::<Self>::new(
                Attr::BackupRetentionDays,
                "database.backup_retention_days",
                db.backup_retention_days,
                |l| l.observed.backup_retention_days.into(),
            )
            .in_place(modify)
            .guard(backup_guard),
            Attribute::<Self>::new(
                Attr::DeletionProtection,
                "database.deletion_protection",
                db.deletion_protection,
                |l| l.observed.deletion_protection.into(),
            )
            .in_place(modify)
            .note(crate::i18n::Msg::new("note.no_downtime")),
            Attribute::<Self>::reported(
                Attr::PerformanceInsights,
                "database.performance_insights",
                db.performance_insights,
                |l| l.observed.performance_insights.map(Value::from),
            )
            .may_be_unreported("moto leaves PerformanceInsightsEnabled out of DescribeDBInstances")
            .in_place(modify)
            .note(crate::i18n::Msg::new("note.no_downtime")),
            Attribute::<Self>::new(
                Attr::AutoMinorVersionUpgrade,
                "database.version",
                !rds::pinned(&db.version),
                |l| l.observed.auto_minor_version_upgrade.into(),
            )
            .in_place(modify)
            .note(crate::i18n::Msg::new("note.pinned_minor")),
            Attribute::<Self>::new(Attr::Username, "database.username", db.username.clone(), |l| {
                l.observed.username.clone().into()
            })
            .replace(DATA_LOSS),
            Attribute::<Self>::new(Attr::DbName, "database.db_name", db.db_name.clone(), |l| {
                l.observed.db_name.clone().into()
            })
            .replace(DATA_LOSS),
            Attribute::<Self>::new(Attr::PubliclyAccessible, "database", false, |l| {
                l.observed.publicly_accessible.into()
            })
            .in_place(modify),
            Attribute::<Self>::new(Attr::Running, "database", d.spec.running, |l| l.observed.running.into())
                .in_place(if d.spec.running { start } else { stop })
                .guard(running_guard),
            Attribute::<Self>::new(Attr::ManagedPassword, "database", true, |l| {
                l.observed.secret_arn.is_some().into()
            })
            .in_place(modify)
            .note(crate::i18n::Msg::new("note.managed_password_instance")),
            tags::attribute(Attr::Tags, d, "rds:AddTagsToResource"),
        ];
        attrs.extend(d.spec.parameters.attributes(
            Attr::ParameterGroup,
            Attr::PendingReboot,
            |l: &Found<Self>| l.observed.parameter_group.clone(),
            pending_after,
        ));
        attrs
    }

    fn notes(d: &Desired<'_, Self>, live: Option<&Found<Self>>, _: &dyn super::Resolve) -> Vec<String> {
        match (&d.spec.restore_from, live) {
            (Some(snapshot), None) => vec![rds::restore_note(snapshot)],
            _ => vec![],
        }
    }

    fn points_at(o: &Observed) -> Vec<String> {
        let mut ids = o.security_groups.clone();
        ids.extend(o.subnet_group.iter().map(|g| named(Kind::DbSubnetGroup, g)));
        ids.extend(o.parameter_group.iter().map(|g| named(Kind::DbParameterGroup, g)));
        ids
    }

    /// RDS refuses to stop an instance that has read replicas: `sleep`
    /// deletes them first.
    fn update_after_deleting() -> &'static [Kind] {
        &[Kind::DbReplica]
    }

    fn data_loss(name: &str, live: Option<&Found<Self>>, policy: &Policy) -> Option<crate::i18n::Msg> {
        let protected = live.is_some_and(|l| l.observed.deletion_protection);
        rds::deletion_loss(name, protected, policy)
    }

    fn deletion_blocker(live: &Found<Self>) -> Option<Blocker> {
        live.observed
            .deletion_protection
            .then(|| rds::protected(&live.id, live.arn.as_deref(), false))
    }

    /// An Aurora migration restores the cluster from a snapshot of this
    /// instance and keeps it until `apply --finish-migration`, once the
    /// cluster is available: a plain or resumed apply never deletes it.
    fn kept(live: &Found<Self>, graph: &Graph, all: &LiveState, policy: &Policy) -> Option<String> {
        if !graph.has_kind(Kind::DbCluster) || live.readiness == Readiness::Deleting {
            return None;
        }
        let cluster_ready = all
            .of_kind::<super::db_cluster::DbCluster>()
            .any(|c| c.origin == Origin::Ours && c.readiness == Readiness::Ready);
        if policy.finish_migration && cluster_ready {
            return None;
        }
        let then = if cluster_ready {
            "`ekstack apply --finish-migration` deletes it after a final snapshot"
        } else {
            "it goes with `ekstack apply --finish-migration` once the Aurora cluster is available"
        };
        Some(format!("migration in progress: old instance {} kept; {then}", live.id))
    }

    fn deletion_reason(_: &Found<Self>, graph: &Graph, policy: &Policy) -> Option<String> {
        if let Some(snapshot) = &policy.sleep_snapshot {
            return Some(rds::sleep_deletion(snapshot));
        }
        graph.has_kind(Kind::DbCluster).then(|| {
            "migration finished (--finish-migration): the Aurora cluster was restored from this instance's snapshot; a final snapshot keeps what was written since".to_string()
        })
    }

    fn billables(d: &Desired<'_, Self>) -> Vec<Billable> {
        let db = &d.spec.db;
        let gib = u32::try_from(db.storage_gib.unwrap_or(20)).unwrap_or(0);
        instance_billables(db.engine, &db.class, db.multi_az, d.spec.running, gib)
    }

    fn live_billables(l: &Found<Self>, _: &LiveState) -> Vec<Billable> {
        let o = &l.observed;
        let Some(engine) = Engine::parse(&o.engine) else {
            return vec![];
        };
        let gib = u32::try_from(o.storage_gib).unwrap_or(0);
        instance_billables(engine, &o.class, o.multi_az, l.readiness != Readiness::Stopped, gib)
    }

    async fn discover(cx: &Discovery<'_>, _: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let out = cx
            .aws
            .rds
            .describe_db_instances()
            .filters(
                Filter::builder()
                    .name("db-instance-id")
                    .values(crate::config::db_identifier(cx.stack))
                    .build(),
            )
            .send()
            .await
            .aws("rds:DescribeDBInstances")?;
        Ok(out
            .db_instances()
            .iter()
            .filter(|d| d.db_cluster_identifier().is_none() && d.read_replica_source_db_instance_identifier().is_none())
            .filter_map(|d| to_found(d, cx.stack))
            .collect())
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, inputs: &Inputs) -> Result<Found<Self>> {
        let db = &d.spec.db;
        let group = inputs.id(&d.spec.subnet_group)?;
        let sg = inputs.id(&d.spec.security_group)?;
        if let Some(snapshot) = &d.spec.restore_from {
            return restore(step, d, snapshot, group, sg).await;
        }
        let result = step
            .aws()
            .rds
            .create_db_instance()
            .db_instance_identifier(d.name)
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
            .auto_minor_version_upgrade(!rds::pinned(&db.version))
            .master_username(&db.username)
            .manage_master_user_password(true)
            .db_name(&db.db_name)
            .port(db.engine.port())
            .db_subnet_group_name(group)
            .vpc_security_group_ids(sg)
            .set_db_parameter_group_name(d.spec.parameters.custom_name())
            .copy_tags_to_snapshot(true)
            .set_tags(Some(rds_tags(d.tags)))
            .send()
            .await
            .aws_on("rds:CreateDBInstance", d.name);
        let instance = match result {
            Ok(out) => out.db_instance,
            Err(e) if has_code(&e, "DBInstanceAlreadyExists") => describe(step.aws(), d.name).await?,
            Err(e) => return Err(e),
        };
        let instance = instance.ok_or_else(|| anyhow!("CreateDBInstance returned nothing"))?;
        ours(to_found(&instance, &step.ctx.stack).ok_or_else(|| anyhow!("DB instance without an identifier"))?)
    }

    async fn wait_ready(step: &Step<'_>, live: &Found<Self>) -> Result<Found<Self>> {
        wait_for(step, live, Readiness::Ready).await
    }

    async fn update(
        step: &Step<'_>,
        d: &Desired<'_, Self>,
        current: &Found<Self>,
        changes: &Changes<Self>,
        _: &Inputs,
    ) -> Result<Found<Self>> {
        let db = &d.spec.db;
        let rds = &step.aws().rds;
        let start = || async {
            let started = rds.start_db_instance().db_instance_identifier(&current.id).send().await;
            match started.aws_on("rds:StartDBInstance", &current.id) {
                Err(e) if has_code(&e, "InvalidDBInstanceState") => Ok(()),
                other => other.map(|_| ()),
            }
        };
        let (settled, asleep) = settle_running(
            step,
            current,
            d.spec.running,
            changes.has(Attr::Running),
            || stop(step, current),
            start,
            || Self::wait_ready(step, current),
        )
        .await?;
        let mut live = settled.unwrap_or_else(|| current.clone());
        if asleep {
            return Ok(live);
        }
        let mut call = rds
            .modify_db_instance()
            .db_instance_identifier(&live.id)
            .apply_immediately(true);
        let mut any = false;
        for change in changes.iter() {
            any |= !matches!(change, Attr::Running | Attr::Tags | Attr::PendingReboot);
            call = match change {
                Attr::Version => call
                    .engine_version(&db.version)
                    .allow_major_version_upgrade(major(&live.observed.version) != major(&db.version)),
                Attr::Class => call.db_instance_class(&db.class),
                Attr::StorageGib => call.allocated_storage(db.storage_gib.unwrap_or(20)),
                Attr::MultiAz => call.multi_az(db.multi_az),
                Attr::BackupRetentionDays => call.backup_retention_period(db.backup_retention_days),
                Attr::DeletionProtection => call.deletion_protection(db.deletion_protection),
                Attr::PerformanceInsights => call.enable_performance_insights(db.performance_insights),
                Attr::AutoMinorVersionUpgrade => call.auto_minor_version_upgrade(!rds::pinned(&db.version)),
                Attr::PubliclyAccessible => call.publicly_accessible(false),
                Attr::ParameterGroup => call.db_parameter_group_name(&d.spec.parameters.group),
                Attr::ManagedPassword => call.manage_master_user_password(true),
                Attr::Running | Attr::Tags | Attr::PendingReboot => call,
                Attr::Engine | Attr::Username | Attr::DbName => {
                    bail!("{} cannot change in place: {DATA_LOSS}", <&str>::from(change))
                }
            };
        }
        if any {
            call.send().await.aws_on("rds:ModifyDBInstance", &live.id)?;
            // RDS takes a moment to move to "modifying"; readiness also checks the
            // pending modifications so the wait cannot end before it starts.
            step.ctx.pause(Duration::from_secs(2)).await;
            live = Self::wait_ready(step, &live).await?;
        }
        // After the changes above: a new group takes effect at this reboot too.
        if changes.has(Attr::PendingReboot) {
            rds::reboot(step, &live.id, live.observed.multi_az).await?;
            live = Self::wait_ready(step, &live).await?;
        }
        if changes.has(Attr::Tags) {
            rds::sync_tags(step, live.arn.as_deref(), &live.tags, d.tags).await?;
            live.tags = d.tags.clone();
        }
        Ok(live)
    }

    /// Manual snapshots of the database (the final one among them) and
    /// automated backups retained after it was deleted.
    async fn remains(cx: &Discovery<'_>) -> Result<Vec<Remains>> {
        let id = db_identifier(cx.stack);
        let rds = &cx.aws.rds;
        let mut kept = Vec::new();
        let mut pages = rds
            .describe_db_snapshots()
            .db_instance_identifier(&id)
            .snapshot_type("manual")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for s in page.aws_on("rds:DescribeDBSnapshots", &id)?.db_snapshots() {
                let name = s.db_snapshot_identifier().unwrap_or_default();
                kept.push(rds::snapshot_remains(
                    name,
                    &id,
                    s.allocated_storage().unwrap_or(0),
                    &format!(
                        "aws rds delete-db-snapshot --region {} --db-snapshot-identifier {name}",
                        cx.region
                    ),
                ));
            }
        }
        let backups = existing(
            rds.describe_db_instance_automated_backups()
                .db_instance_identifier(&id)
                .send()
                .await
                .aws_on("rds:DescribeDBInstanceAutomatedBackups", &id),
        )?;
        for b in backups.iter().flat_map(|out| out.db_instance_automated_backups()) {
            if b.status() != Some("retained") {
                continue;
            }
            let gib = b.allocated_storage().unwrap_or(0);
            let days = b
                .backup_retention_period()
                .map(|d| format!(", kept {d} days from the deletion"))
                .unwrap_or_default();
            let which = match (b.db_instance_automated_backups_arn(), b.dbi_resource_id()) {
                (Some(arn), _) => format!("--db-instance-automated-backups-arn {arn}"),
                (None, Some(rid)) => format!("--dbi-resource-id {rid}"),
                (None, None) => format!("--dbi-resource-id <the DbiResourceId of {id}>"),
            };
            kept.push(Remains {
                what: format!("retained automated backups of {id}, {gib} GiB{days}"),
                billable: Billable::Snapshot {
                    gib: u32::try_from(gib).unwrap_or(0),
                },
                way_out: format!(
                    "aws rds delete-db-instance-automated-backup --region {} {which}",
                    cx.region
                ),
            });
        }
        Ok(kept)
    }

    async fn delete(step: &Step<'_>, live: &Found<Self>) -> Result<()> {
        let sleep = step.ctx.options.sleep_snapshot.clone();
        let snapshot = step.ctx.options.final_snapshot || sleep.is_some();
        let mut call = step
            .aws()
            .rds
            .delete_db_instance()
            .db_instance_identifier(&live.id)
            // Backups stay with the data when a final snapshot keeps it
            // (until their retention ends), and go when it does not. Asleep,
            // the sleep snapshot is what the wake restores; retained backups
            // would only bill.
            .delete_automated_backups(!snapshot || sleep.is_some());
        let name = sleep.unwrap_or_else(|| final_snapshot_name(&live.id));
        call = if snapshot {
            call.final_db_snapshot_identifier(&name).skip_final_snapshot(false)
        } else {
            call.skip_final_snapshot(true)
        };
        match call.send().await.aws_on("rds:DeleteDBInstance", &live.id) {
            Err(e) if is_not_found_error(&e) => return Ok(()),
            // Already on its way out (a re-run of a destroy): just wait for it.
            Err(_) if live.readiness == Readiness::Deleting => {}
            other => {
                other?;
                if snapshot {
                    step.ctx.note(Note::Snapshot {
                        name: name.clone(),
                        gib: i64::from(live.observed.storage_gib),
                        of: live.id.clone(),
                    });
                }
            }
        }
        wait_gone(step, &live.id, Self::READY_TIMEOUT).await
    }
}

/// The wake of `sleep --deep --snapshot` ("Restoring to a DB instance",
/// RestoreDBInstanceFromDBSnapshot): the instance comes back from its sleep
/// snapshot under the same identifier. What a restore cannot set (the
/// managed master password: "Applies to RDS for Oracle only"; Performance
/// Insights) is changed in place once it is available, by the engine as
/// for an instance found instead of made.
async fn restore(
    step: &Step<'_>,
    d: &Desired<'_, DbInstance>,
    snapshot: &str,
    group: String,
    sg: String,
) -> Result<Found<DbInstance>> {
    let db = &d.spec.db;
    step.status(&format!("restoring {} from its sleep snapshot {snapshot}", d.name));
    let result = step
        .aws()
        .rds
        .restore_db_instance_from_db_snapshot()
        .db_instance_identifier(d.name)
        .db_snapshot_identifier(snapshot)
        .db_instance_class(&db.class)
        .allocated_storage(db.storage_gib.unwrap_or(20))
        .storage_type("gp3")
        .publicly_accessible(false)
        .multi_az(db.multi_az)
        .backup_retention_period(db.backup_retention_days)
        .deletion_protection(db.deletion_protection)
        .auto_minor_version_upgrade(!rds::pinned(&db.version))
        .port(db.engine.port())
        .db_subnet_group_name(group)
        .vpc_security_group_ids(sg)
        .set_db_parameter_group_name(d.spec.parameters.custom_name())
        .copy_tags_to_snapshot(true)
        .set_tags(Some(rds_tags(d.tags)))
        .send()
        .await
        .aws_on("rds:RestoreDBInstanceFromDBSnapshot", d.name);
    let instance = match result {
        Ok(out) => out.db_instance,
        // Restored by an interrupted run.
        Err(e) if has_code(&e, "DBInstanceAlreadyExists") => describe(step.aws(), d.name).await?,
        Err(e) => return Err(e),
    };
    let instance = instance.ok_or_else(|| anyhow!("RestoreDBInstanceFromDBSnapshot returned nothing"))?;
    let made = ours(to_found(&instance, &step.ctx.stack).ok_or_else(|| anyhow!("DB instance without an identifier"))?)?;
    let mut live = wait_for(step, &made, Readiness::Ready).await?;
    live.origin = Origin::Adopted;
    Ok(live)
}

fn instance_billables(engine: Engine, class: &str, multi_az: bool, running: bool, gib: u32) -> Vec<Billable> {
    vec![
        Billable::RdsInstance {
            engine,
            class: class.to_string(),
            multi_az,
            running,
        },
        Billable::RdsStorage { gib, multi_az },
    ]
}

fn storage_guard(before: &Value, after: &Value) -> crate::plan::Verdict {
    use crate::plan::Verdict;
    match (before.as_i64(), after.as_i64()) {
        (Some(b), Some(a)) if a < b => {
            Verdict::Impossible(Msg::new("impossible.storage_shrink").arg("before", b).arg("after", a))
        }
        // "When you increase the allocated storage, it must be by at least 10 percent."
        (Some(b), Some(a)) if a > b && a * 10 < b * 11 => Verdict::Impossible(
            Msg::new("impossible.storage_step")
                .arg("before", b)
                .arg("least", (b * 11 + 9) / 10),
        ),
        (Some(b), Some(a)) if a > b => {
            Verdict::AllowedWithNote(Msg::new("note.storage_grows").arg("before", b).arg("after", a))
        }
        _ => Verdict::Allowed,
    }
}

fn multi_az_guard(_before: &Value, after: &Value) -> crate::plan::Verdict {
    use crate::plan::Verdict;
    if after.as_bool() == Some(true) {
        Verdict::AllowedWithNote(Msg::new("note.to_multi_az"))
    } else {
        Verdict::AllowedWithNote(Msg::new("note.to_single_az"))
    }
}

fn backup_guard(before: &Value, after: &Value) -> crate::plan::Verdict {
    use crate::plan::Verdict;
    if before.as_i64() == Some(0) && after.as_i64().is_some_and(|a| a > 0) {
        Verdict::AllowedWithNote(Msg::new("note.backups_on"))
    } else if after.as_i64() == Some(0) {
        Verdict::AllowedWithNote(Msg::new("note.backups_off"))
    } else {
        Verdict::AllowedWithNote(Msg::new("note.no_downtime"))
    }
}

/// How usable an instance (standalone or in a cluster) is.
pub(crate) fn readiness(status: &str, pending_modifications: bool) -> Readiness {
    match status {
        "available" | "storage-optimization" | "storage-full" if !pending_modifications => Readiness::Ready,
        "stopped" => Readiness::Stopped,
        "deleting" => Readiness::Deleting,
        s if s == "failed" || s.starts_with("incompatible") || s.starts_with("inaccessible") => Readiness::Failed,
        _ => Readiness::Pending,
    }
}

/// Whether a change is still waiting to be made.
pub(crate) fn pending_modifications(d: &SdkDbInstance) -> bool {
    d.pending_modified_values().is_some_and(|p| {
        p.db_instance_class().is_some()
            || p.allocated_storage().is_some()
            || p.multi_az().is_some()
            || p.engine_version().is_some()
    })
}

fn to_found(d: &SdkDbInstance, stack: &str) -> Option<Found<DbInstance>> {
    let id = d.db_instance_identifier()?;
    let tags = rds::tag_map(d.tag_list());
    let ours = is_of_stack(&tags, stack);
    let address = tags
        .get(TAG_ADDRESS)
        .filter(|_| ours)
        .cloned()
        .unwrap_or_else(|| ADDRESS.to_string());
    let status = d.db_instance_status().unwrap_or_default().to_string();
    let observed = Observed {
        engine: d.engine().unwrap_or_default().to_string(),
        version: d.engine_version().unwrap_or_default().to_string(),
        class: d.db_instance_class().unwrap_or_default().to_string(),
        storage_gib: d.allocated_storage().unwrap_or(0),
        multi_az: d.multi_az().unwrap_or(false),
        backup_retention_days: d.backup_retention_period().unwrap_or(0),
        deletion_protection: d.deletion_protection().unwrap_or(false),
        performance_insights: d.performance_insights_enabled(),
        auto_minor_version_upgrade: d.auto_minor_version_upgrade().unwrap_or(false),
        username: d.master_username().unwrap_or_default().to_string(),
        db_name: d.db_name().unwrap_or_default().to_string(),
        publicly_accessible: d.publicly_accessible().unwrap_or(false),
        running: !matches!(status.as_str(), "stopped" | "stopping"),
        endpoint: d.endpoint().and_then(|e| e.address()).map(str::to_string),
        port: d.endpoint().and_then(|e| e.port()),
        secret_arn: d.master_user_secret().and_then(|s| s.secret_arn()).map(str::to_string),
        az: d.availability_zone().map(str::to_string),
        subnet_group: d
            .db_subnet_group()
            .and_then(|g| g.db_subnet_group_name())
            .map(str::to_string),
        security_groups: d
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
            .collect(),
        replicas: d.read_replica_db_instance_identifiers().to_vec(),
        parameter_group: rds::instance_group(d).0,
        pending_reboot: rds::instance_group(d).1,
    };
    let readiness = readiness(&status, pending_modifications(d));
    let origin = if ours { Origin::Ours } else { Origin::Foreign };
    Some(
        DbInstance::found(address, id, status, readiness, observed)
            .with_arn(d.db_instance_arn())
            .with_tags(tags)
            .with_origin(origin),
    )
}

pub(crate) async fn describe(aws: &Aws, id: &str) -> Result<Option<SdkDbInstance>> {
    let out = existing(
        aws.rds
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .aws_on("rds:DescribeDBInstances", id),
    )?;
    Ok(out.and_then(|out| out.db_instances().first().cloned()))
}

/// Waits for `target`: available with no pending modifications, or stopped.
async fn wait_for(step: &Step<'_>, live: &Found<DbInstance>, target: Readiness) -> Result<Found<DbInstance>> {
    super::poll_usual(
        step,
        &format!("database {}", live.id),
        DbInstance::READY_TIMEOUT,
        || async {
            let d = describe(step.aws(), &live.id)
                .await?
                .ok_or_else(|| anyhow!("database {} disappeared", live.id))?;
            let l = to_found(&d, &step.ctx.stack).ok_or_else(|| anyhow!("database without an identifier"))?;
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

/// A manual snapshot of the instance for a migration, made once: a resumed
/// migration finds it by name. Waits until it is available and returns
/// its ARN, which RestoreDBClusterFromSnapshot takes for an instance's
/// snapshot.
pub(crate) async fn snapshot_for_migration(
    step: &Step<'_>,
    instance: &str,
    snapshot: &str,
    tags: &crate::live::Tags,
) -> Result<String> {
    let rds = &step.aws().rds;
    let describe = || async {
        existing(
            rds.describe_db_snapshots()
                .db_snapshot_identifier(snapshot)
                .send()
                .await
                .aws_on("rds:DescribeDBSnapshots", snapshot),
        )
        .map(|o| o.and_then(|o| o.db_snapshots().first().cloned()))
    };
    if describe().await?.is_none() {
        step.status(&format!("snapshot {snapshot} of {instance}"));
        let made = rds
            .create_db_snapshot()
            .db_instance_identifier(instance)
            .db_snapshot_identifier(snapshot)
            .set_tags(Some(rds_tags(tags)))
            .send()
            .await
            .aws_on("rds:CreateDBSnapshot", snapshot);
        match made {
            Err(e) if has_code(&e, "DBSnapshotAlreadyExists") => {}
            other => {
                other?;
            }
        }
    }
    poll(
        step,
        &format!("snapshot {snapshot}"),
        DbInstance::READY_TIMEOUT,
        || async {
            let s = describe()
                .await?
                .ok_or_else(|| anyhow!("snapshot {snapshot} disappeared"))?;
            match s.status() {
                Some("available") => Ok(Polled::Ready(s.db_snapshot_arn().unwrap_or(snapshot).to_string())),
                Some("failed") | Some("error") => bail!("snapshot {snapshot} failed"),
                other => Ok(Polled::Pending(other.unwrap_or("creating").to_string())),
            }
        },
    )
    .await
}

/// Stops a standalone instance (`ekstack sleep`).
async fn stop(step: &Step<'_>, live: &Found<DbInstance>) -> Result<Found<DbInstance>> {
    match step
        .aws()
        .rds
        .stop_db_instance()
        .db_instance_identifier(&live.id)
        .send()
        .await
        .aws_on("rds:StopDBInstance", &live.id)
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

/// Waits until an instance (standalone or in a cluster) is gone.
pub(crate) async fn wait_gone(step: &Step<'_>, id: &str, timeout: Duration) -> Result<()> {
    let aws = step.aws();
    super::poll_usual(step, &format!("database {id} to be deleted"), timeout, || async {
        match describe(aws, id).await? {
            None => Ok(Polled::Ready(())),
            Some(d) => Ok(Polled::Pending(d.db_instance_status().unwrap_or_default().to_string())),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Verdict;

    #[test]
    fn storage_only_grows() {
        assert!(matches!(storage_guard(&50.into(), &20.into()), Verdict::Impossible(_)));
        assert!(matches!(
            storage_guard(&20.into(), &50.into()),
            Verdict::AllowedWithNote(_)
        ));
    }
}
