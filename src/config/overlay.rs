//! What an environment overlay may change.
//!
//! One `environments/` folder serves every stack file in `stacks/`, so a
//! `prod.toml` that grows "the general node group" and makes "the database
//! Multi-AZ" is shared by a Fargate-only stack and an Aurora stack too. As with
//! a shared terraform `.tfvars` file, keys that do not fit a stack are not an
//! error: an overlay *tunes* the components a stack file declares and never adds
//! one. Overlay keys for a component the stack lacks ([eks], [database], a node
//! group or Fargate profile it does not name) or for a database setting its
//! engine does not take are left out, each with a note naming the file and line.
//! The same keys written in the stack file itself are checked as usual.

use super::diagnostic::Diagnostic;
use super::model::Engine;
use super::raw::RawFile;
use super::source::Located;

/// Removes from `overlay` what does not apply to `base`; returns a note for each.
pub fn prune(
    base: &RawFile,
    overlay: &mut RawFile,
    at: impl Fn(&str) -> Option<super::source::Location>,
) -> Vec<Diagnostic> {
    let mut notes = Vec::new();
    let mut skip = |key: &str, at: Option<super::source::Location>, why: String| {
        notes.push(Diagnostic::new(key, format!("not applied: {why}"), at));
    };

    // A given VPC's shape is the network team's: what an overlay would
    // derive or make (AZs, NAT, CIDRs) does not apply to it.
    let given = base.network.as_ref().is_some_and(|n| n.vpc_id.is_some());
    if let (true, Some(n)) = (given, overlay.network.as_mut()) {
        let why = || "the stack uses a VPC ekstack did not create (`vpc_id`)".to_string();
        if let Some(v) = n.cidr.take() {
            skip("network.cidr", Some(v.at()), why());
        }
        if let Some(v) = n.nat.take() {
            skip("network.nat", Some(v.at()), why());
        }
        if let Some(v) = n.azs.take() {
            skip("network.azs", Some(v.at()), why());
        }
        if let Some(v) = n.public_subnets.take() {
            skip("network.public_subnets", Some(v.at()), why());
        }
        if let Some(v) = n.private_subnets.take() {
            skip("network.private_subnets", Some(v.at()), why());
        }
    }

    match (&base.eks, &mut overlay.eks) {
        (None, Some(_)) => {
            skip("eks", at("eks"), "the stack file declares no [eks] cluster".into());
            overlay.eks = None;
        }
        (Some(b), Some(o)) => {
            let base_groups = b.nodegroups.as_ref();
            if let Some(groups) = o.nodegroups.as_mut() {
                groups.retain(|name, _| {
                    let keep = base_groups.is_some_and(|m| m.contains_key(name));
                    if !keep {
                        skip(
                            &format!("eks.nodegroups.{name}"),
                            at(&format!("eks.nodegroups.{name}")),
                            format!("the stack file declares no node group \"{name}\""),
                        );
                    }
                    keep
                });
            }
            let base_profiles = b.fargate.as_ref();
            if let Some(profiles) = o.fargate.as_mut() {
                profiles.retain(|name, _| {
                    let keep = base_profiles.is_some_and(|m| m.contains_key(name));
                    if !keep {
                        skip(
                            &format!("eks.fargate.{name}"),
                            at(&format!("eks.fargate.{name}")),
                            format!("the stack file declares no Fargate profile \"{name}\""),
                        );
                    }
                    keep
                });
            }
        }
        _ => {}
    }

    match (&base.database, &mut overlay.database) {
        (None, Some(_)) => {
            skip(
                "database",
                at("database"),
                "the stack file declares no [database]".into(),
            );
            overlay.database = None;
        }
        (Some(b), Some(o)) => {
            let engine_name = o
                .engine
                .as_ref()
                .or(b.engine.as_ref())
                .map(|e| e.value.clone())
                .unwrap_or_else(|| "postgres".into());
            // An unknown engine is reported by validation; prune nothing for it.
            if let Some(engine) = Engine::parse(&engine_name) {
                let d = o;
                let family = if engine.is_aurora() {
                    "Aurora"
                } else {
                    "an RDS instance"
                };
                let class = d.class.as_ref().map(|c| c.value.clone()).unwrap_or_default();
                let mut drop_if = |key: &str, at: Option<super::source::Location>, applies: bool| {
                    if !applies {
                        let why = if key == "class" {
                            format!(
                                "the stack's database is {family} ({engine_name}), which does not offer \"{class}\""
                            )
                        } else {
                            format!("the stack's database is {family} ({engine_name}), which does not take `{key}`")
                        };
                        skip(&format!("database.{key}"), at, why);
                    }
                    applies
                };
                let aurora = engine.is_aurora();
                if !drop_if(
                    "storage_gib",
                    d.storage_gib.as_ref().map(Located::at),
                    !aurora || d.storage_gib.is_none(),
                ) {
                    d.storage_gib = None;
                }
                if !drop_if(
                    "multi_az",
                    d.multi_az.as_ref().map(Located::at),
                    !aurora || d.multi_az.is_none(),
                ) {
                    d.multi_az = None;
                }
                if !drop_if(
                    "instances",
                    d.instances.as_ref().map(Located::at),
                    aurora || d.instances.is_none(),
                ) {
                    d.instances = None;
                }
                if !drop_if(
                    "replicas",
                    d.replicas.as_ref().map(Located::at),
                    !aurora || d.replicas.is_none(),
                ) {
                    d.replicas = None;
                }
                if !drop_if(
                    "replica_class",
                    d.replica_class.as_ref().map(Located::at),
                    !aurora || d.replica_class.is_none(),
                ) {
                    d.replica_class = None;
                }
                if !drop_if(
                    "instance_parameters",
                    at("database.instance_parameters"),
                    aurora || d.instance_parameters.is_none(),
                ) {
                    d.instance_parameters = None;
                }
                if !drop_if(
                    "serverless",
                    at("database.serverless"),
                    aurora || d.serverless.is_none(),
                ) {
                    d.serverless = None;
                }
                let class_fits = d.class.as_ref().is_none_or(|c| class_fits_engine(&c.value, aurora));
                if !drop_if("class", d.class.as_ref().map(Located::at), class_fits) {
                    d.class = None;
                }
            }
        }
        _ => {}
    }
    notes
}

/// Aurora offers db.serverless and memory-optimised or burstable medium/large
/// classes; instance engines offer anything but db.serverless.
fn class_fits_engine(class: &str, aurora: bool) -> bool {
    if !aurora {
        return class != "db.serverless";
    }
    if class == "db.serverless" {
        return true;
    }
    let Some(rest) = class.strip_prefix("db.") else {
        return true;
    };
    let (family, size) = rest.split_once('.').unwrap_or((rest, ""));
    match family.chars().next() {
        Some('r') | Some('x') => true,
        Some('t') => size == "medium" || size == "large",
        _ => false,
    }
}
