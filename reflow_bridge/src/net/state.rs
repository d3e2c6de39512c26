//! What the reader, the writer and the delivery task of one link share, behind a small typed
//! interface: how far each direction has got (received, delivered, acknowledged, sent), the
//! writer's wake-ups, the heartbeat to answer, the link's life, the parts of a large frame
//! received so far. A leaf: it knows nothing of the tasks that use it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};
use tokio::sync::Notify;

/// Identifies a link for the lifetime of the process.
pub(crate) type LinkId = u64;

/// How long an acknowledgement may wait for data going the other way to ride on.
pub(crate) const ACK_DELAY: Duration = Duration::from_millis(2);

/// Counters of one link, for `/status` and `/metrics`.
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

/// The shared state of one link. Sequence numbers only grow within a link session.
#[derive(Debug, Default)]
pub(crate) struct LinkState {
    /// Highest sequence number accepted from the peer (delivered or queued for delivery).
    received: AtomicU64,
    /// Highest sequence number delivered to its actor or proxy.
    delivered: AtomicU64,
    /// Frames queued for the delivery task and not yet delivered: while there are any, the
    /// reader may not deliver on its own (order).
    queued: AtomicU64,
    /// Highest sequence number we acknowledged to the peer.
    ack_sent: AtomicU64,
    /// Highest sequence number the peer acknowledged.
    peer_acked: AtomicU64,
    /// Highest sequence number given to a frame (kept for replay, sent or about to be).
    sent: AtomicU64,
    /// Whether the writer waits for acknowledgements to free room in the window: only then
    /// does an incoming `Ack` wake it.
    window_full: AtomicBool,
    /// A heartbeat id to answer, 0 for none.
    pong: AtomicU64,
    /// Wakes the writer: an ack to send, room in the window, a heartbeat to answer.
    wake: Notify,
    /// Whether a connection is attached.
    connected: AtomicBool,
    /// Whether the link has ended for good.
    closed: AtomicBool,
    /// The pieces received so far of a frame sent in parts.
    partial: Mutex<Vec<u8>>,
    /// Session credit to grant the peer: `(origin, reply, consumed)`.
    grants: Mutex<Vec<(u32, bool, u64)>>,
    /// Proxy sessions whose messages were handed to another instance: what of theirs the
    /// peer never gets is not lost.
    handed_on: Mutex<HashSet<u32>>,
}

impl LinkState {
    /// Highest sequence number accepted from the peer.
    pub(crate) fn received(&self) -> u64 {
        self.received.load(Ordering::Acquire)
    }

    /// Whether frames wait for the delivery task: then a new one must queue behind them.
    pub(crate) fn has_queued(&self) -> bool {
        self.queued.load(Ordering::Acquire) != 0
    }

    /// Frame `seq` was accepted and delivered at once (nothing was queued before it).
    /// Returns whether an acknowledgement is due now (`threshold` deliveries unacknowledged).
    pub(crate) fn delivered_now(&self, seq: u64, threshold: u64) -> bool {
        self.received.store(seq, Ordering::Release);
        self.delivered.store(seq, Ordering::Release);
        self.unacknowledged() >= threshold
    }

    /// A frame is about to be queued for the delivery task.
    pub(crate) fn enqueue(&self) {
        self.queued.fetch_add(1, Ordering::AcqRel);
    }

    /// The frame just counted by [`enqueue`](Self::enqueue) could not be queued.
    pub(crate) fn unqueue(&self) {
        self.queued.fetch_sub(1, Ordering::AcqRel);
    }

    /// Frame `seq` was accepted and queued for the delivery task.
    pub(crate) fn queued_as(&self, seq: u64) {
        self.received.store(seq, Ordering::Release);
    }

    /// The delivery task delivered queued frame `seq`. Returns whether an acknowledgement
    /// is due now.
    pub(crate) fn delivered_from_queue(&self, seq: u64, threshold: u64) -> bool {
        self.delivered.store(seq, Ordering::Release);
        self.queued.fetch_sub(1, Ordering::AcqRel);
        self.unacknowledged() >= threshold
    }

    /// Deliveries not yet acknowledged to the peer.
    pub(crate) fn unacknowledged(&self) -> u64 {
        let delivered = self.delivered.load(Ordering::Acquire);
        delivered.saturating_sub(self.ack_sent.load(Ordering::Acquire))
    }

    /// The acknowledgement to send now, if any is due.
    pub(crate) fn ack_due(&self) -> Option<u64> {
        let delivered = self.delivered.load(Ordering::Acquire);
        (delivered > self.ack_sent.load(Ordering::Acquire)).then_some(delivered)
    }

