//! The database's custom parameter group (`[database.parameters]`): a DB
//! parameter group for an RDS instance and its replicas
//! (`db-parameter-group`), or for Aurora a DB cluster parameter group
//! (`db-cluster-parameter-group`) with, for `[database.instance_parameters]`,
//! a DB parameter group the cluster's instances use.
//!
//! A group belongs to one family (`postgres16`), so its name carries the
//! family (`<stack>-postgres16`) and a major upgrade makes a group of the
//! new family first, moves the database to it and deletes the old one.
//! Parameters are compared one by one. A static one applies at the next
//! reboot ("Working with parameter groups", Amazon RDS User Guide), which
//! the database kinds report and `apply --reboot` makes.

use std::collections::BTreeMap;

use anyhow::Result;
use aws_sdk_rds::types::{ApplyMethod, Parameter as SdkParameter};

use super::rds::{self, rds_tags, sync_tags};
use super::tags::{self, is_of_stack, TAG_ADDRESS};
use super::{existing, gone_ok, ours, retry_while, Attribute, Changes, Desired, Discovery, Found, Inputs, New};
use super::{Kind, Policy, Ref, Resolve, ResourceKind, Step};
use crate::aws::errors::{has_code, AwsResultExt};
use crate::aws::Aws;
use crate::config::{ApplyType, Parameter, Stack};
use crate::graph::{Address, Graph};
use crate::live::{Live, LiveState, Origin, Readiness, Tags};
use crate::plan::{ReplaceOrder, Value};

/// The DB parameter group: an instance's and its replicas', or Aurora's
/// instances'.
pub const INSTANCE: &str = "db-parameter-group";
/// Aurora's DB cluster parameter group.
pub const CLUSTER: &str = "db-cluster-parameter-group";

/// "You can modify up to 20 parameters in a single request"
/// (ModifyDBParameterGroup and ResetDBParameterGroup, RDS API Reference).
const PER_CALL: usize = 20;

pub struct DbParameterGroup;

/// Which of RDS's two parameter group APIs a group lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Instance,
    Cluster,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub scope: Scope,
    pub family: String,
    pub parameters: BTreeMap<String, Parameter>,
}

#[derive(Debug, Clone)]
pub struct Observed {
    pub scope: Scope,
    pub family: String,
    /// The parameters set in the group (`Source = user`), by name.
    pub parameters: BTreeMap<String, Parameter>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Attr {
    Family,
    Parameters,
    Tags,
}

/// The group's AWS name: letters, digits and single hyphens, so the
/// family's dots become hyphens (`shop-mysql8-0`).
pub fn name(stack: &str, family: &str, scope: Scope) -> String {
    let family = family.replace('.', "-");
    match scope {
        Scope::Instance => format!("{stack}-{family}"),
        Scope::Cluster => format!("{stack}-{family}-cluster"),
    }
}

/// The group a database of `family` uses: the stack's, or RDS's default.
pub fn group_name(stack: &Stack, family: &str, scope: Scope, custom: bool) -> String {
    if custom {
        name(&stack.meta.name, family, scope)
    } else {
        format!("default.{family}")
    }
}

/// A reference to the stack's group of `scope`.
pub fn reference(scope: Scope) -> Ref<DbParameterGroup> {
    Ref::new(match scope {
        Scope::Instance => INSTANCE,
        Scope::Cluster => CLUSTER,
    })
}

/// The static parameters whose change the group has yet to make: they
/// leave the databases using it pending a reboot.
pub fn static_changes(desired: &BTreeMap<String, Parameter>, live: Option<&Live>) -> Vec<String> {
    let Some(observed) = live.and_then(|l| l.observed::<DbParameterGroup>()) else {
        return vec![];
    };
    let mut names: Vec<String> = desired
        .iter()
        .filter(|(_, p)| p.apply == Some(ApplyType::Static))
        .filter(|(n, p)| observed.parameters.get(*n).map(|l| &l.value) != Some(&p.value))
        .map(|(n, _)| n.clone())
        .collect();
    names.extend(
        observed
            .parameters
            .iter()
            .filter(|(n, p)| !desired.contains_key(*n) && p.apply != Some(ApplyType::Dynamic))
            .map(|(n, _)| n.clone()),
    );
    names
}

impl ResourceKind for DbParameterGroup {
    const KIND: Kind = Kind::DbParameterGroup;
    /// The database moves to the new family's group before the old goes.
    const REPLACE_ORDER: ReplaceOrder = ReplaceOrder::CreateBeforeDestroy;
    type Spec = Spec;
    type Observed = Observed;
    type Attr = Attr;

