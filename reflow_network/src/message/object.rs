//! The map of an object message: entries sorted by key in one flat vector, keys interned.
//!
//! Facts are small (a handful of fields) and read far more often than changed, so a sorted
//! vector beats a tree: one allocation per object, entries side by side in memory, a lookup
//! that compares key lengths before it reads any key's text.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Key, Message};

/// Objects up to this size are searched front to back; larger ones by bisection.
const SCAN: usize = 12;

/// A map from keys to messages, ordered by key, each key once.
///
/// ```
/// use reflow_network::Object;
/// use reflow_network::Message;
///
/// let mut object: Object = [("b", Message::from(2)), ("a", Message::from(1))].into_iter().collect();
/// assert_eq!(object.get("a"), Some(&Message::Integer(1)));
/// assert_eq!(object.insert("a", Message::from(3)), Some(Message::Integer(1)));
/// let keys: Vec<&str> = object.keys().map(|k| k.as_str()).collect();
/// assert_eq!(keys, ["a", "b"]);
/// ```
#[derive(Clone, Default, PartialEq)]
pub struct Object {
    entries: Vec<(Key, Message)>,
}

impl Object {
    /// An empty object.
    pub fn new() -> Object {
        Object::default()
    }

    /// An empty object with room for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> Object {
        Object {
            entries: Vec::with_capacity(capacity),
        }
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the object has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Message> {
        let at = self.position(key).ok()?;
        Some(&self.entries[at].1)
    }

    /// Whether the object has an entry under `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Sets `key` to `value`; the value it replaces, if any.
    pub fn insert(&mut self, key: impl Into<Key>, value: Message) -> Option<Message> {
        let key = key.into();
        match self.position(&key) {
            Ok(at) => Some(std::mem::replace(&mut self.entries[at].1, value)),
            Err(at) => {
                self.entries.insert(at, (key, value));
                None
            }
        }
    }

    /// Takes the entry under `key` out; its value, if there was one.
    pub fn remove(&mut self, key: &str) -> Option<Message> {
        let at = self.position(key).ok()?;
        Some(self.entries.remove(at).1)
    }

    /// The entries, ordered by key.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Key, &Message)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &Key> {
        self.entries.iter().map(|(k, _)| k)
    }

    /// The values, in the order of their keys.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &Message> {
        self.entries.iter().map(|(_, v)| v)
    }

    /// Where `key` is (`Ok`) or would go (`Err`). The scan compares lengths first, which
    /// are stored beside each key's pointer, so it reads the text of few keys.
    fn position(&self, key: &str) -> Result<usize, usize> {
        if self.entries.len() > SCAN {
            return self.entries.binary_search_by(|(k, _)| k.as_str().cmp(key));
        }
        for (at, (k, _)) in self.entries.iter().enumerate() {
            if k.len() == key.len() && k.as_str() == key {
                return Ok(at);
            }
        }
        Err(self.entries.partition_point(|(k, _)| k.as_str() < key))
    }
}

impl<K: Into<Key>> FromIterator<(K, Message)> for Object {
    /// Of entries given twice under one key, the last wins.
    fn from_iter<I: IntoIterator<Item = (K, Message)>>(items: I) -> Object {
        let mut entries: Vec<(Key, Message)> =
            items.into_iter().map(|(k, v)| (k.into(), v)).collect();
        if !entries.windows(2).all(|pair| pair[0].0 < pair[1].0) {
            // Stable, so that of equal keys the last given stays last, and is kept.
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            entries.reverse();
            entries.dedup_by(|later, earlier| later.0 == earlier.0);
            entries.reverse();
        }
        Object { entries }
    }
}

impl IntoIterator for Object {
    type Item = (Key, Message);
    type IntoIter = std::vec::IntoIter<(Key, Message)>;

    /// The entries, ordered by key.
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl fmt::Debug for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (key, value) in self.iter() {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Object, D::Error> {
        d.deserialize_map(ObjectVisitor)
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = Object;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of messages")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
        while let Some(entry) = map.next_entry::<Key, Message>()? {
            entries.push(entry);
        }
        Ok(entries.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(entries: &[(&str, i64)]) -> Object {
        entries
            .iter()
            .map(|(k, v)| (*k, Message::from(*v)))
            .collect()
    }

    #[test]
    fn entries_are_sorted_and_the_last_of_a_repeated_key_wins() {
        let o = object(&[("b", 1), ("a", 2), ("b", 3), ("c", 4), ("a", 5)]);
        let pairs: Vec<(&str, i64)> = o
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_i64().unwrap_or(-1)))
            .collect();
        assert_eq!(pairs, [("a", 5), ("b", 3), ("c", 4)]);
    }

    #[test]
    fn lookups_agree_with_a_btree_map_small_and_large() {
        for size in [0, 1, 5, SCAN, SCAN + 1, 40] {
            let keys: Vec<String> = (0..size).map(|i| format!("k{}", i * 7 % 50)).collect();
            let o: Object = keys.iter().map(|k| (k, Message::from(1))).collect();
            let reference: std::collections::BTreeMap<&str, i64> =
                keys.iter().map(|k| (k.as_str(), 1)).collect();
            assert_eq!(o.len(), reference.len());
            for probe in (0..60)
                .map(|i| format!("k{i}"))
                .chain(["".into(), "z".into()])
            {
                assert_eq!(
                    o.contains_key(&probe),
                    reference.contains_key(probe.as_str())
                );
            }
            let order: Vec<&str> = o.keys().map(Key::as_str).collect();
            assert_eq!(order, reference.keys().copied().collect::<Vec<_>>());
        }
    }

    #[test]
    fn insert_and_remove_keep_the_order() {
        let mut o = Object::new();
        for key in ["m", "a", "z", "k"] {
            assert_eq!(o.insert(key, Message::from(1)), None);
        }
        assert_eq!(o.insert("k", Message::from(2)), Some(Message::Integer(1)));
        assert_eq!(o.remove("a"), Some(Message::Integer(1)));
        assert_eq!(o.remove("a"), None);
        let order: Vec<&str> = o.keys().map(Key::as_str).collect();
        assert_eq!(order, ["k", "m", "z"]);
        assert_eq!(o.get("k"), Some(&Message::Integer(2)));
    }
}
