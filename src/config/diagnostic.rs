//! Errors in stack files, reported like a compiler: file, line, column, the key
//! and the rule it breaks, with the offending line quoted.

use std::fmt::Write as _;
use std::io::Write as _;

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor};

use super::source::{Location, Sources};
use crate::i18n::{Lang, Msg};

/// One broken rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// Dotted stack-file key, e.g. `eks.nodegroups.general.desired`.
    pub key: String,
    /// The rule, phrased so it reads after the key: "must be between 0 and 35".
    pub message: String,
    pub location: Option<Location>,
    /// A hint such as "did you mean `nat`?".
    pub help: Option<String>,
    /// The rule and the hint as catalogue messages, for the reader's
    /// language; `message` and `help` are their English text.
    pub localized: Option<Box<(Msg, Option<Msg>)>>,
}

impl Diagnostic {
    pub fn new(key: impl Into<String>, message: impl Into<String>, location: Option<Location>) -> Self {
        Diagnostic {
            key: key.into(),
            message: message.into(),
            location,
            help: None,
            localized: None,
        }
    }

    /// A rule of the catalogue, shown in the reader's language.
    pub fn localized(key: impl Into<String>, message: Msg, help: Option<Msg>, location: Option<Location>) -> Self {
        Diagnostic {
            key: key.into(),
            message: message.english(),
            location,
            help: help.as_ref().map(Msg::english),
            localized: Some(Box::new((message, help))),
        }
    }

    /// The rule and the hint in `lang`.
    fn in_lang(&self, lang: Lang) -> (String, Option<String>) {
        match self.localized.as_deref() {
            Some((message, help)) => (message.text(lang), help.as_ref().map(|h| h.text(lang))),
            None => (self.message.clone(), self.help.clone()),
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Every error found in a stack, ready to print.
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub sources: Sources,
    pub diagnostics: Vec<Diagnostic>,
}

impl ConfigError {
    pub fn single(sources: Sources, diagnostic: Diagnostic) -> Self {
        ConfigError {
            sources,
            diagnostics: vec![diagnostic],
        }
    }

    /// The first line of every diagnostic: `file:line:col: key: rule`.
    pub fn summary_lines(&self) -> Vec<String> {
        self.diagnostics.iter().map(|d| headline(&self.sources, d)).collect()
    }

    /// Renders all diagnostics with source snippets, in `lang`.
    pub fn render(&self, color: bool, lang: Lang) -> String {
        let mut out = render_in(&self.sources, &self.diagnostics, Severity::Error, color, lang);
        let n = self.diagnostics.len();
        let key = if n == 1 {
            "error.config_one"
        } else {
            "error.config_many"
        };
        let _ = writeln!(out, "{}", Msg::new(key).arg("count", n).text(lang));
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Note,
}

/// `file:line:col: key: rule`, or `key: rule` when there is no location.
pub fn headline(sources: &Sources, d: &Diagnostic) -> String {
    headline_in(sources, d, Lang::En)
}

fn headline_in(sources: &Sources, d: &Diagnostic, lang: Lang) -> String {
    let message = d.in_lang(lang).0;
    match &d.location {
        Some(loc) => {
            let (line, col) = sources.line_col(loc.file, loc.span.start);
            format!(
                "{}:{}:{}: {}: {}",
                sources.get(loc.file).path.display(),
                line,
                col,
                d.key,
                message
            )
        }
        None => format!("{}: {message}", d.key),
    }
}

/// Renders diagnostics like a compiler, each with the line it points at.
pub fn render(sources: &Sources, diagnostics: &[Diagnostic], severity: Severity, color: bool) -> String {
    render_in(sources, diagnostics, severity, color, Lang::En)
}

fn render_in(sources: &Sources, diagnostics: &[Diagnostic], severity: Severity, color: bool, lang: Lang) -> String {
    let mut files = SimpleFiles::new();
    let ids: Vec<usize> = sources
        .iter()
        .map(|(_, f)| files.add(f.path.display().to_string(), f.text.clone()))
        .collect();
    let mut buffer = if color {
        termcolor::Buffer::ansi()
    } else {
        termcolor::Buffer::no_color()
    };
    let config = term::Config::default();
    if severity == Severity::Note {
        // Notes are informational: one line each, no snippet.
        let label = if color { "\x1b[1;36mnote:\x1b[0m" } else { "note:" };
        return diagnostics
            .iter()
            .map(|d| format!("{label} {}\n", headline_in(sources, d, lang)))
            .collect();
    }
    for d in diagnostics {
        // The headline carries file:line:col so that it greps and parses like
        // a compiler error even without the snippet below it.
        let base = match severity {
            Severity::Error => CsDiagnostic::error(),
            Severity::Note => CsDiagnostic::note(),
        };
        let (message, help) = d.in_lang(lang);
        let mut diagnostic = base.with_message(headline_in(sources, d, lang));
        if let Some(loc) = &d.location {
            diagnostic = diagnostic.with_labels(vec![
                Label::primary(ids[loc.file], loc.span.clone()).with_message(message)
            ]);
        }
        if let Some(help) = help {
            diagnostic = diagnostic.with_notes(vec![format!("{} {help}", crate::i18n::tr(lang, "error.help"))]);
        }
        if term::emit(&mut buffer, &config, &files, &diagnostic).is_err() {
            // A span past the end of the file cannot be drawn; the headline
            // already says everything needed.
            let _ = writeln!(buffer, "{}", diagnostic.message);
        }
    }
    String::from_utf8_lossy(buffer.as_slice()).into_owned()
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.summary_lines().join("\n"))
    }
}

impl std::error::Error for ConfigError {}

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
