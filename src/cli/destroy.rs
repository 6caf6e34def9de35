//! `ekstack destroy`: tear the stack down so nothing keeps billing.

use clap::Args;

use super::{Outcome, Session, StackOrName};
use crate::ops::apply::ApplyOptions;
use crate::resources::RunOptions;

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub stack: StackOrName,
    #[command(flatten)]
    pub lock: super::LockArgs,
    /// Destroy without asking (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Delete the database without a final snapshot.
    #[arg(long)]
    pub skip_final_snapshot: bool,
    /// Also delete EBS volumes Kubernetes made for persistent volumes.
    #[arg(long)]
    pub delete_volumes: bool,
    /// Delete ECR repositories that hold images, with their images
    /// (otherwise such a repository is kept, and listed with its cost).
    #[arg(long)]
    pub delete_images: bool,
    #[command(flatten)]
    pub prices: super::PriceArgs,
    /// How many steps may run at once.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub parallelism: u16,
    #[arg(long, hide = true, env = "EKSTACK_POLL_SCALE", default_value_t = 1.0)]
    pub poll_scale: f64,
    /// Real time per modelled second, for an emulator that runs AWS's
    /// minutes faster (the waits that follow a step's usual duration).
    #[arg(long, hide = true, env = "EKSTACK_MODEL_SCALE", default_value_t = 1.0)]
    pub model_scale: f64,
}

pub fn run(session: &Session, args: DestroyArgs) -> anyhow::Result<Outcome> {
    let named = args.stack.load(session, "destroy")?;
    let mut stack = named.stack;
    stack.meta.delete_images = args.delete_images;
    let options = ApplyOptions {
        parallelism: usize::from(args.parallelism),
        allow_data_loss: true,
        skip_final_snapshot: args.skip_final_snapshot,
        run: RunOptions {
            poll_scale: args.poll_scale,
            model_scale: args.model_scale,
            delete_volumes: args.delete_volumes,
            delete_images: args.delete_images,
            ..RunOptions::default()
        },
        resume: named.resume,
        lock_timeout: args.lock.lock_timeout,
        ..ApplyOptions::default()
    };
    let prices = args.prices.table()?;
    let target = session.target(&stack);
    let ui = session.frontend(args.yes);
    let destroyed = session
        .runtime()?
        .block_on(crate::ops::destroy::destroy(&target, &stack, &prices, &options, &ui))?;
    let (out, err) = crate::render::summary::destroyed(&destroyed, session.styles.stderr);
    crate::render::stdout(&out)?;
    crate::render::stderr(&err);
    Ok(Outcome::Done)
}
