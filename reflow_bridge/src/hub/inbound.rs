//! What the hub does with each frame a link reads after the handshake.

use std::sync::Arc;

use reflow_network::{Injector, Origin, TryInjectError};

use super::{Hub, RecvCredit, ReplyEvent};
use crate::metrics::FrameRejection;
use crate::net::LinkHandle;
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
    actor: Arc<str>,
    remote: u32,
    injector: Injector,
    local: Origin,
    /// Credit granted as the inbox takes a message (a shared process).
    credit: Option<Arc<RecvCredit>>,
}

impl Target {
    /// The inbox took a message.
    fn took(&self) {
        if let Some(credit) = &self.credit {
            credit.consume_on_delivery(1);
        }
    }
}

impl Hub {
    /// Delivers one sequenced frame from `link`, waiting while the target is full; `route`
    /// carries lookups from frame to frame of one run. Control frames never get here.
    pub(crate) async fn on_frame(&self, link: &LinkHandle, frame: Frame, route: &mut Route) {
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
                self.deliver_data(link, route, (actor, port, origin), payload)
                    .await
            }
            Frame::End { actor, origin, .. } => self.end_feed(link, origin, &actor).await,
            Frame::Reply {
                port,
                origin,
                handled,
                payload,
                ..
            } => {
                self.to_session(origin, ReplyEvent::Message(port, payload, handled))
                    .await
            }
            Frame::ReplyEnd { origin, .. } => self.finish_session(origin, ReplyEvent::End).await,
            Frame::ReplyError { origin, error, .. } => {
                self.finish_session(origin, ReplyEvent::Error(error)).await;
            }
            Frame::TooLarge {
                origin,
                port,
                reply,
                size,
                limit,
                ..
            } => {
                let refused = super::Oversized {
                    port,
                    reply,
                    size,
                    limit,
                };
                self.to_session(origin, ReplyEvent::TooLarge(refused)).await;
            }
            // A piece of a frame sent in parts: the reader keeps it, this only marks its turn.
            Frame::Part { .. } => {}
            other => tracing::error!(
                kind = other.kind(),
                "a control frame was queued for delivery"
            ),
        }
    }

    /// Delivers a message of session `remote` of `link` to `actor`'s inport `port`.
    async fn deliver_data(
        &self,
        link: &LinkHandle,
        route: &mut Route,
        (actor, port, remote): (Arc<str>, Arc<str>, u32),
        payload: reflow_network::Message,
    ) {
        let Some(target) = self.target(route, link, actor, remote) else {
            return;
        };
        match target.injector.send(&port, target.local, payload).await {
            Ok(()) => target.took(),
            Err(err) => {
                self.metrics.frame_rejected(FrameRejection::UnknownTarget);
                tracing::warn!(actor = %target.actor, %port, "cannot deliver: {err}");
            }
        }
    }

    /// Passes `event` to the proxy of session `origin`, waiting for room.
    async fn to_session(&self, origin: Origin, event: ReplyEvent) {
        if let Some(session) = self.session(origin) {
            session.send(event).await;
        }
    }

    /// Delivers a `Data` or `Reply` frame at once if its target has room now, and hands back
    /// whatever it cannot deliver without waiting (the caller queues it for `on_frame`).
    /// Frames without a target are dropped and counted, as `on_frame` does.
    pub(crate) fn try_on_frame(
        &self,
        link: &LinkHandle,
        frame: Frame,
        route: &mut Route,
    ) -> Option<Frame> {
        match frame {
            data @ Frame::Data { .. } => self.try_data(link, route, data),
            reply @ Frame::Reply { .. } => {
                route.last = None;
                self.try_reply_frame(reply)
            }
            other => Some(other),
        }
    }

    /// [`try_on_frame`](Self::try_on_frame) for a `Data` frame.
    fn try_data(&self, link: &LinkHandle, route: &mut Route, data: Frame) -> Option<Frame> {
        let Frame::Data {
            seq,
            actor,
            port,
            origin,
            payload,
            trace,
        } = data
        else {
            return Some(data);
        };
        let target = self.target(route, link, actor, origin)?;
        match target.injector.try_send(&port, target.local, payload) {
            Ok(()) => {
                target.took();
                None
            }
            Err(TryInjectError::Full(payload)) => Some(Frame::Data {
                seq,
                actor: target.actor.clone(),
                port,
                origin,
                payload,
                trace,
            }),
            Err(TryInjectError::Failed(err)) => {
                self.metrics.frame_rejected(FrameRejection::UnknownTarget);
                tracing::warn!(actor = %target.actor, %port, "cannot deliver: {err}");
                None
            }
        }
    }

    /// [`try_on_frame`](Self::try_on_frame) for a `Reply` frame.
    fn try_reply_frame(&self, reply: Frame) -> Option<Frame> {
        let Frame::Reply {
            seq,
            actor,
            port,
            origin,
            handled,
            payload,
        } = reply
        else {
            return Some(reply);
        };
        let (port, payload) = self.try_reply(origin, port, payload, handled).err()?;
        Some(Frame::Reply {
            seq,
            actor,
            port,
            origin,
            handled,
            payload,
        })
    }

    /// The export and local origin for data from session `remote` of `link` to `actor`:
    /// the route's last target when it matches, else looked up (and remembered).
    fn target<'r>(
        &self,
        route: &'r mut Route,
        link: &LinkHandle,
        actor: Arc<str>,
        remote: u32,
    ) -> Option<&'r Target> {
        let hit = route
            .last
            .as_ref()
            .is_some_and(|t| t.remote == remote && t.actor == actor);
        if !hit {
            let Some((injector, local, credit)) = self.feed(link, remote, &actor) else {
                self.metrics.frame_rejected(FrameRejection::UnknownTarget);
                tracing::warn!(%actor, "data for an actor this instance does not export, or after its session's end");
                route.last = None;
                return None;
            };
            route.last = Some(Target {
                actor,
                remote,
                injector,
                local,
                credit,
            });
        }
        route.last.as_ref()
    }
}
