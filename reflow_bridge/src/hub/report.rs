//! What the hub shows: the /status document and the point-in-time gauges of /metrics.

use std::sync::atomic::Ordering;

use super::{Hub, LinkEntry};
use crate::metrics::Gauges;
use crate::status::{ExportStatus, LinkState, LinkStatus, RemoteActorStatus, Status};

impl Hub {
    /// The /status document.
    pub(crate) fn status(&self) -> Status {
        let exported = self
            .export_list()
            .into_iter()
            .map(|a| ExportStatus {
                name: a.name,
                inports: a.inports,
                outports: a.outports,
            })
            .collect();
        Status {
            network_id: self.me.network_id.clone(),
            instance_id: self.me.instance_id.clone(),
            incarnation: self.me.incarnation.clone(),
            uptime_secs: self.started.elapsed().as_secs(),
            links: self.links().iter().map(link_status).collect(),
            exported,
            remote_actors: self.remote_actor_list(),
            messages_lost: self.metrics.messages_lost.get(),
        }
    }

    /// The remote actors in use here, by local name: registered ones and graph nodes.
    fn remote_actor_list(&self) -> Vec<RemoteActorStatus> {
        let mut remote_actors: Vec<RemoteActorStatus> = self
            .aliases
            .lock()
            .entries()
            .into_iter()
            .map(RemoteActorStatus::from)
            .collect();
        remote_actors.extend(self.graph_remotes());
        remote_actors.sort_by(|a, b| a.local_name.cmp(&b.local_name));
        remote_actors
    }

    /// The gauges of /metrics.
    pub(crate) fn gauges(&self) -> Gauges {
        let links = self.links();
        Gauges {
            links_up: links.len() as u64,
            queue_depths: links
                .iter()
                .map(|l| {
                    let id = &l.handle.peer.identity;
                    (
                        format!("{}/{}", id.network_id, id.instance_id),
                        l.handle.queue_depth() as u64,
                    )
                })
                .collect(),
            remote_actors: (self.aliases.lock().entries().len() + self.graph_remotes().len())
                as u64,
            exported_actors: self.export_list().len() as u64,
            uptime_secs: self.started.elapsed().as_secs_f64(),
            routed: self.route_counts(),
        }
    }
}

/// One link as /status shows it.
fn link_status(l: &LinkEntry) -> LinkStatus {
    let stats = &l.handle.stats;
    let latency = stats.latency_us.load(Ordering::Relaxed);
    LinkStatus {
        peer_network: l.handle.peer.identity.network_id.clone(),
        peer_instance: l.handle.peer.identity.instance_id.clone(),
        address: l.address.clone(),
        state: if l.handle.is_connected() {
            LinkState::Up
        } else {
            LinkState::Down
        },
        dialed_by_us: l.dialed_by_us,
        latency_ms: (latency > 0).then(|| latency as f64 / 1000.0),
        messages_in: stats.messages_in.load(Ordering::Relaxed),
        messages_out: stats.messages_out.load(Ordering::Relaxed),
        queue_depth: l.handle.queue_depth() as u64,
        unacked: l.handle.unacked(),
        resumes: stats.resumes.load(Ordering::Relaxed),
        replayed: stats.replayed.load(Ordering::Relaxed),
    }
}
