//! The hub: the state every link and proxy shares — links by peer, exported actors, the
//! remote sessions served here, the proxy sessions opened from here, aliases, metrics.
//! Locks are never held across an `.await`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use tokio::time::Instant;

use parking_lot::Mutex;
use reflow_network::{Injector, Instances, Message, Origin, Ports};
use serde_json::Value;
use tokio::sync::watch;

use crate::alias::AliasRegistry;
use crate::config::DistributedConfig;
use crate::events::BridgeEvent;
use crate::metrics::Metrics;
use crate::net::{Exit, LinkHandle, LinkId, Tls};
use crate::protocol::ExportedActor;
use crate::session::{Identity, Token};

mod credit;
mod export_tap;
mod exports;
mod inbound;
mod instance;
mod links;
mod pending;
mod replies;
mod report;
mod served;
mod sessions;

pub(crate) use credit::{RecvCredit, SendWindow};
pub(crate) use export_tap::ExportTap;
pub(crate) use inbound::Route;
pub(crate) use pending::{Kept, Pending, UNCOUNTED};
use replies::ReplySender;
pub(crate) use replies::{Direct, Oversized, ReplyEvent, ReplyReceiver};

/// The session of messages sent with `send_to_remote_actor`, outside any proxy: their
/// replies have nowhere to go and are dropped.
pub(crate) const DIRECT_ORIGIN: u32 = u32::MAX;

/// A link and what we know about its peer.
#[derive(Debug, Clone)]
pub(crate) struct LinkEntry {
    pub(crate) handle: LinkHandle,
    pub(crate) address: String,
    pub(crate) dialed_by_us: bool,
    /// The actors the peer exports, from its latest `Exports` frame.
    pub(crate) exports: Vec<ExportedActor>,
    /// Whether an `Exports` frame came on this link yet (the peer sends one first on every
    /// connection).
    pub(crate) exports_known: bool,
    /// Whether the peer had started when it sent its latest list: the list is complete.
    pub(crate) exports_final: bool,
}

/// An actor of the local network that peers may use.
#[derive(Debug, Clone)]
pub(crate) struct Export {
    /// The exported process's inbox (a shared export serves every session through it).
    pub(crate) injector: Injector,
    pub(crate) ports: Ports,
    pub(crate) metadata: Value,
    /// For a per-session export: what makes each session's own instance.
    pub(crate) instances: Option<Instances>,
}

/// A proxy session opened from here towards a remote actor.
#[derive(Debug)]
struct Session {
    link: LinkId,
    replies: ReplySender,
    /// Room for its messages at the exporting side.
    window: Arc<credit::SendWindow>,
}

/// Shared state of one bridge.
pub(crate) struct Hub {
    /// Itself, for the tasks it starts.
    this: Weak<Hub>,
    pub(crate) me: Identity,
    pub(crate) token: Option<Token>,
    pub(crate) config: DistributedConfig,
    /// `config.tls`, loaded.
    pub(crate) tls: Tls,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) started: Instant,
    pub(crate) aliases: Mutex<AliasRegistry>,
    next_link: AtomicU64,
    next_origin: AtomicU32,
    links: Mutex<BTreeMap<LinkId, LinkEntry>>,
    changed: watch::Sender<u64>,
    exports: Mutex<BTreeMap<String, Export>>,
    served: Mutex<HashMap<Origin, served::Served>>,
    /// Per-session instances still running.
    live_instances: watch::Sender<usize>,
    served_by_remote: Mutex<HashMap<(LinkId, u32), Origin>>,
    sessions: Mutex<HashMap<Origin, Session>>,
    /// Peer up/down events for the application.
    events: tokio::sync::broadcast::Sender<crate::events::BridgeEvent>,
    /// Remote actors added as graph processes (`actor@network`), for /status.
    graph_remotes: Mutex<Vec<crate::status::RemoteActorStatus>>,
    /// How each proxy routes, by its local process name, for /status and /metrics.
    routes: Mutex<BTreeMap<String, Arc<crate::proxy::Shares>>>,
    /// Warnings of refused links, at most one line per interval.
    pub(crate) refusals: crate::throttle::Throttle,
    /// Whether the local network is running (the export list is complete).
    pub(crate) running: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

impl Hub {
    pub(crate) fn new(
        me: Identity,
        token: Option<Token>,
        config: DistributedConfig,
        tls: Tls,
    ) -> Arc<Self> {
        Arc::new_cyclic(|this| Hub {
            this: this.clone(),
            me,
            token,
            config,
            tls,
            metrics: Arc::new(Metrics::new()),
            started: Instant::now(),
            aliases: Mutex::default(),
            next_link: AtomicU64::new(1),
            next_origin: AtomicU32::new(1),
            links: Mutex::default(),
            changed: watch::channel(0).0,
            exports: Mutex::default(),
            served: Mutex::default(),
            live_instances: watch::channel(0).0,
            served_by_remote: Mutex::default(),
            sessions: Mutex::default(),
            graph_remotes: Mutex::default(),
            routes: Mutex::default(),
            refusals: crate::throttle::Throttle::new(std::time::Duration::from_secs(10)),
            events: tokio::sync::broadcast::channel(256).0,
            running: std::sync::atomic::AtomicBool::new(false),
        })
    }

