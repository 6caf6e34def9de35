//! `ekstack sleep`: cut the bill overnight without losing anything, or over
//! a longer break with `--deep`.

use clap::Args;

use super::{Outcome, Session, StackArgs};
use crate::config::SleepDepth;
use crate::ops::apply::ApplyOptions;
use crate::ops::sleep::SleepRequest;
use crate::resources::RunOptions;

#[derive(Debug, Args)]
pub struct SleepArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub lock: super::LockArgs,
    /// Also delete the cluster: node groups, Fargate profiles, add-ons and
    /// the control plane (its $0.10/hour), after sweeping the load balancers
    /// Kubernetes made. Workloads in the cluster are not kept.
    #[arg(long)]
    pub deep: bool,
    /// With --deep: snapshot the database and delete it; the wake restores
    /// it from the snapshot. AWS cannot restart what is not there.
    #[arg(long, requires = "deep")]
    pub snapshot: bool,
    /// How many days the stack is to sleep. Over 7 needs --deep --snapshot
    /// when there is a database (AWS starts a stopped one after 7 days).
    #[arg(long = "for", value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: Option<u32>,
    /// Go ahead without asking (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub prices: super::PriceArgs,
    #[arg(long, hide = true, env = "EKSTACK_POLL_SCALE", default_value_t = 1.0)]
    pub poll_scale: f64,
    /// Real time per modelled second, for an emulator that runs AWS's
    /// minutes faster (the waits that follow a step's usual duration).
    #[arg(long, hide = true, env = "EKSTACK_MODEL_SCALE", default_value_t = 1.0)]
    pub model_scale: f64,
}

pub fn run(session: &Session, args: SleepArgs) -> anyhow::Result<Outcome> {
    let stack = args.stack.load(session)?.stack;
    let request = SleepRequest {
        depth: match (args.deep, args.snapshot) {
            (false, _) => SleepDepth::Light,
            (true, false) => SleepDepth::Deep,
            (true, true) => SleepDepth::DeepSnapshot,
        },
        days: args.days,
    };
    // Before any AWS call: a sleep AWS would cut short.
    crate::ops::sleep::check(&stack, &request)?;
    let prices = args.prices.table()?;
    let options = ApplyOptions {
        run: RunOptions {
            poll_scale: args.poll_scale,
            model_scale: args.model_scale,
            ..RunOptions::default()
        },
        resume: args.stack.resume("sleep"),
        lock_timeout: args.lock.lock_timeout,
        ..ApplyOptions::default()
    };
    let target = session.target(&stack);
    let ui = session.frontend(args.yes);
    let slept = session.runtime()?.block_on(crate::ops::sleep::sleep(
        &target, &stack, &request, &prices, &options, &ui,
    ))?;
    let commands = crate::render::summary::WakeCommands {
        wake: args.stack.resume("wake"),
        kubeconfig: args.stack.resume("kubeconfig"),
        output: format!("{} --k8s", args.stack.resume("output")),
    };
    crate::render::stderr(&crate::render::summary::slept(&slept, &commands, session.styles.stderr));
    Ok(Outcome::Done)
}
