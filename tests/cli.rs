//! The `reflow` command as a user runs it: exit codes and output.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

fn reflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reflow"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn run_hello_prints_each_number_and_exits_zero() {
    for graph in ["graphs/hello.json", "graphs/hello.reflow.json"] {
        let out = reflow(&["run", graph]);
        assert!(out.status.success(), "{graph}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "1\n2\n3\n4\n5\n", "{graph}");
    }
}

#[test]
fn run_fanout_prints_every_number_once_per_branch() {
    let out = reflow(&["run", "graphs/fanout.json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut lines: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    lines.sort();
    assert_eq!(lines, ["0", "0", "1", "1", "2", "2"]);
}

#[test]
fn run_names_the_failed_process_and_exits_one() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_reflow"))
        .args(["run", "tests/data/endless.json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first, "0\n");
    drop(stdout); // the reader goes away, as with `reflow run ... | head -1`
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("process `print` failed: cannot write to stdout"),
        "{stderr}"
    );
}

#[test]
fn run_refuses_an_invalid_graph_with_exit_two() {
    let out = reflow(&["run", "tests/data/broken.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown component `Foward`"));
}

#[test]
fn validate_lists_every_problem_with_its_location() {
    let out = reflow(&["validate", "tests/data/broken.json"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    for expected in [
        "5 problems",
        "processes.numbers.metadata: process `numbers` (Range): missing field `end`",
        "processes.pass.component: process `pass` uses unknown component `Foward` (did you mean `Forward`?)",
        "connections[0].src: process `numbers` has no outport `output` (it has: out)",
        "connections[1].tgt: no process named `printer`",
        "connections[2].tgt: process `print` has no inport `input` (it has: in)",
    ] {
        assert!(stderr.contains(expected), "missing {expected:?} in:\n{stderr}");
    }
}

#[test]
fn validate_reports_malformed_json_with_line_and_column() {
    let out = reflow(&["validate", "tests/data/malformed.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("line 5, column 1"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn validate_reports_an_unreadable_file() {
    let out = reflow(&["validate", "tests/data/no-such-graph.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("tests/data/no-such-graph.json"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn validate_summarises_a_good_graph_on_one_line() {
    let out = reflow(&["validate", "graphs/hello.json"]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout),
        "graphs/hello.json: ok (3 processes, 2 connections, 0 initial packets)\n"
    );
}

#[test]
fn components_lists_names_ports_and_descriptions() {
    let out = reflow(&["components"]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    for name in ["Console", "Forward", "Range"] {
        assert!(
            stdout.lines().any(|l| l == name),
            "{name} missing:\n{stdout}"
        );
    }
    assert!(stdout.contains("Emits integers from `start` up to `end`"));
    let json = reflow(&["components", "--json"]);
    let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let range = parsed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Range")
        .unwrap();
    assert_eq!(range["outports"], serde_json::json!(["out"]));
}

#[test]
fn bad_log_level_is_a_clear_error() {
    let out = reflow(&["--log", "loud=???", "components"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("invalid --log value"));
}
