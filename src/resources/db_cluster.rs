//! An Aurora cluster (PostgreSQL or MySQL compatible), provisioned or
//! Serverless v2. Its instances are `db_cluster_instance`s.

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use aws_sdk_rds::types::{
    DbCluster as SdkDbCluster, DbInstance as SdkDbInstance, Filter, ServerlessV2ScalingConfiguration,
};

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
use crate::config::{db_identifier, Database, Engine, Serverless, Stack};
use crate::cost::Billable;
use crate::graph::{Address, Graph};
use crate::live::{named, Live, LiveState, Origin, Readiness};
use crate::plan::Value;

pub const ADDRESS: &str = "db-cluster";

pub fn reference() -> Ref<DbCluster> {
    Ref::new(ADDRESS)
}

pub struct DbCluster;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub db: Database,
    /// False while the stack sleeps: the cluster is stopped.
    pub running: bool,
    pub subnet_group: Ref<DbSubnetGroup>,
    pub security_group: Ref<SecurityGroup>,
    /// The cluster parameter group.
    pub parameters: ParameterLink,
    /// The instances' parameter group: a major upgrade moves them to it.
    pub instance_parameters: ParameterLink,
    /// The sleep snapshot (a cluster snapshot) it is restored from when it
    /// is made again (`sleep --deep --snapshot`): never made empty.
    pub restore_from: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Observed {
    pub engine: String,
    pub version: String,
    pub backup_retention_days: i32,
    pub deletion_protection: bool,
    pub username: String,
    /// A cluster restored from a snapshot reports none: its databases
    /// came with the snapshot.
    pub db_name: Option<String>,
    pub running: bool,
    pub serverless: Option<Serverless>,
    pub endpoint: Option<String>,
    pub reader_endpoint: Option<String>,
    pub port: Option<i32>,
    pub secret_arn: Option<String>,
    pub subnet_group: Option<String>,
    pub security_groups: Vec<String>,
    pub parameter_group: Option<String>,
    /// Members whose cluster parameter group waits for their reboot
    /// (`DBClusterMembers[].DBClusterParameterGroupStatus`).
    pub members_pending_reboot: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    Engine,
    Version,
    BackupRetentionDays,
    DeletionProtection,
    Username,
    DbName,
    Running,
    Tags,
    Serverless,
    ParameterGroup,
    ManagedPassword,
}

const DATA_LOSS: &str =
    "a new cluster is made; its data does not carry over (restore from the final snapshot or a dump)";

fn serverless_value(s: Option<Serverless>) -> Value {
    match s {
        None => Value::Null,
        Some(s) => Value::Map(
            [("min_acu", s.min_acu), ("max_acu", s.max_acu)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), Value::Float(v)))
                .collect(),
        ),
    }
}

