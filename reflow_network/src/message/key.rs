//! The key of an object entry: a shared string, interned so that the keys of facts of one
//! shape are the same few allocations whatever the number of facts.
//!
//! Interning is what makes objects cheap in a pipeline: parsing `{"id": 1, "amount": 5}`
//! allocates no key, and every fact's keys stay in the cache of the core that reads them.
//! A key longer than [`INTERNED_LEN`] bytes, or met once the table holds
//! [`INTERNED_KEYS`] keys, is an ordinary shared string instead: equal all the same, just
//! not shared. Interned keys live as long as the process (at most `INTERNED_KEYS` of
//! `INTERNED_LEN` bytes: 4 MiB).

use std::borrow::Borrow;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::{Arc, LazyLock, Mutex};

use rustc_hash::FxHashSet;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Keys longer than this (in bytes) are not interned.
pub const INTERNED_LEN: usize = 64;

/// At most this many distinct keys are interned per process.
pub const INTERNED_KEYS: usize = 1 << 16;

/// The process-wide table. Each thread asks its own copy first (below), so the lock is
/// taken once per new key and thread, not per key parsed.
static TABLE: LazyLock<Mutex<FxHashSet<&'static str>>> = LazyLock::new(Mutex::default);

thread_local! {
    /// This thread's copy of the keys it has met in [`TABLE`].
    static LOCAL: RefCell<FxHashSet<&'static str>> = RefCell::default();
}

/// The key of an entry of an [`Object`](super::Object): compared, ordered and hashed as its
/// text; two keys of the same text are usually one allocation.
///
/// An interned key is a string that lives as long as the process, so cloning or dropping it
/// touches no reference count: the keys of facts that every core reads stay in every core's
/// cache, unwritten.
///
/// ```
/// use reflow_network::Key;
///
/// let a = Key::new("amount");
/// let b = Key::from(String::from("amount"));
/// assert_eq!(a, b);
/// assert_eq!(&*a, "amount");
/// ```
#[derive(Clone)]
pub struct Key(Repr);

#[derive(Clone)]
enum Repr {
    Interned(&'static str),
    Shared(Arc<str>),
}

impl Key {
    /// The key of `text`, interned when it is short and the table has room.
    pub fn new(text: &str) -> Key {
        if text.len() > INTERNED_LEN {
            return Key(Repr::Shared(text.into()));
        }
        match LOCAL.with_borrow(|local| local.get(text).copied()) {
            Some(interned) => Key(Repr::Interned(interned)),
            None => intern(text),
        }
    }

    /// The text of the key.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Interned(text) => text,
            Repr::Shared(text) => text,
        }
    }

    /// Whether both are the same interned string (then they are equal without reading it).
    fn same(&self, other: &Key) -> bool {
        match (&self.0, &other.0) {
            (Repr::Interned(a), Repr::Interned(b)) => std::ptr::eq(*a, *b),
            _ => false,
        }
    }
}

/// The key of `text` from the process-wide table, remembered by this thread; a shared
/// string of its own once the table is full.
fn intern(text: &str) -> Key {
    let interned = {
        // A panic while holding the lock cannot leave the set half-changed: take it anyway.
        let mut table = TABLE.lock().unwrap_or_else(|poison| poison.into_inner());
        match table.get(text) {
            Some(interned) => *interned,
            None if table.len() >= INTERNED_KEYS => return Key(Repr::Shared(text.into())),
            None => {
                // Bounded by INTERNED_KEYS * INTERNED_LEN bytes for the life of the process.
                let interned: &'static str = Box::leak(text.into());
                table.insert(interned);
                interned
            }
        }
    };
    LOCAL.with_borrow_mut(|local| local.insert(interned));
    Key(Repr::Interned(interned))
}

impl Deref for Key {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Key {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Key {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.same(other) || self.as_str() == other.as_str()
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Key) -> Ordering {
        if self.same(other) {
            return Ordering::Equal;
        }
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Key {
    fn from(text: &str) -> Key {
        Key::new(text)
    }
}

impl From<String> for Key {
    fn from(text: String) -> Key {
        Key::new(&text)
    }
}

impl From<&String> for Key {
    fn from(text: &String) -> Key {
        Key::new(text)
    }
}

impl From<&Key> for Key {
    fn from(key: &Key) -> Key {
        key.clone()
    }
}

impl Serialize for Key {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

/// Interns the text it is given, borrowed or not, without an intermediate `String`.
struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Key, E> {
        Ok(Key::new(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_are_shared_and_long_ones_are_not() {
        let a = Key::new("customer");
        let b = Key::new(&String::from("customer"));
        assert!(a.same(&b));
        let long = "k".repeat(INTERNED_LEN + 1);
        let (c, d) = (Key::new(&long), Key::new(&long));
        assert!(!c.same(&d));
        assert_eq!(c, d);
    }

    #[test]
    fn keys_interned_on_another_thread_are_the_same_allocation() {
        let here = Key::new("shared-across-threads");
        let there = std::thread::spawn(|| Key::new("shared-across-threads"))
            .join()
            .expect("the thread interns without panicking");
        assert!(here.same(&there));
    }

    #[test]
    fn keys_order_and_compare_as_their_text() {
        let mut keys: Vec<Key> = ["b", "a", "ab", "B"].into_iter().map(Key::new).collect();
        keys.sort();
        let texts: Vec<&str> = keys.iter().map(Key::as_str).collect();
        assert_eq!(texts, ["B", "a", "ab", "b"]);
        assert_eq!(Key::new("x"), Key::from(String::from("x")));
        assert_ne!(Key::new("x"), Key::new("y"));
    }

    #[test]
    fn a_key_reads_from_json_without_copying_through_a_string() {
        let key: Key = serde_json::from_str(r#""amount""#).expect("a JSON string is a key");
        assert!(key.same(&Key::new("amount")));
        assert!(serde_json::from_str::<Key>("3").is_err());
    }
}
