//! `ls` as a table: one line per stack, then the regions it could not read.

use std::fmt::Write as _;

use crate::ops::ls::{Listing, StackState};

pub fn human(l: &Listing) -> String {
    let mut out = String::new();
    if l.stacks.is_empty() {
        let _ = writeln!(out, "No ekstack stack in {} region(s).", l.regions.len());
    } else {
        let w = l.stacks.iter().map(|s| s.name.len()).max().unwrap_or(4).max(5);
        let _ = writeln!(
            out,
            "{:<w$}  {:<15}  {:<8}  {:<20}  {:<8}  {:>9}  {:>10}",
            "STACK", "REGION", "ENV", "CREATED", "STATE", "$/HOUR", "$/MONTH"
        );
        for s in &l.stacks {
            let state = match s.state {
                StackState::Awake => "awake",
                StackState::Asleep => "asleep",
                StackState::Partial => "partial",
            };
            let mark = if s.cost_complete { "" } else { "+" };
            let _ = writeln!(
                out,
                "{:<w$}  {:<15}  {:<8}  {:<20}  {:<8}  {:>9}  {:>10}",
                s.name,
                s.region,
                s.env,
                s.created,
                state,
                format!("{:.3}{mark}", s.hourly_usd),
                format!("{:.2}{mark}", s.monthly_usd)
            );
            if !s.missing.is_empty() {
                let _ = writeln!(out, "{:<w$}  missing: {}", "", s.missing.join(", "));
            }
        }
        let total: f64 = l.stacks.iter().map(|s| s.monthly_usd).sum();
        let _ = writeln!(
            out,
            "\n{} stack(s) in {} region(s): ${total:.2}/month in all (+: some prices unknown).",
            l.stacks.len(),
            l.regions.len()
        );
    }
    for (region, why) in &l.unreachable {
        let _ = writeln!(out, "{region}: not read: {why}");
    }
    out
}
