//! `ekstack diagram`: a picture of the stack.

use clap::{Args, ValueEnum};

use super::{Outcome, Session, StackArgs};
use crate::ops::diagram::Colouring;
use crate::render::diagram::Format;

#[derive(Debug, Args)]
pub struct DiagramArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Colour each resource by what a plan made now, against live AWS
    /// state, would do to it.
    #[arg(long, conflicts_with = "plan_file")]
    pub plan: bool,
    /// Colour each resource by the actions of a plan saved with
    /// `ekstack plan STACK -o FILE`.
    #[arg(long, value_name = "FILE")]
    pub plan_file: Option<std::path::PathBuf>,
    /// Mermaid (GitHub and editors draw it) or a self-contained SVG.
    #[arg(long, value_enum, default_value_t = DiagramFormat::Mermaid)]
    pub format: DiagramFormat,
    #[command(flatten)]
    pub prices: super::PriceArgs,
    /// Write the diagram to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub out: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagramFormat {
    Mermaid,
    Svg,
}

pub fn run(session: &Session, args: DiagramArgs) -> anyhow::Result<Outcome> {
    let stack = args.stack.load(session)?.stack;
    let prices = args.prices.table()?;
    let target = session.target(&stack);
    let colouring = match (&args.plan_file, args.plan) {
        (Some(path), _) => Colouring::SavedPlan(path.clone()),
        (None, true) => Colouring::LivePlan {
            target: &target,
            prices: &prices,
        },
        (None, false) => Colouring::File,
    };
    let diagram = session
        .runtime()?
        .block_on(crate::ops::diagram::diagram(&stack, colouring))?;
    let format = match args.format {
        DiagramFormat::Mermaid => Format::Mermaid,
        DiagramFormat::Svg => Format::Svg,
    };
    crate::render::diagram::print(&diagram, format, args.out.as_deref())?;
    Ok(Outcome::Done)
}
