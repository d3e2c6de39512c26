//! Failover without loss: a producer streams numbered messages through three instances of a
//! validator network; one instance is killed with SIGKILL mid-stream. Every number comes
//! back, the duplicates in the output are exactly those reported, and on the `key` policy
//! each key's numbers come back in order. Real `reflow` processes on 127.0.0.1.

use std::collections::{BTreeMap, HashMap};
use std::process::Stdio;

use serde_json::{json, Value};

use crate::cli_harness::{
    finish, patient, reflow, remote, spawn, Graph, Lines, Scratch, Server, TOKEN_VAR,
};

/// Numbers the producer sends, paced so that the kill lands mid-stream.
const NUMBERS: i64 = 100_000;
const PER_SECOND: i64 = 25_000;

/// A serving instance of `srv` whose exported `check` answers `{"n": fact, "by": tag}`.
fn instance(tag: &str) -> (Server, Scratch) {
    let scratch = Scratch::new(&format!("failover-{tag}"));
    let expr = json!({"expr": {"n": "fact", "by": format!("'{tag}'")}});
    let server = Server::start(&scratch, &[("check", "Map", expr)], &[]);
    (server, scratch)
}

/// `Range(0, NUMBERS)` paced into `check@srv` with `route`, replies printed.
fn producer(scratch: &Scratch, route: Value) -> std::path::PathBuf {
    let mut metadata = patient();
    for (key, value) in route.as_object().unwrap() {
        metadata[key] = value.clone();
    }
    let graph = Graph::default()
        .process("numbers", "Range", json!({"start": 0, "end": NUMBERS}))
        .process("pace", "Throttle", json!({"per_second": PER_SECOND}))
        .process("check", &remote("check"), metadata)
        .process("print", "Console", json!({}))
        .connect(("numbers", "out"), ("pace", "in"))
        .connect(("pace", "out"), ("check", "in"))
        .connect(("check", "out"), ("print", "in"));
    scratch.graph("producer", &graph)
}

/// What a run with one of three instances killed gave: the replies `(n, by)` in output
/// order, and the duplicates the producer reported.
fn run_with_a_kill(route: Value) -> (Vec<(i64, String)>, u64) {
    let mut instances: Vec<(Server, Scratch)> = ["a", "b", "c"].map(instance).into();
    let scratch = Scratch::new("failover");
    let graph = producer(&scratch, route);
    let mut cmd = reflow();
    cmd.arg("run").arg(&graph);
    cmd.args(["--network-id", "producer", "--token-env", TOKEN_VAR]);
    for (server, _) in &instances {
        cmd.args(["--connect", &server.addr]);
    }
    let mut child = spawn(cmd.stdout(Stdio::piped()));
    let stdout = Lines::new(child.0.stdout.take().unwrap());
    let mut seen = Vec::new();
    // Mid-stream: `b` has answered a few thousand numbers, most are still to come.
    stdout.wait_keeping("\"n\":5000}", &mut seen);
    instances[1].0.kill();
    seen.extend(stdout.rest());
    let run = finish(child);
    assert!(run.succeeded(), "{}: {}", run.exit(), run.stderr);
    // What went to another instance is not lost, and not reported lost.
    assert!(!run.stderr.contains("messages to peer"), "{}", run.stderr);
    let reported = duplicates_reported(&run.stderr);
    let replies = seen.iter().map(|line| parse(line)).collect();
    (replies, reported)
}

fn parse(line: &str) -> (i64, String) {
    let reply: Value = serde_json::from_str(line).unwrap();
    let by = reply["by"].as_str().unwrap().to_string();
    (reply["n"].as_i64().unwrap(), by)
}

/// The sum of the duplicates of every "sent again" line; panics when there is none (the
/// kill did not land mid-stream).
fn duplicates_reported(stderr: &str) -> u64 {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("duplicated in the output"))
        .collect();
    assert!(!lines.is_empty(), "no failover reported: {stderr}");
    lines
        .iter()
        .map(|line| {
            let (before, _) = line.split_once(" duplicated in the output").unwrap();
            before.rsplit(' ').next().unwrap().parse::<u64>().unwrap()
        })
        .sum()
}

