//! `DistributedConfig`: who this instance is, where it listens, how it authenticates.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use reflow_network::NetworkConfig;

/// Settings of a [`DistributedNetwork`](crate::DistributedNetwork).
#[derive(Debug, Clone)]
pub struct DistributedConfig {
    /// The network this instance belongs to; peers address its actors as `actor@network_id`.
    pub network_id: String,
    /// This instance's unique id; defaults to a fresh UUID when empty.
    pub instance_id: String,
    /// Where to serve HTTP and WebSocket links; `None` for an instance that only dials out.
    pub bind: Option<SocketAddr>,
    /// HTTP discovery registries (`http://host:port`, or `https://host:port` trusting
    /// `tls.ca`): this instance registers itself and
    /// its exported actors there, and links to the instances listed (see `docs/discovery.md`).
    pub discovery_endpoints: Vec<String>,
    /// How often discovery renews the registration and lists the registry.
    pub discovery_interval: Duration,
    /// The registry's writer token, sent as `Authorization: Bearer` when registering.
    pub discovery_token: Option<String>,
    /// The address peers should dial (`host:port`, `ws://` or `wss://`), announced through
    /// discovery; by default the address this instance listens on.
    pub advertise: Option<String>,
    /// mDNS discovery: advertise this instance as `_reflow._tcp.local.` and link to the
    /// instances advertised on the LAN (multicast; see `docs/discovery.md`).
    pub mdns: bool,
    /// The shared secret proven by challenge-response; required to link with anyone.
    pub auth_token: Option<String>,
    /// Most links this instance accepts at once.
    pub max_connections: usize,
    /// How often links send heartbeats.
    pub heartbeat_interval_ms: u64,
    /// How many heartbeat intervals a peer may stay silent before it is declared down.
    pub heartbeat_misses: u32,
    /// Largest WebSocket message accepted or sent, in bytes. A larger message crosses the
    /// link in parts, up to `max_message_size`.
    pub max_message_bytes: usize,
    /// Largest message (one message, encoded, with its port and session) that may cross a
    /// link either way, in bytes; the smaller of the two sides' values applies. A larger
    /// one is refused and handled by its proxy's failure mode (see docs/distributed.md).
    pub max_message_size: usize,
    /// The receive window of a link: most sequenced frames a peer may send before this
    /// instance acknowledges them. Also bounds what a sender keeps for replay.
    pub link_window: u32,
    /// Most bytes of unacknowledged frames a sender keeps for replay; at the limit the
    /// producer waits (one message may exceed it by at most `max_message_bytes`).
    pub link_window_bytes: usize,
    /// How long a lost link waits to be resumed before it is given up: its unacknowledged
    /// frames are then reported lost and its proxies fail.
    pub resume_timeout: Duration,
    /// First delay before redialling a lost link; doubled (with jitter) after each failure.
    pub reconnect_initial: Duration,
    /// Longest delay between redials.
    pub reconnect_max: Duration,
    /// How long one write to a socket may take before the connection is dropped (a peer
    /// that accepts nothing at all); the link then reconnects and resumes.
    pub write_timeout: Duration,
    /// How long one dial may take, from the TCP connect to the link being up (TLS,
    /// WebSocket upgrade, handshake, `Resume`): a peer that accepts the connection and then
    /// says nothing (a silent partition, a wedged process) fails the attempt instead of
    /// holding it, and a redial tries again.
    pub connect_timeout: Duration,
    /// How long `shutdown` waits for links and the local network to drain.
    pub shutdown_deadline: Duration,
    /// How long resolving `actor@network` waits for the peer to announce the actor.
    pub resolve_timeout: Duration,
    /// TLS for links: the certificate this instance serves with, the CA it trusts when it
    /// dials `wss://`. Empty by default: plaintext `ws://` both ways.
    pub tls: TlsConfig,
    /// Settings of the local network.
    pub local: NetworkConfig,
}

impl DistributedConfig {
    /// A configuration for `network_id` with defaults for everything else.
    pub fn new(network_id: impl Into<String>) -> Self {
        DistributedConfig {
            network_id: network_id.into(),
            instance_id: String::new(),
            bind: None,
            discovery_endpoints: Vec::new(),
            discovery_interval: Duration::from_secs(10),
            discovery_token: None,
            advertise: None,
            mdns: false,
            auth_token: None,
            max_connections: 256,
            heartbeat_interval_ms: 1000,
            heartbeat_misses: 3,
            max_message_bytes: 4 << 20,
            max_message_size: 64 << 20,
            link_window: 1024,
            link_window_bytes: 8 << 20,
            resume_timeout: Duration::from_secs(30),
            reconnect_initial: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            write_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            shutdown_deadline: Duration::from_secs(5),
            resolve_timeout: Duration::from_secs(10),
            tls: TlsConfig::default(),
            local: NetworkConfig::default(),
        }
    }
}

/// TLS settings of a bridge: the two halves are independent, an instance may serve TLS,
/// dial `wss://`, or both. The files are read when the
/// [`DistributedNetwork`](crate::DistributedNetwork) is created, and an unreadable or invalid
/// one fails that with an error naming it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// The certificate and key to serve with. When set, the bridge's port speaks TLS only:
    /// links, `/health`, `/status` and `/metrics` alike; a plaintext client is refused.
    pub identity: Option<TlsIdentity>,
    /// A PEM file of the CA certificates trusted when dialling `wss://HOST:PORT`; the
    /// peer's certificate must chain to one of them and be valid for `HOST`. Required to
    /// dial `wss://`; `ws://` and bare `HOST:PORT` stay plaintext.
    pub ca: Option<PathBuf>,
}

/// A certificate chain and its private key, both PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsIdentity {
    /// The certificate chain, the server's own certificate first, then any intermediates.
    pub cert_chain: PathBuf,
    /// The private key of the first certificate (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl TlsIdentity {
    /// The identity of the certificate chain at `cert_chain` and the key at `key`.
    pub fn new(cert_chain: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        TlsIdentity {
            cert_chain: cert_chain.into(),
            key: key.into(),
        }
    }
}
