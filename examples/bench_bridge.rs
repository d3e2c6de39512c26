//! Bridge throughput, CPU and latency: two instances in one process over WebSocket on
//! 127.0.0.1, beside raw tokio-tungstenite on the same loopback and a local hop, in the same
//! run.
//!
//! - One way: MESSAGES `Message::Integer`s from a local `Range` into `sink@bench`, a counting
//!   actor exported by the other instance, which sends its count back once all have arrived.
//!   The fair baseline, which the targets use: a client task builds the same `Data` frames
//!   (actor, port, origin, payload, trace), encodes them in the bridge's envelope and format,
//!   256 per binary message, the most the bridge's writer packs in one; a server task decodes
//!   every frame. The same with 100 frames per message, about the bridge's mean here. Kept
//!   from earlier runs: one 16-byte binary message per item sent with `send` (a flush each);
//!   `feed` with a flush every 100; 100 16-byte items packed in one binary message. And a
//!   local hop: `Range -> Forward -> sink` in one network.
//! - CPU: the time every thread of the process ran during each run, per message.
//! - Before timing, the baseline's encoding is checked against the bridge's: the test vector
//!   of the bridge's codec, and the bytes of a real link recorded through a TCP relay.
//! - Round trip: a local `Ping` sends one message to `echo@bench` (a `Forward`) and waits
//!   for it to come back before sending the next. Baseline: a client that sends one binary
//!   message and waits for the server to echo it.
//!
//! Prints the targets of issue 12, item 6: one way at least 0.3x the fair raw baseline, and
//! the CPU per message across the bridge at most 2x a local hop.
//!
//! Run with `cargo run --release --example bench_bridge [-- MESSAGES [ROUND_TRIPS [ROUNDS
//! [WORKERS]]]]` (defaults 1,000,000, 10,000, 3, one tokio worker per core).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "bench_bridge/actors.rs"]
mod actors;
#[path = "bench_bridge/inspect.rs"]
mod inspect;
#[path = "bench_bridge/measure.rs"]
mod measure;
#[path = "bench_bridge/raw.rs"]
mod raw;
#[path = "bench_bridge/wire.rs"]
mod wire;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use reflow::actors::Forward;
use reflow::bridge::{DistributedConfig, DistributedNetwork};
use reflow::{Component, Network, Ports};
use serde_json::json;

use actors::{record_count, CountSink, Ping};
use inspect::{Received, Relay};
use measure::{Meter, Sample};
use raw::Raw;

const TOKEN: &str = "bench-shared-token";
/// Issue 12, item 6: one way across the bridge at least this fraction of the fair baseline.
const ONE_WAY_TARGET: f64 = 0.3;
/// Issue 12, item 6: CPU per message across the bridge at most this multiple of a local hop.
const CPU_TARGET: f64 = 2.0;
/// Messages of the recorded link that checks the encoding.
const CHECK_MESSAGES: i64 = 20_000;
/// The exported counting sink: the fair baseline's frames name the same actor.
const ACTOR_NAME: &str = raw::ACTOR;

fn config(network: &str, bind: bool) -> DistributedConfig {
    let mut config = DistributedConfig::new(network);
    config.bind = bind.then(|| "127.0.0.1:0".parse().unwrap());
    config.auth_token = Some(TOKEN.into());
    config
}

/// Instance `bench`, exporting `actor` as `name`, started and listening.
async fn exporter<A: Component>(name: &str, actor: A) -> (DistributedNetwork, String) {
    let mut dn =
        DistributedNetwork::new(config("bench", true), reflow::actors::registry()).unwrap();
    dn.register_local_actor(name, actor, json!({})).unwrap();
    dn.start().await.unwrap();
    let addr = dn.local_addr().unwrap().to_string();
    (dn, addr)
}

/// Instance `producer`, linked to `addr`, with the remote `actor` added as a process.
async fn user_of(addr: &str, actor: &str) -> (DistributedNetwork, String) {
    let mut dn =
        DistributedNetwork::new(config("producer", false), reflow::actors::registry()).unwrap();
    dn.connect_to_network(addr).await.unwrap();
    let name = dn.register_remote_actor(actor, "bench").await.unwrap();
    (dn, name)
}

