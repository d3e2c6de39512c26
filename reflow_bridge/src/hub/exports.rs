//! Exported actors: what peers may use, the remote sessions they serve, and the pump that
//! routes each output back to the session that caused it (or to all, for origin 0).

use std::sync::Arc;

use reflow_network::{Injector, Origin, Ports, Tapped};
use serde_json::Value;
use tokio::sync::mpsc;

use super::{Export, Hub, Served};
use crate::net::{LinkHandle, LinkId};
use crate::protocol::{ExportedActor, Frame};

impl Hub {
    /// Makes `name` usable by peers and starts routing its outputs back.
    pub(crate) fn add_export(
        self: &Arc<Self>,
        name: &str,
        injector: Injector,
        ports: Ports,
        metadata: Value,
        tap: mpsc::Receiver<Tapped>,
    ) {
        let export = Export {
            injector,
            ports,
            metadata,
        };
        self.exports.lock().insert(name.to_string(), export);
        tokio::spawn(pump(self.clone(), name.to_string(), tap));
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

    fn sessions_of(&self, actor: &str) -> Vec<(LinkHandle, u32)> {
        self.served
            .lock()
            .values()
            .filter(|s| s.actor == actor)
            .map(|s| (s.link.clone(), s.remote))
            .collect()
    }
}

/// Routes the outputs of one exported actor to the sessions that caused them.
async fn pump(hub: Arc<Hub>, actor: String, mut tap: mpsc::Receiver<Tapped>) {
    while let Some(tapped) = tap.recv().await {
        match tapped.msg {
            Some(msg) if tapped.origin == 0 => {
                for (link, remote) in hub.sessions_of(&actor) {
                    let _ = link
                        .send(reply(&actor, &tapped.port, remote, msg.clone()))
                        .await;
                }
            }
            Some(msg) => {
                let Some(served) = hub.served.lock().get(&tapped.origin).cloned() else {
                    continue;
                };
                let _ = served
                    .link
                    .send(reply(&actor, &tapped.port, served.remote, msg))
                    .await;
            }
            None => {
                let served = hub.served.lock().remove(&tapped.origin);
                let Some(served) = served else { continue };
                hub.served_by_remote
                    .lock()
                    .remove(&(served.link.id, served.remote));
                let end = Frame::ReplyEnd {
                    seq: 0,
                    actor: actor.clone(),
                    origin: served.remote,
                };
                let _ = served.link.send(end).await;
            }
        }
    }
}

fn reply(actor: &str, port: &str, origin: u32, payload: reflow_network::Message) -> Frame {
    Frame::Reply {
        seq: 0,
        actor: actor.to_string(),
        port: port.to_string(),
        origin,
        payload,
    }
}
