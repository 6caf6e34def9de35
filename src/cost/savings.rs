//! Changes to a stack file that would make it cost less, each with what it
//! gives up. This only proposes: `ops::explain` applies each to a copy of
//! the files, keeps those `validate` accepts, and prices them.

use crate::config::{NatMode, Stack};
use crate::i18n::Msg;

/// What a change does to one key.
#[derive(Debug, Clone)]
pub enum Edit {
    /// `key = value`, the value written as TOML.
    Set(toml_edit::Value),
    /// The key (a table such as `[database.proxy]`) goes.
    Remove,
}

/// One change to propose.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The dotted stack-file key, e.g. `database.multi_az`.
    pub key: String,
    pub edit: Edit,
    /// The value now and after, as the file would show them.
    pub from: String,
    pub to: String,
    /// What the stack no longer has.
    pub gives_up: Msg,
}

impl Candidate {
    fn set(key: impl Into<String>, from: impl ToString, to: impl Into<toml_edit::Value>, gives_up: Msg) -> Self {
        let to: toml_edit::Value = to.into();
        Candidate {
            key: key.into(),
            from: from.to_string(),
            to: to.to_string().trim().to_string(),
            edit: Edit::Set(to),
            gives_up,
        }
    }
}

/// Instance sizes from small to large, as EC2 and RDS name them.
const SIZES: [&str; 9] = [
    "nano", "micro", "small", "medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge",
];

/// `db.m6g.large` → (`db.m6g`, `large`); `t3.medium` → (`t3`, `medium`).
fn split_size(class: &str) -> Option<(&str, &str)> {
    let (family, size) = class.rsplit_once('.')?;
    SIZES.contains(&size).then_some((family, size))
}

/// The next size down in the same family: `db.t4g.medium` → `db.t4g.small`.
fn smaller(class: &str) -> Option<String> {
    let (family, size) = split_size(class)?;
    let i = SIZES.iter().position(|s| *s == size)?;
    (i > 1).then(|| format!("{family}.{}", SIZES[i - 1]))
}

/// The burstable class of the same size for a fixed-performance one:
/// `db.m6g.large` → `db.t4g.large`.
fn burstable(class: &str) -> Option<String> {
    let (family, size) = split_size(class)?;
    let generation = family.rsplit('.').next()?;
    (!generation.starts_with('t')).then(|| match family.strip_prefix("db.") {
        Some(_) => format!("db.t4g.{size}"),
        None => format!("t3.{size}"),
    })
}

/// Every change worth pricing for this stack. Some will not validate (a
/// class the engine lacks, a size a rule refuses): the caller drops those.
pub fn candidates(stack: &Stack) -> Vec<Candidate> {
    let mut out = Vec::new();
    if stack.network.given.is_none() && stack.network.nat == NatMode::PerAz {
        out.push(Candidate::set(
            "network.nat",
            "\"per-az\"",
            NatMode::Single.as_str(),
            Msg::new("savings.gives_up.single_nat"),
        ));
    }
    if let Some(db) = &stack.database {
        for class in [smaller(&db.class), burstable(&db.class)].into_iter().flatten() {
            let gives_up = if class.starts_with("db.t") && !db.class.starts_with("db.t") {
                Msg::new("savings.gives_up.burstable_class")
            } else {
                Msg::new("savings.gives_up.smaller_class")
            };
            out.push(Candidate::set(
                "database.class",
                format!("\"{}\"", db.class),
                class.as_str(),
                gives_up.arg("from", &db.class).arg("to", &class),
            ));
        }
        if db.multi_az && !db.engine.is_aurora() {
            out.push(Candidate::set(
                "database.multi_az",
                true,
                false,
                Msg::new("savings.gives_up.multi_az"),
            ));
        }
        if db.engine.is_aurora() && db.instances > 1 {
            out.push(Candidate::set(
                "database.instances",
                db.instances,
                i64::from(db.instances - 1),
                Msg::new("savings.gives_up.aurora_instance"),
            ));
        }
        if db.replicas > 0 {
            out.push(Candidate::set(
                "database.replicas",
                db.replicas,
                i64::from(db.replicas - 1),
                Msg::new("savings.gives_up.replica"),
            ));
        }
        if db.proxy.is_some() {
            out.push(Candidate {
                key: "database.proxy".into(),
                edit: Edit::Remove,
                from: "[database.proxy]".into(),
                to: "(removed)".into(),
                gives_up: Msg::new("savings.gives_up.proxy"),
            });
        }
    }
    if let Some(eks) = stack.running_cluster() {
        for (name, group) in &eks.nodegroups {
            let base = format!("eks.nodegroups.{name}");
            if group.desired > group.min {
                out.push(Candidate::set(
                    format!("{base}.desired"),
                    group.desired,
                    i64::from(group.min),
                    Msg::new("savings.gives_up.fewer_nodes")
                        .arg("from", group.desired)
                        .arg("to", group.min),
                ));
            }
            let Some(first) = group.instance_types.first() else {
                continue;
            };
            for smaller_type in [smaller(first), burstable(first)].into_iter().flatten() {
                let mut types = toml_edit::Array::new();
                types.push(smaller_type.as_str());
                let from = format!(
                    "[{}]",
                    group
                        .instance_types
                        .iter()
                        .map(|t| format!("\"{t}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                out.push(Candidate::set(
                    format!("{base}.instance_types"),
                    from,
                    types,
                    Msg::new("savings.gives_up.smaller_nodes")
                        .arg("from", first)
                        .arg("to", &smaller_type),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_step_down_within_a_family() {
        assert_eq!(smaller("db.t4g.medium").as_deref(), Some("db.t4g.small"));
        assert_eq!(smaller("db.t4g.micro"), None);
        assert_eq!(smaller("t3.medium").as_deref(), Some("t3.small"));
        assert_eq!(smaller("db.m6g.xlarge").as_deref(), Some("db.m6g.large"));
        assert_eq!(burstable("db.m6g.large").as_deref(), Some("db.t4g.large"));
        assert_eq!(burstable("db.t4g.large"), None);
        assert_eq!(burstable("m5.large").as_deref(), Some("t3.large"));
        assert_eq!(smaller("db.serverless"), None);
    }
}
