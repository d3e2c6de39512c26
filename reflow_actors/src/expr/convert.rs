//! Conversions between [`Message`] and CEL values. A message becomes a CEL value that
//! borrows its strings and keys (no text is copied); a CEL result becomes a message.

use std::collections::HashMap;
use std::sync::Arc;

use cel::common::types::{
    CelBool, CelBytes, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString,
};
use cel::common::value::Val;
use cel::objects::Key;
use cel::Value;
use reflow_network::Message;

/// The CEL value of `msg`. JSON integers are `Message::Integer`, so they become CEL `int`
/// (not `uint`) and `fact.id + 1` works. An error message is the map `{"error": reason}`,
/// as in [`Message::to_json`].
pub(super) fn to_val(msg: &Message) -> Box<dyn Val + '_> {
    match msg {
        Message::Flow => Box::new(CelNull),
        Message::Boolean(b) => Box::new(CelBool::from(*b)),
        Message::Integer(i) => Box::new(CelInt::from(*i)),
        Message::Float(f) => Box::new(CelDouble::from(*f)),
        Message::String(s) => Box::new(CelString::from(&**s)),
        Message::Bytes(b) => Box::new(CelBytes::from(&**b)),
        Message::Array(items) => {
            let items: Vec<Box<dyn Val + '_>> = items.iter().map(to_val).collect();
            Box::new(CelList::from(items))
        }
        Message::Object(map) => {
            let mut entries = HashMap::with_capacity(map.len());
            for (k, v) in map.iter() {
                entries.insert(CelMapKey::from(k.as_str()), to_val(v));
            }
            Box::new(CelMap::from(entries))
        }
        Message::Error(reason) => {
            let entry: (CelMapKey<'_>, Box<dyn Val + '_>) = (
                CelMapKey::from("error"),
                Box::new(CelString::from(&**reason)),
            );
            Box::new(CelMap::from(HashMap::from([entry])))
        }
    }
}

/// The message for a CEL result. A `uint` beyond `i64` becomes a float; map keys become
/// strings (`1` → `"1"`). Types without a message counterpart (optional values, types,
/// functions) are refused with the reason.
pub(super) fn from_value(value: Value) -> Result<Message, String> {
    Ok(match value {
        Value::Null => Message::Flow,
        Value::Bool(b) => Message::Boolean(b),
        Value::Int(i) => Message::Integer(i),
        Value::UInt(u) => i64::try_from(u).map_or(Message::Float(u as f64), Message::Integer),
        Value::Float(f) => Message::Float(f),
        Value::String(s) => Message::String(s.as_str().into()),
        Value::Bytes(b) => Message::Bytes(b.as_slice().into()),
        Value::List(items) => Message::Array(
            items
                .iter()
                .map(|v| from_value(v.clone()))
                .collect::<Result<Arc<[Message]>, String>>()?,
        ),
        Value::Map(map) => {
            let mut entries = Vec::with_capacity(map.map.len());
            for (k, v) in map.map.iter() {
                entries.push((key_string(k), from_value(v.clone())?));
            }
            Message::object(entries)
        }
        other => {
            return Err(format!(
                "the result is a CEL {}, which has no message form",
                other.type_of()
            ))
        }
    })
}

fn key_string(key: &Key) -> String {
    match key {
        Key::Int(i) => i.to_string(),
        Key::Uint(u) => u.to_string(),
        Key::Bool(b) => b.to_string(),
        Key::String(s) => s.to_string(),
    }
}

/// The CEL type name of a message, for error texts.
pub(super) fn type_name(msg: &Message) -> &'static str {
    match msg {
        Message::Flow => "null",
        Message::Boolean(_) => "bool",
        Message::Integer(_) => "int",
        Message::Float(_) => "double",
        Message::String(_) => "string",
        Message::Array(_) => "list",
        Message::Object(_) | Message::Error(_) => "map",
        Message::Bytes(_) => "bytes",
    }
}
