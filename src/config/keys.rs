//! Unknown keys, all of them at once. Serde stops at the first unknown key; a
//! user who mistyped three wants to hear about three. So the raw types accept
//! unknown fields and are deserialised through `serde_ignored`, which notes
//! the path of every key they have no field for. Each such key is then found
//! in the document for its line and column, and the keys expected in its
//! table are read from the JSON Schema generated from the same raw types, so
//! the list of valid keys has one source.
//!
//! Keys of maps (tags, labels, node group and Fargate profile names) are the
//! user's own and never unknown: serde_ignored only sees keys a struct skips.

use std::ops::Range;
use std::sync::OnceLock;

use serde_json::Value;
use toml_edit::{ImDocument, Item, TableLike};

use crate::i18n::Msg;

use super::diagnostic::{did_you_mean, Diagnostic};
use super::raw::RawFile;
use super::source::{with_current_file, FileId, Location};

/// Why a file could not be read into the raw types.
#[derive(Debug)]
pub enum Rejected {
    /// Keys the raw types do not have, every one of them.
    Unknown(Vec<Diagnostic>),
    /// A syntax or type error (reported only when no key is unknown).
    Invalid(toml::de::Error),
}

/// Deserialises a stack file or overlay, reporting every unknown key.
pub fn deserialize(text: &str, file: FileId) -> Result<RawFile, Rejected> {
    let (result, ignored) = attempt(text, file);
    let ignored = match result {
        Ok(raw) if ignored.is_empty() => return Ok(raw),
        Ok(_) => ignored,
        Err(error) => {
            let ignored = ignored_past_errors(text, file, error.span(), ignored);
            if ignored.is_empty() {
                return Err(Rejected::Invalid(error));
            }
            ignored
        }
    };
    Err(Rejected::Unknown(describe(text, file, &ignored)))
}

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

type KeyPath = Vec<Segment>;

/// One deserialisation, with the path of every key it skipped, in document order.
fn attempt(text: &str, file: FileId) -> (Result<RawFile, toml::de::Error>, Vec<KeyPath>) {
    let mut ignored = Vec::new();
    let result = with_current_file(file, || {
        serde_ignored::deserialize(toml::Deserializer::new(text), |path| {
            let mut segments = Vec::new();
            push_segments(&path, &mut segments);
            ignored.push(segments);
        })
    });
    (result, ignored)
}

fn push_segments(path: &serde_ignored::Path<'_>, out: &mut KeyPath) {
    use serde_ignored::Path;
    match path {
        Path::Root => {}
        Path::Seq { parent, index } => {
            push_segments(parent, out);
            out.push(Segment::Index(*index));
        }
        Path::Map { parent, key } => {
            push_segments(parent, out);
            // `toml::Spanned` (our `Located`) is a map of its own to serde.
            if !key.starts_with("$__serde_spanned_private") {
                out.push(Segment::Key(key.clone()));
            }
        }
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => {
            push_segments(parent, out)
        }
    }
}

/// Unknown keys of a file that also has a value of the wrong type, which
/// stops serde. To read past it, the offending `key = value` is blanked out
/// (with spaces, so that every span after it stays put) and the file read
/// again, until it reads through or nothing more can be blanked. Each round
/// blanks one more entry, so this ends.
fn ignored_past_errors(
    text: &str,
    file: FileId,
    mut span: Option<Range<usize>>,
    mut ignored: Vec<KeyPath>,
) -> Vec<KeyPath> {
    let mut text = text.to_string();
    while let Some(entry) = span.and_then(|s| entry_around(&text, &s)) {
        let mut blanked = String::with_capacity(text.len());
        for (i, c) in text.char_indices() {
            if entry.contains(&i) && c != '\n' && c != '\r' {
                blanked.extend(std::iter::repeat_n(' ', c.len_utf8()));
            } else {
                blanked.push(c);
            }
        }
        if ImDocument::parse(blanked.as_str()).is_err() {
            break;
        }
        text = blanked;
        let (result, found) = attempt(&text, file);
        ignored = found;
        span = match result {
            Ok(_) => None,
            Err(e) => e.span(),
        };
    }
    ignored
}

/// The `key = value` line(s) (in a `[table]`, not inside an inline one) whose
/// value holds `span`. The range starts at the beginning of the line, so that
/// a dotted key (`network.nat = 5`) goes as a whole: TOML puts one `key =
/// value` per line, so nothing else is on it.
fn entry_around(text: &str, span: &Range<usize>) -> Option<Range<usize>> {
    let doc = ImDocument::parse(text).ok()?;
    let entry = entry_in(doc.as_table(), span)?;
    let line_start = text[..entry.start].rfind('\n').map_or(0, |i| i + 1);
    Some(line_start..entry.end)
}