    fn desired(stack: &Stack) -> Vec<New<Self>> {
        let Some(db) = stack.database.as_ref() else {
            return vec![];
        };
        let family = db.family();
        let mut groups = Vec::new();
        let (main, main_scope) = if db.engine.is_aurora() {
            (CLUSTER, Scope::Cluster)
        } else {
            (INSTANCE, Scope::Instance)
        };
        if !db.parameters.is_empty() {
            groups.push((main, main_scope, db.parameters.clone()));
        }
        if db.engine.is_aurora() && !db.instance_parameters.is_empty() {
            groups.push((INSTANCE, Scope::Instance, db.instance_parameters.clone()));
        }
        groups
            .into_iter()
            .map(|(address, scope, parameters)| {
                let name = name(&stack.meta.name, &family, scope);
                New {
                    tags: tags::of(stack, address, &name),
                    address: address.into(),
                    name,
                    spec: Spec {
                        scope,
                        family: family.clone(),
                        parameters,
                    },
                    after: vec![],
                }
            })
            .collect()
    }

    fn references(_: &Spec) -> Vec<Address> {
        vec![]
    }

    fn attributes(d: &Desired<'_, Self>, _: &dyn Resolve) -> Vec<Attribute<Self>> {
        let want = values(&d.spec.parameters);
        let notes: BTreeMap<String, crate::i18n::Msg> = d
            .spec
            .parameters
            .iter()
            .map(|(n, p)| {
                let note = match p.apply {
                    Some(ApplyType::Static) => "note.parameter_static",
                    Some(ApplyType::Dynamic) => "note.parameter_dynamic",
                    None => "note.parameter_either",
                };
                (n.clone(), crate::i18n::Msg::new(note))
            })
            .collect();
        let path = if d.spec.scope == Scope::Instance && is_aurora_family(&d.spec.family) {
            "database.instance_parameters"
        } else {
            "database.parameters"
        };
        let modify = match d.spec.scope {
            Scope::Instance => "rds:ModifyDBParameterGroup",
            Scope::Cluster => "rds:ModifyDBClusterParameterGroup",
        };
        vec![
            Attribute::<Self>::new(Attr::Family, "database.version", d.spec.family.clone(), |l| {
                l.observed.family.clone().into()
            })
            .replace("a parameter group has one family: a group of the new family is made with the same parameters, the database moves to it, and the old group is deleted"),
            Attribute::<Self>::new(Attr::Parameters, path, want, |l| values(&l.observed.parameters))
            .in_place(modify)
            .per_key(notes, crate::i18n::Msg::new("note.parameter_reset")),
            tags::attribute(Attr::Tags, d, "rds:AddTagsToResource"),
        ]
    }

    fn points_at(_: &Observed) -> Vec<String> {
        vec![]
    }

    /// A group the old instance of an Aurora migration still uses stays
    /// with it: RDS refuses to delete a group in use.
    fn kept(live: &Found<Self>, graph: &Graph, all: &LiveState, policy: &Policy) -> Option<String> {
        use super::db_instance::DbInstance;
        all.of_kind::<DbInstance>()
            .filter(|i| i.observed.parameter_group.as_deref() == Some(live.id.as_str()))
            .find(|i| DbInstance::kept(i, graph, all, policy).is_some())
            .map(|i| format!("still used by {}, which the migration keeps", i.id))
    }

    /// Every group of the account whose name is one of the stack's, in one
    /// listing per API; their tags and set parameters for those.
    async fn discover(cx: &Discovery<'_>, _: Option<&Live>) -> Result<Vec<Found<Self>>> {
        let rds = &cx.aws.rds;
        let mut named: Vec<(Scope, String, String, Option<String>)> = Vec::new();
        let mut pages = rds.describe_db_parameter_groups().into_paginator().send();
        while let Some(page) = pages.next().await {
            for g in page.aws("rds:DescribeDBParameterGroups")?.db_parameter_groups() {
                let (Some(n), Some(f)) = (g.db_parameter_group_name(), g.db_parameter_group_family()) else {
                    continue;
                };
                if n == name(cx.stack, f, Scope::Instance) {
                    named.push((
                        Scope::Instance,
                        n.into(),
                        f.into(),
                        g.db_parameter_group_arn().map(Into::into),
                    ));
                }
            }
        }
        let mut pages = rds.describe_db_cluster_parameter_groups().into_paginator().send();
        while let Some(page) = pages.next().await {
            for g in page
                .aws("rds:DescribeDBClusterParameterGroups")?
                .db_cluster_parameter_groups()
            {
                let (Some(n), Some(f)) = (g.db_cluster_parameter_group_name(), g.db_parameter_group_family()) else {
                    continue;
                };
                if n == name(cx.stack, f, Scope::Cluster) {
                    named.push((
                        Scope::Cluster,
                        n.into(),
                        f.into(),
                        g.db_cluster_parameter_group_arn().map(Into::into),
                    ));
                }
            }
        }
        let reads = named.into_iter().map(|(scope, n, family, arn)| async move {
            let tags = rds::list_tags(cx.aws, arn.as_deref()).await?;
            let parameters = read_parameters(cx.aws, scope, &n).await?;
            Ok::<_, anyhow::Error>(to_found(scope, &n, &family, arn, tags, parameters, cx.stack))
        });
        futures_util::future::try_join_all(reads).await
    }

