//! What a command says when it is done: the summary line of an apply,
//! destroy or sleep, the notes a run left (snapshots, kept volumes), where a
//! kubeconfig context went, and with `-v` how many AWS calls it took.

use super::{duration, Shell, Style};
use crate::aws::CallStats;
use crate::exec::RunReport;
use crate::ops::apply::Applied;
use crate::ops::destroy::Destroyed;
use crate::ops::kubeconfig::Written;
use crate::ops::sleep::Slept;
use crate::resources::Note;

pub fn applied(a: &Applied, style: Style) -> String {
    let Some(ran) = &a.ran else { return String::new() };
    let s = &a.plan.summary;
    format!(
        "{} in {}: {} added, {} changed, {} replaced, {} destroyed.\n",
        style.green("Apply complete"),
        elapsed(&ran.report),
        s.create,
        s.update,
        s.replace,
        s.delete
    )
}

pub fn destroyed(d: &Destroyed, style: Style) -> (String, String) {
    match &d.ran {
        None => {
            let mut err = String::new();
            for w in &d.plan.warnings {
                err.push_str(&format!("{} {w}\n", style.yellow("Warning:")));
            }
            (
                format!(
                    "Nothing to destroy: no resource of stack \"{}\" exists in {}.\n",
                    d.plan.stack, d.plan.region
                ),
                err,
            )
        }
        Some(ran) => (
            String::new(),
            format!(
                "{} in {}: {} resources deleted.\n",
                style.green("Destroy complete"),
                elapsed(&ran.report),
                d.plan.actions.len()
            ),
        ),
    }
}

pub fn slept(s: &Slept, wake: &str, style: Style) -> String {
    let (now, asleep) = (s.hourly_now, s.hourly_asleep);
    if s.already {
        return format!("Already asleep: ${asleep:.3}/hour.\n");
    }
    let saved = if now > 0.0 { (1.0 - asleep / now) * 100.0 } else { 0.0 };
    format!(
        "{} Hourly cost ${now:.3} → ${asleep:.3} ({saved:.0}% less). `{wake}` brings it back.\n",
        style.green("Asleep.")
    )
}

pub fn kubeconfig(w: &Written) -> String {
    let was = w
        .previous
        .as_deref()
        .map(|p| format!(" (was \"{p}\")"))
        .unwrap_or_default();
    format!(
        "Wrote context \"{}\" to {} and made it current{was}.\nTry: kubectl get nodes\n",
        w.context,
        w.path.display()
    )
}

/// Notes at the end of a run: snapshots taken, volumes kept, things swept,
/// then what is still billable.
pub fn notes(shell: &Shell, notes: &[Note]) {
    let mut billable = Vec::new();
    for n in notes {
        match n {
            Note::Info { text } => shell.line(&format!("  {text}")),
            Note::Snapshot { name, gib, of } => {
                let size = if *gib > 0 {
                    format!(", {gib} GiB")
                } else {
                    String::new()
                };
                shell.line(&format!("  final snapshot {name} of {of}{size}"));
                billable.push(format!(
                    "snapshot {name}{size} (RDS snapshot storage, ~$0.095/GiB-month)"
                ));
            }
            Note::Volume { id, gib, deleted: true } => shell.line(&format!("  deleted EBS volume {id} ({gib} GiB)")),
            Note::Volume {
                id,
                gib,
                deleted: false,
            } => {
                shell.line(&format!(
                    "  kept EBS volume {id} ({gib} GiB) made for a Kubernetes persistent volume; --delete-volumes removes it"
                ));
                billable.push(format!(
                    "EBS volume {id}, {gib} GiB (~${:.2}/month at $0.08/GiB-month gp3)",
                    *gib as f64 * 0.08
                ));
            }
        }
    }
    if !billable.is_empty() {
        shell.line(&shell.style.yellow("Still billable:"));
        for b in billable {
            shell.line(&format!("  {b}"));
        }
    }
}

/// With `-v`: how many AWS calls the command made, by operation.
pub fn calls(s: &CallStats) -> String {
    let mut out = format!(
        "AWS calls: {} ({} mutating, {} HTTP requests)\n",
        s.calls, s.mutating, s.requests
    );
    for (op, n) in &s.by_operation {
        out.push_str(&format!("  {op:<40} {n}\n"));
    }
    out
}

fn elapsed<O>(report: &RunReport<O>) -> String {
    duration(report.elapsed)
}
