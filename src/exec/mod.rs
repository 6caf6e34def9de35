//! Running a plan: a dependency graph of steps driven by one tokio dispatcher.
//!
//! The dispatcher owns all state (the [`queue::DepQueue`], the concurrency
//! limits) and talks to the outside world; steps only send typed [`Event`]s
//! back. A step starts the moment what it needs is done. After the first
//! failure or Ctrl-C nothing new starts, but what is running is waited for;
//! a second Ctrl-C abandons it.

pub mod queue;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

// tokio's clock, so a paused clock (the benchmark, tests) measures runs exactly.
use tokio::time::Instant;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use queue::DepQueue;

/// One step of a run.
#[derive(Debug, Clone)]
pub struct Node<W> {
    /// Unique key: the address, or `delete:<address>:<id>`.
    pub key: String,
    /// What the progress display shows: `create eks-cluster`.
    pub label: String,
    /// Steps in one group never overlap beyond the group's limit (Fargate
    /// profiles of one cluster: one at a time).
    pub group: Option<String>,
    pub deps: Vec<String>,
    /// Not shown unless it fails: steps that only read (an unchanged resource
    /// whose id dependants need).
    pub quiet: bool,
    pub work: W,
}

/// Executes one node's work. A step gets the outputs of the steps it depends
/// on, and its own output goes on to the steps that depend on it.
pub trait Runner<W, O>: Send + Sync + 'static {
    fn run(&self, node: &Node<W>, inputs: Vec<O>) -> BoxFuture<'static, anyhow::Result<O>>;
}

/// Why a step did not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Something it depends on failed.
    DependencyFailed(String),
    /// The user pressed Ctrl-C.
    Interrupted,
    /// Another step failed, so nothing new was started.
    StoppedAfterFailure,
}

/// What the dispatcher reports; only the renderer prints them.
#[derive(Debug, Clone)]
pub enum Event {
    Started {
        key: String,
        label: String,
    },
    /// The live AWS state of a running step ("CREATING").
    Status {
        key: String,
        text: String,
    },
    Finished {
        key: String,
        label: String,
        elapsed: Duration,
    },
    Failed {
        key: String,
        label: String,
        error: String,
        elapsed: Duration,
    },
    Skipped {
        key: String,
        label: String,
        reason: SkipReason,
    },
    /// First Ctrl-C: draining.
    Interrupted,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunReport<O> {
    pub finished: Vec<(String, Duration)>,
    /// What each finished step produced, by key.
    pub outputs: HashMap<String, O>,
    pub failed: Vec<(String, String)>,
    pub skipped: Vec<(String, SkipReason)>,
    pub interrupted: bool,
    pub elapsed: Duration,
}

impl<O> Default for RunReport<O> {
    fn default() -> Self {
        RunReport {
            finished: Vec::new(),
            outputs: HashMap::new(),
            failed: Vec::new(),
            skipped: Vec::new(),
            interrupted: false,
            elapsed: Duration::ZERO,
        }
    }
}

impl<O> RunReport<O> {
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && !self.interrupted && self.skipped.is_empty()
    }
}

/// Concurrency limits: a global one (`--parallelism`) and one per group.
#[derive(Debug, Clone)]
pub struct Limits {
    pub parallelism: usize,
    pub per_group: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            parallelism: 10,
            per_group: 1,
        }
    }
}

/// Sends events; cheap to clone into steps.
pub type EventSender = mpsc::UnboundedSender<Event>;

