//! Cycles and deadlocks: `reflow validate` warns of every cycle among processes, and a
//! network whose processes block on each other's full inboxes fails, naming them, instead
//! of hanging.

use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reflow::{
    Actor, ActorResult, Context, Message, Network, NetworkConfig, NetworkEvent, Ports, Report,
    RunningNetwork,
};
use serde_json::json;
use tokio::sync::broadcast;

use crate::common::Record;

/// Only a bound on a hang: every run here ends on its own in well under a second.
const HANG: Duration = Duration::from_secs(60);

/// `numbers` (Range 0..100) feeds `loop`, a Forward whose `out` goes back to its own `in`
/// and on to `print`.
fn self_loop_graph() -> serde_json::Value {
    json!({
        "processes": {
            "numbers": {"component": "Range", "metadata": {"end": 100}},
            "loop": {"component": "Forward"},
            "print": {"component": "Console"}
        },
        "connections": [
            {"src": {"process": "numbers", "port": "out"}, "tgt": {"process": "loop", "port": "in"}},
            {"src": {"process": "loop", "port": "out"}, "tgt": {"process": "loop", "port": "in"}},
            {"src": {"process": "loop", "port": "out"}, "tgt": {"process": "print", "port": "in"}}
        ]
    })
}

fn write_graph(tag: &str, graph: &serde_json::Value) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("reflow-deadlock-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("graph.json");
    std::fs::write(&path, graph.to_string()).unwrap();
    path
}

