//! Reads a graph from FBP JSON or the Reflow export variant, reporting every problem with its
//! location instead of stopping at the first.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Connection, Export, Graph, Group, Initial, Node, PortRef, ProblemKind, Problems};

type Object = Map<String, Value>;

impl Graph {
    /// Reads a graph from JSON text in the FBP form (`src`/`tgt`, `process`/`port`) or the
    /// Reflow export variant (`from`/`to`, `nodeId`/`portId`); the two may be mixed item by
    /// item. Processes keep their document order.
    ///
    /// Malformed JSON gives one [`ProblemKind::Syntax`] problem located at `line L, column C`.
    /// Otherwise every missing or wrongly typed field ([`ProblemKind::Structure`]) and every
    /// repeated process name ([`ProblemKind::DuplicateProcess`]) is reported at once.
    pub fn from_json_str(text: &str) -> Result<Graph, Problems> {
        match Graph::from_json_str_partial(text) {
            (Some(graph), problems) => problems.into_result(graph),
            (None, problems) => Err(problems),
        }
    }

    /// Reads what can be read: the graph without its malformed items, beside every problem
    /// found. `None` when the text is not JSON at all. Tools that report every problem at
    /// once (`reflow validate`) validate the partial graph too.
    pub fn from_json_str_partial(text: &str) -> (Option<Graph>, Problems) {
        let doc: Value = match serde_json::from_str(text) {
            Ok(doc) => doc,
            Err(err) => return (None, syntax(&err)),
        };
        let mut reader = Reader::default();
        let graph = reader.graph(&doc, ordered_processes(text));
        (Some(graph), reader.problems)
    }

    /// Reads a graph file with [`Graph::from_json_str`]. A file that cannot be read gives one
    /// [`ProblemKind::Unreadable`] problem located at the path.
    pub fn load(path: impl AsRef<Path>) -> Result<Graph, Problems> {
        match Graph::load_partial(path) {
            (Some(graph), problems) => problems.into_result(graph),
            (None, problems) => Err(problems),
        }
    }

    /// Reads a graph file with [`Graph::from_json_str_partial`].
    pub fn load_partial(path: impl AsRef<Path>) -> (Option<Graph>, Problems) {
        let path = path.as_ref();
        match std::fs::read_to_string(path) {
            Ok(text) => Graph::from_json_str_partial(&text),
            Err(err) => {
                let mut problems = Problems::default();
                problems.push(
                    ProblemKind::Unreadable,
                    path.display().to_string(),
                    err.to_string(),
                );
                (None, problems)
            }
        }
    }
}

/// How deeply arrays and objects may nest in a graph file: serde_json's parser refuses the
/// next level (its recursion limit, which keeps a hostile file from overflowing the stack).
pub(crate) const MAX_NESTING: usize = 127;

fn syntax(err: &serde_json::Error) -> Problems {
    let full = err.to_string();
    let place = format!(" at line {} column {}", err.line(), err.column());
    let mut message = full.strip_suffix(&place).unwrap_or(&full).to_string();
    // serde_json names no more than its own limit; say what it means for a graph file.
    if message == "recursion limit exceeded" {
        message = format!(
            "the graph nests arrays and objects deeper than the JSON parser's limit of \
             {MAX_NESTING} levels (recursion limit exceeded); flatten the deepest value"
        );
    }
    let mut problems = Problems::default();
    let location = format!("line {}, column {}", err.line(), err.column());
    problems.push(ProblemKind::Syntax, location, message);
    problems
}

/// The entries of the top-level `processes` object in document order, repeated names
/// included (a `Value` keeps only the last of repeated keys). `None` when there is no such
/// object; the `Value` pass reports why.
fn ordered_processes(text: &str) -> Option<Vec<(String, Value)>> {
    serde_json::from_str::<TopLevel>(text).ok()?.0
}

struct TopLevel(Option<Vec<(String, Value)>>);

impl<'de> Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TopLevelVisitor)
    }
}

struct TopLevelVisitor;

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a graph object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
        let mut processes = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "processes" {
                processes = Some(map.next_value::<Entries>()?.0);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(TopLevel(processes))
    }
}

struct Entries(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EntriesVisitor)
    }
}

struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Entries;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, Value>()? {
            entries.push(entry);
        }
        Ok(Entries(entries))
    }
}

/// `obj[key]` when present and not `null`: optional fields may be written as `null`, as the
/// Reflow export does.
fn optional<'v>(obj: &'v Object, key: &str) -> Option<&'v Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => format!("a string ({s:?})"),
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

enum Item {
    Connection(Connection),
    Initial(Initial),
}

/// Walks the parsed document, building the graph and collecting problems.
#[derive(Default)]
struct Reader {
    problems: Problems,
    case_sensitive: bool,
}

