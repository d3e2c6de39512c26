//! Building a network from a graph reports every problem at once; both JSON variants run.
#![allow(clippy::unwrap_used)]

use reflow::{Error, Graph, Network, NetworkConfig, ProblemKind};

#[test]
fn from_graph_reports_every_problem_kind_with_its_location() {
    let graph = Graph::from_json_str(
        r#"{
        "processes": {
            "numbers": {"component": "Range", "metadata": {"start": 0, "end": 3, "step": 0}},
            "pass": {"component": "forwad"},
            "print": {"component": "Console"}
        },
        "connections": [
            {"src": {"process": "numbers", "port": "out"}, "tgt": {"process": "print", "port": "in"}},
            {"src": {"process": "print", "port": "out"}, "tgt": {"process": "nobody", "port": "in"}}
        ],
        "outports": {"result": {"process": "numbers", "port": "result"}},
        "groups": [{"name": "g", "nodes": ["print", "ghost"]}]
    }"#,
    )
    .unwrap();
    let err = Network::from_graph(&graph, reflow::actors::registry(), NetworkConfig::default())
        .unwrap_err();
    let Error::Invalid(problems) = err else {
        panic!("expected Invalid, got {err}");
    };
    let found: Vec<(ProblemKind, String)> = problems
        .iter()
        .map(|p| (p.kind, p.location.clone()))
        .collect();
    assert_eq!(
        found,
        [
            (
                ProblemKind::BadConfig,
                "processes.numbers.metadata".to_string()
            ),
            (
                ProblemKind::UnknownComponent,
                "processes.pass.component".to_string()
            ),
            (ProblemKind::UnknownPort, "connections[1].src".to_string()),
            (
                ProblemKind::MissingProcess,
                "connections[1].tgt".to_string()
            ),
            (ProblemKind::UnknownPort, "outports.result".to_string()),
            (
                ProblemKind::MissingProcess,
                "groups[0].nodes[1]".to_string()
            ),
        ]
    );
    let text = problems.to_string();
    assert!(text.contains("`step` must not be 0"), "{text}");
    assert!(text.contains("did you mean `Forward`?"), "{text}");
}

#[test]
fn duplicate_names_are_refused_by_the_loader() {
    let problems = Graph::from_json_str(
        r#"{"processes": {"a": {"component": "Forward"}, "a": {"component": "Console"}}}"#,
    )
    .unwrap_err();
    assert!(problems.has(ProblemKind::DuplicateProcess));
    assert_eq!(problems.iter().next().unwrap().location, "processes.a");
}

#[test]
fn both_variants_of_hello_are_the_same_graph() {
    let root = env!("CARGO_MANIFEST_DIR");
    let fbp = Graph::load(format!("{root}/graphs/hello.json")).unwrap();
    let reflow_variant = Graph::load(format!("{root}/graphs/hello.reflow.json")).unwrap();
    let ends = |g: &Graph| {
        g.connections
            .iter()
            .map(|c| (c.src.clone(), c.tgt.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(ends(&fbp), ends(&reflow_variant));
    let names = |g: &Graph| {
        g.processes
            .iter()
            .map(|p| (p.name.clone(), p.component.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&fbp), names(&reflow_variant));
}