/// Runs `a` until its network completes; wall and CPU time from `start`.
async fn run_until_complete(a: &mut DistributedNetwork) -> Sample {
    let meter = Meter::start();
    a.start().await.unwrap();
    let report = a.wait().await;
    let sample = meter.stop();
    assert!(report.is_success(), "{report:?}");
    sample
}

/// The one-way run across the bridge: instance `bench` exports the counting sink; instance
/// `producer` feeds it from a `Range` and records the count that comes back.
struct OneWay {
    n: i64,
    bench: DistributedNetwork,
    /// Where `bench` listens.
    addr: String,
}

/// What a one-way run across the bridge measured.
struct BridgeRun {
    sample: Sample,
    /// What `bench` counted on its link.
    received: Option<Received>,
}

impl OneWay {
    async fn new(n: i64) -> OneWay {
        let sink = CountSink {
            count: 0,
            expect: Some(n),
        };
        let (bench, addr) = exporter(ACTOR_NAME, sink).await;
        OneWay { n, bench, addr }
    }

    /// Links `producer` to `bench` through `dial` (its address, or a relay's), runs until
    /// the count has come back, then shuts both down.
    async fn run(self, dial: &str) -> BridgeRun {
        let (mut a, remote) = user_of(dial, ACTOR_NAME).await;
        let net = a.network_mut().unwrap();
        net.add_node("numbers", "Range", json!({ "end": self.n }))
            .unwrap();
        net.add_connection(("numbers", "out"), (remote.as_str(), "in"))
            .unwrap();
        let count = record_count(net, &remote);
        let sample = run_until_complete(&mut a).await;
        assert_eq!(count.load(Ordering::Relaxed), self.n, "the count came back");
        let received = inspect::received(&self.addr).await;
        a.shutdown().await;
        self.bench.shutdown().await;
        BridgeRun { sample, received }
    }
}

async fn bridge_one_way(n: i64) -> BridgeRun {
    let one_way = OneWay::new(n).await;
    let addr = one_way.addr.clone();
    one_way.run(&addr).await
}

/// A local hop: `Range -> Forward -> sink` in one network, the sink sending its count on.
async fn local_hop(n: i64) -> Sample {
    let mut net = Network::new(reflow::actors::registry());
    net.add_node("numbers", "Range", json!({ "end": n }))
        .unwrap();
    net.add_node("forward", "Forward", json!(null)).unwrap();
    let sink = CountSink {
        count: 0,
        expect: Some(n),
    };
    net.add_actor("sink", sink, Ports::new(["in"], ["out"]))
        .unwrap();
    net.add_connection(("numbers", "out"), ("forward", "in"))
        .unwrap();
    net.add_connection(("forward", "out"), ("sink", "in"))
        .unwrap();
    let count = record_count(&mut net, "sink");
    let meter = Meter::start();
    let report = net.start().unwrap().wait().await;
    let sample = meter.stop();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(count.load(Ordering::Relaxed), n, "the count came out");
    sample
}

async fn reflow_rtt(k: usize) -> Vec<Duration> {
    let (b, addr) = exporter("echo", Forward).await;
    let (mut a, remote) = user_of(&addr, "echo").await;
    let samples = Arc::new(Mutex::new(Vec::with_capacity(k)));
    let ping = Ping {
        left: k,
        sent: Instant::now(),
        rtts: Vec::with_capacity(k),
        out: samples.clone(),
    };
    let net = a.network_mut().unwrap();
    net.add_actor("ping", ping, Ports::new(["in"], ["out"]))
        .unwrap();
    net.add_connection(("ping", "out"), (remote.as_str(), "in"))
        .unwrap();
    net.add_connection((remote.as_str(), "out"), ("ping", "in"))
        .unwrap();
    run_until_complete(&mut a).await;
    a.shutdown().await;
    b.shutdown().await;
    let samples = std::mem::take(&mut *samples.lock());
    assert_eq!(samples.len(), k);
    samples
}