impl Reader {
    fn graph(&mut self, doc: &Value, ordered: Option<Vec<(String, Value)>>) -> Graph {
        let Some(top) = self.object(doc, "graph", "the graph") else {
            return Graph::default();
        };
        self.case_sensitive = match optional(top, "caseSensitive") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                self.wrong("caseSensitive", "`caseSensitive`", "a boolean", other);
                false
            }
        };
        let properties = self.optional_object(top, "properties", "properties");
        let processes = self.processes(top, ordered);
        let (connections, initials) = self.connections(optional(top, "connections"));
        Graph {
            case_sensitive: self.case_sensitive,
            properties: properties.cloned().unwrap_or_default(),
            processes,
            connections,
            initials,
            inports: self.exports(top, "inports"),
            outports: self.exports(top, "outports"),
            groups: self.groups(optional(top, "groups")),
        }
    }

    fn processes(&mut self, top: &Object, ordered: Option<Vec<(String, Value)>>) -> Vec<Node> {
        let Some(map) = self.optional_object(top, "processes", "processes") else {
            return Vec::new();
        };
        let entries = ordered.unwrap_or_else(|| map.clone().into_iter().collect());
        let mut seen = HashSet::new();
        let mut nodes = Vec::with_capacity(entries.len());
        for (name, value) in entries {
            let at = format!("processes.{name}");
            if !seen.insert(name.clone()) {
                let message = format!("process `{name}` is defined more than once");
                self.problems
                    .push(ProblemKind::DuplicateProcess, at, message);
                continue;
            }
            nodes.extend(self.node(name, &value, &at));
        }
        nodes
    }

    fn node(&mut self, name: String, value: &Value, at: &str) -> Option<Node> {
        let obj = self.object(value, at, &format!("process `{name}`"))?;
        match optional(obj, "id") {
            None => {}
            Some(Value::String(id)) if *id == name => {}
            Some(Value::String(id)) => self.structure(
                &format!("{at}.id"),
                format!("`id` is `{id}` but the process is listed as `{name}`"),
            ),
            Some(other) => self.wrong(&format!("{at}.id"), "`id`", "a string", other),
        }
        let component = self.string(obj, "component", at);
        let metadata = self.metadata(obj, at).unwrap_or(Value::Null);
        Some(Node {
            name,
            component: component?,
            metadata,
        })
    }

    fn connections(&mut self, value: Option<&Value>) -> (Vec<Connection>, Vec<Initial>) {
        let (mut connections, mut initials) = (Vec::new(), Vec::new());
        for (i, item) in self.array(value, "connections").iter().enumerate() {
            match self.connection(item, &format!("connections[{i}]")) {
                Some(Item::Connection(connection)) => connections.push(connection),
                Some(Item::Initial(initial)) => initials.push(initial),
                None => {}
            }
        }
        (connections, initials)
    }

    /// A connection, or an IIP when there is `data` and no source.
    fn connection(&mut self, item: &Value, at: &str) -> Option<Item> {
        let obj = self.object(item, at, "a connection")?;
        let reflow = !obj.contains_key("src")
            && !obj.contains_key("tgt")
            && (obj.contains_key("from") || obj.contains_key("to"));
        let (src_key, tgt_key) = if reflow {
            ("from", "to")
        } else {
            ("src", "tgt")
        };
        let metadata = self.metadata(obj, at);
        if let (None, Some(data)) = (optional(obj, src_key), obj.get("data")) {
            let tgt = self.endpoint(obj, tgt_key, at, reflow)?;
            let data = data.clone();
            return Some(Item::Initial(Initial {
                data,
                tgt,
                metadata,
            }));
        }
        let src = if obj.contains_key(src_key) {
            self.endpoint(obj, src_key, at, reflow)
        } else {
            let message = format!("missing `{src_key}` (an IIP has `data` instead)");
            self.structure(&format!("{at}.{src_key}"), message);
            None
        };
        let tgt = self.endpoint(obj, tgt_key, at, reflow);
        Some(Item::Connection(Connection {
            src: src?,
            tgt: tgt?,
            metadata,
        }))
    }

    fn endpoint(&mut self, obj: &Object, key: &str, at: &str, reflow: bool) -> Option<PortRef> {
        let at = format!("{at}.{key}");
        let Some(value) = obj.get(key) else {
            self.structure(&at, format!("missing `{key}`"));
            return None;
        };
        let end = self.object(value, &at, &format!("`{key}`"))?;
        let (process, port) = self.process_port(end, &at, reflow);
        let index = self.index(end, &at);
        Some(PortRef {
            process: process?,
            port: port?,
            index,
        })
    }

    /// The process and port of an endpoint or export, named `process`/`port` in the FBP form
    /// and `nodeId`/`portId` in the Reflow form.
    fn process_port(
        &mut self,
        obj: &Object,
        at: &str,
        reflow: bool,
    ) -> (Option<String>, Option<String>) {
        let fbp = obj.contains_key("process") || obj.contains_key("port");
        let reflow = !fbp && (reflow || obj.contains_key("nodeId") || obj.contains_key("portId"));
        let (process_key, port_key) = if reflow {
            ("nodeId", "portId")
        } else {
            ("process", "port")
        };
        let process = self.string(obj, process_key, at);
        let port = self.string(obj, port_key, at).map(|p| self.port_name(p));
        (process, port)
    }

    fn index(&mut self, obj: &Object, at: &str) -> Option<u32> {
        let value = optional(obj, "index")?;
        let index = value.as_u64().and_then(|i| u32::try_from(i).ok());
        if index.is_none() {
            let expected = format!("a whole number from 0 to {}", u32::MAX);
            self.wrong(&format!("{at}.index"), "`index`", &expected, value);
        }
        index
    }

    fn exports(&mut self, top: &Object, key: &str) -> BTreeMap<String, Export> {
        let mut exports = BTreeMap::new();
        let Some(map) = self.optional_object(top, key, key) else {
            return exports;
        };
        let mut seen = HashSet::new();
        for (name, value) in map {
            let at = format!("{key}.{name}");
            let public = self.port_name(name.clone());
            if !seen.insert(public.clone()) {
                let message =
                    format!("`{name}` is the same port as `{public}` when caseSensitive is false");
                self.structure(&at, message);
                continue;
            }
            let Some(obj) = self.object(value, &at, &format!("{key} `{name}`")) else {
                continue;
            };
            let (process, port) = self.process_port(obj, &at, false);
            let metadata = self.metadata(obj, &at);
            if let (Some(process), Some(port)) = (process, port) {
                exports.insert(
                    public,
                    Export {
                        process,
                        port,
                        metadata,
                    },
                );
            }
        }
        exports
    }

    fn groups(&mut self, value: Option<&Value>) -> Vec<Group> {
        let mut groups = Vec::new();
        for (i, item) in self.array(value, "groups").iter().enumerate() {
            let at = format!("groups[{i}]");
            let Some(obj) = self.object(item, &at, "a group") else {
                continue;
            };
            let use_id = !obj.contains_key("name") && obj.contains_key("id");
            let name = self.string(obj, if use_id { "id" } else { "name" }, &at);
            let nodes = self.group_nodes(obj, &at);
            let metadata = self.metadata(obj, &at);
            if let (Some(name), Some(nodes)) = (name, nodes) {
                groups.push(Group {
                    name,
                    nodes,
                    metadata,
                });
            }
        }
        groups
    }

    fn group_nodes(&mut self, obj: &Object, at: &str) -> Option<Vec<String>> {
        let at = format!("{at}.nodes");
        let Some(value) = obj.get("nodes") else {
            self.structure(&at, "missing `nodes`".to_string());
            return None;
        };
        let Value::Array(items) = value else {
            self.wrong(&at, "`nodes`", "an array of process names", value);
            return None;
        };
        let mut nodes = Vec::with_capacity(items.len());
        for (j, item) in items.iter().enumerate() {
            match item {
                Value::String(name) => nodes.push(name.clone()),
                other => self.wrong(
                    &format!("{at}[{j}]"),
                    "a group member",
                    "a process name (a string)",
                    other,
                ),
            }
        }
        (nodes.len() == items.len()).then_some(nodes)
    }

    /// `metadata` of `obj`: an object, or `None` when absent or `null`.
    fn metadata(&mut self, obj: &Object, at: &str) -> Option<Value> {
        match optional(obj, "metadata")? {
            meta @ Value::Object(_) => Some(meta.clone()),
            other => {
                self.wrong(&format!("{at}.metadata"), "`metadata`", "an object", other);
                None
            }
        }
    }

    fn string(&mut self, obj: &Object, key: &str, at: &str) -> Option<String> {
        let at = format!("{at}.{key}");
        match obj.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.wrong(&at, &format!("`{key}`"), "a string", other);
                None
            }
            None => {
                self.structure(&at, format!("missing `{key}`"));
                None
            }
        }
    }

    fn optional_object<'v>(&mut self, obj: &'v Object, key: &str, at: &str) -> Option<&'v Object> {
        self.object(optional(obj, key)?, at, &format!("`{key}`"))
    }

    fn object<'v>(&mut self, value: &'v Value, at: &str, what: &str) -> Option<&'v Object> {
        let obj = value.as_object();
        if obj.is_none() {
            self.wrong(at, what, "an object", value);
        }
        obj
    }

    fn array<'v>(&mut self, value: Option<&'v Value>, at: &str) -> &'v [Value] {
        match value {
            None => &[],
            Some(Value::Array(items)) => items,
            Some(other) => {
                self.wrong(at, &format!("`{at}`"), "an array", other);
                &[]
            }
        }
    }

    /// Port names are compared in lower case unless the graph is case sensitive (NoFlo).
    fn port_name(&self, name: String) -> String {
        if self.case_sensitive {
            name
        } else {
            name.to_lowercase()
        }
    }

    fn wrong(&mut self, at: &str, what: &str, expected: &str, found: &Value) {
        self.structure(
            at,
            format!("{what} must be {expected}, found {}", describe(found)),
        );
    }

    fn structure(&mut self, at: &str, message: String) {
        self.problems.push(ProblemKind::Structure, at, message);
    }
}
