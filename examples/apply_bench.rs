//! Benchmark: the real apply engine (desired graph → plan → steps → the tokio
//! dispatcher) against the AWS latency model of DESIGN §8, on a paused tokio
//! clock: each step sleeps its modelled duration in virtual time, so the
//! figures are exact and repeatable and the run takes no wall time. Prints,
//! for each stack, the makespan next to the critical-path lower bound of the
//! same graph and the makespan of a strictly sequential run
//! (`--parallelism 1`).
//!
//! Run with `make bench` (or `cargo run --example apply_bench`). It prints
//! figures; it asserts nothing.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ekstack::config::{load, Overlay};
use ekstack::exec::{self, Limits, Node, Runner};
use ekstack::graph;
use ekstack::live::LiveState;
use ekstack::ops::steps::{plan_steps, Output, Work};
use ekstack::resources::{db_instance, Kind};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

/// Typical AWS create times in minutes (DESIGN §8). A step on a resource
/// the stack kept asleep is a read (no time); the database a deep sleep
/// snapshotted is restored (about 10 minutes, then 2 for its managed
/// password).
fn minutes(node: &Node<Work>) -> f64 {
    let Work::Ensure { resource, action, .. } = &node.work else {
        return 0.1;
    };
    if action.action == ekstack::plan::Action::NoOp {
        return 0.0;
    }
    if resource.kind == Kind::DbInstance
        && resource
            .spec::<db_instance::DbInstance>()
            .is_some_and(|s| s.restore_from.is_some())
    {
        return 12.0;
    }
    match resource.kind {
        Kind::EksCluster => 12.0,
        Kind::EksNodegroup => 2.5,
        Kind::EksFargateProfile => 2.0,
        Kind::NatGateway => 1.5,
        Kind::DbInstance => match resource.spec::<db_instance::DbInstance>() {
            Some(s) if s.db.multi_az => 15.0,
            _ => 6.0,
        },
        Kind::DbCluster => 2.0,
        Kind::DbClusterInstance => 8.0,
        // VPC, subnets, route tables, IGW, EIP, security groups, IAM roles,
        // DB subnet groups: seconds.
        _ => 0.1,
    }
}

/// Sleeps each step's modelled duration on tokio's (paused) clock.
struct Simulated;

impl Runner<Work, Output> for Simulated {
    fn run(&self, node: &Node<Work>, _: Vec<Output>) -> BoxFuture<'static, anyhow::Result<Output>> {
        let d = Duration::from_secs_f64(minutes(node) * 60.0);
        async move {
            tokio::time::sleep(d).await;
            Ok(None)
        }
        .boxed()
    }
}

/// The lower bound on any schedule: the longest path through the graph, and
/// for a group AWS serialises (Fargate profiles of one cluster) the earliest
/// start of its members plus all their durations back to back.
fn lower_bound(nodes: &[Node<Work>]) -> f64 {
    let by_key: HashMap<&str, &Node<Work>> = nodes.iter().map(|n| (n.key.as_str(), n)).collect();
    let mut memo = HashMap::new();
    let path = critical_path(nodes);
    let mut groups: HashMap<&str, (f64, f64)> = HashMap::new();
    for n in nodes {
        if let Some(g) = &n.group {
            let start = n
                .deps
                .iter()
                .filter(|d| by_key.contains_key(d.as_str()))
                .map(|d| finish(d, &by_key, &mut memo))
                .fold(0.0, f64::max);
            let e = groups.entry(g.as_str()).or_insert((f64::MAX, 0.0));
            e.0 = e.0.min(start);
            e.1 += minutes(n);
        }
    }
    groups.values().map(|(start, total)| start + total).fold(path, f64::max)
}

fn finish<'a>(key: &'a str, by_key: &HashMap<&'a str, &'a Node<Work>>, memo: &mut HashMap<&'a str, f64>) -> f64 {
    if let Some(v) = memo.get(key) {
        return *v;
    }
    let node = by_key[key];
    let start = node
        .deps
        .iter()
        .filter(|d| by_key.contains_key(d.as_str()))
        .map(|d| finish(d, by_key, memo))
        .fold(0.0, f64::max);
    memo.insert(key, start + minutes(node));
    start + minutes(node)
}

/// The longest path through the graph, in modelled minutes.
fn critical_path(nodes: &[Node<Work>]) -> f64 {
    let by_key: HashMap<&str, &Node<Work>> = nodes.iter().map(|n| (n.key.as_str(), n)).collect();
    let mut memo = HashMap::new();
    nodes
        .iter()
        .map(|n| finish(&n.key, &by_key, &mut memo))
        .fold(0.0, f64::max)
}