/// Checks the fair baseline's encoding against the bridge's, before anything is timed: the
/// bridge codec's test vector, then a real link of `n` messages recorded through a relay.
async fn check_codec(n: i64) {
    let golden = wire::golden_bytes_match_the_bridge();
    println!(
        "codec: the bridge codec's test vector, and payloads of every kind read back: {}",
        if golden { "ok" } else { "MISMATCH" }
    );
    let one_way = OneWay::new(n).await;
    let relay = Relay::start(one_way.addr.clone()).await;
    one_way.run(&relay.addr).await;
    let found = inspect::compare(&relay.recorded());
    println!(
        "codec: a recorded bridge link of {n} messages: {} binary messages from its client, {} \
         held only Data frames ({} frames, {} with the baseline's actor, port and an integer \
         payload); {} of them encoded again byte for byte",
        found.messages, found.data_messages, found.frames, found.same_fields, found.identical
    );
    let ours = frame_bytes(&raw::data_frame(0));
    println!(
        "codec: first Data frame the bridge sent, {} bytes: {}; the baseline's first: {}",
        found.first_frame.len(),
        hex(&found.first_frame),
        if ours == found.first_frame {
            "the same bytes"
        } else {
            "DIFFERENT"
        },
    );
}

/// The bytes of `frame` in an envelope, without the envelope's own two.
fn frame_bytes(frame: &wire::DataFrame) -> Vec<u8> {
    let mut buf = Vec::new();
    wire::encode_batch(std::slice::from_ref(frame), &mut buf);
    buf.split_off(2)
}

fn hex(bytes: &[u8]) -> String {
    let bytes: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    bytes.join(" ")
}

/// The figures of every one-way setup: of one round, or the best of each over several.
struct OneWayRun {
    /// In the order of `Raw::ALL`.
    raw: [Sample; Raw::ALL.len()],
    bridge: Sample,
    local: Sample,
    /// What the receiving instance counted, summed over the rounds.
    received: Option<Received>,
}

impl OneWayRun {
    fn fair(&self) -> Sample {
        let fair = Raw::ALL.iter().position(|&mode| mode == Raw::FAIR);
        self.raw[fair.unwrap()]
    }

    /// The best of each setup of two runs; the link counters added up.
    fn best(self, other: OneWayRun) -> OneWayRun {
        let mut raw = self.raw;
        for (ours, theirs) in raw.iter_mut().zip(other.raw) {
            *ours = ours.best(theirs);
        }
        let received = self.received.zip(other.received).map(|(a, b)| a.add(b));
        OneWayRun {
            raw,
            bridge: self.bridge.best(other.bridge),
            local: self.local.best(other.local),
            received,
        }
    }
}

/// Runs every one-way setup `rounds` times, alternating them.
async fn one_way(n: i64, rounds: usize) -> OneWayRun {
    let mut all: Vec<OneWayRun> = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let mut raw = Vec::with_capacity(Raw::ALL.len());
        for mode in Raw::ALL {
            raw.push(raw::one_way(n, mode).await);
        }
        let bridge = bridge_one_way(n).await;
        all.push(OneWayRun {
            raw: raw.try_into().unwrap(),
            bridge: bridge.sample,
            local: local_hop(n).await,
            received: bridge.received,
        });
    }
    all.into_iter().reduce(OneWayRun::best).unwrap()
}

fn print_one_way(n: i64, rounds: usize, best: &OneWayRun) {
    println!("one way: {n} messages, best of {rounds} rounds; CPU: all threads of the process");
    println!(
        "  {:<40} {:>12} {:>12} {:>12} {:>12}",
        "setup", "msgs/s", "CPU ns/msg", "rate br/this", "CPU br/this"
    );
    let rows = Raw::ALL
        .iter()
        .map(|mode| mode.label())
        .zip(best.raw)
        .chain([
            ("bridge Range -> sink@bench".into(), best.bridge),
            ("local Range -> Forward -> sink".into(), best.local),
        ]);
    for (label, sample) in rows {
        print_row(n, &label, sample, best.bridge);
    }
    if let Some(received) = best.received {
        print_received(received);
    }
}

