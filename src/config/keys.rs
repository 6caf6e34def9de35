//! Unknown keys, all of them at once. Serde stops at the first unknown key; a
//! user who mistyped three wants to hear about three. The document is walked
//! against the JSON Schema generated from the raw types, so the list of valid
//! keys has one source.

use serde_json::Value;

use super::diagnostic::{did_you_mean, Diagnostic};
use super::source::{FileId, Location};

/// Every key of `text` that the stack-file schema does not know.
pub fn unknown_keys(text: &str, file: FileId) -> Vec<Diagnostic> {
    let Ok(doc) = toml_edit::ImDocument::parse(text) else {
        return vec![]; // syntax errors are reported by the parser, with its message
    };
    let schema: Value = serde_json::from_str(&super::schema_json()).expect("the generated schema is JSON");
    let mut found = Vec::new();
    walk(&schema, &schema, &table_entries(doc.as_table()), "", file, &mut found);
    found
}

/// A key, its value and where the key is written.
type Entry = (String, toml_edit::Item, Option<std::ops::Range<usize>>);

fn table_entries(t: &toml_edit::Table) -> Vec<Entry> {
    t.iter()
        .map(|(k, i)| (k.to_string(), i.clone(), t.key(k).and_then(|k| k.span())))
        .collect()
}

fn inline_entries(t: &toml_edit::InlineTable) -> Vec<Entry> {
    t.iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                toml_edit::Item::Value(v.clone()),
                t.key(k).and_then(|k| k.span()),
            )
        })
        .collect()
}

/// Follows `$ref` and the `anyOf [T, null]` that `Option<T>` becomes.
fn resolve<'a>(root: &'a Value, s: &'a Value) -> &'a Value {
    if let Some(r) = s.get("$ref").and_then(|r| r.as_str()) {
        let name = r.trim_start_matches("#/definitions/");
        return resolve(root, &root["definitions"][name]);
    }
    if let Some(variants) = s.get("anyOf").and_then(|a| a.as_array()) {
        if let Some(v) = variants
            .iter()
            .find(|v| v.get("type").and_then(|t| t.as_str()) != Some("null"))
        {
            return resolve(root, v);
        }
    }
    s
}

fn walk(root: &Value, schema: &Value, entries: &[Entry], prefix: &str, file: FileId, found: &mut Vec<Diagnostic>) {
    let schema = resolve(root, schema);
    let properties = schema.get("properties").and_then(|p| p.as_object());
    let open = schema.get("additionalProperties").filter(|a| a.is_object());
    for (key, item, span) in entries {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let Some(child) = properties.and_then(|p| p.get(key)).or(open) else {
            if let Some(properties) = properties {
                let names: Vec<&str> = properties.keys().map(String::as_str).collect();
                let table = if prefix.is_empty() {
                    "the top level".to_string()
                } else {
                    format!("[{prefix}]")
                };
                let list = names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
                let mut d = Diagnostic::new(
                    path,
                    format!("unknown key `{key}` in {table}; expected one of {list}"),
                    span.clone().map(|span| Location { file, span }),
                );
                d.help = did_you_mean(key, names.iter().copied()).map(|c| format!("did you mean `{c}`?"));
                found.push(d);
            }
            continue;
        };
        match item {
            toml_edit::Item::Table(t) => walk(root, child, &table_entries(t), &path, file, found),
            toml_edit::Item::Value(toml_edit::Value::InlineTable(t)) => {
                walk(root, child, &inline_entries(t), &path, file, found)
            }
            _ => {}
        }
    }
}
