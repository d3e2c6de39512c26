//! Remote actor proxies: a local process standing for `actor@network`. What arrives on its
//! inports crosses the link to the remote actor; what the remote actor emits for this
//! proxy's messages comes back out of its outports, in order; its end of stream goes over
//! and comes back, so a graph using a remote node completes like a local one.

use std::sync::Arc;

use reflow_network::{
    Actor, ActorError, ActorResult, BoxedActor, Context, Error, Message, Origin, Outputs, Ports,
    RemoteResolver,
};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::BridgeError;
use crate::hub::{Hub, ReplyEvent};
use crate::net::LinkHandle;
use crate::protocol::Frame;

/// The proxy of one remote actor in the local graph.
pub(crate) struct Proxy {
    hub: Arc<Hub>,
    link: LinkHandle,
    actor: String,
    ports: Ports,
    origin: Origin,
    replies: Option<mpsc::Receiver<ReplyEvent>>,
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

    fn lost(&self) -> ActorError {
        ActorError::new(format!(
            "the link to `{}@{}` closed before the remote actor finished",
            self.actor, self.link.peer.identity.network_id
        ))
    }
}

impl Actor for Proxy {
    async fn on_start(&mut self, ctx: &mut Context) -> ActorResult {
        if let Some(replies) = self.replies.take() {
            let lost = self.lost();
            self.forwarder = Some(tokio::spawn(forward(replies, ctx.outputs(), lost)));
        }
        Ok(())
    }

    async fn on_message(&mut self, port: &str, msg: Message, _ctx: &mut Context) -> ActorResult {
        let frame = self.data(port, msg);
        self.link.send(frame).await.map_err(|_| self.lost())
    }

    async fn on_end(&mut self, _ctx: &mut Context) -> ActorResult {
        let end = Frame::End {
            seq: 0,
            actor: self.actor.clone(),
            origin: self.origin,
        };
        self.link.send(end).await.map_err(|_| self.lost())?;
        match self.forwarder.take() {
            Some(task) => task.await.map_err(ActorError::new)?,
            None => Ok(()),
        }
    }

    async fn on_stop(&mut self, _ctx: &mut Context) -> ActorResult {
        self.hub.close_session(self.origin);
        if let Some(task) = self.forwarder.take() {
            task.abort();
        }
        Ok(())
    }

    fn ports(&self) -> Option<Ports> {
        Some(self.ports.clone())
    }
}

/// Brings the remote actor's outputs out of the proxy's outports until its end arrives.
async fn forward(
    mut replies: mpsc::Receiver<ReplyEvent>,
    outputs: Outputs,
    lost: ActorError,
) -> ActorResult {
    while let Some(event) = replies.recv().await {
        match event {
            ReplyEvent::Message(port, msg) => outputs.send(&port, msg).await?,
            ReplyEvent::End => return Ok(()),
        }
    }
    Err(lost)
}

/// Resolves `actor@network` processes through the hub.
pub(crate) struct Resolver(pub(crate) Arc<Hub>);

impl RemoteResolver for Resolver {
    fn resolve(
        &self,
        process: &str,
        actor: &str,
        network: &str,
        _config: &Value,
    ) -> Result<(BoxedActor, Ports), Error> {
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
        let (origin, replies) = hub.open_session(link.id, hub.config.local.capacity);
        let proxy = Proxy {
            hub: hub.clone(),
            link,
            actor: actor.to_string(),
            ports: ports.clone(),
            origin,
            replies: Some(replies),
            forwarder: None,
        };
        Ok((BoxedActor::new(proxy), ports))
    }
}
