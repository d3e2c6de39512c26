//! The fair raw baseline's codec: the bridge's `Data` frames in its envelope, written and read
//! in postcard's format, so the baseline puts the same bytes on the wire as the bridge.
//!
//! postcard is a dependency of `reflow_bridge` only, not of the examples, and the bridge's
//! codec is private; so the format is written out here (see `docs/protocol.md`, Envelope).
//! `golden_bytes_match_the_bridge` checks it against the bridge codec's own test vector, and
//! the `inspect` module against bytes the bridge really sent.

use std::sync::Arc;

use reflow::{Key, Message, Object};

/// The envelope version: the bridge's protocol version.
const VERSION: u64 = reflow::bridge::PROTOCOL_VERSION as u64;
/// The variant index of `Frame::Data`.
const DATA_KIND: u64 = 9;
/// The deepest payload the decoder accepts, as the bridge's (a scalar is depth 1).
const MAX_DEPTH: usize = 128;

/// The fields of the bridge's `Frame::Data`, in wire order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DataFrame {
    /// Position in the sender's sequence.
    pub(crate) seq: u64,
    /// The exported actor.
    pub(crate) actor: String,
    /// Its inport.
    pub(crate) port: String,
    /// The proxy session that sent it.
    pub(crate) origin: u32,
    /// The message.
    pub(crate) payload: Message,
    /// An optional trace id.
    pub(crate) trace: Option<u64>,
}

/// Why bytes are not an envelope of `Data` frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed(pub(crate) &'static str);

/// Writes `frames` as one envelope into `buf`, replacing its content.
pub(crate) fn encode_batch(frames: &[DataFrame], buf: &mut Vec<u8>) {
    buf.clear();
    put_varint(buf, VERSION);
    put_varint(buf, frames.len() as u64);
    for frame in frames {
        put_frame(buf, frame);
    }
}

/// Reads one envelope holding only `Data` frames.
pub(crate) fn decode_batch(bytes: &[u8]) -> Result<Vec<DataFrame>, Malformed> {
    let mut reader = Reader(bytes);
    if reader.varint()? != VERSION {
        return Err(Malformed("another protocol version"));
    }
    let count = reader.len()?;
    let mut frames = Vec::with_capacity(count);
    for _ in 0..count {
        frames.push(reader.frame()?);
    }
    match reader.0.is_empty() {
        true => Ok(frames),
        false => Err(Malformed("trailing bytes")),
    }
}

fn put_frame(buf: &mut Vec<u8>, frame: &DataFrame) {
    put_varint(buf, DATA_KIND);
    put_varint(buf, frame.seq);
    put_bytes(buf, frame.actor.as_bytes());
    put_bytes(buf, frame.port.as_bytes());
    put_varint(buf, u64::from(frame.origin));
    put_message(buf, &frame.payload);
    match frame.trace {
        None => buf.push(0),
        Some(trace) => {
            buf.push(1);
            put_varint(buf, trace);
        }
    }
}

/// A `Message` as its derived serde impls give it: the variant index, then its field.
fn put_message(buf: &mut Vec<u8>, msg: &Message) {
    match msg {
        Message::Flow => put_varint(buf, 0),
        Message::Boolean(b) => {
            put_varint(buf, 1);
            buf.push(u8::from(*b));
        }
        Message::Integer(i) => {
            put_varint(buf, 2);
            put_varint(buf, zigzag(*i));
        }
        Message::Float(f) => {
            put_varint(buf, 3);
            buf.extend_from_slice(&f.to_le_bytes());
        }
        Message::String(text) => put_tagged(buf, 4, text.as_bytes()),
        Message::Array(items) => {
            put_varint(buf, 5);
            put_varint(buf, items.len() as u64);
            items.iter().for_each(|item| put_message(buf, item));
        }
        Message::Object(map) => {
            put_varint(buf, 6);
            put_varint(buf, map.len() as u64);
            for (key, value) in map.iter() {
                put_bytes(buf, key.as_bytes());
                put_message(buf, value);
            }
        }
        Message::Bytes(bytes) => put_tagged(buf, 7, bytes),
        Message::Error(text) => put_tagged(buf, 8, text.as_bytes()),
    }
}

fn put_tagged(buf: &mut Vec<u8>, tag: u64, bytes: &[u8]) {
    put_varint(buf, tag);
    put_bytes(buf, bytes);
}

/// A string or byte sequence: its length, then the bytes.
fn put_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

