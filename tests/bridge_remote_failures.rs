//! When the remote side goes away mid-stream, a client's proxy errors out instead of hanging:
//! the exported actor fails or stops while sessions are open (its error comes back as the
//! proxy's), and the peer's process is killed (the link closes under the proxy). Real sockets
//! on 127.0.0.1; the bound only fails a test that hangs, and is shorter than the proxies'
//! default 30 s timeout, so a pass never comes from the timeout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{failure_of_remote, metric};

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::Record;
use reflow::{Actor, ActorError, ActorResult, Context, Graph, Message, Ports};
use reflow_bridge::{BridgeEvent, DistributedConfig, DistributedNetwork};
use serde_json::{json, Value};

const TOKEN: &str = "remote-failures-token";
/// Failure bound for what must happen: never reached when the test passes.
const BOUND: Duration = Duration::from_secs(20);

/// A peer gone for a second is given up, so its proxies fail well inside the failure bound.
fn config(network: &str) -> DistributedConfig {
    let mut config = common::bridge_config(network, true, Some(TOKEN));
    config.resume_timeout = std::time::Duration::from_secs(1);
    config
}

/// Echoes each message; on the `n`-th (1-based) fails, or stops itself when `stop`.
struct EchoUntil {
    n: u64,
    seen: u64,
    stop: bool,
}

impl EchoUntil {
    fn fails_at(n: u64) -> Self {
        EchoUntil {
            n,
            seen: 0,
            stop: false,
        }
    }
}

impl Actor for EchoUntil {
    async fn on_message(&mut self, _: &str, msg: Message, ctx: &mut Context) -> ActorResult {
        self.seen += 1;
        if self.seen < self.n {
            return ctx.send("out", msg).await;
        }
        if self.stop {
            ctx.stop();
            return Ok(());
        }
        Err(ActorError::new(format!("refused message {}", self.seen)))
    }
}

/// Emits `make(i)` for `i` in `0..end` on `out`, or forever when `end` is `None`.
struct Count {
    end: Option<i64>,
    make: fn(i64) -> Message,
}

impl Actor for Count {
    async fn on_start(&mut self, ctx: &mut Context) -> ActorResult {
        let mut i = 0;
        while self.end.is_none_or(|end| i < end) {
            ctx.send("out", (self.make)(i)).await?;
            i += 1;
        }
        Ok(())
    }

    async fn on_message(&mut self, _: &str, _: Message, _: &mut Context) -> ActorResult {
        Ok(())
    }
}

/// A server exporting `actor` as `flaky`.
async fn server(actor: EchoUntil) -> DistributedNetwork {
    let mut server = DistributedNetwork::new(config("hub"), reflow::actors::registry()).unwrap();
    let net = server.network_mut().unwrap();
    net.add_actor("flaky", actor, Ports::new(["in"], ["out"]))
        .unwrap();
    server.export("flaky", json!(null)).unwrap();
    server.start().await.unwrap();
    server
}

/// A started client: `Count(count) -> remote (component, metadata) -> sink`, wiring the
/// remote's `outports` to the sink.
async fn client(
    addr: &str,
    component: &str,
    metadata: Value,
    outports: &[&str],
) -> (DistributedNetwork, Record) {
    let mut client =
        DistributedNetwork::new(config("producer"), reflow::actors::registry()).unwrap();
    client.connect_to_network(addr).await.unwrap();
    let graph = json!({"processes": {"remote": {"component": component, "metadata": metadata}}});
    let graph = Graph::from_json_str(&graph.to_string()).unwrap();
    client.add_graph(&graph).await.unwrap();
    let sink = Record::default();
    let net = client.network_mut().unwrap();
    net.add_actor("sink", sink.clone(), Record::ports())
        .unwrap();
    for port in outports {
        net.add_connection(("remote", *port), ("sink", "in"))
            .unwrap();
    }
    (client, sink)
}

fn add_source(client: &mut DistributedNetwork, end: Option<i64>, make: fn(i64) -> Message) {
    let net = client.network_mut().unwrap();
    let ports = Ports::new(Vec::<String>::new(), ["out"]);
    net.add_actor("source", Count { end, make }, ports).unwrap();
    net.add_connection(("source", "out"), ("remote", "in"))
        .unwrap();
}

async fn bounded<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(BOUND, future)
        .await
        .expect("finished within the failure bound")
}

/// Fails as it starts.
struct FailsOnStart;

impl Actor for FailsOnStart {
    async fn on_start(&mut self, _: &mut Context) -> ActorResult {
        Err(ActorError::new("no configuration"))
    }

    async fn on_message(&mut self, _: &str, _: Message, _: &mut Context) -> ActorResult {
        Ok(())
    }
}

