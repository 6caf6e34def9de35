//! `ekstack ls`: every stack the credentials can see, in every enabled
//! region (or `--regions`), with its state and what it costs now.

use clap::Args;

use super::{Outcome, Session};

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only these regions (comma-separated); default: every enabled region.
    #[arg(long, value_delimiter = ',', value_name = "REGION,…")]
    pub regions: Option<Vec<String>>,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub prices: super::PriceArgs,
}

pub fn run(session: &Session, args: LsArgs) -> anyhow::Result<Outcome> {
    let prices = args.prices.table()?;
    // Where DescribeRegions and IAM (global) are asked.
    let home = session.global.region.clone().unwrap_or_else(|| "us-east-1".into());
    let target = session.target_in(&home);
    let listing = session
        .runtime()?
        .block_on(crate::ops::ls::ls(&target, args.regions.clone(), &prices))?;
    if args.json {
        crate::render::json(&listing)?;
    } else {
        crate::render::stdout(&crate::render::ls::human(&listing))?;
    }
    Ok(Outcome::Done)
}
