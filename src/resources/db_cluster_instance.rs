//! The instances of an Aurora cluster: the first is the writer, the rest
//! readers (a standby in another AZ). Serverless v2 instances bill by the
//! ACU range their cluster sets.

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use aws_sdk_rds::types::{DbInstance as SdkDbInstance, Filter};

use super::db_cluster::DbCluster;
use super::db_instance::{describe, pending_modifications, readiness, wait_gone};
use super::db_parameter_group::Scope;
use super::rds::{self, rds_tags, ParameterLink};
use super::tags::{self, is_of_stack, TAG_ADDRESS};
use super::{ours, Attribute, Changes, Desired, Discovery, Found, Inputs, New, Polled, Ref};
use super::{Kind, ResourceKind, Step};
use crate::aws::errors::{has_code, is_not_found_error, AwsResultExt};
use crate::config::{Database, Engine, Stack};
use crate::cost::Billable;
use crate::graph::Address;
use crate::live::{named, Live, LiveState, Origin, Readiness};
use crate::plan::Value;

pub fn address(ordinal: i32) -> Address {
    format!("db-cluster-instance.{ordinal}")
}

pub fn identifier(stack: &str, ordinal: i32) -> String {
    format!("{}-{ordinal}", crate::config::db_identifier(stack))
}

pub struct DbClusterInstance;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub cluster: Ref<DbCluster>,
    pub db: Database,
    /// 1 is the writer.
    pub ordinal: i32,
    /// False while the stack sleeps: instances stop with their cluster.
    pub running: bool,
    /// The instances' parameter group (`[database.instance_parameters]`).
    pub parameters: ParameterLink,
    /// The cluster's: its static changes wait for each instance's reboot.
    pub cluster_parameters: ParameterLink,
}

#[derive(Debug, Clone)]
pub struct Observed {
    /// The cluster's identifier.
    pub cluster: String,
    pub engine: String,
    pub class: String,
    /// moto leaves it out of its answers.
    pub performance_insights: Option<bool>,
    /// Whether AWS applies minor engine versions itself.
    pub auto_minor_version_upgrade: bool,
    pub az: Option<String>,
    pub subnet_group: Option<String>,
    pub version: String,
    pub parameter_group: Option<String>,
    /// Its own parameter group, or the cluster's (as the cluster reports
    /// of its members), waits for its reboot.
    pub pending_reboot: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    Engine,
    Class,
    PerformanceInsights,
    AutoMinorVersionUpgrade,
    ParameterGroup,
    PendingReboot,
    Tags,
}

