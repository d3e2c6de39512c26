//! Flow control per proxy session, inside the link's window (as HTTP/2 streams have): in
//! each direction a session may have at most `SESSION_WINDOW` messages sent and not yet
//! consumed by the other side. The receiving side grants credit as its consumer takes
//! messages (`Credit` frames, cumulative); the sending side waits for it. So a session whose
//! consumer is slow fills only its own window, and the link keeps carrying the others.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

use crate::net::LinkHandle;
use crate::protocol::SESSION_WINDOW;

/// Credit not yet granted that makes a `Credit` frame worth sending.
const GRANT_EVERY: u64 = SESSION_WINDOW / 4;

/// The sending side of one direction of a session. One task sends on it at a time.
#[derive(Debug, Default)]
pub(crate) struct SendWindow {
    /// Messages sent (or about to be).
    sent: AtomicU64,
    /// Messages the other side has consumed, from its latest `Credit`.
    consumed: AtomicU64,
    changed: Notify,
}

/// Room for one message in a [`SendWindow`]; given back on drop unless [`used`](Self::used).
pub(crate) struct Permit<'a>(Option<&'a SendWindow>);

impl SendWindow {
    /// Waits until the window has room for one more message, and takes it.
    pub(crate) async fn acquire(&self) -> Permit<'_> {
        loop {
            if let Some(permit) = self.try_acquire() {
                return permit;
            }
            // Registered before looking again, so that a credit in between is not missed.
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(permit) = self.try_acquire() {
                return permit;
            }
            notified.await;
        }
    }

    /// Messages sent and not yet consumed by the other side.
    pub(crate) fn in_flight(&self) -> u64 {
        let sent = self.sent.load(Ordering::Acquire);
        sent - self.consumed.load(Ordering::Acquire).min(sent)
    }

    /// Takes room for one message if there is some now.
    fn try_acquire(&self) -> Option<Permit<'_>> {
        let sent = self.sent.load(Ordering::Acquire);
        let consumed = self.consumed.load(Ordering::Acquire).min(sent);
        (sent - consumed < SESSION_WINDOW).then(|| {
            self.sent.fetch_add(1, Ordering::AcqRel);
            Permit(Some(self))
        })
    }

    /// The session is over (its link was given up, or it ended): nothing waits for credit
    /// any more; a send then fails on the link, or goes nowhere.
    pub(crate) fn close(&self) {
        self.credit(u64::MAX);
    }

    /// The other side has consumed `consumed` messages so far.
    pub(crate) fn credit(&self, consumed: u64) {
        self.consumed.fetch_max(consumed, Ordering::AcqRel);
        self.changed.notify_waiters();
    }
}

impl Permit<'_> {
    /// The message was sent: the room stays taken until the other side consumes it.
    pub(crate) fn used(mut self) {
        self.0 = None;
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Some(window) = self.0 {
            window.sent.fetch_sub(1, Ordering::AcqRel);
            window.changed.notify_waiters();
        }
    }
}

/// The receiving side of one direction of a session: counts what its consumer took and
/// grants it back to the sender over `link`.
#[derive(Debug)]
pub(crate) struct RecvCredit {
    link: LinkHandle,
    origin: u32,
    /// Whether it counts replies (the proxy's side) or data (the exporting side).
    reply: bool,
    consumed: AtomicU64,
    granted: AtomicU64,
}

impl RecvCredit {
    pub(crate) fn new(link: LinkHandle, origin: u32, reply: bool) -> Arc<Self> {
        Arc::new(RecvCredit {
            link,
            origin,
            reply,
            consumed: AtomicU64::default(),
            granted: AtomicU64::default(),
        })
    }

    /// The consumer took `n` messages: grants the credit once enough has gathered.
    pub(crate) fn consume(&self, n: u64) {
        self.consume_as(n, false);
    }

    /// [`consume`](Self::consume) from the link's reader or delivery task, which record a
    /// delivery right after: its acknowledgement carries the credit, no write of its own.
    pub(crate) fn consume_on_delivery(&self, n: u64) {
        self.consume_as(n, true);
    }

    fn consume_as(&self, n: u64, quiet: bool) {
        let consumed = self.consumed.fetch_add(n, Ordering::AcqRel) + n;
        let granted = self.granted.load(Ordering::Acquire);
        if consumed >= granted + GRANT_EVERY
            && self
                .granted
                .compare_exchange(granted, consumed, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            self.link
                .state
                .grant(self.origin, self.reply, consumed, quiet);
        }
    }

    /// The whole credit so far, for a new connection (one granted on a lost connection may
    /// never have arrived).
    pub(crate) fn current(&self) -> (u32, bool, u64) {
        (
            self.origin,
            self.reply,
            self.consumed.load(Ordering::Acquire),
        )
    }
}
