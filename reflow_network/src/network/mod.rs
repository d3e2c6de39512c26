//! Building a network: processes, connections and IIPs, by API or from a graph. Starting it
//! wires one bounded inbox per process and spawns one task per process.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{broadcast, mpsc};

use crate::actor::{Actor, Ports};
use crate::error::Error;
use crate::events::NetworkEvent;
use crate::external::{ChannelTap, Tap, TapRef, Tapped};
use crate::graph::{self, Graph, PortRef, ResolvedKind};
use crate::instances::{self, Recipe};
use crate::message::Message;
use crate::process::BoxedActor;
use crate::registry::Registry;
use crate::remote::RemoteResolver;

mod running;
#[cfg(test)]
mod tests;
mod wiring;

pub use running::RunningNetwork;

/// Settings of a local network.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// Capacity of each process inbox, in messages. A full inbox makes senders wait.
    pub capacity: usize,
    /// How long [`RunningNetwork::shutdown`] lets in-flight messages drain before it aborts
    /// the processes still running.
    pub shutdown_deadline: Duration,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            capacity: 1024,
            shutdown_deadline: Duration::from_secs(5),
        }
    }
}

pub(crate) struct NodeEntry {
    pub(crate) name: Arc<str>,
    pub(crate) actor: BoxedActor,
    pub(crate) ports: Ports,
    /// Reachable from outside through an `Injector`: its inputs stay open while one lives.
    pub(crate) exported: bool,
    /// Where copies of its outputs go, for a bridge.
    pub(crate) tap: Option<TapRef>,
    /// How it was built, when from a component: exported, it can then have instances.
    pub(crate) recipe: Option<Recipe>,
}

/// Where a checked port is: the process's index in the network and the port's index in
/// its inport or outport list. Connections and IIPs are kept this way, so that starting a
/// network looks nothing up by name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PortIndex {
    pub(crate) node: usize,
    pub(crate) port: u16,
}

/// A network being built. [`start`](Self::start) runs it.
///
/// ```
/// use reflow_network::{Actor, ActorResult, Context, Message, Network, Ports, Registry};
/// # #[tokio::main] async fn main() -> Result<(), reflow_network::Error> {
/// struct Double;
/// impl Actor for Double {
///     async fn on_message(&mut self, _port: &str, msg: Message, ctx: &mut Context) -> ActorResult {
///         ctx.send("out", Message::Integer(msg.as_i64().unwrap_or(0) * 2)).await
///     }
/// }
///
/// let mut net = Network::new(Registry::new());
/// net.add_actor("double", Double, Ports::new(["in"], ["out"]))?;
/// net.add_initial(("double", "in"), 21)?;
/// let report = net.start()?.wait().await;
/// assert!(report.is_success());
/// # Ok(()) }
/// ```
pub struct Network {
    config: NetworkConfig,
    registry: Arc<Registry>,
    resolver: Option<Arc<dyn RemoteResolver>>,
    nodes: Vec<NodeEntry>,
    /// Index of every process in `nodes`, so that adding a process or a connection costs
    /// the same in a network of a million processes as in one of ten.
    by_name: HashMap<Arc<str>, usize>,
    connections: Vec<(PortIndex, PortIndex)>,
    initials: Vec<(PortIndex, Message)>,
    events: broadcast::Sender<NetworkEvent>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field(
                "processes",
                &self.nodes.iter().map(|n| &n.name).collect::<Vec<_>>(),
            )
            .field("connections", &self.connections.len())
            .finish()
    }
}

impl Network {
    /// An empty network whose components come from `registry`.
    pub fn new(registry: impl Into<Arc<Registry>>) -> Self {
        Self::with_config(registry, NetworkConfig::default())
    }

    /// An empty network with explicit settings.
    pub fn with_config(registry: impl Into<Arc<Registry>>, config: NetworkConfig) -> Self {
        Network {
            config,
            registry: registry.into(),
            resolver: None,
            nodes: Vec::new(),
            by_name: HashMap::new(),
            connections: Vec::new(),
            initials: Vec::new(),
            events: broadcast::channel(4096).0,
        }
    }

