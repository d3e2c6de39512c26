//! The frames two instances exchange over a link: the handshake and link control, and the
//! data plane that carries messages to exported actors and their replies back.

use std::sync::Arc;

use reflow_network::Message;
use serde::{Deserialize, Serialize};

use super::payload;

/// A handshake nonce: 32 random bytes, fresh for every connection attempt.
pub(crate) type Nonce = [u8; 32];

/// How many kinds of frame this protocol version knows; a variant index at or above it is an
/// unknown kind (see `DecodeError::UnknownKind`).
pub(crate) const KIND_COUNT: u32 = 19;

/// One unit of the wire protocol. The variant order is the wire encoding: never reorder, only
/// append (and appending a kind means bumping `PROTOCOL_VERSION`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Frame {
    /// Client to server, first frame of a link: who the client is and its client nonce.
    Hello {
        /// The protocol version the client speaks.
        version: u16,
        /// The client's network id.
        network_id: String,
        /// The client's stable instance id.
        instance_id: String,
        /// The client's incarnation: fresh at every start of its process.
        incarnation: String,
        /// The client nonce the server must prove the token over.
        nonce: Nonce,
        /// The largest WebSocket message, in bytes, the client accepts.
        max_message: u32,
        /// The largest message (one frame, before it is split into parts), in bytes, the
        /// client accepts.
        max_payload: u32,
    },
    /// Server to client: who the server is, the server nonce, and the server's proof of the
    /// token over both nonces and both identities.
    Challenge {
        /// The protocol version the server speaks.
        version: u16,
        /// The server's network id.
        network_id: String,
        /// The server's stable instance id.
        instance_id: String,
        /// The server's incarnation.
        incarnation: String,
        /// The server nonce the client must prove the token over.
        nonce: Nonce,
        /// HMAC-SHA256 under the shared token, server label (see `docs/protocol.md`).
        proof: Vec<u8>,
        /// The largest WebSocket message, in bytes, the server accepts.
        max_message: u32,
        /// The largest message (one frame, before it is split into parts), in bytes, the
        /// server accepts.
        max_payload: u32,
    },
    /// Client to server: the client's proof, or `None` when the client has no token.
    Response {
        /// HMAC-SHA256 under the shared token, client label.
        proof: Option<Vec<u8>>,
    },
    /// Server to client: the client is authenticated and the link is up.
    Welcome,
    /// Either side: the handshake is refused; the sender closes the connection.
    Refuse {
        /// Why, as a machine-readable reason.
        reason: RefuseReason,
        /// Why, for people.
        detail: String,
    },
    /// The actors this instance exports, with their ports; replaces any earlier list.
    Exports {
        /// Every exported actor.
        actors: Vec<ExportedActor>,
        /// Whether the instance has started: its list is complete, and an actor missing from
        /// it is not coming (before the start, exports may still be added).
        started: bool,
    },
    /// A liveness probe; the peer answers with `HeartbeatAck` carrying the same id.
    Heartbeat {
        /// Chosen by the sender, echoed in the ack.
        id: u64,
    },
    /// The answer to a `Heartbeat`.
    HeartbeatAck {
        /// The id of the heartbeat answered.
        id: u64,
    },
    /// The sender is closing the link on purpose (shutdown): not a failure.
    Bye {
        /// Why, for logs.
        reason: String,
    },
    /// A message for inport `port` of the exported actor `actor`, sent by proxy session
    /// `origin` of the sending instance.
    Data {
        /// Position in the sender's sequence for this link.
        seq: u64,
        /// The exported actor, as the receiving instance names it (shared: a proxy sends the
        /// same name with every message).
        actor: Arc<str>,
        /// The inport of that actor.
        port: Arc<str>,
        /// The proxy session on the sending instance; replies carry it back. Never 0.
        origin: u32,
        /// The message.
        #[serde(with = "payload")]
        payload: Message,
        /// An optional trace id, carried through for correlation.
        trace: Option<u64>,
    },
    /// The input of proxy session `origin` towards `actor` has ended.
    End {
        /// Position in the sender's sequence for this link.
        seq: u64,
        /// The exported actor.
        actor: String,
        /// The proxy session whose input ended.
        origin: u32,
    },
    /// An output of the exported actor `actor` on its outport `port`, going back to proxy
    /// session `origin`; origin 0 is a broadcast to every session that wired that outport.
    Reply {
        /// Position in the sender's sequence for this link.
        seq: u64,
        /// The exported actor that emitted the message.
        actor: String,
        /// The outport it emitted on.
        port: String,
        /// The proxy session the output belongs to, or 0 for all of them.
        origin: u32,
        /// How many of the session's messages the exported actor had finished handling when
        /// it emitted this output: the output belongs to the next one (0 from a shared
        /// export, which does not count).
        handled: u64,
        /// The message.
        #[serde(with = "payload")]
        payload: Message,
    },
    /// Every output of `actor` caused by proxy session `origin` has been sent.
    ReplyEnd {
        /// Position in the sender's sequence for this link.
        seq: u64,
        /// The exported actor.
        actor: String,
        /// The proxy session that is complete.
        origin: u32,
    },
    /// Cumulative acknowledgement: every sequenced frame up to and including `seq` received
    /// from the peer on this link has been delivered.
    Ack {
        /// The highest sequence number delivered, 0 for none.
        seq: u64,
    },
    /// The exported actor `actor` stopped (failed, panicked or finished) while proxy session
    /// `origin` was open: no more outputs will come for it. Ends the session, as `ReplyEnd`
    /// does, but as a failure.
    ReplyError {
        /// Position in the sender's sequence for this link.
        seq: u64,
        /// The exported actor.
        actor: String,
        /// The proxy session that is cut short.
        origin: u32,
        /// Why, for people: the actor's error as its own network reported it.
        error: String,
    },
    /// Both sides, first frame after the handshake on every connection: which link session
    /// the sender holds with this peer incarnation, how far it has received, and how many
    /// unacknowledged frames it accepts. Equal non-zero sessions on both sides resume that
    /// session; anything else starts a fresh one (see `docs/protocol.md`, "Resume").
    Resume {
        /// The session the sender holds with this peer incarnation, 0 for none.
        session: u64,
        /// The highest sequence number received from the peer in that session.
        received: u64,
        /// The receive window: most sequenced frames the peer may have unacknowledged.
        window: u32,
        /// Random; a fresh session's id is the two sides' salts combined.
        salt: u64,
    },
    /// A piece of one sequenced frame too large for a WebSocket message: that frame's
    /// envelope, encoded alone, cut into pieces sent in order, each with its own sequence
    /// number. The receiver joins them and handles the frame when the `last` piece arrives,
    /// as if it had that piece's sequence number (see `docs/protocol.md`, "Large messages").
    Part {
        /// Position in the sender's sequence for this link.
        seq: u64,
        /// Whether this piece completes the frame.
        last: bool,
        /// The piece.
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// In place of a reply of `actor` on `port` for proxy session `origin` that was larger
    /// than the maximum message size, or of a message from that session refused for the same
    /// reason: the proxy handles it by its failure mode.
    TooLarge {
        /// Position in the sender's sequence for this link.
        seq: u64,
        /// The exported actor.
        actor: String,
        /// The proxy session.
        origin: u32,
        /// The port of the message that was refused.
        port: String,
        /// Whether it was a reply (else a message from the proxy).
        reply: bool,
        /// Its size, in bytes, as encoded.
        size: u64,
        /// The maximum it exceeded.
        limit: u64,
    },
    /// Flow control of one proxy session (see `docs/protocol.md`, "Sessions and credit"):
    /// the sender has consumed `consumed` messages of session `origin` so far, in the
    /// direction `reply` says (false: `Data` the exporting side consumed; true: `Reply`s the
    /// proxy's side consumed). Cumulative: a later one replaces an earlier one.
    Credit {
        /// The proxy session.
        origin: u32,
        /// Which direction: replies (true) or data (false).
        reply: bool,
        /// Messages consumed so far in that direction of that session.
        consumed: u64,
    },
}