/// Runs every node, honouring dependencies and limits. `interrupt` resolves on
/// each Ctrl-C (tests pass a channel, the CLI passes `tokio::signal::ctrl_c`).
pub async fn run<W, O>(
    nodes: Vec<Node<W>>,
    runner: Arc<dyn Runner<W, O>>,
    limits: Limits,
    events: EventSender,
    mut interrupt: mpsc::UnboundedReceiver<()>,
) -> RunReport<O>
where
    W: Clone + Send + Sync + 'static,
    O: Clone + Send + 'static,
{
    let started = Instant::now();
    let mut queue = DepQueue::new();
    for n in &nodes {
        queue.add(&n.key, &n.deps);
    }
    queue.seal();
    let mut d = Dispatch {
        by_key: nodes.into_iter().map(|n| (n.key.clone(), n)).collect(),
        queue,
        report: RunReport::default(),
        group_running: HashMap::new(),
        stopping: false,
        events,
    };
    let mut tasks: JoinSet<(String, Duration, anyhow::Result<O>)> = JoinSet::new();
    let mut interrupt_open = true;

    loop {
        if !d.stopping {
            for key in d.queue.take_ready() {
                let node = &d.by_key[&key];
                let group_full = node
                    .group
                    .as_ref()
                    .is_some_and(|g| d.group_running.get(g).copied().unwrap_or(0) >= limits.per_group);
                if tasks.len() >= limits.parallelism.max(1) || group_full {
                    d.queue.defer(&key);
                    continue;
                }
                if let Some(g) = &node.group {
                    *d.group_running.entry(g.clone()).or_default() += 1;
                }
                if !node.quiet {
                    let _ = d.events.send(Event::Started {
                        key: key.clone(),
                        label: node.label.clone(),
                    });
                }
                let inputs = node
                    .deps
                    .iter()
                    .filter_map(|dep| d.report.outputs.get(dep).cloned())
                    .collect();
                let fut = std::panic::AssertUnwindSafe(runner.run(node, inputs)).catch_unwind();
                tasks.spawn(async move {
                    let t = Instant::now();
                    // A panicking step is a bug; it fails like any other step,
                    // so its key, group slot and dependants are accounted for.
                    let result = fut
                        .await
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("internal error: the step panicked")));
                    (key, t.elapsed(), result)
                });
            }
        }

        if tasks.is_empty() {
            if d.stopping || d.queue.is_settled() {
                break;
            }
            let stuck = d.queue.stuck();
            if !stuck.is_empty() {
                for key in stuck {
                    d.report.failed.push((key, "internal error: dependency cycle".into()));
                }
                break;
            }
        }

        tokio::select! {
            joined = tasks.join_next(), if !tasks.is_empty() => {
                // Only an abort (second Ctrl-C) ends a task without a result.
                if let Some(Ok((key, elapsed, result))) = joined {
                    d.complete(key, elapsed, result);
                }
            }
            signal = interrupt.recv(), if interrupt_open => match signal {
                Some(()) if !d.report.interrupted => {
                    d.report.interrupted = true;
                    d.stopping = true;
                    let _ = d.events.send(Event::Interrupted);
                }
                Some(()) => {
                    // Second Ctrl-C: abandon running steps. Re-running apply
                    // finds whatever they left mid-creation and waits for it.
                    tasks.abort_all();
                    while tasks.join_next().await.is_some() {}
                    break;
                }
                None => interrupt_open = false,
            },
        }
    }

    let reason = if d.report.interrupted {
        SkipReason::Interrupted
    } else {
        SkipReason::StoppedAfterFailure
    };
    for s in d.queue.cancel_pending() {
        let _ = d.events.send(Event::Skipped {
            key: s.clone(),
            label: d.label(&s),
            reason: reason.clone(),
        });
        d.report.skipped.push((s, reason.clone()));
    }
    d.report.elapsed = started.elapsed();
    d.report
}

/// The dispatcher's state between events.
struct Dispatch<W, O> {
    by_key: HashMap<String, Node<W>>,
    queue: DepQueue,
    report: RunReport<O>,
    group_running: HashMap<String, usize>,
    stopping: bool,
    events: EventSender,
}

impl<W, O> Dispatch<W, O> {
    fn label(&self, key: &str) -> String {
        self.by_key
            .get(key)
            .map(|n| n.label.clone())
            .unwrap_or_else(|| key.to_string())
    }

