//! Messages larger than one WebSocket message: the sender encodes the frame alone and cuts
//! it into `Part` frames, each sequenced (acknowledged and replayed like any frame); the
//! receiver joins them and handles the frame when the last one arrives. A frame larger than
//! the maximum message size is not sent: it is refused where its session can hear of it.

use crate::protocol::{self, close, EncodeError, Frame};

use super::exit::Exit;
use super::replay::seq_slot;

/// Room left in a WebSocket message for the envelope and `Part` fields around a piece, and
/// for the acknowledgement that may ride along.
const PART_OVERHEAD: usize = 64;

/// The largest piece: small enough that the window in bytes holds several, so that parts
/// flow while earlier ones are acknowledged.
const MAX_PIECE: usize = 1 << 20;

/// The frame encoded alone, as its parts carry it (its sequence number left at 0: the
/// receiver gives it the last part's).
pub(crate) fn encode_alone(mut frame: Frame) -> Result<(Frame, Vec<u8>), EncodeError> {
    if let Some(seq) = seq_slot(&mut frame) {
        *seq = 0;
    }
    let mut whole = Vec::new();
    protocol::encode_into(std::slice::from_ref(&frame), &mut whole)?;
    Ok((frame, whole))
}

/// Cuts an encoded frame into parts that each fit in a WebSocket message of `limit` bytes.
pub(crate) fn cut(whole: &[u8], limit: usize) -> Vec<Frame> {
    let piece = limit.saturating_sub(PART_OVERHEAD).clamp(1, MAX_PIECE);
    let count = whole.len().div_ceil(piece);
    whole
        .chunks(piece)
        .enumerate()
        .map(|(i, bytes)| Frame::Part {
            seq: 0,
            last: i + 1 == count,
            bytes: bytes.to_vec(),
        })
        .collect()
}

/// What becomes of a frame over the maximum message size.
pub(crate) enum Refusal {
    /// A message from a local proxy session: that proxy hears of it.
    Local {
        origin: u32,
        port: String,
        size: u64,
        limit: u64,
    },
    /// A reply: the peer's proxy hears of it through this frame, sent in its place.
    Send(Frame),
    /// Any other frame (a session's end or error never gets this large): dropped, counted.
    Drop(&'static str),
}

/// How a frame of `size` bytes over `limit` is refused.
pub(crate) fn refuse(frame: Frame, size: usize, limit: usize) -> Refusal {
    let (size, limit) = (size as u64, limit as u64);
    match frame {
        Frame::Data { origin, port, .. } => Refusal::Local {
            origin,
            port: port.to_string(),
            size,
            limit,
        },
        Frame::Reply {
            actor,
            port,
            origin,
            ..
        } => Refusal::Send(Frame::TooLarge {
            seq: 0,
            actor,
            origin,
            port,
            reply: true,
            size,
            limit,
        }),
        other => Refusal::Drop(other.kind()),
    }
}

/// Adds a piece to `partial`, the pieces received so far (kept with the link, so that a
/// resumed connection goes on from the next part); with the last one, returns the joined
/// frame, numbered `seq`. Joined data over `max` bytes, or that is not one sequenced frame,
/// is the peer's error.
pub(crate) fn join(
    partial: &mut Vec<u8>,
    seq: u64,
    piece: &[u8],
    last: bool,
    max: usize,
) -> Result<Option<Frame>, Exit> {
    if partial.len() + piece.len() > max {
        partial.clear();
        let reason = format!("a message in parts exceeds the maximum of {max} bytes");
        return Err(Exit::Rejected(close::TOO_BIG, reason));
    }
    partial.extend_from_slice(piece);
    if !last {
        return Ok(None);
    }
    let whole = std::mem::take(partial);
    let frame = joined(&whole, seq).map_err(|reason| {
        Exit::Rejected(
            close::PROTOCOL_ERROR,
            format!("a message in parts: {reason}"),
        )
    })?;
    Ok(Some(frame))
}

/// The one sequenced frame (not itself a part) that `whole` encodes, numbered `seq`.
fn joined(whole: &[u8], seq: u64) -> Result<Frame, String> {
    let mut frames = protocol::decode_limited(whole, 1).map_err(|e| e.to_string())?;
    let mut frame = frames.pop().ok_or("no frame")?;
    if matches!(frame, Frame::Part { .. }) {
        return Err("a part inside a part".into());
    }
    let slot = seq_slot(&mut frame).ok_or("not a sequenced frame")?;
    *slot = seq;
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reflow_network::Message;

    fn data(text: String) -> Frame {
        Frame::Data {
            seq: 7,
            actor: "relay".into(),
            port: "in".into(),
            origin: 3,
            payload: Message::from(text),
            trace: None,
        }
    }

    #[test]
    fn parts_join_into_the_frame_numbered_as_the_last_part() {
        let frame = data("x".repeat(10_000));
        let (_, whole) = encode_alone(frame.clone()).unwrap();
        let parts = cut(&whole, 1024);
        assert_eq!(parts.len(), whole.len().div_ceil(1024 - PART_OVERHEAD));
        let mut partial = Vec::new();
        let mut joined = None;
        for (i, part) in parts.into_iter().enumerate() {
            let Frame::Part { last, bytes, .. } = part else {
                panic!("not a part")
            };
            joined = join(&mut partial, 100 + i as u64, &bytes, last, 1 << 20).unwrap();
            assert_eq!(joined.is_some(), last);
        }
        let Some(Frame::Data { seq, payload, .. }) = joined else {
            panic!("not joined")
        };
        assert!(seq > 100);
        assert_eq!(payload, Message::from("x".repeat(10_000)));
    }

    #[test]
    fn joining_more_than_the_maximum_is_refused() {
        let mut partial = Vec::new();
        assert!(join(&mut partial, 1, &[0; 600], false, 1000)
            .unwrap()
            .is_none());
        let refused = join(&mut partial, 2, &[0; 600], true, 1000).unwrap_err();
        assert!(matches!(refused, Exit::Rejected(close::TOO_BIG, _)));
    }

    #[test]
    fn a_last_part_that_is_not_a_frame_is_a_protocol_error() {
        let refused = join(&mut Vec::new(), 1, &[1, 2, 3], true, 1000).unwrap_err();
        assert!(matches!(refused, Exit::Rejected(close::PROTOCOL_ERROR, _)));
    }

    #[test]
    fn an_oversized_reply_is_replaced_and_an_oversized_message_refused_locally() {
        let reply = Frame::Reply {
            seq: 1,
            actor: "a".into(),
            port: "out".into(),
            origin: 4,
            handled: 0,
            payload: Message::Integer(1),
        };
        let Refusal::Send(Frame::TooLarge { origin, size, .. }) = refuse(reply, 10, 5) else {
            panic!("not replaced")
        };
        assert_eq!((origin, size), (4, 10));
        let refusal = refuse(data(String::new()), 10, 5);
        assert!(matches!(refusal, Refusal::Local { origin: 3, .. }));
    }
}
