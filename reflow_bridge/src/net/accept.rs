//! Serving: the HTTP surface on the bridge's port (over TLS only, when configured), whose
//! `/ws` upgrade runs the server handshake and starts a link. Each connection is its own task.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::handshake::server;
use super::wire::from_axum;
use crate::error::BridgeError;
use crate::http::{self, HttpState, WsLimits};
use crate::hub::Hub;

/// A running server.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Server {
    /// Stops accepting and waits for the server task.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Binds `bind` and serves HTTP and links until stopped.
pub(crate) async fn serve(hub: Arc<Hub>, bind: SocketAddr) -> Result<Server, BridgeError> {
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|source| BridgeError::Io {
            context: format!("cannot listen on {bind}"),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| BridgeError::Io {
        context: "cannot read the bound address".into(),
        source,
    })?;
    let router = http::router(state(&hub));
    let (stop, stopped) = oneshot::channel::<()>();
    let tls = hub.tls.server.clone();
    let metrics = hub.metrics.clone();
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        let served = match tls {
            Some(tls) => {
                let listener = super::tls::TlsListener::new(listener, addr, tls, metrics);
                http::serve_on(listener, router, shutdown).await
            }
            None => http::serve(listener, router, shutdown).await,
        };
        if let Err(err) = served {
            tracing::error!("the bridge server stopped: {err}");
        }
    });
    tracing::info!(%addr, tls = hub.tls.server.is_some(), "bridge listening");
    Ok(Server { addr, stop, task })
}

fn state(hub: &Arc<Hub>) -> HttpState {
    let (status_hub, gauges_hub, ws_hub) = (hub.clone(), hub.clone(), hub.clone());
    HttpState {
        network_id: Arc::from(hub.me.network_id.as_str()),
        instance_id: Arc::from(hub.me.instance_id.as_str()),
        status: Arc::new(move || status_hub.status()),
        metrics: hub.metrics.clone(),
        gauges: Arc::new(move || gauges_hub.gauges()),
        ws_handler: Arc::new(move |socket, peer| Box::pin(accept(ws_hub.clone(), socket, peer))),
        ws_limits: WsLimits {
            max_message_size: hub.max_message_bytes(),
            ..WsLimits::default()
        },
    }
}

async fn accept(hub: Arc<Hub>, socket: axum::extract::ws::WebSocket, from: SocketAddr) {
    let (mut sink, mut stream) = from_axum(socket);
    let peer = match server(&hub, &mut sink, &mut stream).await {
        Ok(peer) => peer,
        Err(err) => {
            if let Some(held) = hub.refusals.allow() {
                let more = match held {
                    0 => String::new(),
                    n => format!(" ({n} more refused since the last such line)"),
                };
                tracing::warn!(%from, "refused a link: {err}{more}");
            }
            return;
        }
    };
    let address = from.to_string();
    if let Err(err) = super::resume::establish(&hub, sink, stream, peer, false, address).await {
        tracing::warn!(%from, "link not started: {err}");
    }
}
