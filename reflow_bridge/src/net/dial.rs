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
    check_peer_address(addr)?;
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

/// Checks that `addr` is a peer address `dial` understands: `HOST:PORT`, optionally behind
/// `ws://` or `wss://` and followed by a path. Says what is wrong and what is expected.
pub fn check_peer_address(addr: &str) -> Result<(), BridgeError> {
    let bad = |why: &str| {
        BridgeError::Config(format!(
            "`{addr}` is not a peer address: {why} (expected HOST:PORT, ws://HOST:PORT or wss://HOST:PORT)"
        ))
    };
    let rest = match addr.split_once("://") {
        Some(("ws" | "wss", rest)) => rest,
        Some((scheme, _)) => {
            return Err(bad(&format!(
                "the scheme `{scheme}://` is not one of ws://, wss://"
            )))
        }
        None => addr,
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let Some((host, port)) = authority.rsplit_once(':') else {
        return Err(bad("no port"));
    };
    if host.is_empty() || host == "[" {
        return Err(bad("no host"));
    }
    match port.parse::<u16>() {
        Ok(port) if port > 0 => Ok(()),
        _ => Err(bad(&format!(
            "`{port}` is not a port number from 1 to 65535"
        ))),
    }
}

fn ws_url(addr: &str) -> String {
    match addr.split_once("://") {
        Some((_, rest)) if rest.contains('/') => addr.to_string(),
        Some(_) => format!("{addr}/ws"),
        None => format!("ws://{addr}/ws"),
    }
}

#[cfg(test)]
mod tests {
    use super::check_peer_address;

    #[test]
    fn peer_addresses_need_a_host_a_port_and_a_websocket_scheme() {
        for good in [
            "127.0.0.1:7400",
            "ws://host:1",
            "wss://h.example:443/ws",
            "[::1]:80",
        ] {
            assert!(check_peer_address(good).is_ok(), "{good}");
        }
        let cases = [
            ("127.0.0.1", "no port"),
            ("http://host:80", "the scheme `http://`"),
            (":80", "no host"),
            ("host:0", "not a port number"),
            ("host:99999", "not a port number"),
            ("ws://host:x/ws", "`x` is not a port"),
        ];
        for (bad, why) in cases {
            let err = check_peer_address(bad).unwrap_err().to_string();
            assert!(
                err.contains(why) && err.contains("expected HOST:PORT"),
                "{bad}: {err}"
            );
        }
    }
}
