//! Live state: what discovery found in the account, one record per AWS
//! resource, already mapped to the address it claims.
//!
//! A record has the same header for every kind (id, state, tags, where it
//! came from) and the kind's own typed observed value. The engine carries
//! records with the observed value erased ([`Live`]); a kind reads its own
//! back typed ([`Live::typed`]).

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use anyhow::{anyhow, Result};
use serde::Serialize;

use crate::graph::Address;
use crate::resources::{Found, Kind, ResourceKind};

/// Tags by key.
pub type Tags = BTreeMap<String, String>;

/// How usable a live resource is, whatever the service calls its states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Readiness {
    /// Usable (available, ACTIVE, attached).
    Ready,
    /// Being created or modified; usable once it settles.
    Pending,
    /// Deliberately stopped (a sleeping database).
    Stopped,
    /// Creation failed; it has to be replaced.
    Failed,
    /// Being deleted; as good as gone.
    Deleting,
}

/// Where a live resource came from, as far as this stack is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Made by ekstack for this stack (its tags say so).
    Ours,
    /// Has the stack's names but not its tags: another tool's, left alone
    /// (but for node groups inside the stack's own cluster, which destroy removes).
    Foreign,
    /// Made by an earlier run whose answer was lost, and found instead of
    /// made again: the steps after its create call may not have run.
    Adopted,
    /// Claims an address another live resource holds; nothing uses it.
    Duplicate,
    /// Given to the stack (`network.vpc_id` and its subnets): used as it
    /// is, never changed but as the file allows, never deleted.
    Given,
}

/// One live AWS resource with a typed observed value `O`.
#[derive(Debug, Clone)]
pub struct Record<O> {
    pub address: Address,
    pub kind: Kind,
    /// The id used in API calls: `vpc-…`, a role or cluster name, a DB identifier.
    pub id: String,
    pub arn: Option<String>,
    /// The state as AWS reports it (`available`, `CREATING`, `stopped`).
    pub state: String,
    pub readiness: Readiness,
    pub origin: Origin,
    pub tags: Tags,
    pub observed: O,
}

impl<O> Record<O> {
    pub fn with_arn(mut self, arn: Option<impl Into<String>>) -> Self {
        self.arn = arn.map(Into::into);
        self
    }

    pub fn with_tags(mut self, tags: Tags) -> Self {
        self.tags = tags;
        self
    }

    pub fn with_origin(mut self, origin: Origin) -> Self {
        self.origin = origin;
        self
    }

    /// The `Name` tag, or the id.
    pub fn display_name(&self) -> String {
        self.tags.get("Name").cloned().unwrap_or_else(|| self.id.clone())
    }
}

impl<O: Clone + Debug + Send + Sync + 'static> Record<O> {
    /// The record with its observed value erased, for the engine.
    pub fn erase(self) -> Live {
        Record {
            address: self.address,
            kind: self.kind,
            id: self.id,
            arn: self.arn,
            state: self.state,
            readiness: self.readiness,
            origin: self.origin,
            tags: self.tags,
            observed: Observed(Arc::new(self.observed)),
        }
    }
}

/// A kind's observed value, its type erased.
#[derive(Clone)]
pub struct Observed(Arc<dyn Any + Send + Sync>);

impl Debug for Observed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observed(..)")
    }
}

/// A live resource of any kind.
pub type Live = Record<Observed>;

impl Live {
    /// The kind's own observed value, if this record is of kind `K`.
    pub fn observed<K: ResourceKind>(&self) -> Option<&K::Observed> {
        if self.kind != K::KIND {
            return None;
        }
        self.observed.0.downcast_ref::<K::Observed>()
    }

    /// The record typed as kind `K`.
    pub fn typed<K: ResourceKind>(&self) -> Result<Found<K>> {
        let observed = self
            .observed::<K>()
            .ok_or_else(|| anyhow!("internal error: {} ({}) is not a {}", self.address, self.kind, K::KIND))?
            .clone();
        Ok(Record {
            address: self.address.clone(),
            kind: self.kind,
            id: self.id.clone(),
            arn: self.arn.clone(),
            state: self.state.clone(),
            readiness: self.readiness,
            origin: self.origin,
            tags: self.tags.clone(),
            observed,
        })
    }

    /// Ids, names and ARNs of other resources this one points at.
    pub fn points_at(&self) -> Vec<String> {
        self.kind.ops().points_at(self)
    }

    /// Whether this resource points at `other` (by id or ARN).
    pub fn refers_to(&self, other: &Live) -> bool {
        let qualified = named(other.kind, &other.id);
        self.points_at()
            .iter()
            .any(|p| *p == other.id || *p == qualified || Some(p) == other.arn.as_ref())
    }
}

/// A reference by name to a resource of `kind`, for names that kinds share:
/// RDS names a subnet group, an instance and a cluster alike (`shop-db`).
pub fn named(kind: Kind, name: &str) -> String {
    format!("{kind}:{name}")
}

/// Everything discovered for a stack.
#[derive(Debug, Clone, Default)]
pub struct LiveState {
    pub resources: Vec<Live>,
}

impl LiveState {
    /// Resources of the stack (every origin but foreign).
    pub fn ours(&self) -> impl Iterator<Item = &Live> {
        self.resources.iter().filter(|l| l.origin != Origin::Foreign)
    }

    /// Resources with the stack's names that ekstack did not make for it.
    pub fn foreign(&self) -> impl Iterator<Item = &Live> {
        self.resources.iter().filter(|l| l.origin == Origin::Foreign)
    }

    /// The stack's resources by the address they claim.
    pub fn by_address(&self) -> BTreeMap<&str, Vec<&Live>> {
        let mut map: BTreeMap<&str, Vec<&Live>> = BTreeMap::new();
        for l in self.ours() {
            map.entry(l.address.as_str()).or_default().push(l);
        }
        map
    }

    /// The first of the stack's resources at `address`.
    pub fn get(&self, address: &str) -> Option<&Live> {
        self.ours().find(|l| l.address == address)
    }

    /// The typed record of the stack's resource at `address`.
    pub fn find<K: ResourceKind>(&self, address: &str) -> Option<Found<K>> {
        self.ours()
            .filter(|l| l.kind == K::KIND && l.address == address)
            .find_map(|l| l.typed::<K>().ok())
    }

    /// The stack's live resources of kind `K`.
    pub fn of_kind<K: ResourceKind>(&self) -> impl Iterator<Item = Found<K>> + '_ {
        self.ours()
            .filter(|l| l.kind == K::KIND)
            .filter_map(|l| l.typed::<K>().ok())
    }
}
