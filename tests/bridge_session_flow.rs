//! Flow control per session inside one link: two proxies of one client instance share a
//! link to the exporting instance; one of them stalls (its remote instance, or its own
//! consumer, takes nothing), and the other still gets every reply.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use common::{Pump, Record, Stuck};
use reflow::{
    Actor, ActorResult, BoxedActor, ComponentInfo, Context, Graph, Message, Ports, Registry,
};
use reflow_bridge::{DistributedConfig, DistributedNetwork};
use serde_json::json;

const TOKEN: &str = "session-flow-token";

/// More than an inbox, a reply queue and a session window hold together: a stalled session
/// that took it all would stall the link.
const MANY: i64 = 3000;

/// The upper bound of one wait; reaching it fails the test, it never paces it.
const BOUND: Duration = Duration::from_secs(60);

fn config(network: &str, bind: bool) -> DistributedConfig {
    let mut config = common::bridge_config(network, bind, Some(TOKEN));
    // The stalled session never finishes: shutting down waits this long for it.
    config.shutdown_deadline = Duration::from_millis(300);
    config
}

/// Forwards every message, except that `"hold"` is never finished with.
struct Hold;

impl Actor for Hold {
    async fn on_message(&mut self, _: &str, msg: Message, ctx: &mut Context) -> ActorResult {
        if msg == Message::from("hold") {
            std::future::pending::<()>().await;
        }
        ctx.send("out", msg).await
    }
}

fn registry() -> Registry {
    let mut registry = reflow::actors::registry();
    let ports = Ports::new(["in"], ["out"]);
    let info = ComponentInfo::new("Hold", "forwards, and stalls on \"hold\"", ports);
    registry.register_fn(info, |_| Ok(BoxedActor::new(Hold)));
    registry
}

/// A server exporting `hold` (a `Hold`) and `relay` (a `Forward`), a session each.
async fn server() -> (DistributedNetwork, String) {
    let mut server = DistributedNetwork::new(config("srv", true), registry()).unwrap();
    let net = server.network_mut().unwrap();
    net.add_node("hold", "Hold", json!(null)).unwrap();
    net.add_node("relay", "Forward", json!(null)).unwrap();
    server.export("hold", json!(null)).unwrap();
    server.export("relay", json!(null)).unwrap();
    server.start().await.unwrap();
    let addr = server.local_addr().unwrap().to_string();
    (server, addr)
}

/// A client with two proxies of `actor@srv` over one link: `a`, fed `first` then `0..MANY`
/// into `a_sink`; `b`, fed `0..MANY` into a recorder, which it returns.
async fn client(
    addr: &str,
    actor: &str,
    first: Option<&str>,
    a_sink: impl Actor,
) -> (DistributedNetwork, Record) {
    let mut client = DistributedNetwork::new(config("client", false), registry()).unwrap();
    client.connect_to_network(addr).await.unwrap();
    // `a` is meant to stall: its timeout must not end the test first.
    let patient = json!({ "timeout_ms": 600_000 });
    let graph = json!({"processes": {
        "a": {"component": format!("{actor}@srv"), "metadata": patient},
        "b": {"component": format!("{actor}@srv")},
    }});
    let graph = Graph::from_json_str(&graph.to_string()).unwrap();
    client.add_graph(&graph).await.unwrap();
    let record = Record::default();
    let net = client.network_mut().unwrap();
    if let Some(first) = first {
        net.add_initial(("a", "in"), Message::from(first)).unwrap();
    }
    let pump = |count| Pump {
        count,
        sent: Arc::new(AtomicU64::new(0)),
    };
    net.add_actor("a_source", pump(MANY), common::source_ports())
        .unwrap();
    net.add_actor("b_source", pump(MANY), common::source_ports())
        .unwrap();
    net.add_actor("a_sink", a_sink, common::sink_ports())
        .unwrap();
    net.add_actor("b_sink", record.clone(), Record::ports())
        .unwrap();
    for (from, to) in [
        (("a_source", "out"), ("a", "in")),
        (("b_source", "out"), ("b", "in")),
        (("a", "out"), ("a_sink", "in")),
        (("b", "out"), ("b_sink", "in")),
    ] {
        net.add_connection(from, to).unwrap();
    }
    client.start().await.unwrap();
    (client, record)
}

async fn every_reply_of_b(record: &Record) {
    tokio::time::timeout(BOUND, record.wait_for(MANY as usize))
        .await
        .expect("b got every reply while a was stalled");
    assert_eq!(record.integers(), (0..MANY).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_whose_remote_instance_stalls_holds_back_no_other_on_the_link() {
    let (server, addr) = server().await;
    let (client, b) = client(&addr, "hold", Some("hold"), Record::default()).await;
    every_reply_of_b(&b).await;
    assert_eq!(client.peers().len(), 1, "both sessions share one link");
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_whose_consumer_stalls_holds_back_no_other_on_the_link() {
    let (server, addr) = server().await;
    let (client, b) = client(&addr, "relay", None, Stuck).await;
    every_reply_of_b(&b).await;
    assert_eq!(client.peers().len(), 1, "both sessions share one link");
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_that_waits_on_a_full_session_window_says_so() {
    let (server, addr) = server().await;
    let mut client = DistributedNetwork::new(config("client", false), registry()).unwrap();
    client.connect_to_network(&addr).await.unwrap();
    // Its replies wait for a consumer that never takes one; the timeout is the proxy's own.
    let graph = json!({"processes": {
        "a": {"component": "relay@srv", "metadata": { "timeout_ms": 300 }},
    }});
    let graph = Graph::from_json_str(&graph.to_string()).unwrap();
    client.add_graph(&graph).await.unwrap();
    let net = client.network_mut().unwrap();
    let pump = Pump {
        count: 10 * MANY,
        sent: Arc::new(AtomicU64::new(0)),
    };
    net.add_actor("source", pump, common::source_ports())
        .unwrap();
    net.add_actor("sink", Stuck, common::sink_ports()).unwrap();
    net.add_connection(("source", "out"), ("a", "in")).unwrap();
    net.add_connection(("a", "out"), ("sink", "in")).unwrap();
    let mut events = client.events().unwrap();
    client.start().await.unwrap();
    let report = tokio::time::timeout(BOUND, async {
        loop {
            if let Ok(reflow::NetworkEvent::ProcessFailed { process, error }) = events.recv().await
            {
                return (process, error);
            }
        }
    })
    .await
    .expect("the proxy failed");
    assert_eq!(report.0, "a");
    assert!(
        report
            .1
            .contains("the remote side has not taken this node's last 1024 messages"),
        "{}",
        report.1
    );
    client.shutdown().await;
    server.shutdown().await;
}
