//! An RDS Proxy in front of the writer (`db-proxy`, `[database.proxy]`): it
//! pools the connections of many pods. It signs in with the database's
//! managed master secret through a role that can read exactly that secret,
//! requires TLS, and has a security group of its own that the database's
//! group admits ("Getting started with RDS Proxy",
//! https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-setup.html).

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use aws_sdk_rds::types::{
    AuthScheme, ConnectionPoolConfiguration, DbProxy as SdkDbProxy, EngineFamily, IamAuthMode, UserAuthConfig,
};

use super::db_cluster::DbCluster;
use super::db_instance::DbInstance;
use super::iam_role::IamRole;
use super::rds::{self, rds_tags};
use super::security_group::SecurityGroup;
use super::subnet::{Subnet, Tier};
use super::tags::{self, is_of_stack, TAG_ADDRESS};
use super::{existing, ours, poll, Attribute, Changes, Desired, Discovery, Found, Inputs, New, Ref};
use super::{Kind, Polled, Resolve, ResourceKind, Step};
use crate::aws::errors::{has_code, is_not_found_error, AwsResultExt};
use crate::aws::Aws;
use crate::config::Stack;
use crate::cost::Billable;
use crate::graph::Address;
use crate::live::{Live, LiveState, Origin, Readiness, Tags};
use crate::plan::Value;

pub const ADDRESS: &str = "db-proxy";

/// The target group every proxy has, which ekstack configures.
const TARGET_GROUP: &str = "default";

pub fn reference() -> Ref<DbProxy> {
    Ref::new(ADDRESS)
}

pub struct DbProxy;

/// What the proxy sends connections to.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Instance(Ref<DbInstance>),
    Cluster(Ref<DbCluster>),
}

