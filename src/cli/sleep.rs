//! `ekstack sleep`: cut the bill overnight without losing anything.

use clap::Args;

use super::{Outcome, Session, StackArgs};
use crate::ops::apply::ApplyOptions;
use crate::resources::RunOptions;

#[derive(Debug, Args)]
pub struct SleepArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub lock: super::LockArgs,
    /// Go ahead without asking (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Your own price file, overriding the built-in table entry by entry.
    #[arg(long, env = "EKSTACK_PRICES", value_name = "PATH")]
    pub prices: Option<std::path::PathBuf>,
    #[arg(long, hide = true, env = "EKSTACK_POLL_SCALE", default_value_t = 1.0)]
    pub poll_scale: f64,
}

pub fn run(session: &Session, args: SleepArgs) -> anyhow::Result<Outcome> {
    let stack = args.stack.load(session)?.stack;
    let prices = super::prices(&args.prices)?;
    let options = ApplyOptions {
        run: RunOptions {
            poll_scale: args.poll_scale,
            ..RunOptions::default()
        },
        resume: args.stack.resume("sleep"),
        lock_timeout: args.lock.lock_timeout,
        ..ApplyOptions::default()
    };
    let target = session.target(&stack);
    let ui = session.frontend(args.yes);
    let slept = session
        .runtime()?
        .block_on(crate::ops::sleep::sleep(&target, &stack, &prices, &options, &ui))?;
    let wake = args.stack.resume("wake");
    crate::render::stderr(&crate::render::summary::slept(&slept, &wake, session.styles.stderr));
    Ok(Outcome::Done)
}
