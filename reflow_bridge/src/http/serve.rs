//! The accept loop: every connection is its own task, so no client (idle, slow, speaking
//! garbage) can hold up another; shutdown drains open requests up to a deadline.

use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::serve::{Listener, ListenerExt};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// How long open HTTP requests may run after shutdown is signalled. Upgraded WebSockets are
/// not waited for: the bridge closes its links itself.
pub(crate) const DRAIN_DEADLINE: Duration = Duration::from_secs(5);

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting and lets
/// open requests finish for at most [`DRAIN_DEADLINE`]. Idle keep-alive connections close at
/// once; a client still sending its request at the deadline no longer delays the return,
/// and its connection task ends when that client goes or the runtime stops.
///
/// `TCP_NODELAY` is set on every accepted connection (without it a small response or a close
/// waits ~45 ms for Nagle and delayed ACK), and handlers can extract the peer's
/// `ConnectInfo<SocketAddr>`. Errors accepting a connection are retried inside axum, so this
/// only returns once shut down.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with_deadline(listener, router, shutdown, DRAIN_DEADLINE).await
}

/// [`serve`] with a chosen drain deadline.
pub(crate) async fn serve_with_deadline(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    deadline: Duration,
) -> io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%err, "could not set TCP_NODELAY on an accepted connection");
        }
    });
    serve_on_with_deadline(listener, router, shutdown, deadline).await
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
    serve_on_with_deadline(listener, router, shutdown, DRAIN_DEADLINE).await
}

async fn serve_on_with_deadline<L>(
    listener: L,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    deadline: Duration,
) -> io::Result<()>
where
    L: Listener<Addr = SocketAddr>,
{
    // axum gives handlers `ConnectInfo<SocketAddr>` from a `TcpListener` or from a `TapIo`
    // over any listener: this tap does nothing but that.
    let listener = listener.tap_io(|_| {});
    let (signalled_tx, signalled_rx) = oneshot::channel();
    let signal = async move {
        shutdown.await;
        let _ = signalled_tx.send(());
    };
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal);
    let expired = async move {
        // The sender is dropped without sending only once the server is done, and then the
        // server branch below is ready.
        match signalled_rx.await {
            Ok(()) => tokio::time::sleep(deadline).await,
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        result = server.into_future() => result,
        () = expired => {
            tracing::debug!(?deadline, "http drain deadline passed with requests still open");
            Ok(())
        }
    }
}
