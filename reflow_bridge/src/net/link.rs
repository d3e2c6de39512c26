//! A link is a session with one peer incarnation that outlives its connections: its outbox,
//! sequence numbers, replay buffer and inbound queue stay while connections come and go.
//! One driver task per link owns them and runs one connection at a time; when a connection
//! is lost the link waits for the next one (redialling if it dialled the last one) until
//! `resume_timeout`, then gives up and reports what was lost.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, watch, Notify};

use super::connection::{self, Ended};
use super::replay::ReplayBuffer;
use super::wire::{WireSink, WireStream};
use super::{deliver, redial, Exit};
use crate::error::BridgeError;
use crate::events::BridgeEvent;
use crate::hub::Hub;
use crate::protocol::Frame;
use crate::session::Peer;

/// Identifies a link for the lifetime of the process.
pub(crate) type LinkId = u64;

/// Counters of one link.
#[derive(Debug, Default)]
pub(crate) struct LinkStats {
    pub(crate) messages_in: AtomicU64,
    pub(crate) messages_out: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    /// Round trip of the last heartbeat, in microseconds (0 before the first).
    pub(crate) latency_us: AtomicU64,
    /// When the peer was last heard from (any message), in the hub's microseconds.
    pub(crate) last_seen_us: AtomicU64,
    /// Connections that resumed this link after the first.
    pub(crate) resumes: AtomicU64,
    /// Frames sent again on a resumed connection.
    pub(crate) replayed: AtomicU64,
}

