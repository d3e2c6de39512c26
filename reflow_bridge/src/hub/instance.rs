//! The instance serving one remote session of a per-session export: a fresh copy of the
//! exported process whose every output goes back to that session, and whose end (or
//! failure) ends the session.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use reflow_network::{ActorResult, Injector, Instances, Origin, Tap, Tapped};
use tokio::task::JoinHandle;

use super::served::{Own, Served};
use super::{Hub, RecvCredit, SendWindow};
use crate::net::LinkHandle;
use crate::protocol::Frame;

/// Sends every output of one instance, from the instance's own task, to its session: the
/// instance waits while the link's outbox is full, and holds back nobody else.
struct SessionTap {
    link: LinkHandle,
    actor: String,
    remote: u32,
    /// Room for replies at the proxy's side.
    window: Arc<SendWindow>,
    /// Granted to the proxy as the instance finishes handling its messages, which the
    /// proxy then counts as done.
    credit: Arc<RecvCredit>,
    /// Messages the instance has finished handling.
    handled: AtomicU64,
}

impl Tap for SessionTap {
    fn tapped(&self, tapped: Tapped) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let Some(payload) = tapped.msg else { return };
            let reply = Frame::Reply {
                seq: 0,
                actor: self.actor.clone(),
                port: tapped.port.to_string(),
                origin: self.remote,
                handled: self.handled.load(Ordering::Acquire),
                payload,
            };
            let permit = self.window.acquire().await;
            // A link given up stops the instance; until then the outbox takes everything.
            if self.link.send(reply).await.is_ok() {
                permit.used();
            }
        })
    }

    fn handled(&self) {
        self.handled.fetch_add(1, Ordering::AcqRel);
        self.credit.consume(1);
    }
}

impl Hub {
    /// Starts the instance of a new session: its outputs go to `served`'s link, and when it
    /// finishes the session ends (`ReplyEnd`, or `ReplyError` with its failure). `None`
    /// (the client is told why) when it cannot be built.
    pub(super) fn start_instance(
        &self,
        instances: &Instances,
        served: &Served,
        origin: Origin,
    ) -> Option<(Own, Injector)> {
        let tap = SessionTap {
            link: served.link.clone(),
            actor: served.actor.clone(),
            remote: served.remote,
            window: served.window.clone(),
            credit: served.credit.clone(),
            handled: AtomicU64::new(0),
        };
        let instance = match instances.spawn(Arc::new(tap)) {
            Ok(instance) => instance,
            Err(err) => {
                self.refuse_session(served, format!("cannot start an instance: {err}"));
                return None;
            }
        };
        let hub = self.this.upgrade()?;
        self.live_instances.send_modify(|n| *n += 1);
        let own = Own {
            injector: Some(instance.injector.clone()),
            task: instance.task.abort_handle(),
            client_ended: Arc::default(),
        };
        let session = (served.link.clone(), served.remote, served.actor.clone());
        let ended = own.client_ended.clone();
        tokio::spawn(finish(hub, origin, session, instance.task, ended));
        Some((own, instance.injector))
    }

    /// Ends a session that cannot be served with `error`.
    fn refuse_session(&self, served: &Served, error: String) {
        tracing::error!(actor = %served.actor, "{error}");
        self.metrics.served_sessions_failed.inc();
        let frame = Frame::ReplyError {
            seq: 0,
            actor: served.actor.clone(),
            origin: served.remote,
            error,
        };
        let link = served.link.clone();
        tokio::spawn(async move { link.send(frame).await });
    }
}

/// Waits for a session's instance to finish, then ends the session with how it went. An
/// instance stopped from outside (its link or its export is gone) says nothing: whoever
/// stopped it has told the client, or there is no client left to tell.
async fn finish(
    hub: Arc<Hub>,
    origin: Origin,
    (link, remote, actor): (LinkHandle, u32, String),
    task: JoinHandle<ActorResult>,
    client_ended: Arc<AtomicBool>,
) {
    let ended = task.await;
    hub.forget_served(origin);
    hub.live_instances.send_modify(|n| *n = n.saturating_sub(1));
    let error = match ended {
        // Its input was ended here (shutting down), not by the client: what the client sent
        // after was not handled, so the session did not complete.
        Ok(Ok(())) if !client_ended.load(Ordering::Acquire) => {
            Some("the exporting instance shut down before this session's input ended".into())
        }
        Ok(Ok(())) => None,
        Ok(Err(err)) => Some(err.to_string()),
        Err(err) if err.is_cancelled() => return,
        Err(err) => Some(err.to_string()),
    };
    let frame = match error {
        None => Frame::ReplyEnd {
            seq: 0,
            actor,
            origin: remote,
        },
        Some(error) => {
            hub.metrics.served_sessions_failed.inc();
            Frame::ReplyError {
                seq: 0,
                actor,
                origin: remote,
                error,
            }
        }
    };
    let _ = link.send(frame).await;
}
