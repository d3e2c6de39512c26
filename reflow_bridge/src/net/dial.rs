//! Dialling a peer: WebSocket connect (TLS for `wss://`), the client handshake, then the link.

use std::sync::Arc;

use super::handshake::client;
use crate::error::BridgeError;
use crate::hub::{Hub, LinkEntry};
use crate::net::LinkHandle;
use crate::session::Peer;

/// Connects to `addr` (`host:port`, `ws://host:port`, `wss://host:port` or a full URL), authenticates
/// both ways, registers the link and returns the peer.
pub(crate) async fn dial(hub: Arc<Hub>, addr: &str) -> Result<Arc<Peer>, BridgeError> {
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
    let address = host.clone();
    let register = |link: &LinkHandle| {
        hub.add_link(LinkEntry {
            handle: link.clone(),
            address,
            dialed_by_us: true,
            exports: Vec::new(),
        })
    };
    let capacity = hub.config.local.capacity;
    let Some(link) = super::connection::spawn(sink, stream, peer, hub.clone(), capacity, register)
    else {
        return Err(BridgeError::DuplicateInstance(format!(
            "a link to the instance at {host} already exists"
        )));
    };
    let peer = link.peer.clone();
    super::handshake::after_link_up(&hub, &link).await;
    Ok(peer)
}

fn ws_url(addr: &str) -> String {
    match addr.split_once("://") {
        Some((_, rest)) if rest.contains('/') => addr.to_string(),
        Some(_) => format!("{addr}/ws"),
        None => format!("ws://{addr}/ws"),
    }
}
