//! Bridge throughput and latency: two instances in one process over WebSocket on 127.0.0.1,
//! beside raw tokio-tungstenite on the same loopback, in the same run.
//!
//! - One way: MESSAGES `Message::Integer`s from a local `Range` into `sink@bench`, a counting
//!   actor exported by the other instance, which sends its count back once all have arrived.
//!   Baselines: one binary message per item sent with `send` (a flush each); `feed` with a
//!   flush every 100; 100 items packed in one binary message.
//! - Round trip: a local `Ping` sends one message to `echo@bench` (a `Forward`) and waits
//!   for it to come back before sending the next. Baseline: a client that sends one binary
//!   message and waits for the server to echo it.
//!
//! Run with `cargo run --release --example bench_bridge [-- MESSAGES [ROUND_TRIPS [ROUNDS
//! [WORKERS]]]]` (defaults 1,000,000, 10,000, 3, one tokio worker per core).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use parking_lot::Mutex;
use reflow::actors::Forward;
use reflow::bridge::{DistributedConfig, DistributedNetwork};
use reflow::{Actor, ActorResult, Component, ComponentInfo, ConfigError, Context, Message, Ports};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;

const TOKEN: &str = "bench-shared-token";
/// Bytes per item in the raw baselines: about what one `Data` frame of an integer takes.
const ITEM: usize = 16;
/// Items per flush (feed) or per binary message (packed) in the raw baselines.
const GROUP: usize = 100;

/// Counts messages on `in`; sends the count on `out` once it reaches `expect`, or when its
/// input ends. An exported actor's input ends only when its instance stops (a remote
/// session's end is not an end of input), hence `expect`.
#[derive(Default)]
struct CountSink {
    count: i64,
    expect: Option<i64>,
}

impl Actor for CountSink {
    async fn on_message(&mut self, _port: &str, _msg: Message, ctx: &mut Context) -> ActorResult {
        self.count += 1;
        if Some(self.count) == self.expect {
            ctx.send("out", Message::Integer(self.count)).await?;
        }
        Ok(())
    }

    async fn on_end(&mut self, ctx: &mut Context) -> ActorResult {
        if self.expect != Some(self.count) {
            ctx.send("out", Message::Integer(self.count)).await?;
        }
        Ok(())
    }
}

impl Component for CountSink {
    fn info() -> ComponentInfo {
        ComponentInfo::new(
            "CountSink",
            "Counts messages and sends the count.",
            Ports::new(["in"], ["out"]),
        )
    }

    fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let expect = config.get("expect").and_then(Value::as_i64);
        Ok(CountSink { count: 0, expect })
    }
}

/// Keeps the last integer it receives.
struct Recorder(Arc<AtomicI64>);

