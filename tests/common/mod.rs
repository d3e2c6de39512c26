//! Helpers shared by the integration tests: real actors that record what they see, in
//! [`fault`] a fault-injection TCP relay, and in [`tls`] certificates made at test time.
#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod fault;
pub mod tls;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use reflow::{Actor, ActorError, ActorResult, Context, Message, Ports};

/// Records every message it receives, with the port, and whether its input ended.
#[derive(Clone)]
pub struct Record {
    pub seen: Arc<Mutex<Vec<(String, Message)>>>,
    pub ended: Arc<Mutex<bool>>,
    pub count: Arc<tokio::sync::watch::Sender<usize>>,
}

impl Default for Record {
    fn default() -> Self {
        Record {
            seen: Arc::default(),
            ended: Arc::default(),
            count: Arc::new(tokio::sync::watch::channel(0).0),
        }
    }
}

impl Record {
    pub fn ports() -> Ports {
        Ports::new(["in", "other"], Vec::<String>::new())
    }

    /// Waits until at least `n` messages have arrived.
    pub async fn wait_for(&self, n: usize) {
        let mut rx = self.count.subscribe();
        rx.wait_for(|c| *c >= n).await.unwrap();
    }

    pub fn values(&self) -> Vec<Message> {
        self.seen.lock().iter().map(|(_, m)| m.clone()).collect()
    }

    pub fn integers(&self) -> Vec<i64> {
        self.seen
            .lock()
            .iter()
            .filter_map(|(_, m)| m.as_i64())
            .collect()
    }
}

impl Actor for Record {
    async fn on_message(&mut self, port: &str, msg: Message, _ctx: &mut Context) -> ActorResult {
        self.seen.lock().push((port.to_string(), msg));
        self.count.send_modify(|c| *c += 1);
        Ok(())
    }

    async fn on_end(&mut self, _ctx: &mut Context) -> ActorResult {
        *self.ended.lock() = true;
        Ok(())
    }
}

/// Fails on the `n`-th message (1-based).
pub struct FailAt(pub u64, pub u64);

impl Actor for FailAt {
    async fn on_message(&mut self, _port: &str, _msg: Message, _ctx: &mut Context) -> ActorResult {
        self.1 += 1;
        if self.1 == self.0 {
            return Err(ActorError::new(format!("refused message {}", self.1)));
        }
        Ok(())
    }
}

/// Panics on the `n`-th message (1-based).
pub struct PanicAt(pub u64, pub u64);

impl Actor for PanicAt {
    async fn on_message(&mut self, _port: &str, _msg: Message, _ctx: &mut Context) -> ActorResult {
        self.1 += 1;
        assert!(self.1 != self.0, "boom at message {}", self.1);
        Ok(())
    }
}

/// Emits a counter on `out` every `period`, forever, using the runtime timer.
pub struct Ticker {
    pub period: Duration,
    pub next: i64,
}

impl Actor for Ticker {
    async fn on_start(&mut self, ctx: &mut Context) -> ActorResult {
        ctx.set_timer(self.period);
        Ok(())
    }

    async fn on_message(&mut self, _port: &str, _msg: Message, _ctx: &mut Context) -> ActorResult {
        Ok(())
    }

    async fn on_timer(&mut self, ctx: &mut Context) -> ActorResult {
        ctx.send("out", Message::Integer(self.next)).await?;
        self.next += 1;
        ctx.set_timer(self.period);
        Ok(())
    }
}

/// Counts messages on `in` and emits the count on `out` when its input ends.
#[derive(Default)]
pub struct CountAtEnd(pub i64);

impl Actor for CountAtEnd {
    async fn on_message(&mut self, _port: &str, _msg: Message, _ctx: &mut Context) -> ActorResult {
        self.0 += 1;
        Ok(())
    }

    async fn on_end(&mut self, ctx: &mut Context) -> ActorResult {
        ctx.send("out", Message::Integer(self.0)).await
    }
}

/// A sink that takes its time: sleeps `pause` every `every` messages, and checks on every
/// message how far the producer is ahead (`sent` is bumped by the producer after each send).
pub struct SlowSink {
    pub every: u64,
    pub pause: Duration,
    pub sent: Arc<AtomicU64>,
    pub received: Arc<AtomicU64>,
    pub max_ahead: Arc<AtomicU64>,
}

impl Actor for SlowSink {
    async fn on_message(&mut self, _port: &str, _msg: Message, _ctx: &mut Context) -> ActorResult {
        let received = self.received.fetch_add(1, Ordering::SeqCst) + 1;
        let ahead = self.sent.load(Ordering::SeqCst).saturating_sub(received);
        self.max_ahead.fetch_max(ahead, Ordering::SeqCst);
        if received % self.every == 0 {
            tokio::time::sleep(self.pause).await;
        }
        Ok(())
    }
}