impl ResourceKind for DbClusterInstance {
    const KIND: Kind = Kind::DbClusterInstance;
    const PARENT: Option<Kind> = Some(Kind::DbCluster);
    const READY_TIMEOUT: Duration = Duration::from_secs(60 * 60);
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    /// DESIGN §8: about 8 minutes for an Aurora instance.
    fn usual(verb: super::Verb, _: Option<&Spec>) -> Option<super::kind::Expected> {
        match verb {
            super::Verb::Create => {
                super::minutes(6.0, 10.0, "RDS is still starting the instance on the cluster's volume")
            }
            super::Verb::Delete => super::minutes(3.0, 6.0, "RDS is still stopping and removing the instance"),
            super::Verb::Update => None,
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
        (1..=db.instances)
            .map(|ordinal| {
                let address = address(ordinal);
                let name = identifier(&stack.meta.name, ordinal);
                New {
                    tags: tags::of(stack, &address, &name),
                    address,
                    name,
                    spec: Spec {
                        cluster: super::db_cluster::reference(),
                        db: db.clone(),
                        ordinal,
                        running: !stack.meta.asleep,
                        parameters: ParameterLink::new(stack, &db.family(), Scope::Instance, &db.instance_parameters),
                        cluster_parameters: ParameterLink::new(stack, &db.family(), Scope::Cluster, &db.parameters),
                    },
                    after: vec![],
                }
            })
            .collect()
    }

    fn references(spec: &Spec) -> Vec<Address> {
        let mut refs = vec![spec.cluster.address.clone()];
        refs.extend(spec.parameters.custom.iter().map(|r| r.address.clone()));
        refs
    }

    fn attributes(d: &Desired<'_, Self>, refs: &dyn super::Resolve) -> Vec<Attribute<Self>> {
        let db = &d.spec.db;
        let link = d.spec.parameters.clone();
        let statics = link.statics_coming(refs) || d.spec.cluster_parameters.statics_coming(refs);
        let cluster_moves = refs
            .live(&d.spec.cluster.address)
            .and_then(|l| l.observed::<DbCluster>())
            .is_some_and(|c| c.parameter_group.as_deref() != Some(d.spec.cluster_parameters.group.as_str()));
        let (running, version) = (d.spec.running, db.version.clone());
        let pending_after = move |l: &Found<Self>| {
            let o = &l.observed;
            let upgrading = rds::major(&o.version) != rds::major(&version);
            let pending = link.pending_after(
                statics || (cluster_moves && !upgrading),
                o.pending_reboot,
                o.parameter_group.as_deref(),
                upgrading,
            );
            rds::apply_status(running && l.readiness != Readiness::Stopped && pending)
        };
        let mut attrs = vec![
            Attribute::<Self>::new(Attr::Engine, "database.engine", db.engine.as_str(), |l| {
                l.observed.engine.clone().into()
            })
            .replace("an instance belongs to one engine"),
            Attribute::<Self>::new(Attr::Class, "database.class", db.class.clone(), |l| {
                l.observed.class.clone().into()
            })
            .in_place("rds:ModifyDBInstance")
            .note(crate::i18n::Msg::new("note.aurora_instance_class")),
            Attribute::<Self>::reported(
                Attr::PerformanceInsights,
                "database.performance_insights",
                db.performance_insights,
                |l| l.observed.performance_insights.map(Value::from),
            )
            .may_be_unreported("moto leaves PerformanceInsightsEnabled out of DescribeDBInstances")
            .in_place("rds:ModifyDBInstance")
            .note(crate::i18n::Msg::new("note.no_downtime")),
            Attribute::<Self>::new(
                Attr::AutoMinorVersionUpgrade,
                "database.version",
                !rds::pinned(&db.version),
                |l| l.observed.auto_minor_version_upgrade.into(),
            )
            .in_place("rds:ModifyDBInstance")
            .note(crate::i18n::Msg::new("note.pinned_minor")),
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

    fn points_at(o: &Observed) -> Vec<String> {
        let mut ids = vec![named(Kind::DbCluster, &o.cluster)];
        ids.extend(o.subnet_group.iter().map(|g| named(Kind::DbSubnetGroup, g)));
        ids.extend(o.parameter_group.iter().map(|g| named(Kind::DbParameterGroup, g)));
        ids
    }

    fn billables(d: &Desired<'_, Self>) -> Vec<Billable> {
        let db = &d.spec.db;
        vec![billable(db.engine, &db.class, db.serverless, d.spec.running)]
    }

    fn live_billables(l: &Found<Self>, all: &LiveState) -> Vec<Billable> {
        let o = &l.observed;
        let Some(engine) = Engine::parse(&o.engine) else {
            return vec![];
        };
        let cluster = all.of_kind::<DbCluster>().find(|c| c.id == o.cluster);
        let serverless = cluster.as_ref().and_then(|c| c.observed.serverless);
        let running = l.readiness != Readiness::Stopped && cluster.is_none_or(|c| c.readiness != Readiness::Stopped);
        vec![billable(engine, &o.class, serverless, running)]
    }

    /// The cluster's instances, in one call.
    async fn discover(cx: &Discovery<'_>, parent: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let Some(cluster) = parent else { return Ok(vec![]) };
        let out = cx
            .aws
            .rds
            .describe_db_instances()
            .filters(Filter::builder().name("db-cluster-id").values(&cluster.id).build())
            .send()
            .await
            .aws_on("rds:DescribeDBInstances", &cluster.id)?;
        Ok(out
            .db_instances()
            .iter()
            .filter(|d| d.db_cluster_identifier() == Some(cluster.id.as_str()))
            .filter_map(|d| to_found(d, cx.stack))
            .map(|mut f| {
                let members = cluster
                    .observed::<DbCluster>()
                    .map(|c| c.members_pending_reboot.clone());
                f.observed.pending_reboot |= members.is_some_and(|m| m.contains(&f.id));
                f
            })
            .collect())
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, inputs: &Inputs) -> Result<Found<Self>> {
        let db = &d.spec.db;
        let cluster_id = inputs.id(&d.spec.cluster)?;
        let result = step
            .aws()
            .rds
            .create_db_instance()
            .db_instance_identifier(d.name)
            .db_cluster_identifier(cluster_id)
            .engine(db.engine.as_str())
            .db_instance_class(&db.class)
            .publicly_accessible(false)
            .enable_performance_insights(db.performance_insights)
            .auto_minor_version_upgrade(!rds::pinned(&db.version))
            .set_db_parameter_group_name(d.spec.parameters.custom_name())
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
        super::poll_usual(step, &format!("database {}", live.id), Self::READY_TIMEOUT, || async {
            let d = describe(step.aws(), &live.id)
                .await?
                .ok_or_else(|| anyhow!("database {} disappeared", live.id))?;
            let l = to_found(&d, &step.ctx.stack).ok_or_else(|| anyhow!("database without an identifier"))?;
            match l.readiness {
                // A member of a stopped (sleeping) cluster is as ready as it gets.
                Readiness::Ready | Readiness::Stopped => Ok(Polled::Ready(l)),
                Readiness::Failed => bail!("database {} is {}", live.id, l.state),
                Readiness::Deleting => bail!("database {} is being deleted", live.id),
                Readiness::Pending => Ok(Polled::Pending(l.state)),
            }
        })
        .await
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
        let mut call = rds
            .modify_db_instance()
            .db_instance_identifier(&current.id)
            .apply_immediately(true);
        let mut any = false;
        for change in changes.iter() {
            call = match change {
                Attr::Class => {
                    any = true;
                    call.db_instance_class(&db.class)
                }
                Attr::PerformanceInsights => {
                    any = true;
                    call.enable_performance_insights(db.performance_insights)
                }
                Attr::AutoMinorVersionUpgrade => {
                    any = true;
                    call.auto_minor_version_upgrade(!rds::pinned(&db.version))
                }
                Attr::ParameterGroup => {
                    any = true;
                    call.db_parameter_group_name(&d.spec.parameters.group)
                }
                Attr::Tags | Attr::PendingReboot => call,
                Attr::Engine => bail!("an Aurora instance's engine cannot change in place"),
            };
        }
        let mut live = current.clone();
        if any {
            call.send().await.aws_on("rds:ModifyDBInstance", &live.id)?;
            step.ctx.pause(Duration::from_secs(2)).await;
            live = Self::wait_ready(step, &live).await?;
        }
        // Aurora fails over by itself when the writer restarts.
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
        // Members of a cluster take no snapshot of their own: the cluster's covers them.
        let send = || async {
            step.aws()
                .rds
                .delete_db_instance()
                .db_instance_identifier(&live.id)
                .send()
                .await
                .aws_on("rds:DeleteDBInstance", &live.id)
        };
        let mut deleted = send().await;
        // A stopped (sleeping) cluster refuses to lose instances until it
        // is started again.
        if matches!(&deleted, Err(e) if has_code(e, "InvalidDBClusterStateFault")) {
            super::db_cluster::start_and_wait(step, &live.observed.cluster).await?;
            deleted = send().await;
        }
        match deleted {
            Err(e) if is_not_found_error(&e) => return Ok(()),
            // Already on its way out (a re-run of a destroy): just wait for it.
            Err(_) if live.readiness == Readiness::Deleting => {}
            other => {
                other?;
            }
        }
        wait_gone(step, &live.id, Self::READY_TIMEOUT).await
    }
}

/// A provisioned instance, or a Serverless v2 one priced by its cluster's
/// ACU range (estimated at the minimum).
fn billable(engine: Engine, class: &str, serverless: Option<crate::config::Serverless>, running: bool) -> Billable {
    match serverless {
        Some(s) if class == "db.serverless" => Billable::AuroraServerless {
            min_acu: s.min_acu,
            max_acu: s.max_acu,
            running,
        },
        _ => Billable::AuroraInstance {
            engine,
            class: class.to_string(),
            running,
        },
    }
}

fn to_found(d: &SdkDbInstance, stack: &str) -> Option<Found<DbClusterInstance>> {
    let id = d.db_instance_identifier()?;
    let tags = rds::tag_map(d.tag_list());
    let ours = is_of_stack(&tags, stack);
    let ordinal = id.rsplit('-').next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let address = tags
        .get(TAG_ADDRESS)
        .filter(|_| ours)
        .cloned()
        .unwrap_or_else(|| address(ordinal));
    let status = d.db_instance_status().unwrap_or_default().to_string();
    let observed = Observed {
        cluster: d.db_cluster_identifier().unwrap_or_default().to_string(),
        engine: d.engine().unwrap_or_default().to_string(),
        class: d.db_instance_class().unwrap_or_default().to_string(),
        performance_insights: d.performance_insights_enabled(),
        auto_minor_version_upgrade: d.auto_minor_version_upgrade().unwrap_or(false),
        az: d.availability_zone().map(str::to_string),
        subnet_group: d
            .db_subnet_group()
            .and_then(|g| g.db_subnet_group_name())
            .map(str::to_string),
        version: d.engine_version().unwrap_or_default().to_string(),
        parameter_group: rds::instance_group(d).0,
        pending_reboot: rds::instance_group(d).1,
    };
    let readiness = readiness(&status, pending_modifications(d));
    let origin = if ours { Origin::Ours } else { Origin::Foreign };
    Some(
        DbClusterInstance::found(address, id, status, readiness, observed)
            .with_arn(d.db_instance_arn())
            .with_tags(tags)
            .with_origin(origin),
    )
}
