//! After the handshake, on every connection: both sides send `Resume` saying which session
//! they hold with this peer incarnation and how far they received (the dialling side first),
//! then each decides, the same way on both sides, whether the connection resumes that
//! session or starts a fresh one.

use std::sync::Arc;
use std::time::Duration;

use super::handle::{Connection, LinkHandle};
use super::handshake::{recv, send};
use super::wire::{WireSink, WireStream};
use crate::error::BridgeError;
use crate::hub::Hub;
use crate::protocol::Frame;
use crate::session::Peer;

/// How long the peer has to send its `Resume`.
const RESUME_DEADLINE: Duration = Duration::from_secs(10);

/// What one side says in its `Resume`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Offer {
    /// The session held with the peer incarnation, 0 for none.
    pub(crate) session: u64,
    /// The highest sequence number received in it.
    pub(crate) received: u64,
    /// The receive window.
    pub(crate) window: u32,
    /// Random, for the id of a fresh session.
    pub(crate) salt: u64,
}

impl Offer {
    fn frame(self) -> Frame {
        Frame::Resume {
            session: self.session,
            received: self.received,
            window: self.window,
            salt: self.salt,
        }
    }
}

/// What both offers decide, the same on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Both hold this session: the connection resumes it.
    Resume(u64),
    /// Anything else: a fresh session with this id; any older one is given up.
    Fresh(u64),
}

/// Decides from both offers; symmetric, so both sides agree.
pub(crate) fn decide(mine: Offer, theirs: Offer) -> Decision {
    if mine.session != 0 && mine.session == theirs.session {
        return Decision::Resume(mine.session);
    }
    Decision::Fresh((mine.salt ^ theirs.salt) | 1)
}

/// Settles two connections that completed at once between the same two instances, each
/// starting a fresh session (`existing` is already a link, `new` has just been agreed).
/// Returns whether to keep the existing one and drop the new one.
///
/// Both sides apply the same rule to the same pair of session ids, whichever of the two
/// connections each side settled first, so both keep the same link: the larger session id.
pub(crate) fn keep_existing(existing_session: u64, new_session: u64) -> bool {
    existing_session > new_session
}

/// Exchanges `Resume` with an authenticated peer, then resumes or creates its link.
pub(crate) async fn establish(
    hub: &Arc<Hub>,
    mut sink: WireSink,
    mut stream: WireStream,
    peer: Peer,
    dialed_by_us: bool,
    address: String,
) -> Result<LinkHandle, BridgeError> {
    let held = hub.session_with(&peer.identity);
    let mine = Offer {
        session: held.as_ref().map_or(0, |l| l.session),
        received: held.as_ref().map_or(0, |l| l.state.received()),
        window: hub.config.link_window,
        salt: rand::random(),
    };
    // The dialling side speaks first; the accepting side answers once it has settled.
    if dialed_by_us {
        send(&mut sink, mine.frame()).await?;
    }
    let theirs = their_offer(&mut stream, hub).await?;
    let decision = decide(mine, theirs);
    let connection = Connection {
        sink,
        stream,
        dialed_by_us,
        address,
        peer_received: match decision {
            Decision::Resume(_) => theirs.received,
            Decision::Fresh(_) => 0,
        },
        peer_window: theirs.window.max(1),
        greeting: (!dialed_by_us).then(|| mine.frame()),
    };
    hub.settle(peer, decision, connection)
}

/// Reads the peer's `Resume`, within the deadline.
async fn their_offer(stream: &mut WireStream, hub: &Hub) -> Result<Offer, BridgeError> {
    let frame = tokio::time::timeout(RESUME_DEADLINE, recv(stream, hub.max_message_bytes()))
        .await
        .map_err(|_| BridgeError::Protocol("the peer sent no Resume in time".into()))??;
    match frame {
        Frame::Resume {
            session,
            received,
            window,
            salt,
        } => Ok(Offer {
            session,
            received,
            window,
            salt,
        }),
        other => Err(BridgeError::Protocol(format!(
            "expected Resume after the handshake, got {}",
            other.kind()
        ))),
    }
}

#[cfg(test)]
mod tests;
