//! Read replicas of the RDS instance (`db-replica.<n>`, `database.replicas`),
//! each in one of the stack's AZs other than the first, round robin, so
//! reads spread across AZs. A replica is a copy: deleting one loses no data,
//! and `wake` makes again those `sleep` deleted (RDS cannot stop an instance
//! that has read replicas: "Stopping an Amazon RDS DB instance temporarily",
//! limitations).

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use aws_sdk_rds::types::{DbInstance as SdkDbInstance, Filter};

use super::db_instance::{self, DbInstance};
use super::db_parameter_group::Scope;
use super::rds::{self, major, rds_tags, ParameterLink};
use super::security_group::SecurityGroup;
use super::tags::{self, is_of_stack, TAG_ADDRESS};
use super::{ours, Attribute, Changes, Desired, Discovery, Found, Inputs, New, Ref};
use super::{Kind, Polled, ResourceKind, Step};
use crate::aws::errors::{has_code, is_not_found_error, AwsResultExt};
use crate::config::{Engine, Stack};
use crate::cost::Billable;
use crate::graph::{Address, Graph};
use crate::live::{named, Live, LiveState, Origin, Readiness};
use crate::plan::Value;

pub fn address(n: u32) -> Address {
    format!("db-replica.{n}")
}

pub struct DbReplica;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub source: Ref<DbInstance>,
    pub security_group: Ref<SecurityGroup>,
    pub class: String,
    pub az: String,
    /// The primary's, for the cost estimate: a replica bills like an
    /// instance of its class, with storage the size of the primary's.
    pub engine: Engine,
    pub storage_gib: i32,
    /// The primary's parameter group: a replica uses the same.
    pub parameters: ParameterLink,
}

#[derive(Debug, Clone)]
pub struct Observed {
    /// `ReadReplicaSourceDBInstanceIdentifier`.
    pub source: Option<String>,
    pub engine: String,
    pub class: String,
    pub az: Option<String>,
    pub storage_gib: i32,
    pub endpoint: Option<String>,
    pub port: Option<i32>,
    pub subnet_group: Option<String>,
    pub security_groups: Vec<String>,
    pub deletion_protection: bool,
    pub version: String,
    pub parameter_group: Option<String>,
    pub pending_reboot: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    Source,
    Class,
    Az,
    DeletionProtection,
    ParameterGroup,
    PendingReboot,
    Tags,
}