    /// Lets `actor@network` processes resolve through `resolver` (a bridge).
    pub fn set_resolver(&mut self, resolver: Arc<dyn RemoteResolver>) {
        self.resolver = Some(resolver);
    }

    /// Builds a network from a validated graph: every problem of the graph is reported at
    /// once as [`Error::Invalid`].
    pub fn from_graph(
        graph: &Graph,
        registry: impl Into<Arc<Registry>>,
        config: NetworkConfig,
    ) -> Result<Self, Error> {
        Self::from_graph_with(graph, registry, config, None)
    }

    /// Like [`from_graph`](Self::from_graph), resolving remote actors through `resolver`.
    pub fn from_graph_with(
        graph: &Graph,
        registry: impl Into<Arc<Registry>>,
        config: NetworkConfig,
        resolver: Option<Arc<dyn RemoteResolver>>,
    ) -> Result<Self, Error> {
        let mut net = Network::with_config(registry, config);
        net.resolver = resolver;
        net.add_graph(graph)?;
        Ok(net)
    }

    /// Adds every process, connection and IIP of a validated graph to this network; every
    /// problem of the graph is reported at once as [`Error::Invalid`].
    pub fn add_graph(&mut self, graph: &Graph) -> Result<(), Error> {
        let resolved = graph::resolve(graph, &self.registry).map_err(Error::Invalid)?;
        for node in resolved {
            match node.kind {
                ResolvedKind::Local {
                    actor,
                    ports,
                    recipe,
                } => self.push_node(&node.name, actor, ports, Some(recipe))?,
                ResolvedKind::Remote {
                    actor,
                    network,
                    config,
                } => self.add_remote(&node.name, &actor, &network, &config)?,
            }
        }
        for conn in &graph.connections {
            self.add_connection(conn.src.clone(), conn.tgt.clone())?;
        }
        for iip in &graph.initials {
            self.add_initial(iip.tgt.clone(), Message::from(&iip.data))?;
        }
        Ok(())
    }

    /// Adds a process running a fresh instance of `component`, configured by `config`. A
    /// component named `actor@network` is resolved through the bridge.
    pub fn add_node(&mut self, name: &str, component: &str, config: Value) -> Result<(), Error> {
        if let Some((actor, network)) = graph::split_remote(component) {
            return self.add_remote(name, actor, network, &config);
        }
        let recipe = Recipe {
            component: component.to_string(),
            config,
        };
        let (actor, ports) = instances::build(&self.registry, name, &recipe)?;
        self.push_node(name, actor, ports, Some(recipe))
    }

    /// Adds a process running `actor`, an instance built in code, with the given ports
    /// (or the ones the actor declares itself).
    pub fn add_actor(&mut self, name: &str, actor: impl Actor, ports: Ports) -> Result<(), Error> {
        let actor = BoxedActor::new(actor);
        let ports = actor.ports().unwrap_or(ports);
        self.push_node(name, actor, ports, None)
    }

    /// Connects the outport `from` to the inport `to`. Several connections from one
    /// outport fan out (each gets every message); several into one inport merge.
    pub fn add_connection(
        &mut self,
        from: impl Into<PortRef>,
        to: impl Into<PortRef>,
    ) -> Result<(), Error> {
        let (from, to) = (from.into(), to.into());
        let from = self.check_port(&from, false)?;
        let to = self.check_port(&to, true)?;
        self.connections.push((from, to));
        Ok(())
    }

    /// Queues `msg` for the inport `to`, delivered when the network starts.
    pub fn add_initial(
        &mut self,
        to: impl Into<PortRef>,
        msg: impl Into<Message>,
    ) -> Result<(), Error> {
        let to = self.check_port(&to.into(), true)?;
        self.initials.push((to, msg.into()));
        Ok(())
    }

    /// Subscribes to lifecycle events. Subscribe before [`start`](Self::start) to see every
    /// event from the first.
    pub fn events(&self) -> broadcast::Receiver<NetworkEvent> {
        self.events.subscribe()
    }

    /// The names of the processes added so far.
    pub fn processes(&self) -> impl Iterator<Item = &str> {
        self.nodes.iter().map(|n| &*n.name)
    }