/// Why a handshake was refused, carried by `Frame::Refuse`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) enum RefuseReason {
    /// The peers speak different protocol versions.
    VersionMismatch,
    /// A token proof did not verify, or the refusing side has no token configured.
    AuthenticationFailed,
    /// The client offered no proof: it has no token configured.
    MissingToken,
    /// An instance with that id is already linked, or the peer is this instance itself.
    DuplicateInstance,
    /// The server accepts no more links.
    TooManyConnections,
    /// A frame arrived that the handshake does not allow at that point.
    Protocol,
}

impl RefuseReason {
    /// A stable lower-case name for logs and metric labels.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RefuseReason::VersionMismatch => "version_mismatch",
            RefuseReason::AuthenticationFailed => "authentication_failed",
            RefuseReason::MissingToken => "missing_token",
            RefuseReason::DuplicateInstance => "duplicate_instance",
            RefuseReason::TooManyConnections => "too_many_connections",
            RefuseReason::Protocol => "protocol",
        }
    }

    /// The WebSocket close code that goes with this refusal.
    pub(crate) fn close_code(self) -> u16 {
        match self {
            RefuseReason::VersionMismatch | RefuseReason::Protocol => super::close::PROTOCOL_ERROR,
            RefuseReason::AuthenticationFailed
            | RefuseReason::MissingToken
            | RefuseReason::DuplicateInstance
            | RefuseReason::TooManyConnections => super::close::POLICY_VIOLATION,
        }
    }
}