fn print_row(n: i64, label: &str, sample: Sample, bridge: Sample) {
    let cpu = |s: Sample| s.cpu_ns(n).unwrap_or(f64::NAN);
    println!(
        "  {label:<40} {:>12.0} {:>12.0} {:>12.3} {:>12.2}",
        sample.rate(n),
        cpu(sample),
        bridge.rate(n) / sample.rate(n),
        cpu(bridge) / cpu(sample),
    );
}

fn print_received(received: Received) {
    let per_message = received.frames as f64 / received.messages.max(1) as f64;
    let per_frame = received.bytes as f64 / received.frames.max(1) as f64;
    println!(
        "  bridge link, all rounds: {} frames in {} WebSocket messages, {per_message:.1} frames \
         and {:.0} bytes per message, {per_frame:.2} bytes per frame (fair baseline: {} frames, \
         {} bytes per frame)",
        received.frames,
        received.messages,
        received.bytes as f64 / received.messages.max(1) as f64,
        raw::FRAMES_PER_MESSAGE,
        frame_bytes(&raw::data_frame(500_000)).len(),
    );
}

fn print_targets(n: i64, best: &OneWayRun) {
    let rate = best.bridge.rate(n) / best.fair().rate(n);
    let cpu = best
        .bridge
        .cpu_ns(n)
        .zip(best.local.cpu_ns(n))
        .map(|(bridge, local)| bridge / local);
    println!("targets (issue 12, item 6):");
    println!(
        "  one way, bridge / fair raw baseline >= {ONE_WAY_TARGET:.2}: {rate:>6.3}  {}",
        verdict(rate >= ONE_WAY_TARGET)
    );
    match cpu {
        Some(cpu) => println!(
            "  CPU per message, bridge / local hop <= {CPU_TARGET:.2}: {cpu:>6.2}  {}",
            verdict(cpu <= CPU_TARGET)
        ),
        None => println!("  CPU per message: /proc/self/task unreadable, not measured"),
    }
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "not met"
    }
}

/// The `p`-quantile (0..=1) of `samples`, in microseconds.
fn quantile_us(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort_unstable();
    let ix = ((samples.len() - 1) as f64 * p).round() as usize;
    samples[ix].as_secs_f64() * 1e6
}

async fn round_trips(k: usize, rounds: usize) {
    let (mut raw, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        raw.extend(raw::rtt(k).await);
        ours.extend(reflow_rtt(k).await);
    }
    println!("round trip: {k} per round, {rounds} rounds pooled");
    let raw_p50 = quantile_us(&mut raw, 0.5);
    let ours_p50 = quantile_us(&mut ours, 0.5);
    let rows = [
        ("raw ws echo", raw_p50, quantile_us(&mut raw, 0.99)),
        (
            "reflow Ping -> echo@bench",
            ours_p50,
            quantile_us(&mut ours, 0.99),
        ),
    ];
    for (label, p50, p99) in rows {
        println!("  {label:<34} p50 {p50:>8.1} µs   p99 {p99:>8.1} µs");
    }
    println!("  p50 reflow/raw {:>24.2}", ours_p50 / raw_p50);
}

/// Command line: `[MESSAGES [ROUND_TRIPS [ROUNDS [WORKERS]]]]`; WORKERS defaults to tokio's
/// choice, one worker thread per core.
struct Args {
    messages: i64,
    round_trips: usize,
    rounds: usize,
    workers: Option<usize>,
}

fn args() -> Args {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>().ok());
    let mut next = |default| args.next().flatten().unwrap_or(default);
    Args {
        messages: next(1_000_000) as i64,
        round_trips: next(10_000),
        rounds: next(3),
        workers: args.next().flatten(),
    }
}

fn main() {
    let args = args();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let workers = args.workers.unwrap_or(cores);
    println!("tokio multi-thread runtime, {workers} workers, {cores} cores");
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.worker_threads(workers);
    let runtime = runtime.enable_all().build().unwrap();
    runtime.block_on(async {
        check_codec(CHECK_MESSAGES.min(args.messages)).await;
        let best = one_way(args.messages, args.rounds).await;
        print_one_way(args.messages, args.rounds, &best);
        print_targets(args.messages, &best);
        round_trips(args.round_trips, args.rounds).await;
    });
}
