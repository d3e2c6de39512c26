//! The link table: one link per peer instance, found by network id, with the peer's exports.

use std::sync::Arc;
use std::time::Duration;

use super::{Hub, LinkEntry};
use crate::error::BridgeError;
use crate::net::{keep_existing, spawn_link, Connection, Decision, LinkHandle};
use crate::protocol::{close, ExportedActor};
use crate::session::{Identity, Peer};

impl Hub {
    /// Carries out what the `Resume` exchange decided for a new connection: hand it to the
    /// session it resumes, or start a fresh session (giving up any older one with the same
    /// peer instance).
    pub(crate) fn settle(
        self: &Arc<Self>,
        peer: Peer,
        decision: Decision,
        connection: Connection,
    ) -> Result<LinkHandle, BridgeError> {
        match decision {
            Decision::Resume(session) => {
                let link = self
                    .session_with(&peer.identity)
                    .filter(|l| l.session == session);
                let Some(link) = link else {
                    return Err(BridgeError::Protocol(
                        "the session to resume is gone".into(),
                    ));
                };
                link.attach(connection)?;
                Ok(link)
            }
            Decision::Fresh(session) => self.fresh_link(peer, session, connection),
        }
    }

    /// Starts a fresh session on `connection`. Two connections completing at once between
    /// the same instances keep one: when a link to the same incarnation is up, the one with
    /// the larger session id stays, on both sides alike (`keep_existing`).
    fn fresh_link(
        self: &Arc<Self>,
        peer: Peer,
        session: u64,
        connection: Connection,
    ) -> Result<LinkHandle, BridgeError> {
        let (address, dialed_by_us) = (connection.address.clone(), connection.dialed_by_us);
        let mut links = self.links.lock();
        let older: Vec<LinkEntry> = links
            .values()
            .filter(|l| l.handle.peer.identity.instance_id == peer.identity.instance_id)
            .cloned()
            .collect();
        for entry in &older {
            let same = entry.handle.peer.identity == peer.identity;
            if same && entry.handle.is_connected() && keep_existing(entry.handle.session, session) {
                return Err(BridgeError::DuplicateInstance(format!(
                    "a link to {} is already up; keeping it",
                    peer.identity.instance_id
                )));
            }
        }
        for entry in &older {
            links.remove(&entry.handle.id);
        }
        let id = peer.identity.clone();
        let handle = spawn_link(self, peer, session, connection, |handle| {
            links.insert(
                handle.id,
                LinkEntry {
                    handle: handle.clone(),
                    address,
                    dialed_by_us,
                    exports: Vec::new(),
                    exports_known: false,
                    exports_final: false,
                },
            );
        });
        drop(links);
        for entry in older {
            self.retire(&entry.handle);
            entry
                .handle
                .close(close::NORMAL, "replaced by a new session");
        }
        self.metrics.links_established.inc();
        self.emit(crate::events::BridgeEvent::PeerUp {
            network_id: id.network_id,
            instance_id: id.instance_id,
        });
        self.bump();
        Ok(handle)
    }

    /// The open link with exactly this peer incarnation, if any.
    pub(crate) fn session_with(&self, peer: &Identity) -> Option<LinkHandle> {
        self.links
            .lock()
            .values()
            .find(|l| &l.handle.peer.identity == peer && !l.handle.is_closed())
            .map(|l| l.handle.clone())
    }

    /// Whether another process claims this instance id: a link to it is up with another
    /// incarnation (a restarted peer's old link is down by then, or goes down soon).
    pub(crate) fn is_live_duplicate(&self, peer: &Identity) -> bool {
        self.links.lock().values().any(|l| {
            let id = &l.handle.peer.identity;
            id.instance_id == peer.instance_id
                && id.incarnation != peer.incarnation
                && l.handle.is_connected()
        })
    }

    /// Whether a link (up or waiting to resume) exists with this instance.
    pub(crate) fn knows_instance(&self, instance_id: &str) -> bool {
        self.links
            .lock()
            .values()
            .any(|l| l.handle.peer.identity.instance_id == instance_id)
    }

    /// Records the connection a link now runs on.
    pub(crate) fn set_link_address(&self, link: &LinkHandle, address: &str, dialed_by_us: bool) {
        if let Some(entry) = self.links.lock().get_mut(&link.id) {
            entry.address = address.to_string();
            entry.dialed_by_us = dialed_by_us;
        }
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
            let mut exported: Vec<String> = links
                .values()
                .filter(|l| l.handle.peer.identity.network_id == network)
                .flat_map(|l| l.exports.iter().map(|a| a.name.clone()))
                .collect();
            exported.sort();
            exported.dedup();
            let lower = actor.to_lowercase();
            exported.sort_by_key(|name| strsim::levenshtein(&lower, &name.to_lowercase()));
            Err(BridgeError::ActorNotFound {
                actor: actor.to_string(),
                network: network.to_string(),
                exported,
            })
        } else {
            Err(BridgeError::NetworkUnreachable {
                network: network.to_string(),
                reason: "no link to an instance of that network".to_string(),
            })
        }
    }

    /// Every instance of `network` that exports `actor` over a link not given up, with its
    /// link, ordered by link.
    pub(crate) fn instances_exporting(
        &self,
        actor: &str,
        network: &str,
    ) -> Vec<(String, LinkHandle)> {
        self.links
            .lock()
            .values()
            .filter(|l| l.handle.peer.identity.network_id == network && !l.handle.is_closed())
            .filter(|l| l.exports.iter().any(|a| a.name == actor))
            .map(|l| (l.handle.peer.identity.instance_id.clone(), l.handle.clone()))
            .collect()
    }

    /// Waits up to `timeout` until the link with `peer` has heard the peer's exports.
    pub(crate) async fn wait_for_exports(&self, peer: &Identity, timeout: Duration) {
        let mut changes = self.changes();
        let known = || {
            self.links
                .lock()
                .values()
                .any(|l| &l.handle.peer.identity == peer && l.exports_known)
        };
        let _ = tokio::time::timeout(timeout, async {
            while !known() {
                if changes.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
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
                // Every instance of the network has said what it exports: no need to wait.
                Err(err @ BridgeError::ActorNotFound { .. }) if self.all_exports_known(network) => {
                    return Err(err)
                }
                Err(err) => err,
            };
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => continue,
                _ => return Err(err),
            }
        }
    }

    /// Whether every linked instance of `network` has started and announced its exports.
    fn all_exports_known(&self, network: &str) -> bool {
        self.links
            .lock()
            .values()
            .filter(|l| l.handle.peer.identity.network_id == network)
            .all(|l| l.exports_final)
    }

    /// Records the peer's latest list of exported actors.
    pub(crate) fn set_peer_exports(
        &self,
        link: &LinkHandle,
        actors: Vec<ExportedActor>,
        started: bool,
    ) {
        if let Some(entry) = self.links.lock().get_mut(&link.id) {
            entry.exports = actors;
            entry.exports_known = true;
            entry.exports_final = started;
        }
        self.bump();
    }

    /// Says `Bye` on every link, then closes it with `code` (1001 on shutdown).
    pub(crate) fn close_all(&self, code: u16, reason: &str) {
        for link in self.links() {
            let bye = crate::protocol::Frame::Bye {
                reason: reason.to_string(),
            };
            // A link between connections with a full outbox gets no Bye: only the close.
            let _ = link.handle.try_send(bye);
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
