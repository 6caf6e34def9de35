//! Benchmark: the poll schedule. The real engine's steps (desired graph →
//! plan → steps → the tokio dispatcher, on a paused clock) for the learning
//! stack, each step taking a duration drawn from its kind's usual range
//! (the DESIGN §8 latency model, as the kinds declare it), over 20 seeds. A
//! step is seen done at its first poll at or after that moment, by the
//! real schedule (`resources::kind::next_poll`): the usual-duration one,
//! against the plain backoff (2 s × 1.5 up to 20 s) it replaced. Prints,
//! per schedule, the mean and worst makespan over the critical path of
//! the same draws, and the mean number of reads (polls).
//!
//! Destroy needs the stack's live state: with a moto server at
//! `EKSTACK_TEST_ENDPOINT` (`make emulator`), the learning stack is applied
//! there by the `ekstack` binary through the AWS-rules proxy, its destroy
//! planned from what discovery finds, then destroyed. Without one, only apply is measured.
//!
//! `cargo run --example poll_bench`. It prints figures; it asserts nothing.

#[path = "../tests/support/proxy.rs"]
mod proxy;
#[path = "../tests/support/rules/mod.rs"]
mod rules;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ekstack::config::{load, Overlay};
use ekstack::exec::{self, Limits, Node, Runner};
use ekstack::graph;
use ekstack::live::LiveState;
use ekstack::ops::steps::{plan_steps, Output, Work};
use ekstack::resources::kind::next_poll;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use rand::{Rng, SeedableRng};

/// A step without a usual range: an API call or two.
const SECONDS_STEP: Duration = Duration::from_secs(6);

#[derive(Clone, Copy, PartialEq)]
enum Schedule {
    Usual,
    Backoff,
}

/// When a step that truly takes `actual` is seen done, and how many reads
/// that took: a read right after the create call, then by the schedule.
fn seen_done(node: &Node<Work>, actual: Duration, schedule: Schedule) -> (Duration, u32) {
    let Some(usual) = node.expected.as_ref() else {
        return (actual, 0);
    };
    let (mut t, mut reads, mut backoff) = (Duration::ZERO, 1, Duration::ZERO);
    while t < actual {
        let next = match schedule {
            Schedule::Usual => next_poll(Some(usual), t, Duration::ZERO),
            Schedule::Backoff => {
                backoff = next_poll(None, Duration::ZERO, backoff);
                backoff
            }
        };
        t += next;
        reads += 1;
    }
    (t, reads)
}

/// Sleeps each step's seen-done time on tokio's paused clock.
struct Simulated(HashMap<String, Duration>);

impl Runner<Work, Output> for Simulated {
    fn run(&self, node: &Node<Work>, _: Vec<Output>) -> BoxFuture<'static, anyhow::Result<Output>> {
        let d = self.0.get(&node.key).copied().unwrap_or_default();
        async move {
            tokio::time::sleep(d).await;
            Ok(None)
        }
        .boxed()
    }
}

fn critical_path(nodes: &[Node<Work>], took: &HashMap<String, Duration>) -> Duration {
    fn finish<'a>(
        key: &'a str,
        by: &HashMap<&'a str, &'a Node<Work>>,
        took: &HashMap<String, Duration>,
        memo: &mut HashMap<&'a str, Duration>,
    ) -> Duration {
        if let Some(v) = memo.get(key) {
            return *v;
        }
        let n = by[key];
        let start = n
            .deps
            .iter()
            .filter(|d| by.contains_key(d.as_str()))
            .map(|d| finish(d, by, took, memo))
            .max()
            .unwrap_or_default();
        let end = start + took.get(key).copied().unwrap_or_default();
        memo.insert(key, end);
        end
    }
    let by: HashMap<&str, &Node<Work>> = nodes.iter().map(|n| (n.key.as_str(), n)).collect();
    let mut memo = HashMap::new();
    nodes
        .iter()
        .map(|n| finish(&n.key, &by, took, &mut memo))
        .max()
        .unwrap_or_default()
}

async fn makespan(nodes: Vec<Node<Work>>, took: HashMap<String, Duration>) -> Duration {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let (_i, irx) = tokio::sync::mpsc::unbounded_channel();
    let report = exec::run(nodes, Arc::new(Simulated(took)), Limits::default(), tx, irx).await;
    assert!(report.ok(), "simulated run failed: {:?}", report.failed);
    report.elapsed
}

/// Mean and worst ratio of makespan to critical path, and mean reads, over
/// `seeds` draws.
async fn measure(nodes: &[Node<Work>], schedule: Schedule, seeds: u64) -> (f64, f64, f64, f64) {
    let (mut sum, mut worst, mut reads, mut paths) = (0.0, 0.0f64, 0.0, 0.0);
    for seed in 0..seeds {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut actual = HashMap::new();
        let mut seen = HashMap::new();
        let mut run_reads = 0;
        for n in nodes {
            let d = match &n.expected {
                Some(e) => Duration::from_secs_f64(rng.gen_range(e.low.as_secs_f64()..=e.high.as_secs_f64())),
                None => SECONDS_STEP,
            };
            let (t, r) = seen_done(n, d, schedule);
            actual.insert(n.key.clone(), d);
            seen.insert(n.key.clone(), t);
            run_reads += r;
        }
        let path = critical_path(nodes, &actual);
        paths += path.as_secs_f64() / 60.0;
        let span = makespan(nodes.to_vec(), seen).await;
        let ratio = span.as_secs_f64() / path.as_secs_f64();
        sum += ratio;
        worst = worst.max(ratio);
        reads += f64::from(run_reads);
    }
    let n = seeds as f64;
    (sum / n, worst, reads / n, paths / n)
}

