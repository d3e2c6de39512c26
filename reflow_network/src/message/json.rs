//! JSON text straight to and from [`Message`], without a `serde_json::Value` in between: one
//! allocation per string and per compound value when parsing, none per value when printing.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserializer, Serialize, Serializer};

use super::{Key, Message, Object};

impl Message {
    /// Parses JSON text into a message, as `Message::from(serde_json::from_str::<Value>(text)?)`
    /// would, without building the `Value`.
    ///
    /// ```
    /// use reflow_network::Message;
    ///
    /// let msg = Message::from_json_str(r#"{"id": 7, "tags": ["a"]}"#).unwrap();
    /// assert_eq!(msg.get("id"), Some(&Message::Integer(7)));
    /// assert!(Message::from_json_str("{").is_err());
    /// ```
    pub fn from_json_str(text: &str) -> Result<Message, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(text);
        let msg = JsonSeed.deserialize(&mut de)?;
        de.end()?;
        Ok(msg)
    }

    /// Appends the message as compact JSON to `out`, in the form of [`Message::to_json`].
    pub fn write_json(&self, out: &mut Vec<u8>) {
        // Writing to a `Vec` fails only on a serializer error, which `AsJson` never raises.
        let _ = serde_json::to_writer(out, &AsJson(self));
    }
}

/// Prints a message as [`Message::to_json`] would, without building the `Value`.
pub(super) struct AsJson<'a>(pub(super) &'a Message);

impl Serialize for AsJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Message::Flow => s.serialize_unit(),
            Message::Boolean(b) => s.serialize_bool(*b),
            Message::Integer(i) => s.serialize_i64(*i),
            Message::Float(f) if f.is_finite() => s.serialize_f64(*f),
            Message::Float(_) => s.serialize_unit(),
            Message::String(text) => s.serialize_str(text),
            Message::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items.iter() {
                    seq.serialize_element(&AsJson(item))?;
                }
                seq.end()
            }
            Message::Object(map) => {
                let mut out = s.serialize_map(Some(map.len()))?;
                for (key, value) in map.iter() {
                    out.serialize_entry(key, &AsJson(value))?;
                }
                out.end()
            }
            Message::Bytes(bytes) => s.collect_seq(bytes.iter()),
            Message::Error(reason) => {
                let mut out = s.serialize_map(Some(1))?;
                out.serialize_entry("error", reason.as_ref())?;
                out.end()
            }
        }
    }
}

/// Reads one JSON value as a message.
struct JsonSeed;

impl<'de> DeserializeSeed<'de> for JsonSeed {
    type Value = Message;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Message, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Message;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Message, E> {
        Ok(Message::Flow)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Message, E> {
        Ok(Message::Boolean(b))
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Message, E> {
        Ok(Message::Integer(i))
    }

    /// Numbers that fit an `i64` are integers, the others floats (as `From<Value>`).
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Message, E> {
        Ok(i64::try_from(u).map_or(Message::Float(u as f64), Message::Integer))
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Message, E> {
        Ok(Message::Float(f))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Message, E> {
        Ok(Message::String(s.into()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Message, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(JsonSeed)? {
            items.push(item);
        }
        Ok(Message::Array(items.into()))
    }

    /// Entries in any order; of a key given twice, the last value wins (as in `Value`).
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Message, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(key) = map.next_key::<Key>()? {
            entries.push((key, map.next_value_seed(JsonSeed)?));
        }
        Ok(Message::Object(Arc::new(Object::from_iter(entries))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn parsing_agrees_with_the_value_path() {
        let texts = [
            r#"{"n": null, "b": true, "i": -3, "f": 1.5, "s": "x\u00e9", "a": [1, [2]], "o": {"k": "v"}}"#,
            r#"{"k": 1, "k": 2, "a": 0}"#,
            "18446744073709551615",
            "-9223372036854775808",
            "1e400",
            "[]",
            "{}",
            r#""esc\"aped\n""#,
        ];
        for text in texts {
            let via_value = serde_json::from_str::<Value>(text).map(Message::from);
            let direct = Message::from_json_str(text);
            assert_eq!(direct.ok(), via_value.ok(), "{text}");
        }
    }

    #[test]
    fn bad_text_is_an_error_with_its_place() {
        for text in ["{", "[1,]", "1 2", "", "{\"a\" 1}"] {
            let err = Message::from_json_str(text).expect_err(text);
            assert!(err.line() >= 1, "{text}: {err}");
        }
    }

    #[test]
    fn printing_agrees_with_to_json() {
        let msgs = [
            Message::from(json!({"b": [1, 2.5, null, true], "a": {"x": "y\"z"}})),
            Message::Float(f64::NAN),
            Message::Float(f64::INFINITY),
            Message::Bytes(vec![0u8, 255].into()),
            Message::error("bad"),
            Message::Flow,
        ];
        for msg in msgs {
            let mut out = Vec::new();
            msg.write_json(&mut out);
            let expected = serde_json::to_vec(&msg.to_json()).unwrap();
            assert_eq!(out, expected, "{msg:?}");
            assert_eq!(msg.to_string().as_bytes(), expected);
        }
    }
}