/// What the reader, the writer and the delivery task of a link tell each other.
#[derive(Debug, Default)]
pub(crate) struct LinkState {
    /// Highest sequence number accepted from the peer (queued for delivery).
    pub(crate) received: AtomicU64,
    /// Highest sequence number delivered to its actor or proxy.
    pub(crate) delivered: AtomicU64,
    /// Frames queued for the delivery task and not yet delivered: while there are any, the
    /// reader may not deliver on its own (order).
    pub(crate) queued: AtomicU64,
    /// Highest sequence number we acknowledged to the peer.
    pub(crate) ack_sent: AtomicU64,
    /// Highest sequence number the peer acknowledged.
    pub(crate) peer_acked: AtomicU64,
    /// Highest sequence number given to a frame (kept for replay, sent or about to be).
    pub(crate) sent: AtomicU64,
    /// Whether the writer waits for acknowledgements to free room in the window: only then
    /// does an incoming `Ack` wake it (otherwise the writer applies it at its next step).
    pub(crate) window_full: AtomicBool,
    /// A heartbeat id to answer, 0 for none.
    pub(crate) pong: AtomicU64,
    /// Wakes the writer: an ack to send, room in the window, a heartbeat to answer.
    pub(crate) wake: Notify,
    /// Whether a connection is attached.
    pub(crate) connected: AtomicBool,
    /// Whether the link has ended for good.
    pub(crate) closed: AtomicBool,
    /// The parts received so far of a frame sent in parts.
    pub(crate) assembly: parking_lot::Mutex<super::parts::Assembly>,
}

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
        let sent = self.state.sent.load(Ordering::Acquire);
        sent.saturating_sub(self.state.peer_acked.load(Ordering::Acquire))
    }

    /// Whether a connection is attached now.
    pub(crate) fn is_connected(&self) -> bool {
        self.state.connected.load(Ordering::Acquire)
    }

    /// Whether the link has ended for good.
    pub(crate) fn is_closed(&self) -> bool {
        self.state.closed.load(Ordering::Acquire) || self.outbox.is_closed()
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

/// Creates the link of a fresh session on `connection`, and starts its driver and its
/// delivery task. `register` records it in the hub before any frame is read.
pub(crate) fn spawn(
    hub: &Arc<Hub>,
    peer: Peer,
    session: u64,
    connection: Connection,
    register: impl FnOnce(&LinkHandle),
) -> LinkHandle {
    let capacity = hub.config.local.capacity;
    let (outbox_tx, outbox) = mpsc::channel(capacity);
    let (attach_tx, attach) = mpsc::channel(4);
    let (close_tx, close) = watch::channel(None);
    let window = usize::try_from(hub.config.link_window.max(1)).unwrap_or(usize::MAX);
    let (inbound_tx, inbound) = mpsc::channel(window);
    let handle = LinkHandle {
        id: hub.next_link_id(),
        peer: Arc::new(peer),
        session,
        stats: Arc::new(LinkStats {
            last_seen_us: AtomicU64::new(hub.now_us()),
            ..LinkStats::default()
        }),
        state: Arc::default(),
        outbox: outbox_tx,
        attach: attach_tx,
        close: Arc::new(close_tx),
    };
    handle.state.connected.store(true, Ordering::Release);
    register(&handle);
    deliver::spawn(hub.clone(), handle.clone(), inbound);
    let out = Outbound {
        outbox,
        attach,
        close,
        replay: ReplayBuffer::default(),
        peer_window: connection.peer_window,
        pending: VecDeque::new(),
    };
    let link = handle.clone();
    let hub = hub.clone();
    tokio::spawn(async move {
        let mut guard = Closing {
            hub,
            link,
            exit: Some(Exit::Dropped("the link task ended unexpectedly".into())),
            lost: 0,
        };
        let (exit, lost) = drive(out, inbound_tx, connection, &guard.link, &guard.hub).await;
        guard.exit = Some(exit);
        guard.lost = lost;
    });
    handle
}

/// Tells the hub that a link ended, however its task ended (even by a panic), so that no
/// dead link stays listed.
struct Closing {
    hub: Arc<Hub>,
    link: LinkHandle,
    exit: Option<Exit>,
    lost: u64,
}

impl Drop for Closing {
    fn drop(&mut self) {
        self.link.state.closed.store(true, Ordering::Release);
        let was_up = self.link.state.connected.swap(false, Ordering::AcqRel);
        if let Some(exit) = self.exit.take() {
            self.hub.link_closed(&self.link, exit, self.lost, was_up);
        }
    }
}

/// Runs the connections of a link one after the other; returns why it ended and how many
/// sequenced frames were never acknowledged.
async fn drive(
    mut out: Outbound,
    inbound: mpsc::Sender<Frame>,
    first: Connection,
    link: &LinkHandle,
    hub: &Arc<Hub>,
) -> (Exit, u64) {
    let mut next = Some(first);
    let mut resumed = false;
    loop {
        let connection = match next.take() {
            Some(connection) => connection,
            None => match wait_for_connection(&mut out, link, hub).await {
                Ok(connection) => connection,
                Err(exit) => return (exit, lost(&mut out, link)),
            },
        };
        let (dialed_by_us, address) = (connection.dialed_by_us, connection.address.clone());
        hub.set_link_address(link, &address, dialed_by_us);
        link.state.connected.store(true, Ordering::Release);
        if resumed {
            resumed_event(hub, link, &out, connection.peer_received);
        }
        let ended = connection::run(connection, &mut out, &inbound, link, hub).await;
        resumed = true;
        match ended {
            Ended::Replaced(connection) => next = Some(connection),
            Ended::Exit(exit) if exit.is_resumable() && out.close.borrow().is_none() => {
                link.state.connected.store(false, Ordering::Release);
                hub.link_suspended(link, &exit);
                if dialed_by_us {
                    redial::spawn(hub.clone(), link.clone(), address);
                }
            }
            Ended::Exit(exit) => return (exit, lost(&mut out, link)),
        }
    }
}

fn resumed_event(hub: &Hub, link: &LinkHandle, out: &Outbound, peer_received: u64) {
    let replayed = out.replay.last().saturating_sub(peer_received);
    link.stats.resumes.fetch_add(1, Ordering::Relaxed);
    link.stats.replayed.fetch_add(replayed, Ordering::Relaxed);
    hub.metrics.link_resumes.inc();
    hub.metrics.messages_replayed.add(replayed);
    let id = &link.peer.identity;
    tracing::info!(peer = %id.instance_id, replayed, "link resumed");
    hub.emit(BridgeEvent::LinkResumed {
        network_id: id.network_id.clone(),
        instance_id: id.instance_id.clone(),
        replayed,
    });
}

/// Waits for the next connection of a lost link, at most `resume_timeout`.
async fn wait_for_connection(
    out: &mut Outbound,
    link: &LinkHandle,
    hub: &Hub,
) -> Result<Connection, Exit> {
    let deadline = tokio::time::Instant::now() + hub.config.resume_timeout;
    tokio::select! {
            connection = out.attach.recv() => {
                connection.ok_or_else(|| Exit::Closed(1000, "link dropped".into()))
            }
            _ = out.close.changed() => {
                let (code, reason) = out.close.borrow().clone().unwrap_or((1000, String::new()));
                Err(Exit::Closed(code, reason))
            }
            () = tokio::time::sleep_until(deadline) => {
                let ms = u64::try_from(hub.config.resume_timeout.as_millis()).unwrap_or(u64::MAX);
                tracing::warn!(peer = %link.peer.identity.instance_id, "not resumed within {ms} ms: giving the link up");
                Err(Exit::Expired(ms))
            }
    }
}

/// Counts the sequenced frames that will never be delivered: unacknowledged, or still in
/// the outbox. Closes the outbox so that senders fail rather than wait. The peer's last
/// acknowledgement is applied first: the reader records it without waking the writer, and a
/// peer that leaves acknowledges everything in its `Bye`.
fn lost(out: &mut Outbound, link: &LinkHandle) -> u64 {
    let _ = out.replay.ack(link.state.peer_acked.load(Ordering::SeqCst));
    out.outbox.close();
    let mut queued = out.pending.drain(..).filter(|f| f.seq().is_some()).count() as u64;
    while let Ok(frame) = out.outbox.try_recv() {
        if frame.seq().is_some() {
            queued += 1;
        }
    }
    out.replay.unacked() + queued
}
