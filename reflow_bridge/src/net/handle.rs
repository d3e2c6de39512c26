//! The shared face of a link: the handle that proxies, exported actors and the hub send
//! with, the connections handed to it, and what its driver owns. Used by every task of a
//! link; knows none of them.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use super::replay::ReplayBuffer;
use super::state::{LinkId, LinkState, LinkStats};
use super::wire::{WireSink, WireStream};
use crate::error::BridgeError;
use crate::protocol::Frame;
use crate::session::Peer;

/// One connection of a link, after the handshake and the `Resume` exchange.
pub(crate) struct Connection {
    pub(crate) sink: WireSink,
    pub(crate) stream: WireStream,
    /// Whether this side dialled it (and so redials when it is lost).
    pub(crate) dialed_by_us: bool,
    /// The address dialled, or the peer's socket address.
    pub(crate) address: String,
    /// The highest sequence number the peer says it received from us.
    pub(crate) peer_received: u64,
    /// The peer's receive window.
    pub(crate) peer_window: u32,
    /// Our `Resume`, when the peer still waits for it: the accepting side settles the link
    /// before answering, so that a client never finds itself linked to a server that is not.
    pub(crate) greeting: Option<Frame>,
}

/// A cloneable way to send on a link and to close it.
#[derive(Debug, Clone)]
pub(crate) struct LinkHandle {
    pub(crate) id: LinkId,
    pub(crate) peer: Arc<Peer>,
    /// The session id both sides agreed on.
    pub(crate) session: u64,
    pub(crate) stats: Arc<LinkStats>,
    pub(crate) state: Arc<LinkState>,
    outbox: mpsc::Sender<Frame>,
    attach: mpsc::Sender<Connection>,
    close: Arc<watch::Sender<Option<(u16, String)>>>,
}

impl LinkHandle {
    /// Queues a frame; waits while the outbox is full (backpressure), also while the link
    /// is between connections.
    pub(crate) async fn send(&self, frame: Frame) -> Result<(), BridgeError> {
        self.outbox
            .send(frame)
            .await
            .map_err(|_| BridgeError::LinkClosed(self.peer.identity.network_id.clone()))
    }

    /// Queues a frame if there is room now.
    pub(crate) fn try_send(&self, frame: Frame) -> bool {
        self.outbox.try_send(frame).is_ok()
    }

    /// Frames queued and not yet written.
    pub(crate) fn queue_depth(&self) -> usize {
        self.outbox.max_capacity() - self.outbox.capacity()
    }

    /// Sequenced frames sent and not yet acknowledged by the peer.
    pub(crate) fn unacked(&self) -> u64 {
        self.state.unacked_sent()
    }

    /// Whether a connection is attached now.
    pub(crate) fn is_connected(&self) -> bool {
        self.state.is_connected()
    }

    /// Whether the link has ended for good.
    pub(crate) fn is_closed(&self) -> bool {
        self.state.is_closed() || self.outbox.is_closed()
    }

    /// Asks the link to write what is queued, send a Close with `code`, and end for good.
    pub(crate) fn close(&self, code: u16, reason: &str) {
        let _ = self.close.send(Some((code, reason.to_string())));
    }

    /// Hands a new connection of this session to the link; it replaces the current one.
    pub(crate) fn attach(&self, connection: Connection) -> Result<(), BridgeError> {
        self.attach
            .try_send(connection)
            .map_err(|_| BridgeError::LinkClosed(self.peer.identity.network_id.clone()))
    }
}

/// What the driver owns: the send side of the session and its channels.
pub(crate) struct Outbound {
    pub(crate) outbox: mpsc::Receiver<Frame>,
    pub(crate) attach: mpsc::Receiver<Connection>,
    pub(crate) close: watch::Receiver<Option<(u16, String)>>,
    pub(crate) replay: ReplayBuffer,
    /// The peer's receive window, from its latest `Resume`.
    pub(crate) peer_window: u32,
    /// Frames taken from the outbox and held back behind a frame split into parts (the
    /// parts first): sent, as the window allows, before anything more is taken.
    pub(crate) pending: VecDeque<Frame>,
}

/// A fresh link's handle and what its driver owns, for `peer` in `session`; `capacity` is
/// the outbox's, `peer_window` the peer's receive window.
pub(crate) fn channels(
    id: LinkId,
    peer: Peer,
    session: u64,
    stats: LinkStats,
    capacity: usize,
    peer_window: u32,
) -> (LinkHandle, Outbound) {
    let (outbox_tx, outbox) = mpsc::channel(capacity);
    let (attach_tx, attach) = mpsc::channel(4);
    let (close_tx, close) = watch::channel(None);
    let handle = LinkHandle {
        id,
        peer: Arc::new(peer),
        session,
        stats: Arc::new(stats),
        state: Arc::default(),
        outbox: outbox_tx,
        attach: attach_tx,
        close: Arc::new(close_tx),
    };
    let out = Outbound {
        outbox,
        attach,
        close,
        replay: ReplayBuffer::default(),
        peer_window,
        pending: VecDeque::new(),
    };
    (handle, out)
}
