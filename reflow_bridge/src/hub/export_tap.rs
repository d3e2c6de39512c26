//! The tap of an exported actor: its outputs go back to the sessions that caused them from
//! the actor's own task, and its drop (the process has ended) ends the sessions still open.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use reflow_network::{NetworkEvent, Tap, Tapped};
use tokio::sync::broadcast;

use super::served::Served;
use super::Hub;
use crate::protocol::Frame;

/// The tap of one exported actor: routes each output, in the actor's own task, to the
/// session that caused it (to all, for origin 0), so that a reply reaches the link without a
/// task in between and the actor waits while the link's outbox is full. Dropped when the
/// process has ended, however it ended: then the sessions still open are ended with the
/// reason, so that no peer's proxy waits for an end that cannot come.
pub(crate) struct ExportTap {
    hub: Arc<Hub>,
    actor: String,
    /// Set when the process has ended (the tap is dropped).
    ended: Arc<AtomicBool>,
    /// The local network's events, subscribed to before it started: how the process ended.
    events: Mutex<Option<broadcast::Receiver<NetworkEvent>>>,
}

impl ExportTap {
    pub(crate) fn new(
        hub: Arc<Hub>,
        actor: &str,
        events: broadcast::Receiver<NetworkEvent>,
    ) -> Self {
        ExportTap {
            hub,
            actor: actor.to_string(),
            ended: Arc::default(),
            events: Mutex::new(Some(events)),
        }
    }

    /// Whether the process has ended, for [`Hub::add_export`].
    pub(crate) fn ended(&self) -> Arc<AtomicBool> {
        self.ended.clone()
    }
}

impl Tap for ExportTap {
    fn tapped(&self, tapped: Tapped) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(route(&self.hub, &self.actor, tapped))
    }
}

impl Drop for ExportTap {
    fn drop(&mut self) {
        self.ended.store(true, Ordering::SeqCst);
        // Withdrawn at once, before the process's exit is reported, so that nobody who saw
        // the exit still finds the export offered.
        let removed = self.hub.exports.lock().remove(&self.actor).is_some();
        let Some(mut events) = self.events.get_mut().take() else {
            return;
        };
        let (hub, actor) = (self.hub.clone(), std::mem::take(&mut self.actor));
        // Without a runtime there is nobody left to tell.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { hub.export_stopped(&actor, removed, &mut events).await });
        }
    }
}

/// Sends one tapped output (or end) of `actor` to the session it belongs to.
async fn route(hub: &Hub, actor: &str, tapped: Tapped) {
    match tapped.msg {
        Some(msg) if tapped.origin == 0 => {
            for served in hub.sessions_of(actor) {
                send_reply(
                    &served,
                    reply(actor, &tapped.port, served.remote, msg.clone()),
                )
                .await;
            }
        }
        Some(msg) => {
            let Some(served) = hub.served.lock().get(&tapped.origin).cloned() else {
                return;
            };
            send_reply(&served, reply(actor, &tapped.port, served.remote, msg)).await;
        }
        None => {
            let served = hub.served.lock().remove(&tapped.origin);
            let Some(served) = served else { return };
            hub.served_by_remote
                .lock()
                .remove(&(served.link.id, served.remote));
            let end = Frame::ReplyEnd {
                seq: 0,
                actor: actor.to_string(),
                origin: served.remote,
            };
            let _ = served.link.send(end).await;
        }
    }
}

/// Sends a reply within its session's window: the shared process waits for the slowest of
/// the sessions it answers.
async fn send_reply(served: &Served, reply: Frame) {
    let permit = served.window.acquire().await;
    if served.link.send(reply).await.is_ok() {
        permit.used();
    }
}

fn reply(actor: &str, port: &str, origin: u32, payload: reflow_network::Message) -> Frame {
    Frame::Reply {
        seq: 0,
        actor: actor.to_string(),
        port: port.to_string(),
        origin,
        handled: super::UNCOUNTED,
        payload,
    }
}
