//! The wire format of the bridge: the frames two instances exchange and the envelope that
//! batches them into one WebSocket binary message. Pure data and codec, no I/O; the format is
//! specified in `docs/protocol.md`.

mod codec;
mod frame;
mod payload;

#[cfg(test)]
pub(crate) use codec::decode;
pub(crate) use codec::{decode_limited, encode, encode_into, DecodeError, EncodeError};
#[cfg(test)]
pub(crate) use frame::KIND_COUNT;
pub(crate) use frame::{ExportedActor, Frame, Nonce, RefuseReason};
#[cfg(test)]
pub(crate) use payload::MAX_DEPTH;

/// The protocol version this build speaks, first in every envelope and in the handshake.
pub(crate) const PROTOCOL_VERSION: u16 = 4;

/// Messages of one proxy session that may be sent, in each direction, and not yet consumed
/// by the other side (see `Frame::Credit`).
pub(crate) const SESSION_WINDOW: u64 = 1024;

/// The WebSocket close codes the bridge uses (RFC 6455, section 7.4.1).
pub(crate) mod close {
    /// Normal closure: a refused side closes after reading the peer's `Refuse`.
    pub(crate) const NORMAL: u16 = 1000;
    /// The instance is shutting down (after a `Bye`).
    pub(crate) const GOING_AWAY: u16 = 1001;
    /// Protocol error: unsupported version, unknown frame kind, frame out of order.
    pub(crate) const PROTOCOL_ERROR: u16 = 1002;
    /// Unsupported data: a text message, which the protocol never uses.
    pub(crate) const UNSUPPORTED_DATA: u16 = 1003;
    /// Malformed payload: a message that does not decode.
    pub(crate) const INVALID_PAYLOAD: u16 = 1007;
    /// Policy violation: authentication failed, missing token, duplicate instance, too many
    /// connections.
    pub(crate) const POLICY_VIOLATION: u16 = 1008;
    /// Message too big: over the size limit, or too many frames in one message.
    pub(crate) const TOO_BIG: u16 = 1009;
    /// Internal error: this side could not encode what it had to send.
    pub(crate) const INTERNAL_ERROR: u16 = 1011;
    /// Private use: this connection ends but the link session lives on; the dialling side
    /// reconnects and both resume where they were.
    pub(crate) const RECONNECT: u16 = 4000;
}

/// The decoder fuzz: mutated valid batches, as many cases as `REFLOW_FUZZ_CASES` asks.
#[cfg(test)]
mod fuzz;

/// Tests, and sample frames the session tests reuse.
#[cfg(test)]
pub(crate) mod tests;
