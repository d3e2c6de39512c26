//! What the hub does with each frame a link reads after the handshake.

use reflow_network::{Injector, Origin};

use super::{Hub, ReplyEvent};
use crate::metrics::FrameRejection;
use crate::net::{Exit, LinkHandle};
use crate::protocol::Frame;

/// Where the data frames of one incoming WebSocket message go. A batch usually holds a run
/// of frames for one actor and session: the export and the served session are looked up
/// once for the run, not once per frame (two locks, two map lookups and an injector clone).
/// It lives for one message and any frame other than `Data` forgets it, so a change of
/// exports or sessions (an end, a shutdown clearing the exports) counts from the next one.
#[derive(Default)]
pub(crate) struct Route {
    last: Option<Target>,
}

struct Target {
    actor: String,
    remote: u32,
    injector: Injector,
    local: Origin,
}

impl Hub {
    /// Handles one frame from `link`; `route` carries lookups from frame to frame of one
    /// message. An error ends the link with that exit.
    pub(crate) async fn on_frame(
        &self,
        link: &LinkHandle,
        frame: Frame,
        route: &mut Route,
    ) -> Result<(), Exit> {
        if !matches!(frame, Frame::Data { .. }) {
            route.last = None;
        }
        match frame {
            Frame::Data {
                actor,
                port,
                origin,
                payload,
                ..
            } => {
                let Some(target) = self.target(route, link, actor, origin) else {
                    return Ok(());
                };
                if let Err(err) = target.injector.send(&port, target.local, payload).await {
                    self.metrics.frame_rejected(FrameRejection::UnknownTarget);
                    tracing::warn!(actor = %target.actor, %port, "cannot deliver: {err}");
                }
            }
            Frame::End { actor, origin, .. } => {
                let (Some(local), Some(injector)) =
                    (self.known_served(link.id, origin), self.injector(&actor))
                else {
                    return Ok(());
                };
                let _ = injector.end(local).await;
            }
            Frame::Reply {
                port,
                origin,
                payload,
                ..
            } => {
                if let Some(session) = self.session(origin) {
                    let _ = session.send(ReplyEvent::Message(port, payload)).await;
                }
            }
            Frame::ReplyEnd { origin, .. } => {
                if let Some(session) = self.session(origin) {
                    let _ = session.send(ReplyEvent::End).await;
                }
                self.close_session(origin);
            }
            Frame::ReplyError { origin, error, .. } => {
                self.finish_session(origin, ReplyEvent::Error(error)).await;
            }
            other => return self.on_control(link, other).await,
        }
        Ok(())
    }

    /// The export and local origin for data from session `remote` of `link` to `actor`:
    /// the route's last target when it matches, else looked up (and remembered).
    fn target<'r>(
        &self,
        route: &'r mut Route,
        link: &LinkHandle,
        actor: String,
        remote: u32,
    ) -> Option<&'r Target> {
        let hit = route
            .last
            .as_ref()
            .is_some_and(|t| t.remote == remote && t.actor == actor);
        if !hit {
            let Some(injector) = self.injector(&actor) else {
                self.metrics.frame_rejected(FrameRejection::UnknownTarget);
                tracing::warn!(%actor, "data for an actor this instance does not export");
                route.last = None;
                return None;
            };
            let local = self.served_origin(link, remote, &actor);
            route.last = Some(Target {
                actor,
                remote,
                injector,
                local,
            });
        }
        route.last.as_ref()
    }

    async fn on_control(&self, link: &LinkHandle, frame: Frame) -> Result<(), Exit> {
        match frame {
            Frame::Exports { actors } => self.set_peer_exports(link, actors),
            Frame::Heartbeat { id } => {
                let _ = link.send(Frame::HeartbeatAck { id }).await;
            }
            Frame::HeartbeatAck { id } => {
                let rtt = self.now_us().saturating_sub(id);
                link.stats
                    .latency_us
                    .store(rtt, std::sync::atomic::Ordering::Relaxed);
            }
            Frame::Bye { reason } => return Err(Exit::PeerClosed(1001, reason)),
            Frame::Ack { .. } => {}
            other => {
                self.metrics.frame_rejected(FrameRejection::Unexpected);
                return Err(Exit::Rejected(
                    1002,
                    format!("unexpected {} after the handshake", other.kind()),
                ));
            }
        }
        Ok(())
    }
}
