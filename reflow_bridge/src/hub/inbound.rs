//! What the hub does with each frame a link reads after the handshake.

use super::{Hub, ReplyEvent};
use crate::metrics::FrameRejection;
use crate::net::{Exit, LinkHandle};
use crate::protocol::Frame;

impl Hub {
    /// Handles one frame from `link`. An error ends the link with that exit.
    pub(crate) async fn on_frame(&self, link: &LinkHandle, frame: Frame) -> Result<(), Exit> {
        match frame {
            Frame::Data {
                actor,
                port,
                origin,
                payload,
                ..
            } => {
                let Some(injector) = self.injector(&actor) else {
                    self.metrics.frame_rejected(FrameRejection::UnknownTarget);
                    tracing::warn!(%actor, "data for an actor this instance does not export");
                    return Ok(());
                };
                let local = self.served_origin(link, origin, &actor);
                if let Err(err) = injector.send(&port, local, payload).await {
                    self.metrics.frame_rejected(FrameRejection::UnknownTarget);
                    tracing::warn!(%actor, %port, "cannot deliver: {err}");
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
            other => return self.on_control(link, other).await,
        }
        Ok(())
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
