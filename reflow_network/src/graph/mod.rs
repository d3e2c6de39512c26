//! The graph model: processes, connections, IIPs, exported ports and groups, read from the
//! FBP JSON format or the Reflow export variant and written back in the FBP form.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

mod cycles;
mod load;
mod problems;
mod save;
mod validate;
mod warnings;

#[cfg(test)]
mod tests;

pub use problems::{Problem, ProblemKind, Problems};
pub(crate) use validate::{resolve, ResolvedKind};
pub use warnings::{Warning, WarningKind};

/// A graph of processes and connections.
///
/// ```
/// use reflow_network::Graph;
///
/// let graph = Graph::from_json_str(r#"{
///     "processes": {
///         "numbers": {"component": "Range", "metadata": {"start": 0, "end": 3}},
///         "print": {"component": "Console"}
///     },
///     "connections": [
///         {"src": {"process": "numbers", "port": "out"}, "tgt": {"process": "print", "port": "in"}}
///     ]
/// }"#).unwrap();
/// assert_eq!(graph.processes.len(), 2);
/// let again = Graph::from_json_str(&graph.to_json_string()).unwrap();
/// assert_eq!(again, graph);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graph {
    /// When false (the default), port names are compared in lower case, as NoFlo does.
    pub case_sensitive: bool,
    /// Free-form properties such as `name`.
    pub properties: Map<String, Value>,
    /// Processes in document order. `to_json_string` writes them in this order, so save
    /// then load keeps it; the `Value` from `to_json` sorts them by name.
    pub processes: Vec<Node>,
    /// Connections between processes, in order.
    pub connections: Vec<Connection>,
    /// Initial information packets, in order.
    pub initials: Vec<Initial>,
    /// Graph inports: public name to the process port they lead to.
    pub inports: BTreeMap<String, Export>,
    /// Graph outports: public name to the process port they come from.
    pub outports: BTreeMap<String, Export>,
    /// Named groups of processes.
    pub groups: Vec<Group>,
}

/// A process: a named instance of a component.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Unique process name.
    pub name: String,
    /// Component name, or `actor@network` for a remote actor.
    pub component: String,
    /// Configuration for the component (an object, or `Null` when absent). Layout keys such
    /// as `x` and `y` may be present; components ignore what they do not know.
    pub metadata: Value,
}

impl Node {
    /// `(actor, network)` when the component names a remote actor as `actor@network`.
    pub fn remote(&self) -> Option<(&str, &str)> {
        split_remote(&self.component)
    }
}

/// Splits `actor@network` into its parts; `None` for a local component name.
pub fn split_remote(component: &str) -> Option<(&str, &str)> {
    let (actor, network) = component.split_once('@')?;
    (!actor.is_empty() && !network.is_empty()).then_some((actor, network))
}

/// One end of a connection: a process and one of its ports.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PortRef {
    /// Process name.
    pub process: String,
    /// Port name.
    pub port: String,
    /// Index for addressable (array) ports; kept for round trips, ignored by the runtime.
    pub index: Option<u32>,
}

impl PortRef {
    /// A reference to `port` of `process`.
    pub fn new(process: impl Into<String>, port: impl Into<String>) -> Self {
        PortRef {
            process: process.into(),
            port: port.into(),
            index: None,
        }
    }
}

impl<P: Into<String>, Q: Into<String>> From<(P, Q)> for PortRef {
    fn from((process, port): (P, Q)) -> Self {
        PortRef::new(process, port)
    }
}

/// A connection from an outport to an inport.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// Where messages come from.
    pub src: PortRef,
    /// Where they go.
    pub tgt: PortRef,
    /// Free-form metadata (route, colour, ...).
    pub metadata: Option<Value>,
}

/// An initial information packet: data delivered to an inport when the network starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Initial {
    /// The data.
    pub data: Value,
    /// Where it goes.
    pub tgt: PortRef,
    /// Free-form metadata.
    pub metadata: Option<Value>,
}

/// A graph inport or outport, exposing a process port under a public name.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    /// Process name.
    pub process: String,
    /// Port name.
    pub port: String,
    /// Free-form metadata.
    pub metadata: Option<Value>,
}

/// A named group of processes (for editors; no runtime meaning).
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Group name.
    pub name: String,
    /// Process names.
    pub nodes: Vec<String>,
    /// Free-form metadata.
    pub metadata: Option<Value>,
}
