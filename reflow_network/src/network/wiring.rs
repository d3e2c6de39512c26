//! Turns a built network into running tasks: one bounded inbox per process, one edge per
//! connection, IIPs queued ahead of everything else, injectors for exported processes.

use std::collections::HashMap;
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
use crate::process::{inport_names, Phase, ProcessIo};
use crate::stall::Stall;

/// Index of a port in its process's port list. Ports were checked when connections and
/// IIPs were added, so the lookup cannot miss; a miss maps to port 0 rather than panic.
fn index_of(list: &[String], port: &str) -> u16 {
    let ix = list.iter().position(|p| p == port).unwrap_or(0);
    u16::try_from(ix).unwrap_or(u16::MAX)
}

/// Per-process plumbing, indexed like the network's nodes.
struct Plumbing {
    senders: Vec<mpsc::Sender<Packet>>,
    outports: Vec<Vec<OutPort>>,
    iips: Vec<Vec<Packet>>,
    has_input: Vec<bool>,
}

fn plumb(net: &mut Network) -> (Plumbing, Vec<mpsc::Receiver<Packet>>) {
    let nodes = &net.nodes;
    let by_name: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (&*n.name, i))
        .collect();
    let (senders, receivers): (Vec<_>, Vec<_>) = nodes
        .iter()
        .map(|_| mpsc::channel::<Packet>(net.config.capacity))
        .unzip();
    let mut outports: Vec<Vec<OutPort>> = nodes.iter().map(empty_outports).collect();
    let mut has_input: Vec<bool> = nodes.iter().map(|n| n.exported).collect();
    for (from, to) in &net.connections {
        let (src, tgt) = (by_name[from.process.as_str()], by_name[to.process.as_str()]);
        has_input[tgt] = true;
        let edge = Edge {
            tx: senders[tgt].clone(),
            port: index_of(&nodes[tgt].ports.inports, &to.port),
            target: u32::try_from(tgt).unwrap_or(u32::MAX),
        };
        let out = index_of(&nodes[src].ports.outports, &from.port);
        outports[src][usize::from(out)].edges.push(edge);
    }
    let mut iips: Vec<Vec<Packet>> = nodes.iter().map(|_| Vec::new()).collect();
    for (to, msg) in std::mem::take(&mut net.initials) {
        let tgt = by_name[to.process.as_str()];
        let port = index_of(&nodes[tgt].ports.inports, &to.port);
        iips[tgt].push(Packet::local(port, msg));
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
    let (plumbing, receivers) = plumb(&mut net);
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
    let mut set = JoinSet::new();
    let mut task_names = HashMap::new();
    let mut processes = Vec::with_capacity(names.len());
    let parts = net
        .nodes
        .into_iter()
        .zip(receivers)
        .zip(outports)
        .zip(iips)
        .zip(has_input);
    for (index, ((((node, inbox), outs), initials), has_input)) in parts.enumerate() {
        let NodeEntry {
            name,
            actor,
            ports,
            tap,
            ..
        } = node;
        let io = ProcessIo {
            inports: inport_names(&ports),
            inbox,
            initials,
            ctx: Context::new(
                name.clone(),
                outs,
                tap,
                Some(Stall::new(activity.clone(), index)),
            ),
            is_source: !has_input,
            phase: phase_rx.clone(),
            activity: activity.clone(),
        };
        let _ = net.events.send(NetworkEvent::ProcessStarted {
            process: name.to_string(),
        });
        let handle = set.spawn(actor.run(io));
        task_names.insert(handle.id(), name.clone());
        processes.push((name, handle));
    }
    let supervised = Supervised {
        set,
        names: task_names,
        processes,
        condemned: HashMap::new(),
        events: net.events.clone(),
        activity,
    };
    let handles = Handles {
        events: net.events,
        phase: phase_tx,
        inboxes: names.into_iter().zip(inboxes).collect(),
        injectors,
        instances,
    };
    running::spawn(supervised, handles)
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

fn empty_outports(node: &NodeEntry) -> Vec<OutPort> {
    node.ports
        .outports
        .iter()
        .map(|name| OutPort {
            name: Arc::from(name.as_str()),
            edges: Vec::new(),
        })
        .collect()
}