/// LEB128: 7 bits per byte, low bits first.
fn put_varint(buf: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buf.push(value as u8 | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

fn zigzag(i: i64) -> u64 {
    ((i << 1) ^ (i >> 63)) as u64
}

fn unzigzag(u: u64) -> i64 {
    (u >> 1) as i64 ^ -((u & 1) as i64)
}

/// The bytes not read yet.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn frame(&mut self) -> Result<DataFrame, Malformed> {
        if self.varint()? != DATA_KIND {
            return Err(Malformed("not a Data frame"));
        }
        Ok(DataFrame {
            seq: self.varint()?,
            actor: self.string()?,
            port: self.string()?,
            origin: u32::try_from(self.varint()?).map_err(|_| Malformed("origin"))?,
            payload: self.message(1)?,
            trace: self.option()?,
        })
    }

    fn message(&mut self, depth: usize) -> Result<Message, Malformed> {
        if depth > MAX_DEPTH {
            return Err(Malformed("payload nests too deep"));
        }
        Ok(match self.varint()? {
            0 => Message::Flow,
            1 => Message::Boolean(self.boolean()?),
            2 => Message::Integer(unzigzag(self.varint()?)),
            3 => Message::Float(f64::from_le_bytes(self.array()?)),
            4 => Message::String(self.str()?.into()),
            5 => Message::Array(self.items(depth)?.into()),
            6 => Message::Object(Arc::new(self.entries(depth)?)),
            7 => Message::Bytes(self.bytes()?.into()),
            8 => Message::Error(self.str()?.into()),
            _ => return Err(Malformed("unknown Message variant")),
        })
    }

    fn items(&mut self, depth: usize) -> Result<Vec<Message>, Malformed> {
        let count = self.len()?;
        (0..count).map(|_| self.message(depth + 1)).collect()
    }

    fn entries(&mut self, depth: usize) -> Result<Object, Malformed> {
        let count = self.len()?;
        (0..count)
            .map(|_| Ok((Key::new(self.str()?), self.message(depth + 1)?)))
            .collect()
    }

    fn option(&mut self) -> Result<Option<u64>, Malformed> {
        match self.byte()? {
            0 => Ok(None),
            1 => Ok(Some(self.varint()?)),
            _ => Err(Malformed("option tag")),
        }
    }

    fn boolean(&mut self) -> Result<bool, Malformed> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Malformed("boolean")),
        }
    }

    fn string(&mut self) -> Result<String, Malformed> {
        self.str().map(str::to_owned)
    }

    fn str(&mut self) -> Result<&'a str, Malformed> {
        std::str::from_utf8(self.bytes()?).map_err(|_| Malformed("utf-8"))
    }

    fn bytes(&mut self) -> Result<&'a [u8], Malformed> {
        let len = self.len()?;
        let (bytes, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(Malformed("truncated"))?;
        self.0 = rest;
        Ok(*head)
    }

    /// A length or count, refused when larger than the bytes left (each item takes one).
    fn len(&mut self) -> Result<usize, Malformed> {
        let len = usize::try_from(self.varint()?).map_err(|_| Malformed("length"))?;
        match len <= self.0.len() {
            true => Ok(len),
            false => Err(Malformed("length beyond the message")),
        }
    }

    fn varint(&mut self) -> Result<u64, Malformed> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(Malformed("varint too long"))
    }

    fn byte(&mut self) -> Result<u8, Malformed> {
        let (first, rest) = self.0.split_first().ok_or(Malformed("truncated"))?;
        self.0 = rest;
        Ok(*first)
    }
}

/// Checks the codec against the test vector of the bridge's own codec
/// (`reflow_bridge/src/protocol/tests.rs`, `golden_bytes`), and that it reads back what it
/// writes for every kind of payload.
pub(crate) fn golden_bytes_match_the_bridge() -> bool {
    let frame = DataFrame {
        seq: 1,
        actor: "a".into(),
        port: "in".into(),
        origin: 2,
        payload: Message::Integer(-1),
        trace: None,
    };
    let mut buf = Vec::new();
    encode_batch(std::slice::from_ref(&frame), &mut buf);
    let golden = buf == [VERSION as u8, 1, 9, 1, 1, b'a', 2, b'i', b'n', 2, 2, 1, 0];
    golden && round_trips(frame)
}

fn round_trips(frame: DataFrame) -> bool {
    let payloads = [
        Message::Flow,
        Message::Boolean(true),
        Message::Float(1.5),
        Message::string("é"),
        Message::array([
            Message::Integer(i64::MIN),
            Message::Bytes(Arc::from(&[7u8][..])),
        ]),
        Message::object([("k", Message::error("e"))]),
    ];
    let frames: Vec<DataFrame> = payloads
        .into_iter()
        .map(|payload| DataFrame {
            payload,
            trace: Some(300),
            ..frame.clone()
        })
        .collect();
    let mut buf = Vec::new();
    encode_batch(&frames, &mut buf);
    decode_batch(&buf) == Ok(frames)
}