fn entry_in(table: &toml_edit::Table, span: &Range<usize>) -> Option<Range<usize>> {
    table.iter().find_map(|(key, item)| match item {
        Item::Table(t) => entry_in(t, span),
        Item::ArrayOfTables(a) => a.iter().find_map(|t| entry_in(t, span)),
        Item::Value(v) => {
            let key = table.key(key)?.span()?;
            let value = v.span()?;
            (key.start <= span.start && span.end <= value.end).then_some(key.start..value.end)
        }
        Item::None => None,
    })
}

/// A diagnostic for each unknown key: where it is written, its table, the
/// keys expected there and the closest of them.
fn describe(text: &str, file: FileId, ignored: &[KeyPath]) -> Vec<Diagnostic> {
    let doc = ImDocument::parse(text).ok();
    ignored
        .iter()
        .filter_map(|path| {
            let (last, table) = path.split_last()?;
            let span = doc.as_ref().and_then(|d| key_span(d.as_table(), path));
            let key = match last {
                Segment::Key(k) => k.clone(),
                Segment::Index(i) => i.to_string(),
            };
            let table_name = if table.is_empty() {
                "the top level".to_string()
            } else {
                format!("[{}]", dotted(table))
            };
            let expected = expected_keys(table).unwrap_or_default();
            let message = if expected.is_empty() {
                Msg::new("error.unknown_key").arg("key", &key).arg("table", &table_name)
            } else {
                let list = expected.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
                Msg::new("error.unknown_key_expected")
                    .arg("key", &key)
                    .arg("table", &table_name)
                    .arg("expected", list)
            };
            let help = did_you_mean(&key, expected.iter().map(String::as_str))
                .map(|c| Msg::new("error.did_you_mean_key").arg("candidate", c));
            Some(Diagnostic::localized(
                dotted(path),
                message,
                help,
                span.map(|span| Location { file, span }),
            ))
        })
        .collect()
}

/// `eks.nodegroups.general.desird`, `network.public_subnets[0]`.
fn dotted(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Key(k) if out.is_empty() => out.push_str(k),
            Segment::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Where the last key of `path` is written.
fn key_span(table: &dyn TableLike, path: &[Segment]) -> Option<Range<usize>> {
    let (Segment::Key(first), rest) = path.split_first()? else {
        return None;
    };
    if rest.is_empty() {
        return table.key(first)?.span();
    }
    let item = table.get(first)?;
    match rest.first()? {
        Segment::Key(_) => key_span(item.as_table_like()?, rest),
        Segment::Index(i) => {
            let element: &dyn TableLike = match item {
                Item::ArrayOfTables(a) => a.get(*i)?,
                Item::Value(toml_edit::Value::Array(a)) => a.get(*i)?.as_inline_table()?,
                _ => return None,
            };
            key_span(element, &rest[1..])
        }
    }
}

/// The keys a table of the raw types takes, from their generated schema.
fn expected_keys(table: &[Segment]) -> Option<Vec<String>> {
    static SCHEMA: OnceLock<Option<Value>> = OnceLock::new();
    let root = SCHEMA
        .get_or_init(|| serde_json::to_value(schemars::schema_for!(RawFile)).ok())
        .as_ref()?;
    let mut node = follow(root, root);
    for segment in table {
        let child = match segment {
            Segment::Key(k) => node
                .get("properties")
                .and_then(|p| p.get(k))
                .or_else(|| node.get("additionalProperties").filter(|a| a.is_object())),
            Segment::Index(_) => node.get("items"),
        };
        node = follow(root, child?);
    }
    let properties = node.get("properties")?.as_object()?;
    Some(properties.keys().cloned().collect())
}

/// Follows `$ref` and the `anyOf [T, null]` that `Option<T>` becomes.
fn follow<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    if let Some(name) = schema
        .get("$ref")
        .and_then(|r| r.as_str())
        .and_then(|r| r.strip_prefix("#/definitions/"))
    {
        if let Some(definition) = root.get("definitions").and_then(|d| d.get(name)) {
            return follow(root, definition);
        }
    }
    let variants = schema
        .get("anyOf")
        .or_else(|| schema.get("allOf"))
        .and_then(|a| a.as_array());
    if let Some(v) = variants
        .into_iter()
        .flatten()
        .find(|v| v.get("type").and_then(|t| t.as_str()) != Some("null"))
    {
        return follow(root, v);
    }
    schema
}
