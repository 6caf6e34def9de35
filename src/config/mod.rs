//! Stack files and environment overlays: reading, merging, resolving.
//!
//! `load` is the only entry point: it reads the stack file and the overlay,
//! deserialises both into the raw model (stage one), merges them and resolves
//! the result into a typed [`Stack`] (stage two). No AWS call happens here, so
//! every mistake in a file is reported before anything touches an account.

pub mod addons;
pub mod db_parameters;
pub mod diagnostic;
mod keys;
pub mod lb_controller;
pub mod model;
pub mod overlay;
pub mod raw;
pub mod regions;
pub mod resolve;
pub mod source;

use std::path::{Path, PathBuf};

pub use diagnostic::{ConfigError, Diagnostic};
pub use model::*;
use raw::{Merge, RawFile};
use source::{FileId, Location, Sources, TableIndex};

/// Which overlay to apply on top of the stack file.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Overlay {
    #[default]
    None,
    /// `--env NAME`: `<stack dir>/../environments/NAME.toml`.
    Env(String),
    /// `--env-file PATH`.
    File(PathBuf),
}

/// A resolved stack and the files it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub stack: Stack,
    pub sources: Sources,
    /// Overlay keys left out because they do not apply to this stack.
    pub notes: Vec<Diagnostic>,
}

impl Loaded {
    /// The notes, rendered with their source lines; empty when there are none.
    pub fn render_notes(&self, color: bool) -> String {
        diagnostic::render(&self.sources, &self.notes, diagnostic::Severity::Note, color)
    }
}

/// Reads, merges and validates a stack file and its overlay.
pub fn load(stack_path: &Path, overlay: &Overlay, region_fallback: Option<String>) -> Result<Loaded, ConfigError> {
    let mut sources = Sources::default();
    let stack_file = read(&mut sources, stack_path, "error.unreadable_stack")?;
    let mut raw = parse(&sources, stack_file)?;
    let mut tables = TableIndex::default();
    tables.add(stack_file, &sources.get(stack_file).text);

    let (overlay_path, env) = match overlay {
        Overlay::None => (None, None),
        Overlay::Env(name) => {
            let path = env_path(stack_path, name).map_err(|d| ConfigError::single(sources.clone(), d))?;
            (Some(path), Some(name.clone()))
        }
        Overlay::File(path) => (
            Some(path.clone()),
            Some(
                path.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
        ),
    };
    let mut notes = Vec::new();
    if let Some(path) = overlay_path {
        let id = read(&mut sources, &path, "error.unreadable_overlay")?;
        let mut overlay_raw = parse(&sources, id)?;
        tables.add(id, &sources.get(id).text);
        notes = overlay::prune(&raw, &mut overlay_raw, |path| tables.find_in(id, path));
        raw.merge(overlay_raw);
    }

    let input = resolve::ResolveInput {
        raw,
        env,
        region_fallback,
        file_start: Location {
            file: stack_file,
            span: 0..0,
        },
        tables,
    };
    match resolve::resolve(input) {
        Ok(stack) => Ok(Loaded { stack, sources, notes }),
        Err(diagnostics) => Err(ConfigError { sources, diagnostics }),
    }
}

/// `<stack dir>/../environments/NAME.toml`, so `--env` works from any directory.
pub fn env_path(stack_path: &Path, name: &str) -> Result<PathBuf, Diagnostic> {
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(Diagnostic::new(
            "--env",
            format!("\"{name}\" is not an environment name (letters, digits, '-', '_'); use --env-file for a path"),
            None,
        ));
    }
    let stack_dir = stack_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = stack_dir.join("..").join("environments");
    let path = dir.join(format!("{name}.toml"));
    if path.is_file() {
        return Ok(path);
    }
    let mut available: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.path()
                        .file_stem()
                        .filter(|_| e.path().extension().is_some_and(|x| x == "toml"))
                        .map(|s| s.to_string_lossy().into_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    available.sort();
    let message = crate::i18n::Msg::new("error.no_environment")
        .arg("name", name)
        .arg("path", normalize(&path).display());
    let help = (!available.is_empty()).then(|| {
        match diagnostic::did_you_mean(name, available.iter().map(|s| s.as_str())) {
            Some(s) => crate::i18n::Msg::new("error.environments_did_you_mean").arg("candidate", s),
            None => crate::i18n::Msg::new("error.environments"),
        }
        .arg("available", available.join(", "))
    });
    Err(Diagnostic::localized("--env", message, help, None))
}

/// `a/b/../c` → `a/c` for display, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir if out.file_name().is_some_and(|n| n != "..") => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `what`: the catalogue's message for this file being unreadable.
fn read(sources: &mut Sources, path: &Path, what: &'static str) -> Result<FileId, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(sources.add(&normalize(path), text)),
        Err(e) => Err(ConfigError::single(
            sources.clone(),
            Diagnostic::localized(
                path.display().to_string(),
                crate::i18n::Msg::new(what).arg("error", e),
                None,
                None,
            ),
        )),
    }
}

