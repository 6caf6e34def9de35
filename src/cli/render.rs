//! `ekstack render`: the fully resolved stack as TOML.

use clap::Args;

use super::{GlobalArgs, Outcome, StackArgs};

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub stack: StackArgs,
}

pub fn run(global: &GlobalArgs, args: RenderArgs) -> anyhow::Result<Outcome> {
    let loaded = args.stack.load(global)?;
    print!("{}", crate::config::render_toml(&loaded.stack)?);
    Ok(Outcome::Done)
}
