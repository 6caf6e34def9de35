//! The plan: one action per address, as a value.
//!
//! Desired state (the graph) against live state gives a [`Plan`]. The plan is
//! what both renderers show and what `apply` executes; the reasons it carries
//! are for people and never drive execution.

pub mod diff;
pub mod value;

use serde::Serialize;

pub use diff::Verdict;
pub use value::{Value, KNOWN_AFTER_APPLY};

use crate::graph::Address;
use crate::i18n::Msg;
use crate::resources::Kind;

pub const FORMAT_VERSION: u32 = 1;

/// What apply will do to one address: terraform's closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    #[serde(rename = "no-op")]
    NoOp,
    Create,
    Update,
    Replace,
    Delete,
}

impl Action {
    pub fn is_replace(self) -> bool {
        self == Action::Replace
    }

    /// The symbol terraform shows for the action.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }
}

/// How a replacement is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplaceOrder {
    /// The new one is made (under a new name) before the old one goes, so
    /// capacity never drops: node groups.
    CreateBeforeDestroy,
    DestroyBeforeCreate,
}

/// One attribute that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The stack-file key this attribute comes from, e.g. `database.multi_az`.
    pub path: String,
    pub before: Value,
    pub after: Value,
    pub forces_replacement: bool,
    /// The attribute's name on the resource.
    pub attribute: String,
    /// The API call that makes the change in place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// Downtime or duration to expect, e.g. "no downtime, ~10 min".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<Msg>,
}

/// A difference AWS cannot make; reported, never attempted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Impossible {
    pub path: String,
    pub before: Value,
    pub after: Value,
    /// Why, and the way out.
    pub reason: Msg,
}

/// The action for one address.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceAction {
    pub address: Address,
    pub kind: Kind,
    pub action: Action,
    /// The AWS name or Name tag.
    pub name: String,
    /// The live resource's id, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub changes: Vec<Change>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace_order: Option<ReplaceOrder>,
    /// What is lost if this runs, for a data-losing replacement or deletion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_loss: Option<Msg>,
    /// A live state apply waits out before anything depends on it (`CREATING`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
    /// Why the action was chosen, for people: "not in the stack file",
    /// "duplicate of vpc-…", "in state CREATE_FAILED".
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub impossible: Vec<Impossible>,
    /// What a reviewer should know about this resource that is not a change.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Live, no longer in the file, and kept for now: why (a migration's
    /// old database, until `apply --finish-migration`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept: Option<String>,
}

impl ResourceAction {
    pub fn new(address: impl Into<Address>, kind: Kind, action: Action, name: impl Into<String>) -> Self {
        ResourceAction {
            address: address.into(),
            kind,
            action,
            name: name.into(),
            id: None,
            changes: Vec::new(),
            replace_order: None,
            data_loss: None,
            pending: None,
            reasons: Vec::new(),
            impossible: Vec::new(),
            notes: Vec::new(),
            kept: None,
        }
    }

    pub fn changes_attribute(&self, attribute: &str) -> bool {
        self.changes.iter().any(|c| c.attribute == attribute)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub no_op: usize,
}

/// A sleeping stack, as its mark says and live state shows.
#[derive(Debug, Clone, Serialize)]
pub struct Asleep {
    #[serde(flatten)]
    pub mark: crate::resources::sleep_mark::SleepMark,
    /// AWS started the stopped database again after seven days: it is
    /// awake again, billing.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub database_restarted: bool,
}

/// The whole plan of a stack.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub format_version: u32,
    pub stack: String,
    pub env: Option<String>,
    pub region: String,
    pub actions: Vec<ResourceAction>,
    pub summary: Summary,
    /// Things a reviewer must know that are not actions (duplicates found,
    /// changes AWS cannot make).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Quotas the plan's creates would go past: apply refuses to start.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quota_shortfalls: Vec<crate::quota::Shortfall>,
    /// The stack was put to sleep; applying wakes it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sleeping: bool,
    /// How it sleeps, when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sleep: Option<Asleep>,
    /// What the stack costs after apply, and now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::cost::PlanCost>,
}

impl Plan {
    pub fn new(
        stack: &str,
        env: Option<String>,
        region: &str,
        actions: Vec<ResourceAction>,
        warnings: Vec<String>,
    ) -> Self {
        let mut summary = Summary::default();
        for a in &actions {
            match a.action {
                Action::NoOp => summary.no_op += 1,
                Action::Create => summary.create += 1,
                Action::Update => summary.update += 1,
                Action::Replace => summary.replace += 1,
                Action::Delete => summary.delete += 1,
            }
        }
        Plan {
            format_version: FORMAT_VERSION,
            stack: stack.into(),
            env,
            region: region.into(),
            actions,
            summary,
            warnings,
            quota_shortfalls: Vec::new(),
            sleeping: false,
            sleep: None,
            cost: None,
        }
    }

    pub fn has_changes(&self) -> bool {
        self.actions
            .iter()
            .any(|a| a.action != Action::NoOp || a.pending.is_some())
    }

    /// Actions that lose data if applied.
    pub fn data_losing(&self) -> impl Iterator<Item = &ResourceAction> {
        self.actions.iter().filter(|a| a.data_loss.is_some())
    }
}
