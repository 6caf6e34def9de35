//! Desired against live: one [`ResourceAction`] per address.
//!
//! The diff knows nothing of AWS. Each kind's attribute table says, per
//! attribute, its desired value, how to read it off the observed value, how
//! to compare the two and what a change takes; [`compare`] walks that table.
//! An attribute discovery did not observe is an error, unless its row says
//! AWS may leave it out: a missing value never passes for a matching one.

use std::collections::{BTreeMap, HashSet};

use anyhow::{bail, Result};

use super::*;
use crate::graph::{Address, Graph};
use crate::live::{Live, LiveState, Origin, Readiness};
use crate::resources::{Desired, Found, OnChange, Policy, Resolve, ResourceKind};

/// What a guard says about one concrete change of an attribute.
pub enum Verdict {
    /// Fine, as the attribute's change says.
    Allowed,
    /// Fine, and worth telling the reviewer this.
    AllowedWithNote(Msg),
    /// AWS cannot do it; why and the way out.
    Impossible(Msg),
    /// Not a change to make: the live value stays, for this reason (shown
    /// to the reviewer).
    Keep(String),
}

/// One resource's desired attributes against its live ones.
#[derive(Debug, Default)]
pub struct Comparison {
    pub changes: Vec<Change>,
    pub impossible: Vec<Impossible>,
    /// Why the resource must be replaced; empty when it need not be.
    pub replace_because: Vec<String>,
    /// What a reviewer should know that is not a change.
    pub notes: Vec<String>,
}

/// Compares one desired resource of kind `K` with its live record (`None`:
/// nothing live yet, so every attribute is new).
pub fn compare<K: ResourceKind>(d: &Desired<'_, K>, live: Option<&Found<K>>, refs: &dyn Resolve) -> Result<Comparison> {
    let mut out = Comparison {
        notes: K::notes(d, live, refs),
        ..Comparison::default()
    };
    let attributes = K::attributes(d, refs);
    let Some(live) = live else {
        out.changes = attributes
            .into_iter()
            .map(|a| Change {
                path: a.path.clone(),
                before: Value::Null,
                after: a.want.clone(),
                forces_replacement: false,
                attribute: a.name().to_string(),
                via: None,
                note: None,
            })
            .collect();
        return Ok(out);
    };
    for attr in &attributes {
        let Some(have) = attr.observed(live) else {
            if attr.unreported_because.is_some() {
                continue;
            }
            bail!(
                "internal error: discovery of {} {} did not observe `{}`, which the stack file sets ({})",
                K::KIND,
                live.id,
                attr.name(),
                attr.path
            );
        };
        if attr.matches(&have) {
            continue;
        }
        if let (Some(per_key), Value::Map(want), Value::Map(have), OnChange::InPlace { via, .. }) =
            (&attr.per_key, &attr.want, &have, &attr.change)
        {
            let keys: std::collections::BTreeSet<&String> = want.keys().chain(have.keys()).collect();
            for key in keys {
                let (before, after) = (have.get(key), want.get(key));
                if before == after {
                    continue;
                }
                out.changes.push(Change {
                    path: crate::config::resolve::parameter_key(&attr.path, key),
                    before: before.cloned().unwrap_or(Value::Null),
                    after: after.cloned().unwrap_or(Value::Null),
                    forces_replacement: false,
                    attribute: attr.name().to_string(),
                    via: Some(via.to_string()),
                    note: match after {
                        Some(_) => per_key.notes.get(key).cloned(),
                        None => Some(per_key.removed.clone()),
                    },
                });
            }
            continue;
        }
        let mut extra_note = None;
        match attr.guard.map(|g| g(&have, &attr.want)) {
            Some(Verdict::Impossible(reason)) => {
                out.impossible.push(Impossible {
                    path: attr.path.clone(),
                    before: have,
                    after: attr.want.clone(),
                    reason,
                });
                continue;
            }
            Some(Verdict::AllowedWithNote(n)) => extra_note = Some(n),
            Some(Verdict::Keep(why)) => {
                out.notes.push(format!("{}: {why}", attr.path));
                continue;
            }
            _ => {}
        }
        match &attr.change {
            OnChange::Impossible(reason) => out.impossible.push(Impossible {
                path: attr.path.clone(),
                before: have,
                after: attr.want.clone(),
                reason: reason.clone(),
            }),
            OnChange::InPlace { via, note } => out.changes.push(Change {
                path: attr.path.clone(),
                before: have,
                after: attr.want.clone(),
                forces_replacement: false,
                attribute: attr.name().to_string(),
                via: Some(via.to_string()),
                note: match (note, extra_note) {
                    (Some(n), Some(e)) => Some(e.then(n.clone())),
                    (n, e) => e.or(n.clone()),
                },
            }),
            OnChange::Replace(why) => {
                out.replace_because
                    .push(format!("{} forces replacement: {why}", attr.path));
                out.changes.push(Change {
                    path: attr.path.clone(),
                    before: have,
                    after: attr.want.clone(),
                    forces_replacement: true,
                    attribute: attr.name().to_string(),
                    via: None,
                    note: None,
                });
            }
        }
    }
    Ok(out)
}

