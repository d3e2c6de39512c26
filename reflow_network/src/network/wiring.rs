//! Turns a built network into running tasks: one bounded inbox per process, one edge per
//! connection, IIPs queued ahead of everything else, injectors for exported processes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::running::{self, Handles, Supervised};
use super::{Network, NodeEntry, RunningNetwork};
use crate::activity::Activity;
use crate::context::Context;
use crate::edge::{Edge, OutPort, Packet};
use crate::events::NetworkEvent;
use crate::external::Injector;
use crate::instances::Instances;
use crate::process::{BoxedActor, Phase, ProcessIo};
use crate::stall::Stall;

/// Per-process plumbing, indexed like the network's nodes.
struct Plumbing {
    senders: Vec<mpsc::Sender<Packet>>,
    outports: Vec<Vec<OutPort>>,
    iips: Vec<Vec<Packet>>,
    has_input: Vec<bool>,
}

/// One shared copy of each port name, and of each list of inports. Most processes of a
/// large network have the same few ports (`in`, `out`), and every process keeps its port
/// names for its whole run.
#[derive(Default)]
struct PortNames {
    names: HashSet<Arc<str>>,
    inports: HashMap<Vec<String>, Arc<[Arc<str>]>>,
}

impl PortNames {
    fn get(&mut self, name: &str) -> Arc<str> {
        if let Some(shared) = self.names.get(name) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(name);
        self.names.insert(shared.clone());
        shared
    }

    fn inports(&mut self, list: &[String]) -> Arc<[Arc<str>]> {
        if let Some(shared) = self.inports.get(list) {
            return shared.clone();
        }
        let shared: Arc<[Arc<str>]> = list.iter().map(|name| self.get(name)).collect();
        self.inports.insert(list.to_vec(), shared.clone());
        shared
    }
}

/// Inboxes and edges from the connections and IIPs, which hold process and port indices
/// checked when they were added: nothing is looked up by name here.
fn plumb(net: &mut Network, names: &mut PortNames) -> (Plumbing, Vec<mpsc::Receiver<Packet>>) {
    let nodes = &net.nodes;
    let (senders, receivers): (Vec<_>, Vec<_>) = nodes
        .iter()
        .map(|_| mpsc::channel::<Packet>(net.config.capacity))
        .unzip();
    let mut outports: Vec<Vec<OutPort>> = nodes.iter().map(|n| empty_outports(n, names)).collect();
    let mut has_input: Vec<bool> = nodes.iter().map(|n| n.exported).collect();
    for &(from, to) in &net.connections {
        has_input[to.node] = true;
        let edge = Edge {
            tx: senders[to.node].clone(),
            port: to.port,
            target: u32::try_from(to.node).unwrap_or(u32::MAX),
        };
        outports[from.node][usize::from(from.port)].edges.push(edge);
    }
    // A lone edge would otherwise sit in room for four: this is kept for the whole run.
    for port in outports.iter_mut().flatten() {
        port.edges.shrink_to_fit();
    }
    let mut iips: Vec<Vec<Packet>> = nodes.iter().map(|_| Vec::new()).collect();
    for (to, msg) in std::mem::take(&mut net.initials) {
        iips[to.node].push(Packet::local(to.port, msg));
    }
    let plumbing = Plumbing {
        senders,
        outports,
        iips,
        has_input,
    };
    (plumbing, receivers)
}

pub(super) fn start(mut net: Network) -> RunningNetwork {
    let mut port_names = PortNames::default();
    let (plumbing, receivers) = plumb(&mut net, &mut port_names);
    let Plumbing {
        senders,
        outports,
        iips,
        has_input,
    } = plumbing;
    let inboxes: Vec<_> = senders.iter().map(|tx| tx.downgrade()).collect();
    let names: Vec<Arc<str>> = net.nodes.iter().map(|n| n.name.clone()).collect();
    let injectors = injectors(&net.nodes, &senders);
    let instances = instances(&net);
    drop(senders);

    let activity = Arc::new(Activity::new(inboxes.clone(), net.events.clone()));
    let (phase_tx, phase_rx) = watch::channel(Phase::Running);
    let mut supervised = Supervised {
        set: JoinSet::new(),
        names: HashMap::with_capacity(names.len()),
        processes: Vec::with_capacity(names.len()),
        condemned: HashMap::new(),
        events: net.events.clone(),
        activity,
    };
    let parts = receivers.into_iter().zip(outports).zip(iips).zip(has_input);
    for (index, (node, (((inbox, outs), initials), has_input))) in
        net.nodes.into_iter().zip(parts).enumerate()
    {
        let io = ProcessIo {
            inports: port_names.inports(&node.ports.inports),
            inbox,
            initials,
            ctx: Context::new(
                node.name.clone(),
                outs,
                node.tap,
                Some(Stall::new(supervised.activity.clone(), index)),
            ),
            is_source: !has_input,
            phase: phase_rx.clone(),
            activity: supervised.activity.clone(),
        };
        spawn_process(&mut supervised, node.name, node.actor, io);
    }
    let handles = Handles {
        events: net.events,
        phase: phase_tx,
        inboxes: names.into_iter().zip(inboxes).collect(),
        injectors,
        instances,
    };
    running::spawn(supervised, handles)
}

/// Announces the process and spawns its loop under the supervisor.
fn spawn_process(sup: &mut Supervised, name: Arc<str>, actor: BoxedActor, io: ProcessIo) {
    let _ = sup.events.send(NetworkEvent::ProcessStarted {
        process: name.to_string(),
    });
    let handle = sup.set.spawn(actor.run(io));
    sup.names.insert(handle.id(), name.clone());
    sup.processes.push((name, handle));
}

fn injectors(nodes: &[NodeEntry], senders: &[mpsc::Sender<Packet>]) -> Vec<Injector> {
    nodes
        .iter()
        .zip(senders)
        .filter(|(node, _)| node.exported)
        .map(|(node, tx)| {
            Injector::new(
                node.name.clone(),
                node.ports.inports.clone().into(),
                tx.clone(),
            )
        })
        .collect()
}

/// Instance makers of the exported processes built from a component.
fn instances(net: &Network) -> Vec<Instances> {
    net.nodes
        .iter()
        .filter(|node| node.exported)
        .filter_map(|node| {
            let recipe = node.recipe.clone()?;
            Some(Instances::new(
                node.name.clone(),
                net.registry.clone(),
                recipe,
                net.config.capacity,
            ))
        })
        .collect()
}

fn empty_outports(node: &NodeEntry, names: &mut PortNames) -> Vec<OutPort> {
    node.ports
        .outports
        .iter()
        .map(|name| OutPort {
            name: names.get(name),
            edges: Vec::new(),
        })
        .collect()
}