/// An exported actor may end before the bridge has registered it (its process starts
/// first): it must not be offered to peers all the same, where their proxies would wait for
/// replies that cannot come. Run many times, since the two orders race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exported_actor_that_fails_on_start_is_not_offered_to_peers() {
    for _ in 0..20 {
        let mut server =
            DistributedNetwork::new(config("hub"), reflow::actors::registry()).unwrap();
        let net = server.network_mut().unwrap();
        net.add_actor("broken", FailsOnStart, Ports::new(["in"], ["out"]))
            .unwrap();
        server.export("broken", json!(null)).unwrap();
        server.start().await.unwrap();
        let report = bounded(server.wait()).await;
        assert_eq!(report.failures.len(), 1, "{report:?}");
        assert!(server.bridge_status().exported.is_empty());
        let mut client =
            DistributedNetwork::new(config("producer"), reflow::actors::registry()).unwrap();
        let addr = server.local_addr().unwrap().to_string();
        client.connect_to_network(&addr).await.unwrap();
        let err = client.register_remote_actor("broken", "hub").await;
        assert!(err.is_err(), "the failed export was offered: {err:?}");
        client.shutdown().await;
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exported_actor_that_fails_mid_stream_fails_its_client_proxy_with_its_error() {
    let server = server(EchoUntil::fails_at(3)).await;
    let addr = server.local_addr().unwrap().to_string();
    // Default options: fail mode, 30 s timeout.
    let (mut client, sink) = client(&addr, "flaky@hub", json!(null), &["out"]).await;
    add_source(&mut client, Some(10), Message::Integer);
    client.start().await.unwrap();

    let report = bounded(client.wait()).await;
    let error = failure_of_remote(&report);
    assert_eq!(
        error,
        "`flaky@hub` failed on the remote side: refused message 3"
    );
    assert_eq!(sink.integers(), [0, 1], "what came before the failure");
    assert_eq!(metric(&server, "served_sessions_failed_total").await, 1);
    assert!(
        server.bridge_status().exported.is_empty(),
        "a stopped actor is no longer exported"
    );
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exported_actor_that_stops_itself_ends_open_sessions_with_an_error() {
    let server = server(EchoUntil {
        stop: true,
        ..EchoUntil::fails_at(2)
    })
    .await;
    let addr = server.local_addr().unwrap().to_string();
    let (mut client, sink) = client(&addr, "flaky@hub", json!(null), &["out"]).await;
    add_source(&mut client, Some(10), Message::Integer);
    client.start().await.unwrap();

    let report = bounded(client.wait()).await;
    let error = failure_of_remote(&report);
    assert!(
        error.contains("`flaky@hub` failed on the remote side: the exported actor finished"),
        "{error}"
    );
    assert_eq!(sink.integers(), [0]);
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_skip_mode_a_remote_failure_is_counted_and_the_proxy_finishes() {
    let server = server(EchoUntil::fails_at(3)).await;
    let addr = server.local_addr().unwrap().to_string();
    let metadata = json!({"failure_mode": "skip"});
    let (mut client, sink) = client(&addr, "flaky@hub", metadata, &["out"]).await;
    add_source(&mut client, Some(10), Message::Integer);
    client.start().await.unwrap();

    let report = bounded(client.wait()).await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(sink.integers(), [0, 1]);
    assert!(*sink.ended.lock());
    let skipped = "proxy_skipped_total{reason=\"remote_error\"}";
    assert_eq!(metric(&client, skipped).await, 1);
    client.shutdown().await;
    server.shutdown().await;
}

/// A `reflow run` child process, SIGKILLed if the test ends first.
struct Killable(Child);

impl Drop for Killable {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts the validator of `graphs/distributed` as its own process, serving `check` on an
/// ephemeral port, and returns it with its address.
fn validator_process() -> (Killable, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_reflow"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("REFLOW_KILL_TEST_TOKEN", TOKEN)
        .args(["run", "graphs/distributed/validator.json"])
        .args(["--bind", "127.0.0.1:0", "--network-id", "validation"])
        .args(["--export", "check", "--token-env", "REFLOW_KILL_TEST_TOKEN"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let listening = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("listening on "))
        .expect("the validator says where it listens");
    // Keep draining stderr so that the child never blocks on it.
    std::thread::spawn(move || lines.for_each(drop));
    let addr = listening.rsplit(' ').next().unwrap().to_string();
    (Killable(child), addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_process_killed_mid_stream_fails_the_proxy_instead_of_hanging() {
    let (mut validator, addr) = validator_process();
    let ports = ["matched", "unmatched", "error"];
    let (mut client, sink) = client(&addr, "check@validation", json!(null), &ports).await;
    // Orders as the validator's rule reads them, forever.
    let order = |i| Message::object([("id", Message::Integer(i)), ("amount", Message::Integer(i))]);
    add_source(&mut client, None, order);
    client.start().await.unwrap();
    bounded(sink.wait_for(100)).await;

    let mut events = client.bridge_events();
    validator.0.kill().unwrap();
    // The link goes down at once (the kernel resets the dead process's socket), is given up
    // after the resume timeout, and only then does the proxy fail.
    let mut seen = Vec::new();
    while !matches!(seen.last(), Some(BridgeEvent::PeerDown { .. })) {
        seen.push(bounded(events.recv()).await.unwrap());
    }
    let report = bounded(client.wait()).await;
    let error = failure_of_remote(&report);
    assert!(
        error.contains("the link to `check@validation` closed before the remote actor finished"),
        "{error}"
    );
    client.shutdown().await;
}
