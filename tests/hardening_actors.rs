//! Input limits and numeric edge cases of the ready-made components, through the `reflow`
//! command as a user runs it: a CEL division by zero in `Aggregate`, and `ReadLines` over a
//! file with a line far longer than its `max_line_bytes`.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::common::TempDir;

fn connect(from: &str, out: &str, to: &str, inp: &str) -> Value {
    json!({"src": {"process": from, "port": out}, "tgt": {"process": to, "port": inp}})
}

/// Runs `reflow run graph.json` in `dir` and checks that it succeeds.
fn reflow_run(dir: &TempDir, graph: &Value) {
    dir.write("graph.json", graph.to_string());
    let out = Command::new(env!("CARGO_BIN_EXE_reflow"))
        .args(["run", "graph.json"])
        .current_dir(&dir.0)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
}

/// The JSON lines of a file that `WriteLines` wrote.
fn json_lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A value that divides by zero is reported on `error` with the expression and the value,
/// and left out of the figures, which stay numbers (they were all `null`, with the fact
/// counted, before).
#[test]
fn aggregate_reports_a_division_by_zero_and_keeps_its_figures() {
    let dir = TempDir::new("aggregate");
    dir.write("facts.jsonl", "{\"x\": 2.0}\n{\"x\": 0.0}\n{\"x\": 4.0}\n");
    let graph = json!({
        "processes": {
            "facts": {"component": "ReadLines", "metadata": {"path": "facts.jsonl", "json": true}},
            "stats": {"component": "Aggregate", "metadata": {"value": "10.0 / fact.x"}},
            "save": {"component": "WriteLines", "metadata": {"path": "out.jsonl"}},
            "problems": {"component": "WriteLines", "metadata": {"path": "errors.jsonl"}}
        },
        "connections": [
            connect("facts", "out", "stats", "in"),
            connect("stats", "out", "save", "in"),
            connect("stats", "error", "problems", "in")
        ]
    });
    reflow_run(&dir, &graph);
    assert_eq!(
        json_lines(&dir.0.join("out.jsonl")),
        [json!({"group": null, "count": 2, "sum": 7.5, "min": 2.5, "max": 5.0, "avg": 3.75})]
    );
    assert_eq!(
        json_lines(&dir.0.join("errors.jsonl")),
        [json!({
            "fact": {"x": 0.0},
            "error": "value: `10.0 / fact.x` failed: returned the double inf (infinity and NaN are errors: JSON has no form for them)",
            "process": "stats"
        })]
    );
}

/// A line of 100,000 bytes against a limit of 64: one error record quoting its first 64
/// bytes with the limit and its length, and the lines after it read as usual.
#[test]
fn read_lines_skips_a_line_over_max_line_bytes_and_reads_on() {
    let dir = TempDir::new("read-lines");
    let mut input = b"one\n".to_vec();
    input.extend(vec![b'x'; 100_000]);
    input.extend_from_slice(b"\ntwo\nthree\n");
    dir.write("input.txt", input);
    let graph = json!({
        "processes": {
            "read": {"component": "ReadLines", "metadata": {"path": "input.txt", "max_line_bytes": 64}},
            "save": {"component": "WriteLines", "metadata": {"path": "out.jsonl"}},
            "problems": {"component": "WriteLines", "metadata": {"path": "errors.jsonl"}}
        },
        "connections": [
            connect("read", "out", "save", "in"),
            connect("read", "error", "problems", "in")
        ]
    });
    reflow_run(&dir, &graph);
    assert_eq!(
        json_lines(&dir.0.join("out.jsonl")),
        [json!("one"), json!("two"), json!("three")]
    );
    assert_eq!(
        json_lines(&dir.0.join("errors.jsonl")),
        [json!({
            "line": 2,
            "error": "line of 100000 bytes is longer than `max_line_bytes` (64); skipped (`text` quotes its first 64 of 100000 bytes)",
            "text": "x".repeat(64)
        })]
    );
}

/// With the default limit, a long line that is not JSON is quoted by its first 200 bytes
/// only (the whole line was repeated in the error record before).
#[test]
fn read_lines_quotes_only_the_start_of_a_long_bad_json_line() {
    let dir = TempDir::new("read-lines-json");
    let long = format!("oops {}", "y".repeat(20_000));
    dir.write("input.jsonl", format!("{long}\n{{\"ok\": 1}}\n"));
    let graph = json!({
        "processes": {
            "read": {"component": "ReadLines", "metadata": {"path": "input.jsonl", "json": true}},
            "save": {"component": "WriteLines", "metadata": {"path": "out.jsonl"}},
            "problems": {"component": "WriteLines", "metadata": {"path": "errors.jsonl"}}
        },
        "connections": [
            connect("read", "out", "save", "in"),
            connect("read", "error", "problems", "in")
        ]
    });
    reflow_run(&dir, &graph);
    assert_eq!(json_lines(&dir.0.join("out.jsonl")), [json!({"ok": 1})]);
    let errors = json_lines(&dir.0.join("errors.jsonl"));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["line"], json!(1));
    assert_eq!(errors[0]["text"], json!(long[..200]));
    let reason = errors[0]["error"].as_str().unwrap();
    assert!(
        reason.ends_with(" (`text` quotes its first 200 of 20005 bytes)"),
        "{reason}"
    );
}
