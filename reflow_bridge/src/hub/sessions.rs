//! Proxy sessions opened from here: each proxy of a remote actor gets an origin; replies
//! for it arrive in order ([`super::replies`]), then an end (or the remote actor's failure).

use reflow_network::{Message, Origin};

use std::sync::Arc;

use super::pending::Pending;
use super::replies::{self, Oversized, ReplyEvent, ReplyReceiver, ReplySender};
use super::{Hub, Session};
use super::{RecvCredit, SendWindow};
use crate::net::{LinkHandle, LinkId};

impl Hub {
    /// Opens a session on `link`: a fresh origin, the channel its replies arrive on (at most
    /// `capacity` queued), the window its messages are sent within, and where its messages
    /// are kept until done.
    pub(crate) fn open_session(
        &self,
        link: &LinkHandle,
        capacity: usize,
    ) -> (Origin, ReplyReceiver, Arc<SendWindow>, Arc<Pending>) {
        let origin = self.next_origin();
        let credit = RecvCredit::new(link.clone(), origin, true);
        let pending = Arc::new(Pending::default());
        let (tx, rx) = replies::channel(capacity, credit, pending.clone());
        let window = Arc::new(SendWindow::default());
        let session = Session {
            link: link.id,
            replies: tx,
            window: window.clone(),
        };
        self.sessions.lock().insert(origin, session);
        (origin, rx, window, pending)
    }

    /// `Credit` from the peer of `link` for session `origin`: for a proxy session opened
    /// here (data it consumed) or for a session served here (replies it consumed).
    pub(crate) fn on_credit(&self, link: LinkId, origin: u32, reply: bool, consumed: u64) {
        let window = if reply {
            let local = self.known_served(link, origin);
            let served = self.served.lock();
            local.and_then(|o| served.get(&o).map(|s| s.window.clone()))
        } else {
            let sessions = self.sessions.lock();
            let session = sessions.get(&origin).filter(|s| s.link == link);
            // The exporting side grants credit as its instance finishes handling messages.
            if let Some(session) = session {
                session.replies.done(consumed);
            }
            session.map(|s| s.window.clone())
        };
        if let Some(window) = window {
            window.credit(consumed);
        }
    }

    /// The whole credit granted so far for the sessions of `link`, both ways: what a new
    /// connection of the link sends first.
    pub(crate) fn credit_of(&self, link: LinkId) -> Vec<(u32, bool, u64)> {
        let mut credit: Vec<_> = self
            .sessions
            .lock()
            .values()
            .filter(|s| s.link == link)
            .map(|s| s.replies.credit())
            .collect();
        let served = self.served.lock();
        credit.extend(
            served
                .values()
                .filter(|s| s.link.id == link)
                .map(|s| s.credit.current()),
        );
        credit
    }

    /// The reply channel of a session.
    pub(crate) fn session(&self, origin: Origin) -> Option<ReplySender> {
        self.sessions.lock().get(&origin).map(|s| s.replies.clone())
    }

    /// Delivers a reply of session `origin` without waiting (see
    /// [`ReplySender::try_reply`]); hands it back when it must wait. A reply for an unknown
    /// session is dropped.
    pub(crate) fn try_reply(
        &self,
        origin: Origin,
        port: String,
        msg: Message,
        handled: u64,
    ) -> Result<(), (String, Message)> {
        match self.sessions.lock().get(&origin) {
            Some(session) => session.replies.try_reply(port, msg, handled),
            None => Ok(()),
        }
    }

    /// Delivers the last event of a session (its end, or the remote actor's failure) and
    /// forgets the session.
    pub(crate) async fn finish_session(&self, origin: Origin, last: ReplyEvent) {
        if let Some(session) = self.session(origin) {
            session.send(last).await;
        }
        self.close_session(origin);
    }

    /// A message of session `origin` was over the maximum message size and was not sent:
    /// its proxy hears of it (a message sent with no session is counted lost).
    pub(crate) fn refused_locally(&self, origin: Origin, port: String, size: u64, limit: u64) {
        let Some(session) = self.session(origin) else {
            self.metrics.messages_lost.inc();
            tracing::error!(%port, "dropped a message of {size} bytes: over the maximum message size {limit}");
            return;
        };
        session.refuse(Oversized {
            port,
            reply: false,
            size,
            limit,
        });
    }

    /// Forgets a session: later replies for it are dropped.
    pub(crate) fn close_session(&self, origin: Origin) {
        if let Some(session) = self.sessions.lock().remove(&origin) {
            session.window.close();
        }
    }

    /// Drops the sessions of a link that went down: their proxies see the channel close,
    /// and stop waiting for credit.
    pub(super) fn drop_sessions_of(&self, link: LinkId) {
        self.sessions.lock().retain(|_, s| {
            let keep = s.link != link;
            if !keep {
                s.window.close();
            }
            keep
        });
    }
}
