//! Everything ekstack prints goes through here: the plan as text or JSON,
//! progress while steps run, status and cost tables, outputs, summaries and
//! errors. Both plan renderers read the same [`crate::plan::Plan`] value, so
//! they cannot disagree.
//!
//! Colour is decided per stream: `ekstack plan > plan.txt` on a terminal
//! writes no escape codes into the file while stderr stays coloured. Writes
//! to stdout return their error, so a closed pipe (`| head -1`) ends the
//! command quietly instead of panicking.

pub mod cost;
pub mod diagram;
pub mod explain;
pub mod ls;
pub mod output;
pub mod plan;
pub mod progress;
pub mod prompt;
pub mod report;
pub mod shell;
pub mod status;
pub mod summary;

use std::io::{IsTerminal, Write};

pub use shell::Shell;

use crate::i18n::{Lang, Msg};

/// How one stream is written: colour on or off, and the reader's language.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    pub lang: Lang,
}

impl Style {
    /// No colour, in English: files and tests.
    pub fn plain() -> Style {
        Style {
            color: false,
            lang: Lang::En,
        }
    }

    /// The catalogue's text of a message, in this stream's language.
    pub fn text(&self, msg: &Msg) -> String {
        msg.text(self.lang)
    }

    /// A fixed string of the catalogue, in this stream's language.
    pub fn tr(&self, key: &'static str) -> String {
        crate::i18n::tr(self.lang, key)
    }

    pub fn paint(&self, text: &str, f: impl Fn(console::StyledObject<&str>) -> console::StyledObject<&str>) -> String {
        if self.color {
            f(console::style(text)).force_styling(true).to_string()
        } else {
            text.to_string()
        }
    }
    pub fn green(&self, t: &str) -> String {
        self.paint(t, |s| s.green())
    }
    pub fn yellow(&self, t: &str) -> String {
        self.paint(t, |s| s.yellow())
    }
    pub fn red(&self, t: &str) -> String {
        self.paint(t, |s| s.red())
    }
    pub fn red_bold(&self, t: &str) -> String {
        self.paint(t, |s| s.red().bold())
    }
    pub fn bold(&self, t: &str) -> String {
        self.paint(t, |s| s.bold())
    }
    pub fn dim(&self, t: &str) -> String {
        self.paint(t, |s| s.dim())
    }
}

/// The style of each stream.
#[derive(Debug, Clone, Copy)]
pub struct Styles {
    pub stdout: Style,
    pub stderr: Style,
}

impl Styles {
    /// Colour where the stream is a terminal that supports it, unless
    /// `--no-color` or `NO_COLOR` says otherwise.
    pub fn detect(no_color: bool, lang: Lang) -> Styles {
        let allowed = !no_color && std::env::var_os("NO_COLOR").is_none();
        let stdout =
            allowed && std::io::stdout().is_terminal() && console::Term::stdout().features().colors_supported();
        let stderr =
            allowed && std::io::stderr().is_terminal() && console::Term::stderr().features().colors_supported();
        // indicatif draws through `console`, which has its own switches.
        console::set_colors_enabled(stdout);
        console::set_colors_enabled_stderr(stderr);
        Styles {
            stdout: Style { color: stdout, lang },
            stderr: Style { color: stderr, lang },
        }
    }

    pub fn plain() -> Styles {
        Styles {
            stdout: Style::plain(),
            stderr: Style::plain(),
        }
    }
}

/// Writes `text` to stdout; a closed pipe comes back as an error.
pub fn stdout(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Writes `text` to stderr; a closed stderr is not worth failing for.
pub fn stderr(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Prints a value as pretty JSON on stdout.
pub fn json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    stdout(&text)?;
    Ok(())
}

/// `1m05s`, `12.3s`.
pub fn duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// `512 B`, `12.3 MB`, `1.20 GB` (decimal units, as ECR and S3 bill).
pub fn bytes(n: u64) -> String {
    let f = n as f64;
    if f >= 1e9 {
        format!("{:.2} GB", f / 1e9)
    } else if f >= 1e6 {
        format!("{:.1} MB", f / 1e6)
    } else if f >= 1e3 {
        format!("{:.1} kB", f / 1e3)
    } else {
        format!("{n} B")
    }
}
