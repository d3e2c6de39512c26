//! Proxy timeouts and failure modes, set from the graph's process metadata, over real sockets
//! on 127.0.0.1: a remote actor that never answers, a link that takes nothing (a relay that
//! stops reading), and bad metadata. Each test waits on what the user sees (the run's report,
//! the sink, /metrics); the bound only fails a test that hangs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{failure_of_remote, metric};

use std::sync::Arc;
use std::time::Duration;

use common::fault::FaultProxy;
use common::{Record, Stuck};
use reflow::actors::Forward;
use reflow::{Actor, ActorResult, Context, Graph, Message, Ports, Report};
use reflow_bridge::{BridgeError, DistributedConfig, DistributedNetwork};
use serde_json::{json, Value};

const TOKEN: &str = "proxy-modes-token";
/// Failure bound for what must happen: never reached when the test passes.
const BOUND: Duration = Duration::from_secs(30);
/// Messages of this size fill the kernel's socket buffers after a few dozen.
const BIG: usize = 256 * 1024;
/// Enough big messages to fill every buffer between a proxy and a relay that stopped reading.
const MANY: usize = 120;

/// Heartbeats far apart, so that a relay that stops reading one way is not declared a
/// silent peer while a test runs; small inboxes and link outboxes, so that they fill fast.
fn config(network: &str) -> DistributedConfig {
    let mut config = common::bridge_config(network, true, Some(TOKEN));
    config.heartbeat_interval_ms = 60_000;
    config.shutdown_deadline = Duration::from_millis(500);
    config.local.capacity = 4;
    config
}

/// Emits `count` copies of `payload` on `out`.
struct Repeat {
    count: usize,
    payload: Message,
}

impl Actor for Repeat {
    async fn on_start(&mut self, ctx: &mut Context) -> ActorResult {
        for _ in 0..self.count {
            ctx.send("out", self.payload.clone()).await?;
        }
        Ok(())
    }

    async fn on_message(&mut self, _: &str, _: Message, _: &mut Context) -> ActorResult {
        Ok(())
    }
}

fn big_messages(count: usize) -> Repeat {
    Repeat {
        count,
        payload: Message::String(Arc::from("x".repeat(BIG))),
    }
}

/// A server exporting `actor` as `name`, started and listening.
async fn server(name: &str, actor: impl Actor, ports: Ports) -> DistributedNetwork {
    let mut server = DistributedNetwork::new(config("hub"), reflow::actors::registry()).unwrap();
    let net = server.network_mut().unwrap();
    net.add_actor(name, actor, ports).unwrap();
    server.export(name, json!(null)).unwrap();
    server.start().await.unwrap();
    server
}

/// A graph of one process, `remote`, standing for `component` with `metadata`.
fn remote_graph(component: &str, metadata: Value) -> Graph {
    let text = json!({
        "processes": {"remote": {"component": component, "metadata": metadata}}
    });
    Graph::from_json_str(&text.to_string()).unwrap()
}

/// A client linked to `addr`, with `source -> remote -> sink` where `remote` comes from the
/// graph JSON with `metadata`. Not started.
async fn client(
    addr: &str,
    component: &str,
    metadata: Value,
    source: impl Actor,
) -> (DistributedNetwork, Record) {
    let mut client =
        DistributedNetwork::new(config("producer"), reflow::actors::registry()).unwrap();
    client.connect_to_network(addr).await.unwrap();
    client
        .add_graph(&remote_graph(component, metadata))
        .await
        .unwrap();
    let sink = Record::default();
    let net = client.network_mut().unwrap();
    let source_ports = Ports::new(Vec::<String>::new(), ["out"]);
    net.add_actor("source", source, source_ports).unwrap();
    net.add_actor("sink", sink.clone(), Record::ports())
        .unwrap();
    net.add_connection(("source", "out"), ("remote", "in"))
        .unwrap();
    net.add_connection(("remote", "out"), ("sink", "in"))
        .unwrap();
    (client, sink)
}

/// A server exporting `echo` (a Forward) behind a relay, and a client using it through the
/// relay, with the relay's client-to-server direction stalled once the link is up.
async fn stalled_echo(metadata: Value, source: impl Actor) -> Stalled {
    let server = server("echo", Forward, Ports::new(["in"], ["out"])).await;
    let relay = FaultProxy::start(server.local_addr().unwrap()).await;
    let (client, sink) = client(&relay.addr().to_string(), "echo@hub", metadata, source).await;
    relay.to_server().stall();
    Stalled {
        server,
        relay,
        client,
        sink,
    }
}

struct Stalled {
    server: DistributedNetwork,
    relay: FaultProxy,
    client: DistributedNetwork,
    sink: Record,
}

async fn run(client: &mut DistributedNetwork) -> Report {
    client.start().await.unwrap();
    bounded(client.wait()).await
}

async fn bounded<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(BOUND, future)
        .await
        .expect("finished within the failure bound")
}

