use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use crate::graph::{
    Connection, Export, Graph, Group, Initial, Node, PortRef, ProblemKind, Problems,
};

const FBP: &str = r#"{
    "caseSensitive": false,
    "properties": {"name": "count"},
    "processes": {
        "numbers": {"component": "Range", "metadata": {"start": 1, "end": 4}},
        "pass": {"component": "Forward"},
        "print": {"component": "Console", "metadata": {"x": 10}}
    },
    "connections": [
        {"src": {"process": "numbers", "port": "out"}, "tgt": {"process": "pass", "port": "in"}},
        {"src": {"process": "pass", "port": "out", "index": 2},
         "tgt": {"process": "print", "port": "in"}, "metadata": {"route": 3}},
        {"data": "hello", "tgt": {"process": "print", "port": "in"}}
    ],
    "inports": {"start": {"process": "pass", "port": "in"}},
    "outports": {"result": {"process": "pass", "port": "out", "metadata": {"y": 1}}},
    "groups": [{"name": "main", "nodes": ["numbers", "pass"]}]
}"#;

/// The same graph as [`FBP`], as the Reflow export writes it.
const REFLOW: &str = r#"{
    "caseSensitive": false,
    "properties": {"name": "count"},
    "processes": {
        "numbers": {"id": "numbers", "component": "Range", "metadata": {"start": 1, "end": 4}},
        "pass": {"id": "pass", "component": "Forward", "metadata": null},
        "print": {"id": "print", "component": "Console", "metadata": {"x": 10}}
    },
    "connections": [
        {"from": {"nodeId": "numbers", "portId": "out", "portName": "Out", "index": null,
                  "expose": false, "data": null, "metadata": null, "portType": {"type": "any"}},
         "to": {"nodeId": "pass", "portId": "in", "portName": "In", "expose": false,
                "portType": {"type": "any"}},
         "metadata": null, "data": null},
        {"from": {"nodeId": "pass", "portId": "out", "index": 2},
         "to": {"nodeId": "print", "portId": "in"}, "metadata": {"route": 3}},
        {"to": {"nodeId": "print", "portId": "in"}, "data": "hello"}
    ],
    "inports": {"start": {"nodeId": "pass", "portId": "in", "portName": "in", "expose": true,
                          "metadata": null, "portType": {"type": "any"}}},
    "outports": {"result": {"nodeId": "pass", "portId": "out", "metadata": {"y": 1}}},
    "groups": [{"id": "main", "nodes": ["numbers", "pass"], "metadata": null}],
    "graphDependencies": [],
    "externalConnections": []
}"#;

fn problems(text: &str) -> Problems {
    match Graph::from_json_str(text) {
        Ok(graph) => panic!("expected problems, got {graph:?}"),
        Err(problems) => problems,
    }
}

/// `(kind, location)` of every problem, in order.
fn found(text: &str) -> Vec<(ProblemKind, String)> {
    problems(text)
        .iter()
        .map(|p| (p.kind, p.location.clone()))
        .collect()
}

fn structure(locations: &[&str]) -> Vec<(ProblemKind, String)> {
    locations
        .iter()
        .map(|l| (ProblemKind::Structure, l.to_string()))
        .collect()
}

fn node(name: &str, component: &str, metadata: Value) -> Node {
    Node {
        name: name.into(),
        component: component.into(),
        metadata,
    }
}

fn export(process: &str, port: &str, metadata: Option<Value>) -> Export {
    Export {
        process: process.into(),
        port: port.into(),
        metadata,
    }
}

