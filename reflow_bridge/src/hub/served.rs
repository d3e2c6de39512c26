//! The remote sessions served here. A session of a per-session export gets an instance of
//! its own ([`super::instance`]); a session of a shared export is tagged with a local origin
//! in the one shared process. Either way a session ends with its client's `End`, or at
//! once when the link that carried it is given up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use reflow_network::{Injector, Origin};
use tokio::task::AbortHandle;

use super::{Hub, RecvCredit, SendWindow};
use crate::net::{LinkHandle, LinkId};
use crate::protocol::Frame;

/// A remote proxy session served by one of our exported actors.
#[derive(Debug, Clone)]
pub(super) struct Served {
    pub(super) link: LinkHandle,
    pub(super) remote: u32,
    pub(super) actor: String,
    /// The session's own instance, for a per-session export.
    pub(super) own: Option<Own>,
    /// Grants the proxy credit as its messages are consumed.
    pub(super) credit: Arc<RecvCredit>,
    /// Room for replies at the proxy's side.
    pub(super) window: Arc<SendWindow>,
}

/// The instance serving one session alone.
#[derive(Debug, Clone)]
pub(super) struct Own {
    /// Its input, until the client's `End` (dropping it ends the instance's input).
    pub(super) injector: Option<Injector>,
    pub(super) task: AbortHandle,
    /// Whether the client ended the input (else this instance's end is not the session's).
    pub(super) client_ended: Arc<AtomicBool>,
}

impl Served {
    /// Stops the session's own instance at once, if it has one; nothing waits for the
    /// proxy's credit any more.
    pub(super) fn stop(&self) {
        self.window.close();
        if let Some(own) = &self.own {
            own.task.abort();
        }
    }
}

/// Where the data of one session goes: an inbox, the origin to tag it with, and for a
/// shared process the credit to grant as its inbox takes a message (an instance of its own
/// grants it as it takes messages out).
pub(crate) type Feed = (Injector, Origin, Option<Arc<RecvCredit>>);

impl Hub {
    /// Where data of session `remote` of `link` towards `actor` goes, opening the session
    /// (and, for a per-session export, starting its instance) on its first message. `None`
    /// when `actor` is not exported, or the session has already ended its input.
    pub(crate) fn feed(&self, link: &LinkHandle, remote: u32, actor: &str) -> Option<Feed> {
        if let Some(origin) = self.known_served(link.id, remote) {
            let served = self.served.lock().get(&origin).cloned()?;
            return match served.own {
                Some(own) => own.injector.map(|i| (i, 0, None)),
                None => self
                    .injector(actor)
                    .map(|i| (i, origin, Some(served.credit))),
            };
        }
        let export = self.exports.lock().get(actor).cloned()?;
        let origin = self.next_origin();
        let mut served = Served {
            link: link.clone(),
            remote,
            actor: actor.to_string(),
            own: None,
            credit: RecvCredit::new(link.clone(), remote, false),
            window: Arc::default(),
        };
        let feed = match &export.instances {
            Some(instances) => {
                let (own, injector) = self.start_instance(instances, &served, origin)?;
                served.own = Some(own);
                (injector, 0, None)
            }
            None => (export.injector, origin, Some(served.credit.clone())),
        };
        let finished = served.own.as_ref().map(|own| own.task.clone());
        self.served.lock().insert(origin, served);
        self.served_by_remote
            .lock()
            .insert((link.id, remote), origin);
        // An instance that failed as it started has ended its session already (and found
        // nothing to forget): forget it now.
        if finished.is_some_and(|task| task.is_finished()) {
            self.forget_served(origin);
        }
        Some(feed)
    }