    pub(crate) fn next_link_id(&self) -> LinkId {
        self.next_link.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn next_origin(&self) -> Origin {
        self.next_origin.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn max_message_bytes(&self) -> usize {
        self.config.max_message_bytes
    }

    /// Microseconds since the hub started: heartbeat ids, so an ack gives the round trip.
    pub(crate) fn now_us(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Wakes whoever waits for links or exports to change.
    fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    /// A receiver that sees every change of links or peer exports.
    pub(crate) fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Records that the graph process `local_name` stands for `actor@network`.
    pub(crate) fn note_graph_remote(&self, local_name: &str, actor: &str, network: &str) {
        self.graph_remotes
            .lock()
            .push(crate::status::RemoteActorStatus {
                local_name: local_name.to_string(),
                actor: actor.to_string(),
                network: network.to_string(),
                aliased: false,
                route: None,
                instances: Vec::new(),
            });
    }

    /// The graph's remote actors, each with how its proxy routes.
    pub(crate) fn graph_remotes(&self) -> Vec<crate::status::RemoteActorStatus> {
        let routes = self.routes.lock();
        let mut list = self.graph_remotes.lock().clone();
        for entry in &mut list {
            if let Some(shares) = routes.get(&entry.local_name) {
                entry.route = Some(shares.policy().to_string());
                entry.instances = shares.snapshot();
            }
        }
        list
    }

    /// Records how the proxy of graph process `process` routes (a later proxy of the same
    /// name replaces it).
    pub(crate) fn note_route(&self, process: &str, shares: Arc<crate::proxy::Shares>) {
        self.routes.lock().insert(process.to_string(), shares);
    }

    /// Messages each proxy sent to each instance: `(process, instance, messages)`.
    pub(crate) fn route_counts(&self) -> Vec<(String, String, u64)> {
        let routes = self.routes.lock();
        let mut counts = Vec::new();
        for (process, shares) in routes.iter() {
            for share in shares.snapshot() {
                counts.push((process.clone(), share.instance, share.messages));
            }
        }
        counts
    }

    /// Subscribes to peer up/down events.
    pub(crate) fn events(&self) -> tokio::sync::broadcast::Receiver<crate::events::BridgeEvent> {
        self.events.subscribe()
    }

    /// A proxy sent `count` messages of the lost `instance` again, `duplicates` of which had
    /// already replied: counted, logged and announced.
    pub(crate) fn report_resent(&self, process: &str, instance: &str, count: u64, duplicates: u64) {
        self.metrics.proxy_resent.add(count);
        self.metrics.proxy_duplicates.add(duplicates);
        tracing::warn!(%process, %instance, count, duplicates, "instance lost: messages sent again to the live instances");
        self.emit(BridgeEvent::MessagesResent {
            process: process.to_string(),
            instance_id: instance.to_string(),
            count,
            duplicates,
        });
    }

    /// A proxy's circuit breaker towards `instance` entered `state`: counted, logged and
    /// announced.
    pub(crate) fn report_breaker(&self, process: &str, instance: &str, state: &'static str) {
        self.metrics.breaker_entered(state);
        tracing::warn!(%process, %instance, state, "circuit breaker");
        self.emit(BridgeEvent::BreakerChanged {
            process: process.to_string(),
            instance_id: instance.to_string(),
            state,
        });
    }

    pub(crate) fn emit(&self, event: crate::events::BridgeEvent) {
        let _ = self.events.send(event);
    }

    /// A link ended for good: forget it, fail its proxies, end the sessions it served, and
    /// report what it never delivered. `was_up`: a connection was attached when it ended.
    pub(crate) fn link_closed(&self, link: &LinkHandle, exit: Exit, lost: u64, was_up: bool) {
        let id = &link.peer.identity;
        tracing::info!(peer = %id.instance_id, network = %id.network_id, lost, "link closed: {}", exit.describe());
        self.links.lock().remove(&link.id);
        if was_up {
            self.emit(BridgeEvent::PeerDown {
                network_id: id.network_id.clone(),
                instance_id: id.instance_id.clone(),
                reason: exit.describe(),
            });
        }
        if lost > 0 {
            self.metrics.messages_lost.add(lost);
            tracing::warn!(peer = %id.instance_id, "{lost} messages sent to the peer were never acknowledged: lost");
            self.emit(BridgeEvent::MessagesLost {
                network_id: id.network_id.clone(),
                instance_id: id.instance_id.clone(),
                count: lost,
                reason: exit.describe(),
            });
        }
        self.metrics.links_closed.inc();
        self.retire(link);
    }

    /// A link lost its connection and waits to be resumed; `redial`: the address to dial
    /// again, when this side dialled the connection that was lost.
    pub(crate) fn link_suspended(&self, link: &LinkHandle, exit: &Exit, redial: Option<String>) {
        let id = &link.peer.identity;
        tracing::info!(peer = %id.instance_id, network = %id.network_id, "link down, waiting to resume: {}", exit.describe());
        self.emit(BridgeEvent::PeerDown {
            network_id: id.network_id.clone(),
            instance_id: id.instance_id.clone(),
            reason: exit.describe(),
        });
        self.bump();
        if let (Some(address), Some(hub)) = (redial, self.this.upgrade()) {
            crate::net::redial(hub, link.clone(), address);
        }
    }

    /// Deliveries that are acknowledged at once rather than after a short delay.
    pub(crate) fn ack_threshold(&self) -> u64 {
        u64::from(self.config.link_window / 4).max(1)
    }

    /// Fails the proxies of a link that ended and ends the sessions it served.
    pub(super) fn retire(&self, link: &LinkHandle) {
        self.drop_sessions_of(link.id);
        self.end_served_of(link.id);
        self.bump();
    }

    /// Sends the message to a remote actor with no proxy session (replies are dropped).
    pub(crate) async fn send_direct(
        &self,
        network: &str,
        actor: &str,
        port: &str,
        msg: Message,
    ) -> Result<(), crate::BridgeError> {
        let link = self.link_to(network)?;
        let frame = crate::protocol::Frame::Data {
            seq: 0,
            actor: actor.into(),
            port: port.into(),
            origin: DIRECT_ORIGIN,
            payload: msg,
            trace: None,
        };
        link.send(frame).await
    }
}
