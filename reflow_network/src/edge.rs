//! Edges: what travels in an inbox and how one send reaches every connection of an outport.

use std::sync::Arc;

use tokio::sync::mpsc::{self, error::TrySendError};

use crate::message::Message;
use crate::stall::Stall;

/// Who caused a message: `0` for the local graph, otherwise a session of a remote client
/// (see [`Injector`](crate::Injector)). The runtime carries it so that outputs caused by a
/// client's messages can be routed back to that client only.
pub type Origin = u32;

/// One item in a process inbox.
#[derive(Debug)]
pub(crate) struct Packet {
    /// Index of the inport in the receiver's port table.
    pub(crate) port: u16,
    pub(crate) origin: Origin,
    /// `None` marks the end of the stream of `origin` (never of the local graph, whose end
    /// is the inbox closing).
    pub(crate) msg: Option<Message>,
}

impl Packet {
    pub(crate) fn local(port: u16, msg: Message) -> Self {
        Packet {
            port,
            origin: 0,
            msg: Some(msg),
        }
    }
}

/// One connection leaving an outport: the receiver's inbox and the inport index there.
#[derive(Debug, Clone)]
pub(crate) struct Edge {
    pub(crate) tx: mpsc::Sender<Packet>,
    pub(crate) port: u16,
    /// The receiving process's index in the network, for deadlock detection.
    pub(crate) target: u32,
}

/// An outport and every connection leaving it.
#[derive(Debug, Clone)]
pub(crate) struct OutPort {
    pub(crate) name: Arc<str>,
    pub(crate) edges: Vec<Edge>,
}

/// Sends a copy of `msg` on every edge (the last one gets the original); returns how many
/// receivers had gone. A process passes its `stall`, so that a send into a full inbox
/// counts it blocked while it waits; a send from outside the graph's processes passes none.
pub(crate) async fn deliver(edges: &[Edge], msg: Message, stall: Option<&Arc<Stall>>) -> u64 {
    let Some((last, rest)) = edges.split_last() else {
        return 0;
    };
    let mut lost = 0;
    for edge in rest {
        let packet = Packet::local(edge.port, msg.clone());
        lost += u64::from(!push(edge, packet, stall).await);
    }
    lost + u64::from(!push(last, Packet::local(last.port, msg), stall).await)
}

/// Puts `packet` into the edge's inbox, waiting while it is full; false when the receiver
/// has gone. Trying first keeps the wait's bookkeeping off the path of a send with room.
async fn push(edge: &Edge, packet: Packet, stall: Option<&Arc<Stall>>) -> bool {
    // A yield point when the task's budget is spent, as tokio's own `send` is: a process
    // whose receivers always have room must not hold its worker thread.
    tokio::task::coop::consume_budget().await;
    match edge.tx.try_send(packet) {
        Ok(()) => true,
        Err(TrySendError::Closed(_)) => false,
        Err(TrySendError::Full(packet)) => match stall {
            Some(stall) => stall.send(&edge.tx, edge.target, packet).await.is_ok(),
            None => edge.tx.send(packet).await.is_ok(),
        },
    }
}

/// Whether every receiver of every outport has gone.
pub(crate) fn all_closed(outports: &[OutPort]) -> bool {
    outports
        .iter()
        .flat_map(|o| &o.edges)
        .all(|e| e.tx.is_closed())
}
