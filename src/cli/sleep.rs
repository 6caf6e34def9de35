//! `ekstack sleep`: cut the bill overnight without losing anything.

use anyhow::bail;
use clap::Args;

use super::{session, GlobalArgs, Outcome, StackArgs};
use crate::ops::apply::ApplyOptions;
use crate::resources::RunOptions;

#[derive(Debug, Args)]
pub struct SleepArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Go ahead without asking (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Your own price file, overriding the built-in table entry by entry.
    #[arg(long, env = "EKSTACK_PRICES", value_name = "PATH")]
    pub prices: Option<std::path::PathBuf>,
    #[arg(long, hide = true, default_value_t = 1.0)]
    pub poll_scale: f64,
}

pub fn run(global: &GlobalArgs, args: SleepArgs) -> anyhow::Result<Outcome> {
    let loaded = args.stack.load(global)?;
    let stack = loaded.stack;
    let prices = super::status::prices(&args.prices)?;
    let style = session::style(global);
    let resume = super::apply::resume_command("sleep", &args.stack);
    session::runtime()?.block_on(async {
        let aws = session::connect(global, &stack).await?;
        let _calls = session::CallReport::new(global, &aws);
        let planned = crate::ops::sleep::plan_sleep(&aws, &stack, &prices).await?;
        if planned.live.resources.is_empty() {
            bail!(
                "stack \"{}\" has nothing live in {} to put to sleep",
                stack.meta.name,
                stack.meta.region
            );
        }
        print!("{}", crate::render::plan::human(&planned.plan, style));
        let (now, asleep) = crate::ops::sleep::hourly(&planned);
        if crate::ops::sleep::stops_database(&stack) {
            eprintln!(
                "{} AWS starts a stopped database again after 7 days; sleep again then if needed.",
                style.yellow("Note:")
            );
        }
        if !planned.plan.has_changes() {
            // An interrupted sleep may have done everything but mark it.
            let vpc = planned
                .live
                .resources
                .iter()
                .find(|l| l.address == crate::graph::build::VPC);
            if let (false, Some(vpc)) = (planned.plan.sleeping, vpc) {
                crate::ops::sleep::mark_asleep(&aws, &vpc.id).await?;
            }
            eprintln!("Already asleep: ${asleep:.3}/hour.");
            return Ok(Outcome::Done);
        }
        if !session::confirm(
            args.yes,
            "Put the stack to sleep? Only 'yes' will be accepted.",
            "yes",
            "sleep",
        )? {
            bail!("sleep cancelled; nothing was changed");
        }
        let options = ApplyOptions {
            run: RunOptions {
                poll_scale: args.poll_scale,
                ..RunOptions::default()
            },
            ..ApplyOptions::default()
        };
        session::run_with_progress(style, &resume, |events, interrupts| {
            crate::ops::sleep::sleep(aws.clone(), &stack, &planned, &options, events, interrupts)
        })
        .await?;
        let saved = if now > 0.0 { (1.0 - asleep / now) * 100.0 } else { 0.0 };
        eprintln!(
            "{} Hourly cost ${now:.3} → ${asleep:.3} ({saved:.0}% less). `{}` brings it back.",
            style.green("Asleep."),
            super::apply::resume_command("wake", &args.stack)
        );
        Ok(Outcome::Done)
    })
}