impl ResourceKind for DbCluster {
    const KIND: Kind = Kind::DbCluster;
    const READY_TIMEOUT: Duration = Duration::from_secs(60 * 60);
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    /// DESIGN §8: about 2 minutes for the cluster itself.
    fn usual(verb: super::Verb, spec: Option<&Spec>) -> Option<super::kind::Expected> {
        match (verb, spec) {
            (super::Verb::Create, Some(s)) if s.restore_from.is_some() => super::minutes(
                10.0,
                20.0,
                "RDS is still restoring the cluster volume from the snapshot",
            ),
            (super::Verb::Create, _) => super::minutes(1.5, 3.0, "RDS is still making the cluster volume"),
            (super::Verb::Delete, _) => super::minutes(1.5, 5.0, "RDS is still taking the final snapshot"),
            (super::Verb::Update, _) => None,
        }
    }

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        // Deleted while the stack sleeps, after a snapshot (`sleep --deep --snapshot`).
        if stack.database_parked() {
            return vec![];
        }
        let Some(db) = stack.database.as_ref().filter(|d| d.engine.is_aurora()) else {
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
                parameters: ParameterLink::new(stack, &db.family(), Scope::Cluster, &db.parameters),
                instance_parameters: ParameterLink::new(stack, &db.family(), Scope::Instance, &db.instance_parameters),
                restore_from: stack
                    .meta
                    .sleep_snapshot
                    .as_ref()
                    .filter(|s| s.cluster)
                    .map(|s| s.name.clone()),
            },
            after: vec![],
        }]
    }

    fn references(spec: &Spec) -> Vec<Address> {
        let mut refs = vec![spec.subnet_group.address.clone(), spec.security_group.address.clone()];
        refs.extend(spec.parameters.custom.iter().map(|r| r.address.clone()));
        refs.extend(spec.instance_parameters.custom.iter().map(|r| r.address.clone()));
        refs
    }

    fn attributes(d: &Desired<'_, Self>, _: &dyn super::Resolve) -> Vec<Attribute<Self>> {
        let db = &d.spec.db;
        let modify = "rds:ModifyDBCluster";
        let (start, stop) = ("rds:StartDBCluster", "rds:StopDBCluster");
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
            Attribute::<Self>::new(
                Attr::BackupRetentionDays,
                "database.backup_retention_days",
                db.backup_retention_days,
                |l| l.observed.backup_retention_days.into(),
            )
            .in_place(modify)
            .note(crate::i18n::Msg::new("note.no_downtime")),
            Attribute::<Self>::new(
                Attr::DeletionProtection,
                "database.deletion_protection",
                db.deletion_protection,
                |l| l.observed.deletion_protection.into(),
            )
            .in_place(modify)
            .note(crate::i18n::Msg::new("note.no_downtime")),
            Attribute::<Self>::new(Attr::Username, "database.username", db.username.clone(), |l| {
                l.observed.username.clone().into()
            })
            .replace(DATA_LOSS),
            Attribute::<Self>::reported(Attr::DbName, "database.db_name", db.db_name.clone(), |l| {
                l.observed.db_name.clone().map(Value::from)
            })
            .may_be_unreported("a cluster restored from an instance's snapshot reports no DatabaseName; its databases came with the snapshot")
            .replace(DATA_LOSS),
            Attribute::<Self>::new(Attr::ManagedPassword, "database", true, |l| {
                l.observed.secret_arn.is_some().into()
            })
            .in_place(modify)
            .note(crate::i18n::Msg::new("note.managed_password_cluster")),
            Attribute::<Self>::new(Attr::Running, "database", d.spec.running, |l| l.observed.running.into())
                .in_place(if d.spec.running { start } else { stop })
                .guard(running_guard),
            Attribute::<Self>::new(
                Attr::ParameterGroup,
                "database.parameters",
                d.spec.parameters.group.clone(),
                |l| Value::from(l.observed.parameter_group.clone()),
            )
            .in_place(modify)
            .note(crate::i18n::Msg::new("note.cluster_parameter_group")),
            tags::attribute(Attr::Tags, d, "rds:AddTagsToResource"),
        ];
        if db.serverless.is_some() {
            attrs.push(
                Attribute::<Self>::new(
                    Attr::Serverless,
                    "database.serverless",
                    serverless_value(db.serverless),
                    |l| serverless_value(l.observed.serverless),
                )
                .in_place(modify)
                .note(crate::i18n::Msg::new("note.no_downtime")),
            );
        }
        attrs
    }

    fn points_at(o: &Observed) -> Vec<String> {
        let mut ids = o.security_groups.clone();
        ids.extend(o.subnet_group.iter().map(|g| named(Kind::DbSubnetGroup, g)));
        ids.extend(o.parameter_group.iter().map(|g| named(Kind::DbParameterGroup, g)));
        ids
    }

    fn data_loss(name: &str, live: Option<&Found<Self>>, policy: &Policy) -> Option<crate::i18n::Msg> {
        let protected = live.is_some_and(|l| l.observed.deletion_protection);
        rds::deletion_loss(name, protected, policy)
    }

    fn deletion_blocker(live: &Found<Self>) -> Option<Blocker> {
        live.observed
            .deletion_protection
            .then(|| rds::protected(&live.id, live.arn.as_deref(), true))
    }

    fn deletion_reason(_: &Found<Self>, graph: &Graph, policy: &Policy) -> Option<String> {
        if let Some(snapshot) = &policy.sleep_snapshot {
            return Some(rds::sleep_deletion(snapshot));
        }
        graph.has_kind(Kind::DbInstance).then(|| {
            "replaced by db-instance: Aurora cannot go back to an RDS instance: RDS restores an instance's snapshot into Aurora, but no Aurora snapshot into an instance, so the new instance starts empty; move the data with pg_dump or mysqldump".to_string()
        })
    }

    /// Made from the stack's RDS instance, when there is one: what the
    /// migration does and the writes it cannot carry.
    fn notes(d: &Desired<'_, Self>, live: Option<&Found<Self>>, refs: &dyn super::Resolve) -> Vec<String> {
        let source = refs
            .live(super::db_instance::ADDRESS)
            .filter(|l| l.origin == Origin::Ours)
            .and_then(|l| Some((l.id.clone(), l.observed::<super::db_instance::DbInstance>()?.clone())));
        if let (None, Some(snapshot)) = (live, &d.spec.restore_from) {
            return vec![rds::restore_note(snapshot)];
        }
        match (live, source) {
            (None, Some((id, o))) => vec![
                format!(
                    "migration from RDS instance {id} ({} {}): snapshot {}, then RestoreDBClusterFromSnapshot into {}; its data moves, the instance stays until `ekstack apply --finish-migration`",
                    o.engine,
                    o.version,
                    migration_snapshot(&id),
                    d.name
                ),
                "write downtime: writes made after the snapshot are not in the new cluster; stop the app's writes first (for example `kubectl scale deployment --replicas=0`); ekstack scales nothing itself, and `output --k8s` points at the new cluster once it is made".to_string(),
            ],
            _ => vec![],
        }
    }

    /// Aurora bills the storage a cluster uses, unknown before the data exists.
    fn billables(_: &Desired<'_, Self>) -> Vec<Billable> {
        vec![Billable::AuroraStorage { gib: 0 }]
    }

    fn live_billables(_: &Found<Self>, _: &LiveState) -> Vec<Billable> {
        vec![Billable::AuroraStorage { gib: 0 }]
    }

    async fn discover(cx: &Discovery<'_>, _: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let out = cx
            .aws
            .rds
            .describe_db_clusters()
            .filters(
                Filter::builder()
                    .name("db-cluster-id")
                    .values(crate::config::db_identifier(cx.stack))
                    .build(),
            )
            .send()
            .await
            .aws("rds:DescribeDBClusters")?;
        Ok(out.db_clusters().iter().filter_map(|c| to_found(c, cx.stack)).collect())
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, inputs: &Inputs) -> Result<Found<Self>> {
        let db = &d.spec.db;
        let group = inputs.id(&d.spec.subnet_group)?;
        let sg = inputs.id(&d.spec.security_group)?;
        if let Some(snapshot) = &d.spec.restore_from {
            return restore(step, d, snapshot, group, sg).await;
        }
        if let Some(source) = migration_source(step, d.name).await? {
            return migrate(step, d, &source, group, sg).await;
        }
        let mut call = step
            .aws()
            .rds
            .create_db_cluster()
            .db_cluster_identifier(d.name)
            .engine(db.engine.as_str())
            .engine_version(&db.version)
            .master_username(&db.username)
            .manage_master_user_password(true)
            .database_name(&db.db_name)
            .db_subnet_group_name(group)
            .set_db_cluster_parameter_group_name(d.spec.parameters.custom_name())
            .vpc_security_group_ids(sg)
            .storage_encrypted(true)
            .backup_retention_period(db.backup_retention_days)
            .deletion_protection(db.deletion_protection)
            .copy_tags_to_snapshot(true)
            .port(db.engine.port())
            .set_tags(Some(rds_tags(d.tags)));
        if let Some(s) = db.serverless {
            call = call.serverless_v2_scaling_configuration(scaling(s));
        }
        let cluster = match call.send().await.aws_on("rds:CreateDBCluster", d.name) {
            Ok(out) => out.db_cluster,
            Err(e) if has_code(&e, "DBClusterAlreadyExistsFault") => describe(step.aws(), d.name).await?,
            Err(e) => return Err(e),
        };
        let cluster = cluster.ok_or_else(|| anyhow!("CreateDBCluster returned nothing"))?;
        ours(to_found(&cluster, &step.ctx.stack).ok_or_else(|| anyhow!("DB cluster without an identifier"))?)
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
            let started = rds.start_db_cluster().db_cluster_identifier(&current.id).send().await;
            match started.aws_on("rds:StartDBCluster", &current.id) {
                Err(e) if has_code(&e, "InvalidDBClusterStateFault") => Ok(()),
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
            .modify_db_cluster()
            .db_cluster_identifier(&live.id)
            .apply_immediately(true);
        let mut any = false;
        for change in changes.iter() {
            any |= !matches!(change, Attr::Running | Attr::Tags);
            call = match change {
                // A major upgrade takes both groups of the new family along
                // ("ModifyDBCluster": DBInstanceParameterGroupName applies
                // with AllowMajorVersionUpgrade only).
                Attr::Version if major(&live.observed.version) != major(&db.version) => call
                    .engine_version(&db.version)
                    .allow_major_version_upgrade(true)
                    .db_cluster_parameter_group_name(&d.spec.parameters.group)
                    .db_instance_parameter_group_name(&d.spec.instance_parameters.group),
                Attr::Version => call.engine_version(&db.version),
                Attr::ParameterGroup => call.db_cluster_parameter_group_name(&d.spec.parameters.group),
                Attr::ManagedPassword => call.manage_master_user_password(true),
                Attr::BackupRetentionDays => call.backup_retention_period(db.backup_retention_days),
                Attr::DeletionProtection => call.deletion_protection(db.deletion_protection),
                Attr::Serverless => match db.serverless {
                    Some(s) => call.serverless_v2_scaling_configuration(scaling(s)),
                    None => call,
                },
                Attr::Running | Attr::Tags => call,
                Attr::Engine | Attr::Username | Attr::DbName => {
                    bail!("{} cannot change in place: {DATA_LOSS}", <&str>::from(change))
                }
            };
        }
        if any {
            call.send().await.aws_on("rds:ModifyDBCluster", &live.id)?;
            step.ctx.pause(Duration::from_secs(2)).await;
            live = Self::wait_ready(step, &live).await?;
        }
        if changes.has(Attr::Tags) {
            rds::sync_tags(step, live.arn.as_deref(), &live.tags, d.tags).await?;
            live.tags = d.tags.clone();
        }
        Ok(live)
    }

    /// Manual snapshots of the cluster, the final one among them.
    async fn remains(cx: &Discovery<'_>) -> Result<Vec<Remains>> {
        let id = db_identifier(cx.stack);
        let mut kept = Vec::new();
        let mut pages = cx
            .aws
            .rds
            .describe_db_cluster_snapshots()
            .db_cluster_identifier(&id)
            .snapshot_type("manual")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for s in page
                .aws_on("rds:DescribeDBClusterSnapshots", &id)?
                .db_cluster_snapshots()
            {
                let name = s.db_cluster_snapshot_identifier().unwrap_or_default();
                kept.push(rds::snapshot_remains(
                    name,
                    &id,
                    s.allocated_storage().unwrap_or(0),
                    &format!(
                        "aws rds delete-db-cluster-snapshot --region {} --db-cluster-snapshot-identifier {name}",
                        cx.region
                    ),
                ));
            }
        }
        Ok(kept)
    }

    async fn delete(step: &Step<'_>, live: &Found<Self>) -> Result<()> {
        let aws = step.aws();
        // A stopped (sleeping) cluster cannot be deleted until it is started.
        if live.readiness == Readiness::Stopped {
            start_and_wait(step, &live.id).await?;
        }
        let sleep = step.ctx.options.sleep_snapshot.clone();
        let snapshot = step.ctx.options.final_snapshot || sleep.is_some();
        let name = sleep.unwrap_or_else(|| final_snapshot_name(&live.id));
        let mut call = aws.rds.delete_db_cluster().db_cluster_identifier(&live.id);
        call = if snapshot {
            call.final_db_snapshot_identifier(&name).skip_final_snapshot(false)
        } else {
            call.skip_final_snapshot(true)
        };
        match call.send().await.aws_on("rds:DeleteDBCluster", &live.id) {
            Err(e) if is_not_found_error(&e) => return Ok(()),
            // Already on its way out (a re-run of a destroy): just wait for it.
            Err(_) if live.readiness == Readiness::Deleting => {}
            other => {
                other?;
                if snapshot {
                    step.ctx.note(Note::Snapshot {
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
            Self::READY_TIMEOUT,
            || async {
                match describe(aws, &live.id).await? {
                    None => Ok(Polled::Ready(())),
                    Some(c) => Ok(Polled::Pending(c.status().unwrap_or_default().to_string())),
                }
            },
        )
        .await
    }
}

fn scaling(s: Serverless) -> ServerlessV2ScalingConfiguration {
    ServerlessV2ScalingConfiguration::builder()
        .min_capacity(s.min_acu)
        .max_capacity(s.max_acu)
        .build()
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

fn to_found(c: &SdkDbCluster, stack: &str) -> Option<Found<DbCluster>> {
    let id = c.db_cluster_identifier()?;
    let tags = rds::tag_map(c.tag_list());
    let ours = is_of_stack(&tags, stack);
    let address = tags
        .get(TAG_ADDRESS)
        .filter(|_| ours)
        .cloned()
        .unwrap_or_else(|| ADDRESS.to_string());
    let status = c.status().unwrap_or_default().to_string();
    let observed = Observed {
        engine: c.engine().unwrap_or_default().to_string(),
        version: c.engine_version().unwrap_or_default().to_string(),
        backup_retention_days: c.backup_retention_period().unwrap_or(0),
        deletion_protection: c.deletion_protection().unwrap_or(false),
        username: c.master_username().unwrap_or_default().to_string(),
        db_name: c.database_name().map(str::to_string),
        running: !matches!(status.as_str(), "stopped" | "stopping"),
        serverless: c.serverless_v2_scaling_configuration().map(|s| Serverless {
            min_acu: s.min_capacity().unwrap_or(0.0),
            max_acu: s.max_capacity().unwrap_or(0.0),
        }),
        endpoint: c.endpoint().map(str::to_string),
        reader_endpoint: c.reader_endpoint().map(str::to_string),
        port: c.port(),
        secret_arn: c.master_user_secret().and_then(|s| s.secret_arn()).map(str::to_string),
        subnet_group: c.db_subnet_group().map(str::to_string),
        security_groups: c
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
            .collect(),
        parameter_group: c.db_cluster_parameter_group().map(str::to_string),
        members_pending_reboot: c
            .db_cluster_members()
            .iter()
            .filter(|m| m.db_cluster_parameter_group_status() == Some("pending-reboot"))
            .filter_map(|m| m.db_instance_identifier().map(str::to_string))
            .collect(),
    };
    let readiness = readiness(&status);
    let origin = if ours { Origin::Ours } else { Origin::Foreign };
    Some(
        DbCluster::found(address, id, status, readiness, observed)
            .with_arn(c.db_cluster_arn())
            .with_tags(tags)
            .with_origin(origin),
    )
}

async fn describe(aws: &Aws, id: &str) -> Result<Option<SdkDbCluster>> {
    let out = existing(
        aws.rds
            .describe_db_clusters()
            .db_cluster_identifier(id)
            .send()
            .await
            .aws_on("rds:DescribeDBClusters", id),
    )?;
    Ok(out.and_then(|out| out.db_clusters().first().cloned()))
}

async fn wait_for(step: &Step<'_>, live: &Found<DbCluster>, target: Readiness) -> Result<Found<DbCluster>> {
    super::poll_usual(
        step,
        &format!("Aurora cluster {}", live.id),
        DbCluster::READY_TIMEOUT,
        || async {
            let c = describe(step.aws(), &live.id)
                .await?
                .ok_or_else(|| anyhow!("Aurora cluster {} disappeared", live.id))?;
            let l = to_found(&c, &step.ctx.stack).ok_or_else(|| anyhow!("cluster without an identifier"))?;
            match l.readiness {
                r if r == target => Ok(Polled::Ready(l)),
                Readiness::Failed => bail!("Aurora cluster {} is {}", live.id, l.state),
                _ => Ok(Polled::Pending(l.state)),
            }
        },
    )
    .await
}

/// The snapshot a migration restores from: one name per instance, so a
/// resumed migration finds the one it made.
pub fn migration_snapshot(instance: &str) -> String {
    format!("{instance}-to-aurora")
}

/// The stack's own RDS instance an Aurora cluster of the same name is
/// migrated from, if there is one.
async fn migration_source(step: &Step<'_>, name: &str) -> Result<Option<SdkDbInstance>> {
    let found = super::db_instance::describe(step.aws(), name).await?;
    Ok(found.filter(|d| {
        d.db_cluster_identifier().is_none() && tags::is_of_stack(&rds::tag_map(d.tag_list()), &step.ctx.stack)
    }))
}

/// An RDS instance to Aurora ("Migrating data from an RDS for PostgreSQL DB
/// instance to an Aurora PostgreSQL DB cluster by using an RDS snapshot",
/// and its MySQL counterpart): a snapshot of the instance (found again on
/// resume), a cluster restored from it, and once the cluster is available,
/// the in-place changes a restore cannot carry (the managed master
/// password, backup retention), made by the engine as for a cluster found
/// instead of made.
async fn migrate(
    step: &Step<'_>,
    d: &Desired<'_, DbCluster>,
    source: &SdkDbInstance,
    group: String,
    sg: String,
) -> Result<Found<DbCluster>> {
    let instance = source.db_instance_identifier().unwrap_or_default().to_string();
    let snapshot = migration_snapshot(&instance);
    let arn = super::db_instance::snapshot_for_migration(step, &instance, &snapshot, d.tags).await?;
    step.status(&format!("restoring {} from {snapshot}", d.name));
    restore_from(step, d, &arn, group, sg).await
}

/// The wake of `sleep --deep --snapshot` ("Restoring from a DB cluster
/// snapshot", RestoreDBClusterFromSnapshot): the cluster comes back from its
/// sleep snapshot under the same identifier, then its instances are made as
/// for any cluster. What a restore does not set (the managed master
/// password, backup retention) is changed in place once it is available.
async fn restore(
    step: &Step<'_>,
    d: &Desired<'_, DbCluster>,
    snapshot: &str,
    group: String,
    sg: String,
) -> Result<Found<DbCluster>> {
    step.status(&format!("restoring {} from its sleep snapshot {snapshot}", d.name));
    restore_from(step, d, snapshot, group, sg).await
}

/// RestoreDBClusterFromSnapshot into the desired cluster, from `snapshot`
/// (a name or an ARN: an instance's snapshot for a migration, the
/// cluster's own for a wake), waited for until available. It comes back
/// adopted, so the engine makes the changes a restore cannot carry.
async fn restore_from(
    step: &Step<'_>,
    d: &Desired<'_, DbCluster>,
    snapshot: &str,
    group: String,
    sg: String,
) -> Result<Found<DbCluster>> {
    let db = &d.spec.db;
    let mut call = step
        .aws()
        .rds
        .restore_db_cluster_from_snapshot()
        .db_cluster_identifier(d.name)
        .snapshot_identifier(snapshot)
        .engine(db.engine.as_str())
        .engine_version(&db.version)
        .db_subnet_group_name(group)
        .vpc_security_group_ids(sg)
        .set_db_cluster_parameter_group_name(d.spec.parameters.custom_name())
        .deletion_protection(db.deletion_protection)
        .copy_tags_to_snapshot(true)
        .port(db.engine.port())
        .set_tags(Some(rds_tags(d.tags)));
    if let Some(s) = db.serverless {
        call = call.serverless_v2_scaling_configuration(scaling(s));
    }
    let cluster = match call.send().await.aws_on("rds:RestoreDBClusterFromSnapshot", d.name) {
        Ok(out) => out.db_cluster,
        // Restored by an interrupted run.
        Err(e) if has_code(&e, "DBClusterAlreadyExistsFault") => describe(step.aws(), d.name).await?,
        Err(e) => return Err(e),
    };
    let cluster = cluster.ok_or_else(|| anyhow!("RestoreDBClusterFromSnapshot returned nothing"))?;
    let made = ours(to_found(&cluster, &step.ctx.stack).ok_or_else(|| anyhow!("DB cluster without an identifier"))?)?;
    let mut live = wait_for(step, &made, Readiness::Ready).await?;
    live.origin = crate::live::Origin::Adopted;
    Ok(live)
}

/// Stops the cluster (`ekstack sleep`); its instances stop with it.
async fn stop(step: &Step<'_>, live: &Found<DbCluster>) -> Result<Found<DbCluster>> {
    match step
        .aws()
        .rds
        .stop_db_cluster()
        .db_cluster_identifier(&live.id)
        .send()
        .await
        .aws_on("rds:StopDBCluster", &live.id)
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

/// Starts a stopped cluster and waits until it is available; one already
/// starting (another step asked first) is waited for too.
pub async fn start_and_wait(step: &Step<'_>, id: &str) -> Result<()> {
    // The record may be older than the cluster's state: another step of
    // this run may have started it already.
    match describe(step.aws(), id).await?.as_ref().and_then(|c| c.status()) {
        Some("available") | None => return Ok(()),
        Some("stopped") => {}
        // Starting or stopping: wait below, then start if it stopped.
        Some(_) => {}
    }
    step.status(&format!(
        "starting Aurora cluster {id} first (AWS refuses changes to a stopped cluster)"
    ));
    let started = step
        .aws()
        .rds
        .start_db_cluster()
        .db_cluster_identifier(id)
        .send()
        .await
        .aws_on("rds:StartDBCluster", id);
    match started {
        Err(e) if has_code(&e, "InvalidDBClusterStateFault") => {}
        other => {
            other?;
        }
    }
    poll(
        step,
        &format!("Aurora cluster {id} to start"),
        DbCluster::READY_TIMEOUT,
        || async {
            match describe(step.aws(), id).await? {
                Some(c) if c.status() == Some("available") => Ok(Polled::Ready(())),
                Some(c) => Ok(Polled::Pending(c.status().unwrap_or_default().to_string())),
                None => bail!("Aurora cluster {id} disappeared"),
            }
        },
    )
    .await
}

/// Why RDS cannot restore a snapshot of an RDS instance running
/// `source_engine` `source_version` into an Aurora cluster of `engine`
/// `version`, if it cannot ("Migrating data from an RDS for PostgreSQL DB
/// instance to an Aurora PostgreSQL DB cluster by using an RDS snapshot";
/// "Migrating an RDS for MySQL snapshot to Aurora": the snapshot must come
/// from a version compatible with the Aurora version, which is the same
/// major, and not a later minor).
pub fn migration_refused(source_engine: &str, source_version: &str, engine: Engine, version: &str) -> Option<String> {
    let compatible = match engine {
        Engine::AuroraPostgresql => "postgres",
        Engine::AuroraMysql => "mysql",
        _ => return None,
    };
    if source_engine != compatible {
        return Some(format!(
            "RDS restores only a {compatible} instance's snapshot into {}, and the live instance runs {source_engine}; move the data with a dump instead",
            engine.as_str()
        ));
    }
    let (from, to) = (major(source_version), major(version));
    if engine == Engine::AuroraMysql && from != "8.0" {
        return Some(format!(
            "Aurora MySQL 3 is compatible with MySQL 8.0 only, and the live instance runs MySQL {source_version}: its snapshot cannot be restored into Aurora"
        ));
    }
    if from != to {
        return Some(format!(
            "a snapshot of {source_engine} {source_version} restores into {} {from} only, not {to}: migrate with database.version = \"{from}\", then upgrade",
            engine.as_str()
        ));
    }
    let key = |v: &str| v.split('.').map(|p| p.parse::<u32>().unwrap_or(0)).collect::<Vec<_>>();
    (rds::pinned(version) && engine == Engine::AuroraPostgresql && key(version) < key(source_version)).then(|| {
        format!(
            "a snapshot of {source_engine} {source_version} cannot be restored into the older Aurora version {version}; use database.version = \"{to}\" or {source_version} or later"
        )
    })
}

#[cfg(test)]
mod migration_tests {
    use super::*;

    #[test]
    fn only_compatible_snapshots_migrate() {
        assert_eq!(
            migration_refused("postgres", "16.4", Engine::AuroraPostgresql, "16"),
            None
        );
        assert_eq!(
            migration_refused("postgres", "16.4", Engine::AuroraPostgresql, "16.6"),
            None
        );
        assert!(migration_refused("postgres", "16.4", Engine::AuroraPostgresql, "16.2")
            .unwrap()
            .contains("older"));
        assert!(migration_refused("postgres", "15.8", Engine::AuroraPostgresql, "16")
            .unwrap()
            .contains("database.version = \"15\""));
        assert!(migration_refused("mysql", "8.4.3", Engine::AuroraMysql, "8.0")
            .unwrap()
            .contains("8.0 only"));
        assert_eq!(migration_refused("mysql", "8.0.39", Engine::AuroraMysql, "8.0"), None);
        assert!(migration_refused("mysql", "8.0.39", Engine::AuroraPostgresql, "16")
            .unwrap()
            .contains("dump"));
    }
}