    /// The client's `End` of session `remote` of `link` towards `actor`: the session's
    /// input ends. A per-session instance then finishes and its end goes back when it has;
    /// a shared process passes the end on once it has handled the session's messages. A
    /// session that sent nothing before its end (an empty stream) is opened and ended at
    /// once, so that it gets what the actor makes at the end of an empty input.
    pub(crate) async fn end_feed(&self, link: &LinkHandle, remote: u32, actor: &str) {
        if self.known_served(link.id, remote).is_none() && self.feed(link, remote, actor).is_none()
        {
            let frame = Frame::ReplyError {
                seq: 0,
                actor: actor.to_string(),
                origin: remote,
                error: format!("this instance does not export `{actor}`"),
            };
            let _ = link.send(frame).await;
            return;
        }
        let Some(origin) = self.known_served(link.id, remote) else {
            return;
        };
        let own = {
            let mut served = self.served.lock();
            let session = served.get_mut(&origin);
            session.map(|s| {
                s.own.as_mut().map(|own| {
                    own.client_ended.store(true, Ordering::Release);
                    own.injector.take()
                })
            })
        };
        // An instance's input ends with its injector, dropped here; a shared process is
        // told which session ended.
        if let Some(None) = own {
            if let Some(injector) = self.injector(actor) {
                let _ = injector.end(origin).await;
            }
        }
    }

    /// The local origin of an existing remote session, if any.
    pub(crate) fn known_served(&self, link: LinkId, remote: u32) -> Option<Origin> {
        self.served_by_remote.lock().get(&(link, remote)).copied()
    }

    /// Forgets a finished session.
    pub(super) fn forget_served(&self, origin: Origin) -> Option<Served> {
        let served = self.served.lock().remove(&origin)?;
        served.window.close();
        self.served_by_remote
            .lock()
            .remove(&(served.link.id, served.remote));
        Some(served)
    }

    /// Forgets the sessions `actor` serves and returns them.
    pub(super) fn take_served_of(&self, actor: &str) -> Vec<Served> {
        let mut cut = Vec::new();
        self.served.lock().retain(|_, s| {
            let keep = s.actor != actor;
            if !keep {
                cut.push(s.clone());
            }
            keep
        });
        let mut by_remote = self.served_by_remote.lock();
        for s in &cut {
            by_remote.remove(&(s.link.id, s.remote));
        }
        cut
    }

    /// Ends the sessions served over a link that was given up: their instances stop at
    /// once; a shared process sees their ends, so that nothing waits for them.
    pub(super) fn end_served_of(&self, link: LinkId) {
        let gone: Vec<(Origin, Served)> = {
            let mut served = self.served.lock();
            let origins: Vec<Origin> = served
                .iter()
                .filter(|(_, s)| s.link.id == link)
                .map(|(o, _)| *o)
                .collect();
            origins
                .into_iter()
                .filter_map(|o| served.remove(&o).map(|s| (o, s)))
                .collect()
        };
        self.served_by_remote.lock().retain(|(l, _), _| *l != link);
        for (origin, served) in gone {
            served.stop();
            if served.own.is_some() {
                continue;
            }
            if let Some(injector) = self.injector(&served.actor) {
                tokio::spawn(async move { injector.end(origin).await });
            }
        }
    }

    /// The sessions a shared `actor` serves: where its own outputs go.
    pub(super) fn sessions_of(&self, actor: &str) -> Vec<Served> {
        self.served
            .lock()
            .values()
            .filter(|s| s.actor == actor && s.own.is_none())
            .cloned()
            .collect()
    }

    /// Stops taking work: the exports are withdrawn, the shared processes lose their
    /// injectors (so that they can drain and finish), and every per-session instance's
    /// input ends, so that it finishes and its session ends normally.
    pub(crate) fn clear_exports(&self) {
        self.exports.lock().clear();
        let mut served = self.served.lock();
        served.retain(|_, s| {
            if s.own.is_none() {
                s.window.close();
            }
            s.own.is_some()
        });
        for s in served.values_mut() {
            if let Some(own) = &mut s.own {
                own.injector = None;
            }
        }
        drop(served);
        let served = self.served.lock();
        self.served_by_remote
            .lock()
            .retain(|_, origin| served.contains_key(origin));
    }

    /// Waits, at most `deadline`, for the per-session instances to finish (after
    /// [`clear_exports`](Self::clear_exports)); stops the ones still running then.
    pub(crate) async fn drain_instances(&self, deadline: std::time::Duration) {
        let mut live = self.live_instances.subscribe();
        let drained = tokio::time::timeout(deadline, live.wait_for(|n| *n == 0)).await;
        if drained.is_err() {
            for served in self.served.lock().values() {
                served.stop();
            }
        }
    }
}
