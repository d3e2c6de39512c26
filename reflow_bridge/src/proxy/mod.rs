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
    Actor, ActorResult, BoxedActor, Context, Error, Message, Outputs, Ports, RemoteResolver,
};
use serde_json::Value;

use crate::error::BridgeError;
use crate::hub::Hub;

mod breaker;
mod forward;
mod leg;
mod members;
mod options;
mod policy;
mod remote;
mod shares;

use members::Members;
pub(crate) use options::ProxyOptions;
pub(crate) use policy::Policy;
pub(crate) use shares::Shares;

/// The proxy of one remote actor in the local graph: it routes each message to one or more
/// instances of the network that export the actor ([`members`]), by its policy
/// ([`policy`]).
pub(crate) struct Proxy {
    members: Members,
    ports: Ports,
    /// The proxy's outports, once started: every session's replies come out of them.
    outputs: Option<Outputs>,
}

impl Actor for Proxy {
    async fn on_start(&mut self, ctx: &mut Context) -> ActorResult {
        self.outputs = Some(ctx.outputs());
        Ok(())
    }

    async fn on_message(&mut self, port: &str, msg: Message, ctx: &mut Context) -> ActorResult {
        if self.members.any_failed() {
            // Nothing sent now would come back: finish with the session's failure.
            ctx.stop();
            return self.members.join_failed().await;
        }
        // Borrowed, never cloned per message: a clone copies every edge of every outport.
        let outputs = self.outputs.get_or_insert_with(|| ctx.outputs());
        self.members.send(port, msg, outputs).await
    }

    async fn on_end(&mut self, ctx: &mut Context) -> ActorResult {
        // Even when the end was skipped, what does come back is still delivered until the
        // remote side falls silent for the timeout.
        let outputs = self.outputs.get_or_insert_with(|| ctx.outputs());
        self.members.end(outputs).await
    }

    async fn on_stop(&mut self, _ctx: &mut Context) -> ActorResult {
        self.members.stop();
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
        let (_, exported) = hub.find_actor(actor, network).map_err(|err| match err {
            BridgeError::ActorNotFound { exported, .. } => Error::ActorNotFound {
                process: process.to_string(),
                actor: actor.to_string(),
                network: network.to_string(),
                hint: crate::error::exports_hint(&exported),
            },
            other => Error::NetworkUnreachable {
                process: process.to_string(),
                actor: actor.to_string(),
                network: network.to_string(),
                reason: other.to_string(),
            },
        })?;
        let ports = Ports::new(exported.inports.clone(), exported.outports.clone());
        let policy = route_policy(process, config)?;
        let shares = Arc::new(Shares::new(policy.name()));
        hub.note_route(process, shares.clone());
        let members = Members::new(
            hub.clone(),
            (actor, network, process),
            options,
            policy,
            shares,
        );
        let proxy = Proxy {
            members,
            ports: ports.clone(),
            outputs: None,
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

/// The routing policy of the proxy for process `process`, from its metadata; a bad value is
/// the process's configuration error.
pub(crate) fn route_policy(process: &str, metadata: &Value) -> Result<Policy, Error> {
    Policy::from_metadata(metadata).map_err(|source| Error::Config {
        process: process.to_string(),
        source,
    })
}

/// Warnings about the remote nodes of `graph`: a metadata key that is not an option of the
/// node's proxy configures nothing (the remote actor was configured where it runs). What
/// `reflow validate` and `reflow run` print beside [`Graph::warnings`].
///
/// [`Graph::warnings`]: reflow_network::Graph::warnings
pub fn graph_warnings(graph: &reflow_network::Graph) -> Vec<reflow_network::graph::Warning> {
    let mut warnings = Vec::new();
    for node in &graph.processes {
        let Some((actor, network)) = node.remote() else {
            continue;
        };
        let Some(metadata) = node.metadata.as_object() else {
            continue;
        };
        for key in metadata.keys() {
            if options::KNOWN_KEYS.contains(&key.as_str()) {
                continue;
            }
            warnings.push(reflow_network::graph::Warning {
                kind: reflow_network::graph::WarningKind::IgnoredSetting,
                location: format!("processes.{}.metadata.{key}", node.name),
                processes: vec![node.name.clone()],
                message: format!(
                    "`{key}` configures nothing: the metadata of a remote node sets only its \
                     proxy's options ({}); `{actor}` is configured on the instances of \
                     `{network}` that export it",
                    options::KNOWN_KEYS[..8].join(", ")
                ),
            });
        }
    }
    warnings
}
