//! The encoding of a `Message` payload: byte for byte the one `Message`'s derived serde
//! impls give, but bounded in depth both ways, so that a hostile peer cannot overflow the
//! stack of the decoder with a deeply nested value, and with bytes and strings copied in one go.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use reflow_network::{Key, Message, Object};
use serde::de::{self, DeserializeSeed, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};
use serde::ser::{self, SerializeMap, SerializeSeq};
use serde::{Deserializer, Serialize, Serializer};

/// The deepest nesting a payload may have: a scalar is depth 1, `[1]` is depth 2. Deeper
/// payloads fail to encode, and fail to decode as malformed.
pub(crate) const MAX_DEPTH: usize = 128;

/// The enum name of `Message` (postcard encodes only variant indices; serde wants names).
const NAME: &str = "Message";
/// The variant names of `Message`, in declaration order.
const VARIANTS: &[&str] = &[
    "Flow", "Boolean", "Integer", "Float", "String", "Array", "Object", "Bytes", "Error",
];

/// Serializes a payload, failing when it nests deeper than `MAX_DEPTH`.
pub(super) fn serialize<S: Serializer>(msg: &Message, serializer: S) -> Result<S::Ok, S::Error> {
    Bounded { msg, depth: 1 }.serialize(serializer)
}

/// Deserializes a payload, failing when it nests deeper than `MAX_DEPTH`.
pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Message, D::Error> {
    MessageSeed { depth: 1 }.deserialize(deserializer)
}

/// A message at a known depth.
struct Bounded<'a> {
    msg: &'a Message,
    depth: usize,
}

impl Serialize for Bounded<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.depth > MAX_DEPTH {
            return Err(ser::Error::custom("payload nests too deep"));
        }
        let depth = self.depth + 1;
        match self.msg {
            Message::Flow => s.serialize_unit_variant(NAME, 0, "Flow"),
            Message::Boolean(b) => s.serialize_newtype_variant(NAME, 1, "Boolean", b),
            Message::Integer(i) => s.serialize_newtype_variant(NAME, 2, "Integer", i),
            Message::Float(f) => s.serialize_newtype_variant(NAME, 3, "Float", f),
            Message::String(t) => s.serialize_newtype_variant(NAME, 4, "String", &**t),
            Message::Array(items) => {
                s.serialize_newtype_variant(NAME, 5, "Array", &Items { items, depth })
            }
            Message::Object(map) => {
                s.serialize_newtype_variant(NAME, 6, "Object", &Entries { map, depth })
            }
            Message::Bytes(b) => s.serialize_newtype_variant(NAME, 7, "Bytes", &Raw(b)),
            Message::Error(t) => s.serialize_newtype_variant(NAME, 8, "Error", &**t),
        }
    }
}

/// The elements of an array, one level deeper.
struct Items<'a> {
    items: &'a [Message],
    depth: usize,
}

impl Serialize for Items<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.items.len()))?;
        for msg in self.items {
            seq.serialize_element(&Bounded {
                msg,
                depth: self.depth,
            })?;
        }
        seq.end()
    }
}

/// The entries of an object, one level deeper.
struct Entries<'a> {
    map: &'a Object,
    depth: usize,
}

impl Serialize for Entries<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.map.len()))?;
        for (key, msg) in self.map.iter() {
            map.serialize_entry(
                key,
                &Bounded {
                    msg,
                    depth: self.depth,
                },
            )?;
        }
        map.end()
    }
}

/// Raw bytes. postcard writes `serialize_bytes` exactly as the derived sequence of `u8`
/// (length, then the bytes), so the wire format is unchanged and the copy is one memcpy.
struct Raw<'a>(&'a [u8]);

impl Serialize for Raw<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// Decodes a message at a known depth.
#[derive(Clone, Copy)]
struct MessageSeed {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for MessageSeed {
    type Value = Message;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Message, D::Error> {
        if self.depth > MAX_DEPTH {
            return Err(de::Error::custom("payload nests too deep"));
        }
        d.deserialize_enum(NAME, VARIANTS, self)
    }
}

impl<'de> Visitor<'de> for MessageSeed {
    type Value = Message;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Message")
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Message, A::Error> {
        let inner = MessageSeed {
            depth: self.depth + 1,
        };
        let (index, v): (u32, _) = data.variant()?;
        Ok(match index {
            0 => {
                v.unit_variant()?;
                Message::Flow
            }
            1 => Message::Boolean(v.newtype_variant()?),
            2 => Message::Integer(v.newtype_variant()?),
            3 => Message::Float(v.newtype_variant()?),
            4 => Message::String(v.newtype_variant_seed(Text)?),
            5 => Message::Array(v.newtype_variant_seed(ItemsSeed(inner))?),
            6 => Message::Object(Arc::new(v.newtype_variant_seed(EntriesSeed(inner))?)),
            7 => Message::Bytes(v.newtype_variant_seed(RawSeed)?),
            8 => Message::Error(v.newtype_variant_seed(Text)?),
            other => {
                return Err(de::Error::invalid_value(
                    de::Unexpected::Unsigned(other.into()),
                    &"a Message variant index below 9",
                ))
            }
        })
    }
}

/// Never preallocate more than this many elements on the word of the peer.
const MAX_PREALLOC: usize = 1024;

/// Decodes the elements of an array.
struct ItemsSeed(MessageSeed);

impl<'de> DeserializeSeed<'de> for ItemsSeed {
    type Value = Arc<[Message]>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed {
    type Value = Arc<[Message]>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of messages")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_PREALLOC));
        while let Some(msg) = seq.next_element_seed(self.0)? {
            items.push(msg);
        }
        Ok(items.into())
    }
}

/// Decodes the entries of an object.
struct EntriesSeed(MessageSeed);

impl<'de> DeserializeSeed<'de> for EntriesSeed {
    type Value = Object;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EntriesSeed {
    type Value = Object;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of messages")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
        while let Some(entry) = map.next_entry_seed(PhantomData::<Key>, self.0)? {
            entries.push(entry);
        }
        Ok(entries.into_iter().collect())
    }
}

/// Decodes a string straight into an `Arc<str>`.
struct Text;

impl<'de> DeserializeSeed<'de> for Text {
    type Value = Arc<str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for Text {
    type Value = Arc<str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }
}

/// Decodes bytes straight into an `Arc<[u8]>`.
struct RawSeed;

impl<'de> DeserializeSeed<'de> for RawSeed {
    type Value = Arc<[u8]>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_bytes(self)
    }
}

impl<'de> Visitor<'de> for RawSeed {
    type Value = Arc<[u8]>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bytes")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    /// Self-describing formats (not postcard) may hand bytes over as a sequence.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_PREALLOC));
        while let Some(b) = seq.next_element::<u8>()? {
            bytes.push(b);
        }
        Ok(bytes.into())
    }
}
