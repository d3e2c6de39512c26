//! One connection of a link: a writer that drains the outbox within the credit window (one
//! WebSocket message per batch) and a reader that queues sequenced frames for delivery and
//! handles control frames itself, so it never waits on an actor. Both run in the link's
//! driver task until the connection ends or a newer one replaces it.

use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use super::exit::{Ended, Exit};
use super::handle::{Connection, LinkHandle, Outbound};
use super::wire::{Wire, WireStream};
use super::{reader, writer};
use crate::hub::Hub;
use crate::protocol::{close, Frame};

/// Runs one connection until it ends, then sends the right Close.
pub(crate) async fn run(
    connection: Connection,
    out: &mut Outbound,
    inbound: &mpsc::Sender<Frame>,
    link: &LinkHandle,
    hub: &Hub,
) -> Ended {
    let Connection {
        mut sink,
        mut stream,
        peer_received,
        peer_window,
        greeting,
        ..
    } = connection;
    out.peer_window = peer_window;
    let ended = {
        let write = writer::run(&mut sink, out, greeting, peer_received, link, hub);
        let read = reader::run(&mut stream, inbound, link, hub);
        tokio::select! {
            ended = write => ended,
            exit = read => Ended::Exit(exit),
        }
    };
    let (code, reason) = match &ended {
        // A sink that failed must not be used again.
        Ended::Exit(Exit::Dropped(_) | Exit::Stalled(_)) => return ended,
        Ended::Exit(Exit::Silent(ms)) => (close::RECONNECT, format!("silent for {ms} ms")),
        Ended::Exit(Exit::Closed(code, reason) | Exit::Rejected(code, reason)) => {
            (*code, reason.clone())
        }
        Ended::Exit(_) => (close::NORMAL, String::new()),
        Ended::Replaced(_) => (close::RECONNECT, "replaced by a newer connection".into()),
    };
    let _ = tokio::time::timeout(
        hub.config.write_timeout,
        sink.send(Wire::Close(code, reason)),
    )
    .await;
    if matches!(ended, Ended::Exit(Exit::Closed(..) | Exit::Rejected(..))) {
        drain(&mut stream, hub.config.shutdown_deadline).await;
    }
    ended
}

/// Reads (and drops) what the peer still sends until its Close answers ours, at most
/// `bound`: a socket closed with unread data is reset by the kernel, and the peer would see
/// a lost connection where we said goodbye.
async fn drain(stream: &mut WireStream, bound: std::time::Duration) {
    let answered = async {
        while let Some(Ok(wire)) = stream.next().await {
            if matches!(wire, Wire::Close(..)) {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(bound, answered).await;
}

#[cfg(test)]
mod tests;
