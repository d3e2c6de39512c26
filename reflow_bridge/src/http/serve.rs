//! The accept loop: every connection is its own task, so no client (idle, slow, speaking
//! garbage) can hold up another; a client that does not finish its request head in time is
//! disconnected; shutdown drains open requests up to a deadline.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::serve::{Listener, ListenerExt};
use axum::{Extension, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How long open HTTP requests may run after shutdown is signalled. Upgraded WebSockets are
/// not waited for: the bridge closes its links itself.
pub(crate) const DRAIN_DEADLINE: Duration = Duration::from_secs(5);

/// How long a client has to send a whole request head (line and headers), from the moment
/// it connects or, on a kept-alive connection, from the end of the previous response.
/// Without it a client that connects and sends nothing, or a few bytes, holds its
/// connection (and a file descriptor) forever.
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The deadlines of one server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadlines {
    /// See [`DRAIN_DEADLINE`].
    pub(crate) drain: Duration,
    /// See [`HEADER_READ_TIMEOUT`].
    pub(crate) header_read: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            drain: DRAIN_DEADLINE,
            header_read: HEADER_READ_TIMEOUT,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting and lets
/// open requests finish for at most [`DRAIN_DEADLINE`]. Idle keep-alive connections close at
/// once; what is still open at the deadline is aborted. Upgraded WebSockets are not this
/// server's any more: their handlers own them.
///
/// `TCP_NODELAY` is set on every accepted connection (without it a small response or a close
/// waits ~45 ms for Nagle and delayed ACK), and handlers can extract the peer's
/// `ConnectInfo<SocketAddr>`. Errors accepting a connection are retried inside axum's
/// listener, so this only returns once shut down.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with(listener, router, shutdown, Deadlines::default()).await
}

/// [`serve`] with chosen deadlines.
pub(crate) async fn serve_with(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    deadlines: Deadlines,
) -> io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%err, "could not set TCP_NODELAY on an accepted connection");
        }
    });
    serve_on_with(listener, router, shutdown, deadlines).await
}

/// [`serve`] on another listener (one that serves TLS), whose connections come with the
/// peer's address and already have `TCP_NODELAY` set.
pub(crate) async fn serve_on<L>(
    listener: L,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()>
where
    L: Listener<Addr = SocketAddr>,
{
    serve_on_with(listener, router, shutdown, Deadlines::default()).await
}

async fn serve_on_with<L>(
    mut listener: L,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    deadlines: Deadlines,
) -> io::Result<()>
where
    L: Listener<Addr = SocketAddr>,
{
    // `stop` tells the connections to finish their current request and close.
    let (stop, _) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            (io, peer) = listener.accept() => {
                let served = serve_connection(io, peer, router.clone(), stop.subscribe(), deadlines);
                connections.spawn(served);
            }
            // Reaps the ended connections, so that the set holds only open ones.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    stop.send_replace(true);
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(deadlines.drain, drained)
        .await
        .is_err()
    {
        tracing::debug!(deadline = ?deadlines.drain, open = connections.len(), "http drain deadline passed: aborting the connections still open");
        connections.abort_all();
    }
    Ok(())
}

/// Serves one connection (HTTP/1.1, upgrades to WebSocket included) until it ends; once
/// `stop` turns true, the current request finishes and the connection closes.
async fn serve_connection<I>(
    io: I,
    peer: SocketAddr,
    router: Router,
    mut stop: watch::Receiver<bool>,
    deadlines: Deadlines,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(router.layer(Extension(ConnectInfo(peer))));
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(deadlines.header_read)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(connection);
    let finished = tokio::select! {
        result = connection.as_mut() => Some(result),
        _ = stop.wait_for(|stop| *stop) => None,
    };
    let result = match finished {
        Some(result) => result,
        None => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(err) = result {
        tracing::debug!(%peer, %err, "http connection ended with an error");
    }
}
