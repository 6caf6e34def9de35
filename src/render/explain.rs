//! `ekstack explain` as text for people, or as JSON (English, always).

use std::fmt::Write as _;

use super::Style;
use crate::i18n::Msg;
use crate::ops::explain::Explanation;

pub fn print(e: &Explanation, as_json: bool, style: Style) -> anyhow::Result<()> {
    if as_json {
        super::json(e)
    } else {
        super::stdout(&human(e, style))?;
        Ok(())
    }
}

fn usd(x: f64) -> String {
    format!("${x:.2}")
}

pub fn human(e: &Explanation, style: Style) -> String {
    let mut out = String::new();
    let env = e
        .env
        .as_deref()
        .map(|env| style.text(&Msg::new("plan.env").arg("env", env)))
        .unwrap_or_default();
    let title = Msg::new("explain.title")
        .arg("stack", &e.stack)
        .arg("env", env)
        .arg("region", &e.region)
        .arg("monthly", usd(e.monthly_usd));
    let _ = writeln!(out, "{}\n", style.bold(&style.text(&title)));
    let width = e.resources.iter().map(|r| r.address.len()).max().unwrap_or(0);
    for r in &e.resources {
        let share = |s: f64| {
            if s < 0.01 {
                "<1%".to_string()
            } else {
                format!("{:.0}%", s * 100.0)
            }
        };
        let cost = match (r.monthly_usd, r.share) {
            (Some(m), Some(s)) => format!("{:>9}/{} {:>4}", usd(m), style.tr("explain.month"), share(s)),
            (Some(m), None) => format!("{:>9}/{}     ", usd(m), style.tr("explain.month")),
            (None, _) => style.tr("explain.free"),
        };
        // Japanese is two columns a character: pad by what the terminal shows.
        let cost = format!(
            "{}{cost}",
            " ".repeat(18usize.saturating_sub(console::measure_text_width(&cost)))
        );
        let _ = writeln!(
            out,
            "  {:<width$}  {}  {}",
            r.address,
            style.dim(&cost),
            style.text(&r.purpose)
        );
    }
    if !e.unknown.is_empty() {
        let line = Msg::new("explain.unknown").arg("items", e.unknown.join(", "));
        let _ = writeln!(out, "\n{}", style.yellow(&style.text(&line)));
    }
    out.push('\n');
    if e.suggestions.is_empty() {
        let _ = writeln!(out, "{}", style.text(&Msg::new("explain.no_suggestions")));
    } else {
        let head = Msg::new("explain.suggestions").arg("count", e.suggestions.len());
        let _ = writeln!(out, "{}", style.bold(&style.text(&head)));
    }
    for (i, s) in e.suggestions.iter().enumerate() {
        let files = s
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let change = if s.remove {
            Msg::new("explain.change_remove").arg("key", &s.key).arg("files", files)
        } else {
            Msg::new("explain.change_set")
                .arg("key", &s.key)
                .arg("to", &s.to)
                .arg("from", &s.from)
                .arg("files", files)
        };
        let saves = Msg::new("explain.saves")
            .arg("saves", usd(s.saves_monthly_usd))
            .arg(
                "percent",
                format!("{:.0}", s.saves_monthly_usd / e.monthly_usd.max(0.01) * 100.0),
            )
            .arg("after", usd(s.monthly_usd_after));
        let _ = writeln!(out, "  {}. {}", i + 1, style.text(&change));
        let _ = writeln!(out, "     {}", style.green(&style.text(&saves)));
        let gives_up = Msg::new("explain.gives_up").arg_msg("what", s.gives_up.clone());
        let _ = writeln!(out, "     {}", style.text(&gives_up));
    }
    if !e.suggestions.is_empty() {
        let checked = Msg::new("explain.checked")
            .arg("considered", e.considered)
            .arg("refused", e.refused);
        let _ = writeln!(out, "  {}", style.dim(&style.text(&checked)));
    }
    if let Some(n) = &e.night_sleep {
        let line = Msg::new("explain.night_sleep")
            .arg("hours", n.hours_per_night)
            .arg("saves", usd(n.saves_monthly_usd));
        let _ = writeln!(out, "\n{}", style.bold(&style.text(&line)));
        let gives_up = Msg::new("explain.gives_up").arg_msg("what", n.gives_up.clone());
        let _ = writeln!(out, "     {}", style.text(&gives_up));
    }
    out
}