/// Polls the client's /metrics until `name` reaches `at_least`.
async fn metric_reaches(client: &DistributedNetwork, name: &str, at_least: u64) {
    bounded(async {
        while metric(client, name).await < at_least {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_mode_errors_out_when_the_remote_actor_never_answers() {
    let server = server("stuck", Stuck, Ports::new(["in"], ["out"])).await;
    let addr = server.local_addr().unwrap().to_string();
    let metadata = json!({"timeout_ms": 200, "failure_mode": "fail"});
    let source = Repeat {
        count: 3,
        payload: Message::Integer(1),
    };
    let (mut client, sink) = client(&addr, "stuck@hub", metadata, source).await;

    let report = run(&mut client).await;
    let error = failure_of_remote(&report);
    assert!(
        error.contains("timed out after 200 ms waiting for `stuck@hub` to finish"),
        "{error}"
    );
    assert!(sink.values().is_empty());
    assert_eq!(metric(&client, "proxy_timeouts_total").await, 1);
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_mode_finishes_and_counts_when_the_remote_actor_never_answers() {
    let server = server("stuck", Stuck, Ports::new(["in"], ["out"])).await;
    let addr = server.local_addr().unwrap().to_string();
    let metadata = json!({"timeout_ms": 200, "failure_mode": "skip", "x": 40, "y": 80});
    let source = Repeat {
        count: 3,
        payload: Message::Integer(1),
    };
    let (mut client, sink) = client(&addr, "stuck@hub", metadata, source).await;

    let report = run(&mut client).await;
    assert!(report.is_success(), "{report:?}");
    assert!(*sink.ended.lock(), "the proxy's outports ended");
    let skipped = "proxy_skipped_total{reason=\"reply_timeout\"}";
    assert_eq!(metric(&client, skipped).await, 1);
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_mode_errors_out_when_the_link_takes_nothing() {
    let metadata = json!({"timeout_ms": 50});
    let mut t = stalled_echo(metadata, big_messages(MANY)).await;

    let report = run(&mut t.client).await;
    let error = failure_of_remote(&report);
    assert!(
        error.contains("timed out after 50 ms sending to `echo@hub`: the link did not take"),
        "{error}"
    );
    assert_eq!(metric(&t.client, "proxy_retries_total").await, 0);
    t.relay.pass();
    t.client.shutdown().await;
    t.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_mode_drops_what_the_link_does_not_take_and_counts_it() {
    let metadata = json!({"timeout_ms": 20, "failure_mode": "skip"});
    let mut t = stalled_echo(metadata, big_messages(MANY)).await;

    let report = run(&mut t.client).await;
    assert!(report.is_success(), "{report:?}");
    assert!(t.sink.values().is_empty(), "nothing passed the relay");
    assert!(*t.sink.ended.lock());
    let dropped = "proxy_skipped_total{reason=\"send_timeout\"}";
    assert!(metric(&t.client, dropped).await >= 1);
    let abandoned = "proxy_skipped_total{reason=\"reply_timeout\"}";
    assert_eq!(metric(&t.client, abandoned).await, 1);
    t.relay.pass();
    t.client.shutdown().await;
    t.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_mode_retries_with_backoff_then_fails() {
    let metadata = json!({
        "timeout_ms": 20, "failure_mode": "retry", "retries": 2, "retry_backoff_ms": 5
    });
    let mut t = stalled_echo(metadata, big_messages(MANY)).await;

    let report = run(&mut t.client).await;
    let error = failure_of_remote(&report);
    assert!(
        error.contains("timed out after 20 ms sending to `echo@hub` (3 attempts)"),
        "{error}"
    );
    // The message that failed timed out 3 times and was retried twice. On a loaded machine
    // an earlier one may also have timed out once while the buffers were still filling,
    // then gone through on its retry: one timeout and one retry more each.
    let retries = metric(&t.client, "proxy_retries_total").await;
    let timeouts = metric(&t.client, "proxy_timeouts_total").await;
    assert!(retries >= 2, "{retries} retries");
    assert_eq!(timeouts, retries + 1);
    t.relay.pass();
    t.client.shutdown().await;
    t.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_mode_delivers_everything_once_the_link_takes_it_again() {
    let metadata = json!({
        "timeout_ms": 20, "failure_mode": "retry", "retries": 100_000, "retry_backoff_ms": 1
    });
    let mut t = stalled_echo(metadata, big_messages(MANY)).await;
    t.client.start().await.unwrap();
    metric_reaches(&t.client, "proxy_retries_total", 1).await;
    t.relay.pass();

    let report = bounded(t.client.wait()).await;
    assert!(report.is_success(), "{report:?}");
    // Every message once, none lost to a timed-out attempt, none doubled by a retry.
    assert_eq!(t.sink.values().len(), MANY);
    assert!(*t.sink.ended.lock());
    t.client.shutdown().await;
    t.server.shutdown().await;
}

#[tokio::test]
async fn bad_metadata_is_a_configuration_error_naming_the_process() {
    let cases = [
        (
            json!({"failure_mode": "explode"}),
            "process `remote`: bad configuration: `failure_mode` must be \"fail\", \"skip\" or \"retry\", not \"explode\"",
        ),
        (
            json!({"timeout_ms": "5s"}),
            "process `remote`: bad configuration: `timeout_ms` must be a whole number of at least 1, not \"5s\"",
        ),
        (
            json!({"retries": -1}),
            "process `remote`: bad configuration: `retries` must be a whole number of at least 0, not -1",
        ),
    ];
    // No link at all: the configuration is refused before any wait for the peer.
    let mut client =
        DistributedNetwork::new(config("producer"), reflow::actors::registry()).unwrap();
    for (metadata, expected) in cases {
        let err = client
            .add_graph(&remote_graph("echo@hub", metadata))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, BridgeError::Network(reflow::Error::Config { process, .. }) if process == "remote"),
            "{err:?}"
        );
        assert_eq!(err.to_string(), expected);
    }
}
