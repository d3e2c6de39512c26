//! Why a connection of a link ended, and what that means for the link.

use super::handle::Connection;
use crate::protocol::close;

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
