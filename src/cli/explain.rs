//! `ekstack explain`: what each resource is for and how to pay less.

use clap::Args;

use super::{Outcome, Session, StackArgs};

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub stack: StackArgs,
}

pub fn run(_session: &Session, _args: ExplainArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("not yet")
}
