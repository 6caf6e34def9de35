//! Cost as a table: one line per billable thing, totals, and what the
//! totals leave out.

use crate::cost::Estimate;

/// An aligned text table: address, description, $/hour, $/month, note,
/// then the totals and what they leave out.
pub fn lines(e: &Estimate) -> String {
    let money = |v: Option<f64>, decimals: usize| match v {
        Some(v) => format!("{v:.decimals$}"),
        None => "unknown".to_string(),
    };
    let rows: Vec<[String; 5]> = e
        .lines
        .iter()
        .map(|l| {
            [
                l.address.clone(),
                l.description.clone(),
                money(l.hourly_usd, 4),
                money(l.monthly_usd, 2),
                l.note.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let header = ["ADDRESS", "RESOURCE", "USD/HOUR", "USD/MONTH", "NOTE"].map(String::from);
    let total = [
        "total".to_string(),
        if e.complete {
            String::new()
        } else {
            "(known lines only)".to_string()
        },
        format!("{:.4}", e.hourly_usd),
        format!("{:.2}", e.monthly_usd),
        String::new(),
    ];
    let mut widths = [0usize; 4];
    for row in std::iter::once(&header).chain(&rows).chain(std::iter::once(&total)) {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let fmt_row = |row: &[String; 5]| {
        let line = format!(
            "{:<a$}  {:<b$}  {:>c$}  {:>d$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            a = widths[0],
            b = widths[1],
            c = widths[2],
            d = widths[3]
        );
        line.trim_end().to_string()
    };
    let mut out = String::new();
    out.push_str(&fmt_row(&header));
    out.push('\n');
    for row in &rows {
        out.push_str(&fmt_row(row));
        out.push('\n');
    }
    out.push_str(&fmt_row(&total));
    out.push('\n');
    if !e.complete {
        out.push_str(&format!(
            "Price unknown (not in the table, not counted): {}\n",
            e.unknown.join(", ")
        ));
    }
    out
}