/// Runs `reflow ARGS` to its exit, or kills it and fails once `HANG` has passed.
fn reflow(args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_reflow"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(HANG) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("`reflow {}` still running after {HANG:?}", args.join(" "));
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn reflow_run_of_a_self_loop_with_fan_out_exits_one_naming_the_process() {
    let path = write_graph("run", &self_loop_graph());
    let out = reflow(&["run", "--capacity", "4", path.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for expected in [
        "warning: connections[1]: process loop -> loop forms a cycle",
        "error: process `loop` failed: deadlock: blocked sending into its own full inbox \
         (loop -> loop)",
        "error: deadlock: process(es) loop blocked sending into full inboxes on a cycle",
        "a larger --capacity, or break the cycle",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
}

#[test]
fn reflow_validate_warns_of_the_cycle_and_exits_zero() {
    let path = write_graph("validate", &self_loop_graph());
    let out = reflow(&["validate", path.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "{}: warning: connections[1]: process loop -> loop forms a cycle: a full inbox on \
             it can deadlock the run\n",
            path.display()
        )
    );
    assert!(
        stdout.ends_with(": ok (3 processes, 3 connections, 0 initial packets, 1 warning)\n"),
        "{stdout}"
    );
}

fn network(capacity: usize) -> Network {
    let config = NetworkConfig {
        capacity,
        ..NetworkConfig::default()
    };
    Network::with_config(reflow::actors::registry(), config)
}

/// Waits for the run to end (failing the test if it hangs), with every event it sent.
async fn finish(
    mut running: RunningNetwork,
    mut events: broadcast::Receiver<NetworkEvent>,
) -> (Report, Vec<NetworkEvent>) {
    let report = tokio::time::timeout(HANG, running.wait())
        .await
        .expect("the network hung");
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(event);
    }
    (report, seen)
}

fn deadlocks(events: &[NetworkEvent]) -> Vec<Vec<Vec<String>>> {
    events
        .iter()
        .filter_map(|e| match e {
            NetworkEvent::Deadlock { cycles } => Some(cycles.clone()),
            _ => None,
        })
        .collect()
}

fn error_of<'a>(report: &'a Report, process: &str) -> &'a str {
    let failure = report.failures.iter().find(|f| f.process == process);
    failure.map_or("", |f| f.error.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_loop_with_fan_out_is_reported_and_fails_instead_of_hanging() {
    let mut net = network(4);
    net.add_node("numbers", "Range", json!({"end": 100}))
        .unwrap();
    net.add_node("loop", "Forward", json!(null)).unwrap();
    net.add_actor("sink", Record::default(), Record::ports())
        .unwrap();
    net.add_connection(("numbers", "out"), ("loop", "in"))
        .unwrap();
    net.add_connection(("loop", "out"), ("loop", "in")).unwrap();
    net.add_connection(("loop", "out"), ("sink", "in")).unwrap();
    let events = net.events();
    let (report, events) = finish(net.start().unwrap(), events).await;

    assert_eq!(deadlocks(&events), [vec![vec!["loop".to_string()]]]);
    assert_eq!(report.deadlocked, ["loop"]);
    assert_eq!(
        error_of(&report, "loop"),
        "deadlock: blocked sending into its own full inbox (loop -> loop)"
    );
    // Ending `loop` released `numbers`, blocked on its inbox, and ended `sink`'s input.
    let mut finished = report.finished.clone();
    finished.sort();
    assert_eq!(finished, ["numbers", "sink"]);
    assert!(report.aborted.is_empty(), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_feeding_each_other_deadlock_as_one_cycle() {
    let mut net = network(2);
    net.add_node("numbers", "Range", json!({"end": 100}))
        .unwrap();
    for name in ["b", "a"] {
        net.add_node(name, "Forward", json!(null)).unwrap();
    }
    net.add_actor("sink", Record::default(), Record::ports())
        .unwrap();
    net.add_connection(("numbers", "out"), ("a", "in")).unwrap();
    net.add_connection(("a", "out"), ("b", "in")).unwrap();
    net.add_connection(("b", "out"), ("a", "in")).unwrap();
    net.add_connection(("b", "out"), ("sink", "in")).unwrap();
    let events = net.events();
    let (report, events) = finish(net.start().unwrap(), events).await;

    // Listed from the first of them added, `b`, in the order they wait on each other.
    assert_eq!(
        deadlocks(&events),
        [vec![vec!["b".to_string(), "a".to_string()]]]
    );
    let mut deadlocked = report.deadlocked.clone();
    deadlocked.sort();
    assert_eq!(deadlocked, ["a", "b"]);
    assert_eq!(
        error_of(&report, "a"),
        "deadlock: blocked sending into the full inbox of `b`, in a cycle of processes \
         blocked on each other (b -> a -> b)"
    );
    assert_eq!(
        error_of(&report, "b"),
        "deadlock: blocked sending into the full inbox of `a`, in a cycle of processes \
         blocked on each other (b -> a -> b)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exported_self_loop_is_detected_while_its_injector_lives() {
    let mut net = network(4);
    net.add_node("loop", "Forward", json!(null)).unwrap();
    net.add_actor("sink", Record::default(), Record::ports())
        .unwrap();
    net.add_connection(("loop", "out"), ("loop", "in")).unwrap();
    net.add_connection(("loop", "out"), ("sink", "in")).unwrap();
    net.export("loop").unwrap();
    let events = net.events();
    let running = net.start().unwrap();
    let injector = running.injector("loop").unwrap();
    let feed = tokio::spawn(async move {
        // Fails once `loop` is ended: the deadlock does not wait for its injectors to go.
        let mut sent = 0;
        while injector.send("in", 1, Message::Integer(sent)).await.is_ok() {
            sent += 1;
        }
        sent
    });
    let (report, events) = finish(running, events).await;
    assert!(feed.await.unwrap() > 0);
    assert_eq!(deadlocks(&events), [vec![vec!["loop".to_string()]]]);
    assert_eq!(report.deadlocked, ["loop"]);
}

/// Finishes when its timer, armed at start, fires.
struct OneShot(Duration, Arc<AtomicU32>);

impl Actor for OneShot {
    async fn on_start(&mut self, ctx: &mut Context) -> ActorResult {
        ctx.set_timer(self.0);
        Ok(())
    }

    async fn on_message(&mut self, _: &str, _: Message, _: &mut Context) -> ActorResult {
        Ok(())
    }

    async fn on_timer(&mut self, _ctx: &mut Context) -> ActorResult {
        self.1.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_with_a_timer_armed_is_busy_so_the_deadlock_waits_for_it() {
    let mut net = network(4);
    let fired = Arc::new(AtomicU32::new(0));
    let timer = OneShot(Duration::from_millis(100), fired.clone());
    net.add_actor("timer", timer, Ports::new(Vec::<String>::new(), ["out"]))
        .unwrap();
    net.add_node("numbers", "Range", json!({"end": 100}))
        .unwrap();
    net.add_node("loop", "Forward", json!(null)).unwrap();
    net.add_connection(("numbers", "out"), ("loop", "in"))
        .unwrap();
    net.add_connection(("loop", "out"), ("loop", "in")).unwrap();
    let events = net.events();
    let (report, events) = finish(net.start().unwrap(), events).await;

    assert_eq!(fired.load(Ordering::SeqCst), 1);
    assert_eq!(report.deadlocked, ["loop"]);
    // A process waiting on a timer might still send something, so the network is not
    // stalled until the timer has fired and its process finished.
    let timer_done = events
        .iter()
        .position(|e| matches!(e, NetworkEvent::ProcessFinished { process } if process == "timer"));
    let deadlock = events
        .iter()
        .position(|e| matches!(e, NetworkEvent::Deadlock { .. }));
    assert!(timer_done.is_some() && timer_done < deadlock, "{events:?}");
}

/// One of two processes passing tokens around a ring: a token is a count of hops left,
/// and leaves on `out` when it reaches 0. Once `tokens` have left, the process that sees
/// it sends `-1` around, which stops both.
struct Ring {
    tokens: u32,
    left: Arc<AtomicU32>,
}

impl Actor for Ring {
    async fn on_message(&mut self, _: &str, msg: Message, ctx: &mut Context) -> ActorResult {
        let hops = msg.as_i64().unwrap_or(-1);
        if hops < 0 {
            ctx.stop();
            return Ok(());
        }
        if hops > 0 {
            return ctx.send("next", Message::Integer(hops - 1)).await;
        }
        ctx.send("out", msg).await?;
        if self.left.fetch_add(1, Ordering::SeqCst) + 1 == self.tokens {
            ctx.send("next", Message::Integer(-1)).await?;
            ctx.stop();
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ring_whose_inboxes_cannot_all_fill_runs_to_the_end_however_often_it_blocks() {
    // Two processes with inboxes of one: a deadlock needs both inboxes full and a token in
    // each hand, four tokens. Three keep them blocking on each other all the time, never
    // for good.
    const TOKENS: u32 = 3;
    let mut net = network(1);
    let left = Arc::new(AtomicU32::new(0));
    let ports = Ports::new(["in"], ["next", "out"]);
    for name in ["a", "b"] {
        let ring = Ring {
            tokens: TOKENS,
            left: left.clone(),
        };
        net.add_actor(name, ring, ports.clone()).unwrap();
    }
    let sink = Record::default();
    net.add_actor("sink", sink.clone(), Record::ports())
        .unwrap();
    net.add_connection(("a", "next"), ("b", "in")).unwrap();
    net.add_connection(("b", "next"), ("a", "in")).unwrap();
    for name in ["a", "b"] {
        net.add_connection((name, "out"), ("sink", "in")).unwrap();
    }
    for _ in 0..TOKENS {
        net.add_initial(("a", "in"), 20_001).unwrap();
    }
    let events = net.events();
    let (report, events) = finish(net.start().unwrap(), events).await;

    assert!(report.is_success(), "{report:?}");
    assert_eq!(deadlocks(&events), Vec::<Vec<Vec<String>>>::new());
    assert_eq!(sink.values().len(), TOKENS as usize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backpressure_without_a_cycle_is_never_taken_for_a_deadlock() {
    // Inboxes of one: senders block all the time, often while the receiver they wait on is
    // still counted asleep with its wake-up on the way. Nobody waits on a blocked process,
    // so nothing here is a deadlock.
    const COUNT: usize = 20_000;
    let mut net = network(1);
    net.add_node("numbers", "Range", json!({"end": COUNT}))
        .unwrap();
    let mut previous = "numbers".to_string();
    for hop in 0..3 {
        let name = format!("hop{hop}");
        net.add_node(&name, "Forward", json!(null)).unwrap();
        net.add_connection((previous.as_str(), "out"), (name.as_str(), "in"))
            .unwrap();
        previous = name;
    }
    let sink = Record::default();
    net.add_actor("sink", sink.clone(), Record::ports())
        .unwrap();
    net.add_connection((previous.as_str(), "out"), ("sink", "in"))
        .unwrap();
    let events = net.events();
    let (report, events) = finish(net.start().unwrap(), events).await;

    assert!(report.is_success(), "{report:?}");
    assert_eq!(deadlocks(&events), Vec::<Vec<Vec<String>>>::new());
    assert_eq!(sink.values().len(), COUNT);
}

/// Metadata on a remote node that is not an option of its proxy never reaches the remote
/// actor: `reflow validate` says so (and still exits 0), naming the key and the node.
#[test]
fn reflow_validate_warns_of_settings_on_a_remote_node_that_configure_nothing() {
    let graph = json!({
        "processes": {
            "numbers": {"component": "Range", "metadata": {"end": 3}},
            "discount": {"component": "Discount@rules",
                         "metadata": {"percent": 50, "timeout_ms": 5000, "x": 10}},
            "print": {"component": "Console"}
        },
        "connections": [
            {"src": {"process": "numbers", "port": "out"}, "tgt": {"process": "discount", "port": "in"}},
            {"src": {"process": "discount", "port": "out"}, "tgt": {"process": "print", "port": "in"}}
        ]
    });
    let path = write_graph("remote-settings", &graph);
    let out = reflow(&["validate", path.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "only `percent`: {stderr}");
    assert!(
        stderr
            .contains("warning: processes.discount.metadata.percent: `percent` configures nothing"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`Discount` is configured on the instances of `rules`"),
        "{stderr}"
    );
    assert!(stdout.contains("1 warning"), "{stdout}");
}
