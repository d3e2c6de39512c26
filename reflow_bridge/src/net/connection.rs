//! One connection of a link: a writer that drains the outbox within the credit window (one
//! WebSocket message per batch) and a reader that queues sequenced frames for delivery and
//! handles control frames itself, so it never waits on an actor. Both run in the link's
//! driver task until the connection ends or a newer one replaces it.

use futures::SinkExt;
use tokio::sync::mpsc;

use super::link::{Connection, LinkHandle, Outbound};
use super::wire::Wire;
use super::{reader, writer};
use crate::hub::Hub;
use crate::protocol::{close, Frame};

/// Why a connection ended, and the close code it sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Exit {
    /// We closed it on purpose.
    Closed(u16, String),
    /// The peer sent a Close.
    PeerClosed(u16, String),
    /// The socket failed or ended without a Close.
    Dropped(String),
    /// The peer sent something we cannot accept (close code, reason).
    Rejected(u16, String),
    /// The peer was silent for longer than the heartbeat budget (that long, in ms).
    Silent(u64),
    /// A write to the socket did not complete within the write deadline (ms).
    Stalled(u64),
    /// The link was not resumed within the resume timeout (ms) and is given up.
    Expired(u64),
}

impl Exit {
    /// A short description for logs and events.
    pub(crate) fn describe(&self) -> String {
        match self {
            Exit::Closed(code, reason) => format!("closed by us ({code}): {reason}"),
            Exit::PeerClosed(code, reason) => format!("closed by the peer ({code}): {reason}"),
            Exit::Dropped(reason) => format!("connection lost: {reason}"),
            Exit::Rejected(code, reason) => format!("rejected peer input ({code}): {reason}"),
            Exit::Silent(ms) => format!("peer silent for {ms} ms: declared down"),
            Exit::Stalled(ms) => format!("peer accepted nothing for {ms} ms: disconnected"),
            Exit::Expired(ms) => format!("not resumed within {ms} ms: link given up"),
        }
    }

    /// Whether the link outlives this connection and waits to be resumed: the connection
    /// was lost, not closed on purpose by either side.
    pub(crate) fn is_resumable(&self) -> bool {
        match self {
            Exit::Dropped(_) | Exit::Silent(_) | Exit::Stalled(_) => true,
            Exit::PeerClosed(code, _) => *code == close::RECONNECT,
            Exit::Closed(..) | Exit::Rejected(..) | Exit::Expired(_) => false,
        }
    }
}

/// How a connection ended for the link.
pub(crate) enum Ended {
    /// It ended: the link resumes later or ends too, as `Exit::is_resumable` says.
    Exit(Exit),
    /// A newer connection of the same session arrived and takes over.
    Replaced(Connection),
}

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
    ended
}

#[cfg(test)]
mod tests;
