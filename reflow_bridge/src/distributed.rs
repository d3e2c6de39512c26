//! `DistributedNetwork`: a local network plus its bridge — exported actors that peers may
//! use, links to other instances, and remote actors that act as local processes.

use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use reflow_network::{
    Component, Graph, Message, Network, NetworkEvent, Registry, Report, RunningNetwork,
};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::alias::AliasStrategy;
use crate::config::DistributedConfig;
use crate::error::BridgeError;
use crate::hub::{ExportTap, Hub};
use crate::net::{self, Server};
use crate::proxy::Resolver;
use crate::session::{Identity, Token};
use crate::status::Status;

/// What a peer told us about itself when the link came up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer's network id.
    pub network_id: String,
    /// The peer's instance id.
    pub instance_id: String,
}

/// A local network joined to other instances through a bridge.
///
/// Typical use: `new`, then `register_local_actor` / `export` for what peers may use,
/// `connect_to_network` for the peers this instance dials, `register_remote_actor` or
/// `add_graph` (with `actor@network` processes) for what it uses, then `start`.
pub struct DistributedNetwork {
    hub: Arc<Hub>,
    /// Behind a lock only so that `&self` methods can be awaited from spawned tasks (a
    /// `Network` holds actors that are `Send` but not `Sync`); it is taken at start.
    network: Mutex<Option<Network>>,
    running: Option<RunningNetwork>,
    /// Name, metadata, and whether sessions share the one process.
    exports: Vec<(String, Value, bool)>,
    server: Option<Server>,
    finder: Option<crate::finder::Finder>,
    mdns: Option<crate::finder::mdns::Mdns>,
}

impl std::fmt::Debug for DistributedNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistributedNetwork")
            .field("network_id", &self.hub.me.network_id)
            .field("instance_id", &self.hub.me.instance_id)
            .finish_non_exhaustive()
    }
}

impl DistributedNetwork {
    /// A distributed network whose local components come from `registry` (a `Registry` or
    /// an `Arc` of one, as [`Network::new`] takes).
    pub fn new(
        mut config: DistributedConfig,
        registry: impl Into<Arc<Registry>>,
    ) -> Result<Self, BridgeError> {
        if config.network_id.is_empty() || config.network_id.contains('@') {
            return Err(BridgeError::Config(
                "`network_id` must be non-empty and without '@'".into(),
            ));
        }
        if config.instance_id.is_empty() {
            config.instance_id = uuid::Uuid::new_v4().to_string();
        }
        let incarnation = uuid::Uuid::new_v4().to_string();
        let me = Identity::new(&config.network_id, &config.instance_id, incarnation);
        let token = config
            .auth_token
            .as_ref()
            .and_then(|t| Token::new(t.as_bytes()));
        let tls = net::Tls::load(&config.tls)?;
        let mut network = Network::with_config(registry, config.local.clone());
        let hub = Hub::new(me, token, config, tls);
        network.set_resolver(Arc::new(Resolver(hub.clone())));
        Ok(DistributedNetwork {
            hub,
            network: Mutex::new(Some(network)),
            running: None,
            exports: Vec::new(),
            server: None,
            finder: None,
            mdns: None,
        })
    }

    /// This instance's network id.
    pub fn network_id(&self) -> &str {
        &self.hub.me.network_id
    }

    /// This instance's instance id.
    pub fn instance_id(&self) -> &str {
        &self.hub.me.instance_id
    }

    /// The local network, to add processes and connections before [`start`](Self::start).
    pub fn network_mut(&mut self) -> Result<&mut Network, BridgeError> {
        self.network
            .get_mut()
            .as_mut()
            .ok_or(BridgeError::State("the network has already started"))
    }

    /// Adds `actor` as the local process `name` and exports it, with `metadata` (capability,
    /// version, ...) announced to peers. The one instance `actor` serves every client
    /// session (see [`export_shared`](Self::export_shared)); add a component with
    /// [`Network::add_node`](reflow_network::Network::add_node) and
    /// [`export`](Self::export) it to give every session a fresh instance.
    pub fn register_local_actor<A: Component>(
        &mut self,
        name: &str,
        actor: A,
        metadata: Value,
    ) -> Result<(), BridgeError> {
        let ports = A::info().ports;
        self.network_mut()?.add_actor(name, actor, ports)?;
        self.export(name, metadata)
    }

