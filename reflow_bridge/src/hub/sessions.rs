//! Proxy sessions opened from here: each proxy of a remote actor gets an origin; replies
//! for it arrive on its channel, in order, then an end (or the remote actor's failure).

use reflow_network::{Message, Origin};
use tokio::sync::mpsc;

use super::{Hub, Session};
use crate::net::LinkId;

/// What comes back to a proxy.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ReplyEvent {
    /// An output of the remote actor, on its outport.
    Message(String, Message),
    /// Every output caused by this proxy's messages has arrived.
    End,
    /// The remote actor stopped before it finished this proxy's messages; nothing more
    /// comes. Carries the remote side's reason.
    Error(String),
}

impl Hub {
    /// Opens a session on `link`: a fresh origin and the channel its replies arrive on.
    pub(crate) fn open_session(
        &self,
        link: LinkId,
        capacity: usize,
    ) -> (Origin, mpsc::Receiver<ReplyEvent>) {
        let origin = self.next_origin();
        let (tx, rx) = mpsc::channel(capacity);
        self.sessions
            .lock()
            .insert(origin, Session { link, replies: tx });
        (origin, rx)
    }

    /// The reply channel of a session.
    pub(crate) fn session(&self, origin: Origin) -> Option<mpsc::Sender<ReplyEvent>> {
        self.sessions.lock().get(&origin).map(|s| s.replies.clone())
    }

    /// Delivers the last event of a session (its end, or the remote actor's failure) and
    /// forgets the session.
    pub(crate) async fn finish_session(&self, origin: Origin, last: ReplyEvent) {
        if let Some(session) = self.session(origin) {
            let _ = session.send(last).await;
        }
        self.close_session(origin);
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
