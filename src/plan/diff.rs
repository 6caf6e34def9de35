//! Desired attributes against live ones: one [`ResourceAction`] per address.
//!
//! The diff itself knows nothing of AWS: each resource kind describes its
//! attributes as [`Attr`]s (value, stack-file path, and what a change costs),
//! and this module compares them with what discovery found.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use super::*;
use crate::graph::{Graph, Resource};
use crate::live::{Live, LiveState, Readiness};

/// One desired attribute and what changing it takes.
#[derive(Debug, Clone)]
pub struct Attr {
    /// Key in [`Live::attrs`].
    pub name: &'static str,
    /// Stack-file key it comes from.
    pub path: String,
    pub value: Value,
    pub on_change: OnChange,
    pub compare: Compare,
    /// Looks at a particular before → after: some changes AWS makes only in
    /// one direction (storage grows, versions go up one minor at a time).
    pub guard: Option<Guard>,
}

/// Judges one concrete change of an attribute.
pub type Guard = fn(before: &Value, after: &Value) -> Verdict;

/// What a [`Guard`] says about a change.
pub enum Verdict {
    /// Fine, as the attribute's `on_change` says.
    Allowed,
    /// Fine, and worth telling the reviewer this.
    AllowedWithNote(String),
    /// AWS cannot do it; why and the way out.
    Impossible(String),
}

#[derive(Debug, Clone)]
pub enum OnChange {
    /// Changed in place by this API call, with an optional note on downtime.
    InPlace { via: &'static str, note: Option<String> },
    /// The resource must be replaced; why.
    Replace(String),
    /// AWS cannot make this change; why, and the way out.
    Impossible(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    Exact,
    /// A desired "16" is met by a live "16.4".
    VersionPrefix,
    /// Arrays compared as sets.
    Unordered,
}

impl Attr {
    pub fn in_place(name: &'static str, path: impl Into<String>, value: impl Into<Value>, via: &'static str) -> Self {
        Attr {
            name,
            path: path.into(),
            value: value.into(),
            on_change: OnChange::InPlace { via, note: None },
            compare: Compare::Exact,
            guard: None,
        }
    }

    pub fn replace(
        name: &'static str,
        path: impl Into<String>,
        value: impl Into<Value>,
        why: impl Into<String>,
    ) -> Self {
        Attr {
            name,
            path: path.into(),
            value: value.into(),
            on_change: OnChange::Replace(why.into()),
            compare: Compare::Exact,
            guard: None,
        }
    }

    pub fn impossible(
        name: &'static str,
        path: impl Into<String>,
        value: impl Into<Value>,
        why: impl Into<String>,
    ) -> Self {
        Attr {
            name,
            path: path.into(),
            value: value.into(),
            on_change: OnChange::Impossible(why.into()),
            compare: Compare::Exact,
            guard: None,
        }
    }

    pub fn compare(mut self, compare: Compare) -> Self {
        self.compare = compare;
        self
    }

    pub fn guard(mut self, guard: Guard) -> Self {
        self.guard = Some(guard);
        self
    }

    pub fn note(mut self, text: impl Into<String>) -> Self {
        if let OnChange::InPlace { note, .. } = &mut self.on_change {
            *note = Some(text.into());
        }
        self
    }

    /// Whether the live value meets this desired one.
    pub fn matches(&self, live: &Value) -> bool {
        match self.compare {
            Compare::Exact => &self.value == live,
            Compare::VersionPrefix => match (self.value.as_str(), live.as_str()) {
                (Some(want), Some(have)) => crate::config::resolve::version_has_prefix(have, want),
                _ => &self.value == live,
            },
            Compare::Unordered => match (self.value.as_array(), live.as_array()) {
                (Some(a), Some(b)) => {
                    let mut a: Vec<String> = a.iter().map(|v| v.to_string()).collect();
                    let mut b: Vec<String> = b.iter().map(|v| v.to_string()).collect();
                    a.sort();
                    b.sort();
                    a == b
                }
                _ => &self.value == live,
            },
        }
    }
}

/// What the diff needs to know about each kind beyond its attributes.
pub trait KindRules {
    /// Desired attributes of a resource; `id_of` gives the live id of another
    /// address, when it exists.
    fn attrs(&self, resource: &Resource, id_of: &dyn Fn(&str) -> Option<String>) -> Vec<Attr>;
    /// How a replacement of this kind is ordered.
    fn replace_order(&self, kind: Kind) -> ReplaceOrder;
    /// What deleting or replacing this live resource loses, if anything.
    fn data_loss(&self, kind: Kind, name: &str, live: Option<&Live>) -> Option<String>;
}

/// Compares a desired graph with live state.
pub fn diff(graph: &Graph, live: &LiveState, rules: &dyn KindRules) -> (Vec<ResourceAction>, Vec<String>) {
    let mut actions = Vec::new();
    let mut warnings = Vec::new();
    let by_address = live.by_address();
    let desired: HashSet<&str> = graph.addresses();

    // The id each address will have: the chosen live resource's, if any.
    let mut primary: BTreeMap<&str, &Live> = BTreeMap::new();
    for (address, candidates) in &by_address {
        if let Some(p) = choose_primary(candidates, live) {
            primary.insert(address, p);
        }
    }
    let id_of = |address: &str| -> Option<String> {
        primary
            .get(address)
            .filter(|l| l.readiness != Readiness::Failed)
            .map(|l| l.id.clone())
    };

    for resource in &graph.resources {
        let candidates = by_address.get(resource.address.as_str()).cloned().unwrap_or_default();
        let chosen = primary.get(resource.address.as_str()).copied();
        let attrs = rules.attrs(resource, &id_of);
        let mut action = match chosen {
            None => {
                let mut a = ResourceAction::new(&resource.address, resource.kind, Action::Create, &resource.name);
                a.changes = attrs
                    .iter()
                    .map(|attr| Change {
                        path: attr.path.clone(),
                        before: Value::Null,
                        after: attr.value.clone(),
                        forces_replacement: false,
                        attribute: attr.name.to_string(),
                        via: None,
                        note: None,
                    })
                    .collect();
                a
            }
            Some(l) => compare(resource, &attrs, l),
        };
        // Anything else claiming this address is a duplicate to remove.
        for extra in candidates
            .iter()
            .filter(|c| Some(**c as *const Live) != chosen.map(|p| p as *const Live))
        {
            if extra.readiness == Readiness::Deleting {
                continue;
            }
            let mut d = ResourceAction::new(&resource.address, resource.kind, Action::Delete, extra.id.clone());
            d.id = Some(extra.id.clone());
            let keep = chosen.map(|c| c.id.as_str()).unwrap_or("?");
            let why = if resource.kind == Kind::EksNodegroup && action.action == Action::NoOp {
                format!("replaced by {keep}, which matches the stack file")
            } else {
                format!("duplicate of {keep} claiming the same address; nothing uses it")
            };
            warnings.push(format!(
                "{}: two live resources claim this address ({} and {}); apply keeps {keep} and deletes {}",
                resource.address, keep, extra.id, extra.id
            ));
            d.reasons.push(why);
            d.data_loss = rules.data_loss(resource.kind, &extra.id, Some(extra));
            actions.push(d);
        }
        if action.action == Action::Replace {
            action.replace_order = Some(rules.replace_order(resource.kind));
            action.data_loss = rules.data_loss(resource.kind, &resource.name, chosen);
        }
        actions.push(action);
    }

    // Live resources the stack file no longer describes.
    for (address, candidates) in &by_address {
        if desired.contains(address) {
            continue;
        }
        for l in candidates {
            if l.readiness == Readiness::Deleting {
                continue;
            }
            let mut d = ResourceAction::new(*address, l.kind, Action::Delete, display_name(l));
            d.id = Some(l.id.clone());
            d.reasons.push("not in the stack file".into());
            d.data_loss = rules.data_loss(l.kind, &l.id, Some(l));
            actions.push(d);
        }
    }
    (actions, warnings)
}

fn display_name(l: &Live) -> String {
    l.tags.get("Name").cloned().unwrap_or_else(|| l.id.clone())
}

/// Of several live resources claiming one address, the one to keep: not being
/// deleted, not failed, then the one most used by other resources, then the
/// first by id, so the choice is stable between runs.
fn choose_primary<'a>(candidates: &[&'a Live], live: &LiveState) -> Option<&'a Live> {
    let usable: Vec<&&Live> = candidates
        .iter()
        .filter(|c| c.readiness != Readiness::Deleting)
        .collect();
    usable
        .into_iter()
        .max_by_key(|c| {
            let healthy = c.readiness != Readiness::Failed;
            let used = live
                .resources
                .iter()
                .filter(|o| o.id != c.id && o.mentions(&c.id))
                .count();
            (healthy, used, std::cmp::Reverse(c.id.clone()))
        })
        .copied()
}

