//! The shape the code promises, checked on its source: only `render/`
//! prints, `exec/` knows no resource kind and no use case, `cli/` makes no
//! AWS call, and kinds keep no string-keyed attribute maps.

use std::path::{Path, PathBuf};

use crate::support::repo;

/// Every `.rs` file under `src/<dir>`, with its text.
fn sources(dir: &str) -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path, text));
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo().join("src").join(dir), &mut out);
    assert!(!out.is_empty(), "no sources under src/{dir}");
    out
}

/// The code of a file without its unit tests (after `#[cfg(test)]`).
fn code(text: &str) -> &str {
    text.split("#[cfg(test)]").next().unwrap_or(text)
}

fn offenders(dir: &str, forbidden: &[&str]) -> Vec<String> {
    sources(dir)
        .into_iter()
        .filter(|(path, _)| !path.ends_with("tests.rs"))
        .flat_map(|(path, text)| {
            forbidden
                .iter()
                .filter(|f| code(&text).contains(*f))
                .map(|f| format!("{}: {f}", path.display()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn only_render_prints() {
    let printing = [
        "println!",
        "eprintln!",
        "print!(",
        "eprint!(",
        "std::io::stdout()",
        "std::io::stderr()",
    ];
    let mut found = Vec::new();
    for dir in [
        "cli",
        "ops",
        "exec",
        "resources",
        "plan",
        "graph",
        "cost",
        "config",
        "aws",
        "kube",
    ] {
        found.extend(offenders(dir, &printing));
    }
    assert!(found.is_empty(), "prints outside render/: {found:#?}");
}

#[test]
fn exec_knows_no_kind_and_no_use_case() {
    let found = offenders(
        "exec",
        &["crate::ops", "crate::resources", "crate::cli", "crate::config"],
    );
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn cli_makes_no_aws_call() {
    let found = offenders(
        "cli",
        &[".send()", "aws_sdk_", "Aws::connect", "ops::connect", "discover("],
    );
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn kinds_keep_no_string_keyed_attribute_maps() {
    let found = offenders(
        "resources",
        &[
            "BTreeMap<String, Value>",
            "HashMap<String, Value>",
            "BTreeMap<String, serde_json::Value>",
            ".attr(",
            ".detail(",
            "\"adopted\"",
            "\"foreign\"",
        ],
    );
    assert!(found.is_empty(), "{found:#?}");
}
