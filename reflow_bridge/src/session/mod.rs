//! Opening a link: who the peer is, and proof that it holds the shared token. The handshake
//! is two pure state machines (client and server) fed with frames and told what to send back;
//! the socket code drives them. See `docs/protocol.md` for the sequence.

mod error;
mod handshake;
mod proof;

pub(crate) use error::HandshakeError;
pub(crate) use handshake::{ClientHandshake, ServerHandshake, Step};
pub(crate) use proof::{fresh_nonce, Token};

/// The longest network id, instance id or incarnation a peer may claim, in bytes.
pub(crate) const MAX_ID_LEN: usize = 256;

/// Who an instance is: the triple each side announces in the handshake.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Identity {
    /// The network the instance belongs to (the `network` of `actor@network`).
    pub(crate) network_id: String,
    /// The instance's stable id, unique among linked instances.
    pub(crate) instance_id: String,
    /// Fresh at every start of the process: tells a restart from a reconnect.
    pub(crate) incarnation: String,
}

impl Identity {
    /// An identity from its three ids.
    pub(crate) fn new(
        network_id: impl Into<String>,
        instance_id: impl Into<String>,
        incarnation: impl Into<String>,
    ) -> Self {
        Identity {
            network_id: network_id.into(),
            instance_id: instance_id.into(),
            incarnation: incarnation.into(),
        }
    }

    /// Checks the ids a peer claims: each non-empty and at most `MAX_ID_LEN` bytes.
    fn check(&self) -> Result<(), String> {
        let fields = [
            ("network id", &self.network_id),
            ("instance id", &self.instance_id),
            ("incarnation", &self.incarnation),
        ];
        for (what, value) in fields {
            if value.is_empty() {
                return Err(format!("empty {what}"));
            }
            if value.len() > MAX_ID_LEN {
                return Err(format!("{what} longer than {MAX_ID_LEN} bytes"));
            }
        }
        Ok(())
    }
}

/// What an instance accepts from its peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    /// The largest WebSocket message, in bytes, this instance reads.
    pub(crate) max_message: u32,
    /// The largest message (one frame, joined from its parts), in bytes, it accepts.
    pub(crate) max_payload: u32,
}

impl Limits {
    /// The smallest `max_message` a peer may announce: below it, not even the handshake and
    /// a modest export list would fit.
    pub(crate) const MIN_MAX_MESSAGE: u32 = 1024;
}

/// The other end of an authenticated link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Peer {
    /// Who it is.
    pub(crate) identity: Identity,
    /// What it accepts: never send it a message larger than `limits.max_message`.
    pub(crate) limits: Limits,
}

#[cfg(test)]
mod tests;
