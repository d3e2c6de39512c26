//! Idle detection: the network is idle when every live process waits on an empty inbox
//! with no timer armed. Processes count themselves parked only when they are about to
//! sleep, so the cost is two atomic operations per wake-up, not per message.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::{mpsc, Notify};

use crate::edge::Packet;

/// Shared counters of one running network.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    live: AtomicUsize,
    parked: AtomicUsize,
    /// Bumped at every unpark, so an idle period is reported once.
    generation: AtomicU64,
    notify: Notify,
}

/// Unparks on drop, so a cancelled receive is accounted for as well.
pub(crate) struct Parked<'a>(&'a Activity);

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        self.0.generation.fetch_add(1, Ordering::Relaxed);
        self.0.parked.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Activity {
    pub(crate) fn set_live(&self, n: usize) {
        self.live.store(n, Ordering::Release);
    }

    pub(crate) fn park(&self) -> Parked<'_> {
        let parked = self.parked.fetch_add(1, Ordering::AcqRel) + 1;
        if parked == self.live.load(Ordering::Acquire) {
            self.notify.notify_one();
        }
        Parked(self)
    }

    pub(crate) fn finished(&self) {
        let live = self.live.fetch_sub(1, Ordering::AcqRel) - 1;
        if live > 0 && live == self.parked.load(Ordering::Acquire) {
            self.notify.notify_one();
        }
    }

    /// Waits until the network may be idle; returns the generation to pass to [`is_idle`].
    ///
    /// [`is_idle`]: Self::is_idle
    pub(crate) async fn wait_quiet(&self) -> u64 {
        self.notify.notified().await;
        self.generation.load(Ordering::Acquire)
    }

    /// True when every live process is parked, every inbox is empty, and nothing woke
    /// since `generation` was read.
    pub(crate) fn is_idle(&self, generation: u64, inboxes: &[mpsc::WeakSender<Packet>]) -> bool {
        let live = self.live.load(Ordering::Acquire);
        live > 0
            && self.parked.load(Ordering::Acquire) == live
            && inboxes.iter().all(is_empty)
            && self.generation.load(Ordering::Acquire) == generation
    }
}

fn is_empty(inbox: &mpsc::WeakSender<Packet>) -> bool {
    inbox
        .upgrade()
        .is_none_or(|tx| tx.capacity() == tx.max_capacity())
}