async fn report(what: &str, nodes: &[Node<Work>]) {
    for (schedule, name) in [
        (Schedule::Usual, "usual-duration"),
        (Schedule::Backoff, "backoff 2s×1.5→20s"),
    ] {
        let (mean, worst, reads, path) = measure(nodes, schedule, 20).await;
        println!("{what:<28} {name:<20} {path:>9.1} min {mean:>9.4}x {worst:>9.4}x {reads:>11.1}");
    }
}

/// The learning stack's destroy as discovery finds it in moto, or `None`
/// without a moto server.
async fn destroy_nodes(root: &Path, env: &str, endpoint: Option<String>) -> anyhow::Result<Option<Vec<Node<Work>>>> {
    let Some(endpoint) = endpoint else {
        return Ok(None);
    };
    let name = format!("pb{}", std::process::id() % 100_000);
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("stacks"))?;
    std::fs::create_dir_all(dir.path().join("environments"))?;
    for e in ["mvp", "prod"] {
        std::fs::copy(
            root.join("environments").join(format!("{e}.toml")),
            dir.path().join("environments").join(format!("{e}.toml")),
        )?;
    }
    let text = std::fs::read_to_string(root.join("stacks/learning.toml"))?
        .replace("name = \"learning\"", &format!("name = \"{name}\""));
    let file = dir.path().join("stacks/bench.toml");
    std::fs::write(&file, text)?;
    let bin = root.join("target/debug/ekstack");
    let ekstack = |verb: &str| {
        std::process::Command::new(&bin)
            .args([verb, file.to_str().unwrap_or_default(), "--env", env, "--yes"])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("EKSTACK_POLL_SCALE", "0.01")
            .env("EKSTACK_MODEL_SCALE", "0.0016667")
            .output()
    };
    let applied = ekstack("apply")?;
    if !applied.status.success() {
        anyhow::bail!("apply in moto failed: {}", String::from_utf8_lossy(&applied.stderr));
    }
    let stack = load(&file, &Overlay::Env(env.into()), None)?.stack;
    let target = ekstack::aws::Target {
        region: stack.meta.region.clone(),
        profile: None,
        endpoint_url: Some(endpoint.clone()),
        calls: Arc::new(ekstack::aws::CallLog::new(None)),
    };
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    let aws = ekstack::ops::connect(&target).await?;
    let planned = ekstack::ops::destroy::plan_destroy(&aws, &stack, false).await?;
    let nodes = ekstack::ops::destroy::destroy_steps(&planned);
    let destroyed = ekstack("destroy")?;
    if !destroyed.status.success() {
        anyhow::bail!("destroy in moto failed: {}", String::from_utf8_lossy(&destroyed.stderr));
    }
    Ok(Some(nodes))
}

fn main() -> anyhow::Result<()> {
    // The rules proxy runs on a thread of its own, started before the
    // benchmark's runtime.
    let proxy = std::env::var("EKSTACK_TEST_ENDPOINT")
        .ok()
        .and_then(|moto| proxy::FaultProxy::start_blocking(&moto, proxy::Faults::default()).ok());
    let endpoint = proxy.as_ref().map(|p| p.url());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(bench(endpoint))
}

async fn bench(endpoint: Option<String>) -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    println!(
        "poll schedules on the learning stack: durations drawn from each kind's usual range, 20 seeds (paused clock)"
    );
    println!("ratio = makespan / critical path of the same draws; reads = polls of the steps that wait\n");
    println!(
        "{:<28} {:<20} {:>13} {:>10} {:>10} {:>11}",
        "run", "schedule", "critical path", "mean", "worst", "mean reads"
    );
    let env = "mvp";
    let path = root.join("stacks/learning.toml");
    let s = load(&path, &Overlay::Env(env.into()), None)?.stack;
    let planned = ekstack::ops::plan::plan_against(&s, graph::build(&s)?, LiveState::default(), false)?;
    let apply = plan_steps(&planned.plan, &planned.graph, &planned.live, None);
    // The paused clock runs the simulated minutes at once; discovery (real
    // time, against moto) runs before it is paused.
    let destroy = match destroy_nodes(root, env, endpoint).await {
        Ok(n) => n,
        Err(e) => {
            eprintln!("destroy not measured: {e:#}");
            None
        }
    };
    tokio::time::pause();
    report("apply learning --env mvp", &apply).await;
    match destroy {
        Some(nodes) => report("destroy learning --env mvp", &nodes).await,
        None => println!("destroy learning --env mvp   (needs moto at EKSTACK_TEST_ENDPOINT)"),
    }
    Ok(())
}
