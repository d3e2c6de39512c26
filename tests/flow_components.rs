//! The flow components in whole graphs: files in and out, dynamic ports from the graph's
//! metadata, and end of stream reaching every process so that a run completes.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use reflow::{Graph, Network, NetworkConfig};
use serde_json::json;

use crate::common::TempDir;

fn connect(from: &str, out: &str, to: &str, inp: &str) -> serde_json::Value {
    json!({"src": {"process": from, "port": out}, "tgt": {"process": to, "port": inp}})
}

async fn run(graph: serde_json::Value) -> reflow::Report {
    let graph = Graph::from_json_str(&graph.to_string()).unwrap();
    let registry = reflow::actors::registry();
    let net = Network::from_graph(&graph, registry, NetworkConfig::default()).unwrap();
    net.start().unwrap().wait().await
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn joins_two_files_into_one() {
    let dir = TempDir::new("flow-join");
    let names = dir.write("names.txt", "ada\ngrace\nlinus\n");
    let ages = dir.write("ages.jsonl", "36\n\n{oops\n45\n");
    let (out, errors) = (dir.0.join("people.jsonl"), dir.0.join("errors.jsonl"));
    let graph = json!({
        "processes": {
            "names": {"component": "ReadLines", "metadata": {"path": names, "x": 1}},
            "ages": {"component": "ReadLines", "metadata": {"path": ages, "json": true}},
            "pair": {"component": "Join", "metadata": {"ports": ["name", "age"]}},
            "save": {"component": "WriteLines", "metadata": {"path": out, "append": false}},
            "problems": {"component": "WriteLines", "metadata": {"path": errors}}
        },
        "connections": [
            connect("names", "out", "pair", "name"),
            connect("ages", "out", "pair", "age"),
            connect("ages", "error", "problems", "in"),
            connect("pair", "error", "problems", "in"),
            connect("pair", "out", "save", "in")
        ]
    });
    let report = run(graph).await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(report.finished.len(), 5);
    assert_eq!(
        lines(&out),
        [
            json!({"name": "ada", "age": 36}),
            json!({"name": "grace", "age": 45})
        ]
    );
    let problems = lines(&errors);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems.contains(&json!({
        "error": "unpaired at end of stream", "port": "name", "value": "linus"
    })));
    assert!(problems
        .iter()
        .any(|p| p["line"] == json!(3) && p["text"] == json!("{oops")));
}

#[tokio::test]
async fn splits_collects_and_throttles_to_the_end() {
    let dir = TempDir::new("flow-split");
    let input = dir.write("arrays.jsonl", "[1, 2]\n[]\n[3]\n");
    let out = dir.0.join("all.jsonl");
    let graph = json!({
        "processes": {
            "read": {"component": "ReadLines", "metadata": {"path": input, "json": true}},
            "items": {"component": "Split"},
            "pace": {"component": "Throttle", "metadata": {"per_second": 1000, "burst": 10}},
            "all": {"component": "Collect"},
            "save": {"component": "WriteLines", "metadata": {"path": out, "append": false}}
        },
        "connections": [
            connect("read", "out", "items", "in"),
            connect("items", "out", "pace", "in"),
            connect("pace", "out", "all", "in"),
            connect("all", "out", "save", "in")
        ]
    });
    let report = run(graph).await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(lines(&out), [json!([1, 2, 3])]);
}

#[test]
fn reflow_run_completes_a_timed_pipeline() {
    let out = Command::new(env!("CARGO_BIN_EXE_reflow"))
        .args(["run", "graphs/batches.json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "[0,1,2]\n[3,4,5]\n[6]\n"
    );
}
