//! Progress while steps run: on a terminal one line per running step with a
//! spinner, its AWS state and elapsed time (indicatif), completed steps with
//! their durations; otherwise plain timestamped lines, with a "still running"
//! line every 10 seconds like terraform's.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

use super::{duration, Shell};
use crate::exec::{Event, SkipReason};

/// Consumes events until the sender side is dropped.
pub fn spawn(rx: UnboundedReceiver<Event>, shell: Arc<Shell>) -> JoinHandle<()> {
    tokio::spawn(async move {
        if shell.tty {
            bars(rx, &shell).await;
        } else {
            lines(rx, &shell).await;
        }
    })
}

async fn bars(mut rx: UnboundedReceiver<Event>, shell: &Shell) {
    let style = shell.style;
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
    shell.begin_bars(multi.clone());
    let mut bars: HashMap<String, (ProgressBar, String)> = HashMap::new();
    let spinner = ProgressStyle::with_template("{spinner:.cyan} {msg} [{elapsed}]")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    while let Some(event) = rx.recv().await {
        match event {
            Event::Started { key, label } => {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(spinner.clone());
                bar.set_message(label.clone());
                bar.enable_steady_tick(Duration::from_millis(120));
                bars.insert(key, (bar, label));
            }
            Event::Status { key, text } => {
                if let Some((bar, label)) = bars.get(&key) {
                    bar.set_message(format!("{label} — {text}"));
                }
            }
            Event::Finished { key, label, elapsed } => {
                if let Some((bar, _)) = bars.remove(&key) {
                    bar.finish_and_clear();
                }
                shell.line(&format!("{} {label} ({})", style.green("✓"), duration(elapsed)));
            }
            Event::Failed {
                key,
                label,
                error,
                elapsed,
            } => {
                if let Some((bar, _)) = bars.remove(&key) {
                    bar.finish_and_clear();
                }
                shell.line(&format!(
                    "{} {label} failed after {}: {error}",
                    style.red("✗"),
                    duration(elapsed)
                ));
            }
            Event::Skipped { label, reason, .. } => {
                shell.line(&format!("{} {label}: {}", style.dim("-"), skip_text(&reason)));
            }
            Event::Interrupted => {
                shell.line(&style.yellow(
                    "Interrupted: no new steps start; waiting for running ones (Ctrl-C again to abandon them).",
                ))
            }
        }
    }
    shell.end_bars();
}

async fn lines(mut rx: UnboundedReceiver<Event>, shell: &Shell) {
    let start = Instant::now();
    let mut running: HashMap<String, (String, Instant, String)> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    tick.tick().await;
    loop {
        tokio::select! {
            event = rx.recv() => {
                let Some(event) = event else { break };
                let ts = format!("[{:>6}]", duration(start.elapsed()));
                match event {
                    Event::Started { key, label } => {
                        shell.line(&format!("{ts} {label}: started"));
                        running.insert(key, (label, Instant::now(), String::new()));
                    }
                    Event::Status { key, text } => {
                        if let Some((label, _, state)) = running.get_mut(&key) {
                            shell.line(&format!("{ts} {label}: {text}"));
                            *state = text;
                        }
                    }
                    Event::Finished { key, label, elapsed } => {
                        running.remove(&key);
                        shell.line(&format!("{ts} {label}: done ({})", duration(elapsed)));
                    }
                    Event::Failed { key, label, error, elapsed } => {
                        running.remove(&key);
                        shell.line(&format!("{ts} {label}: FAILED after {}: {error}", duration(elapsed)));
                    }
                    Event::Skipped { label, reason, .. } => {
                        shell.line(&format!("{ts} {label}: skipped, {}", skip_text(&reason)));
                    }
                    Event::Interrupted => {
                        shell.line(&format!("{ts} interrupted: no new steps start; waiting for running ones"));
                    }
                }
            }
            _ = tick.tick() => {
                let ts = format!("[{:>6}]", duration(start.elapsed()));
                for (label, since, state) in running.values() {
                    if since.elapsed() >= Duration::from_secs(10) {
                        let state = if state.is_empty() { String::new() } else { format!(", {state}") };
                        shell.line(&format!("{ts} {label}: still running [{} elapsed{state}]", duration(since.elapsed())));
                    }
                }
            }
        }
    }
}

fn skip_text(reason: &SkipReason) -> String {
    match reason {
        SkipReason::DependencyFailed(k) => format!("not started because {k} failed"),
        SkipReason::Interrupted => "not started (interrupted)".into(),
        SkipReason::StoppedAfterFailure => "not started (another step failed)".into(),
    }
}
