//! The desired resource graph: every AWS resource a resolved stack needs,
//! with its stable address, kind, typed spec and what it depends on.
//!
//! Each kind says which of its resources a stack needs and what each one
//! references; the graph is those resources in registry order, with edges
//! from the references (and explicit `after` orderings), checked for
//! dangling edges and cycles. No AWS call happens here.

use std::any::Any;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Debug;
use std::sync::Arc;

use anyhow::{bail, Result};

use crate::config::Stack;
use crate::live::Tags;
use crate::resources::{Kind, New, ResourceKind};

/// A stable logical name, e.g. `subnet.private.ap-northeast-1a`.
pub type Address = String;

/// One desired resource, its spec typed by its kind and erased here.
#[derive(Clone)]
pub struct Resource {
    pub address: Address,
    pub kind: Kind,
    /// The `Name` tag, or the AWS name for kinds named by the API (EKS, RDS, IAM).
    pub name: String,
    /// Every tag it carries from its create call.
    pub tags: Tags,
    /// What its spec references: made first, handed to its steps.
    pub references: Vec<Address>,
    /// Made after these too, though it references none of them.
    pub after: Vec<Address>,
    spec: Arc<dyn Any + Send + Sync>,
    describe: Arc<dyn Fn() -> String + Send + Sync>,
}

impl Debug for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resource")
            .field("address", &self.address)
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("spec", &(self.describe)())
            .field("references", &self.references)
            .field("after", &self.after)
            .finish()
    }
}

impl Resource {
    pub fn new<K: ResourceKind>(new: New<K>) -> Self {
        let references = K::references(&new.spec);
        let spec: Arc<K::Spec> = Arc::new(new.spec);
        let shown = spec.clone();
        Resource {
            address: new.address,
            kind: K::KIND,
            name: new.name,
            tags: new.tags,
            references,
            after: new.after,
            spec,
            describe: Arc::new(move || format!("{shown:?}")),
        }
    }

    /// The kind's typed spec, if this resource is of kind `K`.
    pub fn spec<K: ResourceKind>(&self) -> Option<&K::Spec> {
        if self.kind != K::KIND {
            return None;
        }
        self.spec.downcast_ref::<K::Spec>()
    }

    /// Everything that must be ready before this resource is made.
    pub fn deps(&self) -> impl Iterator<Item = &Address> {
        self.references.iter().chain(&self.after)
    }
}

/// The whole desired state of a stack.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub resources: Vec<Resource>,
}

impl Graph {
    pub fn get(&self, address: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.address == address)
    }

    pub fn addresses(&self) -> HashSet<&str> {
        self.resources.iter().map(|r| r.address.as_str()).collect()
    }

    pub fn has_kind(&self, kind: Kind) -> bool {
        self.resources.iter().any(|r| r.kind == kind)
    }

    /// The typed spec at `address`, if it is of kind `K`.
    pub fn spec<K: ResourceKind>(&self, address: &str) -> Option<&K::Spec> {
        self.get(address).and_then(|r| r.spec::<K>())
    }

    /// Checks that addresses are unique, every edge points into the graph
    /// and there is no cycle.
    pub fn check(&self) -> Result<()> {
        let index: HashMap<&str, &Resource> = self.resources.iter().map(|r| (r.address.as_str(), r)).collect();
        if index.len() != self.resources.len() {
            bail!("internal error: two resources of the desired graph share an address");
        }
        for r in &self.resources {
            for d in r.deps() {
                if !index.contains_key(d.as_str()) {
                    bail!(
                        "internal error: {} depends on {d}, which is not in the desired graph",
                        r.address
                    );
                }
            }
        }
        // Kahn's algorithm: whatever is left over sits on a cycle.
        let mut remaining: BTreeMap<&str, usize> = self
            .resources
            .iter()
            .map(|r| (r.address.as_str(), r.deps().collect::<HashSet<_>>().len()))
            .collect();
        let mut ready: Vec<&str> = remaining.iter().filter(|(_, n)| **n == 0).map(|(a, _)| *a).collect();
        let mut done = 0;
        while let Some(a) = ready.pop() {
            done += 1;
            for r in self.resources.iter().filter(|r| r.deps().any(|d| d == a)) {
                if let Some(n) = remaining.get_mut(r.address.as_str()) {
                    *n -= 1;
                    if *n == 0 {
                        ready.push(r.address.as_str());
                    }
                }
            }
        }
        if done != self.resources.len() {
            let stuck: Vec<&str> = remaining.iter().filter(|(_, n)| **n > 0).map(|(a, _)| *a).collect();
            bail!(
                "internal error: the desired graph has a cycle through {}",
                stuck.join(", ")
            );
        }
        Ok(())
    }
}

/// Builds the desired graph of a resolved stack: each kind's resources, in
/// registry order, checked.
pub fn build(stack: &Stack) -> Result<Graph> {
    let graph = Graph {
        resources: Kind::all().flat_map(|k| k.ops().desired(stack)).collect(),
    };
    graph.check()?;
    Ok(graph)
}

#[cfg(test)]
mod tests;