    /// Exports the existing local process `name` so that peers may use it as `name@network_id`.
    ///
    /// A process built from a component (a graph's process, or
    /// [`Network::add_node`](reflow_network::Network::add_node)) serves every client
    /// session with a fresh instance of its own, built from the same component and
    /// configuration: a client gets exactly what the node would give it in its own graph.
    /// A process added as an instance ([`Network::add_actor`](reflow_network::Network::add_actor),
    /// [`register_local_actor`](Self::register_local_actor)) is shared, as with
    /// [`export_shared`](Self::export_shared).
    pub fn export(&mut self, name: &str, metadata: Value) -> Result<(), BridgeError> {
        self.export_as(name, metadata, false)
    }

    /// Exports the existing local process `name` with one process serving every client
    /// session, for actors meant to share state across clients: each output goes to the
    /// session whose message caused it (to every session when the actor emits on its own,
    /// from a timer or its start), and a session's end reaches its client once the process
    /// has handled the session's messages. The actor's end-of-stream hook runs only when
    /// the process ends, so its output there reaches no session.
    pub fn export_shared(&mut self, name: &str, metadata: Value) -> Result<(), BridgeError> {
        self.export_as(name, metadata, true)
    }

    fn export_as(&mut self, name: &str, metadata: Value, shared: bool) -> Result<(), BridgeError> {
        let network = self.network_mut()?;
        network.export(name)?;
        self.hub.aliases.lock().reserve_local(name)?;
        self.exports.push((name.to_string(), metadata, shared));
        Ok(())
    }

    /// Adds the processes and connections of `graph`. Its `actor@network` processes are
    /// resolved through the links: this waits (up to `resolve_timeout`) for each peer to
    /// announce the actor, then fails with `NetworkUnreachable` or `ActorNotFound`. Their
    /// metadata sets the proxy's timeout and failure mode (see `docs/distributed.md`); a bad
    /// value fails at once with a configuration error naming the process.
    pub async fn add_graph(&mut self, graph: &Graph) -> Result<(), BridgeError> {
        for node in &graph.processes {
            if node.remote().is_some() {
                // A bad proxy option is reported at once, not after waiting for the peer.
                crate::proxy::proxy_options(&node.name, &node.metadata)?;
                crate::proxy::route_policy(&node.name, &node.metadata)?;
            }
        }
        for node in &graph.processes {
            if let Some((actor, network)) = node.remote() {
                self.resolve(actor, network).await?;
            }
        }
        self.network_mut()?.add_graph(graph)?;
        let mut aliases = self.hub.aliases.lock();
        for node in &graph.processes {
            let _ = aliases.reserve_local(&node.name);
            if let Some((actor, network)) = node.remote() {
                self.hub.note_graph_remote(&node.name, actor, network);
            }
        }
        Ok(())
    }

    /// Starts serving HTTP and links on the configured address (if any) and returns it.
    pub async fn listen(&mut self) -> Result<Option<SocketAddr>, BridgeError> {
        if let Some(server) = &self.server {
            return Ok(Some(server.addr));
        }
        let Some(bind) = self.hub.config.bind else {
            return Ok(None);
        };
        let server = net::serve(self.hub.clone(), bind).await?;
        let addr = server.addr;
        self.server = Some(server);
        Ok(Some(addr))
    }

