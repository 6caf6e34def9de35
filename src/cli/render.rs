//! `ekstack render`: the fully resolved stack as TOML.

use clap::Args;

use super::{Outcome, Session, StackArgs};

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub stack: StackArgs,
}

pub fn run(session: &Session, args: RenderArgs) -> anyhow::Result<Outcome> {
    let loaded = args.stack.load(session)?;
    crate::render::stdout(&crate::config::render_toml(&loaded.stack)?)?;
    Ok(Outcome::Done)
}