impl std::fmt::Display for RefuseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An actor another instance may address as `name@network`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ExportedActor {
    /// The actor's name on the exporting instance.
    pub(crate) name: String,
    /// Its inports.
    pub(crate) inports: Vec<String>,
    /// Its outports.
    pub(crate) outports: Vec<String>,
    /// Its metadata as JSON text (postcard cannot encode a `serde_json::Value`).
    pub(crate) metadata: String,
}

impl ExportedActor {
    /// An exported actor whose metadata is stored as JSON text.
    pub(crate) fn new(
        name: impl Into<String>,
        inports: Vec<String>,
        outports: Vec<String>,
        metadata: &serde_json::Value,
    ) -> Self {
        ExportedActor {
            name: name.into(),
            inports,
            outports,
            metadata: metadata.to_string(),
        }
    }

    #[cfg(test)]
    /// The metadata parsed back into JSON; it comes from the peer, so it may be invalid.
    pub(crate) fn parse_metadata(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_str(&self.metadata)
    }
}

impl Frame {
    /// A stable lower-case name of the frame's kind, for logs and metric labels.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Frame::Hello { .. } => "hello",
            Frame::Challenge { .. } => "challenge",
            Frame::Response { .. } => "response",
            Frame::Welcome => "welcome",
            Frame::Refuse { .. } => "refuse",
            Frame::Exports { .. } => "exports",
            Frame::Heartbeat { .. } => "heartbeat",
            Frame::HeartbeatAck { .. } => "heartbeat_ack",
            Frame::Bye { .. } => "bye",
            Frame::Data { .. } => "data",
            Frame::End { .. } => "end",
            Frame::Reply { .. } => "reply",
            Frame::ReplyEnd { .. } => "reply_end",
            Frame::Ack { .. } => "ack",
            Frame::ReplyError { .. } => "reply_error",
            Frame::Resume { .. } => "resume",
            Frame::Part { .. } => "part",
            Frame::TooLarge { .. } => "too_large",
            Frame::Credit { .. } => "credit",
        }
    }

    #[cfg(test)]
    /// Whether this frame controls the link rather than carrying sequenced data: control
    /// frames have no `seq` and are never replayed.
    pub(crate) fn is_control(&self) -> bool {
        self.seq().is_none()
    }

    /// The session a message or its end belongs to (`Data`, `End`).
    pub(crate) fn origin(&self) -> Option<u32> {
        match self {
            Frame::Data { origin, .. } | Frame::End { origin, .. } => Some(*origin),
            _ => None,
        }
    }

    /// The sequence number of a data frame (`Data`, `End`, `Reply`, `ReplyEnd`,
    /// `ReplyError`).
    pub(crate) fn seq(&self) -> Option<u64> {
        match self {
            Frame::Data { seq, .. }
            | Frame::End { seq, .. }
            | Frame::Reply { seq, .. }
            | Frame::ReplyEnd { seq, .. }
            | Frame::ReplyError { seq, .. }
            | Frame::Part { seq, .. }
            | Frame::TooLarge { seq, .. } => Some(*seq),
            _ => None,
        }
    }

    /// Whether this frame belongs to the handshake (`Hello` to `Welcome`, and `Refuse`): the
    /// only frames read before the peer is authenticated.
    pub(crate) fn is_handshake(&self) -> bool {
        matches!(
            self,
            Frame::Hello { .. }
                | Frame::Challenge { .. }
                | Frame::Response { .. }
                | Frame::Welcome
                | Frame::Refuse { .. }
        )
    }
}
