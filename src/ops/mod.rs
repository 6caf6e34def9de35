//! Operations: what each command does, over plain data. The CLI builds the
//! options and calls one of these; they never print. Whatever a use case
//! must show or ask on the way (the plan, a confirmation, progress) goes
//! through the [`Frontend`] the caller implements; what it produced comes
//! back as its result, for the caller to render.

pub mod apply;
pub mod destroy;
pub mod diagram;
pub mod explain;
pub mod facts;
pub mod kubeconfig;
pub mod lock;
pub mod ls;
pub mod output;
pub mod plan;
pub mod quotas;
pub mod saved;
pub mod sleep;
pub mod status;
pub mod steps;
pub mod sweep;
pub mod token;

use std::sync::Arc;

use anyhow::Result;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::aws::{Aws, CallLog, Target};
use crate::config::Stack;
use crate::exec::{Event, RunReport};
use crate::plan::Plan;
use crate::resources::Note;

/// What a confirmation is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt<'a> {
    Apply,
    /// Confirmed by typing the stack's name.
    Destroy {
        stack: &'a str,
    },
    Sleep,
    /// Removing a stack's lock, showing who holds it.
    Unlock {
        holder: &'a str,
    },
}

/// What a use case needs from whoever runs it: showing a plan, asking to go
/// ahead, showing progress and what a run left behind.
pub trait Frontend: Sync {
    /// Shows a plan before it is confirmed or run.
    fn show_plan(&self, plan: &Plan) -> Result<()>;
    /// A line a reviewer must read before saying yes.
    fn warn(&self, text: &str);
    /// Something worth knowing, not a warning.
    fn note(&self, text: &str);
    /// Asks to go ahead; `Ok(false)` when the answer is no.
    fn confirm(&self, prompt: Prompt<'_>) -> Result<bool>;
    /// Whether `confirm` asks a person (not `--yes`): after a person's
    /// answer, live state is read again before anything runs.
    fn asks_a_person(&self) -> bool;
    /// Shows the events of a run until the sender side is dropped.
    fn progress(&self, events: mpsc::UnboundedReceiver<Event>) -> JoinHandle<()>;
    /// One message per Ctrl-C.
    fn interrupts(&self) -> mpsc::UnboundedReceiver<()>;
    /// What a run made or left that the user must hear about.
    fn notes(&self, notes: &[Note]);
}

/// Where a stack's AWS calls go: the file's region, the caller's profile,
/// endpoint and call log.
pub fn target_for(stack: &Stack, profile: Option<String>, endpoint_url: Option<String>, calls: Arc<CallLog>) -> Target {
    Target {
        region: stack.meta.region.clone(),
        profile,
        endpoint_url,
        calls,
    }
}

/// Connects to AWS for a stack; fails fast without credentials.
pub async fn connect(target: &Target) -> Result<Aws> {
    Aws::connect(target).await
}

/// Why a run stopped, what was done, and how to resume.
pub fn failure_message<O>(report: &RunReport<O>, resume: &str) -> String {
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
