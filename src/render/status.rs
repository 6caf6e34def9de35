//! `status` as a table: every live resource, its state and drift, then what
//! the stack costs now.

use std::fmt::Write as _;

use super::Style;
use crate::ops::status::Status;

pub fn human(status: &Status, style: Style) -> String {
    let mut out = String::new();
    let env = status.env.as_deref().map(|e| format!(", env {e}")).unwrap_or_default();
    let _ = writeln!(
        out,
        "Stack \"{}\"{env} in {}{}",
        status.stack,
        status.region,
        if status.sleeping { " — asleep" } else { "" }
    );
    if let Some(asleep) = &status.sleep {
        out.push_str(&sleep_lines(&asleep.mark, asleep.database_restarted, style));
    }
    if !status.compared {
        let _ = writeln!(out, "(found by name, without its file: drift is not shown)");
    }
    if status.resources.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            if status.compared {
                "Nothing is live. `ekstack apply` creates it."
            } else {
                "Nothing of it is live."
            }
        );
    } else {
        let width = |f: &dyn Fn(&crate::ops::status::StatusLine) -> usize, min: usize| {
            status.resources.iter().map(f).max().unwrap_or(0).max(min)
        };
        let w_addr = width(&|r| r.address.len(), 7);
        let w_kind = width(&|r| r.kind.as_str().len(), 4);
        let w_id = width(&|r| r.id.len(), 2);
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
            for note in &r.notes {
                let _ = writeln!(out, "  {:<w_addr$}  {}", "", style.yellow(&format!("note: {note}")));
            }
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
    if !status.cost.lines.is_empty() {
        out.push_str(&super::cost::lines(&status.cost));
    }
    out
}

/// How a stack sleeps, for `status`, `plan` and `sleep`: since when, how
/// deep, where its database is, and when AWS starts it again (or that it
/// has, and bills).
pub fn sleep_lines(mark: &crate::resources::sleep_mark::SleepMark, restarted: bool, style: Style) -> String {
    use crate::config::SleepDepth;
    let mut out = String::new();
    let how = match mark.depth {
        SleepDepth::Light => "nodes at zero, database stopped, NAT deleted",
        SleepDepth::Deep => "deep: cluster deleted, database stopped, NAT deleted",
        SleepDepth::DeepSnapshot => "deep: cluster deleted, database in a snapshot, NAT deleted",
    };
    let until = mark
        .until
        .as_deref()
        .map(|u| format!(", until {u}"))
        .unwrap_or_default();
    let _ = writeln!(out, "Asleep since {} ({how}){until}.", mark.since);
    if let Some(snapshot) = &mark.snapshot {
        let _ = writeln!(out, "  The database is in snapshot {snapshot}; the wake restores it.");
    }
    match (&mark.database_restarts, restarted) {
        (Some(_), true) => {
            let _ = writeln!(
                out,
                "  {}",
                style.red("The database is awake again, billing: AWS started it after 7 stopped days. `ekstack sleep` stops it again, `sleep --deep --snapshot` for longer.")
            );
        }
        (Some(at), false) => {
            let _ = writeln!(out, "  AWS starts the stopped database again on {at}.");
        }
        (None, _) => {}
    }
    out
}
