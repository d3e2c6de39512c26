//! Checks a graph against a registry and builds one fresh actor per process. Every problem
//! is collected, with its location, before anything runs.

use std::collections::HashMap;

use serde_json::Value;

use super::{Graph, PortRef, Problems};
use crate::actor::Ports;
use crate::graph::ProblemKind;
use crate::instances::Recipe;
use crate::process::BoxedActor;
use crate::registry::{BuildError, Registry};

/// A process ready to be added to a network.
pub(crate) struct Resolved {
    pub(crate) name: String,
    pub(crate) kind: ResolvedKind,
}

pub(crate) enum ResolvedKind {
    Local {
        actor: BoxedActor,
        ports: Ports,
        /// How to build another instance of it.
        recipe: Recipe,
    },
    Remote {
        actor: String,
        network: String,
        config: Value,
    },
}

impl Graph {
    /// Checks every process, connection, IIP and exported port against `registry`: unknown
    /// components (with the nearest known name), configurations the component rejects,
    /// unknown ports, connections to missing processes. Remote `actor@network` processes
    /// are resolved when the network starts, so their ports are not checked here.
    ///
    /// What is legal but risky, such as a cycle among processes, is not a problem: see
    /// [`Graph::warnings`].
    pub fn validate(&self, registry: &Registry) -> Result<(), Problems> {
        resolve(self, registry).map(drop)
    }
}

/// Builds every local process and checks every reference; all problems at once.
pub(crate) fn resolve(graph: &Graph, registry: &Registry) -> Result<Vec<Resolved>, Problems> {
    let mut problems = Problems::default();
    let mut resolved = Vec::with_capacity(graph.processes.len());
    let mut ports: HashMap<&str, Option<Ports>> = HashMap::new();
    for node in &graph.processes {
        if ports.contains_key(node.name.as_str()) {
            problems.push(
                ProblemKind::DuplicateProcess,
                format!("processes.{}", node.name),
                format!("process `{}` is defined more than once", node.name),
            );
            continue;
        }
        let kind = match node.remote() {
            Some((actor, network)) => Some(ResolvedKind::Remote {
                actor: actor.to_string(),
                network: network.to_string(),
                config: node.metadata.clone(),
            }),
            None => build_local(
                registry,
                &node.name,
                &node.component,
                &node.metadata,
                &mut problems,
            ),
        };
        // A process whose configuration was rejected is still port-checked against the
        // ports its component declares.
        let known = match &kind {
            Some(ResolvedKind::Local { ports, .. }) => Some(ports.clone()),
            Some(ResolvedKind::Remote { .. }) => None,
            None => registry
                .info(&node.component)
                .map(|info| info.ports.clone()),
        };
        ports.insert(&node.name, known);
        if let Some(kind) = kind {
            resolved.push(Resolved {
                name: node.name.clone(),
                kind,
            });
        }
    }
    check_references(graph, &ports, &mut problems);
    problems.into_result(resolved)
}

fn build_local(
    registry: &Registry,
    name: &str,
    component: &str,
    config: &Value,
    problems: &mut Problems,
) -> Option<ResolvedKind> {
    let location = format!("processes.{name}.component");
    match registry.build(component, config) {
        Ok((actor, ports)) => Some(ResolvedKind::Local {
            actor,
            ports,
            recipe: Recipe {
                component: component.to_string(),
                config: config.clone(),
            },
        }),
        Err(BuildError::Unknown(nearest)) => {
            let hint = nearest.map_or(String::new(), |n| format!(" (did you mean `{n}`?)"));
            problems.push(
                ProblemKind::UnknownComponent,
                location,
                format!("process `{name}` uses unknown component `{component}`{hint}"),
            );
            None
        }
        Err(BuildError::Config(err)) => {
            problems.push(
                ProblemKind::BadConfig,
                format!("processes.{name}.metadata"),
                format!("process `{name}` ({component}): {err}"),
            );
            None
        }
    }
}

/// `None` in the map: the process exists but its ports are unknown (remote, or failed to
/// build); references to it are not port-checked.
type PortTable<'a> = HashMap<&'a str, Option<Ports>>;

fn check_references(graph: &Graph, ports: &PortTable<'_>, problems: &mut Problems) {
    for (i, conn) in graph.connections.iter().enumerate() {
        let at = format!("connections[{i}]");
        check_port(
            ports,
            &conn.src,
            Direction::Out,
            &format!("{at}.src"),
            problems,
        );
        check_port(
            ports,
            &conn.tgt,
            Direction::In,
            &format!("{at}.tgt"),
            problems,
        );
    }
    for (i, iip) in graph.initials.iter().enumerate() {
        let at = format!("connections[{}].tgt", graph.connections.len() + i);
        check_port(ports, &iip.tgt, Direction::In, &at, problems);
    }
    for (name, export) in &graph.inports {
        let port = PortRef::new(&export.process, &export.port);
        check_port(
            ports,
            &port,
            Direction::In,
            &format!("inports.{name}"),
            problems,
        );
    }
    for (name, export) in &graph.outports {
        let port = PortRef::new(&export.process, &export.port);
        check_port(
            ports,
            &port,
            Direction::Out,
            &format!("outports.{name}"),
            problems,
        );
    }
    for (g, group) in graph.groups.iter().enumerate() {
        for (n, node) in group.nodes.iter().enumerate() {
            if !ports.contains_key(node.as_str()) {
                problems.push(
                    ProblemKind::MissingProcess,
                    format!("groups[{g}].nodes[{n}]"),
                    format!("group `{}` names missing process `{node}`", group.name),
                );
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Direction {
    In,
    Out,
}

fn check_port(
    ports: &PortTable<'_>,
    at: &PortRef,
    dir: Direction,
    location: &str,
    problems: &mut Problems,
) {
    let Some(known) = ports.get(at.process.as_str()) else {
        problems.push(
            ProblemKind::MissingProcess,
            location,
            format!("no process named `{}`", at.process),
        );
        return;
    };
    let Some(known) = known else { return };
    let (list, word) = match dir {
        Direction::In => (&known.inports, "inport"),
        Direction::Out => (&known.outports, "outport"),
    };
    if !list.iter().any(|p| p == &at.port) {
        problems.push(
            ProblemKind::UnknownPort,
            location,
            format!(
                "process `{}` has no {word} `{}` (it has: {})",
                at.process,
                at.port,
                if list.is_empty() {
                    "none".to_string()
                } else {
                    list.join(", ")
                }
            ),
        );
    }
}
