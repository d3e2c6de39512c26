//! Several clients of one exported actor: what a client's messages cause goes back to that
//! client only; what the actor emits on its own goes to every client. Plus the listener's
//! robustness and shutdown as the peer sees it.
#![allow(clippy::unwrap_used)]

use crate::common;

use common::http_get;

use std::collections::HashSet;
use std::time::Duration;

use common::Record;
use reflow::{Actor, ActorResult, Context, Message, Origin, Ports};
use reflow_bridge::{BridgeEvent, DistributedConfig, DistributedNetwork};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::oneshot;

const TOKEN: &str = "another-shared-token";

fn config(network: &str, bind: bool) -> DistributedConfig {
    common::bridge_config(network, bind, Some(TOKEN))
}

/// Echoes each message to whoever sent it; once two different sessions have spoken, emits
/// `tick` on its own (from a timer), which every session receives.
#[derive(Default)]
struct Pair {
    origins: HashSet<Origin>,
    fired: bool,
}

impl Actor for Pair {
    async fn on_message(&mut self, _: &str, msg: Message, ctx: &mut Context) -> ActorResult {
        self.origins.insert(ctx.origin());
        ctx.send("out", msg).await?;
        if self.origins.len() == 2 && !self.fired {
            self.fired = true;
            ctx.set_timer(Duration::ZERO);
        }
        Ok(())
    }

    async fn on_timer(&mut self, ctx: &mut Context) -> ActorResult {
        ctx.send("out", Message::from("tick")).await
    }
}

/// Sends one greeting, then holds its output open until released.
struct Gate {
    greeting: &'static str,
    release: Option<oneshot::Receiver<()>>,
}

impl Actor for Gate {
    async fn on_start(&mut self, ctx: &mut Context) -> ActorResult {
        ctx.send("out", Message::from(self.greeting)).await?;
        if let Some(release) = self.release.take() {
            let _ = release.await;
        }
        Ok(())
    }

    async fn on_message(&mut self, _: &str, _: Message, _: &mut Context) -> ActorResult {
        Ok(())
    }
}

async fn client(
    name: &'static str,
    addr: &str,
) -> (DistributedNetwork, Record, oneshot::Sender<()>) {
    let mut dn = DistributedNetwork::new(config(name, false), reflow::actors::registry()).unwrap();
    dn.connect_to_network(addr).await.unwrap();
    let proxy = dn.register_remote_actor("pair", "hub").await.unwrap();
    let (release, released) = oneshot::channel();
    let sink = Record::default();
    let net = dn.network_mut().unwrap();
    let gate = Gate {
        greeting: name,
        release: Some(released),
    };
    net.add_actor("gate", gate, Ports::new(Vec::<String>::new(), ["out"]))
        .unwrap();
    net.add_actor("sink", sink.clone(), Record::ports())
        .unwrap();
    net.add_connection(("gate", "out"), (proxy.as_str(), "in"))
        .unwrap();
    net.add_connection((proxy.as_str(), "out"), ("sink", "in"))
        .unwrap();
    dn.start().await.unwrap();
    (dn, sink, release)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_go_to_their_own_client_and_broadcasts_to_all() {
    let mut server =
        DistributedNetwork::new(config("hub", true), reflow::actors::registry()).unwrap();
    let net = server.network_mut().unwrap();
    net.add_actor("pair", Pair::default(), Ports::new(["in"], ["out"]))
        .unwrap();
    server.export("pair", json!({"role": "pairing"})).unwrap();
    server.start().await.unwrap();
    let addr = server.local_addr().unwrap().to_string();

    let (mut alice, alice_sink, alice_release) = client("alice", &addr).await;
    let (mut bob, bob_sink, bob_release) = client("bob", &addr).await;
    alice_sink.wait_for(2).await;
    bob_sink.wait_for(2).await;
    alice_release.send(()).unwrap();
    bob_release.send(()).unwrap();
    assert!(alice.wait().await.is_success());
    assert!(bob.wait().await.is_success());

    assert_eq!(
        alice_sink.values(),
        [Message::from("alice"), Message::from("tick")]
    );
    assert_eq!(
        bob_sink.values(),
        [Message::from("bob"), Message::from("tick")]
    );
    assert_eq!(server.bridge_status().links.len(), 2);
    alice.shutdown().await;
    bob.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn stray_http_and_idle_connections_do_not_stop_a_peer_from_linking() {
    let mut server =
        DistributedNetwork::new(config("hub", true), reflow::actors::registry()).unwrap();
    server.start().await.unwrap();
    let addr = server.local_addr().unwrap().to_string();

    let _idle = TcpStream::connect(&addr).await.unwrap();
    let mut garbage = TcpStream::connect(&addr).await.unwrap();
    garbage
        .write_all(b"\x16\x03\x01 not http at all\r\n\r\n")
        .await
        .unwrap();
    assert!(http_get(&addr, "/").await.starts_with("HTTP/1.1 404"));

    let client =
        DistributedNetwork::new(config("visitor", false), reflow::actors::registry()).unwrap();
    let peer = client.connect_to_network(&addr).await.unwrap();
    assert_eq!(peer.network_id, "hub");
    let health = http_get(&addr, "/health").await;
    assert!(
        health.starts_with("HTTP/1.1 200") && health.contains(r#""status":"ok""#),
        "{health}"
    );
    let status = http_get(&addr, "/status").await;
    assert!(status.contains(r#""peer_network":"visitor""#), "{status}");
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_tokens_are_counted_in_metrics() {
    let mut server =
        DistributedNetwork::new(config("hub", true), reflow::actors::registry()).unwrap();
    server.start().await.unwrap();
    let addr = server.local_addr().unwrap().to_string();
    let mut bad = config("intruder", false);
    bad.auth_token = Some("not-the-token".into());
    let intruder = DistributedNetwork::new(bad, reflow::actors::registry()).unwrap();
    assert!(intruder.connect_to_network(&addr).await.is_err());
    let metrics = http_get(&addr, "/metrics").await;
    assert!(
        metrics.contains("reflow_bridge_handshake_failures_total{reason=\"auth_failed\"} 1"),
        "{metrics}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_peer_sees_the_link_go_when_the_other_side_shuts_down() {
    let mut server =
        DistributedNetwork::new(config("hub", true), reflow::actors::registry()).unwrap();
    server.start().await.unwrap();
    let addr = server.local_addr().unwrap().to_string();
    let client =
        DistributedNetwork::new(config("visitor", false), reflow::actors::registry()).unwrap();
    client.connect_to_network(&addr).await.unwrap();
    assert_eq!(client.peers().len(), 1);
    let mut events = client.bridge_events();

    server.shutdown().await;
    tokio::time::timeout(
        Duration::from_secs(10),
        client.wait_peers(|peers| peers.is_empty()),
    )
    .await
    .expect("the client saw the link close");
    let event = events.recv().await.unwrap();
    let BridgeEvent::PeerDown {
        network_id, reason, ..
    } = event
    else {
        panic!("expected PeerDown, got {event:?}");
    };
    assert_eq!(network_id, "hub");
    assert!(reason.contains("shutting down"), "{reason}");
    client.shutdown().await;
}