#[test]
fn fbp_form_loads_every_part() {
    let graph = Graph::from_json_str(FBP).unwrap();
    let expected = Graph {
        case_sensitive: false,
        properties: json!({"name": "count"}).as_object().cloned().unwrap(),
        processes: vec![
            node("numbers", "Range", json!({"start": 1, "end": 4})),
            node("pass", "Forward", Value::Null),
            node("print", "Console", json!({"x": 10})),
        ],
        connections: vec![
            Connection {
                src: PortRef::new("numbers", "out"),
                tgt: PortRef::new("pass", "in"),
                metadata: None,
            },
            Connection {
                src: PortRef {
                    index: Some(2),
                    ..PortRef::new("pass", "out")
                },
                tgt: PortRef::new("print", "in"),
                metadata: Some(json!({"route": 3})),
            },
        ],
        initials: vec![Initial {
            data: json!("hello"),
            tgt: PortRef::new("print", "in"),
            metadata: None,
        }],
        inports: BTreeMap::from([("start".to_string(), export("pass", "in", None))]),
        outports: BTreeMap::from([(
            "result".to_string(),
            export("pass", "out", Some(json!({"y": 1}))),
        )]),
        groups: vec![Group {
            name: "main".into(),
            nodes: vec!["numbers".into(), "pass".into()],
            metadata: None,
        }],
    };
    assert_eq!(graph, expected);
}

#[test]
fn reflow_form_loads_to_the_same_graph() {
    assert_eq!(
        Graph::from_json_str(REFLOW).unwrap(),
        Graph::from_json_str(FBP).unwrap()
    );
}

#[test]
fn both_forms_mix_in_one_document() {
    let text = r#"{
        "processes": {"a": {"component": "Forward"}, "b": {"id": "b", "component": "Console"}},
        "connections": [
            {"src": {"process": "a", "port": "out"}, "tgt": {"process": "b", "port": "in"}},
            {"from": {"nodeId": "a", "portId": "out"}, "to": {"nodeId": "b", "portId": "in"}},
            {"data": 1, "tgt": {"process": "a", "port": "in"}},
            {"data": 2, "to": {"nodeId": "a", "portId": "in"}}
        ],
        "inports": {"x": {"process": "a", "port": "in"}, "y": {"nodeId": "a", "portId": "in"}},
        "groups": [{"name": "g", "nodes": ["a"]}, {"id": "h", "nodes": ["b"]}]
    }"#;
    let graph = Graph::from_json_str(text).unwrap();
    assert_eq!(graph.connections[0], graph.connections[1]);
    let data: Vec<_> = graph.initials.iter().map(|i| i.data.clone()).collect();
    assert_eq!(data, [json!(1), json!(2)]);
    assert!(graph
        .initials
        .iter()
        .all(|i| i.tgt == PortRef::new("a", "in")));
    assert_eq!(graph.inports["x"], graph.inports["y"]);
    let names: Vec<_> = graph.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["g", "h"]);
}

#[test]
fn iip_data_of_any_type_is_kept_and_a_from_makes_a_connection() {
    let text = r#"{"connections": [
        {"data": {"n": [1, "two", null]}, "tgt": {"process": "p", "port": "in"}, "metadata": {"m": 1}},
        {"data": null, "to": {"nodeId": "p", "portId": "in"}},
        {"from": {"nodeId": "q", "portId": "out"}, "to": {"nodeId": "p", "portId": "in"}, "data": 5}
    ]}"#;
    let graph = Graph::from_json_str(text).unwrap();
    assert_eq!(graph.initials.len(), 2);
    assert_eq!(graph.initials[0].data, json!({"n": [1, "two", null]}));
    assert_eq!(graph.initials[0].metadata, Some(json!({"m": 1})));
    assert_eq!(graph.initials[1].data, Value::Null);
    assert_eq!(graph.connections.len(), 1);
    assert_eq!(graph.connections[0].src, PortRef::new("q", "out"));
}

#[test]
fn processes_keep_document_order() {
    let text = r#"{"processes": {"zeta": {"component": "A"}, "alpha": {"component": "B"},
                                 "mid": {"component": "C"}}}"#;
    let graph = Graph::from_json_str(text).unwrap();
    let names: Vec<_> = graph.processes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["zeta", "alpha", "mid"]);
    let again = Graph::from_json_str(&graph.to_json_string()).unwrap();
    assert_eq!(again, graph);
}