fn compare(resource: &Resource, attrs: &[Attr], l: &Live) -> ResourceAction {
    let mut a = ResourceAction::new(&resource.address, resource.kind, Action::NoOp, &resource.name);
    a.id = Some(l.id.clone());
    if l.readiness == Readiness::Failed {
        a.action = Action::Replace;
        a.reasons.push(format!("in state {}; it has to be made again", l.state));
        return a;
    }
    if l.readiness == Readiness::Pending {
        a.pending = Some(l.state.clone());
    }
    let mut replace = false;
    for attr in attrs {
        // An attribute discovery could not observe is taken as it should be.
        let Some(have) = l.attrs.get(attr.name) else { continue };
        if attr.matches(have) {
            continue;
        }
        let mut extra_note = None;
        match attr.guard.map(|g| g(have, &attr.value)) {
            Some(Verdict::Impossible(reason)) => {
                a.impossible.push(Impossible {
                    path: attr.path.clone(),
                    before: have.clone(),
                    after: attr.value.clone(),
                    reason,
                });
                continue;
            }
            Some(Verdict::AllowedWithNote(n)) => extra_note = Some(n),
            _ => {}
        }
        match &attr.on_change {
            OnChange::Impossible(reason) => a.impossible.push(Impossible {
                path: attr.path.clone(),
                before: have.clone(),
                after: attr.value.clone(),
                reason: reason.clone(),
            }),
            OnChange::InPlace { via, note } => a.changes.push(Change {
                path: attr.path.clone(),
                before: have.clone(),
                after: attr.value.clone(),
                forces_replacement: false,
                attribute: attr.name.to_string(),
                via: Some(via.to_string()),
                note: match (note, extra_note) {
                    (Some(n), Some(e)) => Some(format!("{e}; {n}")),
                    (n, e) => e.or(n.clone()),
                },
            }),
            OnChange::Replace(why) => {
                replace = true;
                a.reasons.push(format!("{} forces replacement: {why}", attr.path));
                a.changes.push(Change {
                    path: attr.path.clone(),
                    before: have.clone(),
                    after: attr.value.clone(),
                    forces_replacement: true,
                    attribute: attr.name.to_string(),
                    via: None,
                    note: None,
                })
            }
        }
    }
    if replace {
        a.action = Action::Replace;
    } else if !a.changes.is_empty() {
        a.action = Action::Update;
    }
    a
}
