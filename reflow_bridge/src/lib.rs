//! Distribution for reflow: a NetworkBridge joins running instances over WebSocket, so that
//! a process whose component is `actor@network` behaves like a local one.
//!
//! An instance exports some of its processes ([`DistributedNetwork::export`],
//! [`DistributedNetwork::register_local_actor`]); another instance links to it
//! ([`DistributedNetwork::connect_to_network`]) and uses them as remote actors, either from a
//! graph (`"component": "validator@checks"`) or by registering them
//! ([`DistributedNetwork::register_remote_actor`]). Links are authenticated both ways by a
//! shared token proven with HMAC challenge-response.
//!
//! Layout: `protocol` (wire frames and codec), `session` (the handshake as pure state
//! machines), `net` (sockets: serving, dialling, one task per link), `hub` (shared state and
//! routing), `proxy` (remote actor proxies), `http` (/health, /status, /metrics),
//! [`alias`] (name-conflict strategies), [`discovery`] (the HTTP registry of instances) and
//! `finder` (the client that registers there and links to what it lists).

pub mod alias;
mod config;
pub mod discovery;
mod distributed;
mod error;
mod events;
mod finder;
mod http;
mod hub;
mod metrics;
mod net;
mod protocol;
mod proxy;
mod session;
mod signal;
mod status;
mod throttle;

pub use alias::AliasStrategy;
pub use config::{DistributedConfig, TlsConfig, TlsIdentity};
pub use distributed::{DistributedNetwork, PeerInfo};
pub use error::{BridgeError, TransportError};
pub use events::BridgeEvent;
pub use finder::check_registry_url;
pub use net::check_peer_address;
pub use proxy::graph_warnings;
pub use signal::stop_requested;
pub use status::{ExportStatus, LinkState, LinkStatus, RemoteActorStatus, Status};

/// The link protocol version this build speaks (the `version` TXT record of mDNS).
pub const PROTOCOL_VERSION: u16 = protocol::PROTOCOL_VERSION;

/// The mDNS service type advertised and browsed with `DistributedConfig::mdns`.
pub const MDNS_SERVICE_TYPE: &str = finder::mdns::SERVICE_TYPE;