    async fn create(step: &Step<'_>, d: &Desired<'_, Self>, _: &Inputs) -> Result<Found<Self>> {
        let rds = &step.aws().rds;
        let description = format!("ekstack {}: [database] parameters", step.ctx.stack);
        let made = match d.spec.scope {
            Scope::Instance => rds
                .create_db_parameter_group()
                .db_parameter_group_name(d.name)
                .db_parameter_group_family(&d.spec.family)
                .description(&description)
                .set_tags(Some(rds_tags(d.tags)))
                .send()
                .await
                .aws_on("rds:CreateDBParameterGroup", d.name)
                .map(|out| out.db_parameter_group.and_then(|g| g.db_parameter_group_arn)),
            Scope::Cluster => rds
                .create_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(d.name)
                .db_parameter_group_family(&d.spec.family)
                .description(&description)
                .set_tags(Some(rds_tags(d.tags)))
                .send()
                .await
                .aws_on("rds:CreateDBClusterParameterGroup", d.name)
                .map(|out| {
                    out.db_cluster_parameter_group
                        .and_then(|g| g.db_cluster_parameter_group_arn)
                }),
        };
        let already = |e: &anyhow::Error| {
            has_code(e, "DBParameterGroupAlreadyExists") || has_code(e, "DBClusterParameterGroupAlreadyExists")
        };
        let live = match made {
            Ok(arn) => {
                let mut live = to_found(
                    d.spec.scope,
                    d.name,
                    &d.spec.family,
                    arn,
                    d.tags.clone(),
                    BTreeMap::new(),
                    &step.ctx.stack,
                );
                set(step, d.spec.scope, d.name, d.spec.parameters.iter()).await?;
                live.observed.parameters = d.spec.parameters.clone();
                live
            }
            // Made by an interrupted run: compared and brought in line.
            Err(e) if already(&e) => {
                let arn = find_arn(step.aws(), d.spec.scope, d.name).await?;
                let tags = rds::list_tags(step.aws(), arn.as_deref()).await?;
                let parameters = read_parameters(step.aws(), d.spec.scope, d.name).await?;
                let mut live = ours(to_found(
                    d.spec.scope,
                    d.name,
                    &d.spec.family,
                    arn,
                    tags,
                    parameters,
                    &step.ctx.stack,
                ))?;
                live.origin = Origin::Adopted;
                return Ok(live);
            }
            Err(e) => return Err(e),
        };
        ours(live)
    }

    async fn update(
        step: &Step<'_>,
        d: &Desired<'_, Self>,
        current: &Found<Self>,
        changes: &Changes<Self>,
        _: &Inputs,
    ) -> Result<Found<Self>> {
        let mut live = current.clone();
        if changes.has(Attr::Parameters) {
            let have = &live.observed.parameters;
            let to_set = d
                .spec
                .parameters
                .iter()
                .filter(|(n, p)| have.get(*n).map(|h| &h.value) != Some(&p.value));
            set(step, d.spec.scope, &live.id, to_set).await?;
            let to_reset: Vec<(&String, &Parameter)> = have
                .iter()
                .filter(|(n, _)| !d.spec.parameters.contains_key(*n))
                .collect();
            reset(step, d.spec.scope, &live.id, &to_reset).await?;
            live.observed.parameters = d.spec.parameters.clone();
        }
        if changes.has(Attr::Tags) {
            sync_tags(step, live.arn.as_deref(), &live.tags, d.tags).await?;
            live.tags = d.tags.clone();
        }
        Ok(live)
    }

