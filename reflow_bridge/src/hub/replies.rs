//! The way replies reach one proxy: straight out of its outports, from the link's reader,
//! when every receiver has room and nothing is queued before them; else through the proxy's
//! forwarder (a channel and a task), which also carries the session's end. Going straight
//! saves a hand-off between tasks per reply; the queue keeps the order whenever a receiver
//! is full.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use reflow_network::{Message, Outputs, TryOutputError};
use tokio::sync::mpsc::{self, error::TrySendError};

use super::pending::Pending;
use super::RecvCredit;

/// What comes back to a proxy.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ReplyEvent {
    /// An output of the remote actor, on its outport, with the index of the message of this
    /// session that caused it (the `handled` of its `Reply`).
    Message(String, Message, u64),
    /// Every output caused by this proxy's messages has arrived.
    End,
    /// The remote actor stopped before it finished this proxy's messages; nothing more
    /// comes. Carries the remote side's reason.
    Error(String),
    /// A message of this session, or a reply to it, was over the maximum message size and
    /// did not cross the link; the proxy's failure mode says what follows.
    TooLarge(Oversized),
    /// A message of this session was refused on the way out: see
    /// [`ReplyReceiver::take_refused`].
    Refused,
}

/// A message that was too large to cross the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Oversized {
    /// Its port: the remote actor's inport, or the outport of a reply.
    pub(crate) port: String,
    /// Whether it was a reply of the remote actor (else a message to it).
    pub(crate) reply: bool,
    /// Its size, encoded, in bytes.
    pub(crate) size: u64,
    /// The maximum message size it exceeded.
    pub(crate) limit: u64,
}

/// What both ends share.
#[derive(Default, Debug)]
struct Shared {
    /// Messages of this session refused on the way out (over the maximum message size),
    /// recorded before anything sent after them, so that the proxy sees them before its end.
    refused: Mutex<Vec<Oversized>>,
    /// Events in the channel or still being passed on by the forwarder: while there are
    /// any, replies queue behind them.
    queued: AtomicUsize,
    /// The proxy's outports, while replies may go straight out of them.
    direct: Mutex<Option<Outputs>>,
    /// Grants the exporting side credit as replies are passed on.
    credit: Option<Arc<RecvCredit>>,
    /// The session's messages not yet done at the exporting side.
    pending: Arc<Pending>,
}

/// The hub's end: where the link delivers a session's replies.
#[derive(Clone, Debug)]
pub(crate) struct ReplySender {
    tx: mpsc::Sender<ReplyEvent>,
    shared: Arc<Shared>,
}

/// The forwarder's end.
pub(crate) struct ReplyReceiver {
    rx: mpsc::Receiver<ReplyEvent>,
    shared: Arc<Shared>,
}

/// Opens or closes the straight way out (the proxy holds it).
pub(crate) struct Direct(Arc<Shared>);

/// A session's replies: at most `capacity` queued; `credit` is granted as they are passed on.
pub(crate) fn channel(
    capacity: usize,
    credit: Arc<RecvCredit>,
    pending: Arc<Pending>,
) -> (ReplySender, ReplyReceiver) {
    let (tx, rx) = mpsc::channel(capacity);
    let shared = Arc::new(Shared {
        credit: Some(credit),
        pending,
        ..Shared::default()
    });
    let sender = ReplySender {
        tx,
        shared: shared.clone(),
    };
    (sender, ReplyReceiver { rx, shared })
}

impl ReplySender {
    /// Delivers a reply now if that needs no waiting: straight out when allowed, else into
    /// the queue. Hands it back when the queue is full. A reply for a proxy that is gone
    /// is dropped.
    pub(crate) fn try_reply(
        &self,
        port: String,
        msg: Message,
        handled: u64,
    ) -> Result<(), (String, Message)> {
        let msg = match self.try_direct(&port, msg, handled) {
            Ok(()) => {
                self.shared.passed_on(true);
                return Ok(());
            }
            Err(msg) => msg,
        };
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        match self.tx.try_send(ReplyEvent::Message(port, msg, handled)) {
            Ok(()) => Ok(()),
            Err(err) => {
                self.shared.queued.fetch_sub(1, Ordering::AcqRel);
                match err {
                    TrySendError::Full(ReplyEvent::Message(port, msg, _)) => Err((port, msg)),
                    _ => Ok(()),
                }
            }
        }
    }

