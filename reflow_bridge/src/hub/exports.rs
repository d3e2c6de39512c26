//! Exported actors: what peers may use; when the exported process stops (its
//! [`ExportTap`](super::ExportTap) drops), the sessions still open end with an error.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reflow_network::{Injector, NetworkEvent};
use tokio::sync::broadcast::{self, error::RecvError};

use super::{Export, Hub};
use crate::protocol::{ExportedActor, Frame};

impl Hub {
    /// Makes `name` usable by peers. Its outputs reach them through its
    /// [`ExportTap`](super::ExportTap); `ended` is that tap's `ended()`.
    ///
    /// The process runs before it is added here, so it may already have ended (failed on
    /// start): its tap's stop found nothing to remove, so nothing is added. The flag is set
    /// before the stop looks, and read after the insert, so one of the two removes it.
    pub(crate) fn add_export(&self, name: &str, export: Export, ended: &AtomicBool) {
        let mut exports = self.exports.lock();
        exports.insert(name.to_string(), export);
        if ended.load(Ordering::SeqCst) {
            exports.remove(name);
        }
    }

    /// The exported process `actor` has ended: peers may no longer use it, and every
    /// session it was serving ends with a `ReplyError` carrying the reason from `events`.
    /// `removed`: whether it was still offered (the caller has just withdrawn it).
    pub(super) async fn export_stopped(
        &self,
        actor: &str,
        removed: bool,
        events: &mut broadcast::Receiver<NetworkEvent>,
    ) {
        let cut = self.take_served_of(actor);
        if !cut.is_empty() {
            let error = exit_reason(events, actor, self.config.shutdown_deadline).await;
            tracing::debug!(%actor, sessions = cut.len(), "ending open sessions: {error}");
            for served in cut {
                served.stop();
                self.metrics.served_sessions_failed.inc();
                let frame = Frame::ReplyError {
                    seq: 0,
                    actor: actor.to_string(),
                    origin: served.remote,
                    error: error.clone(),
                };
                let _ = served.link.send(frame).await;
            }
        }
        if removed {
            self.announce().await;
        }
    }

    /// The exports as announced to peers.
    pub(crate) fn export_list(&self) -> Vec<ExportedActor> {
        self.exports
            .lock()
            .iter()
            .map(|(name, e)| {
                ExportedActor::new(
                    name,
                    e.ports.inports.clone(),
                    e.ports.outports.clone(),
                    &e.metadata,
                )
            })
            .collect()
    }

    /// Our export list, as peers get it.
    pub(crate) fn exports_frame(&self) -> Frame {
        Frame::Exports {
            actors: self.export_list(),
            started: self.running.load(std::sync::atomic::Ordering::Acquire),
        }
    }

    /// Sends our export list to every link.
    pub(crate) async fn announce(&self) {
        let frame = self.exports_frame();
        for link in self.links() {
            let _ = link.handle.send(frame.clone()).await;
        }
    }

    pub(crate) fn injector(&self, actor: &str) -> Option<Injector> {
        self.exports.lock().get(actor).map(|e| e.injector.clone())
    }
}

/// Why the exported process `actor` ended, as its network reported it. The event follows
/// the tap's close closely; the bound only guards against an event that never comes.
async fn exit_reason(
    events: &mut broadcast::Receiver<NetworkEvent>,
    actor: &str,
    bound: Duration,
) -> String {
    let reported = async {
        loop {
            match events.recv().await {
                Ok(NetworkEvent::ProcessFailed { process, error }) if process == actor => {
                    return Some(error)
                }
                Ok(NetworkEvent::ProcessFinished { process }) if process == actor => {
                    return Some("the exported actor finished before this session ended".into())
                }
                Ok(NetworkEvent::Done | NetworkEvent::Stopped) | Err(RecvError::Closed) => {
                    return None
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
            }
        }
    };
    let reported = tokio::time::timeout(bound, reported).await.ok().flatten();
    reported.unwrap_or_else(|| "the exported actor stopped".into())
}
