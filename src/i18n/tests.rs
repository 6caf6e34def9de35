use std::collections::BTreeSet;
use std::path::Path;

use super::*;

fn placeholders(template: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        out.insert(after[..close].to_string());
        rest = &after[close + 1..];
    }
    out
}

#[test]
fn both_catalogues_parse_and_have_the_same_keys() {
    for (name, text) in [
        ("en.toml", include_str!("en.toml")),
        ("ja.toml", include_str!("ja.toml")),
    ] {
        assert!(text.parse::<toml::Table>().is_ok(), "{name} does not parse");
    }
    let (en, ja) = (Lang::En.catalogue(), Lang::Ja.catalogue());
    assert!(en.len() > 100, "the English catalogue has only {} keys", en.len());
    let only_en: Vec<_> = en.keys().filter(|k| !ja.contains_key(*k)).collect();
    let only_ja: Vec<_> = ja.keys().filter(|k| !en.contains_key(*k)).collect();
    assert!(only_en.is_empty(), "keys missing from ja.toml: {only_en:?}");
    assert!(only_ja.is_empty(), "keys missing from en.toml: {only_ja:?}");
}

#[test]
fn every_key_has_the_same_placeholders_in_both_languages() {
    let ja = Lang::Ja.catalogue();
    let differ: Vec<_> = Lang::En
        .catalogue()
        .iter()
        .filter(|(k, en)| ja.get(*k).is_some_and(|j| placeholders(en) != placeholders(j)))
        .map(|(k, _)| k.clone())
        .collect();
    assert!(differ.is_empty(), "placeholders differ between en and ja: {differ:?}");
}

/// Japanese is written, not copied: a Japanese entry equal to the English
/// one is a key somebody forgot to translate (a few are the same in both).
#[test]
fn japanese_entries_are_translated() {
    let en = Lang::En.catalogue();
    let same: Vec<_> = Lang::Ja
        .catalogue()
        .iter()
        .filter(|(k, j)| en.get(*k) == Some(j) && j.chars().any(|c| c.is_ascii_lowercase()) && j.contains(' '))
        .map(|(k, _)| k.clone())
        .collect();
    assert!(same.is_empty(), "untranslated in ja.toml: {same:?}");
}

/// Every key the code names exists: `Msg::new("…")`, `tr("…")` and
/// `style.tr("…")` across `src/`.
#[test]
fn every_key_the_code_names_is_in_the_catalogue() {
    fn walk(dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push((path.display().to_string(), std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let mut files = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    let en = Lang::En.catalogue();
    let mut named = 0;
    let mut missing = Vec::new();
    for (path, text) in &files {
        for opener in ["Msg::new(\"", "tr(\"", "tr(lang, \"", "tr(self.lang, \""] {
            for (at, _) in text.match_indices(opener) {
                // `str("…")` is not `tr("…")`.
                let before = text[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let rest = &text[at + opener.len()..];
                let key = &rest[..rest.find('"').unwrap_or(0)];
                if key.is_empty() || !key.contains('.') {
                    continue;
                }
                named += 1;
                if !en.contains_key(key) {
                    missing.push(format!("{path}: {key}"));
                }
            }
        }
    }
    assert!(named > 100, "found only {named} keys in the code");
    assert!(missing.is_empty(), "keys not in en.toml: {missing:?}");
}

#[test]
fn the_language_comes_from_the_flag_then_the_locale() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    };
    assert_eq!(Lang::choose(Some(Lang::Ja), env(&[("LANG", "en_US.UTF-8")])), Lang::Ja);
    assert_eq!(Lang::choose(None, env(&[("LANG", "ja_JP.UTF-8")])), Lang::Ja);
    assert_eq!(
        Lang::choose(None, env(&[("LC_ALL", "C"), ("LANG", "ja_JP.UTF-8")])),
        Lang::En
    );
    assert_eq!(
        Lang::choose(None, env(&[("LC_ALL", ""), ("LC_MESSAGES", "ja_JP"), ("LANG", "C")])),
        Lang::Ja
    );
    assert_eq!(Lang::choose(None, env(&[])), Lang::En);
}

#[test]
fn messages_fill_their_placeholders_and_serialise_as_english() {
    let m = Msg::new("plan.summary")
        .arg("create", 3)
        .arg("update", 1)
        .arg("replace", 0)
        .arg("delete", 2);
    assert_eq!(m.english(), "3 to add, 1 to change, 0 to replace, 2 to destroy.");
    assert!(m.text(Lang::Ja).contains('3') && !m.text(Lang::Ja).contains("to add"));
    assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{}\"", m.english()));
    let joined = Msg::new("note.no_downtime").then(Msg::new("note.within_seconds"));
    assert_eq!(joined.english(), "no downtime; takes effect within seconds");
}
