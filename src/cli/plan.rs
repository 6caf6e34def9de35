//! `ekstack plan`: what apply would do, against live AWS state.

use clap::Args;

use super::{session, GlobalArgs, Outcome, StackArgs};

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Your own price file, overriding the built-in table entry by entry.
    #[arg(long, env = "EKSTACK_PRICES", value_name = "PATH")]
    pub prices: Option<std::path::PathBuf>,
    /// Print the plan as JSON (format_version 1) on stdout.
    #[arg(long)]
    pub json: bool,
    /// Exit 2 when there are changes, 0 when none, 1 on error (as terraform).
    #[arg(long)]
    pub detailed_exitcode: bool,
}

pub fn run(global: &GlobalArgs, args: PlanArgs) -> anyhow::Result<Outcome> {
    let loaded = args.stack.load(global)?;
    let stack = loaded.stack;
    let prices = super::status::prices(&args.prices)?;
    session::runtime()?.block_on(async {
        let aws = session::connect(global, &stack).await?;
        let _calls = session::CallReport::new(global, &aws);
        let planned = crate::ops::plan::make_plan(&aws, &stack, false).await?;
        let planned = crate::ops::plan::with_cost(planned, &stack, &prices);
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&crate::render::plan::json(&planned.plan))?
            );
        } else {
            print!("{}", crate::render::plan::human(&planned.plan, session::style(global)));
        }
        Ok(if args.detailed_exitcode && planned.plan.has_changes() {
            Outcome::ChangesPresent
        } else {
            Outcome::Done
        })
    })
}