    async fn delete(step: &Step<'_>, live: &Found<Self>) -> Result<()> {
        let rds = &step.aws().rds;
        // Still used by a database being deleted, or one moving to another group.
        retry_while(
            step,
            &["InvalidDBParameterGroupState"],
            "waiting for the database to stop using it",
            std::time::Duration::from_secs(30 * 60),
            || async {
                match live.observed.scope {
                    Scope::Instance => gone_ok(
                        rds.delete_db_parameter_group()
                            .db_parameter_group_name(&live.id)
                            .send()
                            .await
                            .aws_on("rds:DeleteDBParameterGroup", &live.id),
                    ),
                    Scope::Cluster => gone_ok(
                        rds.delete_db_cluster_parameter_group()
                            .db_cluster_parameter_group_name(&live.id)
                            .send()
                            .await
                            .aws_on("rds:DeleteDBClusterParameterGroup", &live.id),
                    ),
                }
            },
        )
        .await
    }
}

/// Parameters as the plan compares them: name → value.
fn values(parameters: &BTreeMap<String, Parameter>) -> Value {
    let texts: BTreeMap<String, String> = parameters.iter().map(|(n, p)| (n.clone(), p.value.clone())).collect();
    Value::from(texts)
}

fn is_aurora_family(family: &str) -> bool {
    family.starts_with("aurora")
}

/// How a change is applied: a static parameter only "pending-reboot"
/// (RDS refuses "immediate" for one), a dynamic one at once.
fn apply_method(apply: Option<ApplyType>) -> ApplyMethod {
    match apply {
        Some(ApplyType::Dynamic) => ApplyMethod::Immediate,
        _ => ApplyMethod::PendingReboot,
    }
}

fn sdk_parameter(name: &str, value: Option<&str>, apply: Option<ApplyType>) -> SdkParameter {
    SdkParameter::builder()
        .parameter_name(name)
        .set_parameter_value(value.map(str::to_string))
        .apply_method(apply_method(apply))
        .build()
}

/// Sets parameters, twenty a call.
async fn set<'a>(
    step: &Step<'_>,
    scope: Scope,
    group: &str,
    parameters: impl Iterator<Item = (&'a String, &'a Parameter)>,
) -> Result<()> {
    let all: Vec<SdkParameter> = parameters
        .map(|(n, p)| sdk_parameter(n, Some(&p.value), p.apply))
        .collect();
    let rds = &step.aws().rds;
    for chunk in all.chunks(PER_CALL) {
        match scope {
            Scope::Instance => {
                rds.modify_db_parameter_group()
                    .db_parameter_group_name(group)
                    .set_parameters(Some(chunk.to_vec()))
                    .send()
                    .await
                    .aws_on("rds:ModifyDBParameterGroup", group)?;
            }
            Scope::Cluster => {
                rds.modify_db_cluster_parameter_group()
                    .db_cluster_parameter_group_name(group)
                    .set_parameters(Some(chunk.to_vec()))
                    .send()
                    .await
                    .aws_on("rds:ModifyDBClusterParameterGroup", group)?;
            }
        }
    }
    Ok(())
}

/// Puts parameters back to the engine's defaults, twenty a call.
async fn reset(step: &Step<'_>, scope: Scope, group: &str, parameters: &[(&String, &Parameter)]) -> Result<()> {
    let rds = &step.aws().rds;
    for chunk in parameters.chunks(PER_CALL) {
        let list: Vec<SdkParameter> = chunk.iter().map(|(n, p)| sdk_parameter(n, None, p.apply)).collect();
        match scope {
            Scope::Instance => {
                rds.reset_db_parameter_group()
                    .db_parameter_group_name(group)
                    .reset_all_parameters(false)
                    .set_parameters(Some(list))
                    .send()
                    .await
                    .aws_on("rds:ResetDBParameterGroup", group)?;
            }
            Scope::Cluster => {
                rds.reset_db_cluster_parameter_group()
                    .db_cluster_parameter_group_name(group)
                    .reset_all_parameters(false)
                    .set_parameters(Some(list))
                    .send()
                    .await
                    .aws_on("rds:ResetDBClusterParameterGroup", group)?;
            }
        }
    }
    Ok(())
}

