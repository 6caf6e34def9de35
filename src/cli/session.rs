//! What the stack commands share: a runtime, the AWS connection, Ctrl-C,
//! confirmation prompts and the end-of-run summary.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Result};
use tokio::sync::mpsc;

use super::GlobalArgs;
use crate::aws::Aws;
use crate::config::Stack;
use crate::exec::RunReport;
use crate::render::{duration, Style};
use crate::resources::Note;

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

pub async fn connect(global: &GlobalArgs, stack: &Stack) -> Result<Aws> {
    let target = crate::ops::target_for(
        stack,
        global.profile.clone(),
        global.endpoint_url.clone(),
        global.verbose,
    );
    Aws::connect(&target).await
}

pub fn style(global: &GlobalArgs) -> Style {
    Style {
        color: super::use_color(global),
    }
}

/// Reports the command's AWS calls when dropped, on every way out of it.
pub struct CallReport {
    verbose: bool,
    calls: std::sync::Arc<crate::aws::CallLog>,
}

impl CallReport {
    pub fn new(global: &GlobalArgs, aws: &Aws) -> Self {
        CallReport {
            verbose: global.verbose,
            calls: aws.calls.clone(),
        }
    }
}

impl Drop for CallReport {
    fn drop(&mut self) {
        report_calls(self.verbose, &self.calls);
    }
}

/// With `-v`, how many AWS calls the command made.
fn report_calls(verbose: bool, calls: &crate::aws::CallLog) {
    if verbose {
        let s = calls.stats();
        eprintln!(
            "AWS calls: {} ({} mutating, {} HTTP requests)",
            s.calls, s.mutating, s.requests
        );
        for (op, n) in &s.by_operation {
            eprintln!("  {op:<40} {n}");
        }
    }
    if let Ok(path) = std::env::var("EKSTACK_CALL_STATS") {
        // Tests read the counts from here.
        let _ = std::fs::write(path, serde_json::to_string(&calls.stats()).unwrap_or_default());
    }
}

/// A channel that receives one message per Ctrl-C.
pub fn interrupts() -> mpsc::UnboundedReceiver<()> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            if tx.send(()).is_err() {
                break;
            }
        }
    });
    rx
}

/// Asks on a terminal; refuses without one unless `--yes`.
pub fn confirm(yes: bool, question: &str, expected: &str, what: &str) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        bail!("refusing to {what} without confirmation: stdin is not a terminal; re-run with --yes");
    }
    eprint!("{question}\n  Enter a value: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == expected)
}

pub fn stderr_is_tty() -> bool {
    std::io::stderr().is_terminal()
}

/// Notes at the end of a run: snapshots taken, volumes kept, things swept.
pub fn print_notes(notes: &[Note], style: Style) {
    let mut billable = Vec::new();
    for n in notes {
        match n {
            Note::Info { text } => eprintln!("  {text}"),
            Note::Snapshot { name, gib, of } => {
                let size = if *gib > 0 {
                    format!(", {gib} GiB")
                } else {
                    String::new()
                };
                eprintln!("  final snapshot {name} of {of}{size}");
                billable.push(format!(
                    "snapshot {name}{size} (RDS snapshot storage, ~$0.095/GiB-month)"
                ));
            }
            Note::Volume { id, gib, deleted: true } => eprintln!("  deleted EBS volume {id} ({gib} GiB)"),
            Note::Volume {
                id,
                gib,
                deleted: false,
            } => {
                eprintln!("  kept EBS volume {id} ({gib} GiB) made for a Kubernetes persistent volume; --delete-volumes removes it");
                billable.push(format!(
                    "EBS volume {id}, {gib} GiB (~${:.2}/month at $0.08/GiB-month gp3)",
                    *gib as f64 * 0.08
                ));
            }
        }
    }
    if !billable.is_empty() {
        eprintln!("{}", style.yellow("Still billable:"));
        for b in billable {
            eprintln!("  {b}");
        }
    }
}

/// Runs steps with the progress display, then reports what they left to
/// know (snapshots, kept volumes); a run that did not finish becomes an error
/// that names the failed step and the command that resumes.
pub async fn run_with_progress<F, Fut>(style: Style, resume: &str, run: F) -> Result<crate::ops::apply::Outcome>
where
    F: FnOnce(crate::exec::EventSender, mpsc::UnboundedReceiver<()>) -> Fut,
    Fut: std::future::Future<Output = Result<crate::ops::apply::Outcome>>,
{
    let (tx, rx) = mpsc::unbounded_channel();
    let progress = crate::render::progress::spawn(rx, stderr_is_tty(), style);
    let outcome = run(tx, interrupts()).await;
    let _ = progress.await;
    let outcome = outcome?;
    print_notes(&outcome.notes, style);
    if !outcome.report.ok() {
        bail!("{}", failure_message(&outcome.report, resume));
    }
    Ok(outcome)
}

/// Why a run stopped, what was done, and how to resume.
pub fn failure_message(report: &RunReport, resume: &str) -> String {
    let mut msg = String::new();
    for (step, error) in &report.failed {
        msg.push_str(&format!("step `{step}` failed: {error}\n"));
    }
    if report.interrupted {
        msg.push_str("interrupted by Ctrl-C\n");
    }
    msg.push_str(&format!(
        "{} step(s) finished before it stopped, {} not started. Everything done so far is kept; re-run `{resume}` to continue from here.",
        report.finished.len(),
        report.skipped.len()
    ));
    msg
}

pub fn elapsed(report: &RunReport) -> String {
    duration(report.elapsed)
}
