//! Writes a graph in the FBP JSON form, the form [`Graph::from_json_str`] reads back to an
//! equal graph.

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::{Export, Graph, Group, Node, PortRef};

impl Graph {
    /// The graph in the FBP JSON form: `caseSensitive`, `properties`, `inports`, `outports`,
    /// `groups`, `processes`, and `connections` (connections first, then IIPs). `metadata`
    /// and `index` are left out when `None`, a process's `metadata` when it is `Null`.
    ///
    /// A [`Value`] object sorts its keys, so the `processes` object here lists processes by
    /// name; [`Graph::to_json_string`] keeps the order of [`Graph::processes`].
    pub fn to_json(&self) -> Value {
        settle(serde_json::to_value(Fbp(self)))
    }

    /// [`Graph::to_json`] as pretty-printed text, with processes in the order of
    /// [`Graph::processes`]: [`Graph::from_json_str`] reads it back to an equal graph.
    pub fn to_json_string(&self) -> String {
        settle(serde_json::to_string_pretty(&Fbp(self)))
    }
}

/// serde_json fails only on a map key that is not a string or on a value whose `Serialize`
/// fails; nothing written here has either.
fn settle<T>(result: Result<T, serde_json::Error>) -> T {
    match result {
        Ok(value) => value,
        Err(err) => unreachable!("writing a graph as JSON cannot fail: {err}"),
    }
}

/// Serializes the top-level object with its keys in NoFlo's order.
struct Fbp<'a>(&'a Graph);

impl Serialize for Fbp<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let graph = self.0;
        let groups: Vec<Value> = graph.groups.iter().map(group).collect();
        let connections = graph.connections.iter().map(|c| {
            let mut obj = Map::new();
            obj.insert("src".into(), port_ref(&c.src));
            obj.insert("tgt".into(), port_ref(&c.tgt));
            with_metadata(obj, c.metadata.as_ref())
        });
        let initials = graph.initials.iter().map(|iip| {
            let mut obj = Map::new();
            obj.insert("data".into(), iip.data.clone());
            obj.insert("tgt".into(), port_ref(&iip.tgt));
            with_metadata(obj, iip.metadata.as_ref())
        });
        let connections: Vec<Value> = connections.chain(initials).collect();

        let mut map = serializer.serialize_map(Some(7))?;
        map.serialize_entry("caseSensitive", &graph.case_sensitive)?;
        map.serialize_entry("properties", &graph.properties)?;
        map.serialize_entry("inports", &exports(&graph.inports))?;
        map.serialize_entry("outports", &exports(&graph.outports))?;
        map.serialize_entry("groups", &groups)?;
        map.serialize_entry("processes", &Processes(&graph.processes))?;
        map.serialize_entry("connections", &connections)?;
        map.end()
    }
}

/// Writes processes as an object whose keys follow the order of the slice.
struct Processes<'a>(&'a [Node]);

impl Serialize for Processes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for node in self.0 {
            let mut obj = Map::new();
            obj.insert("component".into(), Value::String(node.component.clone()));
            if !node.metadata.is_null() {
                obj.insert("metadata".into(), node.metadata.clone());
            }
            map.serialize_entry(&node.name, &obj)?;
        }
        map.end()
    }
}

fn port_ref(end: &PortRef) -> Value {
    let mut obj = Map::new();
    obj.insert("process".into(), Value::String(end.process.clone()));
    obj.insert("port".into(), Value::String(end.port.clone()));
    if let Some(index) = end.index {
        obj.insert("index".into(), Value::from(index));
    }
    Value::Object(obj)
}

fn exports(exports: &BTreeMap<String, Export>) -> Map<String, Value> {
    let export = |e: &Export| {
        let mut obj = Map::new();
        obj.insert("process".into(), Value::String(e.process.clone()));
        obj.insert("port".into(), Value::String(e.port.clone()));
        with_metadata(obj, e.metadata.as_ref())
    };
    exports
        .iter()
        .map(|(name, e)| (name.clone(), export(e)))
        .collect()
}

fn group(group: &Group) -> Value {
    let mut obj = Map::new();
    obj.insert("name".into(), Value::String(group.name.clone()));
    let nodes = group.nodes.iter().cloned().map(Value::String).collect();
    obj.insert("nodes".into(), Value::Array(nodes));
    with_metadata(obj, group.metadata.as_ref())
}

fn with_metadata(mut obj: Map<String, Value>, metadata: Option<&Value>) -> Value {
    if let Some(metadata) = metadata {
        obj.insert("metadata".into(), metadata.clone());
    }
    Value::Object(obj)
}
