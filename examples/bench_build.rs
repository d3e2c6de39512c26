//! Graph build and idle cost: 100,000 `Forward` processes in a chain (`f0 -> f1 -> ... ->
//! probe`, `f0` exported so the chain stays open and idle), beside raw tokio spawning 100,000
//! tasks in the same shape (a chain of tasks joined by bounded `tokio::sync::mpsc` channels of
//! the same capacity), in the same run.
//!
//! Times, from the first `add_node` (raw: the first channel) to:
//! - *started*: `Network::start` returned, i.e. every process task is spawned (raw: every
//!   `tokio::spawn` returned). The target of issue 12 item 5 is on this figure: reflow under
//!   10x raw.
//! - *running*: one message pushed into the head came out of the tail, i.e. every task has
//!   been polled and is parked on its inbox. In reflow this includes idle detection, which
//!   looks at the inboxes each time every process is parked, so it varies from run to run.
//!
//! Memory per idle process is measured in a fresh child process per measurement (freed heap
//! of an earlier round would otherwise be reused and hide the cost): VmRSS from
//! `/proc/self/status` once the probe came out, minus VmRSS before the first add, over N; the
//! peak (VmHWM after a reset through `/proc/self/clear_refs`, as bench_local does) beside it.
//! An inbox alone (a channel of a packet-sized item, both ends held) is measured the same way,
//! so the cost beyond the inbox can be read off.
//!
//! Run with `cargo run --release --example bench_build [-- PROCESSES [ROUNDS]]`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::Command;
use std::time::{Duration, Instant};

use reflow::{Actor, ActorResult, Context, Message, Network, NetworkConfig, Ports, Registry};
use serde_json::Value;
use tokio::sync::mpsc;

const CAPACITY: usize = 1024;
/// Issue 12 item 5: reflow's start at most this many times raw tokio's spawn.
const TARGET_RATIO: f64 = 10.0;
/// Issue 12 item 5: an idle process at most this many bytes beyond its inbox.
const TARGET_BYTES: f64 = 2048.0;

/// The end of the chain: tells the bench that a message came through.
struct Probe(mpsc::UnboundedSender<()>);

impl Actor for Probe {
    async fn on_message(&mut self, _port: &str, _msg: Message, _ctx: &mut Context) -> ActorResult {
        let _ = self.0.send(());
        Ok(())
    }
}

/// Times of one round, from the first add.
#[derive(Clone, Copy)]
struct Times {
    started: Duration,
    running: Duration,
}

/// Builds and starts the reflow chain and sends the probe through it; returns the times
/// and what tears the chain down (kept, not called, while memory is measured).
async fn reflow_chain(n: usize, registry: Registry, t0: Instant) -> (Times, impl FnOnce()) {
    let config = NetworkConfig {
        capacity: CAPACITY,
        ..NetworkConfig::default()
    };
    let mut net = Network::with_config(registry, config);
    for i in 0..n {
        net.add_node(&format!("f{i}"), "Forward", Value::Null)
            .unwrap();
        if i > 0 {
            let (from, to) = (format!("f{}", i - 1), format!("f{i}"));
            net.add_connection((from.as_str(), "out"), (to.as_str(), "in"))
                .unwrap();
        }
    }
    let (tx, mut probe) = mpsc::unbounded_channel();
    net.add_actor("probe", Probe(tx), Ports::new(["in"], Vec::<String>::new()))
        .unwrap();
    let last = format!("f{}", n - 1);
    net.add_connection((last.as_str(), "out"), ("probe", "in"))
        .unwrap();
    net.export("f0").unwrap();
    let running = net.start().unwrap();
    let started = t0.elapsed();
    let injector = running.injector("f0").unwrap();
    injector.send("in", 0, Message::Integer(1)).await.unwrap();
    probe.recv().await.unwrap();
    let times = Times {
        started,
        running: t0.elapsed(),
    };
    let teardown = move || {
        drop(injector);
        tokio::spawn(async move {
            let report = running.shutdown(Duration::from_secs(600)).await;
            assert!(report.is_success(), "{report:?}");
        });
    };
    (times, teardown)
}

/// The raw chain: `n` tasks, each forwarding its channel into the next one; the probe
/// goes through it as through reflow's.
async fn raw_chain(n: usize, t0: Instant) -> (Times, impl FnOnce()) {
    let (head, mut rx) = mpsc::channel::<Message>(CAPACITY);
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let (tx, next) = mpsc::channel::<Message>(CAPACITY);
        let mut input = std::mem::replace(&mut rx, next);
        tasks.push(tokio::spawn(async move {
            while let Some(msg) = input.recv().await {
                if tx.send(msg).await.is_err() {
                    break;
                }
            }
        }));
    }
    let started = t0.elapsed();
    head.send(Message::Integer(1)).await.unwrap();
    rx.recv().await.unwrap();
    let times = Times {
        started,
        running: t0.elapsed(),
    };
    (times, move || drop((head, rx, tasks)))
}

/// One timed round of each, reflow first, each torn down before the next starts.
async fn timed_round(n: usize) -> (Times, Times) {
    let registry = reflow::actors::registry();
    let (ours, teardown) = reflow_chain(n, registry, Instant::now()).await;
    teardown();
    settle().await;
    let (raw, teardown) = raw_chain(n, Instant::now()).await;
    teardown();
    settle().await;
    (ours, raw)
}

