//! The values the direct evaluation works on: scalars by value, everything else borrowed
//! from the fact or the expression, and the operators over them. Each operator answers
//! `None` where the CEL interpreter's answer could differ (mixed types, overflow, NaN).

use std::cmp::Ordering;
use std::sync::Arc;

use reflow_network::{Message, Object};

use super::{Arith, Cmp, TextFn};

/// A value met while evaluating.
#[derive(Debug, Clone)]
pub(super) enum V<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A string of the fact or of the expression.
    Str(&'a Arc<str>),
    /// A string computed by the expression.
    Text(Arc<str>),
    List(&'a Arc<[Message]>),
    Map(&'a Arc<Object>),
    /// Bytes and error messages: only passed through.
    Other(&'a Message),
}

impl<'a> V<'a> {
    pub(super) fn of(msg: &'a Message) -> Self {
        match msg {
            Message::Flow => V::Null,
            Message::Boolean(b) => V::Bool(*b),
            Message::Integer(i) => V::Int(*i),
            Message::Float(f) => V::Float(*f),
            Message::String(s) => V::Str(s),
            Message::Array(items) => V::List(items),
            Message::Object(map) => V::Map(map),
            Message::Bytes(_) | Message::Error(_) => V::Other(msg),
        }
    }

    /// The message, sharing what it can with the fact.
    pub(super) fn into_message(self) -> Message {
        match self {
            V::Null => Message::Flow,
            V::Bool(b) => Message::Boolean(b),
            V::Int(i) => Message::Integer(i),
            V::Float(f) => Message::Float(f),
            V::Str(s) => Message::String(s.clone()),
            V::Text(s) => Message::String(s),
            V::List(items) => Message::Array(items.clone()),
            V::Map(map) => Message::Object(map.clone()),
            V::Other(msg) => msg.clone(),
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            V::Str(s) => Some(s),
            V::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// Equality of two values of the same scalar type.
fn equal(a: &V<'_>, b: &V<'_>) -> Option<bool> {
    Some(match (a, b) {
        (V::Null, V::Null) => true,
        (V::Bool(x), V::Bool(y)) => x == y,
        (V::Int(x), V::Int(y)) => x == y,
        (V::Float(x), V::Float(y)) => x == y,
        _ => a.as_str()? == b.as_str()?,
    })
}

fn order(a: &V<'_>, b: &V<'_>) -> Option<Ordering> {
    match (a, b) {
        (V::Int(x), V::Int(y)) => Some(x.cmp(y)),
        (V::Float(x), V::Float(y)) => x.partial_cmp(y),
        _ => Some(a.as_str()?.cmp(b.as_str()?)),
    }
}

pub(super) fn compare(op: Cmp, a: &V<'_>, b: &V<'_>) -> Option<bool> {
    Some(match op {
        Cmp::Eq => equal(a, b)?,
        Cmp::Ne => !equal(a, b)?,
        Cmp::Lt => order(a, b)?.is_lt(),
        Cmp::Le => order(a, b)?.is_le(),
        Cmp::Gt => order(a, b)?.is_gt(),
        Cmp::Ge => order(a, b)?.is_ge(),
    })
}

pub(super) fn arith<'a>(op: Arith, a: &V<'_>, b: &V<'_>) -> Option<V<'a>> {
    match (a, b) {
        (V::Int(x), V::Int(y)) => Some(V::Int(match op {
            Arith::Add => x.checked_add(*y)?,
            Arith::Sub => x.checked_sub(*y)?,
            Arith::Mul => x.checked_mul(*y)?,
            Arith::Div => x.checked_div(*y)?,
            Arith::Rem => x.checked_rem(*y)?,
        })),
        (V::Float(x), V::Float(y)) => Some(V::Float(match op {
            Arith::Add => x + y,
            Arith::Sub => x - y,
            Arith::Mul => x * y,
            Arith::Div => x / y,
            Arith::Rem => return None,
        })),
        _ if op == Arith::Add => {
            let (x, y) = (a.as_str()?, b.as_str()?);
            Some(V::Text(format!("{x}{y}").into()))
        }
        _ => None,
    }
}

pub(super) fn negate<'a>(v: &V<'_>) -> Option<V<'a>> {
    match v {
        V::Int(i) => Some(V::Int(i.checked_neg()?)),
        V::Float(f) => Some(V::Float(-f)),
        _ => None,
    }
}

/// `item in collection`: an element of a list, or a key of a map.
pub(super) fn contains(collection: &V<'_>, item: &V<'_>) -> Option<bool> {
    match collection {
        V::List(items) => {
            for element in items.iter() {
                if equal(item, &V::of(element))? {
                    return Some(true);
                }
            }
            Some(false)
        }
        V::Map(map) => Some(map.contains_key(item.as_str()?)),
        _ => None,
    }
}

/// CEL's `size`: code points of a string, elements of a list, entries of a map, bytes.
pub(super) fn size(v: &V<'_>) -> Option<i64> {
    let n = match v {
        V::List(items) => items.len(),
        V::Map(map) => map.len(),
        V::Other(Message::Bytes(bytes)) => bytes.len(),
        _ => v.as_str()?.chars().count(),
    };
    i64::try_from(n).ok()
}

pub(super) fn text(f: TextFn, text: &V<'_>, part: &V<'_>) -> Option<bool> {
    let (text, part) = (text.as_str()?, part.as_str()?);
    Some(match f {
        TextFn::Contains => text.contains(part),
        TextFn::StartsWith => text.starts_with(part),
        TextFn::EndsWith => text.ends_with(part),
    })
}

/// `container[index]`: a map's value at a string key, a list's element at an int index.
pub(super) fn index<'a>(container: &V<'a>, index: &V<'_>) -> Option<&'a Message> {
    match (container, index) {
        (V::Map(map), _) => map.get(index.as_str()?),
        (V::List(items), V::Int(i)) => items.get(usize::try_from(*i).ok()?),
        _ => None,
    }
}
