//! `ekstack explain`: what each resource is for, its share of the cost, and
//! the changes to the file that would save the most.

use clap::Args;

use super::{Outcome, Session, StackArgs};

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub prices: super::PriceArgs,
    /// Print the explanation as JSON (always in English).
    #[arg(long)]
    pub json: bool,
}

pub fn run(session: &Session, args: ExplainArgs) -> anyhow::Result<Outcome> {
    let prices = args.prices.table()?;
    let overlay = args.stack.overlay();
    let explanation = crate::ops::explain::explain(&crate::ops::explain::ExplainRequest {
        stack_file: &args.stack.stack,
        overlay: &overlay,
        region_fallback: session.global.region.clone(),
        prices: &prices,
    })?;
    crate::render::explain::print(&explanation, args.json, session.styles.stdout)?;
    Ok(Outcome::Done)
}