/// The live records the plan keeps, by address: what references resolve to.
struct Primaries<'a>(BTreeMap<&'a str, &'a Live>);

impl Resolve for Primaries<'_> {
    fn live(&self, address: &str) -> Option<&Live> {
        self.0
            .get(address)
            .copied()
            .filter(|l| l.readiness != Readiness::Failed)
    }
}

/// Compares a desired graph with live state: one action per desired
/// address, plus a deletion for every live resource nothing desires (or
/// that duplicates one that is kept), and warnings for a reviewer.
pub fn diff(graph: &Graph, live: &LiveState, policy: &Policy) -> Result<(Vec<ResourceAction>, Vec<String>)> {
    let mut actions = Vec::new();
    let mut warnings = Vec::new();
    let by_address = live.by_address();
    let desired: HashSet<&str> = graph.addresses();

    let primaries = Primaries(
        by_address
            .iter()
            .filter_map(|(address, candidates)| Some((*address, choose_primary(candidates, live)?)))
            .collect(),
    );

    for resource in &graph.resources {
        let ops = resource.kind.ops();
        let candidates = by_address.get(resource.address.as_str()).cloned().unwrap_or_default();
        let chosen = primaries.0.get(resource.address.as_str()).copied();
        let mut action = ResourceAction::new(&resource.address, resource.kind, Action::NoOp, &resource.name);
        match chosen {
            None => {
                action.action = Action::Create;
                let c = ops.compare(resource, None, &primaries)?;
                action.changes = c.changes;
                action.notes = c.notes;
            }
            Some(l) if l.readiness == Readiness::Failed => {
                action.id = Some(l.id.clone());
                action.action = Action::Replace;
                action
                    .reasons
                    .push(format!("in state {}; it has to be made again", l.state));
            }
            Some(l) => {
                action.id = Some(l.id.clone());
                if l.readiness == Readiness::Pending {
                    action.pending = Some(l.state.clone());
                }
                let c = ops.compare(resource, Some(l), &primaries)?;
                action.impossible = c.impossible;
                action.notes = c.notes;
                action.changes = c.changes;
                if !c.replace_because.is_empty() {
                    action.action = Action::Replace;
                    action.reasons = c.replace_because;
                } else if !action.changes.is_empty() {
                    action.action = Action::Update;
                }
            }
        }
        if action.action == Action::Replace {
            action.replace_order = Some(ops.replace_order());
            action.data_loss = ops.data_loss(&resource.name, chosen, policy);
        }
        // Anything else claiming this address is a duplicate to remove.
        for extra in candidates
            .iter()
            .filter(|c| !chosen.is_some_and(|p| std::ptr::eq(**c, p)))
            .filter(|c| c.readiness != Readiness::Deleting)
        {
            let keep = chosen.map(|c| c.id.as_str()).unwrap_or("?");
            let mut d = ResourceAction::new(&resource.address, resource.kind, Action::Delete, extra.id.clone());
            d.id = Some(extra.id.clone());
            let why = if ops.replace_order() == ReplaceOrder::CreateBeforeDestroy && action.action == Action::NoOp {
                format!("replaced by {keep}, which matches the stack file")
            } else {
                format!("duplicate of {keep} claiming the same address; nothing uses it")
            };
            warnings.push(format!(
                "{}: two live resources claim this address ({} and {}); apply keeps {keep} and deletes {}",
                resource.address, keep, extra.id, extra.id
            ));
            d.reasons.push(why);
            d.data_loss = ops.data_loss(&extra.id, Some(extra), policy);
            actions.push(d);
        }
        actions.push(action);
    }

    // Live resources the stack file no longer describes.
    for (address, candidates) in &by_address {
        if desired.contains(address) {
            continue;
        }
        for l in candidates.iter().filter(|l| l.readiness != Readiness::Deleting) {
            let ops = l.kind.ops();
            if let Some(why) = ops.kept(l, graph, live, policy) {
                let mut k = ResourceAction::new(*address, l.kind, Action::NoOp, l.display_name());
                k.id = Some(l.id.clone());
                k.notes.push(why.clone());
                k.kept = Some(why);
                actions.push(k);
                continue;
            }
            let mut d = ResourceAction::new(*address, l.kind, Action::Delete, l.display_name());
            d.id = Some(l.id.clone());
            d.reasons.push(ops.deletion_reason(l, graph, policy).unwrap_or_else(|| {
                if policy.sleeping {
                    "asleep: `ekstack wake` (or any apply) makes it again".to_string()
                } else {
                    "not in the stack file".to_string()
                }
            }));
            // What `--finish-migration` releases is asked for by name, and
            // its final snapshot keeps what it held.
            let released = Policy {
                finish_migration: false,
                ..policy.clone()
            };
            let finishing =
                policy.finish_migration && policy.final_snapshot && ops.kept(l, graph, live, &released).is_some();
            if !finishing {
                d.data_loss = ops.data_loss(&l.id, Some(l), policy);
            }
            actions.push(d);
        }
    }
    Ok((actions, warnings))
}

