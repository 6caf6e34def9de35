//! Source files and the locations inside them.
//!
//! Every value read from a stack file or an overlay keeps the file it came from
//! and its byte span, so that a rule broken after the two are merged can still
//! point at the exact line the user has to change.

use std::cell::Cell;
use std::ops::Range;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

/// Index of a file in [`Sources`].
pub type FileId = usize;

/// A file as read from disk, with the path shown to the user.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

/// All files that went into one resolved stack (the stack file, then the overlay).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn add(&mut self, path: &Path, text: String) -> FileId {
        self.files.push(SourceFile {
            path: path.to_path_buf(),
            text,
        });
        self.files.len() - 1
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id]
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate()
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, id: FileId, offset: usize) -> (usize, usize) {
        let text = &self.files[id].text;
        let offset = offset.min(text.len());
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }
}

thread_local! {
    /// The file being deserialised on this thread. `Located` has no other way
    /// to learn it: serde hands a deserialiser only the value, never the file.
    static CURRENT_FILE: Cell<FileId> = const { Cell::new(0) };
}

/// Runs `f` with `file` recorded as the origin of every `Located` it creates.
pub(crate) fn with_current_file<R>(file: FileId, f: impl FnOnce() -> R) -> R {
    let previous = CURRENT_FILE.with(|c| c.replace(file));
    let result = f();
    CURRENT_FILE.with(|c| c.set(previous));
    result
}

/// A value together with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    pub value: T,
    pub file: FileId,
    pub span: Range<usize>,
}

impl<T> Located<T> {
    pub fn at(&self) -> Location {
        Location {
            file: self.file,
            span: self.span.clone(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = toml::Spanned::<T>::deserialize(deserializer)?;
        let file = CURRENT_FILE.with(|c| c.get());
        let span = spanned.span();
        Ok(Located {
            value: spanned.into_inner(),
            file,
            span,
        })
    }
}

impl<T: JsonSchema> JsonSchema for Located<T> {
    fn schema_name() -> String {
        T::schema_name()
    }
    fn json_schema(gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        T::json_schema(gen)
    }
    fn is_referenceable() -> bool {
        T::is_referenceable()
    }
}

/// Where something was written: a file and a byte span in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub file: FileId,
    pub span: Range<usize>,
}

/// Where each table of each file starts: its `[header]`, its key for an inline
/// or dotted table. `toml::Spanned` cannot locate implicit tables (those only
/// named in a deeper header such as `[eks.nodegroups.general]`), so tables are
/// located from the parsed document instead.
#[derive(Debug, Clone, Default)]
pub struct TableIndex {
    files: Vec<(FileId, std::collections::HashMap<String, Range<usize>>)>,
}

impl TableIndex {
    pub fn add(&mut self, file: FileId, text: &str) {
        let mut spans = std::collections::HashMap::new();
        if let Ok(doc) = toml_edit::ImDocument::parse(text) {
            walk_tables("", doc.as_table(), &mut spans);
        }
        self.files.push((file, spans));
    }

    /// The location of a table by dotted path, in the first file that has it.
    pub fn find(&self, path: &str) -> Option<Location> {
        self.files.iter().find_map(|(file, spans)| {
            spans.get(path).map(|span| Location {
                file: *file,
                span: span.clone(),
            })
        })
    }

    /// The location of a table in one particular file.
    pub fn find_in(&self, file: FileId, path: &str) -> Option<Location> {
        self.files
            .iter()
            .find(|(f, _)| *f == file)
            .and_then(|(_, spans)| spans.get(path))
            .map(|span| Location {
                file,
                span: span.clone(),
            })
    }
}

fn walk_tables(
    prefix: &str,
    table: &toml_edit::Table,
    out: &mut std::collections::HashMap<String, Range<usize>>,
) -> Option<Range<usize>> {
    let mut first: Option<Range<usize>> = None;
    for (key, item) in table.iter() {
        let path = if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        };
        let key_span = table.key(key).and_then(|k| k.span());
        let span = match item {
            toml_edit::Item::Table(t) => {
                let inner = walk_tables(&path, t, out);
                t.span().or(key_span).or(inner)
            }
            toml_edit::Item::Value(toml_edit::Value::InlineTable(_)) => key_span.or(item.span()),
            _ => key_span.or(item.span()),
        };
        if let Some(span) = span {
            if matches!(
                item,
                toml_edit::Item::Table(_) | toml_edit::Item::Value(toml_edit::Value::InlineTable(_))
            ) {
                out.insert(path, span.clone());
            }
            if first.is_none() {
                first = Some(span);
            }
        }
    }
    first
}
