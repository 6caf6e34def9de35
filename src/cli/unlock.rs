//! `ekstack unlock`: remove a stack's lock left by a killed run.

use clap::Args;

use super::{Outcome, Session};

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// Path to the stack file whose lock to remove (or `--stack` and `--region`).
    #[arg(required_unless_present = "name")]
    pub file: Option<std::path::PathBuf>,
    /// The stack's name, without its file (with `--region`).
    #[arg(long = "stack", value_name = "NAME", conflicts_with = "file", requires = "region")]
    pub name: Option<String>,
    /// The stack's region, with `--stack`.
    #[arg(long)]
    pub region: Option<String>,
    /// Remove it without asking (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

pub fn run(session: &Session, args: UnlockArgs) -> anyhow::Result<Outcome> {
    let (name, region, target) = match (&args.file, &args.name, &args.region) {
        (Some(file), _, _) => {
            let stack = crate::config::load(file, &crate::config::Overlay::None, session.global.region.clone())?.stack;
            let target = session.target(&stack);
            (stack.meta.name, stack.meta.region, target)
        }
        (None, Some(name), Some(region)) => (name.clone(), region.clone(), session.target_in(region)),
        _ => anyhow::bail!("name the stack: `ekstack unlock STACK_FILE`, or `--stack NAME --region R`"),
    };
    let ui = session.frontend(args.yes);
    let removed = session
        .runtime()?
        .block_on(crate::ops::lock::unlock_stack(&target, &name, &region, &ui))?;
    crate::render::stderr(&format!(
        "Removed the lock of stack {name} in {region}, held by {}.\n",
        removed.describe()
    ));
    Ok(Outcome::Done)
}