    /// Acknowledgements up to `seq` went out.
    pub(crate) fn ack_sent(&self, seq: u64) {
        self.ack_sent.fetch_max(seq, Ordering::AcqRel);
    }

    /// A new connection: the last acknowledgement may have been lost with the old one, so
    /// the next message acknowledges again.
    pub(crate) fn forget_ack_sent(&self) {
        self.ack_sent.store(0, Ordering::Release);
    }

    /// The peer acknowledged up to `seq`; wakes the writer if it waits for room.
    pub(crate) fn peer_acked(&self, seq: u64) {
        self.peer_acked.fetch_max(seq, Ordering::SeqCst);
        if self.window_full.load(Ordering::SeqCst) {
            self.wake.notify_one();
        }
    }

    /// Highest sequence number the peer acknowledged.
    pub(crate) fn acked_by_peer(&self) -> u64 {
        self.peer_acked.load(Ordering::SeqCst)
    }

    /// Frames up to `seq` were numbered and kept for replay.
    pub(crate) fn sent(&self, seq: u64) {
        self.sent.store(seq, Ordering::Release);
    }

    /// Sequenced frames sent and not yet acknowledged by the peer.
    pub(crate) fn unacked_sent(&self) -> u64 {
        let sent = self.sent.load(Ordering::Acquire);
        sent.saturating_sub(self.peer_acked.load(Ordering::Acquire))
    }

    /// The writer is about to read the acknowledgements to find room: an `Ack` stored from
    /// now on wakes it (both sides `SeqCst`, so none is missed).
    pub(crate) fn wait_for_room(&self) {
        self.window_full.store(true, Ordering::SeqCst);
    }

    /// The writer found room: acknowledgements need not wake it.
    pub(crate) fn room_found(&self) {
        self.window_full.store(false, Ordering::SeqCst);
    }

    /// A heartbeat to answer; wakes the writer.
    pub(crate) fn answer_heartbeat(&self, id: u64) {
        self.pong.store(id.max(1), Ordering::Release);
        self.wake.notify_one();
    }

    /// The heartbeat to answer, if any.
    pub(crate) fn pong_due(&self) -> Option<u64> {
        let pong = self.pong.load(Ordering::Acquire);
        (pong != 0).then_some(pong)
    }

    /// The answer to heartbeat `id` went out (a newer one still waits).
    pub(crate) fn pong_sent(&self, id: u64) {
        let _ = self
            .pong
            .compare_exchange(id, 0, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Has the writer send what is due (an acknowledgement).
    pub(crate) fn wake_writer(&self) {
        self.wake.notify_one();
    }

    /// Resolves when the writer is woken.
    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// A connection is attached (or not).
    pub(crate) fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Release);
    }

    /// Whether a connection is attached now.
    pub(crate) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// The link has ended for good; returns whether a connection was attached.
    pub(crate) fn close(&self) -> bool {
        self.closed.store(true, Ordering::Release);
        self.connected.swap(false, Ordering::AcqRel)
    }

    /// Whether the link has ended for good.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The pieces received so far of a frame sent in parts.
    pub(crate) fn partial(&self) -> MutexGuard<'_, Vec<u8>> {
        self.partial.lock()
    }

    /// Grants the peer credit for session `origin` (see `hub::credit`). It rides on the
    /// next message out: while a delivery waits to be acknowledged, one goes out within
    /// `ACK_DELAY` anyway; else, unless `quiet` (the caller is about to record a delivery),
    /// the writer is woken for it.
    pub(crate) fn grant(&self, origin: u32, reply: bool, consumed: u64, quiet: bool) {
        self.grants.lock().push((origin, reply, consumed));
        if !quiet && self.unacknowledged() == 0 {
            self.wake.notify_one();
        }
    }

    /// The messages of proxy session `origin` went to another instance.
    pub(crate) fn hand_on(&self, origin: u32) {
        self.handed_on.lock().insert(origin);
    }

    /// Whether `frame` belongs to a session whose messages went to another instance.
    pub(crate) fn is_handed_on(&self, frame: &crate::protocol::Frame) -> bool {
        frame
            .origin()
            .is_some_and(|origin| self.handed_on.lock().contains(&origin))
    }

    /// The credit to grant now.
    pub(crate) fn take_grants(&self) -> Vec<(u32, bool, u64)> {
        std::mem::take(&mut *self.grants.lock())
    }
}
