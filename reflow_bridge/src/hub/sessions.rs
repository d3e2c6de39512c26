//! Proxy sessions opened from here: each proxy of a remote actor gets an origin; replies
//! for it arrive in order ([`super::replies`]), then an end (or the remote actor's failure).

use reflow_network::{Message, Origin};

use super::replies::{self, Oversized, ReplyEvent, ReplyReceiver, ReplySender};
use super::{Hub, Session};
use crate::net::LinkId;

impl Hub {
    /// Opens a session on `link`: a fresh origin and the channel its replies arrive on.
    pub(crate) fn open_session(&self, link: LinkId, capacity: usize) -> (Origin, ReplyReceiver) {
        let origin = self.next_origin();
        let (tx, rx) = replies::channel(capacity);
        self.sessions
            .lock()
            .insert(origin, Session { link, replies: tx });
        (origin, rx)
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
    ) -> Result<(), (String, Message)> {
        match self.sessions.lock().get(&origin) {
            Some(session) => session.replies.try_reply(port, msg),
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
        self.sessions.lock().remove(&origin);
    }

    /// Drops the sessions of a link that went down: their proxies see the channel close.
    pub(super) fn drop_sessions_of(&self, link: LinkId) {
        self.sessions.lock().retain(|_, s| s.link != link);
    }
}
