//! A rule whose CEL does not compile makes the graph invalid, named by process and
//! expression, through the library and through `reflow validate`.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use reflow::{Graph, ProblemKind};

#[test]
fn validate_names_the_process_and_the_expression_that_does_not_compile() {
    let graph = Graph::from_json_str(
        r#"{
        "processes": {
            "numbers": {"component": "Range", "metadata": {"end": 3}},
            "check": {"component": "Rule", "metadata": {"when": "fact.amount >= "}},
            "route": {"component": "Switch", "metadata": {"cases": [{"port": "a", "when": "facts.x"}]}},
            "print": {"component": "Console"}
        },
        "connections": [
            {"src": {"process": "numbers", "port": "out"}, "tgt": {"process": "check", "port": "in"}},
            {"src": {"process": "check", "port": "matched"}, "tgt": {"process": "route", "port": "in"}},
            {"src": {"process": "route", "port": "a"}, "tgt": {"process": "print", "port": "in"}}
        ]
    }"#,
    )
    .unwrap();
    let problems = graph.validate(&reflow::actors::registry()).unwrap_err();
    let found: Vec<(ProblemKind, &str)> = problems
        .iter()
        .map(|p| (p.kind, p.location.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (ProblemKind::BadConfig, "processes.check.metadata"),
            (ProblemKind::BadConfig, "processes.route.metadata"),
            // A Switch whose config is rejected only declares its fixed outports.
            (ProblemKind::UnknownPort, "connections[2].src"),
        ]
    );
    let check = &problems.0[0].message;
    assert!(
        check.starts_with(
            "process `check` (Rule): `when`: `fact.amount >= ` does not compile: line 1, column 16: Syntax error"
        ),
        "{check}"
    );
    let route = &problems.0[1].message;
    assert_eq!(
        route,
        "process `route` (Switch): `cases[0].when`: `facts.x` does not compile: unknown identifier `facts` (the incoming fact is `fact`)"
    );
}

#[test]
fn a_graph_of_rule_nodes_validates() {
    let root = env!("CARGO_MANIFEST_DIR");
    let graph = Graph::load(format!("{root}/graphs/rules.json")).unwrap();
    graph.validate(&reflow::actors::registry()).unwrap();
}

#[test]
fn the_cli_exits_one_and_prints_the_process_and_the_expression() {
    let out = Command::new(env!("CARGO_BIN_EXE_reflow"))
        .args(["validate", "tests/data/bad_rule.json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 problem"), "{stderr}");
    assert!(
        stderr.contains(
            "processes.check.metadata: process `check` (Rule): `when`: `fact.amount >= ` does not compile: line 1, column 16"
        ),
        "{stderr}"
    );
}
