//! A link is a session with one peer incarnation that outlives its connections: its outbox,
//! sequence numbers, replay buffer and inbound queue stay while connections come and go.
//! One driver task per link owns them and runs one connection at a time; when a connection
//! is lost the link waits for the next one (the hub redials it if this side dialled the last
//! one) until `resume_timeout`, then gives up and reports what was lost.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::connection;
use super::deliver;
use super::exit::{Ended, Exit};
use super::handle::{channels, Connection, LinkHandle, Outbound};
use super::state::LinkStats;
use crate::events::BridgeEvent;
use crate::hub::Hub;
use crate::protocol::Frame;
use crate::session::Peer;

/// Creates the link of a fresh session on `connection`, and starts its driver and its
/// delivery task. `register` records it in the hub before any frame is read.
pub(crate) fn spawn(
    hub: &Arc<Hub>,
    peer: Peer,
    session: u64,
    connection: Connection,
    register: impl FnOnce(&LinkHandle),
) -> LinkHandle {
    let window = usize::try_from(hub.config.link_window.max(1)).unwrap_or(usize::MAX);
    let (inbound_tx, inbound) = mpsc::channel(window);
    let stats = LinkStats {
        last_seen_us: AtomicU64::new(hub.now_us()),
        ..LinkStats::default()
    };
    let capacity = hub.config.local.capacity;
    let (handle, out) = channels(
        hub.next_link_id(),
        peer,
        session,
        stats,
        capacity,
        connection.peer_window,
    );
    handle.state.set_connected(true);
    register(&handle);
    deliver::spawn(hub.clone(), handle.clone(), inbound);
    let link = handle.clone();
    let hub = hub.clone();
    tokio::spawn(async move {
        let mut guard = Closing {
            hub,
            link,
            exit: Some(Exit::Dropped("the link task ended unexpectedly".into())),
            lost: 0,
        };
        let (exit, lost) = drive(out, inbound_tx, connection, &guard.link, &guard.hub).await;
        guard.exit = Some(exit);
        guard.lost = lost;
    });
    handle
}

/// Tells the hub that a link ended, however its task ended (even by a panic), so that no
/// dead link stays listed.
struct Closing {
    hub: Arc<Hub>,
    link: LinkHandle,
    exit: Option<Exit>,
    lost: u64,
}

impl Drop for Closing {
    fn drop(&mut self) {
        let was_up = self.link.state.close();
        if let Some(exit) = self.exit.take() {
            self.hub.link_closed(&self.link, exit, self.lost, was_up);
        }
    }
}

/// Runs the connections of a link one after the other; returns why it ended and how many
/// sequenced frames were never acknowledged.
async fn drive(
    mut out: Outbound,
    inbound: mpsc::Sender<Frame>,
    first: Connection,
    link: &LinkHandle,
    hub: &Arc<Hub>,
) -> (Exit, u64) {
    let mut next = Some(first);
    let mut resumed = false;
    loop {
        let connection = match next.take() {
            Some(connection) => connection,
            None => match wait_for_connection(&mut out, link, hub).await {
                Ok(connection) => connection,
                Err(exit) => return (exit, lost(&mut out, link)),
            },
        };
        let (dialed_by_us, address) = (connection.dialed_by_us, connection.address.clone());
        hub.set_link_address(link, &address, dialed_by_us);
        link.state.set_connected(true);
        if resumed {
            resumed_event(hub, link, &out, connection.peer_received);
        }
        let ended = connection::run(connection, &mut out, &inbound, link, hub).await;
        resumed = true;
        match ended {
            Ended::Replaced(connection) => next = Some(connection),
            Ended::Exit(exit) if exit.is_resumable() && out.close.borrow().is_none() => {
                link.state.set_connected(false);
                hub.link_suspended(link, &exit, dialed_by_us.then_some(address));
            }
            Ended::Exit(exit) => return (exit, lost(&mut out, link)),
        }
    }
}

fn resumed_event(hub: &Hub, link: &LinkHandle, out: &Outbound, peer_received: u64) {
    let replayed = out.replay.last().saturating_sub(peer_received);
    link.stats.resumes.fetch_add(1, Ordering::Relaxed);
    link.stats.replayed.fetch_add(replayed, Ordering::Relaxed);
    hub.metrics.link_resumes.inc();
    hub.metrics.messages_replayed.add(replayed);
    let id = &link.peer.identity;
    tracing::info!(peer = %id.instance_id, replayed, "link resumed");
    hub.emit(BridgeEvent::LinkResumed {
        network_id: id.network_id.clone(),
        instance_id: id.instance_id.clone(),
        replayed,
    });
}

/// Waits for the next connection of a lost link, at most `resume_timeout`.
async fn wait_for_connection(
    out: &mut Outbound,
    link: &LinkHandle,
    hub: &Hub,
) -> Result<Connection, Exit> {
    let deadline = tokio::time::Instant::now() + hub.config.resume_timeout;
    tokio::select! {
            connection = out.attach.recv() => {
                connection.ok_or_else(|| Exit::Closed(1000, "link dropped".into()))
            }
            _ = out.close.changed() => {
                let (code, reason) = out.close.borrow().clone().unwrap_or((1000, String::new()));
                Err(Exit::Closed(code, reason))
            }
            () = tokio::time::sleep_until(deadline) => {
                let ms = u64::try_from(hub.config.resume_timeout.as_millis()).unwrap_or(u64::MAX);
                tracing::warn!(peer = %link.peer.identity.instance_id, "not resumed within {ms} ms: giving the link up");
                Err(Exit::Expired(ms))
            }
    }
}

/// Counts the sequenced frames that will never be delivered: unacknowledged, or still in
/// the outbox. Closes the outbox so that senders fail rather than wait. The peer's last
/// acknowledgement is applied first: the reader records it without waking the writer, and a
/// peer that leaves acknowledges everything in its `Bye`.
fn lost(out: &mut Outbound, link: &LinkHandle) -> u64 {
    let _ = out.replay.ack(link.state.acked_by_peer());
    out.outbox.close();
    // A message a proxy handed to another instance is not lost, nor its session's end.
    let counts = |f: &Frame| f.seq().is_some() && !link.state.is_handed_on(f);
    let mut lost = out.pending.drain(..).filter(counts).count() as u64;
    while let Ok(frame) = out.outbox.try_recv() {
        lost += u64::from(counts(&frame));
    }
    lost + out.replay.unacked_frames().filter(|f| counts(f)).count() as u64
}
