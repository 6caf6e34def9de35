//! What a command says when it is done: the summary line of an apply,
//! destroy or sleep, the notes a run left (snapshots, kept volumes), where a
//! kubeconfig context went, and with `-v` how many AWS calls it took.

use super::{duration, Shell, Style};
use crate::aws::CallStats;
use crate::exec::RunReport;
use crate::i18n::Msg;
use crate::ops::apply::Applied;
use crate::ops::destroy::{Destroyed, Kept};
use crate::ops::kubeconfig::{Access, Written};
use crate::ops::sleep::Slept;
use crate::resources::Note;

pub fn applied(a: &Applied, style: Style) -> String {
    let Some(ran) = &a.ran else { return String::new() };
    let s = &a.plan.summary;
    let counts = Msg::new("summary.applied")
        .arg("elapsed", elapsed(&ran.report))
        .arg("create", s.create)
        .arg("update", s.update)
        .arg("replace", s.replace)
        .arg("delete", s.delete);
    format!(
        "{}{}\n",
        style.green(&style.tr("summary.apply_complete")),
        style.text(&counts)
    )
}

pub fn destroyed(d: &Destroyed, style: Style) -> (String, String) {
    let mut kept: String = d
        .volumes_deleted
        .iter()
        .map(|(id, gib)| format!("  deleted EBS volume {id} ({gib} GiB)\n"))
        .collect();
    for (name, bytes) in &d.repositories_deleted {
        kept.push_str(&format!(
            "  deleted ECR repository {name} and its images ({})\n",
            super::bytes(*bytes)
        ));
    }
    kept.push_str(&self::kept(&d.kept, style));
    match &d.ran {
        None => {
            let mut err = String::new();
            for w in &d.plan.warnings {
                err.push_str(&format!("{} {w}\n", style.yellow(&style.tr("plan.warning"))));
            }
            err.push_str(&kept);
            let nothing = Msg::new("summary.nothing_to_destroy")
                .arg("stack", &d.plan.stack)
                .arg("region", &d.plan.region);
            (format!("{}\n", style.text(&nothing)), err)
        }
        Some(ran) => {
            let deleted = d.plan.actions.iter().filter(|a| a.kept.is_none()).count();
            let line = if d.kept.is_empty() {
                Msg::new("summary.destroyed")
            } else {
                Msg::new("summary.destroyed_kept").arg("kept", d.kept.len())
            }
            .arg("elapsed", elapsed(&ran.report))
            .arg("deleted", deleted);
            (
                String::new(),
                format!(
                    "{kept}{}{}\n",
                    style.green(&style.tr("summary.destroy_complete")),
                    style.text(&line)
                ),
            )
        }
    }
}

/// What a destroy left on purpose, each with its monthly cost and the way
/// to be rid of it.
fn kept(kept: &[Kept], style: Style) -> String {
    if kept.is_empty() {
        return String::new();
    }
    let known: f64 = kept.iter().filter_map(|k| k.monthly_usd).sum();
    let mut out = format!(
        "{} {}\n",
        style.yellow(&style.tr("summary.kept")),
        style.text(&Msg::new("summary.kept_total").arg("monthly", format!("{known:.2}")))
    );
    for k in kept {
        let cost = k
            .monthly_usd
            .map(|m| format!("~${m:.2}/month"))
            .unwrap_or_else(|| "price unknown".into());
        out.push_str(&format!(
            "  {} ({cost})\n      to delete: {}\n",
            k.remains.what, k.remains.way_out
        ));
    }
    out
}

/// The commands a sleeping stack's owner runs next.
pub struct WakeCommands {
    pub wake: String,
    pub kubeconfig: String,
    /// `ekstack output … --k8s`.
    pub output: String,
}

pub fn slept(s: &Slept, commands: &WakeCommands, style: Style) -> String {
    let wake = &commands.wake;
    let (now, asleep) = (s.hourly_now, s.hourly_asleep);
    let mut out = if s.already {
        let line = Msg::new("summary.already_asleep").arg("hourly", format!("{asleep:.3}"));
        format!("{}\n", style.text(&line))
    } else {
        let share = if now > 0.0 { asleep / now * 100.0 } else { 0.0 };
        // Slept deeper from a sleep, the cost before is not the awake one.
        let key = if s.plan.sleeping {
            "summary.asleep_of_before"
        } else {
            "summary.asleep_of_awake"
        };
        let line = Msg::new(key)
            .arg("now", format!("{now:.3}"))
            .arg("asleep", format!("{asleep:.3}"))
            .arg("share", format!("{share:.1}"))
            .arg("wake", wake);
        format!("{} {}\n", style.green(&style.tr("summary.asleep")), style.text(&line))
    };
    if let Some(mark) = &s.mark {
        out.push_str(&super::status::sleep_lines(mark, false, style));
    }
    if s.cluster_deleted {
        out.push_str(&format!(
            "{} the cluster was deleted with everything kubectl or helm put in it (Deployments, Services, Ingresses, ConfigMaps, Secrets, persistent volume claims). After `{wake}`: `{}` for the new cluster, `{}` for the database's ConfigMap and Secret, then re-apply your manifests (`kubectl apply -f …`) and charts (`helm install …`).\n",
            style.yellow("Workloads are not kept:"),
            commands.kubeconfig,
            commands.output,
        ));
    }
    out
}

pub fn kubeconfig(w: &Written) -> String {
    let was = w
        .previous
        .as_deref()
        .map(|p| format!(" (was \"{p}\")"))
        .unwrap_or_default();
    let access = match &w.access {
        Access::Entry { .. } => String::new(),
        Access::Missing { principal } => format!(
            "warning: {principal} has no access entry on this cluster, so kubectl will be refused (Unauthorized).\n  Add it to the stack file and apply:\n    [eks.access.me]\n    principal = \"{principal}\"\n    policy = \"edit\"\n"
        ),
        Access::ConfigMapOnly { principal } => format!(
            "warning: the cluster takes only the aws-auth ConfigMap; unless it maps {principal}, kubectl will be refused. `ekstack apply` turns on access entries.\n"
        ),
    };
    format!(
        "Wrote context \"{}\" to {} and made it current{was}.\n{access}Try: kubectl get nodes\n",
        w.context,
        w.path.display()
    )
}

/// Notes at the end of a run: snapshots taken, volumes deleted, things
/// swept. (What stays billing after a destroy is listed from a fresh look,
/// by [`destroyed`].)
pub fn notes(shell: &Shell, notes: &[Note]) {
    for n in notes {
        match n {
            Note::Info { text } => shell.line(&format!("  {text}")),
            Note::Snapshot { name, gib, of } => {
                let size = if *gib > 0 {
                    format!(", {gib} GiB")
                } else {
                    String::new()
                };
                shell.line(&format!(
                    "  final snapshot {name} of {of}{size} (bills for its storage until deleted)"
                ));
            }
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
