//! Attribute values as the plan compares and shows them.
//!
//! The engine never handles JSON: a kind turns its typed desired and observed
//! fields into [`Value`]s, the diff compares those, and only the renderers
//! turn them into JSON or text. A value that cannot be known before apply (the
//! id of a subnet not yet made) is [`Value::Unknown`], a state of the value,
//! not a magic string.

use std::collections::BTreeMap;
use std::fmt;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};

/// How the plan shows a value that is known only after apply.
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";

/// One attribute's value.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    /// Known only once apply has made what it refers to.
    Unknown,
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Whether this value, or anything inside it, is unknown until apply.
    pub fn is_unknown(&self) -> bool {
        match self {
            Value::Unknown => true,
            Value::List(items) => items.iter().any(Value::is_unknown),
            Value::Map(map) => map.values().any(Value::is_unknown),
            _ => false,
        }
    }

    /// A list of texts, sorted: how a set is compared and shown.
    pub fn set<I, T>(items: I) -> Value
    where
        I: IntoIterator<Item = T>,
        T: Into<Value>,
    {
        let mut items: Vec<Value> = items.into_iter().map(Into::into).collect();
        items.sort_by_key(|v| v.to_string());
        Value::List(items)
    }
}

/// The plan's text form: JSON for known values, `(known after apply)` for
/// unknown ones, `null` for nothing.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Unknown => f.write_str(KNOWN_AFTER_APPLY),
            other => {
                let text = serde_json::to_string(other).map_err(|_| fmt::Error)?;
                f.write_str(&text)
            }
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(x) => s.serialize_f64(*x),
            Value::Text(t) => s.serialize_str(t),
            Value::Unknown => s.serialize_str(KNOWN_AFTER_APPLY),
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(map) => {
                let mut m = s.serialize_map(Some(map.len()))?;
                for (k, v) in map {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
    }
}

/// Read back from a saved plan. `(known after apply)` comes back unknown.
impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        fn from(v: serde_json::Value) -> Value {
            match v {
                serde_json::Value::Null => Value::Null,
                serde_json::Value::Bool(b) => Value::Bool(b),
                serde_json::Value::Number(n) => match n.as_i64() {
                    Some(i) => Value::Int(i),
                    None => Value::Float(n.as_f64().unwrap_or_default()),
                },
                serde_json::Value::String(s) if s == KNOWN_AFTER_APPLY => Value::Unknown,
                serde_json::Value::String(s) => Value::Text(s),
                serde_json::Value::Array(a) => Value::List(a.into_iter().map(from).collect()),
                serde_json::Value::Object(o) => Value::Map(o.into_iter().map(|(k, v)| (k, from(v))).collect()),
            }
        }
        serde_json::Value::deserialize(d).map(from)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Int(i64::from(i))
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::Text(s.clone())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map(Into::into).unwrap_or(Value::Null)
    }
}

impl<T: Into<Value> + Clone> From<&[T]> for Value {
    fn from(items: &[T]) -> Self {
        Value::List(items.iter().cloned().map(Into::into).collect())
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Self {
        Value::List(items.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value> + Clone> From<&Vec<T>> for Value {
    fn from(items: &Vec<T>) -> Self {
        Value::List(items.iter().cloned().map(Into::into).collect())
    }
}

impl<V: Into<Value> + Clone> From<&BTreeMap<String, V>> for Value {
    fn from(map: &BTreeMap<String, V>) -> Self {
        Value::Map(map.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect())
    }
}

impl<V: Into<Value>> From<BTreeMap<String, V>> for Value {
    fn from(map: BTreeMap<String, V>) -> Self {
        Value::Map(map.into_iter().map(|(k, v)| (k, v.into())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_the_json_it_becomes() {
        assert_eq!(Value::from("a").to_string(), "\"a\"");
        assert_eq!(Value::Null.to_string(), "null");
        assert_eq!(Value::Unknown.to_string(), KNOWN_AFTER_APPLY);
        assert_eq!(
            Value::List(vec![Value::Unknown, "x".into()]).to_string(),
            format!("[\"{KNOWN_AFTER_APPLY}\",\"x\"]")
        );
        assert!(Value::List(vec![Value::Unknown]).is_unknown());
    }

    #[test]
    fn a_saved_value_reads_back_the_same() {
        let v = Value::Map(BTreeMap::from([
            ("a".to_string(), Value::List(vec![Value::Int(1), Value::Unknown])),
            ("b".to_string(), Value::Float(0.5)),
        ]));
        let text = serde_json::to_string(&v).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v);
    }
}
