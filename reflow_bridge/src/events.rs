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
    /// peer fell silent past the heartbeat budget. A lost link is resumed when the peer
    /// comes back (`LinkResumed`); proxies fail only when it is given up.
    PeerDown {
        /// The peer's network id.
        network_id: String,
        /// The peer's instance id.
        instance_id: String,
        /// Why, for people: `peer silent for 3012 ms: declared down`, `closed by the peer
        /// (1001): shutting down`, ...
        reason: String,
    },
    /// A lost link to a peer was resumed on a new connection: nothing was lost, and the
    /// frames the peer had not received were sent again.
    LinkResumed {
        /// The peer's network id.
        network_id: String,
        /// The peer's instance id.
        instance_id: String,
        /// Frames sent again on the new connection.
        replayed: u64,
    },
    /// Messages sent to a peer will never be delivered: the link was given up (the peer
    /// restarted, or did not come back within the resume timeout, or this side shut down
    /// with messages still unacknowledged). Never silent.
    MessagesLost {
        /// The peer's network id.
        network_id: String,
        /// The peer's instance id.
        instance_id: String,
        /// How many sequenced frames (messages, ends, replies) were lost.
        count: u64,
        /// Why the link was given up.
        reason: String,
    },
    /// An instance of a network was lost (its link went down while another instance was
    /// up, or was given up) with messages of a proxy not yet done: they were sent again to
    /// the live instances. Never silent.
    MessagesResent {
        /// The local process of the proxy (`check` for `check@validation`).
        process: String,
        /// The lost instance.
        instance_id: String,
        /// How many messages were sent again.
        count: u64,
        /// Of those, the messages some of whose replies had already come out of the proxy:
        /// their replies appear twice in the output. The others were not finished, or
        /// made no reply, and appear once.
        duplicates: u64,
    },
    /// The circuit breaker of a proxy towards one instance changed state: `open` (sends in
    /// a row ran out of time; no traffic for the cooldown), `half_open` (one probe goes
    /// out), `closed` (the probe went out in time; traffic flows again).
    BreakerChanged {
        /// The local process of the proxy.
        process: String,
        /// The instance.
        instance_id: String,
        /// `open`, `half_open` or `closed`.
        state: &'static str,
    },
}
