//! The dependency queue: plain synchronous data, no async, no AWS.
//!
//! Queue nodes with their dependencies, take what is ready, report each node
//! finished or failed to learn what became ready or must be skipped. The
//! dispatcher drives it; tests drive it directly.

use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Ready,
    Running,
    Done,
    Failed,
    Skipped,
}

#[derive(Debug, Default)]
pub struct DepQueue {
    order: Vec<String>,
    state: HashMap<String, State>,
    /// Unfinished dependencies of each node.
    waiting_on: HashMap<String, BTreeSet<String>>,
    dependents: HashMap<String, Vec<String>>,
}

impl DepQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a node. Dependencies on keys never added are ignored, so callers
    /// can list every potential dependency without filtering.
    pub fn add(&mut self, key: &str, deps: &[String]) {
        self.order.push(key.to_string());
        self.state.insert(key.to_string(), State::Waiting);
        self.waiting_on.insert(
            key.to_string(),
            deps.iter().filter(|d| d.as_str() != key).cloned().collect(),
        );
    }

    /// Call once after adding every node.
    pub fn seal(&mut self) {
        for key in &self.order {
            let deps: Vec<String> = self.waiting_on[key].iter().cloned().collect();
            for d in deps {
                if self.state.contains_key(&d) {
                    self.dependents.entry(d).or_default().push(key.clone());
                } else {
                    self.waiting_on.get_mut(key).expect("node exists").remove(&d);
                }
            }
        }
        for key in &self.order {
            if self.waiting_on[key].is_empty() {
                self.state.insert(key.clone(), State::Ready);
            }
        }
    }

    /// Nodes that may start now, in insertion order; they become running.
    pub fn take_ready(&mut self) -> Vec<String> {
        let ready: Vec<String> = self
            .order
            .iter()
            .filter(|k| self.state[*k] == State::Ready)
            .cloned()
            .collect();
        for k in &ready {
            self.state.insert(k.clone(), State::Running);
        }
        ready
    }

    /// Puts a running node back (its concurrency group was full).
    pub fn defer(&mut self, key: &str) {
        if self.state.get(key) == Some(&State::Running) {
            self.state.insert(key.to_string(), State::Ready);
        }
    }

    pub fn peek_ready(&self) -> Vec<String> {
        self.order
            .iter()
            .filter(|k| self.state[*k] == State::Ready)
            .cloned()
            .collect()
    }

    /// Marks a node done; returns the nodes that became ready.
    pub fn finish(&mut self, key: &str) -> Vec<String> {
        self.state.insert(key.to_string(), State::Done);
        let mut ready = Vec::new();
        for d in self.dependents.get(key).cloned().unwrap_or_default() {
            let waiting = self.waiting_on.get_mut(&d).expect("dependent exists");
            waiting.remove(key);
            if waiting.is_empty() && self.state[&d] == State::Waiting {
                self.state.insert(d.clone(), State::Ready);
                ready.push(d);
            }
        }
        ready
    }

    /// Marks a node failed; returns every node downstream of it, now skipped.
    pub fn fail(&mut self, key: &str) -> Vec<String> {
        self.state.insert(key.to_string(), State::Failed);
        let mut skipped = Vec::new();
        let mut stack = vec![key.to_string()];
        while let Some(k) = stack.pop() {
            for d in self.dependents.get(&k).cloned().unwrap_or_default() {
                if matches!(self.state[&d], State::Waiting | State::Ready) {
                    self.state.insert(d.clone(), State::Skipped);
                    skipped.push(d.clone());
                    stack.push(d);
                }
            }
        }
        skipped
    }

    /// Marks every node not yet started as skipped (after Ctrl-C); returns them.
    pub fn cancel_pending(&mut self) -> Vec<String> {
        let pending: Vec<String> = self
            .order
            .iter()
            .filter(|k| matches!(self.state[*k], State::Waiting | State::Ready))
            .cloned()
            .collect();
        for k in &pending {
            self.state.insert(k.clone(), State::Skipped);
        }
        pending
    }

    pub fn running(&self) -> usize {
        self.state.values().filter(|s| **s == State::Running).count()
    }

    /// Whether nothing is left to start or running.
    pub fn is_settled(&self) -> bool {
        self.state
            .values()
            .all(|s| matches!(s, State::Done | State::Failed | State::Skipped))
    }

    /// Nodes still waiting with nothing running: a cycle (a bug).
    pub fn stuck(&self) -> Vec<String> {
        if self.running() > 0 || self.state.values().any(|s| *s == State::Ready) {
            return vec![];
        }
        self.order
            .iter()
            .filter(|k| self.state[*k] == State::Waiting)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(edges: &[(&str, &[&str])]) -> DepQueue {
        let mut q = DepQueue::new();
        for (k, deps) in edges {
            q.add(k, &deps.iter().map(|d| d.to_string()).collect::<Vec<_>>());
        }
        q.seal();
        q
    }

    #[test]
    fn starts_what_is_ready_and_unblocks_dependants() {
        let mut q = q(&[
            ("vpc", &[]),
            ("subnet", &["vpc"]),
            ("role", &[]),
            ("cluster", &["subnet", "role"]),
        ]);
        assert_eq!(q.take_ready(), vec!["vpc", "role"]);
        assert_eq!(q.finish("vpc"), vec!["subnet"]);
        assert_eq!(q.take_ready(), vec!["subnet"]);
        assert!(q.finish("subnet").is_empty(), "cluster still waits for role");
        assert_eq!(q.finish("role"), vec!["cluster"]);
        assert_eq!(q.take_ready(), vec!["cluster"]);
        q.finish("cluster");
        assert!(q.is_settled());
    }

    #[test]
    fn failure_skips_everything_downstream_only() {
        let mut q = q(&[("a", &[]), ("b", &["a"]), ("c", &["b"]), ("d", &[])]);
        q.take_ready();
        assert_eq!(q.fail("a"), vec!["b", "c"]);
        q.finish("d");
        assert!(q.is_settled());
    }

    #[test]
    fn unknown_dependencies_are_ignored_and_deferral_works() {
        let mut q = q(&[("a", &["not-in-plan"]), ("b", &[])]);
        assert_eq!(q.take_ready(), vec!["a", "b"]);
        q.defer("b");
        assert_eq!(q.peek_ready(), vec!["b"]);
        assert_eq!(q.cancel_pending(), vec!["b"]);
    }

    #[test]
    fn a_cycle_is_reported_as_stuck() {
        let mut q = q(&[("a", &["b"]), ("b", &["a"])]);
        assert!(q.take_ready().is_empty());
        assert_eq!(q.stuck(), vec!["a", "b"]);
    }
}
