//! The terminal as the operations' [`Frontend`]: plans on stdout, questions,
//! warnings, progress and notes on stderr, all drawn by `render`.

use std::sync::Arc;

use anyhow::Result;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::exec::Event;
use crate::ops::{Frontend, Prompt};
use crate::plan::Plan;
use crate::render::{self, Shell, Styles};
use crate::resources::Note;

pub struct Terminal {
    pub styles: Styles,
    pub shell: Arc<Shell>,
    /// `--yes`: every confirmation is answered yes without asking.
    pub yes: bool,
}

impl Frontend for Terminal {
    fn show_plan(&self, plan: &Plan) -> Result<()> {
        render::plan::print(plan, false, self.styles.stdout)
    }

    fn warn(&self, text: &str) {
        self.shell
            .line(&format!("{} {text}", self.styles.stderr.yellow("Warning:")));
    }

    fn note(&self, text: &str) {
        self.shell
            .line(&format!("{} {text}", self.styles.stderr.yellow("Note:")));
    }

    fn confirm(&self, prompt: Prompt<'_>) -> Result<bool> {
        render::prompt::confirm(prompt, self.yes)
    }

    fn asks_a_person(&self) -> bool {
        !self.yes
    }

    fn progress(&self, events: mpsc::UnboundedReceiver<Event>) -> JoinHandle<()> {
        render::progress::spawn(events, self.shell.clone())
    }

    fn interrupts(&self) -> mpsc::UnboundedReceiver<()> {
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

    fn notes(&self, notes: &[Note]) {
        render::summary::notes(&self.shell, notes);
    }
}

impl super::Session {
    /// The terminal frontend, answering yes to everything when `yes`.
    pub fn frontend(&self, yes: bool) -> Terminal {
        Terminal {
            styles: self.styles,
            shell: self.shell.clone(),
            yes,
        }
    }
}
