//! Idle detection: the network is idle when every live process waits on an empty inbox
//! with no timer armed. Processes count themselves parked only when they are about to
//! sleep, so the cost is two atomic operations per wake-up, not per message; the process
//! that completes the count checks the inboxes and reports `Idle` itself, so that no other
//! task is woken for it (a wake-up per quiet moment costs a hop to another thread in a
//! request-response exchange).
//!
//! Deadlock detection shares the count: a process blocked sending into a full inbox counts
//! itself blocked (see `stall.rs`), and when every live process is parked or blocked, with
//! at least one blocked, the process that completes the count looks for a cycle of blocked
//! processes and, if it finds one, wakes the supervisor to confirm it and end it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::{broadcast, mpsc, Notify};

use crate::deadlock::{self, Slot};
use crate::edge::Packet;
use crate::events::NetworkEvent;

/// Shared counters of one running network.
#[derive(Debug)]
pub(crate) struct Activity {
    live: AtomicUsize,
    parked: AtomicUsize,
    /// Processes waiting for room in a full inbox with no wake-up pending.
    blocked: AtomicUsize,
    /// Whom each process is blocked on (see [`deadlock::Slot`]), by process index.
    slots: Vec<AtomicU64>,
    /// Wakes the supervisor when a cycle of blocked processes has been seen.
    suspect: Notify,
    /// Bumped at every unpark, so an idle period is reported once.
    generation: AtomicU64,
    /// The generation last reported idle.
    reported: AtomicU64,
    inboxes: Vec<mpsc::WeakSender<Packet>>,
    /// Where the last idle check found a message waiting: the next one looks there first,
    /// so that a message passing down a long chain costs a step per hop, not a scan.
    scan_from: AtomicUsize,
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
            blocked: AtomicUsize::new(0),
            slots: inboxes.iter().map(|_| AtomicU64::new(0)).collect(),
            suspect: Notify::new(),
            generation: AtomicU64::new(0),
            reported: AtomicU64::new(u64::MAX),
            inboxes,
            scan_from: AtomicUsize::new(0),
            events,
        }
    }

    pub(crate) fn park(&self) -> Parked<'_> {
        // SeqCst here and in `finished`: each side stores one counter and reads the other,
        // and at least one of them must see both changes.
        let parked = self.parked.fetch_add(1, Ordering::SeqCst) + 1;
        let live = self.live.load(Ordering::SeqCst);
        if parked == live {
            self.report_if_idle();
        } else {
            self.suspect_if_stalled(parked, live);
        }
        Parked(self)
    }

    pub(crate) fn finished(&self) {
        let live = self.live.fetch_sub(1, Ordering::SeqCst) - 1;
        let parked = self.parked.load(Ordering::SeqCst);
        if live > 0 && live == parked {
            self.report_if_idle();
        } else {
            self.suspect_if_stalled(parked, live);
        }
    }

    /// The state word of the process at `process`.
    pub(crate) fn slot(&self, process: usize) -> Slot {
        self.slots
            .get(process)
            .map_or(0, |s| s.load(Ordering::SeqCst))
    }

    /// Counts the process at `process` blocked on `target`, unless its state word changed
    /// since it read `seen` before its send was polled (a wake-up came since: the send may
    /// have room) or it is counted already.
    pub(crate) fn blocked(&self, process: usize, seen: Slot, target: usize) {
        let Some(slot) = self.slots.get(process) else {
            return;
        };
        if deadlock::blocked_on(seen).is_some() {
            return;
        }
        // Counted before it shows, so that the count never drops below the words.
        self.blocked.fetch_add(1, Ordering::SeqCst);
        let now = deadlock::next(seen, Some(target));
        if slot
            .compare_exchange(seen, now, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            self.blocked.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        let parked = self.parked.load(Ordering::SeqCst);
        self.suspect_if_stalled(parked, self.live.load(Ordering::SeqCst));
    }

    /// The process at `process` is no longer blocked (if it was). Changes its state word
    /// in any case, so that a `blocked` racing with this wake-up fails.
    pub(crate) fn unblocked(&self, process: usize) {
        let Some(slot) = self.slots.get(process) else {
            return;
        };
        let before = slot.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
            Some(deadlock::next(s, None))
        });
        if let Ok(before) = before {
            if deadlock::blocked_on(before).is_some() {
                self.blocked.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    /// Every state word, one at a time.
    pub(crate) fn snapshot(&self) -> Vec<Slot> {
        self.slots
            .iter()
            .map(|s| s.load(Ordering::SeqCst))
            .collect()
    }

    /// Resolves once a cycle of blocked processes may have formed.
    pub(crate) async fn suspected(&self) {
        self.suspect.notified().await;
    }

    /// When every live process is parked or blocked, at least one blocked, and the blocked
    /// ones form a cycle, wakes the supervisor to confirm the deadlock. Looking here first
    /// keeps the supervisor asleep when a full inbox's owner is merely about to wake up.
    fn suspect_if_stalled(&self, parked: usize, live: usize) {
        let blocked = self.blocked.load(Ordering::SeqCst);
        if blocked > 0 && parked + blocked >= live && !deadlock::cycles(&self.snapshot()).is_empty()
        {
            self.suspect.notify_one();
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
            && self.all_inboxes_empty()
            && self.generation.load(Ordering::Acquire) == generation
    }

    /// Whether every inbox is empty, looking first where a message waited last time.
    fn all_inboxes_empty(&self) -> bool {
        let n = self.inboxes.len();
        let start = self.scan_from.load(Ordering::Relaxed);
        let waiting = (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| !is_empty(&self.inboxes[i]));
        match waiting {
            Some(i) => {
                self.scan_from.store(i, Ordering::Relaxed);
                false
            }
            None => true,
        }
    }
}

fn is_empty(inbox: &mpsc::WeakSender<Packet>) -> bool {
    inbox
        .upgrade()
        .is_none_or(|tx| tx.capacity() == tx.max_capacity())
}
