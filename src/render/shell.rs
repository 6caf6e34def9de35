//! The one writer of stderr lines. While progress bars are drawn, a line
//! (a `-v` call log, a step finishing) goes above them through indicatif, so
//! it never tears a bar; otherwise it is written straight to stderr.

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::MultiProgress;

use super::Style;
use crate::aws::CallRecord;

pub struct Shell {
    pub style: Style,
    /// Whether stderr is a terminal (bars and spinners) or not (plain lines).
    pub tty: bool,
    bars: Mutex<Option<MultiProgress>>,
}

impl Shell {
    pub fn new(style: Style) -> Shell {
        Shell {
            style,
            tty: std::io::stderr().is_terminal(),
            bars: Mutex::new(None),
        }
    }

    /// Writes one line to stderr, above the bars when they are drawn.
    pub fn line(&self, text: &str) {
        let bars = self.bars.lock().unwrap_or_else(|p| p.into_inner());
        match bars.as_ref() {
            Some(multi) => {
                let _ = multi.println(text);
            }
            None => super::stderr(&format!("{text}\n")),
        }
    }

    /// Lines go through `multi` until [`Shell::end_bars`].
    pub fn begin_bars(&self, multi: MultiProgress) {
        *self.bars.lock().unwrap_or_else(|p| p.into_inner()) = Some(multi);
    }

    pub fn end_bars(&self) {
        if let Some(multi) = self.bars.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = multi.clear();
        }
    }

    /// One `-v` line for a completed AWS call.
    pub fn call(&self, record: &CallRecord) {
        let status = record
            .status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "no response".into());
        self.line(&format!(
            "[{:>7.3}s] aws {} -> {status}",
            record.at.as_secs_f64(),
            record.operation
        ));
    }
}
