//! Progress while steps run: on a terminal one line per running step with a
//! spinner, its AWS state, elapsed time and how long it usually takes
//! (indicatif), completed steps with their durations, and an overall line
//! (steps done of all, time left); otherwise plain timestamped lines, with
//! a "still running" line every 10 seconds like terraform's, carrying the
//! same facts. A step running past its usual range says so, and what AWS is
//! known to be doing meanwhile.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

use super::{duration, Shell};
use crate::exec::{Event, Expected, SkipReason};

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

/// "9–15 min", or "30s–1m30s" for ranges that are not whole minutes.
pub fn usual_range(e: &Expected) -> String {
    let whole = |d: Duration| d.as_secs() % 60 == 0;
    if whole(e.low) && whole(e.high) {
        format!("{}–{} min", e.low.as_secs() / 60, e.high.as_secs() / 60)
    } else {
        format!("{}–{}", duration(e.low), duration(e.high))
    }
}

/// What a running step's line adds to its label: how long it usually
/// takes, or that it has run past that and why.
pub fn expectation(expected: Option<&Expected>, elapsed: Duration) -> String {
    match expected {
        None => String::new(),
        Some(e) if elapsed > e.high => format!(" (past its usual {}: {})", usual_range(e), e.meanwhile),
        Some(e) => format!(" (usually {})", usual_range(e)),
    }
}

/// "4/27 steps done, about 11m00s left".
pub fn overall(done: usize, total: usize, left: Duration) -> String {
    format!("{done}/{total} steps done, {}", time_left(done, total, left))
}

/// "about 11m00s left", to the minute: what plain output prints again
/// only when it changes.
fn time_left(done: usize, total: usize, left: Duration) -> String {
    if done == total {
        "nothing left".to_string()
    } else if left < Duration::from_secs(60) {
        "less than a minute left".to_string()
    } else {
        format!("about {} left", duration(Duration::from_secs(left.as_secs() / 60 * 60)))
    }
}

/// A running step as the display keeps it.
struct Running {
    label: String,
    since: Instant,
    state: String,
    expected: Option<Expected>,
}

impl Running {
    fn message(&self) -> String {
        let state = if self.state.is_empty() {
            String::new()
        } else {
            format!(" — {}", self.state)
        };
        format!(
            "{}{state}{}",
            self.label,
            expectation(self.expected.as_ref(), self.since.elapsed())
        )
    }
}

async fn bars(mut rx: UnboundedReceiver<Event>, shell: &Shell) {
    let style = shell.style;
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
    shell.begin_bars(multi.clone());
    let mut bars: HashMap<String, (ProgressBar, Running)> = HashMap::new();
    let spinner = ProgressStyle::with_template("{spinner:.cyan} {msg} [{elapsed}]")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let summary = multi.add(ProgressBar::new_spinner());
    summary.set_style(ProgressStyle::with_template("{msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
    // The overall line, and each running step's expectation, are redrawn
    // every few seconds: a step passes its usual range between events.
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            event = rx.recv() => {
                let Some(event) = event else { break };
                match event {
                    Event::Started { key, label, expected } => {
                        let bar = multi.insert_before(&summary, ProgressBar::new_spinner());
                        bar.set_style(spinner.clone());
                        let running = Running { label, since: Instant::now(), state: String::new(), expected };
                        bar.set_message(running.message());
                        bar.enable_steady_tick(Duration::from_millis(120));
                        bars.insert(key, (bar, running));
                    }
                    Event::Status { key, text } => {
                        if let Some((bar, running)) = bars.get_mut(&key) {
                            running.state = text;
                            bar.set_message(running.message());
                        }
                    }
                    Event::Overall { done, total, left } => {
                        summary.set_message(style.dim(&overall(done, total, left)));
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
            _ = tick.tick() => {
                for (bar, running) in bars.values() {
                    bar.set_message(running.message());
                }
            }
        }
    }
    summary.finish_and_clear();
    shell.end_bars();
}

async fn lines(mut rx: UnboundedReceiver<Event>, shell: &Shell) {
    let start = Instant::now();
    let mut running: HashMap<String, Running> = HashMap::new();
    let mut latest: Option<(usize, usize, Duration, Instant)> = None;
    let mut said_left = String::new();
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    tick.tick().await;
    loop {
        tokio::select! {
            event = rx.recv() => {
                let Some(event) = event else { break };
                let ts = format!("[{:>6}]", duration(start.elapsed()));
                match event {
                    Event::Started { key, label, expected } => {
                        let usual = expected.as_ref().map(|e| format!(" (usually {})", usual_range(e))).unwrap_or_default();
                        shell.line(&format!("{ts} {label}: started{usual}"));
                        running.insert(key, Running { label, since: Instant::now(), state: String::new(), expected });
                    }
                    Event::Status { key, text } => {
                        if let Some(r) = running.get_mut(&key) {
                            shell.line(&format!("{ts} {}: {text}", r.label));
                            r.state = text;
                        }
                    }
                    Event::Overall { done, total, left } => {
                        latest = Some((done, total, left, Instant::now()));
                        // A line when the estimate moves, not at every step.
                        let now_left = time_left(done, total, left);
                        if now_left != said_left {
                            shell.line(&format!("{ts} {}", overall(done, total, left)));
                            said_left = now_left;
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
                let mut any = false;
                let mut ordered: Vec<&Running> = running.values().collect();
                ordered.sort_by_key(|r| r.since);
                for r in ordered {
                    if r.since.elapsed() >= Duration::from_secs(10) {
                        any = true;
                        let state = if r.state.is_empty() { String::new() } else { format!(", {}", r.state) };
                        shell.line(&format!(
                            "{ts} {}: still running [{} elapsed{state}]{}",
                            r.label,
                            duration(r.since.elapsed()),
                            expectation(r.expected.as_ref(), r.since.elapsed())
                        ));
                    }
                }
                if let (true, Some((done, total, left, at))) = (any, latest) {
                    // The estimate counts down between the events that set it.
                    shell.line(&format!("{ts} {}", overall(done, total, left.saturating_sub(at.elapsed()))));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> Expected {
        Expected {
            low: Duration::from_secs(9 * 60),
            high: Duration::from_secs(15 * 60),
            meanwhile: "EKS is still provisioning the control plane".into(),
        }
    }

    #[test]
    fn a_running_step_says_how_long_it_usually_takes_and_when_it_is_late() {
        let e = cluster();
        assert_eq!(usual_range(&e), "9–15 min");
        assert_eq!(expectation(Some(&e), Duration::from_secs(372)), " (usually 9–15 min)");
        assert_eq!(
            expectation(Some(&e), Duration::from_secs(16 * 60)),
            " (past its usual 9–15 min: EKS is still provisioning the control plane)"
        );
        let nat = Expected {
            low: Duration::from_secs(30),
            high: Duration::from_secs(90),
            meanwhile: String::new(),
        };
        assert_eq!(usual_range(&nat), "30.0s–1m30s");
        assert_eq!(expectation(None, Duration::from_secs(5)), "");
    }

    #[test]
    fn the_overall_line_counts_steps_and_minutes_left() {
        assert_eq!(
            overall(4, 27, Duration::from_secs(11 * 60 + 40)),
            "4/27 steps done, about 11m00s left"
        );
        assert_eq!(
            overall(26, 27, Duration::from_secs(20)),
            "26/27 steps done, less than a minute left"
        );
        assert_eq!(overall(27, 27, Duration::ZERO), "27/27 steps done, nothing left");
    }
}
