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
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long open HTTP requests may run after shutdown is signalled. Upgraded WebSockets are
/// not waited for: the bridge closes its links itself.
pub(crate) const DRAIN_DEADLINE: Duration = Duration::from_secs(5);

/// How long a client has to send a whole request head (line and headers), from its first
/// byte or, on a kept-alive connection, from the end of the previous response. Without it a
/// client that sends a few bytes and then nothing holds its connection (and a file
/// descriptor) forever.
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
/// once; a client still sending its request at the deadline no longer delays the return,
/// and its connection task ends when its header deadline passes or the runtime stops.
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
    // `stop` tells the connections to finish; every connection task holds a clone of
    // `open`, so `closed()` completes when the last one has ended.
    let (stop, _) = watch::channel(false);
    let (open, _) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let connection = serve_connection(io, peer, router.clone(), stop.subscribe(), deadlines);
        let held = open.subscribe();
        tokio::spawn(async move {
            connection.await;
            drop(held);
        });
    }
    drop(listener);
    stop.send_replace(true);
    if tokio::time::timeout(deadlines.drain, open.closed())
        .await
        .is_err()
    {
        tracing::debug!(deadline = ?deadlines.drain, "http drain deadline passed with requests still open");
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
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(deadlines.header_read);
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
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