impl ResourceKind for DbReplica {
    const KIND: Kind = Kind::DbReplica;
    const PARENT: Option<Kind> = Some(Kind::DbInstance);
    const READY_TIMEOUT: Duration = Duration::from_secs(60 * 60);
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    /// DESIGN §8 additions: about 10 minutes for a read replica.
    fn usual(verb: super::Verb, _: Option<&Spec>) -> Option<super::kind::Expected> {
        match verb {
            super::Verb::Create => {
                super::minutes(8.0, 14.0, "RDS is still copying the primary's snapshot to the replica")
            }
            super::Verb::Delete => super::minutes(4.0, 6.0, "RDS is still removing the replica"),
            super::Verb::Update => None,
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
        // Asleep, the primary is stopped, which RDS refuses while replicas exist.
        if stack.meta.asleep {
            return vec![];
        }
        let azs = &stack.network.azs;
        let others: Vec<&String> = azs.iter().skip(1).collect();
        (1..=db.replicas)
            .map(|n| {
                let az = others
                    .get((n as usize - 1) % others.len().max(1))
                    .copied()
                    .or(azs.first())
                    .map(|a| a.to_string())
                    .unwrap_or_default();
                let address = address(n);
                let name = format!("{}-replica-{n}", stack.db_identifier());
                New {
                    tags: tags::of(stack, &address, &name),
                    address,
                    name,
                    spec: Spec {
                        source: Ref::new(db_instance::ADDRESS),
                        security_group: super::security_group::database(),
                        class: db.replica_class().to_string(),
                        az,
                        engine: db.engine,
                        storage_gib: db.storage_gib.unwrap_or(20),
                        parameters: ParameterLink::new(stack, &db.family(), Scope::Instance, &db.parameters),
                    },
                    after: vec![],
                }
            })
            .collect()
    }

    fn references(spec: &Spec) -> Vec<Address> {
        let mut refs = vec![spec.source.address.clone(), spec.security_group.address.clone()];
        refs.extend(spec.parameters.custom.iter().map(|r| r.address.clone()));
        refs
    }

    fn attributes(d: &Desired<'_, Self>, refs: &dyn super::Resolve) -> Vec<Attribute<Self>> {
        let source = refs.live(&d.spec.source.address).map(|l| l.id.clone());
        let link = d.spec.parameters.clone();
        let statics = link.statics_coming(refs);
        // The primary's version, which a replica follows.
        let version = refs
            .live(&d.spec.source.address)
            .and_then(|l| l.observed::<DbInstance>())
            .map(|o| o.version.clone());
        let pending_after = move |l: &Found<Self>| {
            let o = &l.observed;
            let upgrading = version.as_deref().is_some_and(|v| major(v) != major(&o.version));
            rds::apply_status(link.pending_after(statics, o.pending_reboot, o.parameter_group.as_deref(), upgrading))
        };
        let mut attrs = vec![
            Attribute::<Self>::new(
                Attr::Source,
                "database.replicas",
                source.map(Value::Text).unwrap_or(Value::Unknown),
                |l| Value::from(l.observed.source.clone()),
            )
            .replace("a replica copies one primary; a new primary needs new replicas"),
            Attribute::<Self>::new(Attr::Class, "database.replica_class", d.spec.class.clone(), |l| {
                l.observed.class.clone().into()
            })
            .in_place("rds:ModifyDBInstance")
            .note(crate::i18n::Msg::new("note.replica_class")),
            Attribute::<Self>::new(Attr::Az, "network.azs", d.spec.az.clone(), |l| {
                Value::from(l.observed.az.clone())
            })
            .replace("a replica stays in its AZ; a new one is made from the primary, with no data lost"),
            Attribute::<Self>::new(Attr::DeletionProtection, "database.replicas", false, |l| {
                l.observed.deletion_protection.into()
            })
            .in_place("rds:ModifyDBInstance")
            .note(crate::i18n::Msg::new("note.replica_unprotected")),
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

    /// Said when a replica is made: from what, and on wake that it is one
    /// sleep deleted.
    fn notes(d: &Desired<'_, Self>, live: Option<&Found<Self>>, refs: &dyn super::Resolve) -> Vec<String> {
        if live.is_some() {
            return vec![];
        }
        let stopped = refs
            .live(&d.spec.source.address)
            .and_then(|l| l.observed::<DbInstance>())
            .is_some_and(|o| !o.running);
        vec![if stopped {
            format!(
                "wake: made again from the primary once it has started (~6 min), in {}",
                d.spec.az
            )
        } else {
            format!(
                "a copy of the primary in {}, kept in sync asynchronously (~6 min to make)",
                d.spec.az
            )
        }]
    }

    fn points_at(o: &Observed) -> Vec<String> {
        let mut ids: Vec<String> = o.source.iter().map(|s| named(Kind::DbInstance, s)).collect();
        ids.extend(o.security_groups.iter().cloned());
        ids.extend(o.subnet_group.iter().map(|g| named(Kind::DbSubnetGroup, g)));
        ids.extend(o.parameter_group.iter().map(|g| named(Kind::DbParameterGroup, g)));
        ids
    }

    /// Why a replica goes: asleep (RDS cannot stop a primary that has
    /// replicas), or fewer replicas asked for.
    fn deletion_reason(_: &Found<Self>, graph: &Graph, _: &super::Policy) -> Option<String> {
        let primary = graph.spec::<DbInstance>(db_instance::ADDRESS)?;
        if !primary.running {
            return Some(
                "sleep deletes read replicas: RDS cannot stop an instance that has them; `ekstack wake` makes them again from the primary (no data is lost, a replica is a copy)".into(),
            );
        }
        Some(format!(
            "database.replicas is {}: a replica is a copy, no data is lost",
            primary.db.replicas
        ))
    }

    fn billables(d: &Desired<'_, Self>) -> Vec<Billable> {
        bills(d.spec.engine, &d.spec.class, d.spec.storage_gib)
    }

    fn live_billables(l: &Found<Self>, _: &LiveState) -> Vec<Billable> {
        match Engine::parse(&l.observed.engine) {
            Some(engine) => bills(engine, &l.observed.class, l.observed.storage_gib),
            None => vec![],
        }
    }

    /// The replicas the primary lists, in one DescribeDBInstances; none
    /// listed, no call.
    async fn discover(cx: &Discovery<'_>, parent: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let Some(ids) = parent
            .and_then(|p| p.observed::<DbInstance>())
            .map(|o| o.replicas.clone())
            .filter(|r| !r.is_empty())
        else {
            return Ok(vec![]);
        };
        let out = cx
            .aws
            .rds
            .describe_db_instances()
            .filters(Filter::builder().name("db-instance-id").set_values(Some(ids)).build())
            .send()
            .await
            .aws("rds:DescribeDBInstances")?;
        Ok(out
            .db_instances()
            .iter()
            .filter_map(|d| to_found(d, cx.stack))
            .filter(|f| f.origin == Origin::Ours)
            .collect())
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, inputs: &Inputs) -> Result<Found<Self>> {
        let source = inputs.get(&d.spec.source)?;
        let sg = inputs.id(&d.spec.security_group)?;
        let result = step
            .aws()
            .rds
            .create_db_instance_read_replica()
            .db_instance_identifier(d.name)
            .source_db_instance_identifier(&source.id)
            .db_instance_class(&d.spec.class)
            .availability_zone(&d.spec.az)
            .publicly_accessible(false)
            // A replica can always be made again from the primary.
            .deletion_protection(false)
            .vpc_security_group_ids(sg)
            .set_db_parameter_group_name(d.spec.parameters.custom_name())
            .copy_tags_to_snapshot(true)
            .set_tags(Some(rds_tags(d.tags)))
            .send()
            .await
            .aws_on("rds:CreateDBInstanceReadReplica", d.name);
        let instance = match result {
            Ok(out) => out.db_instance,
            // Made by an interrupted run (or a lost answer).
            Err(e) if has_code(&e, "DBInstanceAlreadyExists") => db_instance::describe(step.aws(), d.name).await?,
            Err(e) => return Err(e),
        };
        let instance = instance.ok_or_else(|| anyhow!("CreateDBInstanceReadReplica returned nothing"))?;
        ours(to_found(&instance, &step.ctx.stack).ok_or_else(|| anyhow!("replica without an identifier"))?)
    }

    async fn wait_ready(step: &Step<'_>, live: &Found<Self>) -> Result<Found<Self>> {
        super::poll_usual(
            step,
            &format!("read replica {}", live.id),
            Self::READY_TIMEOUT,
            || async {
                let d = db_instance::describe(step.aws(), &live.id)
                    .await?
                    .ok_or_else(|| anyhow!("read replica {} disappeared", live.id))?;
                let l = to_found(&d, &step.ctx.stack).ok_or_else(|| anyhow!("replica without an identifier"))?;
                match l.readiness {
                    Readiness::Ready => Ok(Polled::Ready(l)),
                    Readiness::Failed => bail!("read replica {} is {}", live.id, l.state),
                    Readiness::Deleting => bail!("read replica {} is being deleted", live.id),
                    _ => Ok(Polled::Pending(l.state)),
                }
            },
        )
        .await
    }

    async fn update(
        step: &Step<'_>,
        d: &Desired<'_, Self>,
        current: &Found<Self>,
        changes: &Changes<Self>,
        _: &Inputs,
    ) -> Result<Found<Self>> {
        let mut live = current.clone();
        if changes.any(&[Attr::Class, Attr::DeletionProtection, Attr::ParameterGroup]) {
            let mut call = step
                .aws()
                .rds
                .modify_db_instance()
                .db_instance_identifier(&live.id)
                .db_instance_class(&d.spec.class)
                .deletion_protection(false)
                .apply_immediately(true);
            if changes.has(Attr::ParameterGroup) {
                call = call.db_parameter_group_name(&d.spec.parameters.group);
            }
            call.send().await.aws_on("rds:ModifyDBInstance", &live.id)?;
            // RDS takes a moment to move to "modifying".
            step.ctx.pause(Duration::from_secs(2)).await;
            live = Self::wait_ready(step, &live).await?;
        }
        if changes.has(Attr::PendingReboot) {
            rds::reboot(step, &live.id, false).await?;
            live = Self::wait_ready(step, &live).await?;
        }
        if changes.has(Attr::Tags) {
            rds::sync_tags(step, live.arn.as_deref(), &live.tags, d.tags).await?;
            live.tags = d.tags.clone();
        }
        Ok(live)
    }

    async fn delete(step: &Step<'_>, live: &Found<Self>) -> Result<()> {
        // A replica has no final snapshot and no backups of its own to keep.
        let deleted = step
            .aws()
            .rds
            .delete_db_instance()
            .db_instance_identifier(&live.id)
            .skip_final_snapshot(true)
            .delete_automated_backups(true)
            .send()
            .await
            .aws_on("rds:DeleteDBInstance", &live.id);
        match deleted {
            Err(e) if is_not_found_error(&e) => return Ok(()),
            Err(_) if live.readiness == Readiness::Deleting => {}
            other => {
                other?;
            }
        }
        db_instance::wait_gone(step, &live.id, Self::READY_TIMEOUT).await
    }
}

fn bills(engine: Engine, class: &str, gib: i32) -> Vec<Billable> {
    vec![
        Billable::RdsInstance {
            engine,
            class: class.to_string(),
            multi_az: false,
            running: true,
        },
        Billable::RdsStorage {
            gib: u32::try_from(gib).unwrap_or(0),
            multi_az: false,
        },
    ]
}

fn to_found(d: &SdkDbInstance, stack: &str) -> Option<Found<DbReplica>> {
    let id = d.db_instance_identifier()?;
    let tags = rds::tag_map(d.tag_list());
    let ours = is_of_stack(&tags, stack);
    let address = tags.get(TAG_ADDRESS).filter(|_| ours).cloned()?;
    let status = d.db_instance_status().unwrap_or_default().to_string();
    let observed = Observed {
        source: d.read_replica_source_db_instance_identifier().map(str::to_string),
        engine: d.engine().unwrap_or_default().to_string(),
        class: d.db_instance_class().unwrap_or_default().to_string(),
        az: d.availability_zone().map(str::to_string),
        storage_gib: d.allocated_storage().unwrap_or(0),
        endpoint: d.endpoint().and_then(|e| e.address()).map(str::to_string),
        port: d.endpoint().and_then(|e| e.port()),
        subnet_group: d
            .db_subnet_group()
            .and_then(|g| g.db_subnet_group_name())
            .map(str::to_string),
        security_groups: d
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
            .collect(),
        deletion_protection: d.deletion_protection().unwrap_or(false),
        version: d.engine_version().unwrap_or_default().to_string(),
        parameter_group: rds::instance_group(d).0,
        pending_reboot: rds::instance_group(d).1,
    };
    let readiness = db_instance::readiness(&status, db_instance::pending_modifications(d));
    Some(
        DbReplica::found(address, id, status, readiness, observed)
            .with_arn(d.db_instance_arn())
            .with_tags(tags)
            .with_origin(if ours { Origin::Ours } else { Origin::Foreign }),
    )
}