/// The parameters set in a group (`Source = user`), every page.
async fn read_parameters(aws: &Aws, scope: Scope, group: &str) -> Result<BTreeMap<String, Parameter>> {
    let mut out = BTreeMap::new();
    let mut add = |p: &SdkParameter| {
        if let (Some(n), Some(v)) = (p.parameter_name(), p.parameter_value()) {
            let apply = p.apply_type().and_then(|t| t.parse().ok());
            out.insert(
                n.to_string(),
                Parameter {
                    value: v.to_string(),
                    apply,
                },
            );
        }
    };
    match scope {
        Scope::Instance => {
            let mut pages = aws
                .rds
                .describe_db_parameters()
                .db_parameter_group_name(group)
                .source("user")
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                page.aws_on("rds:DescribeDBParameters", group)?
                    .parameters()
                    .iter()
                    .for_each(&mut add);
            }
        }
        Scope::Cluster => {
            // No paginator in the SDK for this one: follow the marker.
            let mut marker = None;
            loop {
                let page = aws
                    .rds
                    .describe_db_cluster_parameters()
                    .db_cluster_parameter_group_name(group)
                    .source("user")
                    .set_marker(marker)
                    .send()
                    .await
                    .aws_on("rds:DescribeDBClusterParameters", group)?;
                page.parameters().iter().for_each(&mut add);
                marker = page.marker().map(str::to_string);
                if marker.is_none() {
                    break;
                }
            }
        }
    }
    Ok(out)
}

async fn find_arn(aws: &Aws, scope: Scope, group: &str) -> Result<Option<String>> {
    Ok(match scope {
        Scope::Instance => existing(
            aws.rds
                .describe_db_parameter_groups()
                .db_parameter_group_name(group)
                .send()
                .await
                .aws_on("rds:DescribeDBParameterGroups", group),
        )?
        .and_then(|o| {
            o.db_parameter_groups()
                .first()
                .and_then(|g| g.db_parameter_group_arn().map(Into::into))
        }),
        Scope::Cluster => existing(
            aws.rds
                .describe_db_cluster_parameter_groups()
                .db_cluster_parameter_group_name(group)
                .send()
                .await
                .aws_on("rds:DescribeDBClusterParameterGroups", group),
        )?
        .and_then(|o| {
            o.db_cluster_parameter_groups()
                .first()
                .and_then(|g| g.db_cluster_parameter_group_arn().map(Into::into))
        }),
    })
}

fn to_found(
    scope: Scope,
    name: &str,
    family: &str,
    arn: Option<String>,
    tags: Tags,
    parameters: BTreeMap<String, Parameter>,
    stack: &str,
) -> Found<DbParameterGroup> {
    let ours = is_of_stack(&tags, stack);
    let fallback = match scope {
        Scope::Instance => INSTANCE,
        Scope::Cluster => CLUSTER,
    };
    let address = tags
        .get(TAG_ADDRESS)
        .filter(|_| ours)
        .cloned()
        .unwrap_or_else(|| fallback.to_string());
    DbParameterGroup::found(
        address,
        name,
        "available",
        Readiness::Ready,
        Observed {
            scope,
            family: family.to_string(),
            parameters,
        },
    )
    .with_arn(arn.as_deref())
    .with_tags(tags)
    .with_origin(if ours { Origin::Ours } else { Origin::Foreign })
}

/// What RDS says of one parameter of a family
/// (DescribeEngineDefaultParameters).
#[derive(Debug, Clone)]
pub struct Default {
    pub apply: Option<ApplyType>,
    pub data_type: String,
    pub allowed: String,
    pub modifiable: bool,
}

/// Every parameter of a family's default group, by name, following the
/// marker through every page.
pub async fn engine_defaults(aws: &Aws, family: &str, scope: Scope) -> Result<BTreeMap<String, Default>> {
    let mut out = BTreeMap::new();
    let mut marker: Option<String> = None;
    loop {
        let defaults = match scope {
            Scope::Instance => {
                aws.rds
                    .describe_engine_default_parameters()
                    .db_parameter_group_family(family)
                    .set_marker(marker)
                    .send()
                    .await
                    .aws_on("rds:DescribeEngineDefaultParameters", family)?
                    .engine_defaults
            }
            Scope::Cluster => {
                aws.rds
                    .describe_engine_default_cluster_parameters()
                    .db_parameter_group_family(family)
                    .set_marker(marker)
                    .send()
                    .await
                    .aws_on("rds:DescribeEngineDefaultClusterParameters", family)?
                    .engine_defaults
            }
        };
        let Some(defaults) = defaults else { break };
        for p in defaults.parameters() {
            let Some(name) = p.parameter_name() else { continue };
            out.insert(
                name.to_string(),
                Default {
                    apply: p.apply_type().and_then(|t| t.parse().ok()),
                    data_type: p.data_type().unwrap_or("string").to_string(),
                    allowed: p.allowed_values().unwrap_or_default().to_string(),
                    modifiable: p.is_modifiable().unwrap_or(true),
                },
            );
        }
        marker = defaults.marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    Ok(out)
}