#[test]
fn malformed_json_is_one_syntax_problem_with_line_and_column() {
    let problems = problems("{\n  \"processes\": {\n    \"a\": {\"component\": }\n  }\n}");
    assert_eq!(problems.len(), 1);
    let problem = &problems.0[0];
    assert_eq!(problem.kind, ProblemKind::Syntax);
    assert_eq!(problem.location, "line 3, column 24");
    assert_eq!(problem.message, "expected value");
}

#[test]
fn empty_and_truncated_text_are_syntax_problems() {
    for text in ["", "{\"processes\": {", "{} trailing"] {
        let problems = problems(text);
        assert_eq!(problems.len(), 1, "{text:?}");
        assert_eq!(problems.0[0].kind, ProblemKind::Syntax, "{text:?}");
        assert!(problems.0[0].location.starts_with("line "), "{text:?}");
    }
}

/// A graph whose `properties.deep` nests `levels` arrays, so that the file nests
/// `levels + 2` arrays and objects in all; the arrays open on line 3.
fn nested(levels: usize) -> String {
    let deep = format!("{}{}", "[".repeat(levels), "]".repeat(levels));
    format!("{{\n  \"properties\": {{\n    \"deep\": {deep}\n  }}\n}}")
}

#[test]
fn nesting_past_the_parser_limit_says_so_with_the_limit_and_where() {
    use crate::graph::load::MAX_NESTING;
    assert!(Graph::from_json_str(&nested(MAX_NESTING - 2)).is_ok());
    let problems = problems(&nested(MAX_NESTING - 1));
    assert_eq!(problems.len(), 1);
    let problem = &problems.0[0];
    assert_eq!(problem.kind, ProblemKind::Syntax);
    // The first array opens at column 13; the one past the limit is the 126th.
    assert_eq!(problem.location, format!("line 3, column {}", 13 + 125));
    assert_eq!(
        problem.message,
        "the graph nests arrays and objects deeper than the JSON parser's limit of 127 \
         levels (recursion limit exceeded); flatten the deepest value"
    );
}

#[test]
fn a_top_level_that_is_not_an_object_is_one_structure_problem() {
    for text in ["[]", "3", "\"graph\"", "null"] {
        assert_eq!(found(text), structure(&["graph"]), "{text:?}");
    }
}

#[test]
fn an_empty_object_is_an_empty_graph() {
    assert_eq!(Graph::from_json_str("{}").unwrap(), Graph::default());
}

#[test]
fn every_structural_problem_is_reported_at_once() {
    let text = r#"{
        "caseSensitive": "yes",
        "properties": [],
        "processes": {
            "print": {"metadata": {}},
            "count": {"component": 7, "metadata": [1]},
            "bad": "Console",
            "other": {"id": "else", "component": "Forward"}
        },
        "connections": [
            {"src": {"process": "a", "port": "out"}, "tgt": {"process": "b"}},
            {"src": {"process": "a", "port": "out", "index": -1},
             "tgt": {"process": "b", "port": "in", "index": 1.5}},
            {"src": "a.out", "tgt": {"process": "b", "port": 3}, "metadata": "red"},
            {"tgt": {"process": "b", "port": "in"}},
            {"from": {"nodeId": "a"}, "to": {"portId": "in", "index": 4294967296}},
            {"to": {"nodeId": "b", "portId": "in"}},
            42
        ],
        "inports": {"IN": {"port": "in"}, "go": 5},
        "outports": [],
        "groups": [{"nodes": ["a", 1]}, {"name": "g", "nodes": "a"}, {"id": "h"}]
    }"#;
    let expected = structure(&[
        "caseSensitive",
        "properties",
        "processes.print.component",
        "processes.count.component",
        "processes.count.metadata",
        "processes.bad",
        "processes.other.id",
        "connections[0].tgt.port",
        "connections[1].src.index",
        "connections[1].tgt.index",
        "connections[2].metadata",
        "connections[2].src",
        "connections[2].tgt.port",
        "connections[3].src",
        "connections[4].from.portId",
        "connections[4].to.nodeId",
        "connections[4].to.index",
        "connections[5].from",
        "connections[6]",
        "inports.IN.process",
        "inports.go",
        "outports",
        "groups[0].name",
        "groups[0].nodes[1]",
        "groups[1].nodes",
        "groups[2].nodes",
    ]);
    assert_eq!(found(text), expected);
}

