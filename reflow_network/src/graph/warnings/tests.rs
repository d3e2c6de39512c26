use serde_json::json;

use crate::graph::{Graph, Warning, WarningKind};

/// A graph of `Forward` processes, declared in the order given, joined `out` to `in` by
/// `links` (a link may repeat).
fn graph(processes: &[&str], links: &[(&str, &str)]) -> Graph {
    // Written out by hand: a `serde_json::Map` would sort the processes by name.
    let processes: Vec<String> = processes
        .iter()
        .map(|p| format!("{}: {}", json!(p), json!({"component": "Forward"})))
        .collect();
    let connections: Vec<serde_json::Value> = links
        .iter()
        .map(|(a, b)| json!({"src": {"process": a, "port": "out"}, "tgt": {"process": b, "port": "in"}}))
        .collect();
    let text = format!(
        "{{\"processes\": {{{}}}, \"connections\": {}}}",
        processes.join(", "),
        json!(connections)
    );
    Graph::from_json_str(&text).unwrap()
}

fn messages(warnings: &[Warning]) -> Vec<String> {
    warnings.iter().map(ToString::to_string).collect()
}

#[test]
fn a_self_loop_with_fan_out_is_a_cycle_of_one() {
    let g = graph(
        &["numbers", "loop", "print"],
        &[("numbers", "loop"), ("loop", "loop"), ("loop", "print")],
    );
    let warnings = g.warnings();
    assert_eq!(
        messages(&warnings),
        ["connections[1]: process loop -> loop forms a cycle: a full inbox on it can deadlock the run"]
    );
    assert_eq!(warnings[0].kind, WarningKind::Cycle);
    assert_eq!(warnings[0].processes, ["loop"]);
}

#[test]
fn a_graph_without_cycles_has_no_warning() {
    let g = graph(
        &["a", "b", "c", "d"],
        &[("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")],
    );
    assert_eq!(g.warnings(), []);
}

#[test]
fn a_loop_is_named_from_its_first_process_in_document_order() {
    // `c` is declared first, so the loop starts there whatever the connection order.
    let g = graph(&["c", "a", "b"], &[("a", "b"), ("b", "c"), ("c", "a")]);
    assert_eq!(
        messages(&g.warnings()),
        [
            "connections[0], connections[1], connections[2]: processes c -> a -> b -> c form a \
          cycle: a full inbox on it can deadlock the run"
        ]
    );
}

#[test]
fn each_component_is_reported_once_in_document_order() {
    let g = graph(
        &["x", "a", "b", "y"],
        &[
            ("a", "b"),
            ("b", "a"),
            ("x", "y"),
            ("y", "x"),
            ("b", "x"),
            ("a", "b"),
        ],
    );
    let warnings = g.warnings();
    let processes: Vec<&[String]> = warnings.iter().map(|w| &w.processes[..]).collect();
    assert_eq!(processes, [&["x", "y"][..], &["a", "b"][..]]);
    // A repeated connection is one more place to break the loop, not another cycle.
    assert_eq!(
        warnings[1].to_string(),
        "connections[0], connections[1], connections[5]: processes a -> b -> a form a cycle: \
         a full inbox on it can deadlock the run"
    );
}

#[test]
fn intertwined_loops_are_one_warning_naming_a_shortest_loop() {
    let g = graph(
        &["a", "b", "c"],
        &[("a", "b"), ("b", "c"), ("c", "a"), ("b", "a")],
    );
    assert_eq!(
        messages(&g.warnings()),
        [
            "connections[0], connections[1], connections[2], connections[3]: processes a, b, c \
          form cycles (a -> b -> a is one): a full inbox on them can deadlock the run"
        ]
    );
}

#[test]
fn connections_to_missing_processes_are_left_to_validation() {
    let g = graph(&["a"], &[("a", "ghost"), ("ghost", "a")]);
    assert_eq!(g.warnings(), []);
}