/// Every number at least once; how many times each came back beyond the first.
fn extra_copies(replies: &[(i64, String)]) -> u64 {
    let mut times: BTreeMap<i64, u64> = BTreeMap::new();
    for (n, _) in replies {
        *times.entry(*n).or_default() += 1;
    }
    let missing: Vec<i64> = (0..NUMBERS)
        .filter(|n| !times.contains_key(n))
        .take(10)
        .collect();
    assert!(missing.is_empty(), "lost: {missing:?}");
    assert_eq!(
        times.len() as i64,
        NUMBERS,
        "only the numbers sent came back"
    );
    times.values().map(|t| t - 1).sum()
}

#[test]
fn a_killed_instance_loses_nothing_and_its_duplicates_are_the_ones_reported() {
    let (replies, reported) = run_with_a_kill(json!({}));
    let extra = extra_copies(&replies);
    eprintln!("round robin: {extra} duplicates, {reported} reported");
    assert_eq!(extra, reported);
    let after_kill: Vec<&(i64, String)> = replies.iter().rev().take(1000).collect();
    assert!(
        after_kill.iter().all(|r| r.1 != "b"),
        "the killed instance gets no messages at the end"
    );
}

#[test]
fn on_the_key_policy_every_key_comes_back_in_order_once_duplicates_are_removed() {
    let keys = 1000;
    let route = json!({"route": "key", "key": format!("fact % {keys}")});
    let (replies, reported) = run_with_a_kill(route);
    let extra = extra_copies(&replies);
    eprintln!("key: {extra} duplicates, {reported} reported");
    assert_eq!(extra, reported);
    let mut first_seen = std::collections::HashSet::new();
    let mut last: HashMap<i64, i64> = HashMap::new();
    for (n, _) in &replies {
        if !first_seen.insert(*n) {
            continue;
        }
        let previous = last.insert(n % keys, *n);
        assert!(
            previous < Some(*n),
            "key {}: {n} after {previous:?}",
            n % keys
        );
    }
}

#[test]
fn a_server_restarted_with_the_same_flags_takes_over_its_clients() {
    let scratch = Scratch::new("failover-restart");
    let expr = json!({"expr": {"n": "fact", "by": "'first'"}});
    let mut first = Server::start(&scratch, &[("check", "Map", expr)], &[]);
    let addr = first.addr.clone();
    let graph = producer(&scratch, json!({}));
    let mut cmd = reflow();
    cmd.arg("run").arg(&graph);
    cmd.args([
        "--network-id",
        "producer",
        "--token-env",
        TOKEN_VAR,
        "--connect",
        &addr,
    ]);
    let mut child = spawn(cmd.stdout(Stdio::piped()));
    let stdout = Lines::new(child.0.stdout.take().unwrap());
    let mut seen = Vec::new();
    stdout.wait_keeping("\"n\":5000}", &mut seen);
    first.kill();
    // The same command line again, on the port the first one left: the producer redials it
    // and finds a new instance of `srv` there.
    let restarted = Scratch::new("failover-restarted");
    let expr = json!({"expr": {"n": "fact", "by": "'second'"}});
    let _second = Server::start_at(&addr, &restarted, &[("check", "Map", expr)], &[]);
    seen.extend(stdout.rest());
    let run = finish(child);
    assert!(run.succeeded(), "{}: {}", run.exit(), run.stderr);
    assert!(!run.stderr.contains("messages to peer"), "{}", run.stderr);
    let replies: Vec<(i64, String)> = seen.iter().map(|line| parse(line)).collect();
    let extra = extra_copies(&replies);
    assert_eq!(extra, duplicates_reported(&run.stderr));
    assert!(
        replies.iter().any(|r| r.1 == "second"),
        "the restarted server took over"
    );
}
