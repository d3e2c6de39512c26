//! The bridge under network faults, injected by the relay of the test helpers between two
//! instances on 127.0.0.1: a link that breaks is noticed and leaves both sides.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::fault::FaultProxy;
use common::Record;
use reflow::actors::Forward;
use reflow::Message;
use reflow_bridge::{BridgeEvent, DistributedConfig, DistributedNetwork};
use serde_json::json;

const TOKEN: &str = "faults-token";
/// Failure bound for what must happen: never reached when the test passes.
const BOUND: Duration = Duration::from_secs(10);

fn config(network: &str, bind: bool) -> DistributedConfig {
    common::bridge_config(network, bind, Some(TOKEN))
}

/// A server exporting `echo` (a Forward) and an `inbox` that records, behind a fault proxy.
async fn server_behind_proxy() -> (DistributedNetwork, Record, FaultProxy) {
    let mut server =
        DistributedNetwork::new(config("validation", true), reflow::actors::registry()).unwrap();
    server
        .register_local_actor("echo", Forward, json!({"version": 1}))
        .unwrap();
    let inbox = Record::default();
    let net = server.network_mut().unwrap();
    net.add_actor("inbox", inbox.clone(), Record::ports())
        .unwrap();
    server.export("inbox", json!(null)).unwrap();
    server.start().await.unwrap();
    let proxy = FaultProxy::start(server.local_addr().unwrap()).await;
    (server, inbox, proxy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_link_is_noticed_and_removed_on_both_sides() {
    let (server, inbox, proxy) = server_behind_proxy().await;
    let client =
        DistributedNetwork::new(config("producer", false), reflow::actors::registry()).unwrap();
    client
        .connect_to_network(&proxy.addr().to_string())
        .await
        .unwrap();
    client.wait_peers(|p| p.len() == 1).await;
    client
        .send_to_remote_actor("validation", "inbox", "in", Message::Integer(7))
        .await
        .unwrap();
    timeout(inbox.wait_for(1)).await;
    assert_eq!(proxy.connections(), 1, "the link runs through the proxy");

    proxy.reset();
    timeout(client.wait_peers(|p| p.is_empty())).await;
    timeout(server.wait_peers(|p| p.is_empty())).await;
    assert!(client.bridge_status().links.is_empty());
    assert!(server.bridge_status().links.is_empty());
    client.shutdown().await;
    server.shutdown().await;
}

async fn timeout<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(BOUND, future)
        .await
        .expect("happened within the failure bound")
}

/// A silent partition raises no TCP error: only the heartbeat deadline notices it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_partition_is_noticed_by_heartbeats() {
    let (server, _inbox, proxy) = server_behind_proxy().await;
    let mut config = config("producer", false);
    config.heartbeat_interval_ms = 100;
    let client = DistributedNetwork::new(config, reflow::actors::registry()).unwrap();
    client
        .connect_to_network(&proxy.addr().to_string())
        .await
        .unwrap();
    client.wait_peers(|p| p.len() == 1).await;
    let mut events = client.bridge_events();
    proxy.blackhole();
    timeout(client.wait_peers(|p| p.is_empty())).await;
    match timeout(events.recv()).await.unwrap() {
        BridgeEvent::PeerDown {
            network_id, reason, ..
        } => {
            assert_eq!(network_id, "validation");
            assert!(reason.contains("silent"), "{reason}");
        }
        other => panic!("expected PeerDown, got {other:?}"),
    }
    client.shutdown().await;
    server.shutdown().await;
}
