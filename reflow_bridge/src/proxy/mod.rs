//! Remote actor proxies: a local process standing for `actor@network`. What arrives on its
//! inports crosses the link to the remote actor; what the remote actor emits for this
//! proxy's messages comes back out of its outports, in order; its end of stream goes over
//! and comes back, so a graph using a remote node completes like a local one.
//!
//! Each proxy has a timeout and a failure mode, from its process metadata
//! ([`options`]): a send the link does not take in time, a remote side silent for too long
//! after the input ended, or a remote actor that fails, make the proxy fail, skip, or retry
//! ([`remote`]), never hang.

use std::sync::Arc;

use reflow_network::{
    Actor, ActorError, ActorResult, BoxedActor, Context, Error, Message, Origin, Ports,
    RemoteResolver,
};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::BridgeError;
use crate::hub::{Direct, Hub, ReplyReceiver};
use crate::protocol::Frame;

mod forward;
mod options;
mod remote;

pub(crate) use options::ProxyOptions;
use remote::Remote;

/// The proxy of one remote actor in the local graph.
pub(crate) struct Proxy {
    hub: Arc<Hub>,
    remote: Arc<Remote>,
    actor: String,
    ports: Ports,
    origin: Origin,
    replies: Option<ReplyReceiver>,
    /// Lets replies come straight out of the outports until the input has ended.
    direct: Option<Direct>,
    /// Tells the forwarder that the input has ended (its `End` went to the link), so the
    /// remote side's silence counts.
    ended: watch::Sender<bool>,
    forwarder: Option<JoinHandle<ActorResult>>,
}

impl Proxy {
    fn data(&self, port: &str, payload: Message) -> Frame {
        Frame::Data {
            seq: 0,
            actor: self.actor.clone(),
            port: port.to_string(),
            origin: self.origin,
            payload,
            trace: None,
        }
    }

    fn end(&self) -> Frame {
        Frame::End {
            seq: 0,
            actor: self.actor.clone(),
            origin: self.origin,
        }
    }

    fn close_direct(&self) {
        if let Some(direct) = &self.direct {
            direct.close();
        }
    }

    /// Whether the session is already over: the remote actor failed, or the link dropped it.
    fn session_over(&self) -> bool {
        self.forwarder.as_ref().is_some_and(JoinHandle::is_finished)
    }

    /// The forwarder's outcome, once it has finished.
    async fn join_forwarder(&mut self) -> ActorResult {
        match self.forwarder.take() {
            Some(task) => task.await.map_err(ActorError::new)?,
            None => Ok(()),
        }
    }
}

impl Actor for Proxy {
    async fn on_start(&mut self, ctx: &mut Context) -> ActorResult {
        if let Some(replies) = self.replies.take() {
            let direct = replies.direct();
            direct.open(ctx.outputs());
            self.direct = Some(direct);
            let ended = self.ended.subscribe();
            let task = forward::forward(replies, ctx.outputs(), ended, self.remote.clone());
            self.forwarder = Some(tokio::spawn(task));
        }
        Ok(())
    }

    async fn on_message(&mut self, port: &str, msg: Message, ctx: &mut Context) -> ActorResult {
        if self.session_over() {
            // Nothing sent now would come back: finish with the session's outcome.
            ctx.stop();
            return self.join_forwarder().await;
        }
        let frame = self.data(port, msg);
        self.remote.send(frame).await.map(drop)
    }

    async fn on_end(&mut self, _ctx: &mut Context) -> ActorResult {
        // Even when the end was skipped, what does come back is still delivered until the
        // remote side falls silent for the timeout.
        // From now on every reply passes the forwarder, which times the remote side's silence.
        self.close_direct();
        self.remote.send(self.end()).await?;
        self.ended.send_replace(true);
        self.join_forwarder().await
    }

    async fn on_stop(&mut self, _ctx: &mut Context) -> ActorResult {
        self.close_direct();
        self.hub.close_session(self.origin);
        if let Some(task) = self.forwarder.take() {
            task.abort();
        }
        if !*self.ended.borrow() {
            // The proxy stops before its input ended (it failed, or its session is over):
            // tell the remote side, so that it forgets the session.
            self.remote.send_in_background(self.end());
        }
        Ok(())
    }

    fn ports(&self) -> Option<Ports> {
        Some(self.ports.clone())
    }
}

/// The least room for a proxy's replies: a session window and its end, with a margin.
const REPLY_ROOM: usize = crate::protocol::SESSION_WINDOW as usize + 8;

/// Resolves `actor@network` processes through the hub.
pub(crate) struct Resolver(pub(crate) Arc<Hub>);

impl RemoteResolver for Resolver {
    fn resolve(
        &self,
        process: &str,
        actor: &str,
        network: &str,
        config: &Value,
    ) -> Result<(BoxedActor, Ports), Error> {
        let options = proxy_options(process, config)?;
        let hub = &self.0;
        let (link, exported) = hub.find_actor(actor, network).map_err(|err| match err {
            BridgeError::ActorNotFound { .. } => Error::ActorNotFound {
                process: process.to_string(),
                actor: actor.to_string(),
                network: network.to_string(),
            },
            other => Error::NetworkUnreachable {
                process: process.to_string(),
                actor: actor.to_string(),
                network: network.to_string(),
                reason: other.to_string(),
            },
        })?;
        let ports = Ports::new(exported.inports.clone(), exported.outports.clone());
        // Room for a whole session window of replies and its end: the link never waits on
        // this proxy (the exporting side sends no more than the window).
        let capacity = hub.config.local.capacity.max(REPLY_ROOM);
        let (origin, replies, window) = hub.open_session(&link, capacity);
        let name = format!("{actor}@{network}");
        let remote =
            Remote::new(link, name, process, options, hub.metrics.clone()).with_window(window);
        let proxy = Proxy {
            hub: hub.clone(),
            remote: Arc::new(remote),
            actor: actor.to_string(),
            ports: ports.clone(),
            origin,
            replies: Some(replies),
            direct: None,
            ended: watch::channel(false).0,
            forwarder: None,
        };
        Ok((BoxedActor::new(proxy), ports))
    }
}

/// The options of the proxy for process `process`, from its metadata; a bad value is the
/// process's configuration error.
pub(crate) fn proxy_options(process: &str, metadata: &Value) -> Result<ProxyOptions, Error> {
    ProxyOptions::from_metadata(metadata).map_err(|source| Error::Config {
        process: process.to_string(),
        source,
    })
}