impl Actor for Recorder {
    async fn on_message(&mut self, _port: &str, msg: Message, _ctx: &mut Context) -> ActorResult {
        if let Some(v) = msg.as_i64() {
            self.0.store(v, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Sends one message on `out`, waits for one on `in`, records the round trip, `left` times;
/// hands its samples over when it stops.
struct Ping {
    left: usize,
    sent: Instant,
    rtts: Vec<Duration>,
    out: Arc<Mutex<Vec<Duration>>>,
}

impl Ping {
    async fn fire(&mut self, ctx: &mut Context) -> ActorResult {
        self.sent = Instant::now();
        ctx.send("out", Message::Integer(self.left as i64)).await
    }
}

impl Actor for Ping {
    async fn on_start(&mut self, ctx: &mut Context) -> ActorResult {
        self.fire(ctx).await
    }

    async fn on_message(&mut self, _port: &str, _msg: Message, ctx: &mut Context) -> ActorResult {
        self.rtts.push(self.sent.elapsed());
        self.left -= 1;
        if self.left == 0 {
            ctx.stop();
            return Ok(());
        }
        self.fire(ctx).await
    }

    async fn on_stop(&mut self, _ctx: &mut Context) -> ActorResult {
        self.out.lock().append(&mut self.rtts);
        Ok(())
    }
}

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

/// Runs `a` until its network completes; returns how long that took from `start`.
async fn run_until_complete(a: &mut DistributedNetwork) -> Duration {
    let started = Instant::now();
    a.start().await.unwrap();
    let report = a.wait().await;
    let elapsed = started.elapsed();
    assert!(report.is_success(), "{report:?}");
    elapsed
}

async fn reflow_one_way(n: i64) -> Duration {
    let sink = CountSink {
        count: 0,
        expect: Some(n),
    };
    let (b, addr) = exporter("sink", sink).await;
    let (mut a, remote) = user_of(&addr, "sink").await;
    let count = Arc::new(AtomicI64::new(-1));
    let net = a.network_mut().unwrap();
    net.add_node("numbers", "Range", json!({ "end": n }))
        .unwrap();
    net.add_connection(("numbers", "out"), (remote.as_str(), "in"))
        .unwrap();
    let recorder = Recorder(count.clone());
    net.add_actor(
        "recorder",
        recorder,
        Ports::new(["in"], Vec::<String>::new()),
    )
    .unwrap();
    net.add_connection((remote.as_str(), "out"), ("recorder", "in"))
        .unwrap();
    let elapsed = run_until_complete(&mut a).await;
    assert_eq!(
        count.load(Ordering::Relaxed),
        n,
        "the sink's count came back"
    );
    a.shutdown().await;
    b.shutdown().await;
    elapsed
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

type Ws = WebSocketStream<TcpStream>;

/// A connected client and server WebSocket on 127.0.0.1, `TCP_NODELAY` on both ends.
async fn ws_pair() -> (Ws, Ws) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        tcp.set_nodelay(true).unwrap();
        tokio_tungstenite::accept_async(tcp).await.unwrap()
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (client, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), tcp)
        .await
        .unwrap();
    (client, server.await.unwrap())
}

/// How the raw sender writes its items.
#[derive(Clone, Copy)]
enum Raw {
    /// One binary message per item, each sent (and so flushed) on its own.
    Unbatched,
    /// One binary message per item, flushed every `GROUP`.
    Feed,
    /// `GROUP` items in one binary message.
    Packed,
}

/// Appends item `i`: the integer and padding up to `ITEM` bytes.
fn put_item(buf: &mut Vec<u8>, i: i64) {
    buf.extend_from_slice(&i.to_le_bytes());
    buf.resize(buf.len() + ITEM - 8, 0);
}

fn item(i: i64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(ITEM);
    put_item(&mut bytes, i);
    bytes
}

async fn raw_send(ws: &mut Ws, n: i64, mode: Raw) {
    let group = GROUP as i64;
    match mode {
        Raw::Unbatched => {
            for i in 0..n {
                ws.send(WsMessage::binary(item(i))).await.unwrap();
            }
        }
        Raw::Feed => {
            for i in 0..n {
                ws.feed(WsMessage::binary(item(i))).await.unwrap();
                if (i + 1) % group == 0 {
                    ws.flush().await.unwrap();
                }
            }
            ws.flush().await.unwrap();
        }
        Raw::Packed => {
            for start in (0..n).step_by(GROUP) {
                let mut packed = Vec::with_capacity(GROUP * ITEM);
                for i in start..(start + group).min(n) {
                    put_item(&mut packed, i);
                }
                ws.send(WsMessage::binary(packed)).await.unwrap();
            }
        }
    }
}

/// Reads until `n` items have arrived.
async fn raw_count(mut ws: Ws, n: i64) -> Ws {
    let mut count = 0;
    while count < n {
        match ws.next().await.unwrap().unwrap() {
            WsMessage::Binary(bytes) => count += (bytes.len() / ITEM) as i64,
            other => panic!("unexpected {other:?}"),
        }
    }
    ws
}

/// Sends `n` items from client to server; time from the first send until the server has
/// counted them all. Both ends run as tasks, like reflow's processes.
async fn raw_one_way(n: i64, mode: Raw) -> Duration {
    let (mut client, server) = ws_pair().await;
    tokio::spawn(async move {
        let started = Instant::now();
        let receiver = tokio::spawn(raw_count(server, n));
        raw_send(&mut client, n, mode).await;
        let _server = receiver.await.unwrap();
        started.elapsed()
    })
    .await
    .unwrap()
}

/// `k` round trips: the client sends one item, the server echoes it back.
async fn raw_rtt(k: usize) -> Vec<Duration> {
    let (mut client, mut server) = ws_pair().await;
    tokio::spawn(async move {
        while let Some(Ok(msg)) = server.next().await {
            if msg.is_binary() && server.send(msg).await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let mut rtts = Vec::with_capacity(k);
        for i in 0..k {
            let sent = Instant::now();
            client
                .send(WsMessage::binary(item(i as i64)))
                .await
                .unwrap();
            client.next().await.unwrap().unwrap();
            rtts.push(sent.elapsed());
        }
        rtts
    })
    .await
    .unwrap()
}

fn rate(n: i64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// The `p`-quantile (0..=1) of `samples`, in microseconds.
fn quantile_us(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort_unstable();
    let ix = ((samples.len() - 1) as f64 * p).round() as usize;
    samples[ix].as_secs_f64() * 1e6
}

/// Best time of each one-way setup over `rounds`, in the order raw unbatched, raw feed, raw
/// packed, reflow.
async fn one_way(n: i64, rounds: usize) -> [Duration; 4] {
    let mut best = [Duration::MAX; 4];
    for _ in 0..rounds {
        let times = [
            raw_one_way(n, Raw::Unbatched).await,
            raw_one_way(n, Raw::Feed).await,
            raw_one_way(n, Raw::Packed).await,
            reflow_one_way(n).await,
        ];
        for (b, t) in best.iter_mut().zip(times) {
            *b = (*b).min(t);
        }
    }
    best
}

fn print_one_way(n: i64, rounds: usize, [unbatched, feed, packed, ours]: [Duration; 4]) {
    println!("one way: {n} small messages, best of {rounds} rounds");
    let ours = rate(n, ours);
    let rows = [
        ("raw ws, send (flush) per message", unbatched),
        ("raw ws, feed + flush every 100", feed),
        ("raw ws, 100 items per message", packed),
    ];
    for (label, time) in rows {
        let raw = rate(n, time);
        println!(
            "  {label:<34} {raw:>12.0} msgs/s   reflow/raw {:>6.2}",
            ours / raw
        );
    }
    println!("  {:<34} {ours:>12.0} msgs/s", "reflow Range -> sink@bench");
}

async fn round_trips(k: usize, rounds: usize) {
    let (mut raw, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        raw.extend(raw_rtt(k).await);
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
        let best = one_way(args.messages, args.rounds).await;
        print_one_way(args.messages, args.rounds, best);
        round_trips(args.round_trips, args.rounds).await;
    });
}
