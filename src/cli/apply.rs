//! `ekstack apply`: converge the stack to its file.

use anyhow::bail;
use clap::Args;

use super::{session, GlobalArgs, Outcome, StackArgs};
use crate::ops::apply::ApplyOptions;
use crate::resources::RunOptions;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Your own price file, overriding the built-in table entry by entry.
    #[arg(long, env = "EKSTACK_PRICES", value_name = "PATH")]
    pub prices: Option<std::path::PathBuf>,
    /// Apply without asking (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// How many steps may run at once.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub parallelism: u16,
    /// Allow replacements and deletions that lose data (a database, the cluster).
    #[arg(long)]
    pub allow_data_loss: bool,
    /// Scale every wait between polls (tests use a small value).
    #[arg(long, hide = true, default_value_t = 1.0)]
    pub poll_scale: f64,
}

pub fn run(global: &GlobalArgs, args: ApplyArgs) -> anyhow::Result<Outcome> {
    let loaded = args.stack.load(global)?;
    let stack = loaded.stack;
    let prices = super::status::prices(&args.prices)?;
    let style = session::style(global);
    let resume = resume_command("apply", &args.stack);
    session::runtime()?.block_on(async {
        let aws = session::connect(global, &stack).await?;
        let _calls = session::CallReport::new(global, &aws);
        let planned = crate::ops::plan::make_plan(&aws, &stack, false).await?;
        let planned = crate::ops::plan::with_cost(planned, &stack, &prices);
        print!("{}", crate::render::plan::human(&planned.plan, style));
        if !planned.plan.has_changes() {
            return Ok(Outcome::Done);
        }
        crate::ops::apply::check_safety(&planned, args.allow_data_loss)?;
        if !session::confirm(
            args.yes,
            "Do you want to perform these actions? Only 'yes' will be accepted.",
            "yes",
            "apply",
        )? {
            bail!("apply cancelled; nothing was changed");
        }
        if !args.yes {
            // The user may have read the plan for a while: apply only what
            // they saw. If live state moved meanwhile, say so and stop.
            let fresh = crate::ops::plan::make_plan(&aws, &stack, false).await?;
            if !crate::ops::plan::same_actions(&fresh.plan, &planned.plan) {
                bail!("live state changed since the plan was shown; nothing was changed. Run apply again to see the new plan.");
            }
        }
        let options = ApplyOptions {
            parallelism: args.parallelism as usize,
            allow_data_loss: args.allow_data_loss,
            run: RunOptions {
                poll_scale: args.poll_scale,
                ..RunOptions::default()
            },
        };
        let outcome = session::run_with_progress(style, &resume, |events, interrupts| {
            crate::ops::apply::execute(aws.clone(), stack.clone(), &planned, &options, events, interrupts)
        })
        .await?;
        let s = &planned.plan.summary;
        eprintln!(
            "{} in {}: {} added, {} changed, {} replaced, {} destroyed.",
            style.green("Apply complete"),
            session::elapsed(&outcome.report),
            s.create,
            s.update,
            s.replace,
            s.delete
        );
        Ok(Outcome::Done)
    })
}

/// The command that resumes an interrupted run.
pub fn resume_command(verb: &str, stack: &StackArgs) -> String {
    let mut cmd = format!("ekstack {verb} {}", stack.stack.display());
    if let Some(env) = &stack.env {
        cmd.push_str(&format!(" --env {env}"));
    }
    if let Some(file) = &stack.env_file {
        cmd.push_str(&format!(" --env-file {}", file.display()));
    }
    cmd
}
