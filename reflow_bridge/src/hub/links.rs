//! The link table: one link per peer instance, found by network id, with the peer's exports.

use std::time::Duration;

use super::{Hub, LinkEntry};
use crate::error::BridgeError;
use crate::net::LinkHandle;
use crate::protocol::ExportedActor;
use crate::session::keep_existing;

impl Hub {
    /// Records a new authenticated link. When a link to the same peer instance already
    /// exists (both sides dialled at once), the one dialled by the smaller instance id
    /// stays and the other is closed, on both sides alike. Returns whether the new one stays.
    pub(crate) fn add_link(&self, entry: LinkEntry) -> bool {
        let peer = entry.handle.peer.identity.instance_id.clone();
        let new_dialer = self.dialer_of(&entry);
        let mut links = self.links.lock();
        let existing = links
            .values()
            .find(|l| l.handle.peer.identity.instance_id == peer)
            .cloned();
        if let Some(old) = existing {
            if keep_existing(&self.dialer_of(&old), &new_dialer) {
                drop(links);
                entry
                    .handle
                    .close(1000, "duplicate link: keeping the older one");
                return false;
            }
            links.remove(&old.handle.id);
            old.handle.close(1000, "duplicate link: replaced");
        }
        let id = entry.handle.peer.identity.clone();
        links.insert(entry.handle.id, entry);
        drop(links);
        self.metrics.links_established.inc();
        self.emit(crate::events::BridgeEvent::PeerUp {
            network_id: id.network_id,
            instance_id: id.instance_id,
        });
        self.bump();
        true
    }

    fn dialer_of(&self, entry: &LinkEntry) -> String {
        if entry.dialed_by_us {
            self.me.instance_id.clone()
        } else {
            entry.handle.peer.identity.instance_id.clone()
        }
    }

    /// Whether an instance with this id already has a link here.
    pub(crate) fn has_instance(&self, instance_id: &str) -> bool {
        self.links
            .lock()
            .values()
            .any(|l| l.handle.peer.identity.instance_id == instance_id)
    }

    /// How many links are up.
    pub(crate) fn link_count(&self) -> usize {
        self.links.lock().len()
    }

    /// Every link, ordered by id.
    pub(crate) fn links(&self) -> Vec<LinkEntry> {
        self.links.lock().values().cloned().collect()
    }

    /// A link to an instance of `network`.
    pub(crate) fn link_to(&self, network: &str) -> Result<LinkHandle, BridgeError> {
        self.links
            .lock()
            .values()
            .find(|l| l.handle.peer.identity.network_id == network)
            .map(|l| l.handle.clone())
            .ok_or_else(|| BridgeError::NetworkUnreachable {
                network: network.to_string(),
                reason: "no link to an instance of that network".to_string(),
            })
    }

    /// The link to `network` and `actor` as it exports it.
    pub(crate) fn find_actor(
        &self,
        actor: &str,
        network: &str,
    ) -> Result<(LinkHandle, ExportedActor), BridgeError> {
        let links = self.links.lock();
        let mut reachable = false;
        for link in links.values() {
            if link.handle.peer.identity.network_id != network {
                continue;
            }
            reachable = true;
            if let Some(found) = link.exports.iter().find(|a| a.name == actor) {
                return Ok((link.handle.clone(), found.clone()));
            }
        }
        if reachable {
            Err(BridgeError::ActorNotFound {
                actor: actor.to_string(),
                network: network.to_string(),
            })
        } else {
            Err(BridgeError::NetworkUnreachable {
                network: network.to_string(),
                reason: "no link to an instance of that network".to_string(),
            })
        }
    }

    /// Waits up to `timeout` until `network` announces `actor`; the last error otherwise.
    pub(crate) async fn wait_for_actor(
        &self,
        actor: &str,
        network: &str,
        timeout: Duration,
    ) -> Result<(), BridgeError> {
        let mut changes = self.changes();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let err = match self.find_actor(actor, network) {
                Ok(_) => return Ok(()),
                Err(err) => err,
            };
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => continue,
                _ => return Err(err),
            }
        }
    }

    /// Records the peer's latest list of exported actors.
    pub(crate) fn set_peer_exports(&self, link: &LinkHandle, actors: Vec<ExportedActor>) {
        if let Some(entry) = self.links.lock().get_mut(&link.id) {
            entry.exports = actors;
        }
        self.bump();
    }

    /// Says `Bye` on every link, then closes it with `code` (1001 on shutdown).
    pub(crate) async fn close_all(&self, code: u16, reason: &str) {
        for link in self.links() {
            let bye = crate::protocol::Frame::Bye {
                reason: reason.to_string(),
            };
            let _ = link.handle.send(bye).await;
            link.handle.close(code, reason);
        }
    }

    /// Waits until no link is left, at most `timeout`.
    pub(crate) async fn wait_links_closed(&self, timeout: Duration) {
        let mut changes = self.changes();
        let _ = tokio::time::timeout(timeout, async {
            while self.link_count() > 0 {
                if changes.changed().await.is_err() {
                    break;
                }
            }
        })
        .await;
    }
}