/// Emits `0..count` on `out`, bumping `sent` after each send returns.
pub struct Pump {
    pub count: i64,
    pub sent: Arc<AtomicU64>,
}

impl Actor for Pump {
    async fn on_start(&mut self, ctx: &mut Context) -> ActorResult {
        for i in 0..self.count {
            ctx.send("out", Message::Integer(i)).await?;
            self.sent.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }

    async fn on_message(&mut self, _port: &str, _msg: Message, _ctx: &mut Context) -> ActorResult {
        Ok(())
    }
}

/// Never finishes handling its first message.
pub struct Stuck;

impl Actor for Stuck {
    async fn on_message(&mut self, _port: &str, _msg: Message, _ctx: &mut Context) -> ActorResult {
        std::future::pending::<()>().await;
        Ok(())
    }
}

pub fn source_ports() -> Ports {
    Ports::new(Vec::<String>::new(), ["out"])
}

pub fn filter_ports() -> Ports {
    Ports::new(["in"], ["out"])
}

pub fn sink_ports() -> Ports {
    Ports::new(["in"], Vec::<String>::new())
}

/// A bridge configuration for tests: loopback, port 0 when `bind`, the given token, and a
/// short wait for peers to announce their actors (they do as soon as a link is up).
pub fn bridge_config(
    network: &str,
    bind: bool,
    token: Option<&str>,
) -> reflow_bridge::DistributedConfig {
    let mut config = reflow_bridge::DistributedConfig::new(network);
    config.bind = bind.then(|| "127.0.0.1:0".parse().unwrap());
    config.auth_token = token.map(String::from);
    config.resolve_timeout = Duration::from_millis(300);
    config
}

/// `GET path` over plain HTTP/1.1 on a fresh connection; the whole response as text.
pub async fn http_get(addr: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    response
}

/// The error the graph process `remote` failed with; panics with the report when it did not.
pub fn failure_of_remote(report: &reflow::Report) -> String {
    let failure = report.failures.iter().find(|f| f.process == "remote");
    failure
        .unwrap_or_else(|| panic!("`remote` failed: {report:?}"))
        .error
        .clone()
}

/// The value of the series `name` (`reflow_bridge_` prefix left out, labels included) in
/// the /metrics of `dn`.
pub async fn metric(dn: &reflow_bridge::DistributedNetwork, name: &str) -> u64 {
    let text = http_get(&dn.local_addr().unwrap().to_string(), "/metrics").await;
    let prefix = format!("reflow_bridge_{name} ");
    let line = text.lines().find(|l| l.starts_with(&prefix));
    let line = line.unwrap_or_else(|| panic!("no {name} in {text}"));
    line[prefix.len()..].parse().unwrap()
}

/// Runs `Range(0..count) -> echo@validation -> sink` on the linked `client` until it
/// completes, and returns the sink with what came back.
pub async fn echo_through_proxy(
    client: &mut reflow_bridge::DistributedNetwork,
    count: i64,
) -> Record {
    let graph = serde_json::json!({
        "processes": {
            "numbers": {"component": "Range", "metadata": {"end": count}},
            "remote": {"component": "echo@validation"}
        },
        "connections": [
            {"src": {"process": "numbers", "port": "out"}, "tgt": {"process": "remote", "port": "in"}}
        ]
    });
    let graph = reflow::Graph::from_json_str(&graph.to_string()).unwrap();
    client.add_graph(&graph).await.unwrap();
    let sink = Record::default();
    let net = client.network_mut().unwrap();
    net.add_actor("sink", sink.clone(), Record::ports())
        .unwrap();
    net.add_connection(("remote", "out"), ("sink", "in"))
        .unwrap();
    client.start().await.unwrap();
    let report = client.wait().await;
    assert!(report.is_success(), "{report:?}");
    sink
}

/// A started instance serving `actor` as its exported process `inbox` (ports of [`Record`]).
pub async fn serve_inbox(
    config: reflow_bridge::DistributedConfig,
    actor: impl Actor,
) -> reflow_bridge::DistributedNetwork {
    let mut server =
        reflow_bridge::DistributedNetwork::new(config, reflow::actors::registry()).unwrap();
    let net = server.network_mut().unwrap();
    net.add_actor("inbox", actor, Record::ports()).unwrap();
    server.export("inbox", serde_json::Value::Null).unwrap();
    server.start().await.unwrap();
    server
}

/// [`serve_inbox`] with a [`Record`], returned to read what arrived.
pub async fn record_inbox(
    config: reflow_bridge::DistributedConfig,
) -> (reflow_bridge::DistributedNetwork, Record) {
    let inbox = Record::default();
    (serve_inbox(config, inbox.clone()).await, inbox)
}

/// A directory under the system temp dir, unique to the test that makes it, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("reflow-{tag}-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// Writes `contents` to the file `name` in the directory, and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> std::path::PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
