//! Dialling a peer: WebSocket connect with TCP_NODELAY, the client handshake, then the
//! `Resume` exchange that resumes or starts the link.

use std::sync::Arc;

use tokio::net::TcpStream;

use super::handshake::client;
use super::wire::from_tungstenite;
use crate::error::BridgeError;
use crate::hub::Hub;
use crate::session::Peer;

/// Connects to `addr` (`host:port`, `ws://host:port` or a full `ws://` URL), authenticates
/// both ways, resumes or starts the link and returns the peer.
pub(crate) async fn dial(hub: Arc<Hub>, addr: &str) -> Result<Arc<Peer>, BridgeError> {
    let url = ws_url(addr);
    let host = url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let tcp = TcpStream::connect(&host)
        .await
        .map_err(|source| BridgeError::Io {
            context: format!("cannot connect to {host}"),
            source,
        })?;
    let _ = tcp.set_nodelay(true);
    let mut ws_config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default();
    ws_config.max_message_size = Some(hub.max_message_bytes());
    ws_config.max_frame_size = Some(hub.max_message_bytes());
    let (socket, _) =
        tokio_tungstenite::client_async_with_config(url.as_str(), tcp, Some(ws_config))
            .await
            .map_err(|e| BridgeError::WebSocket(format!("upgrade to {url} failed: {e}")))?;
    let (mut sink, mut stream) = from_tungstenite(socket);
    let peer = client(&hub, &mut sink, &mut stream).await?;
    let link = super::resume::establish(&hub, sink, stream, peer, true, host).await?;
    Ok(link.peer.clone())
}

fn ws_url(addr: &str) -> String {
    if addr.starts_with("ws://") {
        if addr.trim_start_matches("ws://").contains('/') {
            addr.to_string()
        } else {
            format!("{addr}/ws")
        }
    } else {
        format!("ws://{addr}/ws")
    }
}
