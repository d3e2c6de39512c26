//! The `/status` document: plain data the bridge fills from its links, exports and alias
//! registry, serialised as JSON by the HTTP surface.

use serde::Serialize;

use crate::alias::AliasEntry;

#[cfg(test)]
mod tests;

/// What `GET /status` returns.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Status {
    /// This instance's network id.
    pub network_id: String,
    /// This process's stable instance id.
    pub instance_id: String,
    /// The id fresh at every start of this process.
    pub incarnation: String,
    /// Seconds since the bridge started.
    pub uptime_secs: u64,
    /// Every known link, up or not.
    pub links: Vec<LinkStatus>,
    /// Local actors offered to peers.
    pub exported: Vec<ExportStatus>,
    /// Remote actors registered in the local graph, under their local names.
    pub remote_actors: Vec<RemoteActorStatus>,
    /// Messages sent to peers that will never be delivered (links given up), since start.
    pub messages_lost: u64,
}

/// Where a link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkState {
    /// Dialling or in the handshake.
    Connecting,
    /// Handshake done, messages flow.
    Up,
    /// Connection lost; waiting to be resumed (the dialling side redials).
    Down,
}

/// One link to a peer instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkStatus {
    /// The peer's network id.
    pub peer_network: String,
    /// The peer's instance id.
    pub peer_instance: String,
    /// The peer's socket address as `host:port`.
    pub address: String,
    /// Where the link stands.
    pub state: LinkState,
    /// Whether this side opened the connection.
    pub dialed_by_us: bool,
    /// Last measured heartbeat round trip, if any.
    pub latency_ms: Option<f64>,
    /// Application messages received on this link.
    pub messages_in: u64,
    /// Application messages sent on this link.
    pub messages_out: u64,
    /// Messages waiting in the link's outbox.
    pub queue_depth: u64,
    /// Messages sent and not yet acknowledged by the peer (kept for replay).
    pub unacked: u64,
    /// How many times the link was resumed on a new connection.
    pub resumes: u64,
    /// Messages sent again on resumed connections.
    pub replayed: u64,
}

/// One exported local actor and its ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportStatus {
    /// The actor's name as peers address it.
    pub name: String,
    /// Its inport names.
    pub inports: Vec<String>,
    /// Its outport names.
    pub outports: Vec<String>,
}

/// One remote actor registered locally.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemoteActorStatus {
    /// The name of its proxy in the local graph.
    pub local_name: String,
    /// The actor's name on its own network.
    pub actor: String,
    /// The network that exports it.
    pub network: String,
    /// Whether the local name differs from the actor's own name.
    pub aliased: bool,
    /// For a graph's `actor@network` process: how its proxy spreads messages over the
    /// network's instances (`round_robin`, `least_loaded`, `key`, `broadcast`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// For a graph's `actor@network` process: the instances its proxy knows, with their
    /// state and share of its messages.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<InstanceShare>,
}

impl From<AliasEntry> for RemoteActorStatus {
    fn from(entry: AliasEntry) -> Self {
        RemoteActorStatus {
            aliased: entry.is_aliased(),
            local_name: entry.local_name,
            actor: entry.actor,
            network: entry.network,
            route: None,
            instances: Vec::new(),
        }
    }
}

/// One instance of the network as a proxy uses it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceShare {
    /// The instance id.
    pub instance: String,
    /// `up`: it takes new messages; `down`: its link waits to be resumed, or its circuit
    /// breaker is open, so it takes none; `gone`: its link was given up.
    pub state: String,
    /// Messages this proxy sent to it.
    pub messages: u64,
    /// Its fraction of the messages this proxy sent (0 to 1).
    pub share: f64,
}