/// Lets the tasks of a torn-down chain finish before the next measurement.
async fn settle() {
    let handle = tokio::runtime::Handle::current();
    while handle.metrics().num_alive_tasks() > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn status_kib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(f64::NAN)
}

/// Child mode: builds one kind of chain, prints idle and peak bytes per unit.
async fn measure_memory(kind: &str, n: usize) {
    let registry = reflow::actors::registry();
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_kib("VmRSS:");
    let keep: Box<dyn std::any::Any> = match kind {
        "reflow" => Box::new(reflow_chain(n, registry, Instant::now()).await.1),
        "raw" => Box::new(raw_chain(n, Instant::now()).await.1),
        _ => Box::new(inboxes(n)),
    };
    let idle = status_kib("VmRSS:") - before;
    let peak = status_kib("VmHWM:") - before;
    println!("{} {}", idle * 1024.0 / n as f64, peak * 1024.0 / n as f64);
    // Tearing down N tasks would only cost time: the process ends here.
    std::mem::forget(keep);
    std::process::exit(0);
}

/// Inboxes alone: channels of an item the size of a process's packet, with one block used.
#[allow(clippy::type_complexity)]
fn inboxes(n: usize) -> Vec<(mpsc::Sender<Packetish>, mpsc::Receiver<Packetish>)> {
    (0..n)
        .map(|_| {
            let (tx, mut rx) = mpsc::channel(CAPACITY);
            tx.try_send((0, 0, Some(Message::Integer(1)))).unwrap();
            let _ = rx.try_recv();
            (tx, rx)
        })
        .collect()
}

/// Laid out like the runtime's inbox item (inport index, origin, message).
type Packetish = (u16, u32, Option<Message>);

/// Runs the memory measurement of `kind` in a fresh process: (idle, peak) bytes per unit.
fn memory_of(kind: &str, n: usize) -> (f64, f64) {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["--memory", kind, &n.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace().map(|p| p.parse::<f64>().unwrap());
    (parts.next().unwrap(), parts.next().unwrap())
}

/// Min, median and max of `values`.
fn spread(values: &[f64]) -> (f64, f64, f64) {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

fn print_times(label: &str, values: &[f64]) {
    let (min, med, max) = spread(values);
    println!("{label:<34}: min {min:>8.4} s  median {med:>8.4} s  max {max:>8.4} s");
}

/// Seconds of each round: reflow started, raw spawned, reflow running, raw running.
#[derive(Default)]
struct Columns([Vec<f64>; 4]);

impl Columns {
    fn push(&mut self, (ours, raw): (Times, Times)) {
        let values = [ours.started, raw.started, ours.running, raw.running];
        for (column, value) in self.0.iter_mut().zip(values) {
            column.push(value.as_secs_f64());
        }
    }

    /// Best reflow time over best raw time, for the pair starting at `column`.
    fn ratio(&self, column: usize) -> f64 {
        spread(&self.0[column]).0 / spread(&self.0[column + 1]).0
    }
}

async fn bench_times(n: usize, rounds: usize) {
    let mut columns = Columns::default();
    for _ in 0..rounds {
        columns.push(timed_round(n).await);
    }
    let labels = [
        "reflow, first add to started",
        "raw, first channel to spawned",
        "reflow, first add to probe out",
        "raw, first channel to probe out",
    ];
    for (label, values) in labels.iter().zip(&columns.0) {
        print_times(label, values);
    }
    let (started, running) = (columns.ratio(0), columns.ratio(2));
    println!("ratio reflow/raw, started (best) : {started:>8.2}");
    println!("ratio reflow/raw, running (best) : {running:>8.2}");
    let verdict = if started < TARGET_RATIO {
        "met"
    } else {
        "not met"
    };
    println!("target (issue 12 item 5): start under {TARGET_RATIO}x raw spawn: {verdict}");
}

fn bench_memory(n: usize, rounds: usize) {
    let mut idle = Vec::new();
    for kind in ["inbox", "raw", "reflow"] {
        let runs: Vec<(f64, f64)> = (0..rounds).map(|_| memory_of(kind, n)).collect();
        let (lo, med, hi) = spread(&runs.iter().map(|r| r.0).collect::<Vec<_>>());
        let peak = spread(&runs.iter().map(|r| r.1).collect::<Vec<_>>()).1;
        println!(
            "{kind:<6} bytes each, idle RSS: min {lo:>6.0}  median {med:>6.0}  max {hi:>6.0}  \
             (peak median {peak:.0})"
        );
        idle.push(med);
    }
    let beyond = idle[2] - idle[0];
    println!("reflow idle process beyond its inbox (medians): {beyond:.0} bytes");
    let verdict = if beyond <= TARGET_BYTES {
        "met"
    } else {
        "not met"
    };
    println!("target (issue 12 item 5): at most {TARGET_BYTES} bytes beyond the inbox: {verdict}");
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--memory") {
        let n = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100_000);
        return measure_memory(&args[1], n).await;
    }
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(3);
    println!(
        "{n} Forward processes in a chain (head exported), capacity {CAPACITY}, {rounds} rounds"
    );
    bench_times(n, rounds).await;
    bench_memory(n, rounds);
}
