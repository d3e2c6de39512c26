//! The HTTP surface on the bridge's port: the WebSocket upgrade that peers dial, and
//! `/health`, `/status` and `/metrics` for people and monitoring.
//!
//! The router knows nothing of links or sessions: the bridge hands it providers to call per
//! request and the handler that takes over each upgraded socket.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::WebSocket;
use axum::routing::get;
use axum::Router;
use futures::future::BoxFuture;

use crate::metrics::{Gauges, Metrics};
use crate::status::Status;

mod handlers;
mod serve;
#[cfg(test)]
mod tests;

#[allow(unused_imports)] // Until the bridge calls it.
pub(crate) use serve::{serve, serve_on, serve_with, Deadlines, DRAIN_DEADLINE};

/// Builds the `/status` document on demand.
pub(crate) type StatusProvider = Arc<dyn Fn() -> Status + Send + Sync>;

/// Reads the gauges on demand, at every scrape of `/metrics`.
pub(crate) type GaugesProvider = Arc<dyn Fn() -> Gauges + Send + Sync>;

/// Takes over an upgraded WebSocket from the peer at the given address; the future runs as
/// its own task for as long as the connection lives.
pub(crate) type WsHandler =
    Arc<dyn Fn(WebSocket, SocketAddr) -> BoxFuture<'static, ()> + Send + Sync>;

/// Limits applied to every upgraded WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WsLimits {
    /// Largest message accepted, in bytes; a larger one fails the read with a capacity error
    /// (the handler then closes with 1009). Also the largest frame.
    pub(crate) max_message_size: usize,
    /// Bytes the socket buffers before writing to TCP.
    pub(crate) write_buffer_size: usize,
    /// Bytes read from TCP at a time.
    pub(crate) read_buffer_size: usize,
}

/// Bytes a WebSocket reads from TCP at a time, both ends of a link. tungstenite zeroes its
/// whole read buffer before every read, including the read that finds nothing: its default
/// (128 KiB) costs about 4 µs per read, several times per round trip. 16 KiB holds a full
/// batch of small frames.
pub(crate) const READ_BUFFER_SIZE: usize = 16 << 10;

impl WsLimits {
    /// Ceiling of the write buffer: room for the buffer plus one largest message and its
    /// frame header. The buffer only grows past `write_buffer_size` while writes to TCP fail,
    /// so this bounds memory held for a dead peer rather than throttling a live one.
    pub(crate) fn max_write_buffer_size(&self) -> usize {
        const FRAME_HEADER: usize = 14;
        self.write_buffer_size
            .saturating_add(self.max_message_size)
            .saturating_add(FRAME_HEADER)
    }
}

impl Default for WsLimits {
    /// 1 MiB messages, a 128 KiB write buffer (tungstenite's default), a 16 KiB read buffer.
    fn default() -> Self {
        WsLimits {
            max_message_size: 1 << 20,
            write_buffer_size: 128 << 10,
            read_buffer_size: READ_BUFFER_SIZE,
        }
    }
}

/// What the HTTP handlers share.
#[derive(Clone)]
pub(crate) struct HttpState {
    /// This instance's network id, reported by `/health`.
    pub(crate) network_id: Arc<str>,
    /// This process's instance id, reported by `/health`.
    pub(crate) instance_id: Arc<str>,
    /// Builds the `/status` document.
    pub(crate) status: StatusProvider,
    /// The bridge's counters.
    pub(crate) metrics: Arc<Metrics>,
    /// Reads the gauges for `/metrics`.
    pub(crate) gauges: GaugesProvider,
    /// Takes over every upgraded WebSocket.
    pub(crate) ws_handler: WsHandler,
    /// Limits applied at the upgrade.
    pub(crate) ws_limits: WsLimits,
}

/// The bridge's routes: `GET /health`, `GET /status`, `GET /metrics`, `GET /ws` (upgrade).
/// Any other path is a counted 404; another method on a known path is a 405.
///
/// `/ws` extracts the peer's `ConnectInfo<SocketAddr>`: serve the router with [`serve()`], or
/// with `into_make_service_with_connect_info::<SocketAddr>()`, else upgrades fail with 500.
pub(crate) fn router(state: HttpState) -> Router {
    Router::new()
        .route("/health", get(handlers::health))
        .route("/status", get(handlers::status))
        .route("/metrics", get(handlers::metrics))
        .route("/ws", get(handlers::upgrade))
        .fallback(handlers::not_found)
        .with_state(state)
}
