//! Exported actors: what peers may use and the remote sessions they serve; when the exported
//! process stops (its [`ExportTap`](super::ExportTap) drops), the open sessions end with an
//! error.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reflow_network::{Injector, NetworkEvent, Origin, Ports};
use serde_json::Value;
use tokio::sync::broadcast::{self, error::RecvError};

use super::{Export, Hub, Served};
use crate::net::{LinkHandle, LinkId};
use crate::protocol::{ExportedActor, Frame};

impl Hub {
    /// Makes `name` usable by peers. Its outputs reach them through its
    /// [`ExportTap`](super::ExportTap); `ended` is that tap's `ended()`.
    ///
    /// The process runs before it is added here, so it may already have ended (failed on
    /// start): its tap's stop found nothing to remove, so nothing is added. The flag is set
    /// before the stop looks, and read after the insert, so one of the two removes it.
    pub(crate) fn add_export(
        &self,
        name: &str,
        injector: Injector,
        ports: Ports,
        metadata: Value,
        ended: &AtomicBool,
    ) {
        let export = Export {
            injector,
            ports,
            metadata,
        };
        let mut exports = self.exports.lock();
        exports.insert(name.to_string(), export);
        if ended.load(Ordering::SeqCst) {
            exports.remove(name);
        }
    }

    /// The exported process `actor` has ended: peers may no longer use it, and every
    /// session it was serving ends with a `ReplyError` carrying the reason from `events`.
    /// `removed`: whether it was still offered (the caller has just withdrawn it).
    pub(super) async fn export_stopped(
        &self,
        actor: &str,
        removed: bool,
        events: &mut broadcast::Receiver<NetworkEvent>,
    ) {
        let cut = self.take_served_of(actor);
        if !cut.is_empty() {
            let error = exit_reason(events, actor, self.config.shutdown_deadline).await;
            tracing::debug!(%actor, sessions = cut.len(), "ending open sessions: {error}");
            for served in cut {
                self.metrics.served_sessions_failed.inc();
                let frame = Frame::ReplyError {
                    seq: 0,
                    actor: actor.to_string(),
                    origin: served.remote,
                    error: error.clone(),
                };
                let _ = served.link.send(frame).await;
            }
        }
        if removed {
            self.announce().await;
        }
    }

    /// Forgets the sessions `actor` serves and returns them.
    fn take_served_of(&self, actor: &str) -> Vec<Served> {
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

    /// The exports as announced to peers.
    pub(crate) fn export_list(&self) -> Vec<ExportedActor> {
        self.exports
            .lock()
            .iter()
            .map(|(name, e)| {
                ExportedActor::new(
                    name,
                    e.ports.inports.clone(),
                    e.ports.outports.clone(),
                    &e.metadata,
                )
            })
            .collect()
    }

    /// Sends our export list to every link.
    pub(crate) async fn announce(&self) {
        let frame = Frame::Exports {
            actors: self.export_list(),
        };
        for link in self.links() {
            let _ = link.handle.send(frame.clone()).await;
        }
    }

    pub(crate) fn injector(&self, actor: &str) -> Option<Injector> {
        self.exports.lock().get(actor).map(|e| e.injector.clone())
    }

    /// Drops every injector, so exported processes can drain and finish.
    pub(crate) fn clear_exports(&self) {
        self.exports.lock().clear();
        self.served.lock().clear();
        self.served_by_remote.lock().clear();
    }

    /// The local origin standing for remote session `remote` of `link` towards `actor`.
    pub(crate) fn served_origin(&self, link: &LinkHandle, remote: u32, actor: &str) -> Origin {
        let key = (link.id, remote);
        if let Some(origin) = self.served_by_remote.lock().get(&key) {
            return *origin;
        }
        let origin = self.next_origin();
        let served = Served {
            link: link.clone(),
            remote,
            actor: actor.to_string(),
        };
        self.served.lock().insert(origin, served);
        self.served_by_remote.lock().insert(key, origin);
        origin
    }

    /// The local origin of an existing remote session, if any.
    pub(crate) fn known_served(&self, link: LinkId, remote: u32) -> Option<Origin> {
        self.served_by_remote.lock().get(&(link, remote)).copied()
    }

    /// Forgets the sessions served over a link that went down; the exported actors see
    /// their ends so that nothing waits for them.
    pub(super) fn end_served_of(&self, link: LinkId) {
        let gone: Vec<(Origin, String)> = self
            .served
            .lock()
            .iter()
            .filter(|(_, s)| s.link.id == link)
            .map(|(o, s)| (*o, s.actor.clone()))
            .collect();
        self.served_by_remote.lock().retain(|(l, _), _| *l != link);
        for (origin, actor) in gone {
            self.served.lock().remove(&origin);
            if let Some(injector) = self.injector(&actor) {
                tokio::spawn(async move { injector.end(origin).await });
            }
        }
    }

    pub(super) fn sessions_of(&self, actor: &str) -> Vec<(LinkHandle, u32)> {
        self.served
            .lock()
            .values()
            .filter(|s| s.actor == actor)
            .map(|s| (s.link.clone(), s.remote))
            .collect()
    }
}

/// Why the exported process `actor` ended, as its network reported it. The event follows
/// the tap's close closely; the bound only guards against an event that never comes.
async fn exit_reason(
    events: &mut broadcast::Receiver<NetworkEvent>,
    actor: &str,
    bound: Duration,
) -> String {
    let reported = async {
        loop {
            match events.recv().await {
                Ok(NetworkEvent::ProcessFailed { process, error }) if process == actor => {
                    return Some(error)
                }
                Ok(NetworkEvent::ProcessFinished { process }) if process == actor => {
                    return Some("the exported actor finished before this session ended".into())
                }
                Ok(NetworkEvent::Done | NetworkEvent::Stopped) | Err(RecvError::Closed) => {
                    return None
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
            }
        }
    };
    let reported = tokio::time::timeout(bound, reported).await.ok().flatten();
    reported.unwrap_or_else(|| "the exported actor stopped".into())
}
