//! Distribution for reflow: a NetworkBridge joins running instances over WebSocket, so that
//! a process whose component is `actor@network` behaves like a local one.
//!
//! Layout: `protocol` (wire frames and codec), `session` (the handshake as a pure state
//! machine, HMAC proofs), `http` (the HTTP surface: upgrade, /health, /status, /metrics),
//! `alias` (name-conflict strategies).

pub mod alias;
mod http;
mod metrics;
mod protocol;
mod session;
mod status;
