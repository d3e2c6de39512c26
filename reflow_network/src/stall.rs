//! Sends that have to wait. A process whose send finds a full inbox counts itself blocked
//! (for deadlock detection) while it waits with no wake-up pending: the waker it hands to
//! the channel uncounts it the moment the channel grants it room, before its task runs
//! again, so a process counted blocked really is still waiting. Only this slow path pays
//! for the bookkeeping; a send that finds room costs what it did.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Wake, Waker};

use futures::task::AtomicWaker;
use tokio::sync::mpsc::{self, error::SendError};

use crate::activity::Activity;
use crate::edge::Packet;

/// What one process needs to wait on a full inbox as a counted, blocked process. Its waker
/// is the one the channel holds while the process waits.
#[derive(Debug)]
pub(crate) struct Stall {
    activity: Arc<Activity>,
    process: usize,
    /// The waker of the process's task, woken through ours.
    task: AtomicWaker,
}

impl Stall {
    /// The stall of the process at `process` in `activity`.
    pub(crate) fn new(activity: Arc<Activity>, process: usize) -> Arc<Self> {
        Arc::new(Stall {
            activity,
            process,
            task: AtomicWaker::new(),
        })
    }

    /// Sends `packet` into the inbox of the process at `target` through `tx`, which was
    /// full a moment ago, counted as blocked on `target` while the send waits.
    pub(crate) async fn send(
        self: &Arc<Self>,
        tx: &mpsc::Sender<Packet>,
        target: u32,
        packet: Packet,
    ) -> Result<(), SendError<Packet>> {
        let waker = Waker::from(self.clone());
        let mut send = pin!(tx.send(packet));
        // Uncounts on completion and on cancellation (a stopped source, an aborted task).
        let _done = Done(self);
        poll_fn(|cx| {
            self.task.register(cx.waker());
            // Read before the poll: a wake-up during or after it changes the word, and
            // then the process is not counted.
            let seen = self.activity.slot(self.process);
            let polled = send.as_mut().poll(&mut TaskContext::from_waker(&waker));
            if polled.is_pending() {
                self.activity.blocked(self.process, seen, target as usize);
            }
            polled
        })
        .await
    }
}

impl Wake for Stall {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    /// Room was granted, or the inbox closed, or tokio asked for a poll: not blocked until
    /// a poll says so again. Uncounting first means that no check sees the process blocked
    /// once it can go on.
    fn wake_by_ref(self: &Arc<Self>) {
        self.activity.unblocked(self.process);
        self.task.wake();
    }
}

struct Done<'a>(&'a Stall);

impl Drop for Done<'_> {
    fn drop(&mut self) {
        self.0.activity.unblocked(self.0.process);
    }
}
