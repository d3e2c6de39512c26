//! A remote node behaves like a local one (issue 10): each pipeline `source -> NODE -> Console`
//! runs once with NODE local (`reflow run local.json`) and once with NODE exported by a
//! serving `reflow run` and used as `NODE@srv`; both must exit 0 and print the same lines.
//! Components left out: sources (`Range`, `Interval`, `ReadLines`) take no input, sinks
//! (`Console`, `WriteLines`) send nothing back. The processes are run by
//! tests/cli_harness.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::thread;

use serde_json::{json, Value};

use crate::cli_harness::{
    client, finish, local, remote, spawn, Finished, Graph, Scratch, Server, Source,
};

/// Every case, one a line: the node (its name on both sides), its component and config,
/// what feeds each of its inports (a fixture of tests/data/differential/, or a `Range`
/// `[start, end]`), and the outports printed.
fn table() -> Value {
    json!([
        ["forward", "Forward", {}, {"in": [0, 1000]}, ["out"]],
        ["map", "Map", {"expr": "fact.amount * 2"}, {"in": "facts"}, ["out", "error"]],
        ["fields", "Map", {"expr": {"id": "fact.id", "big": "fact.amount > 100"}}, {"in": "facts"}, ["out", "error"]],
        ["filter", "Filter", {"when": "fact.amount >= 10"}, {"in": "facts"}, ["out", "error"]],
        ["rule", "Rule", {"when": "fact.amount >= 100", "emit": {"id": "fact.id", "net": "double(fact.amount) * 0.8"}}, {"in": "facts"}, ["matched", "unmatched", "error"]],
        ["switch", "Switch", {"cases": [{"port": "urgent", "when": "fact.priority >= 8"}, {"port": "normal", "when": "fact.priority >= 3"}], "default": "low"}, {"in": "facts"}, ["urgent", "normal", "low", "error"]],
        ["aggregate", "Aggregate", {"value": "fact.amount"}, {"in": "facts"}, ["out", "error"]],
        ["aggregate_by_key", "Aggregate", {"key": "fact.country", "value": "fact.amount"}, {"in": "facts"}, ["out", "error"]],
        ["aggregate_updates", "Aggregate", {"key": "fact.country", "value": "fact.amount", "mode": "updates"}, {"in": "facts"}, ["out", "error"]],
        ["aggregate_of_nothing", "Aggregate", {}, {"in": [0, 0]}, ["out", "error"]],
        ["dedupe", "Dedupe", {"key": "fact.id"}, {"in": "facts"}, ["out", "duplicate", "error"]],
        ["collect", "Collect", {}, {"in": [0, 50]}, ["out"]],
        ["batch", "Batch", {"size": 40}, {"in": [0, 100]}, ["out"]],
        ["delay", "Delay", {"ms": 20}, {"in": [0, 30]}, ["out"]],
        ["throttle", "Throttle", {"per_second": 500, "burst": 10}, {"in": [0, 50]}, ["out"]],
        ["split", "Split", {}, {"in": "arrays"}, ["out", "error"]],
        ["join", "Join", {"ports": ["left", "right"]}, {"left": [0, 5], "right": [10, 13]}, ["out", "error"]],
    ])
}

/// One row of [`table`].
struct Case {
    node: String,
    component: String,
    config: Value,
    feeds: Vec<(Source, String)>,
    outs: Vec<String>,
}

impl Case {
    fn from_row(row: &Value) -> Self {
        let text = |i: usize| row[i].as_str().unwrap().to_string();
        let feeds = row[3].as_object().unwrap().iter();
        let outs = row[4].as_array().unwrap().iter();
        Case {
            node: text(0),
            component: text(1),
            config: row[2].clone(),
            feeds: feeds
                .map(|(port, feed)| (source(feed), port.clone()))
                .collect(),
            outs: outs.map(|out| out.as_str().unwrap().to_string()).collect(),
        }
    }

