//! The envelope: one WebSocket binary message holds the protocol version followed by a
//! postcard `Vec<Frame>`, so that a batch of frames costs one write and one syscall.

use postcard::ser_flavors::Flavor;

use super::frame::{Frame, KIND_COUNT};
use super::payload::MAX_DEPTH;
use super::{close, PROTOCOL_VERSION};

/// Why a binary message could not be decoded into frames.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    /// The message has no bytes at all.
    #[error("empty message")]
    Empty,
    /// The envelope is of another protocol version.
    #[error("unsupported protocol version {0} (this instance speaks {PROTOCOL_VERSION})")]
    UnsupportedVersion(u16),
    /// A frame of a kind this version does not know (its variant index); the rest of the
    /// message cannot be read past it, so the whole message is rejected.
    #[error("frame {frame}: unknown frame kind {kind}")]
    UnknownKind {
        /// The position of the frame in the batch.
        frame: usize,
        /// The variant index found on the wire.
        kind: u32,
    },
    /// The batch holds more frames than the caller allows.
    #[error("{count} frames in one message, at most {max} allowed")]
    TooManyFrames {
        /// The count announced by the envelope.
        count: u64,
        /// The caller's limit.
        max: usize,
    },
    /// Anything else: truncated, bad varint, bad UTF-8, unknown variant of a nested enum,
    /// a payload nested deeper than allowed, trailing bytes. The text says where and what.
    #[error("malformed message: {0}")]
    Malformed(String),
}

impl DecodeError {
    /// The WebSocket close code to answer this error with.
    pub(crate) fn close_code(&self) -> u16 {
        match self {
            DecodeError::UnsupportedVersion(_) | DecodeError::UnknownKind { .. } => {
                close::PROTOCOL_ERROR
            }
            DecodeError::TooManyFrames { .. } => close::TOO_BIG,
            DecodeError::Empty | DecodeError::Malformed(_) => close::INVALID_PAYLOAD,
        }
    }
}

/// Why frames could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EncodeError {
    /// The payload of the frame at index `frame` nests deeper than the peer would accept.
    #[error("frame {frame}: payload nests deeper than {MAX_DEPTH} levels")]
    TooDeep {
        /// The position of the offending frame in the slice given to `encode`.
        frame: usize,
    },
    /// postcard refused the frame at index `frame` (not expected for these types).
    #[error("frame {frame} could not be encoded: {detail}")]
    Serialize {
        /// The position of the offending frame.
        frame: usize,
        /// postcard's error text.
        detail: String,
    },
}

/// Encodes `frames` as one envelope into `buf`, replacing its content; reuse `buf` across
/// calls to avoid allocating. On error `buf` is left empty.
pub(crate) fn encode_into(frames: &[Frame], buf: &mut Vec<u8>) -> Result<(), EncodeError> {
    buf.clear();
    let result = write_envelope(frames, buf);
    if result.is_err() {
        buf.clear();
    }
    result
}

/// Encodes `frames` as one envelope in a new buffer.
pub(crate) fn encode(frames: &[Frame]) -> Result<Vec<u8>, EncodeError> {
    let mut buf = Vec::with_capacity(64 * frames.len().max(1));
    encode_into(frames, &mut buf)?;
    Ok(buf)
}

/// Appends the envelope of `frames` to `buf`.
fn write_envelope(frames: &[Frame], buf: &mut Vec<u8>) -> Result<(), EncodeError> {
    // The envelope is exactly postcard's `(u16, Vec<Frame>)`; writing the frames one by one
    // lets an error name the frame that caused it.
    let header = (PROTOCOL_VERSION, frames.len() as u64);
    postcard::serialize_with_flavor(&header, VecFlavor(buf)).map_err(|e| serialize_error(0, e))?;
    for (index, frame) in frames.iter().enumerate() {
        postcard::serialize_with_flavor(frame, VecFlavor(buf))
            .map_err(|e| serialize_error(index, e))?;
    }
    Ok(())
}

