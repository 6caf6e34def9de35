//! `ekstack status`: every live resource of the stack, its state, drift, and
//! what it costs per hour and per month.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;

use super::{session, GlobalArgs, Outcome, StackArgs};

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Your own price file, overriding the built-in table entry by entry.
    #[arg(long, env = "EKSTACK_PRICES", value_name = "PATH")]
    pub prices: Option<PathBuf>,
}

pub fn prices(path: &Option<PathBuf>) -> anyhow::Result<crate::cost::PriceTable> {
    match path {
        Some(p) => crate::cost::PriceTable::load(p),
        None => Ok(crate::cost::PriceTable::builtin()),
    }
}

pub fn run(global: &GlobalArgs, args: StatusArgs) -> anyhow::Result<Outcome> {
    let loaded = args.stack.load(global)?;
    let stack = loaded.stack;
    let prices = prices(&args.prices)?;
    let style = session::style(global);
    session::runtime()?.block_on(async {
        let aws = session::connect(global, &stack).await?;
        let _calls = session::CallReport::new(global, &aws);
        let (status, _) = crate::ops::inventory::status(&aws, &stack, &prices).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&status)?);
            return Ok(Outcome::Done);
        }
        let mut out = String::new();
        let env = status.env.as_deref().map(|e| format!(", env {e}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "Stack \"{}\"{env} in {}{}",
            status.stack,
            status.region,
            if status.sleeping { " — asleep" } else { "" }
        );
        if status.resources.is_empty() {
            let _ = writeln!(out, "Nothing is live. `ekstack apply` creates it.");
        } else {
            let w_addr = status
                .resources
                .iter()
                .map(|r| r.address.len())
                .max()
                .unwrap_or(0)
                .max(7);
            let w_kind = status
                .resources
                .iter()
                .map(|r| r.kind.as_str().len())
                .max()
                .unwrap_or(0)
                .max(4);
            let w_id = status.resources.iter().map(|r| r.id.len()).max().unwrap_or(0).max(2);
            let _ = writeln!(
                out,
                "\n  {:<w_addr$}  {:<w_kind$}  {:<w_id$}  STATE",
                "ADDRESS", "KIND", "ID"
            );
            for r in &status.resources {
                let drift = if r.drift {
                    style.yellow("  ~ differs from the file")
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "  {:<w_addr$}  {:<w_kind$}  {:<w_id$}  {}{drift}",
                    r.address,
                    r.kind.as_str(),
                    r.id,
                    r.state
                );
            }
        }
        if !status.missing.is_empty() {
            let _ = writeln!(
                out,
                "\n{} in the file but not live: {}",
                status.missing.len(),
                status.missing.join(", ")
            );
        }
        let _ = writeln!(
            out,
            "\nCost now: ${:.3}/hour, ${:.2}/month{}",
            status.cost.hourly_usd,
            status.cost.monthly_usd,
            if status.cost.complete {
                String::new()
            } else {
                format!(" (plus unknown: {})", status.cost.unknown.join(", "))
            }
        );
        print!("{out}");
        if !status.cost.lines.is_empty() {
            print!("{}", status.cost.render_lines());
        }
        Ok(Outcome::Done)
    })
}
