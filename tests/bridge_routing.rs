//! One network, several instances: a graph's `check@srv` spreads its messages over every
//! instance of `srv` that exports `check`, by the `route` policy of its metadata. Real
//! `reflow` processes on 127.0.0.1; each instance tags its replies with its own name, so
//! the client's output shows where every message went.

use std::collections::{BTreeMap, HashMap};
use std::process::Stdio;

use serde_json::{json, Value};

use crate::cli_harness::{
    finish, http_get, listening, patient, pipeline, reflow, registry, remote, spawn, Finished,
    Graph, Lines, Scratch, Server, Source, TOKEN_VAR,
};

/// A serving instance of `srv` whose exported `check` answers `{"n": fact, "by": tag}`.
fn instance(tag: &str, flags: &[&str]) -> (Server, Scratch) {
    let scratch = Scratch::new(&format!("route-{tag}"));
    let expr = json!({"expr": {"n": "fact", "by": format!("'{tag}'")}});
    let server = Server::start(&scratch, &[("check", "Map", expr)], flags);
    (server, scratch)
}

/// `Range(0, n)` (through `extra` stages, if any) into `check@srv` with `route`, replies
/// printed.
fn client_graph(scratch: &Scratch, n: i64, route: Value) -> std::path::PathBuf {
    let mut metadata = patient();
    for (key, value) in route.as_object().unwrap() {
        metadata[key] = value.clone();
    }
    let graph = pipeline(
        &[(Source::range(0, n), "in")],
        ("check", &remote("check"), metadata),
        &["out"],
    );
    scratch.graph("client", &graph)
}

/// `reflow run graph` linked to every address.
fn client(graph: &std::path::Path, addrs: &[&str]) -> std::process::Command {
    let mut cmd = reflow();
    cmd.arg("run").arg(graph);
    cmd.args(["--network-id", "client", "--token-env", TOKEN_VAR]);
    for addr in addrs {
        cmd.args(["--connect", addr]);
    }
    cmd
}

/// The replies of a finished client: `(n, by)`, in output order.
fn replies(run: &Finished) -> Vec<(i64, String)> {
    assert!(run.succeeded(), "{}: {}", run.exit(), run.stderr);
    run.stdout.lines().map(parse).collect()
}

fn parse(line: &str) -> (i64, String) {
    let reply: Value = serde_json::from_str(line).unwrap();
    let by = reply["by"].as_str().unwrap().to_string();
    (reply["n"].as_i64().unwrap(), by)
}

fn counts(replies: &[(i64, String)]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for (_, by) in replies {
        *counts.entry(by.clone()).or_default() += 1;
    }
    counts
}

/// Every number of `0..n` exactly once.
fn assert_each_once(replies: &[(i64, String)], n: i64) {
    let mut seen: Vec<i64> = replies.iter().map(|r| r.0).collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..n).collect::<Vec<_>>(), "each number once");
}

#[test]
fn round_robin_gives_three_instances_equal_shares_and_every_reply_comes_back() {
    let (a, _sa) = instance("a", &[]);
    let (b, _sb) = instance("b", &[]);
    let (c, _sc) = instance("c", &[]);
    let scratch = Scratch::new("route-rr");
    let n = 3000;
    let graph = client_graph(&scratch, n, json!({}));
    let run = finish(spawn(&mut client(&graph, &[&a.addr, &b.addr, &c.addr])));
    let replies = replies(&run);
    assert_each_once(&replies, n);
    let counts = counts(&replies);
    assert_eq!(counts.len(), 3, "{counts:?}");
    for (by, count) in &counts {
        let share = *count as f64 / n as f64;
        assert!(
            (share - 1.0 / 3.0).abs() < 0.1 / 3.0,
            "{by}: {count} of {n}"
        );
    }
}

#[test]
fn broadcast_sends_every_message_to_every_instance() {
    let (a, _sa) = instance("a", &[]);
    let (b, _sb) = instance("b", &[]);
    let scratch = Scratch::new("route-broadcast");
    let n = 500;
    let graph = client_graph(&scratch, n, json!({"route": "broadcast"}));
    let replies = replies(&finish(spawn(&mut client(&graph, &[&a.addr, &b.addr]))));
    for tag in ["a", "b"] {
        let mine: Vec<(i64, String)> = replies.iter().filter(|r| r.1 == tag).cloned().collect();
        assert_each_once(&mine, n);
    }
}

#[test]
fn least_loaded_uses_every_instance_and_loses_nothing() {
    let (a, _sa) = instance("a", &[]);
    let (b, _sb) = instance("b", &[]);
    let scratch = Scratch::new("route-least");
    let n = 2000;
    let graph = client_graph(&scratch, n, json!({"route": "least_loaded"}));
    let replies = replies(&finish(spawn(&mut client(&graph, &[&a.addr, &b.addr]))));
    assert_each_once(&replies, n);
    assert_eq!(counts(&replies).len(), 2, "both instances took messages");
}