/// Names the frame that failed, and recognises the depth limit.
fn serialize_error(frame: usize, error: postcard::Error) -> EncodeError {
    match error {
        // The only custom error our types raise is the payload depth limit.
        postcard::Error::SerdeSerCustom => EncodeError::TooDeep { frame },
        other => EncodeError::Serialize {
            frame,
            detail: other.to_string(),
        },
    }
}

/// A postcard output that appends to a borrowed `Vec`, so the caller's buffer is reused.
struct VecFlavor<'a>(&'a mut Vec<u8>);

impl Flavor for VecFlavor<'_> {
    type Output = ();

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Decodes one envelope into its frames, however many. The bridge itself always bounds the
/// count with [`decode_limited`].
#[cfg(test)]
pub(crate) fn decode(bytes: &[u8]) -> Result<Vec<Frame>, DecodeError> {
    decode_limited(bytes, usize::MAX)
}

/// Decodes one envelope, refusing it before decoding any frame when it announces more than
/// `max_frames` frames. Never panics, whatever the bytes.
pub(crate) fn decode_limited(bytes: &[u8], max_frames: usize) -> Result<Vec<Frame>, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let (version, rest) = postcard::take_from_bytes::<u16>(bytes)
        .map_err(|e| DecodeError::Malformed(format!("protocol version: {}", plain(e))))?;
    if version != PROTOCOL_VERSION {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    let (count, mut rest) = postcard::take_from_bytes::<u64>(rest)
        .map_err(|e| DecodeError::Malformed(format!("frame count: {}", plain(e))))?;
    let too_many = DecodeError::TooManyFrames {
        count,
        max: max_frames,
    };
    let count = usize::try_from(count).map_err(|_| too_many.clone())?;
    if count > max_frames {
        return Err(too_many);
    }
    // Every frame takes at least one byte: a larger count is a lie, not a reason to allocate.
    if count > rest.len() {
        return Err(DecodeError::Malformed(format!(
            "{count} frames announced in {} bytes",
            rest.len()
        )));
    }
    let mut frames = Vec::with_capacity(count);
    for index in 0..count {
        let (frame, tail) = take_frame(rest, index)?;
        frames.push(frame);
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(DecodeError::Malformed(format!(
            "{} trailing bytes after the last frame",
            rest.len()
        )));
    }
    Ok(frames)
}

/// Decodes the frame at the start of `bytes`, after checking its kind is one we know:
/// postcard reports an unknown variant index as an anonymous custom error, so the index is
/// read here first to tell that case apart.
fn take_frame(bytes: &[u8], index: usize) -> Result<(Frame, &[u8]), DecodeError> {
    let (kind, _) = postcard::take_from_bytes::<u32>(bytes)
        .map_err(|e| DecodeError::Malformed(format!("frame {index}: kind: {}", plain(e))))?;
    if kind >= KIND_COUNT {
        return Err(DecodeError::UnknownKind { frame: index, kind });
    }
    postcard::take_from_bytes::<Frame>(bytes).map_err(|e| {
        let why = match e {
            postcard::Error::SerdeDeCustom => format!(
                "an unknown variant of a nested enum, or a payload nested deeper than \
                 {MAX_DEPTH} levels"
            ),
            other => plain(other),
        };
        DecodeError::Malformed(format!("frame {index} (kind {kind}): {why}"))
    })
}

/// What a postcard decoding error means for the bytes of a message, in words that make
/// sense in a close reason or a log without knowing postcard.
fn plain(err: postcard::Error) -> String {
    use postcard::Error as E;
    match err {
        E::DeserializeUnexpectedEnd => "the message ends in the middle of a value".into(),
        E::DeserializeBadVarint => "a number is not validly encoded (too long)".into(),
        E::DeserializeBadBool => "a boolean is neither 0 nor 1".into(),
        E::DeserializeBadChar => "a character is not valid".into(),
        E::DeserializeBadUtf8 => "a string is not valid utf-8".into(),
        E::DeserializeBadOption => "an optional value is neither 0 nor 1".into(),
        E::DeserializeBadEnum => "an unknown variant of an enum".into(),
        E::DeserializeBadEncoding => "a value is not validly encoded".into(),
        other => format!("cannot be decoded ({other})"),
    }
}
