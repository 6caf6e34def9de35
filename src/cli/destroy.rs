//! `ekstack destroy`: tear the stack down so nothing keeps billing.

use anyhow::bail;
use clap::Args;

use super::{session, GlobalArgs, Outcome, StackArgs};
use crate::ops::apply::ApplyOptions;
use crate::resources::RunOptions;

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Destroy without asking (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Delete the database without a final snapshot.
    #[arg(long)]
    pub skip_final_snapshot: bool,
    /// Also delete EBS volumes Kubernetes made for persistent volumes.
    #[arg(long)]
    pub delete_volumes: bool,
    /// How many steps may run at once.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub parallelism: u16,
    #[arg(long, hide = true, default_value_t = 1.0)]
    pub poll_scale: f64,
}

pub fn run(global: &GlobalArgs, args: DestroyArgs) -> anyhow::Result<Outcome> {
    let loaded = args.stack.load(global)?;
    let stack = loaded.stack;
    let style = session::style(global);
    let resume = super::apply::resume_command("destroy", &args.stack);
    session::runtime()?.block_on(async {
        let aws = session::connect(global, &stack).await?;
        let _calls = session::CallReport::new(global, &aws);
        let planned = crate::ops::destroy::plan_destroy(&aws, &stack, args.skip_final_snapshot).await?;
        if planned.targets.is_empty() {
            println!(
                "Nothing to destroy: no resource of stack \"{}\" exists in {}.",
                stack.meta.name, stack.meta.region
            );
            for w in &planned.plan.warnings {
                eprintln!("{} {w}", style.yellow("Warning:"));
            }
            return Ok(Outcome::Done);
        }
        print!("{}", crate::render::plan::human(&planned.plan, style));
        crate::ops::destroy::preflight(&planned)?;
        let question = format!(
            "Destroy every resource of stack \"{}\"? There is no undo. Type the stack name to confirm.",
            stack.meta.name
        );
        if !session::confirm(args.yes, &question, &stack.meta.name, "destroy")? {
            bail!("destroy cancelled; nothing was deleted");
        }
        let options = ApplyOptions {
            parallelism: args.parallelism as usize,
            allow_data_loss: true,
            run: RunOptions {
                poll_scale: args.poll_scale,
                skip_final_snapshot: args.skip_final_snapshot,
                delete_volumes: args.delete_volumes,
            },
        };
        let outcome = session::run_with_progress(style, &resume, |events, interrupts| {
            crate::ops::destroy::execute(aws.clone(), stack.clone(), &planned, &options, events, interrupts)
        })
        .await?;
        eprintln!(
            "{} in {}: {} resources deleted.",
            style.green("Destroy complete"),
            session::elapsed(&outcome.report),
            planned.targets.len()
        );
        Ok(Outcome::Done)
    })
}
