//! `ekstack diagram`: a picture of the stack.

use clap::Args;

use super::{Outcome, Session, StackArgs};

#[derive(Debug, Args)]
pub struct DiagramArgs {
    #[command(flatten)]
    pub stack: StackArgs,
}

pub fn run(_session: &Session, _args: DiagramArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("not yet")
}
