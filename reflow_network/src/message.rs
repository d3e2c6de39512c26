//! The value that travels along edges: JSON-compatible data, bytes or an error, shared
//! behind `Arc`s so that fan-out clones a pointer, never the payload.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An information packet.
///
/// Compound values are reference counted: cloning a `Message` for every edge of a fan-out
/// costs one atomic increment whatever the size of the payload.
///
/// ```
/// use reflow_network::Message;
/// use serde_json::json;
///
/// let msg = Message::from(json!({"id": 7, "tags": ["a", "b"]}));
/// assert_eq!(msg.get("id"), Some(&Message::Integer(7)));
/// assert_eq!(msg.to_json(), json!({"id": 7, "tags": ["a", "b"]}));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub enum Message {
    /// No data: a bang, or JSON `null`.
    #[default]
    Flow,
    /// A boolean.
    Boolean(bool),
    /// A signed 64-bit integer.
    Integer(i64),
    /// A 64-bit float.
    Float(f64),
    /// A UTF-8 string.
    String(Arc<str>),
    /// An ordered list of messages.
    Array(Arc<[Message]>),
    /// A map from keys to messages, ordered by key.
    Object(Arc<Object>),
    /// Raw bytes.
    Bytes(Arc<[u8]>),
    /// An error value, carried as data (for example on an `error` outport).
    Error(Arc<str>),
}

impl Message {
    /// A string message.
    pub fn string(s: impl Into<Arc<str>>) -> Self {
        Message::String(s.into())
    }

    /// An error message carried as data.
    pub fn error(reason: impl fmt::Display) -> Self {
        Message::Error(reason.to_string().into())
    }

    /// An object built from key/value pairs.
    /// Of entries given twice under one key, the last wins.
    pub fn object<K: Into<Key>>(entries: impl IntoIterator<Item = (K, Message)>) -> Self {
        Message::Object(Arc::new(entries.into_iter().collect()))
    }

    /// An array built from messages.
    pub fn array(items: impl IntoIterator<Item = Message>) -> Self {
        Message::Array(items.into_iter().collect())
    }

    /// The value under `key` when this is an object.
    pub fn get(&self, key: &str) -> Option<&Message> {
        match self {
            Message::Object(map) => map.get(key),
            _ => None,
        }
    }

    /// The integer, when this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Message::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The number as a float, when this is an integer or a float.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Message::Integer(i) => Some(*i as f64),
            Message::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The string slice, when this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Message::String(s) => Some(s),
            _ => None,
        }
    }

    /// The elements, when this is an array.
    pub fn as_array(&self) -> Option<&[Message]> {
        match self {
            Message::Array(items) => Some(items),
            _ => None,
        }
    }

    /// Converts to JSON. Bytes become an array of numbers and an error becomes
    /// `{"error": reason}`, so that every message can be printed as one JSON line.
    pub fn to_json(&self) -> Value {
        match self {
            Message::Flow => Value::Null,
            Message::Boolean(b) => Value::Bool(*b),
            Message::Integer(i) => Value::from(*i),
            Message::Float(f) => Value::from(*f),
            Message::String(s) => Value::String(s.to_string()),
            Message::Array(items) => Value::Array(items.iter().map(Message::to_json).collect()),
            Message::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.to_string(), v.to_json()))
                    .collect(),
            ),
            Message::Bytes(bytes) => Value::Array(bytes.iter().map(|b| Value::from(*b)).collect()),
            Message::Error(reason) => serde_json::json!({ "error": reason.as_ref() }),
        }
    }
}

impl From<Value> for Message {
    /// JSON numbers that fit an `i64` become integers; other numbers become floats.
    fn from(value: Value) -> Self {
        Message::from(&value)
    }
}

impl From<&Value> for Message {
    fn from(value: &Value) -> Self {
        match value {
            Value::Null => Message::Flow,
            Value::Bool(b) => Message::Boolean(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Message::Integer(i),
                None => Message::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Message::String(s.as_str().into()),
            Value::Array(items) => Message::Array(items.iter().map(Message::from).collect()),
            Value::Object(map) => Message::Object(Arc::new(
                map.iter()
                    .map(|(k, v)| (k.as_str(), Message::from(v)))
                    .collect(),
            )),
        }
    }
}

impl From<i64> for Message {
    fn from(i: i64) -> Self {
        Message::Integer(i)
    }
}

impl From<f64> for Message {
    fn from(f: f64) -> Self {
        Message::Float(f)
    }
}

impl From<bool> for Message {
    fn from(b: bool) -> Self {
        Message::Boolean(b)
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Self {
        Message::String(s.into())
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Message::String(s.into())
    }
}

impl fmt::Display for Message {
    /// Formats the message as compact JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(&json::AsJson(self)).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

mod json;
mod key;
mod object;

pub use key::{Key, INTERNED_KEYS, INTERNED_LEN};
pub use object::Object;

#[cfg(test)]
mod tests;
