//! Idle detection: the network is idle when every live process waits on an empty inbox
//! with no timer armed. Processes count themselves parked only when they are about to
//! sleep, so the cost is two atomic operations per wake-up, not per message; the process
//! that completes the count checks the inboxes and reports `Idle` itself, so that no other
//! task is woken for it (a wake-up per quiet moment costs a hop to another thread in a
//! request-response exchange).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::{broadcast, mpsc};

use crate::edge::Packet;
use crate::events::NetworkEvent;

/// Shared counters of one running network.
#[derive(Debug)]
pub(crate) struct Activity {
    live: AtomicUsize,
    parked: AtomicUsize,
    /// Bumped at every unpark, so an idle period is reported once.
    generation: AtomicU64,
    /// The generation last reported idle.
    reported: AtomicU64,
    inboxes: Vec<mpsc::WeakSender<Packet>>,
    events: broadcast::Sender<NetworkEvent>,
}

/// Unparks on drop, so a cancelled receive is accounted for as well.
pub(crate) struct Parked<'a>(&'a Activity);

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        self.0.generation.fetch_add(1, Ordering::AcqRel);
        self.0.parked.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Activity {
    /// Counters for `inboxes.len()` live processes; `Idle` goes to `events`.
    pub(crate) fn new(
        inboxes: Vec<mpsc::WeakSender<Packet>>,
        events: broadcast::Sender<NetworkEvent>,
    ) -> Self {
        Activity {
            live: AtomicUsize::new(inboxes.len()),
            parked: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            reported: AtomicU64::new(u64::MAX),
            inboxes,
            events,
        }
    }

    pub(crate) fn park(&self) -> Parked<'_> {
        // SeqCst here and in `finished`: each side stores one counter and reads the other,
        // and at least one of them must see both changes.
        let parked = self.parked.fetch_add(1, Ordering::SeqCst) + 1;
        if parked == self.live.load(Ordering::SeqCst) {
            self.report_if_idle();
        }
        Parked(self)
    }

    pub(crate) fn finished(&self) {
        let live = self.live.fetch_sub(1, Ordering::SeqCst) - 1;
        if live > 0 && live == self.parked.load(Ordering::SeqCst) {
            self.report_if_idle();
        }
    }

    /// Sends `Idle` when every live process is parked and every inbox is empty, once per
    /// quiet period (several processes may complete the count at once).
    fn report_if_idle(&self) {
        let generation = self.generation.load(Ordering::Acquire);
        if self.is_idle(generation)
            && self.reported.swap(generation, Ordering::AcqRel) != generation
        {
            let _ = self.events.send(NetworkEvent::Idle);
        }
    }

    /// True when every live process is parked, every inbox is empty, and nothing woke
    /// since `generation` was read.
    fn is_idle(&self, generation: u64) -> bool {
        let live = self.live.load(Ordering::Acquire);
        live > 0
            && self.parked.load(Ordering::Acquire) == live
            && self.inboxes.iter().all(is_empty)
            && self.generation.load(Ordering::Acquire) == generation
    }
}

fn is_empty(inbox: &mpsc::WeakSender<Packet>) -> bool {
    inbox
        .upgrade()
        .is_none_or(|tx| tx.capacity() == tx.max_capacity())
}
