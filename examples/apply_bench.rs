//! Benchmark: the real apply engine (desired graph → plan → steps → the tokio
//! dispatcher) against the AWS latency model of DESIGN §8, scaled down so a
//! minute of AWS time takes a few milliseconds. Prints, for each stack, the
//! makespan next to the critical-path lower bound of the same graph and the
//! makespan of a strictly sequential run (`--parallelism 1`).
//!
//! Run with `make bench` (or `cargo run --example apply_bench`). It prints
//! figures; it asserts nothing.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ekstack::config::{load, Overlay};
use ekstack::exec::steps::{plan_steps, Work};
use ekstack::exec::{self, Limits, Node, Runner};
use ekstack::graph::{self, Kind, Spec};
use ekstack::live::LiveState;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

/// Real milliseconds per modelled minute.
const MS_PER_MINUTE: f64 = 40.0;

/// Typical AWS create times in minutes (DESIGN §8).
fn minutes(kind: Kind, spec: &Spec) -> f64 {
    match (kind, spec) {
        (Kind::EksCluster, _) => 12.0,
        (Kind::EksNodegroup, _) => 2.5,
        (Kind::EksFargateProfile, _) => 2.0,
        (Kind::NatGateway, _) => 1.5,
        (Kind::DbInstance, Spec::DbInstance { db, .. }) if db.multi_az => 15.0,
        (Kind::DbInstance, _) => 6.0,
        (Kind::DbCluster, _) => 2.0,
        (Kind::DbClusterInstance, _) => 8.0,
        // VPC, subnets, route tables, IGW, EIP, security groups, IAM roles,
        // DB subnet groups: seconds.
        _ => 0.1,
    }
}

struct Simulated;

impl Runner<Work> for Simulated {
    fn run(&self, node: &Node<Work>) -> BoxFuture<'static, anyhow::Result<()>> {
        let d = match &node.work {
            Work::Ensure { resource, .. } => minutes(resource.kind, &resource.spec),
            _ => 0.1,
        };
        async move {
            tokio::time::sleep(Duration::from_secs_f64(d * MS_PER_MINUTE / 1000.0)).await;
            Ok(())
        }
        .boxed()
    }
}

fn own(node: &Node<Work>) -> f64 {
    match &node.work {
        Work::Ensure { resource, .. } => minutes(resource.kind, &resource.spec),
        _ => 0.1,
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
            e.1 += own(n);
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
    memo.insert(key, start + own(node));
    start + own(node)
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

async fn makespan(nodes: Vec<Node<Work>>, parallelism: usize) -> f64 {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let (_interrupt_tx, interrupt_rx) = tokio::sync::mpsc::unbounded_channel();
    let report = exec::run(
        nodes,
        Arc::new(Simulated),
        Limits {
            parallelism,
            per_group: 1,
        },
        tx,
        interrupt_rx,
    )
    .await;
    assert!(report.ok(), "simulated run failed: {:?}", report.failed);
    report.elapsed.as_secs_f64() * 1000.0 / MS_PER_MINUTE
}

#[tokio::main]
async fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    println!("apply makespan under the DESIGN §8 latency model ({MS_PER_MINUTE} ms per AWS minute; empty account)");
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
    ] {
        let loaded = load(
            &root.join("stacks").join(format!("{stack}.toml")),
            &Overlay::Env(env.into()),
            None,
        )
        .expect("sample stack");
        let s = loaded.stack;
        let planned = ekstack::ops::plan::plan_against(&s, graph::build(&s), LiveState::default(), false);
        let nodes = plan_steps(&planned.plan, &planned.graph, &planned.live);
        let path = critical_path(&nodes);
        let bound = lower_bound(&nodes);
        // Best of three runs: the figure is the scheduler's, not the machine's noise.
        let mut best = f64::MAX;
        for _ in 0..3 {
            best = best.min(makespan(nodes.clone(), 10).await);
        }
        let sequential = makespan(nodes.clone(), 1).await;
        println!(
            "{:<20} {:>5} {:>9.1} min {:>8.1} min {:>6.1} min {:>7.3}x {:>7.1} min {:>7.2}x",
            format!("{stack} --env {env}"),
            nodes.len(),
            path,
            bound,
            best,
            best / bound,
            sequential,
            sequential / bound
        );
    }
}