    /// The pipeline with the node local (`component`, `config`) or remote.
    fn graph(&self, component: &str, config: Value) -> Graph {
        let feeds: Vec<_> = self
            .feeds
            .iter()
            .map(|(s, p)| (s.clone(), p.as_str()))
            .collect();
        let outs: Vec<&str> = self.outs.iter().map(String::as_str).collect();
        crate::cli_harness::pipeline(&feeds, (&self.node, component, config), &outs)
    }
}

/// A feed of [`table`]: a fixture's name or a range.
fn source(feed: &Value) -> Source {
    match feed {
        Value::String(name) => {
            Source::json_lines(Path::new(&format!("tests/data/differential/{name}.jsonl")))
        }
        range => Source::range(range[0].as_i64().unwrap(), range[1].as_i64().unwrap()),
    }
}

/// Runs `case` locally and through `server`; how the two differ, if they do.
fn compare(scratch: &Scratch, server: &Server, case: &Case) -> Option<String> {
    let node = &case.node;
    let local_graph = case.graph(&case.component, case.config.clone());
    let local = local(&scratch.graph(&format!("{node}-local"), &local_graph));
    if local.succeeded() && local.stdout.is_empty() {
        return Some(format!(
            "{node}: the LOCAL run printed nothing: a useless case"
        ));
    }
    let remote_graph = case.graph(&remote(node), json!({}));
    let path = scratch.graph(&format!("{node}-remote"), &remote_graph);
    let remote = finish(spawn(&mut client(
        server,
        &format!("client-{node}"),
        &path,
        &[],
    )));
    crate::cli_harness::difference(node, &local, &remote)
}

/// Runs every case at once (each in a thread), against one server exporting every node.
#[test]
fn every_component_prints_the_same_behind_a_link_as_locally() {
    let scratch = Scratch::new("differential");
    let cases: Vec<Case> = table()
        .as_array()
        .unwrap()
        .iter()
        .map(Case::from_row)
        .collect();
    let nodes: Vec<_> = cases
        .iter()
        .map(|c| (c.node.as_str(), c.component.as_str(), c.config.clone()))
        .collect();
    let server = Server::start(&scratch, &nodes, &[]);
    let differences: Vec<String> = thread::scope(|s| {
        let runs: Vec<_> = cases
            .iter()
            .map(|case| s.spawn(|| compare(&scratch, &server, case)))
            .collect();
        runs.into_iter()
            .filter_map(|run| run.join().unwrap())
            .collect()
    });
    assert!(
        differences.is_empty(),
        "{} of {} components differ behind a link:\n{}",
        differences.len(),
        cases.len(),
        differences.join("\n")
    );
}

