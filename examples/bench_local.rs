//! Local throughput: 1,000,000 small messages through a chain of 4 `Forward` actors, beside
//! two raw chains of 4 tokio tasks joined by bounded `tokio::sync::mpsc` channels of the same
//! capacity, in the same run:
//!
//! - the fair baseline: the producer is a spawned task and every stage takes up to 256
//!   queued messages per wake-up with `recv_many`, as reflow's processes do;
//! - the weaker baseline kept from earlier runs: the producer runs on the `#[tokio::main]`
//!   thread (a third thread on two cores) and every stage receives one message per wake-up.
//!
//! Prints msgs/s for each, the ratios, the target of issue 12 (reflow at least 0.8x the fair
//! raw chain) and peak RSS. Best of each over the rounds.
//!
//! Run with `cargo run --release --example bench_local [-- MESSAGES [ROUNDS]]`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use reflow::{Actor, ActorResult, Context, Message, Network, NetworkConfig, Ports};
use serde_json::json;
use tokio::sync::mpsc;

const HOPS: usize = 4;
const CAPACITY: usize = 1024;
/// Messages a stage of the fair raw chain takes per wake-up: the runtime's own batch.
const BATCH: usize = 256;
/// Issue 12, item 4: reflow's chain at least this fraction of the fair raw chain.
const TARGET: f64 = 0.8;

#[derive(Default)]
struct Count(u64);

impl Actor for Count {
    async fn on_message(&mut self, _port: &str, _msg: Message, _ctx: &mut Context) -> ActorResult {
        self.0 += 1;
        Ok(())
    }

    async fn on_end(&mut self, _ctx: &mut Context) -> ActorResult {
        std::hint::black_box(self.0);
        Ok(())
    }
}

/// The weaker baseline: producer on the main thread, one message per wake-up.
async fn raw_chain_single(n: i64) -> Duration {
    let started = Instant::now();
    let (first_tx, mut rx) = mpsc::channel::<Message>(CAPACITY);
    for _ in 0..HOPS {
        let (tx, next_rx) = mpsc::channel::<Message>(CAPACITY);
        let mut input = std::mem::replace(&mut rx, next_rx);
        tokio::spawn(async move {
            while let Some(msg) = input.recv().await {
                if tx.send(msg).await.is_err() {
                    break;
                }
            }
        });
    }
    let sink = tokio::spawn(async move {
        let mut count = 0u64;
        while rx.recv().await.is_some() {
            count += 1;
        }
        count
    });
    for i in 0..n {
        first_tx.send(Message::Integer(i)).await.unwrap();
    }
    drop(first_tx);
    assert_eq!(sink.await.unwrap(), n as u64);
    started.elapsed()
}

/// The fair baseline: producer spawned as a task, every stage batched with `recv_many`.
async fn raw_chain_batched(n: i64) -> Duration {
    let started = Instant::now();
    let (first_tx, mut rx) = mpsc::channel::<Message>(CAPACITY);
    for _ in 0..HOPS {
        let (tx, next_rx) = mpsc::channel::<Message>(CAPACITY);
        let input = std::mem::replace(&mut rx, next_rx);
        tokio::spawn(batched_stage(input, tx));
    }
    let sink = tokio::spawn(async move {
        let (mut count, mut buf) = (0u64, Vec::with_capacity(BATCH));
        loop {
            let taken = rx.recv_many(&mut buf, BATCH).await;
            if taken == 0 {
                return count;
            }
            count += taken as u64;
            buf.clear();
        }
    });
    let producer = tokio::spawn(async move {
        for i in 0..n {
            first_tx.send(Message::Integer(i)).await.unwrap();
        }
    });
    producer.await.unwrap();
    assert_eq!(sink.await.unwrap(), n as u64);
    started.elapsed()
}

async fn batched_stage(mut input: mpsc::Receiver<Message>, tx: mpsc::Sender<Message>) {
    let mut buf = Vec::with_capacity(BATCH);
    while input.recv_many(&mut buf, BATCH).await > 0 {
        for msg in buf.drain(..) {
            if tx.send(msg).await.is_err() {
                return;
            }
        }
    }
}

async fn reflow_chain(n: i64) -> Duration {
    let config = NetworkConfig {
        capacity: CAPACITY,
        ..NetworkConfig::default()
    };
    let mut net = Network::with_config(reflow::actors::registry(), config);
    net.add_node("source", "Range", json!({"end": n})).unwrap();
    let mut prev = "source".to_string();
    for hop in 0..HOPS {
        let name = format!("forward{hop}");
        net.add_node(&name, "Forward", json!(null)).unwrap();
        net.add_connection((prev.as_str(), "out"), (name.as_str(), "in"))
            .unwrap();
        prev = name;
    }
    net.add_actor(
        "sink",
        Count::default(),
        Ports::new(["in"], Vec::<String>::new()),
    )
    .unwrap();
    net.add_connection((prev.as_str(), "out"), ("sink", "in"))
        .unwrap();
    let started = Instant::now();
    let report = net.start().unwrap().wait().await;
    assert!(report.is_success(), "{report:?}");
    started.elapsed()
}

/// Resets the kernel's peak-RSS mark so each measurement has its own peak.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn rate(n: i64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// The best time and the highest peak RSS of one setup over the rounds.
struct Best {
    time: Duration,
    rss: f64,
}

impl Best {
    fn new() -> Self {
        Best {
            time: Duration::MAX,
            rss: 0.0,
        }
    }

    fn record(&mut self, time: Duration) {
        self.time = self.time.min(time);
        self.rss = self.rss.max(peak_rss_mib());
    }

    fn print(&self, label: &str, n: i64) {
        println!(
            "{label:<52}: {:>12.0} msgs/s  peak RSS {:.1} MiB",
            rate(n, self.time),
            self.rss
        );
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: i64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    println!(
        "{n} messages through {HOPS} hops, capacity {CAPACITY}, {rounds} rounds, best of each"
    );
    let (mut fair, mut weak, mut ours) = (Best::new(), Best::new(), Best::new());
    for _ in 0..rounds {
        reset_peak_rss();
        fair.record(raw_chain_batched(n).await);
        reset_peak_rss();
        weak.record(raw_chain_single(n).await);
        reset_peak_rss();
        ours.record(reflow_chain(n).await);
    }
    fair.print("raw chain, producer task, recv_many 256 (fair)", n);
    weak.print("raw chain, producer on main, 1 per wake-up (weaker)", n);
    ours.print("reflow Forward chain", n);
    let (to_fair, to_weak) = (
        fair.time.as_secs_f64() / ours.time.as_secs_f64(),
        weak.time.as_secs_f64() / ours.time.as_secs_f64(),
    );
    println!("ratio reflow/raw fair   : {to_fair:>6.2}");
    println!("ratio reflow/raw weaker : {to_weak:>6.2}");
    let verdict = if to_fair >= TARGET { "met" } else { "not met" };
    println!("target (issue 12 item 4): reflow >= {TARGET}x the fair raw chain: {verdict}");
}
