//! Local throughput: 1,000,000 small messages through a chain of 4 `Forward` actors, beside a
//! raw chain of 4 tokio tasks joined by bounded `tokio::sync::mpsc` channels of the same
//! capacity, in the same run. Prints msgs/s for both, the ratio, and peak RSS.
//!
//! Run with `cargo run --release --example bench_local [-- MESSAGES [ROUNDS]]`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use reflow::{Actor, ActorResult, Context, Message, Network, NetworkConfig, Ports};
use serde_json::json;
use tokio::sync::mpsc;

const HOPS: usize = 4;
const CAPACITY: usize = 1024;

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

async fn raw_chain(n: i64) -> Duration {
    let started = Instant::now();
    let (first_tx, mut rx) = mpsc::channel::<Message>(CAPACITY);
    let mut tasks = Vec::new();
    for _ in 0..HOPS {
        let (tx, next_rx) = mpsc::channel::<Message>(CAPACITY);
        let mut input = std::mem::replace(&mut rx, next_rx);
        tasks.push(tokio::spawn(async move {
            while let Some(msg) = input.recv().await {
                if tx.send(msg).await.is_err() {
                    break;
                }
            }
        }));
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
    let (mut raw, mut ours) = (Duration::MAX, Duration::MAX);
    let (mut raw_rss, mut our_rss) = (0.0f64, 0.0f64);
    for _ in 0..rounds {
        reset_peak_rss();
        raw = raw.min(raw_chain(n).await);
        raw_rss = raw_rss.max(peak_rss_mib());
        reset_peak_rss();
        ours = ours.min(reflow_chain(n).await);
        our_rss = our_rss.max(peak_rss_mib());
    }
    println!(
        "raw tokio mpsc chain : {:>12.0} msgs/s  peak RSS {raw_rss:.1} MiB",
        rate(n, raw)
    );
    println!(
        "reflow Forward chain : {:>12.0} msgs/s  peak RSS {our_rss:.1} MiB",
        rate(n, ours)
    );
    println!(
        "ratio reflow/raw     : {:>12.2}",
        rate(n, ours) / rate(n, raw)
    );
}