    /// Makes `process` reachable from outside the graph: once started,
    /// [`RunningNetwork::injector`] gives an [`Injector`](crate::Injector) into its inbox,
    /// and its inputs stay open while one lives (an exported process without local inputs
    /// does not finish on its own).
    pub fn export(&mut self, process: &str) -> Result<(), Error> {
        self.node_mut(process)?.exported = true;
        Ok(())
    }

    /// Returns a receiver of copies of everything `process` sends, each tagged with the
    /// [`Origin`](crate::Origin) that caused it, plus an end marker per remote session. The
    /// channel is bounded: a tap that is not read makes the process wait.
    pub fn tap(&mut self, process: &str) -> Result<mpsc::Receiver<Tapped>, Error> {
        let (tx, rx) = mpsc::channel(self.config.capacity);
        self.tap_with(process, Arc::new(ChannelTap(tx)))?;
        Ok(rx)
    }

    /// Like [`tap`](Self::tap), but the copies go to `tap`, called in the process's own
    /// task (see [`Tap`]). Replaces any earlier tap of `process`.
    pub fn tap_with(&mut self, process: &str, tap: Arc<dyn Tap>) -> Result<(), Error> {
        self.node_mut(process)?.tap = Some(TapRef(tap));
        Ok(())
    }

    /// The ports of `process`.
    pub fn ports(&self, process: &str) -> Option<&Ports> {
        let ix = *self.by_name.get(process)?;
        self.nodes.get(ix).map(|n| &n.ports)
    }

    fn node_mut(&mut self, process: &str) -> Result<&mut NodeEntry, Error> {
        self.by_name
            .get(process)
            .and_then(|&ix| self.nodes.get_mut(ix))
            .ok_or_else(|| Error::UnknownProcess(process.to_string()))
    }

    /// Wires the inboxes and spawns every process. Must be called inside a tokio runtime.
    pub fn start(self) -> Result<RunningNetwork, Error> {
        Ok(wiring::start(self))
    }

    fn add_remote(
        &mut self,
        name: &str,
        actor: &str,
        network: &str,
        config: &Value,
    ) -> Result<(), Error> {
        let Some(resolver) = self.resolver.clone() else {
            return Err(Error::NetworkUnreachable {
                process: name.to_string(),
                actor: actor.to_string(),
                network: network.to_string(),
                reason: "no bridge is attached to this network".to_string(),
            });
        };
        let (proxy, ports) = resolver.resolve(name, actor, network, config)?;
        self.push_node(name, proxy, ports, None)
    }

    fn push_node(
        &mut self,
        name: &str,
        actor: BoxedActor,
        ports: Ports,
        recipe: Option<Recipe>,
    ) -> Result<(), Error> {
        if self.by_name.contains_key(name) {
            return Err(Error::DuplicateProcess(name.to_string()));
        }
        let name: Arc<str> = name.into();
        self.by_name.insert(name.clone(), self.nodes.len());
        self.nodes.push(NodeEntry {
            name,
            actor,
            ports,
            exported: false,
            tap: None,
            recipe,
        });
        Ok(())
    }

    /// Where the port `at` is, or why it does not exist. The port list is searched, but it
    /// belongs to one process and does not grow with the network.
    fn check_port(&self, at: &PortRef, inport: bool) -> Result<PortIndex, Error> {
        let (node, entry) = self
            .by_name
            .get(at.process.as_str())
            .and_then(|&ix| Some((ix, self.nodes.get(ix)?)))
            .ok_or_else(|| Error::UnknownProcess(at.process.clone()))?;
        let list = if inport {
            &entry.ports.inports
        } else {
            &entry.ports.outports
        };
        if let Some(ix) = list.iter().position(|p| *p == at.port) {
            // More than 65,535 ports on one process: the last index stands for the rest,
            // as it always has.
            let port = u16::try_from(ix).unwrap_or(u16::MAX);
            return Ok(PortIndex { node, port });
        }
        Err(Error::UnknownPort {
            process: at.process.clone(),
            port: at.port.clone(),
            direction: if inport { "inport" } else { "outport" },
        })
    }
}
