//! Why a handshake failed, and what to tell the peer about it.

use crate::protocol::{close, Frame, RefuseReason, PROTOCOL_VERSION};

use super::Identity;

/// A failed handshake. Every error is final: the state machine accepts no further frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HandshakeError {
    /// The peer speaks another protocol version.
    #[error("protocol version mismatch: this instance speaks {ours}, the peer {theirs}")]
    VersionMismatch {
        /// Our version.
        ours: u16,
        /// The peer's version.
        theirs: u16,
    },
    /// A proof did not verify, or this side has no token to verify with.
    #[error("authentication failed: {0}")]
    AuthenticationFailed(String),
    /// The client offered no proof because it has no token.
    #[error("the client has no token configured")]
    MissingToken,
    /// The peer's instance id is already linked, or is this instance's own.
    #[error("duplicate instance `{0}`: already linked, or this instance itself")]
    DuplicateInstance(String),
    /// The server accepts no more links.
    #[error("too many connections")]
    TooManyConnections,
    /// The peer refused the handshake and said why.
    #[error("refused by the peer ({reason}): {detail}")]
    Refused {
        /// The peer's reason.
        reason: RefuseReason,
        /// The peer's explanation.
        detail: String,
    },
    /// A frame arrived that the handshake does not allow at that point, or a malformed claim.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl HandshakeError {
    /// The refusal reason this error stands for (the peer's own for `Refused`).
    pub(crate) fn reason(&self) -> RefuseReason {
        match self {
            HandshakeError::VersionMismatch { .. } => RefuseReason::VersionMismatch,
            HandshakeError::AuthenticationFailed(_) => RefuseReason::AuthenticationFailed,
            HandshakeError::MissingToken => RefuseReason::MissingToken,
            HandshakeError::DuplicateInstance(_) => RefuseReason::DuplicateInstance,
            HandshakeError::TooManyConnections => RefuseReason::TooManyConnections,
            HandshakeError::Refused { reason, .. } => *reason,
            HandshakeError::Protocol(_) => RefuseReason::Protocol,
        }
    }

    /// The `Refuse` frame to send the peer before closing, or `None` when the peer is the
    /// one that refused.
    pub(crate) fn refusal(&self) -> Option<Frame> {
        let detail = match self {
            HandshakeError::Refused { .. } => return None,
            HandshakeError::AuthenticationFailed(detail) | HandshakeError::Protocol(detail) => {
                detail.clone()
            }
            other => other.to_string(),
        };
        Some(Frame::Refuse {
            reason: self.reason(),
            detail,
        })
    }

    /// The WebSocket close code to close the connection with.
    pub(crate) fn close_code(&self) -> u16 {
        match self {
            HandshakeError::Refused { .. } => close::NORMAL,
            other => other.reason().close_code(),
        }
    }

    /// The error for a version other than ours.
    pub(super) fn version(theirs: u16) -> Self {
        HandshakeError::VersionMismatch {
            ours: PROTOCOL_VERSION,
            theirs,
        }
    }

    /// The error for a peer the caller's admission hook turned away.
    pub(super) fn admission(reason: RefuseReason, peer: &Identity) -> Self {
        let detail = || format!("refused by the admission policy ({reason})");
        match reason {
            RefuseReason::DuplicateInstance => {
                HandshakeError::DuplicateInstance(peer.instance_id.clone())
            }
            RefuseReason::TooManyConnections => HandshakeError::TooManyConnections,
            RefuseReason::MissingToken => HandshakeError::MissingToken,
            RefuseReason::VersionMismatch | RefuseReason::Protocol => {
                HandshakeError::Protocol(detail())
            }
            RefuseReason::AuthenticationFailed => HandshakeError::AuthenticationFailed(detail()),
        }
    }
}
