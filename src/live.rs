//! Live state: what discovery found in the account, one entry per AWS
//! resource, already mapped to the address it claims.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::graph::{Address, Kind};

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

/// One live AWS resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Live {
    pub address: Address,
    pub kind: Kind,
    /// The id used in API calls: `vpc-…`, a role or cluster name, a DB identifier.
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The state as AWS reports it (`available`, `CREATING`, `stopped`).
    pub state: String,
    pub readiness: Readiness,
    /// Attributes compared with the desired ones, in the same normal form.
    pub attrs: BTreeMap<String, Value>,
    /// Everything else worth knowing (endpoints, association ids, secret ARN).
    pub details: BTreeMap<String, Value>,
    pub tags: BTreeMap<String, String>,
}

impl Live {
    pub fn new(
        kind: Kind,
        address: impl Into<Address>,
        id: impl Into<String>,
        state: impl Into<String>,
        readiness: Readiness,
    ) -> Self {
        Live {
            address: address.into(),
            kind,
            id: id.into(),
            arn: None,
            state: state.into(),
            readiness,
            attrs: BTreeMap::new(),
            details: BTreeMap::new(),
            tags: BTreeMap::new(),
        }
    }

    pub fn attr(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.attrs.insert(name.to_string(), value.into());
        self
    }

    pub fn detail(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.details.insert(name.to_string(), value.into());
        self
    }

    pub fn with_tags(mut self, tags: BTreeMap<String, String>) -> Self {
        self.tags = tags;
        self
    }

    pub fn with_arn(mut self, arn: Option<String>) -> Self {
        self.arn = arn;
        self
    }

    pub fn detail_str(&self, name: &str) -> Option<&str> {
        self.details.get(name).and_then(|v| v.as_str())
    }

    /// Every string this resource mentions among its attributes: the ids it
    /// references, used to tell which of two duplicates something uses.
    pub fn mentions(&self, id: &str) -> bool {
        fn walk(v: &Value, id: &str) -> bool {
            match v {
                Value::String(s) => s == id,
                Value::Array(a) => a.iter().any(|v| walk(v, id)),
                Value::Object(o) => o.values().any(|v| walk(v, id)),
                _ => false,
            }
        }
        self.attrs.values().chain(self.details.values()).any(|v| walk(v, id))
    }
}

/// Everything discovered for a stack.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LiveState {
    pub resources: Vec<Live>,
    /// Resources with the stack's names that ekstack did not make for it: node
    /// groups added to its cluster by other tools, a cluster or database of the
    /// same name. Plan and apply leave them alone; destroy removes those inside
    /// the stack's cluster, since the cluster cannot go while they remain.
    pub foreign: Vec<Live>,
}

impl LiveState {
    pub fn by_address(&self) -> BTreeMap<&str, Vec<&Live>> {
        let mut map: BTreeMap<&str, Vec<&Live>> = BTreeMap::new();
        for l in &self.resources {
            map.entry(l.address.as_str()).or_default().push(l);
        }
        map
    }
}
