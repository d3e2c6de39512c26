//! Dialling a peer: WebSocket connect (TLS for `wss://`), the client handshake, then the
//! `Resume` exchange that resumes or starts the link.

use std::sync::Arc;

use super::handshake::client;
use crate::error::BridgeError;
use crate::hub::Hub;
use crate::session::Peer;

/// Connects to `addr` (`host:port`, `ws://host:port`, `wss://host:port` or a full URL),
/// authenticates both ways, resumes or starts the link and returns the peer; fails when
/// that takes longer than `connect_timeout`.
pub(crate) async fn dial(hub: Arc<Hub>, addr: &str) -> Result<Arc<Peer>, BridgeError> {
    let deadline = hub.config.connect_timeout;
    match tokio::time::timeout(deadline, dial_now(hub, addr)).await {
        Ok(dialled) => dialled,
        Err(_) => Err(BridgeError::Io {
            context: format!("cannot link to {addr}"),
            source: std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no link within {} ms", deadline.as_millis()),
            ),
        }),
    }
}

async fn dial_now(hub: Arc<Hub>, addr: &str) -> Result<Arc<Peer>, BridgeError> {
    let url = ws_url(addr);
    let host = url
        .split_once("://")
        .map_or(url.as_str(), |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let (mut sink, mut stream) = super::tls::connect(&hub, &url, &host).await?;
    let peer = client(&hub, &mut sink, &mut stream).await?;
    // The address as given (scheme included): a redial must use TLS again if this did.
    let link = super::resume::establish(&hub, sink, stream, peer, true, addr.to_string()).await?;
    Ok(link.peer.clone())
}

fn ws_url(addr: &str) -> String {
    match addr.split_once("://") {
        Some((_, rest)) if rest.contains('/') => addr.to_string(),
        Some(_) => format!("{addr}/ws"),
        None => format!("ws://{addr}/ws"),
    }
}
