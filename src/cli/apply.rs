//! `ekstack apply` (and `wake`): converge the stack to its file.

use clap::Args;

use super::{Outcome, Session, StackArgs};
use crate::ops::apply::ApplyOptions;
use crate::resources::RunOptions;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub lock: super::LockArgs,
    #[command(flatten)]
    pub prices: super::PriceArgs,
    /// Apply without asking (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// How many steps may run at once.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub parallelism: u16,
    /// Allow replacements and deletions that lose data (a database, the cluster).
    #[arg(long)]
    pub allow_data_loss: bool,
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
    /// Waking from `sleep --deep --snapshot`: keep the sleep snapshot once
    /// the database is restored from it (it is deleted otherwise).
    #[arg(long)]
    pub keep_sleep_snapshot: bool,
    /// Scale every wait between polls (tests use a small value).
    #[arg(long, hide = true, env = "EKSTACK_POLL_SCALE", default_value_t = 1.0)]
    pub poll_scale: f64,
    /// Real time per modelled second, for an emulator that runs AWS's
    /// minutes faster (the waits that follow a step's usual duration).
    #[arg(long, hide = true, env = "EKSTACK_MODEL_SCALE", default_value_t = 1.0)]
    pub model_scale: f64,
}

pub fn run(session: &Session, args: ApplyArgs, verb: &str) -> anyhow::Result<Outcome> {
    if let Some(saved) = crate::ops::saved::read(&args.stack.stack)? {
        return run_saved(session, args, saved);
    }
    let mut stack = args.stack.load(session)?.stack;
    stack.meta.reboot = args.reboot;
    stack.meta.finish_migration = args.finish_migration;
    stack.meta.delete_images = args.delete_images;
    stack.meta.tag_subnets = args.tag_subnets;
    let prices = args.prices.table()?;
    let options = ApplyOptions {
        parallelism: usize::from(args.parallelism),
        allow_data_loss: args.allow_data_loss,
        skip_final_snapshot: false,
        run: RunOptions {
            poll_scale: args.poll_scale,
            model_scale: args.model_scale,
            delete_images: args.delete_images,
            ..RunOptions::default()
        },
        resume: args.stack.resume(verb),
        lock_timeout: args.lock.lock_timeout,
        keep_sleep_snapshot: args.keep_sleep_snapshot,
        ..ApplyOptions::default()
    };
    let target = session.target(&stack);
    let ui = session.frontend(args.yes);
    let applied = session
        .runtime()?
        .block_on(crate::ops::apply::apply(&target, &stack, &prices, &options, &ui))?;
    crate::render::stderr(&crate::render::summary::applied(&applied, session.styles.stderr));
    Ok(Outcome::Done)
}

/// `ekstack apply plan.json`: the saved plan, exactly, or nothing.
fn run_saved(session: &Session, args: ApplyArgs, saved: crate::ops::saved::SavedPlan) -> anyhow::Result<Outcome> {
    let overlay = match (&saved.env, &saved.env_file) {
        (Some(name), _) => crate::config::Overlay::Env(name.clone()),
        (None, Some(file)) => crate::config::Overlay::File(file.clone()),
        (None, None) => crate::config::Overlay::None,
    };
    let mut stack = crate::config::load(&saved.stack_file, &overlay, session.global.region.clone())?.stack;
    crate::ops::saved::check_files(&saved, &stack)?;
    stack.meta.reboot = saved.flags.reboot;
    stack.meta.finish_migration = saved.flags.finish_migration;
    stack.meta.delete_images = saved.flags.delete_images;
    stack.meta.tag_subnets = saved.flags.tag_subnets;
    let prices = args.prices.table()?;
    let options = ApplyOptions {
        parallelism: usize::from(args.parallelism),
        allow_data_loss: saved.flags.allow_data_loss,
        skip_final_snapshot: false,
        run: RunOptions {
            poll_scale: args.poll_scale,
            model_scale: args.model_scale,
            delete_images: saved.flags.delete_images,
            ..RunOptions::default()
        },
        resume: format!("ekstack apply {}", args.stack.stack.display()),
        lock_timeout: args.lock.lock_timeout,
        keep_sleep_snapshot: args.keep_sleep_snapshot,
        ..ApplyOptions::default()
    };
    let target = session.target(&stack);
    let ui = session.frontend(args.yes);
    let applied = session.runtime()?.block_on(crate::ops::saved::apply_saved(
        &target, &stack, &saved, &prices, &options, &ui,
    ))?;
    crate::render::stderr(&crate::render::summary::applied(&applied, session.styles.stderr));
    Ok(Outcome::Done)
}