    /// The address links and HTTP are served on, once listening.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.as_ref().map(|s| s.addr)
    }

    /// Dials `addr` (`host:port` or `ws://host:port`), authenticates both ways and waits for
    /// the link to be up and for the peer's list of exported actors (at most
    /// `connect_timeout`).
    pub async fn connect_to_network(&self, addr: &str) -> Result<PeerInfo, BridgeError> {
        self.connect_once(addr).await
    }

    /// [`connect_to_network`](Self::connect_to_network), tried again while the error is
    /// temporary ([`BridgeError::is_temporary`]: the peer is not up yet) for at most
    /// `patience`, pausing 100 ms and then twice as long each time (at most 1 s). A final
    /// error (a wrong token, a TLS refusal) is returned at once; the last error when the
    /// patience runs out. What `reflow run --connect` does, for 15 s.
    pub async fn connect_with_retry(
        &self,
        addr: &str,
        patience: std::time::Duration,
    ) -> Result<PeerInfo, BridgeError> {
        let deadline = tokio::time::Instant::now() + patience;
        let mut pause = std::time::Duration::from_millis(100);
        loop {
            match self.connect_once(addr).await {
                Err(err) if err.is_temporary() && tokio::time::Instant::now() < deadline => {
                    tracing::debug!("{addr} not reachable yet: {err}");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_secs(1));
                }
                done => return done,
            }
        }
    }

    async fn connect_once(&self, addr: &str) -> Result<PeerInfo, BridgeError> {
        let peer = net::dial(self.hub.clone(), addr).await?;
        // The peer says what it exports first thing: a graph added next sees it.
        let wait = self.hub.config.connect_timeout;
        self.hub.wait_for_exports(&peer.identity, wait).await;
        Ok(PeerInfo {
            network_id: peer.identity.network_id.clone(),
            instance_id: peer.identity.instance_id.clone(),
        })
    }

    /// Adds the remote `actor` of `network` as a local process, named after the actor or,
    /// on a clash, `{network}_{actor}`. Returns the local name.
    pub async fn register_remote_actor(
        &mut self,
        actor: &str,
        network: &str,
    ) -> Result<String, BridgeError> {
        self.register_remote_actor_with_strategy(actor, network, AliasStrategy::AutoAlias)
            .await
    }

    /// Adds the remote `actor` of `network` as a local process, resolving a name clash by
    /// `strategy`. Returns the local name.
    pub async fn register_remote_actor_with_strategy(
        &mut self,
        actor: &str,
        network: &str,
        strategy: AliasStrategy,
    ) -> Result<String, BridgeError> {
        self.resolve(actor, network).await?;
        let net = self
            .network
            .get_mut()
            .as_mut()
            .ok_or(BridgeError::State("the network has already started"))?;
        let mut aliases = self.hub.aliases.lock();
        for name in net.processes() {
            let _ = aliases.reserve_local(name);
        }
        let name = aliases.register(actor, network, &strategy)?;
        drop(aliases);
        if net.processes().any(|p| p == name) {
            return Ok(name);
        }
        let added = net.add_node(&name, &format!("{actor}@{network}"), Value::Null);
        if let Err(err) = added {
            self.hub.aliases.lock().release(&name);
            return Err(err.into());
        }
        Ok(name)
    }

    /// Subscribes to the local network's events.
    pub fn events(&self) -> Option<broadcast::Receiver<NetworkEvent>> {
        if let Some(net) = self.network.lock().as_ref() {
            return Some(net.events());
        }
        self.running.as_ref().map(RunningNetwork::events)
    }

    /// Starts the local network, serves links (if bound) and announces the exports.
    pub async fn start(&mut self) -> Result<(), BridgeError> {
        self.listen().await?;
        let mut network = self
            .network
            .get_mut()
            .take()
            .ok_or(BridgeError::State("the network has already started"))?;
        let mut exports = Vec::new();
        for (name, metadata, shared) in &self.exports {
            // Events subscribed before the start, so that even an early failure is seen.
            let tap = ExportTap::new(self.hub.clone(), name, network.events());
            let ended = tap.ended();
            network.tap_with(name, Arc::new(tap))?;
            let ports = network.ports(name).cloned().unwrap_or_default();
            exports.push((name.clone(), metadata.clone(), ports, ended, *shared));
        }
        let running = network.start()?;
        for (name, metadata, ports, ended, shared) in exports {
            if let Some(injector) = running.injector(&name) {
                // An instance's inbox holds a whole session window: the link never waits on it.
                let room = crate::protocol::SESSION_WINDOW as usize + 2;
                let instances = if shared {
                    None
                } else {
                    running.instances(&name).map(|i| i.with_min_capacity(room))
                };
                let export = crate::hub::Export {
                    injector,
                    ports,
                    metadata,
                    instances,
                };
                self.hub.add_export(&name, export, &ended);
            }
        }
        self.running = Some(running);
        self.hub
            .running
            .store(true, std::sync::atomic::Ordering::Release);
        self.hub.announce().await;
        self.start_discovery().await?;
        if let Some(finder) = &self.finder {
            // Register the exports now, not at the next renewal.
            finder.refresh();
        }
        Ok(())
    }

    /// Starts discovery when `discovery_endpoints` are configured or `mdns` is on (`start`
    /// does it too): serves first if bound, registers this instance and its exports with
    /// every endpoint, renews every `discovery_interval`, and links to the instances listed
    /// there; with `mdns`, advertises this instance on the LAN and links to the instances
    /// advertised there. Call it before `add_graph` so that `actor@network` nodes can
    /// resolve through what discovery finds. Does nothing when already started or without
    /// endpoints nor `mdns`.
    pub async fn start_discovery(&mut self) -> Result<(), BridgeError> {
        let http = self.finder.is_none() && !self.hub.config.discovery_endpoints.is_empty();
        let mdns = self.mdns.is_none() && self.hub.config.mdns;
        if !http && !mdns {
            return Ok(());
        }
        let listening = self.listen().await?;
        let scheme = if self.hub.tls.server.is_some() {
            "wss"
        } else {
            "ws"
        };
        if mdns {
            let found = crate::finder::mdns::Mdns::start(self.hub.clone(), listening, scheme)?;
            self.mdns = Some(found);
        }
        if http {
            let advertise = self
                .hub
                .config
                .advertise
                .clone()
                .or_else(|| listening.map(|addr| format!("{scheme}://{addr}")));
            let endpoints = &self.hub.config.discovery_endpoints;
            self.finder = Some(crate::finder::Finder::start(
                self.hub.clone(),
                endpoints,
                advertise,
            )?);
        }
        Ok(())
    }

    /// Sends `msg` to `port` of the remote `actor` of `network`, outside any proxy: what the
    /// actor emits in return is not delivered anywhere. Waits up to `resolve_timeout` for
    /// the peer to announce the actor.
    pub async fn send_to_remote_actor(
        &self,
        network: &str,
        actor: &str,
        port: &str,
        msg: Message,
    ) -> Result<(), BridgeError> {
        self.resolve(actor, network).await?;
        self.hub.send_direct(network, actor, port, msg).await
    }

    /// Waits, at most `resolve_timeout`, until a peer of `network` announces `actor`. With
    /// HTTP discovery on, the registries are asked again meanwhile, so that a peer that
    /// registered after the last listing is found now rather than at the next interval.
    async fn resolve(&self, actor: &str, network: &str) -> Result<(), BridgeError> {
        let timeout = self.hub.config.resolve_timeout;
        let wait = self.hub.wait_for_actor(actor, network, timeout);
        match &self.finder {
            Some(finder) => finder.refreshing_while(wait).await,
            None => wait.await,
        }
    }

    /// What the remote actor proxies in `skip` mode gave up on so far, by reason (the
    /// `reason` label of `reflow_bridge_proxy_skipped_total`: `send_timeout`,
    /// `reply_timeout`, `remote_error`, `too_large`); reasons with none are left out.
    pub fn skipped(&self) -> Vec<(&'static str, u64)> {
        crate::metrics::SkipReason::ALL
            .iter()
            .map(|r| (r.label(), self.hub.metrics.proxy_skips(*r)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Subscribes to peer up/down events from now on.
    pub fn bridge_events(&self) -> broadcast::Receiver<crate::events::BridgeEvent> {
        self.hub.events()
    }

    /// The peers this instance has a link with, ordered by link.
    pub fn peers(&self) -> Vec<PeerInfo> {
        self.hub
            .links()
            .into_iter()
            .filter(|l| l.handle.is_connected())
            .map(|l| PeerInfo {
                network_id: l.handle.peer.identity.network_id.clone(),
                instance_id: l.handle.peer.identity.instance_id.clone(),
            })
            .collect()
    }

    /// Waits until `until` holds for the linked peers (checked now and at every change of
    /// the links).
    pub async fn wait_peers(&self, until: impl Fn(&[PeerInfo]) -> bool) {
        let mut changes = self.hub.changes();
        while !until(&self.peers()) {
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// What /status shows: identity, links, exports, remote actors and aliases.
    pub fn bridge_status(&self) -> Status {
        self.hub.status()
    }

    /// Waits until the local network completes.
    pub async fn wait(&mut self) -> Report {
        match self.running.as_mut() {
            Some(running) => running.wait().await,
            None => Report::default(),
        }
    }

    /// Graceful shutdown: exports stop taking new work, the local network drains within the
    /// deadline, every peer gets Close 1001, the server stops.
    pub async fn shutdown(mut self) -> Report {
        let deadline = self.hub.config.shutdown_deadline;
        if let Some(finder) = self.finder.take() {
            finder.stop().await;
        }
        if let Some(mdns) = self.mdns.take() {
            mdns.stop().await;
        }
        self.hub.clear_exports();
        self.hub.drain_instances(deadline).await;
        let report = match self.running.take() {
            Some(running) => running.shutdown(deadline).await,
            None => Report::default(),
        };
        self.hub.close_all(1001, "shutting down");
        self.hub.wait_links_closed(deadline).await;
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        report
    }
}