impl Target {
    fn address(&self) -> &Address {
        match self {
            Target::Instance(r) => &r.address,
            Target::Cluster(r) => &r.address,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub engine_family: &'static str,
    pub role: Ref<IamRole>,
    pub security_group: Ref<SecurityGroup>,
    pub subnets: Vec<Ref<Subnet>>,
    pub target: Target,
    pub idle_client_timeout_s: i32,
    pub max_connections_percent: i32,
    /// What it bills by: the writer's vCPUs, or Aurora Serverless v2's
    /// ACUs (at least 8).
    pub billed: Billed,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Billed {
    Vcpus(Option<u32>),
    ServerlessAcu(f64),
}

#[derive(Debug, Clone)]
pub struct Observed {
    pub engine_family: String,
    pub role_arn: Option<String>,
    pub secret_arn: Option<String>,
    pub require_tls: bool,
    pub idle_client_timeout_s: Option<i32>,
    /// Sorted.
    pub security_groups: Vec<String>,
    /// Sorted.
    pub subnets: Vec<String>,
    pub endpoint: Option<String>,
    pub max_connections_percent: Option<i32>,
    /// The instance or cluster registered as its target.
    pub target: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    EngineFamily,
    Role,
    Secret,
    RequireTls,
    IdleClientTimeout,
    SecurityGroups,
    Subnets,
    MaxConnectionsPercent,
    Target,
    Tags,
}

impl ResourceKind for DbProxy {
    const KIND: Kind = Kind::DbProxy;
    const READY_TIMEOUT: Duration = Duration::from_secs(30 * 60);
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    /// DESIGN §8 additions: about 5 minutes to make.
    fn usual(verb: super::Verb, _: Option<&Spec>) -> Option<super::kind::Expected> {
        match verb {
            super::Verb::Create => super::minutes(4.0, 7.0, "RDS is still starting the proxy's fleet in the subnets"),
            super::Verb::Delete | super::Verb::Update => None,
        }
    }

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        let Some(db) = &stack.database else { return vec![] };
        let Some(p) = db.proxy else { return vec![] };
        let name = format!("{}-proxy", stack.meta.name);
        let target = if db.engine.is_aurora() {
            Target::Cluster(Ref::new(super::db_cluster::ADDRESS))
        } else {
            Target::Instance(Ref::new(super::db_instance::ADDRESS))
        };
        let billed = match db.serverless {
            Some(s) => Billed::ServerlessAcu(s.min_acu.max(MIN_SERVERLESS_ACU)),
            None => Billed::Vcpus(vcpus_of(&db.class)),
        };
        vec![New {
            address: ADDRESS.into(),
            tags: tags::of(stack, ADDRESS, &name),
            name,
            spec: Spec {
                engine_family: if db.engine.is_postgres() { "POSTGRESQL" } else { "MYSQL" },
                role: super::iam_role::rds_proxy(),
                security_group: super::security_group::proxy(),
                subnets: super::subnet::all(stack, Tier::Private),
                target,
                idle_client_timeout_s: p.idle_client_timeout_s,
                max_connections_percent: p.max_connections_percent,
                billed,
            },
            after: vec![],
        }]
    }

    fn references(spec: &Spec) -> Vec<Address> {
        let mut refs = vec![
            spec.role.address.clone(),
            spec.security_group.address.clone(),
            spec.target.address().clone(),
        ];
        refs.extend(spec.subnets.iter().map(|s| s.address.clone()));
        refs
    }

    fn attributes(d: &Desired<'_, Self>, refs: &dyn Resolve) -> Vec<Attribute<Self>> {
        let s = d.spec;
        let modify = "rds:ModifyDBProxy";
        let known = |v: Option<String>| v.map(Value::Text).unwrap_or(Value::Unknown);
        let role = refs.live(&s.role.address).and_then(|l| l.arn.clone());
        let sg = refs.live(&s.security_group.address).map(|l| l.id.clone());
        let subnets: Vec<Value> = s.subnets.iter().map(|r| refs.id_value(&r.address)).collect();
        let target = refs.live(s.target.address()).map(|l| l.id.clone());
        vec![
            Attribute::<Self>::new(Attr::EngineFamily, "database.engine", s.engine_family, |l| {
                l.observed.engine_family.clone().into()
            })
            .replace("a proxy serves one engine family"),
            Attribute::<Self>::new(Attr::Role, "database.proxy", known(role), |l| {
                Value::from(l.observed.role_arn.clone())
            })
            .in_place(modify),
            Attribute::<Self>::new(Attr::Secret, "database.proxy", known(secret_of(refs, &s.target)), |l| {
                Value::from(l.observed.secret_arn.clone())
            })
            .in_place(modify),
            Attribute::<Self>::new(Attr::RequireTls, "database.proxy", true, |l| {
                l.observed.require_tls.into()
            })
            .in_place(modify),
            Attribute::<Self>::new(
                Attr::IdleClientTimeout,
                "database.proxy.idle_client_timeout_s",
                s.idle_client_timeout_s,
                |l| Value::from(l.observed.idle_client_timeout_s),
            )
            .in_place(modify),
            Attribute::<Self>::new(
                Attr::SecurityGroups,
                "database.proxy",
                sg.map(|g| Value::from(vec![g])).unwrap_or(Value::Unknown),
                |l| Value::from(&l.observed.security_groups),
            )
            .in_place(modify),
            Attribute::<Self>::new(Attr::Subnets, "network.azs", subnets, |l| {
                Value::from(&l.observed.subnets)
            })
            .unordered()
            .replace("a proxy's subnets are fixed when it is made"),
            Attribute::<Self>::new(
                Attr::MaxConnectionsPercent,
                "database.proxy.max_connections_percent",
                s.max_connections_percent,
                |l| Value::from(l.observed.max_connections_percent),
            )
            .in_place("rds:ModifyDBProxyTargetGroup"),
            Attribute::<Self>::new(Attr::Target, "database", known(target), |l| {
                Value::from(l.observed.target.clone())
            })
            .in_place("rds:RegisterDBProxyTargets"),
            tags::attribute(Attr::Tags, d, "rds:AddTagsToResource"),
        ]
    }

    fn points_at(o: &Observed) -> Vec<String> {
        let mut ids = o.security_groups.clone();
        ids.extend(o.subnets.iter().cloned());
        ids.extend(o.role_arn.iter().cloned());
        ids.extend(o.target.iter().cloned());
        ids
    }

    fn billables(d: &Desired<'_, Self>) -> Vec<Billable> {
        vec![match d.spec.billed {
            Billed::Vcpus(vcpus) => Billable::RdsProxy { vcpus, acu: None },
            Billed::ServerlessAcu(acu) => Billable::RdsProxy {
                vcpus: None,
                acu: Some(acu),
            },
        }]
    }

    /// The target decides the bill, read from the live target: an
    /// instance's class, or an Aurora cluster's Serverless v2 capacity or
    /// its first instance's class.
    fn live_billables(l: &Found<Self>, all: &LiveState) -> Vec<Billable> {
        let Some(target) = l.observed.target.as_deref() else {
            return vec![Billable::RdsProxy { vcpus: None, acu: None }];
        };
        let instance = all
            .ours()
            .filter(|r| r.id == target)
            .find_map(|r| r.observed::<DbInstance>().map(|o| o.class.clone()));
        let serverless = all
            .ours()
            .filter(|r| r.id == target)
            .find_map(|r| r.observed::<DbCluster>().and_then(|o| o.serverless.map(|s| s.min_acu)));
        let member = all.ours().find_map(|r| {
            r.observed::<super::db_cluster_instance::DbClusterInstance>()
                .filter(|o| o.cluster == target && o.class != "db.serverless")
                .map(|o| o.class.clone())
        });
        let bill = match (instance, serverless, member) {
            (Some(class), _, _) => Billable::RdsProxy {
                vcpus: vcpus_of(&class),
                acu: None,
            },
            (None, Some(min_acu), _) => Billable::RdsProxy {
                vcpus: None,
                acu: Some(min_acu.max(MIN_SERVERLESS_ACU)),
            },
            (None, None, Some(class)) => Billable::RdsProxy {
                vcpus: vcpus_of(&class),
                acu: None,
            },
            _ => Billable::RdsProxy { vcpus: None, acu: None },
        };
        vec![bill]
    }

    async fn discover(cx: &Discovery<'_>, _: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let name = format!("{}-proxy", cx.stack);
        let Some(proxy) = describe(cx.aws, &name).await? else {
            return Ok(vec![]);
        };
        let Some(arn) = proxy.db_proxy_arn() else {
            return Ok(vec![]);
        };
        let listed = cx
            .aws
            .rds
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .aws_on("rds:ListTagsForResource", &name)?;
        let tags = rds::tag_map(listed.tag_list());
        if !is_of_stack(&tags, cx.stack) {
            return Ok(vec![]);
        }
        let (max, target) = pool_and_target(cx.aws, &name).await?;
        Ok(vec![to_found(&proxy, tags, max, target)])
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, inputs: &Inputs) -> Result<Found<Self>> {
        let s = d.spec;
        let rds = &step.aws().rds;
        let role = inputs.arn(&s.role)?;
        let sg = inputs.id(&s.security_group)?;
        let subnets = inputs.ids(&s.subnets)?;
        let secret =
            secret_of(inputs, &s.target).ok_or_else(|| anyhow!("the database's managed secret is not known"))?;
        let created = rds
            .create_db_proxy()
            .db_proxy_name(d.name)
            .engine_family(EngineFamily::from(s.engine_family))
            .auth(auth(&secret))
            .role_arn(&role)
            .set_vpc_subnet_ids(Some(subnets))
            .vpc_security_group_ids(&sg)
            .require_tls(true)
            .idle_client_timeout(s.idle_client_timeout_s)
            .set_tags(Some(rds_tags(d.tags)))
            .send()
            .await
            .aws_on("rds:CreateDBProxy", d.name);
        match created {
            Ok(_) => {}
            // Made by an interrupted run: it must be this stack's.
            Err(e) if has_code(&e, "DBProxyAlreadyExistsFault") => {}
            Err(e) => return Err(e),
        }
        let live = wait_available(step, d.name).await?;
        let live = ours(live)?;
        configure_pool(step, d.name, s.max_connections_percent).await?;
        register(step, d.name, &s.target, inputs).await?;
        let (max, target) = pool_and_target(step.aws(), d.name).await?;
        let mut live = live;
        live.observed.max_connections_percent = max;
        live.observed.target = target;
        live.tags = d.tags.clone();
        Ok(live)
    }

    async fn wait_ready(step: &Step<'_>, live: &Found<Self>) -> Result<Found<Self>> {
        let mut ready = wait_available(step, &live.id).await?;
        ready.observed.max_connections_percent = live.observed.max_connections_percent;
        ready.observed.target = live.observed.target.clone();
        Ok(ready)
    }

    async fn update(
        step: &Step<'_>,
        d: &Desired<'_, Self>,
        current: &Found<Self>,
        changes: &Changes<Self>,
        inputs: &Inputs,
    ) -> Result<Found<Self>> {
        let s = d.spec;
        let mut live = current.clone();
        if changes.any(&[
            Attr::Role,
            Attr::Secret,
            Attr::RequireTls,
            Attr::IdleClientTimeout,
            Attr::SecurityGroups,
        ]) {
            let secret =
                secret_of(inputs, &s.target).ok_or_else(|| anyhow!("the database's managed secret is not known"))?;
            step.aws()
                .rds
                .modify_db_proxy()
                .db_proxy_name(&live.id)
                .role_arn(inputs.arn(&s.role)?)
                .auth(auth(&secret))
                .require_tls(true)
                .idle_client_timeout(s.idle_client_timeout_s)
                .security_groups(inputs.id(&s.security_group)?)
                .send()
                .await
                .aws_on("rds:ModifyDBProxy", &live.id)?;
            live = Self::wait_ready(step, &live).await?;
        }
        if changes.has(Attr::MaxConnectionsPercent) {
            configure_pool(step, &live.id, s.max_connections_percent).await?;
            live.observed.max_connections_percent = Some(s.max_connections_percent);
        }
        if changes.has(Attr::Target) {
            if let Some(old) = &live.observed.target {
                let mut call = step
                    .aws()
                    .rds
                    .deregister_db_proxy_targets()
                    .db_proxy_name(&live.id)
                    .target_group_name(TARGET_GROUP);
                call = match s.target {
                    Target::Instance(_) => call.db_instance_identifiers(old),
                    Target::Cluster(_) => call.db_cluster_identifiers(old),
                };
                let gone = call.send().await.aws_on("rds:DeregisterDBProxyTargets", &live.id);
                super::gone_ok(gone)?;
            }
            register(step, &live.id, &s.target, inputs).await?;
            live.observed.target = Some(inputs.id_of(s.target.address())?);
        }
        if changes.has(Attr::Tags) {
            rds::sync_tags(step, live.arn.as_deref(), &live.tags, d.tags).await?;
            live.tags = d.tags.clone();
        }
        Ok(live)
    }

    async fn delete(step: &Step<'_>, live: &Found<Self>) -> Result<()> {
        let deleted = step
            .aws()
            .rds
            .delete_db_proxy()
            .db_proxy_name(&live.id)
            .send()
            .await
            .aws_on("rds:DeleteDBProxy", &live.id);
        match deleted {
            Err(e) if is_not_found_error(&e) => return Ok(()),
            other => {
                other?;
            }
        }
        let aws = step.aws();
        poll(
            step,
            &format!("RDS proxy {} to be deleted", live.id),
            Self::READY_TIMEOUT,
            || async {
                match describe(aws, &live.id).await? {
                    None => Ok(Polled::Ready(())),
                    Some(p) => Ok(Polled::Pending(
                        p.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
                    )),
                }
            },
        )
        .await
    }
}

/// AWS bills a proxy in front of Aurora Serverless v2 for at least 8 ACUs
/// ("Amazon RDS Proxy pricing", https://aws.amazon.com/rds/proxy/pricing/).
pub const MIN_SERVERLESS_ACU: f64 = 8.0;

/// The vCPUs of an RDS class, from its size: what a proxy bills by (with
/// at least 2). `None` for a size not in the table.
pub fn vcpus_of(class: &str) -> Option<u32> {
    let size = class.rsplit('.').next()?;
    let vcpus = match size {
        "micro" | "small" | "medium" | "large" => 2,
        "xlarge" => 4,
        s => s.strip_suffix("xlarge")?.parse::<u32>().ok()? * 4,
    };
    Some(vcpus)
}

fn auth(secret: &str) -> UserAuthConfig {
    UserAuthConfig::builder()
        .auth_scheme(AuthScheme::Secrets)
        .secret_arn(secret)
        .iam_auth(IamAuthMode::Disabled)
        .build()
}

/// The managed master secret of the proxy's target.
fn secret_of(refs: &dyn Resolve, target: &Target) -> Option<String> {
    rds::managed_secret(refs.live(target.address()))
}

async fn configure_pool(step: &Step<'_>, proxy: &str, max_connections_percent: i32) -> Result<()> {
    step.aws()
        .rds
        .modify_db_proxy_target_group()
        .db_proxy_name(proxy)
        .target_group_name(TARGET_GROUP)
        .connection_pool_config(
            ConnectionPoolConfiguration::builder()
                .max_connections_percent(max_connections_percent)
                .build(),
        )
        .send()
        .await
        .aws_on("rds:ModifyDBProxyTargetGroup", proxy)?;
    Ok(())
}

async fn register(step: &Step<'_>, proxy: &str, target: &Target, inputs: &Inputs) -> Result<()> {
    let id = inputs.id_of(target.address())?;
    let mut call = step
        .aws()
        .rds
        .register_db_proxy_targets()
        .db_proxy_name(proxy)
        .target_group_name(TARGET_GROUP);
    call = match target {
        Target::Instance(_) => call.db_instance_identifiers(&id),
        Target::Cluster(_) => call.db_cluster_identifiers(&id),
    };
    match call.send().await.aws_on("rds:RegisterDBProxyTargets", proxy) {
        // Registered by an interrupted run.
        Err(e) if has_code(&e, "DBProxyTargetAlreadyRegisteredFault") => Ok(()),
        other => other.map(|_| ()),
    }
}

/// The default target group's pool setting and the registered target.
async fn pool_and_target(aws: &Aws, proxy: &str) -> Result<(Option<i32>, Option<String>)> {
    let groups = aws
        .rds
        .describe_db_proxy_target_groups()
        .db_proxy_name(proxy)
        .send()
        .await
        .aws_on("rds:DescribeDBProxyTargetGroups", proxy)?;
    let max = groups
        .target_groups()
        .iter()
        .find(|g| g.target_group_name() == Some(TARGET_GROUP))
        .and_then(|g| g.connection_pool_config())
        .and_then(|c| c.max_connections_percent());
    let targets = aws
        .rds
        .describe_db_proxy_targets()
        .db_proxy_name(proxy)
        .target_group_name(TARGET_GROUP)
        .send()
        .await
        .aws_on("rds:DescribeDBProxyTargets", proxy)?;
    // Aurora: the cluster is tracked, its instances follow it.
    let listed = targets.targets();
    let cluster = listed
        .iter()
        .find(|t| t.r#type().map(|k| k.as_str()) == Some("TRACKED_CLUSTER"))
        .and_then(|t| t.rds_resource_id());
    let instance = listed
        .iter()
        .find(|t| t.r#type().map(|k| k.as_str()) == Some("RDS_INSTANCE"))
        .and_then(|t| t.rds_resource_id());
    Ok((max, cluster.or(instance).map(str::to_string)))
}

async fn describe(aws: &Aws, name: &str) -> Result<Option<SdkDbProxy>> {
    let out = existing(
        aws.rds
            .describe_db_proxies()
            .db_proxy_name(name)
            .send()
            .await
            .aws_on("rds:DescribeDBProxies", name),
    )?;
    Ok(out.and_then(|o| o.db_proxies().first().cloned()))
}

/// Waits until the proxy is available; its tags are read once, then.
async fn wait_available(step: &Step<'_>, name: &str) -> Result<Found<DbProxy>> {
    let aws = step.aws();
    let ready = super::poll_usual(step, &format!("RDS proxy {name}"), DbProxy::READY_TIMEOUT, || async {
        let p = describe(aws, name)
            .await?
            .ok_or_else(|| anyhow!("RDS proxy {name} disappeared"))?;
        let state = p.status().map(|s| s.as_str().to_string()).unwrap_or_default();
        match readiness(&state) {
            Readiness::Ready => Ok(Polled::Ready(p)),
            Readiness::Failed => bail!("RDS proxy {name} is {state}"),
            _ => Ok(Polled::Pending(state)),
        }
    })
    .await?;
    let listed = aws
        .rds
        .list_tags_for_resource()
        .resource_name(ready.db_proxy_arn().unwrap_or_default())
        .send()
        .await
        .aws_on("rds:ListTagsForResource", name)?;
    Ok(to_found(&ready, rds::tag_map(listed.tag_list()), None, None))
}

fn readiness(state: &str) -> Readiness {
    match state {
        "available" => Readiness::Ready,
        "deleting" => Readiness::Deleting,
        "incompatible-network" | "insufficient-resource-limits" | "suspended" => Readiness::Failed,
        _ => Readiness::Pending,
    }
}

fn to_found(p: &SdkDbProxy, tags: Tags, max: Option<i32>, target: Option<String>) -> Found<DbProxy> {
    let state = p.status().map(|s| s.as_str().to_string()).unwrap_or_default();
    let readiness = readiness(&state);
    let mut security_groups = p.vpc_security_group_ids().to_vec();
    security_groups.sort();
    let mut subnets = p.vpc_subnet_ids().to_vec();
    subnets.sort();
    let observed = Observed {
        engine_family: p.engine_family().unwrap_or_default().to_string(),
        role_arn: p.role_arn().map(str::to_string),
        secret_arn: p.auth().first().and_then(|a| a.secret_arn()).map(str::to_string),
        require_tls: p.require_tls().unwrap_or(false),
        idle_client_timeout_s: p.idle_client_timeout(),
        security_groups,
        subnets,
        endpoint: p.endpoint().map(str::to_string),
        max_connections_percent: max,
        target,
    };
    let ours = tags.get(TAG_ADDRESS).is_some_and(|a| a == ADDRESS);
    DbProxy::found(
        ADDRESS,
        p.db_proxy_name().unwrap_or_default(),
        state,
        readiness,
        observed,
    )
    .with_arn(p.db_proxy_arn())
    .with_tags(tags)
    .with_origin(if ours { Origin::Ours } else { Origin::Foreign })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxy_bills_the_writers_vcpus() {
        assert_eq!(vcpus_of("db.t4g.micro"), Some(2));
        assert_eq!(vcpus_of("db.m6g.large"), Some(2));
        assert_eq!(vcpus_of("db.r6g.xlarge"), Some(4));
        assert_eq!(vcpus_of("db.r6g.4xlarge"), Some(16));
        assert_eq!(vcpus_of("db.serverless"), None);
    }
}