    fn complete(&mut self, key: String, elapsed: Duration, result: anyhow::Result<O>) {
        if let Some(g) = self.by_key.get(&key).and_then(|n| n.group.clone()) {
            *self.group_running.entry(g).or_default() -= 1;
        }
        let label = self.label(&key);
        match result {
            Ok(output) => {
                self.queue.finish(&key);
                self.report.outputs.insert(key.clone(), output);
                if !self.by_key.get(&key).is_some_and(|n| n.quiet) {
                    let _ = self.events.send(Event::Finished {
                        key: key.clone(),
                        label,
                        elapsed,
                    });
                }
                self.report.finished.push((key, elapsed));
            }
            Err(e) => {
                let error = format!("{e:#}");
                let _ = self.events.send(Event::Failed {
                    key: key.clone(),
                    label,
                    error: error.clone(),
                    elapsed,
                });
                for s in self.queue.fail(&key) {
                    let reason = SkipReason::DependencyFailed(key.clone());
                    let _ = self.events.send(Event::Skipped {
                        key: s.clone(),
                        label: self.label(&s),
                        reason: reason.clone(),
                    });
                    self.report.skipped.push((s, reason));
                }
                self.report.failed.push((key, error));
                // Stop launching; what runs is waited for.
                self.stopping = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures_util::FutureExt;

    use super::*;

    /// A runner whose steps sleep, fail on request, and log when they start and end.
    struct Fake {
        log: Arc<Mutex<Vec<String>>>,
        fail: &'static str,
    }

    impl Runner<u64, ()> for Fake {
        fn run(&self, node: &Node<u64>, _: Vec<()>) -> BoxFuture<'static, anyhow::Result<()>> {
            let (key, ms, log, fail) = (node.key.clone(), node.work, self.log.clone(), self.fail);
            async move {
                log.lock().unwrap().push(format!("start {key}"));
                tokio::time::sleep(Duration::from_millis(ms)).await;
                log.lock().unwrap().push(format!("end {key}"));
                if key == fail {
                    anyhow::bail!("{key} broke");
                }
                if key == "panics" {
                    panic!("a bug in a step");
                }
                Ok(())
            }
            .boxed()
        }
    }

    fn node(key: &str, deps: &[&str], ms: u64, group: Option<&str>) -> Node<u64> {
        Node {
            key: key.into(),
            label: key.into(),
            group: group.map(str::to_string),
            deps: deps.iter().map(|d| d.to_string()).collect(),
            quiet: false,
            work: ms,
        }
    }

    async fn go(
        nodes: Vec<Node<u64>>,
        fail: &'static str,
        parallelism: usize,
        interrupt_after: Option<u64>,
    ) -> (RunReport<()>, Vec<String>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, mut rx) = mpsc::unbounded_channel();
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let (itx, irx) = mpsc::unbounded_channel();
        if let Some(ms) = interrupt_after {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                let _ = itx.send(());
            });
        } else {
            drop(itx);
        }
        let report = run(
            nodes,
            Arc::new(Fake { log: log.clone(), fail }),
            Limits {
                parallelism,
                per_group: 1,
            },
            tx,
            irx,
        )
        .await;
        let log = log.lock().unwrap().clone();
        (report, log)
    }

    #[tokio::test]
    async fn a_step_starts_when_its_own_dependencies_finish_not_a_whole_layer() {
        // slow (100 ms) and fast (5 ms) are independent; after-fast needs only fast.
        let nodes = vec![
            node("slow", &[], 100, None),
            node("fast", &[], 5, None),
            node("after-fast", &["fast"], 5, None),
        ];
        let (report, log) = go(nodes, "", 10, None).await;
        assert!(report.ok());
        let pos = |s: &str| log.iter().position(|l| l == s).unwrap();
        assert!(pos("end after-fast") < pos("end slow"), "{log:?}");
    }

    #[tokio::test]
    async fn after_a_failure_nothing_new_starts_but_running_steps_finish() {
        let nodes = vec![
            node("breaks", &[], 10, None),
            node("running", &[], 60, None),
            node("downstream", &["breaks"], 5, None),
            node("later", &["running"], 5, None),
        ];
        let (report, log) = go(nodes, "breaks", 10, None).await;
        assert_eq!(report.failed.len(), 1);
        assert!(
            log.contains(&"end running".to_string()),
            "in-flight work drains: {log:?}"
        );
        assert!(
            !log.iter().any(|l| l.contains("downstream") || l.contains("later")),
            "{log:?}"
        );
        assert!(report
            .skipped
            .iter()
            .any(|(k, r)| k == "downstream" && *r == SkipReason::DependencyFailed("breaks".into())));
        assert!(report
            .skipped
            .iter()
            .any(|(k, r)| k == "later" && *r == SkipReason::StoppedAfterFailure));
    }

    #[tokio::test]
    async fn a_panicking_step_fails_like_any_other_and_its_dependants_are_skipped() {
        let nodes = vec![
            node("panics", &[], 5, Some("fargate")),
            node("after", &["panics"], 5, None),
        ];
        let (report, _) = go(nodes, "", 10, None).await;
        assert_eq!(report.failed.len(), 1);
        assert_eq!(report.failed[0].0, "panics");
        assert!(report.failed[0].1.contains("panicked"));
        assert_eq!(
            report.skipped,
            vec![("after".to_string(), SkipReason::DependencyFailed("panics".into()))]
        );
    }

    #[tokio::test]
    async fn the_first_interrupt_drains_running_steps_and_starts_nothing_new() {
        let nodes = vec![node("a", &[], 80, None), node("b", &["a"], 5, None)];
        let (report, log) = go(nodes, "", 10, Some(20)).await;
        assert!(report.interrupted);
        assert_eq!(log, vec!["start a", "end a"]);
        assert_eq!(report.skipped, vec![("b".to_string(), SkipReason::Interrupted)]);
    }

    #[tokio::test]
    async fn groups_and_the_global_limit_are_honoured() {
        let nodes = vec![
            node("f1", &[], 20, Some("fargate")),
            node("f2", &[], 20, Some("fargate")),
            node("x", &[], 20, None),
        ];
        let (report, log) = go(nodes, "", 10, None).await;
        assert!(report.ok());
        let pos = |s: &str| log.iter().position(|l| l == s).unwrap();
        assert!(
            pos("end f1") < pos("start f2"),
            "one Fargate profile at a time: {log:?}"
        );
        assert!(pos("start x") < pos("end f1"), "other work is not held up: {log:?}");

        let nodes = vec![node("a", &[], 10, None), node("b", &[], 10, None)];
        let (_, log) = go(nodes, "", 1, None).await;
        assert_eq!(
            log,
            vec!["start a", "end a", "start b", "end b"],
            "parallelism 1 is sequential"
        );
    }

    /// Each step's output is the list of keys it has seen upstream.
    struct Collect;

    impl Runner<u64, Vec<String>> for Collect {
        fn run(&self, node: &Node<u64>, inputs: Vec<Vec<String>>) -> BoxFuture<'static, anyhow::Result<Vec<String>>> {
            let key = node.key.clone();
            async move {
                let mut seen: Vec<String> = inputs.into_iter().flatten().collect();
                seen.sort();
                seen.dedup();
                seen.push(key);
                Ok(seen)
            }
            .boxed()
        }
    }

    #[tokio::test]
    async fn a_step_receives_the_outputs_of_what_it_depends_on_and_nothing_else() {
        let nodes = vec![
            node("vpc", &[], 0, None),
            node("role", &[], 0, None),
            node("subnet", &["vpc"], 0, None),
            node("cluster", &["subnet", "role"], 0, None),
            node("unrelated", &[], 0, None),
        ];
        let (tx, mut rx) = mpsc::unbounded_channel();
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let (_itx, irx) = mpsc::unbounded_channel();
        let report = run(nodes, Arc::new(Collect), Limits::default(), tx, irx).await;
        assert!(report.ok());
        assert_eq!(report.outputs["cluster"], vec!["role", "subnet", "vpc", "cluster"]);
        assert_eq!(report.outputs["unrelated"], vec!["unrelated"]);
    }
}
