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
    /// How long it usually takes, when that is known (the latency model).
    pub expected: Option<Expected>,
    pub work: W,
}

/// How long a step usually takes, and what AWS is known to be doing when
/// it runs past that.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub low: Duration,
    pub high: Duration,
    pub meanwhile: String,
}

impl Expected {
    /// The middle of the range: what the time left counts on.
    pub fn typical(&self) -> Duration {
        (self.low + self.high) / 2
    }
}

/// What a step whose duration nobody modelled is counted as in the time
/// left (API calls that take seconds).
const UNMODELLED: Duration = Duration::from_secs(5);

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
        expected: Option<Expected>,
    },
    /// Steps done of all shown, and the time left: the longest path through
    /// what remains, each step at its typical duration less what it has run.
    Overall { done: usize, total: usize, left: Duration },
    /// The live AWS state of a running step ("CREATING").
    Status { key: String, text: String },
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
        running_since: HashMap::new(),
        stopping: false,
        events,
    };
    let mut tasks: JoinSet<(String, Duration, anyhow::Result<O>)> = JoinSet::new();
    let mut interrupt_open = true;
    let mut announced = false;

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
                        expected: node.expected.clone(),
                    });
                }
                d.running_since.insert(key.clone(), Instant::now());
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

        // The first steps have started: how many there are and how long
        // the whole run usually takes.
        if !announced {
            announced = true;
            d.overall();
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
                    d.overall();
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
    /// When each running step started.
    running_since: HashMap<String, Instant>,
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

    /// Sends how far the run is: shown steps done of all, and the time left.
    fn overall(&self) {
        let shown = |k: &String| self.by_key.get(k).is_some_and(|n| !n.quiet);
        let total = self.by_key.keys().filter(|k| shown(k)).count();
        let done = self.report.finished.iter().filter(|(k, _)| shown(k)).count();
        if total == 0 {
            return;
        }
        let _ = self.events.send(Event::Overall {
            done,
            total,
            left: self.time_left(),
        });
    }

    /// The longest path through the steps not finished: a running step
    /// counts its typical duration less what it has run (at least nothing),
    /// a waiting one all of it.
    fn time_left(&self) -> Duration {
        let finished: std::collections::HashSet<&str> = self.report.finished.iter().map(|(k, _)| k.as_str()).collect();
        let mut memo: HashMap<&str, Duration> = HashMap::new();
        fn left<'a, W, O>(
            d: &'a Dispatch<W, O>,
            key: &'a str,
            finished: &std::collections::HashSet<&str>,
            memo: &mut HashMap<&'a str, Duration>,
        ) -> Duration {
            if finished.contains(key) {
                return Duration::ZERO;
            }
            if let Some(v) = memo.get(key) {
                return *v;
            }
            let Some(node) = d.by_key.get(key) else {
                return Duration::ZERO;
            };
            // Guards against a cycle while it is computed.
            memo.insert(key, Duration::ZERO);
            let before = node
                .deps
                .iter()
                .map(|dep| left(d, dep, finished, memo))
                .max()
                .unwrap_or_default();
            let whole = match (&node.expected, node.quiet) {
                (_, true) => Duration::ZERO,
                (Some(e), false) => e.typical(),
                (None, false) => UNMODELLED,
            };
            let ran = d.running_since.get(key).map(|t| t.elapsed()).unwrap_or_default();
            let total = before + whole.saturating_sub(ran);
            memo.insert(key, total);
            total
        }
        self.by_key
            .keys()
            .map(|k| left(self, k, &finished, &mut memo))
            .max()
            .unwrap_or_default()
    }

    fn complete(&mut self, key: String, elapsed: Duration, result: anyhow::Result<O>) {
        self.running_since.remove(&key);
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
            expected: None,
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

    /// The overall line: the time left is the longest path through what
    /// remains at typical durations, and it falls as steps finish.
    #[tokio::test(start_paused = true)]
    async fn the_time_left_follows_the_critical_path_of_what_remains() {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        let expect = |m: u64| Expected {
            low: minutes(m) - Duration::from_secs(60),
            high: minutes(m) + Duration::from_secs(60),
            meanwhile: String::new(),
        };
        let mut cluster = node("cluster", &[], 12 * 60_000, None);
        cluster.expected = Some(expect(12));
        let mut nodes = node("nodes", &["cluster"], 150_000, None);
        nodes.expected = Some(Expected {
            low: Duration::from_secs(120),
            high: Duration::from_secs(180),
            meanwhile: String::new(),
        });
        let mut db = node("db", &[], 6 * 60_000, None);
        db.expected = Some(expect(6));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (_itx, irx) = mpsc::unbounded_channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let runner = Arc::new(Fake { log, fail: "" });
        let report = run(vec![cluster, nodes, db], runner, Limits::default(), tx, irx).await;
        assert!(report.ok());
        let mut overall = Vec::new();
        while let Ok(e) = rx.try_recv() {
            if let Event::Overall { done, total, left } = e {
                overall.push((done, total, left.as_secs()));
            }
        }
        assert_eq!(
            overall,
            [(0, 3, 12 * 60 + 150), (1, 3, 6 * 60 + 150), (2, 3, 150), (3, 3, 0)],
            "the cluster and its nodes are the critical path; the database runs beside them"
        );
    }
}
