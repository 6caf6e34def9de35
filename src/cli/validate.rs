//! `ekstack validate`: check the stack file and overlay without any AWS call.

use clap::Args;

use super::{GlobalArgs, Outcome, StackArgs};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub stack: StackArgs,
}

pub fn run(global: &GlobalArgs, args: ValidateArgs) -> anyhow::Result<Outcome> {
    let loaded = args.stack.load(global)?;
    let s = &loaded.stack;
    let env = s.meta.env.as_deref().map(|e| format!(" (env {e})")).unwrap_or_default();
    println!(
        "{}{env}: stack \"{}\" in {} is valid",
        args.stack.stack.display(),
        s.meta.name,
        s.meta.region
    );
    Ok(Outcome::Done)
}