    /// The first `count` messages of the session are done at the exporting side.
    pub(crate) fn done(&self, count: u64) {
        self.shared.pending.done(count);
    }

    /// Records a message of this session refused on the way out, and wakes the proxy's
    /// forwarder when its queue has room (it finds the record at its next event anyway, and
    /// at the latest before the session's end).
    pub(crate) fn refuse(&self, refused: Oversized) {
        self.shared.refused.lock().push(refused);
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        if self.tx.try_send(ReplyEvent::Refused).is_err() {
            self.shared.queued.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// The reply credit granted so far, as `(origin, reply, consumed)`.
    pub(crate) fn credit(&self) -> (u32, bool, u64) {
        self.shared
            .credit
            .as_ref()
            .map_or((0, true, 0), |c| c.current())
    }

    /// Queues `event`, waiting for room.
    pub(crate) async fn send(&self, event: ReplyEvent) {
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        if self.tx.send(event).await.is_err() {
            self.shared.queued.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Sends straight out of the proxy's outports when nothing is queued and every receiver
    /// has room; hands the message back otherwise (an unknown outport too: the forwarder
    /// reports it).
    fn try_direct(&self, port: &str, msg: Message, handled: u64) -> Result<(), Message> {
        if self.shared.queued.load(Ordering::Acquire) != 0 {
            return Err(msg);
        }
        let direct = self.shared.direct.lock();
        let Some(outputs) = direct.as_ref() else {
            return Err(msg);
        };
        outputs.try_send(port, msg).map_err(|err| match err {
            TryOutputError::Full(msg) | TryOutputError::Failed(_, msg) => msg,
        })?;
        // Under the lock: once the way out is closed, every reply that left is counted.
        self.shared.pending.replied(handled);
        Ok(())
    }
}

impl ReplyReceiver {
    /// The switch of the straight way out.
    pub(crate) fn direct(&self) -> Direct {
        Direct(self.shared.clone())
    }

    /// The next queued event; `None` once the hub has dropped the session.
    pub(crate) async fn recv(&mut self) -> Option<ReplyEvent> {
        self.rx.recv().await
    }

    /// The reply last received, caused by the session's message at index `handled`, has
    /// been passed on out of the proxy's outports.
    pub(crate) fn passed_on(&self, handled: u64) {
        self.shared.pending.replied(handled);
        self.handled();
        self.shared.passed_on(false);
    }

    /// The messages of this session refused on the way out since the last call.
    pub(crate) fn take_refused(&self) -> Vec<Oversized> {
        std::mem::take(&mut *self.shared.refused.lock())
    }

    /// The event last received has been passed on: later replies may overtake nothing.
    pub(crate) fn handled(&self) {
        self.shared.queued.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Drop for ReplyReceiver {
    fn drop(&mut self) {
        // Nobody forwards any more: the outports are released, so downstream sees the end.
        self.shared.direct.lock().take();
    }
}

impl Shared {
    /// A reply left the proxy: its room may be granted again. `on_delivery`: straight from
    /// the link's reader, which records the delivery right after.
    fn passed_on(&self, on_delivery: bool) {
        match &self.credit {
            Some(credit) if on_delivery => credit.consume_on_delivery(1),
            Some(credit) => credit.consume(1),
            None => {}
        }
    }
}

impl Direct {
    /// Replies may go straight out of `outputs` from now on.
    pub(crate) fn open(&self, outputs: Outputs) {
        *self.0.direct.lock() = Some(outputs);
    }

    /// Replies go through the forwarder from now on.
    pub(crate) fn close(&self) {
        self.0.direct.lock().take();
    }
}