fn parse(sources: &Sources, file: FileId) -> Result<RawFile, ConfigError> {
    let text = &sources.get(file).text;
    keys::deserialize(text, file).map_err(|rejected| {
        let diagnostics = match rejected {
            keys::Rejected::Unknown(unknown) => unknown,
            keys::Rejected::Invalid(e) => {
                let span = e.span().unwrap_or(0..0);
                let key = key_at(text, span.start);
                let (message, help) = explain_serde_error(e.message(), &key);
                let mut d = Diagnostic::new(key, message, Some(Location { file, span }));
                d.help = help;
                vec![d]
            }
        };
        ConfigError {
            sources: sources.clone(),
            diagnostics,
        }
    })
}

/// Turns toml/serde's wording into ours. (Unknown keys never get here: `keys`
/// reports them all first.)
fn explain_serde_error(message: &str, key: &str) -> (String, Option<String>) {
    let message = message.trim();
    // `version = 1.33` is a number to TOML; versions are strings.
    let number = message.starts_with("invalid type: floating point") || message.starts_with("invalid type: integer");
    if number && message.ends_with("expected a string") {
        let value = message.split('`').nth(1).unwrap_or("…");
        let name = key.rsplit('.').next().unwrap_or(key);
        return (
            message.to_string(),
            Some(format!("write it as a string: {name} = \"{value}\"")),
        );
    }
    (message.to_string(), None)
}

/// The dotted key written at `offset`: the nearest `[table]` header above it
/// joined with the `key =` on its line. Serde's errors carry only a span; this
/// recovers the key the user will look for.
pub fn key_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = text[offset..].find('\n').map(|i| offset + i).unwrap_or(text.len());
    let line = &text[line_start..line_end];
    let header_of = |l: &str| -> Option<String> {
        let t = l.trim();
        let inner = t
            .strip_prefix("[[")
            .and_then(|s| s.split("]]").next())
            .or_else(|| t.strip_prefix('[').and_then(|s| s.split(']').next()))?;
        Some(
            inner
                .split('.')
                .map(|p| p.trim().trim_matches('"'))
                .collect::<Vec<_>>()
                .join("."),
        )
    };
    if let Some(h) = header_of(line) {
        return h;
    }
    let table = text[..line_start].lines().rev().find_map(header_of);
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .filter(|k| !k.is_empty() && !k.starts_with('#'));
    match (table, key) {
        (Some(t), Some(k)) => format!("{t}.{k}"),
        (None, Some(k)) => k,
        (Some(t), None) => t,
        (None, None) => "(top level)".into(),
    }
}

/// The resolved stack as TOML, with a header saying what it is.
pub fn render_toml(stack: &Stack) -> anyhow::Result<String> {
    let mut value = toml::Value::try_from(stack)?;
    // A count of AZs stays a count: plan picks the AZs from what the
    // account sees.
    if let (Some(count), Some(network)) = (
        stack.network.az_count,
        value.get_mut("network").and_then(|v| v.as_table_mut()),
    ) {
        network.insert("azs".into(), toml::Value::Integer(count as i64));
    }
    // Leave out what the engine does not take, so the output is itself a
    // valid stack file.
    if let (Some(db), Some(table)) = (
        &stack.database,
        value.get_mut("database").and_then(|v| v.as_table_mut()),
    ) {
        let drop: &[&str] = if db.engine.is_aurora() {
            &["multi_az", "storage_gib"]
        } else {
            &["instances"]
        };
        for key in drop {
            table.remove(*key);
        }
    }
    let body = toml::to_string(&value)?;
    let env = stack.meta.env.as_deref().unwrap_or("(none)");
    Ok(format!(
        "# Resolved stack \"{}\", environment {env}: defaults filled in, subnets derived.\n{body}",
        stack.meta.name
    ))
}

/// JSON Schema of stack files and overlays, generated from the raw types.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(RawFile);
    serde_json::to_string_pretty(&schema).expect("a schema always serialises")
}

#[cfg(test)]
mod tests;
