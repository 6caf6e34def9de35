//! `ekstack validate`: check the stack file and overlay without any AWS call.

use clap::Args;

use super::{Outcome, Session, StackArgs};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub stack: StackArgs,
}

pub fn run(session: &Session, args: ValidateArgs) -> anyhow::Result<Outcome> {
    let loaded = args.stack.load(session)?;
    let s = &loaded.stack;
    let env = s.meta.env.as_deref().map(|e| format!(" (env {e})")).unwrap_or_default();
    crate::render::stdout(&format!(
        "{}{env}: stack \"{}\" in {} is valid\n",
        args.stack.stack.display(),
        s.meta.name,
        s.meta.region
    ))?;
    Ok(Outcome::Done)
}