/// Marks as duplicates the live resources the diff chose not to keep.
pub fn mark_duplicates(live: &mut LiveState) {
    let keep: HashSet<(Address, String)> = {
        let by_address = live.by_address();
        by_address
            .values()
            .filter(|c| c.len() > 1)
            .filter_map(|c| choose_primary(c, live))
            .map(|l| (l.address.clone(), l.id.clone()))
            .collect()
    };
    let crowded: HashSet<Address> = keep.iter().map(|(a, _)| a.clone()).collect();
    for l in live.resources.iter_mut().filter(|l| l.origin == Origin::Ours) {
        if crowded.contains(&l.address) && !keep.contains(&(l.address.clone(), l.id.clone())) {
            l.origin = Origin::Duplicate;
        }
    }
}

/// Of several live resources claiming one address, the one to keep: not being
/// deleted, not failed, then the one most used by other resources, then the
/// first by id, so the choice is stable between runs.
fn choose_primary<'a>(candidates: &[&'a Live], live: &LiveState) -> Option<&'a Live> {
    candidates
        .iter()
        .filter(|c| c.readiness != Readiness::Deleting)
        .max_by_key(|c| {
            let healthy = c.readiness != Readiness::Failed;
            let used = live.ours().filter(|o| o.id != c.id && o.refers_to(c)).count();
            (healthy, used, std::cmp::Reverse(c.id.clone()))
        })
        .copied()
}

#[cfg(test)]
mod tests;
