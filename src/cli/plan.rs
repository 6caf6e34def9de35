//! `ekstack plan`: what apply would do, against live AWS state.

use clap::Args;

use super::{Outcome, Session, StackArgs};

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub prices: super::PriceArgs,
    /// Print the plan as JSON (format_version 1) on stdout.
    #[arg(long)]
    pub json: bool,
    /// Reboot databases whose parameter group has changes pending a reboot
    /// (static parameters, a new group); Multi-AZ instances fail over.
    #[arg(long)]
    pub reboot: bool,
    /// Delete what a migration kept: the RDS instance an Aurora cluster was
    /// restored from (after its final snapshot).
    #[arg(long)]
    pub finish_migration: bool,
    /// Delete ECR repositories that hold images, with their images
    /// (otherwise such a repository is kept, and listed with its cost).
    #[arg(long)]
    pub delete_images: bool,
    /// A VPC given to the stack (`network.vpc_id`): add the load balancer
    /// tag to its subnets that lack it (destroy leaves it in place).
    #[arg(long)]
    pub tag_subnets: bool,
    /// Save the plan to this file, for `ekstack apply FILE` to apply exactly
    /// it (refused if live state or the stack files change meanwhile).
    #[arg(long, short = 'o', value_name = "PATH")]
    pub out: Option<std::path::PathBuf>,
    /// With `--out`: the saved plan may replace or delete what loses data.
    #[arg(long, requires = "out")]
    pub allow_data_loss: bool,
    /// Exit 2 when there are changes, 0 when none, 1 on error (as terraform).
    #[arg(long)]
    pub detailed_exitcode: bool,
}

pub fn run(session: &Session, args: PlanArgs) -> anyhow::Result<Outcome> {
    let mut stack = args.stack.load(session)?.stack;
    stack.meta.reboot = args.reboot;
    stack.meta.finish_migration = args.finish_migration;
    stack.meta.delete_images = args.delete_images;
    stack.meta.tag_subnets = args.tag_subnets;
    let prices = args.prices.table()?;
    let target = session.target(&stack);
    let planned = session
        .runtime()?
        .block_on(crate::ops::plan::plan(&target, &stack, &prices))?;
    crate::render::plan::print(&planned.plan, args.json, session.styles.stdout)?;
    if let Some(out) = &args.out {
        let env_file = match (&args.stack.env, &args.stack.env_file) {
            (Some(name), _) => {
                Some(crate::config::env_path(&args.stack.stack, name).map_err(|d| anyhow::anyhow!("{}", d.message))?)
            }
            (None, file) => file.clone(),
        };
        let flags = crate::ops::saved::Flags {
            allow_data_loss: args.allow_data_loss,
            reboot: args.reboot,
            finish_migration: args.finish_migration,
            delete_images: args.delete_images,
            tag_subnets: args.tag_subnets,
        };
        let saved = crate::ops::saved::save(
            &stack,
            &planned,
            flags,
            &args.stack.stack,
            env_file.as_deref(),
            (args.stack.env.clone(), args.stack.env_file.clone()),
        )?;
        std::fs::write(out, serde_json::to_string_pretty(&saved)?)?;
        crate::render::stderr(&format!(
            "Saved the plan to {}; `ekstack apply {}` applies exactly it.\n",
            out.display(),
            out.display()
        ));
    }
    if !planned.plan.quota_shortfalls.is_empty() {
        anyhow::bail!("apply would go past the account's quotas (see the plan); raise them or free room first");
    }
    Ok(if args.detailed_exitcode && planned.plan.has_changes() {
        Outcome::ChangesPresent
    } else {
        Outcome::Done
    })
}
