//! `ekstack status`: every live resource of the stack, its state, drift, and
//! what it costs per hour and per month.

use clap::Args;

use super::{Outcome, Session, StackOrName};

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub stack: StackOrName,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub prices: super::PriceArgs,
}

pub fn run(session: &Session, args: StatusArgs) -> anyhow::Result<Outcome> {
    let named = args.stack.load(session, "status")?;
    let stack = named.stack;
    let prices = args.prices.table()?;
    let target = session.target(&stack);
    let status = session
        .runtime()?
        .block_on(crate::ops::status::status(&target, &stack, named.from_file, &prices))?;
    if args.json {
        crate::render::json(&status)?;
    } else {
        crate::render::stdout(&crate::render::status::human(&status, session.styles.stdout))?;
    }
    Ok(Outcome::Done)
}