#[test]
fn problem_messages_name_the_field_and_what_was_found() {
    let text = r#"{"processes": {"p": {"component": 7}},
                   "connections": [{"src": {"process": "a", "port": "out", "index": -1}}]}"#;
    let messages: Vec<_> = problems(text).iter().map(|p| p.to_string()).collect();
    assert_eq!(
        messages,
        [
            "processes.p.component: `component` must be a string, found a number (7)",
            "connections[0].src.index: `index` must be a whole number from 0 to 4294967295, found a number (-1)",
            "connections[0].tgt: missing `tgt`",
        ]
    );
}

#[test]
fn process_metadata_is_an_object_or_null() {
    let text = r#"{"processes": {"a": {"component": "A"}, "b": {"component": "B", "metadata": null},
                                 "c": {"component": "C", "metadata": {"k": [1, {"z": true}]}}}}"#;
    let graph = Graph::from_json_str(text).unwrap();
    let metadata: Vec<_> = graph.processes.iter().map(|n| n.metadata.clone()).collect();
    assert_eq!(
        metadata,
        [Value::Null, Value::Null, json!({"k": [1, {"z": true}]})]
    );
    for bad in ["1", "\"x\"", "[]", "true"] {
        let text = format!(r#"{{"processes": {{"a": {{"component": "A", "metadata": {bad}}}}}}}"#);
        assert_eq!(found(&text), structure(&["processes.a.metadata"]), "{bad}");
    }
}

#[test]
fn index_is_a_u32() {
    let at = |index: &str| {
        format!(
            r#"{{"connections": [{{"src": {{"process": "a", "port": "o", "index": {index}}},
                                      "tgt": {{"process": "b", "port": "i"}}}}]}}"#
        )
    };
    let graph = Graph::from_json_str(&at("4294967295")).unwrap();
    assert_eq!(graph.connections[0].src.index, Some(u32::MAX));
    assert_eq!(
        Graph::from_json_str(&at("null")).unwrap().connections[0]
            .src
            .index,
        None
    );
    for bad in ["-1", "4294967296", "1.0", "\"1\"", "[]"] {
        assert_eq!(
            found(&at(bad)),
            structure(&["connections[0].src.index"]),
            "{bad}"
        );
    }
}

#[test]
fn repeated_process_names_are_duplicates() {
    let text = r#"{"processes": {"a": {"component": "A"}, "b": {"component": "B"},
                                 "a": {"component": "C"}, "a": {"component": 1}}}"#;
    let problems = problems(text);
    let expected = vec![
        (ProblemKind::DuplicateProcess, "processes.a".to_string()),
        (ProblemKind::DuplicateProcess, "processes.a".to_string()),
    ];
    let got: Vec<_> = problems
        .iter()
        .map(|p| (p.kind, p.location.clone()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(
        problems.0[0].message,
        "process `a` is defined more than once"
    );
}

#[test]
fn process_names_stay_case_sensitive_and_ports_are_lowered() {
    let text = r#"{"processes": {"Print": {"component": "Console"}, "print": {"component": "Console"}},
                   "connections": [{"src": {"process": "Print", "port": "OUT", "index": 1},
                                    "tgt": {"process": "print", "port": "In"}},
                                   {"data": 1, "to": {"nodeId": "Print", "portId": "IN"}}],
                   "inports": {"START": {"process": "Print", "port": "In"}}}"#;
    let graph = Graph::from_json_str(text).unwrap();
    assert!(!graph.case_sensitive);
    assert_eq!(graph.processes.len(), 2);
    let conn = &graph.connections[0];
    assert_eq!(
        (conn.src.process.as_str(), conn.src.port.as_str()),
        ("Print", "out")
    );
    assert_eq!(
        (conn.tgt.process.as_str(), conn.tgt.port.as_str()),
        ("print", "in")
    );
    assert_eq!(graph.initials[0].tgt, PortRef::new("Print", "in"));
    assert_eq!(graph.inports["start"], export("Print", "in", None));
}