/// The instance that got each key (`n % keys`), checking that a key never went to two and
/// that each key's numbers came out in order.
fn owners(replies: &[(i64, String)], keys: i64) -> HashMap<i64, String> {
    let mut owner: HashMap<i64, String> = HashMap::new();
    let mut last: HashMap<i64, i64> = HashMap::new();
    for (n, by) in replies {
        let key = n % keys;
        let first = owner.entry(key).or_insert_with(|| by.clone());
        assert_eq!(first, by, "key {key} went to two instances");
        let previous = last.insert(key, *n);
        assert!(previous < Some(*n), "key {key}: {n} after {previous:?}");
    }
    owner
}

#[test]
fn a_key_stays_on_one_instance_and_about_a_third_move_when_one_of_three_leaves() {
    let (a, _sa) = instance("a", &[]);
    let (b, _sb) = instance("b", &[]);
    let (c, _sc) = instance("c", &[]);
    let scratch = Scratch::new("route-key");
    let (n, keys) = (6000, 600);
    let route = json!({"route": "key", "key": format!("fact % {keys}")});
    let graph = client_graph(&scratch, n, route);
    let before = replies(&finish(spawn(&mut client(
        &graph,
        &[&a.addr, &b.addr, &c.addr],
    ))));
    assert_each_once(&before, n);
    let before = owners(&before, keys);
    drop(b);
    let after = replies(&finish(spawn(&mut client(&graph, &[&a.addr, &c.addr]))));
    assert_each_once(&after, n);
    let after = owners(&after, keys);
    let moved: Vec<i64> = (0..keys).filter(|k| before[k] != after[k]).collect();
    for k in &moved {
        assert_eq!(before[k], "b", "key {k} moved though its instance stayed");
    }
    let fraction = moved.len() as f64 / keys as f64;
    eprintln!("keys moved when one of three left: {fraction:.3}");
    assert!((0.25..0.42).contains(&fraction), "{fraction}");
}

#[test]
fn a_bad_route_is_a_configuration_error_naming_the_process() {
    let (a, _sa) = instance("a", &[]);
    let scratch = Scratch::new("route-bad");
    let graph = client_graph(&scratch, 1, json!({"route": "random"}));
    let run = finish(spawn(&mut client(&graph, &[&a.addr])));
    assert!(!run.succeeded());
    assert!(run.stderr.contains("`check`"), "{}", run.stderr);
    assert!(run.stderr.contains("`route` must be"), "{}", run.stderr);
}

#[test]
fn a_fourth_instance_found_through_the_registry_mid_stream_takes_traffic() {
    let (_registry, url) = registry();
    let first: Vec<(Server, Scratch)> = ["a", "b", "c"]
        .iter()
        .map(|tag| instance(tag, &["--discovery", &url]))
        .collect();
    let scratch = Scratch::new("route-join");
    let n = 2000;
    let graph = Graph::default()
        .process("numbers", "Range", json!({"start": 0, "end": n}))
        .process("pace", "Throttle", json!({"per_second": 200}))
        .process("check", &remote("check"), patient())
        .process("print", "Console", json!({}))
        .connect(("numbers", "out"), ("pace", "in"))
        .connect(("pace", "out"), ("check", "in"))
        .connect(("check", "out"), ("print", "in"));
    let graph = scratch.graph("client", &graph);
    let mut cmd = client(&graph, &[]);
    // The client lists the registry every second: it finds the new instance while its
    // stream of 10 s still runs.
    cmd.args(["--discovery", &url, "--discovery-interval", "1"]);
    let mut child = spawn(cmd.stdout(Stdio::piped()));
    let stdout = Lines::new(child.0.stdout.take().unwrap());
    let mut seen = Vec::new();
    stdout.wait_keeping("\"by\":\"a\"", &mut seen);
    let (_d, _sd) = instance("d", &["--discovery", &url]);
    stdout.wait_keeping("\"by\":\"d\"", &mut seen);
    seen.extend(stdout.rest());
    let run = finish(child);
    assert!(run.succeeded(), "{}: {}", run.exit(), run.stderr);
    let replies: Vec<(i64, String)> = seen.iter().map(|l| parse(l)).collect();
    assert_each_once(&replies, n);
    let counts = counts(&replies);
    eprintln!("shares with an instance joining mid-stream: {counts:?}");
    assert_eq!(counts.len(), 4, "the three and the fourth: {counts:?}");
    drop(first);
}