/// The makespan of a run, in modelled minutes.
async fn makespan(nodes: Vec<Node<Work>>, parallelism: usize) -> f64 {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let (_interrupt_tx, interrupt_rx) = tokio::sync::mpsc::unbounded_channel();
    let limits = Limits {
        parallelism,
        per_group: 1,
    };
    let report = exec::run(nodes, Arc::new(Simulated), limits, tx, interrupt_rx).await;
    assert!(report.ok(), "simulated run failed: {:?}", report.failed);
    report.elapsed.as_secs_f64() / 60.0
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    println!("apply makespan under the DESIGN §8 latency model (paused clock: exact, no wall time; empty account)");
    println!("lower bound = critical path, or a serialised group (Fargate profiles of one cluster) back to back; ratio = makespan / lower bound\n");
    println!(
        "{:<20} {:>5} {:>13} {:>12} {:>10} {:>8} {:>11} {:>8}",
        "stack", "steps", "critical path", "lower bound", "makespan", "ratio", "sequential", "ratio"
    );
    for (stack, env) in [
        ("learning", "mvp"),
        ("learning", "prod"),
        ("aurora", "mvp"),
        ("aurora", "prod"),
        ("fargate", "mvp"),
        ("auto", "mvp"),
    ] {
        let path = root.join("stacks").join(format!("{stack}.toml"));
        let s = load(&path, &Overlay::Env(env.into()), None)?.stack;
        let planned = ekstack::ops::plan::plan_against(&s, graph::build(&s)?, LiveState::default(), false)?;
        let nodes = plan_steps(&planned.plan, &planned.graph, &planned.live, None);
        let path = critical_path(&nodes);
        let bound = lower_bound(&nodes);
        let parallel = makespan(nodes.clone(), 10).await;
        let sequential = makespan(nodes.clone(), 1).await;
        println!(
            "{:<20} {:>5} {:>9.1} min {:>8.1} min {:>6.1} min {:>7.3}x {:>7.1} min {:>7.2}x",
            format!("{stack} --env {env}"),
            nodes.len(),
            path,
            bound,
            parallel,
            parallel / bound,
            sequential,
            sequential / bound
        );
    }
    wake_from_deep_sleep(root).await
}

/// The wake of `sleep --deep --snapshot`: what the sleep kept (network,
/// subnet group, security groups, the cluster's role) is read, the rest is
/// made again and the database restored from its snapshot.
async fn wake_from_deep_sleep(root: &Path) -> anyhow::Result<()> {
    use ekstack::config::{SleepDepth, SleepSnapshot};
    println!(
        "\nwake from `sleep --deep --snapshot` (the same model; what the sleep kept is read, the database restored)\n"
    );
    println!(
        "{:<20} {:>7} {:>13} {:>10} {:>8}",
        "stack", "creates", "critical path", "makespan", "ratio"
    );
    for (stack, env) in [("learning", "mvp"), ("learning", "prod")] {
        let path = root.join("stacks").join(format!("{stack}.toml"));
        let mut s = load(&path, &Overlay::Env(env.into()), None)?.stack;
        s.meta.sleep_snapshot = Some(SleepSnapshot {
            name: format!("{}-db-sleep-20261201-000000", s.meta.name),
            cluster: false,
            gib: 20,
        });
        let kept: std::collections::HashSet<String> = graph::build(&s.sleeping(SleepDepth::DeepSnapshot))?
            .resources
            .into_iter()
            .map(|r| r.address)
            .collect();
        let mut planned = ekstack::ops::plan::plan_against(&s, graph::build(&s)?, LiveState::default(), false)?;
        for a in planned.plan.actions.iter_mut().filter(|a| kept.contains(&a.address)) {
            a.action = ekstack::plan::Action::NoOp;
        }
        let creates = planned
            .plan
            .actions
            .iter()
            .filter(|a| a.action != ekstack::plan::Action::NoOp)
            .count();
        let nodes = plan_steps(&planned.plan, &planned.graph, &planned.live, None);
        let path = critical_path(&nodes);
        let parallel = makespan(nodes, 10).await;
        println!(
            "{:<20} {:>7} {:>9.1} min {:>6.1} min {:>7.3}x",
            format!("{stack} --env {env}"),
            creates,
            path,
            parallel,
            parallel / path
        );
    }
    Ok(())
}
