//! The messages of one proxy session that the exporting instance has not reported done (its
//! `on_message` returned): kept, at most a session window of them, so that they can go to
//! another instance when this one is lost. Done comes from the session's credit and from
//! replies, each of which says how many messages were handled before it.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use reflow_network::Message;

/// The `handled` of a reply from a shared export, which does not count its sessions'
/// messages: such a reply says nothing of which message is done.
pub(crate) const UNCOUNTED: u64 = u64::MAX;

/// A message kept until it is done.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Kept {
    /// The inport it was sent to.
    pub(crate) port: Arc<str>,
    pub(crate) msg: Message,
    /// Whether a reply it caused has already left the proxy: sent again, it is a duplicate
    /// in the output.
    pub(crate) replied: bool,
}

#[derive(Debug, Default)]
struct Inner {
    /// The index, in the session, of the first kept message.
    base: u64,
    kept: VecDeque<Kept>,
}

/// The not-done messages of one session.
#[derive(Debug, Default)]
pub(crate) struct Pending(Mutex<Inner>);

impl Pending {
    /// Keeps a message just sent.
    pub(crate) fn push(&self, port: Arc<str>, msg: Message) {
        self.0.lock().kept.push_back(Kept {
            port,
            msg,
            replied: false,
        });
    }

    /// Forgets the message kept last: it was not sent after all.
    pub(crate) fn unpush(&self) {
        self.0.lock().kept.pop_back();
    }

    /// The first `count` messages of the session are done.
    pub(crate) fn done(&self, count: u64) {
        let mut inner = self.0.lock();
        while inner.base < count && inner.kept.pop_front().is_some() {
            inner.base += 1;
        }
    }

    /// A reply of the message at index `handled` left the proxy; every message before it
    /// was done when it was emitted.
    pub(crate) fn replied(&self, handled: u64) {
        if handled == UNCOUNTED {
            return;
        }
        self.done(handled);
        let mut inner = self.0.lock();
        let Some(index) = handled.checked_sub(inner.base) else {
            return;
        };
        let entry = usize::try_from(index)
            .ok()
            .and_then(|i| inner.kept.get_mut(i));
        if let Some(entry) = entry {
            entry.replied = true;
        }
    }

    /// Every message not done, in the order sent; nothing is kept afterwards.
    pub(crate) fn take(&self) -> Vec<Kept> {
        let mut inner = self.0.lock();
        inner.base += inner.kept.len() as u64;
        inner.kept.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(n: i64) -> Pending {
        let p = Pending::default();
        for i in 0..n {
            p.push("in".into(), Message::Integer(i));
        }
        p
    }

    fn numbers(kept: &[Kept]) -> Vec<(i64, bool)> {
        kept.iter()
            .map(|k| (k.msg.as_i64().unwrap(), k.replied))
            .collect()
    }

    #[test]
    fn done_messages_are_forgotten_and_the_rest_kept_in_order() {
        let p = pending(5);
        p.done(2);
        p.done(1);
        assert_eq!(numbers(&p.take()), [(2, false), (3, false), (4, false)]);
        assert!(p.take().is_empty());
    }

    #[test]
    fn a_reply_marks_its_message_and_says_the_earlier_ones_are_done() {
        let p = pending(4);
        p.replied(1);
        p.replied(1);
        assert_eq!(numbers(&p.take()), [(1, true), (2, false), (3, false)]);
    }

    #[test]
    fn counts_beyond_what_was_sent_or_already_done_change_nothing_wrong() {
        let p = pending(2);
        p.done(10);
        p.replied(0);
        p.push("in".into(), Message::Integer(7));
        p.replied(2);
        assert_eq!(numbers(&p.take()), [(7, true)]);
    }
}
