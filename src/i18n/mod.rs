//! What ekstack says to people, in English and in Japanese.
//!
//! The strings live in one catalogue per language, `en.toml` and `ja.toml`
//! beside this file, as the same dotted keys with `{name}` placeholders. Code
//! never holds the text of a translated message: it names a key and its
//! arguments as a [`Msg`], and the renderer picks the language. A `Msg`
//! serialises as its English text, so `--json` and saved plans never change
//! with the reader's locale.
//!
//! The language is `--lang`, else the first of `LC_ALL`, `LC_MESSAGES` and
//! `LANG` that is set and not empty (POSIX's order), and English unless that
//! says Japanese.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use serde::{Serialize, Serializer};

#[cfg(test)]
mod tests;

/// A language ekstack speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Ja,
}

impl Lang {
    /// `ja_JP.UTF-8`, `ja` → Japanese; anything else (`C`, `en_US`) → English.
    pub fn from_locale(locale: &str) -> Lang {
        if locale.starts_with("ja") {
            Lang::Ja
        } else {
            Lang::En
        }
    }

    /// `--lang` when given, else the locale the environment names.
    pub fn choose(flag: Option<Lang>, var: impl Fn(&str) -> Option<String>) -> Lang {
        flag.unwrap_or_else(|| {
            ["LC_ALL", "LC_MESSAGES", "LANG"]
                .iter()
                .find_map(|name| var(name).filter(|v| !v.is_empty()))
                .map(|locale| Lang::from_locale(&locale))
                .unwrap_or_default()
        })
    }

    fn catalogue(self) -> &'static BTreeMap<String, String> {
        static EN: OnceLock<BTreeMap<String, String>> = OnceLock::new();
        static JA: OnceLock<BTreeMap<String, String>> = OnceLock::new();
        match self {
            Lang::En => EN.get_or_init(|| flatten(include_str!("en.toml"))),
            Lang::Ja => JA.get_or_init(|| flatten(include_str!("ja.toml"))),
        }
    }
}

/// A catalogue's nested tables as `a.b.c` keys. The catalogues ship inside
/// the binary and a unit test parses both, so a broken one never ships.
fn flatten(text: &str) -> BTreeMap<String, String> {
    fn walk(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, String>) {
        for (k, v) in table {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(t) => walk(&key, t, out),
                toml::Value::String(s) => {
                    out.insert(key, s.clone());
                }
                other => {
                    out.insert(key, other.to_string());
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    if let Ok(table) = text.parse::<toml::Table>() {
        walk("", &table, &mut out);
    }
    out
}

/// The text of `key` in `lang` with `{name}` placeholders filled; English
/// when the language lacks it, the key itself when both do (the catalogue
/// test makes both impossible).
pub fn text(lang: Lang, key: &str, args: &[(&str, String)]) -> String {
    let template = lang
        .catalogue()
        .get(key)
        .or_else(|| Lang::En.catalogue().get(key))
        .map(String::as_str)
        .unwrap_or(key);
    fill(template, args)
}

/// A fixed string of the catalogue.
pub fn tr(lang: Lang, key: &'static str) -> String {
    text(lang, key, &[])
}

fn fill(template: &str, args: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match args.iter().find(|(n, _)| *n == name) {
                    Some((_, value)) => out.push_str(value),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// A message for people: a catalogue key and its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Msg {
    key: Cow<'static, str>,
    args: Vec<(&'static str, Arg)>,
}

/// One argument: a value as it is, or a message of its own, in the same
/// language as the one it fills.
#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Text(String),
    Msg(Msg),
}

impl Msg {
    pub fn new(key: &'static str) -> Msg {
        Msg {
            key: Cow::Borrowed(key),
            args: Vec::new(),
        }
    }

    /// A key made at run time (`purpose.<kind>`): a test checks every kind's.
    pub fn keyed(key: String) -> Msg {
        Msg {
            key: Cow::Owned(key),
            args: Vec::new(),
        }
    }

    /// Fills `{name}` with `value`.
    pub fn arg(mut self, name: &'static str, value: impl fmt::Display) -> Msg {
        self.args.push((name, Arg::Text(value.to_string())));
        self
    }

    /// Fills `{name}` with another message.
    pub fn arg_msg(mut self, name: &'static str, value: Msg) -> Msg {
        self.args.push((name, Arg::Msg(value)));
        self
    }

    /// `first; then`, as each language joins two clauses.
    pub fn then(self, then: Msg) -> Msg {
        Msg::new("join.then").arg_msg("first", self).arg_msg("then", then)
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn text(&self, lang: Lang) -> String {
        let args: Vec<(&str, String)> = self
            .args
            .iter()
            .map(|(name, arg)| match arg {
                Arg::Text(t) => (*name, t.clone()),
                Arg::Msg(m) => (*name, m.text(lang)),
            })
            .collect();
        text(lang, &self.key, &args)
    }

    pub fn english(&self) -> String {
        self.text(Lang::En)
    }
}

/// English, as logs and errors show it.
impl fmt::Display for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.english())
    }
}

/// English, whatever the reader's language: JSON is for programs.
impl Serialize for Msg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.english())
    }
}

/// An error whose text is a catalogue message, so the report can show it in
/// the reader's language; anyhow shows it in English elsewhere.
#[derive(Debug)]
pub struct Localized(pub Msg);

impl fmt::Display for Localized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Localized {}

/// `bail!` for a catalogue message.
pub fn error(msg: Msg) -> anyhow::Error {
    anyhow::Error::new(Localized(msg))
}