#[test]
fn a_case_sensitive_graph_keeps_port_names() {
    let text = r#"{"caseSensitive": true,
                   "connections": [{"src": {"process": "a", "port": "OUT"}, "tgt": {"process": "b", "port": "In"}}],
                   "outports": {"Result": {"process": "b", "port": "Out"}}}"#;
    let graph = Graph::from_json_str(text).unwrap();
    assert!(graph.case_sensitive);
    assert_eq!(graph.connections[0].src.port, "OUT");
    assert_eq!(graph.connections[0].tgt.port, "In");
    assert_eq!(graph.outports["Result"], export("b", "Out", None));
}

#[test]
fn exported_names_that_differ_only_in_case_clash_unless_case_sensitive() {
    let exports =
        r#""inports": {"IN": {"process": "a", "port": "x"}, "in": {"process": "a", "port": "y"}}"#;
    assert_eq!(found(&format!("{{{exports}}}")), structure(&["inports.in"]));
    let graph = Graph::from_json_str(&format!(r#"{{"caseSensitive": true, {exports}}}"#)).unwrap();
    assert_eq!(graph.inports.len(), 2);
}

#[test]
fn load_reads_a_file_and_reports_an_unreadable_one() {
    let dir = std::env::temp_dir().join(format!("reflow-graph-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("count.json");
    std::fs::write(&path, FBP).unwrap();
    assert_eq!(
        Graph::load(&path).unwrap(),
        Graph::from_json_str(FBP).unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();

    let problems = Graph::load(&path).unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems.0[0].kind, ProblemKind::Unreadable);
    assert_eq!(problems.0[0].location, path.display().to_string());
    assert!(!problems.0[0].message.is_empty());
}

#[test]
fn saving_writes_the_fbp_form() {
    let graph = Graph::from_json_str(REFLOW).unwrap();
    let expected = json!({
        "caseSensitive": false,
        "properties": {"name": "count"},
        "inports": {"start": {"process": "pass", "port": "in"}},
        "outports": {"result": {"process": "pass", "port": "out", "metadata": {"y": 1}}},
        "groups": [{"name": "main", "nodes": ["numbers", "pass"]}],
        "processes": {
            "numbers": {"component": "Range", "metadata": {"start": 1, "end": 4}},
            "pass": {"component": "Forward"},
            "print": {"component": "Console", "metadata": {"x": 10}}
        },
        "connections": [
            {"src": {"process": "numbers", "port": "out"}, "tgt": {"process": "pass", "port": "in"}},
            {"src": {"process": "pass", "port": "out", "index": 2},
             "tgt": {"process": "print", "port": "in"}, "metadata": {"route": 3}},
            {"data": "hello", "tgt": {"process": "print", "port": "in"}}
        ]
    });
    assert_eq!(graph.to_json(), expected);
    let text: Value = serde_json::from_str(&graph.to_json_string()).unwrap();
    assert_eq!(text, expected);
}

#[test]
fn saved_text_lists_processes_in_graph_order() {
    let mut graph = Graph::default();
    for name in ["b", "c", "a"] {
        graph.processes.push(node(name, "Forward", Value::Null));
    }
    let text = graph.to_json_string();
    let at = |name: &str| text.find(&format!("\"{name}\": {{")).unwrap();
    assert!(at("b") < at("c") && at("c") < at("a"), "{text}");
    assert_eq!(Graph::from_json_str(&text).unwrap(), graph);
}

// Generated graphs are ones the loader accepts: port names are lower case unless the graph
// is case sensitive, metadata is an object, and numbers are integers (floats may not
// survive a trip through text).

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        "\\PC{0,6}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map("[a-z]{1,5}", json_value(), 0..4)
        .prop_map(|m| m.into_iter().collect())
}

fn metadata() -> impl Strategy<Value = Option<Value>> {
    prop::option::of(json_object().prop_map(Value::Object))
}

fn process_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_ .@-]{0,7}"
}

fn port_name(case_sensitive: bool) -> BoxedStrategy<String> {
    if case_sensitive {
        "[a-zA-Z][a-zA-Z0-9_]{0,5}".boxed()
    } else {
        "[a-z][a-z0-9_]{0,5}".boxed()
    }
}

fn port_ref(case_sensitive: bool) -> impl Strategy<Value = PortRef> {
    let index = prop::option::of(any::<u32>());
    (process_name(), port_name(case_sensitive), index).prop_map(|(process, port, index)| PortRef {
        process,
        port,
        index,
    })
}

fn processes() -> impl Strategy<Value = Vec<Node>> {
    let component = "[A-Z][a-zA-Z]{0,6}(@[a-z]{1,5})?";
    let metadata =
        prop::option::of(json_object()).prop_map(|m| m.map_or(Value::Null, Value::Object));
    let node = (process_name(), component, metadata).prop_map(|(name, component, metadata)| Node {
        name,
        component,
        metadata,
    });
    prop::collection::vec(node, 0..6).prop_map(|nodes| {
        let mut seen = std::collections::HashSet::new();
        nodes
            .into_iter()
            .filter(|n| seen.insert(n.name.clone()))
            .collect()
    })
}

fn exports(case_sensitive: bool) -> impl Strategy<Value = BTreeMap<String, Export>> {
    let export = (process_name(), port_name(case_sensitive), metadata()).prop_map(
        |(process, port, metadata)| Export {
            process,
            port,
            metadata,
        },
    );
    prop::collection::btree_map(port_name(case_sensitive), export, 0..3)
}

fn graph() -> impl Strategy<Value = Graph> {
    any::<bool>().prop_flat_map(|cs| {
        let connection = (port_ref(cs), port_ref(cs), metadata())
            .prop_map(|(src, tgt, metadata)| Connection { src, tgt, metadata });
        let initial =
            (json_value(), port_ref(cs), metadata()).prop_map(|(data, tgt, metadata)| Initial {
                data,
                tgt,
                metadata,
            });
        let group = (
            "\\PC{0,6}",
            prop::collection::vec(process_name(), 0..3),
            metadata(),
        )
            .prop_map(|(name, nodes, metadata)| Group {
                name,
                nodes,
                metadata,
            });
        let parts = (
            json_object(),
            processes(),
            prop::collection::vec(connection, 0..5),
            prop::collection::vec(initial, 0..3),
            (exports(cs), exports(cs)),
            prop::collection::vec(group, 0..3),
        );
        parts.prop_map(
            move |(properties, processes, connections, initials, (inports, outports), groups)| {
                Graph {
                    case_sensitive: cs,
                    properties,
                    processes,
                    connections,
                    initials,
                    inports,
                    outports,
                    groups,
                }
            },
        )
    })
}

proptest! {
    #[test]
    fn save_then_load_gives_the_same_graph(graph in graph()) {
        let text = graph.to_json_string();
        let loaded = Graph::from_json_str(&text);
        prop_assert_eq!(loaded.as_ref(), Ok(&graph), "{}", text);
        let loaded = loaded.unwrap();
        prop_assert_eq!(loaded.to_json_string(), text);
        prop_assert_eq!(loaded.to_json(), graph.to_json());
    }

    #[test]
    fn loading_arbitrary_json_never_panics(value in json_value()) {
        let _ = Graph::from_json_str(&value.to_string());
        let wrapped = json!({"processes": {"p": value.clone()}, "connections": [value.clone()],
                             "inports": {"x": value.clone()}, "groups": [value]});
        let _ = Graph::from_json_str(&wrapped.to_string());
    }
}
