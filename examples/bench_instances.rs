//! Scaling out over instances of one network: a producer sends its messages through
//! `work@srv` while 1, 2 and 3 instances of `srv` export `work`, all in one run and in one
//! process, over real WebSocket links on 127.0.0.1. The proxy spreads them round robin.
//!
//! - **Fixed capacity per instance** (the target of issue 13): `work` is a `Throttle` at
//!   2,000 messages per second, so each instance has a fixed capacity that does not depend
//!   on the CPU. Target: 3 instances deliver at least 2.7x the throughput of one.
//! - **CPU-bound** (reported as measured): `work` is a `Rule` with an `emit`, so every
//!   instance competes for this machine's cores with the producer and the other instances.
//!
//! Every message is checked to come back. Prints messages per second for each count of
//! instances and the ratio to one instance.
//!
//! Run with `cargo run --release --example bench_instances [-- THROTTLED [CPU_BOUND]]`
//! (messages per round, default 12,000 and 200,000).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use reflow::bridge::{DistributedConfig, DistributedNetwork};
use reflow::{Actor, ActorResult, Context, Message, Ports};
use serde_json::{json, Value};

const TOKEN: &str = "bench-token";
/// Issue 13, item 6: three instances at least this many times one.
const TARGET: f64 = 2.7;

/// Counts what arrives and reports the count at the end.
struct Count(Arc<AtomicU64>);

impl Actor for Count {
    async fn on_message(&mut self, _port: &str, _msg: Message, _ctx: &mut Context) -> ActorResult {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn config(network: &str) -> DistributedConfig {
    let mut config = DistributedConfig::new(network);
    config.auth_token = Some(TOKEN.into());
    config
}

/// An instance of `srv` exporting `work`, built from `component` and `settings`.
async fn instance(component: &str, settings: &Value) -> DistributedNetwork {
    let mut config = config("srv");
    config.bind = Some("127.0.0.1:0".parse().unwrap());
    let mut dn = DistributedNetwork::new(config, reflow::actors::registry()).unwrap();
    let net = dn.network_mut().unwrap();
    net.add_node("work", component, settings.clone()).unwrap();
    dn.export("work", Value::Null).unwrap();
    dn.start().await.unwrap();
    dn
}

/// Messages per second through `work@srv` with `n` instances.
async fn round(n: usize, messages: i64, (component, settings): (&str, &Value)) -> f64 {
    let mut servers = Vec::new();
    for _ in 0..n {
        servers.push(instance(component, settings).await);
    }
    let mut producer =
        DistributedNetwork::new(config("producer"), reflow::actors::registry()).unwrap();
    for server in &servers {
        let addr = server.local_addr().unwrap().to_string();
        producer.connect_to_network(&addr).await.unwrap();
    }
    let work = producer.register_remote_actor("work", "srv").await.unwrap();
    let count = Arc::new(AtomicU64::new(0));
    let net = producer.network_mut().unwrap();
    net.add_node("numbers", "Range", json!({"start": 0, "end": messages}))
        .unwrap();
    let sink = Count(count.clone());
    net.add_actor("count", sink, Ports::new(["in"], Vec::<String>::new()))
        .unwrap();
    net.add_connection(("numbers", "out"), (work.as_str(), "in"))
        .unwrap();
    let out = if component == "Rule" {
        "matched"
    } else {
        "out"
    };
    net.add_connection((work.as_str(), out), ("count", "in"))
        .unwrap();
    let started = Instant::now();
    producer.start().await.unwrap();
    let report = producer.wait().await;
    let secs = started.elapsed().as_secs_f64();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(
        count.load(Ordering::Relaxed),
        messages as u64,
        "every message back"
    );
    producer.shutdown().await;
    for server in servers {
        server.shutdown().await;
    }
    messages as f64 / secs
}

async fn series(label: &str, messages: i64, work: (&str, &Value)) -> Vec<f64> {
    println!("{label}: {messages} messages per round");
    let mut rates = Vec::new();
    for n in 1..=3 {
        let rate = round(n, messages, work).await;
        let ratio = rate / rates.first().copied().unwrap_or(rate);
        println!("  {n} instance(s): {rate:>10.0} msgs/s  ({ratio:.2}x one instance)");
        rates.push(rate);
    }
    rates
}

#[tokio::main]
async fn main() {
    let args: Vec<i64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let throttled = args.first().copied().unwrap_or(12_000);
    let cpu_bound = args.get(1).copied().unwrap_or(200_000);
    let throttle = json!({"per_second": 2000});
    let rates = series(
        "Throttle at 2,000/s per instance",
        throttled,
        ("Throttle", &throttle),
    )
    .await;
    let ratio = rates[2] / rates[0];
    let verdict = if ratio >= TARGET { "met" } else { "not met" };
    println!(
        "target (issue 13 item 6): 3 instances at least {TARGET}x one: {ratio:.2}x, {verdict}"
    );
    let rule = json!({
        "when": "fact >= 0",
        "emit": {"n": "fact", "tier": "fact % 2 == 0 ? 'even' : 'odd'"}
    });
    series(
        "CPU-bound Rule (2 cores for producer and instances)",
        cpu_bound,
        ("Rule", &rule),
    )
    .await;
}
