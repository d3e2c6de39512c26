//! The `/status` document: plain data the bridge fills from its links, exports and alias
//! registry, serialised as JSON by the HTTP surface.

// The bridge fills this in a later change; until then parts are unused.
#![allow(dead_code)]

use serde::Serialize;

use crate::alias::AliasEntry;

#[cfg(test)]
mod tests;

/// What `GET /status` returns.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Status {
    /// This instance's network id.
    pub(crate) network_id: String,
    /// This process's stable instance id.
    pub(crate) instance_id: String,
    /// The id fresh at every start of this process.
    pub(crate) incarnation: String,
    /// Seconds since the bridge started.
    pub(crate) uptime_secs: u64,
    /// Every known link, up or not.
    pub(crate) links: Vec<LinkStatus>,
    /// Local actors offered to peers.
    pub(crate) exported: Vec<ExportStatus>,
    /// Remote actors registered in the local graph, under their local names.
    pub(crate) remote_actors: Vec<RemoteActorStatus>,
}

/// Where a link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LinkState {
    /// Dialling or in the handshake.
    Connecting,
    /// Handshake done, messages flow.
    Up,
    /// Lost; may be redialled.
    Down,
}

/// One link to a peer instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct LinkStatus {
    /// The peer's network id.
    pub(crate) peer_network: String,
    /// The peer's instance id.
    pub(crate) peer_instance: String,
    /// The peer's socket address as `host:port`.
    pub(crate) address: String,
    /// Where the link stands.
    pub(crate) state: LinkState,
    /// Whether this side opened the connection.
    pub(crate) dialed_by_us: bool,
    /// Last measured heartbeat round trip, if any.
    pub(crate) latency_ms: Option<f64>,
    /// Application messages received on this link.
    pub(crate) messages_in: u64,
    /// Application messages sent on this link.
    pub(crate) messages_out: u64,
    /// Messages waiting in the link's outbox.
    pub(crate) queue_depth: u64,
}

/// One exported local actor and its ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ExportStatus {
    /// The actor's name as peers address it.
    pub(crate) name: String,
    /// Its inport names.
    pub(crate) inports: Vec<String>,
    /// Its outport names.
    pub(crate) outports: Vec<String>,
}

/// One remote actor registered locally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct RemoteActorStatus {
    /// The name of its proxy in the local graph.
    pub(crate) local_name: String,
    /// The actor's name on its own network.
    pub(crate) actor: String,
    /// The network that exports it.
    pub(crate) network: String,
    /// Whether the local name differs from the actor's own name.
    pub(crate) aliased: bool,
}

impl From<AliasEntry> for RemoteActorStatus {
    fn from(entry: AliasEntry) -> Self {
        RemoteActorStatus {
            aliased: entry.is_aliased(),
            local_name: entry.local_name,
            actor: entry.actor,
            network: entry.network,
        }
    }
}