#[test]
fn a_stalled_instance_opens_its_breaker_gets_probed_and_closes_when_it_recovers() {
    let (a, _sa) = instance("a", &[]);
    let (b, _sb) = instance("b", &[]);
    let scratch = Scratch::new("route-breaker");
    let n = 30_000;
    let metadata = json!({
        "failure_mode": "skip", "timeout_ms": 100,
        "breaker_failures": 2, "breaker_cooldown_ms": 200,
    });
    let graph = Graph::default()
        .process("numbers", "Range", json!({"start": 0, "end": n}))
        .process("pace", "Throttle", json!({"per_second": 5000}))
        .process("check", &remote("check"), metadata)
        .process("print", "Console", json!({}))
        .connect(("numbers", "out"), ("pace", "in"))
        .connect(("pace", "out"), ("check", "in"))
        .connect(("check", "out"), ("print", "in"));
    let graph = scratch.graph("client", &graph);
    let mut cmd = client(&graph, &[&a.addr, &b.addr]);
    let mut child = spawn(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()));
    let stdout = Lines::new(child.0.stdout.take().unwrap());
    let stderr = Lines::new(child.0.stderr.take().unwrap());
    // The pipes are read on threads of their own: the client never waits for this test.
    let mut seen = Vec::new();
    stdout.wait_keeping("\"by\":\"b\"", &mut seen);
    // `b` stops taking messages (well within the heartbeat budget that would declare it
    // down): its window fills, sends to it run out of time, its breaker opens.
    b.signal("STOP");
    let mut log = Vec::new();
    stderr.wait_keeping("circuit breaker of instance", &mut log);
    stderr.wait_keeping(" open", &mut log);
    b.signal("CONT");
    stderr.wait_keeping(" closed", &mut log);
    log.extend(stderr.rest());
    seen.extend(stdout.rest());
    let run = finish(child);
    let log = log.join("\n");
    assert_eq!(
        run.status.and_then(|s| s.code()),
        Some(1),
        "skip mode counts: {log}"
    );
    let opened = log.find(" open").unwrap();
    let probed = log[opened..].find(" half_open").map(|i| i + opened);
    let closed = log.rfind(" closed").unwrap();
    assert!(
        probed.is_some_and(|p| p < closed),
        "open, half_open, closed: {log}"
    );
    let skipped: usize = log
        .lines()
        .find(|l| l.contains("skipped"))
        .and_then(|l| l.split("skipped ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no skip count: {log}"));
    let replies: Vec<(i64, String)> = seen.iter().map(|l| parse(l)).collect();
    assert_eq!(
        replies.len() + skipped,
        n as usize,
        "each number back or counted skipped"
    );
    drop(a);
}

#[test]
fn status_and_metrics_show_each_instance_of_a_remote_node_with_its_share() {
    let (a, _sa) = instance("a", &[]);
    let (b, _sb) = instance("b", &[]);
    let scratch = Scratch::new("route-status");
    let n = 1000;
    let graph = client_graph(&scratch, n, json!({}));
    // A client that binds serves /status and /metrics, and keeps serving after its graph.
    let mut cmd = client(&graph, &[&a.addr, &b.addr]);
    cmd.args(["--bind", "127.0.0.1:0"]);
    let (_client, _stderr, addr) = listening(&mut cmd);
    let deadline = std::time::Instant::now() + crate::cli_harness::PATIENCE;
    let instances = loop {
        let status: Value = serde_json::from_str(&http_get(&addr, "/status")).unwrap();
        let check = status["remote_actors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["local_name"] == "check")
            .cloned();
        let instances = check
            .as_ref()
            .map(|c| c["instances"].clone())
            .unwrap_or_default();
        let sent: i64 = instances
            .as_array()
            .map(|list| list.iter().map(|i| i["messages"].as_i64().unwrap()).sum())
            .unwrap_or(0);
        if sent == n {
            assert_eq!(check.unwrap()["route"], "round_robin");
            break instances;
        }
        assert!(std::time::Instant::now() < deadline, "{status:#}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let list = instances.as_array().unwrap();
    assert_eq!(list.len(), 2, "{instances:#}");
    for instance in list {
        assert_eq!(instance["state"], "up", "{instances:#}");
        assert_eq!(instance["messages"], n / 2, "{instances:#}");
        assert_eq!(instance["share"], 0.5, "{instances:#}");
    }
    let metrics = http_get(&addr, "/metrics");
    let routed: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("reflow_bridge_proxy_routed_total{process=\"check\""))
        .collect();
    assert_eq!(routed.len(), 2, "{metrics}");
    assert!(routed.iter().all(|l| l.ends_with(" 500")), "{routed:?}");
}
