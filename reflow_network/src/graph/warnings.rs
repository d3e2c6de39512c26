//! Warnings: what a graph may legally contain but is worth a look before it runs. A cycle
//! among processes is a feedback loop, legal in FBP, but its bounded inboxes can fill up
//! with every process on it waiting for room in the next one: a deadlock.

use std::collections::HashMap;
use std::fmt;

use super::cycles::{cyclic_components, shortest_cycle};
use super::Graph;

#[cfg(test)]
mod tests;

/// What a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WarningKind {
    /// Processes that can send to each other in a loop.
    Cycle,
    /// A setting that nothing reads: for example metadata on a remote node (`X@network`)
    /// that is not an option of its local proxy, and so never reaches the remote actor.
    IgnoredSetting,
}

/// Something legal but risky in a graph. Unlike a [`Problem`](super::Problem), a warning
/// does not stop a graph from being validated or run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// What it is about.
    pub kind: WarningKind,
    /// Where: for a cycle, the connections inside it, as `connections[0], connections[3]`.
    pub location: String,
    /// The processes involved, in the order of [`Graph::processes`].
    pub processes: Vec<String>,
    /// A sentence saying what the risk is, with the names involved.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

impl Graph {
    /// What the graph legally contains but should be looked at; never a reason to refuse
    /// it. Needs no registry, and reads a graph with problems as far as it can.
    ///
    /// Today that is every cycle among processes: each strongly connected component of the
    /// connections (found with Tarjan's algorithm; a process connected to itself is a
    /// cycle of one), reported once, in the order of its first process in
    /// [`processes`](Graph::processes), with its processes in that order too. Connections
    /// that name a missing process are left out (validation reports them).
    ///
    /// ```
    /// use reflow_network::Graph;
    ///
    /// let graph = Graph::from_json_str(r#"{
    ///     "processes": {"a": {"component": "Forward"}, "b": {"component": "Forward"}},
    ///     "connections": [
    ///         {"src": {"process": "a", "port": "out"}, "tgt": {"process": "b", "port": "in"}},
    ///         {"src": {"process": "b", "port": "out"}, "tgt": {"process": "a", "port": "in"}}
    ///     ]
    /// }"#).unwrap();
    /// let warnings = graph.warnings();
    /// assert_eq!(warnings[0].processes, ["a", "b"]);
    /// assert_eq!(
    ///     warnings[0].to_string(),
    ///     "connections[0], connections[1]: processes a -> b -> a form a cycle: \
    ///      a full inbox on it can deadlock the run"
    /// );
    /// ```
    pub fn warnings(&self) -> Vec<Warning> {
        let links = Links::new(self);
        cyclic_components(&links.succ)
            .iter()
            .map(|component| links.cycle_warning(self, component))
            .collect()
    }
}

/// The connections as successor lists over process indices.
struct Links {
    succ: Vec<Vec<usize>>,
    /// Each connection between known processes: its index in the graph, source, target.
    edges: Vec<(usize, usize, usize)>,
}

impl Links {
    fn new(graph: &Graph) -> Self {
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (i, node) in graph.processes.iter().enumerate() {
            index.entry(node.name.as_str()).or_insert(i);
        }
        let mut succ = vec![Vec::new(); graph.processes.len()];
        let mut edges = Vec::new();
        for (i, conn) in graph.connections.iter().enumerate() {
            let src = index.get(conn.src.process.as_str());
            let tgt = index.get(conn.tgt.process.as_str());
            if let (Some(&src), Some(&tgt)) = (src, tgt) {
                succ[src].push(tgt);
                edges.push((i, src, tgt));
            }
        }
        for list in &mut succ {
            list.sort_unstable();
            list.dedup();
        }
        Links { succ, edges }
    }

    fn cycle_warning(&self, graph: &Graph, component: &[usize]) -> Warning {
        let inside = |v: usize| component.binary_search(&v).is_ok();
        let connections: Vec<String> = self
            .edges
            .iter()
            .filter(|&&(_, src, tgt)| inside(src) && inside(tgt))
            .map(|(i, _, _)| format!("connections[{i}]"))
            .collect();
        // One link per member means the members form one loop and nothing more.
        let links: usize = component
            .iter()
            .map(|&v| self.succ[v].iter().filter(|&&w| inside(w)).count())
            .sum();
        let names: Vec<&str> = component
            .iter()
            .map(|&v| graph.processes[v].name.as_str())
            .collect();
        let cycle = shortest_cycle(&self.succ, component, component[0]);
        let mut path: Vec<&str> = cycle
            .iter()
            .map(|&v| graph.processes[v].name.as_str())
            .collect();
        path.push(names[0]);
        Warning {
            kind: WarningKind::Cycle,
            location: connections.join(", "),
            processes: names.iter().map(|n| n.to_string()).collect(),
            message: cycle_message(&names, &path.join(" -> "), links == names.len()),
        }
    }
}

/// `path` is a cycle through the first of `names`; `simple` when it is the only one.
fn cycle_message(names: &[&str], path: &str, simple: bool) -> String {
    const RISK: &str = "a full inbox on it can deadlock the run";
    match names {
        [_] => format!("process {path} forms a cycle: {RISK}"),
        _ if simple => format!("processes {path} form a cycle: {RISK}"),
        _ => format!(
            "processes {} form cycles ({path} is one): a full inbox on them can deadlock the run",
            names.join(", ")
        ),
    }
}
