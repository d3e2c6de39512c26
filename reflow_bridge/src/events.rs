//! What the bridge tells the application about its peers.

/// A change in the links of a bridge. Lifecycle only: never one per message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BridgeEvent {
    /// A link to a peer instance completed its handshake.
    PeerUp {
        /// The peer's network id.
        network_id: String,
        /// The peer's instance id.
        instance_id: String,
    },
    /// A link to a peer instance went down: closed by either side, lost, rejected, or the
    /// peer fell silent past the heartbeat budget. Proxies using it fail.
    PeerDown {
        /// The peer's network id.
        network_id: String,
        /// The peer's instance id.
        instance_id: String,
        /// Why, for people: `peer silent for 3012 ms: declared down`, `closed by the peer
        /// (1001): shutting down`, ...
        reason: String,
    },
}