/// A stream that ends without a message, through a remote relay: no value at all, or a
/// local `Filter` that drops every value. The proxy's own timeout is beyond PATIENCE, so a
/// run that waits for one shows as killed after PATIENCE (see [`crate::cli_harness::patient`]).
#[test]
fn an_empty_stream_through_a_remote_relay_ends_as_it_does_locally() {
    let scratch = Scratch::new("empty");
    let server = Server::start(&scratch, &[("relay", "Forward", json!({}))], &[]);
    let (scratch, server) = (&scratch, &server);
    let differences: Vec<String> = thread::scope(|s| {
        let runs = [("no_value", false), ("all_filtered", true)]
            .map(|(name, dropping)| s.spawn(move || empty(scratch, server, name, dropping)));
        runs.into_iter()
            .filter_map(|run| run.join().unwrap())
            .collect()
    });
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// One empty stream, locally and through `relay@srv`; how the two differ, if they do.
fn empty(scratch: &Scratch, server: &Server, name: &str, dropping: bool) -> Option<String> {
    let local_graph = through_relay(dropping, "Forward", json!({}));
    let local = local(&scratch.graph(&format!("{name}-local"), &local_graph));
    let printed = (local.succeeded(), local.stdout.as_str());
    assert_eq!(printed, (true, ""), "{name} locally: {}", local.stderr);
    let remote_graph = through_relay(dropping, &remote("relay"), crate::cli_harness::patient());
    let path = scratch.graph(&format!("{name}-remote"), &remote_graph);
    let remote = finish(spawn(&mut client(server, name, &path, &[])));
    crate::cli_harness::difference(name, &local, &remote)
}

/// `Range(5..5) -> relay -> print`, or with `dropping`, `Range(0..10) -> Filter(false) ->
/// relay -> print`.
fn through_relay(dropping: bool, component: &str, metadata: Value) -> Graph {
    let numbers = if dropping {
        json!({"start": 0, "end": 10})
    } else {
        json!({"start": 5, "end": 5})
    };
    let graph = Graph::default()
        .process("numbers", "Range", numbers)
        .process("relay", component, metadata)
        .process("print", "Console", json!({}))
        .connect(("relay", "out"), ("print", "in"));
    if !dropping {
        return graph.connect(("numbers", "out"), ("relay", "in"));
    }
    graph
        .process("drop", "Filter", json!({"when": "false"}))
        .connect(("numbers", "out"), ("drop", "in"))
        .connect(("drop", "out"), ("relay", "in"))
}

/// `Range(i*1000 .. i*1000+100) -> pace -> node -> print`: each client `i` sends its own
/// values. The `Throttle` (2000 values a second, on both sides alike) makes each client's
/// session last ~50 ms so that the clients' sessions overlap.
fn client_graph(i: i64, (node, component, config): (&str, &str, Value)) -> Graph {
    Graph::default()
        .process(
            "numbers",
            "Range",
            json!({"start": i * 1000, "end": i * 1000 + 100}),
        )
        .process("pace", "Throttle", json!({"per_second": 2000}))
        .process(node, component, config)
        .process("print", "Console", json!({}))
        .connect(("numbers", "out"), ("pace", "in"))
        .connect(("pace", "out"), (node, "in"))
        .connect((node, "out"), ("print", "in"))
}

/// Starts a client for each graph, all at once, then waits for every one.
fn at_once(server: &Server, graphs: &[PathBuf]) -> Vec<Finished> {
    let started: Vec<_> = graphs
        .iter()
        .enumerate()
        .map(|(i, graph)| spawn(&mut client(server, &format!("client{i}"), graph, &[])))
        .collect();
    thread::scope(|s| {
        let runs: Vec<_> = started
            .into_iter()
            .map(|child| s.spawn(|| finish(child)))
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect()
    })
}

/// `clients` concurrent clients of each of two stateful nodes, `Collect` and `Batch(40)`;
/// each client must print what the same graph prints with the node local.
fn concurrent_clients_each_get_their_own_result(clients: i64) {
    let scratch = Scratch::new("concurrent");
    let nodes = [
        ("collect", "Collect", json!({})),
        ("batch", "Batch", json!({"size": 40})),
    ];
    let server = Server::start(&scratch, &nodes, &[]);
    let mut differences = Vec::new();
    for (node, component, config) in &nodes {
        let graph = |i, name: &str, component: &str, config: &Value| {
            scratch.graph(
                &format!("{node}-{i}-{name}"),
                &client_graph(i, (node, component, config.clone())),
            )
        };
        let locals = (0..clients).map(|i| local(&graph(i, "local", component, config)));
        let remote_graphs: Vec<_> = (0..clients)
            .map(|i| graph(i, "remote", &remote(node), &json!({})))
            .collect();
        let remotes = at_once(&server, &remote_graphs);
        for (i, (local, remote)) in locals.zip(&remotes).enumerate() {
            differences.extend(crate::cli_harness::difference(
                &format!("{node} client {i}"),
                &local,
                remote,
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

#[test]
fn two_concurrent_clients_of_a_stateful_node_each_get_their_own_result() {
    concurrent_clients_each_get_their_own_result(2);
}

#[test]
fn ten_concurrent_clients_of_a_stateful_node_each_get_their_own_result() {
    concurrent_clients_each_get_their_own_result(10);
}
