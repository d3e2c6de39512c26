//! Instances that find each other only through HTTP discovery registries (real registries
//! and real links on 127.0.0.1:0): nobody is given a peer's address.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use common::{http_get, Record};
use reflow::actors::Forward;
use reflow::{Graph, Message};
use reflow_bridge::discovery::{DiscoveryServer, RegistryConfig, RunningRegistry};
use reflow_bridge::{DistributedConfig, DistributedNetwork};
use serde_json::json;

const TOKEN: &str = "discovery-token";
/// Failure bound for what must happen: never reached when the test passes.
const BOUND: Duration = Duration::from_secs(30);

async fn registry() -> RunningRegistry {
    DiscoveryServer::serve(RegistryConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn config(network: &str, endpoints: &[String]) -> DistributedConfig {
    let mut config = common::bridge_config(network, true, Some(TOKEN));
    config.discovery_endpoints = endpoints.to_vec();
    config.discovery_interval = Duration::from_millis(100);
    config.resolve_timeout = BOUND;
    config
}

async fn bounded<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(BOUND, future)
        .await
        .expect("happened within the failure bound")
}

/// An instance of `network` exporting a `Forward` as `echo`, found only by discovery.
async fn echo_instance(network: &str, endpoints: &[String]) -> DistributedNetwork {
    let mut dn =
        DistributedNetwork::new(config(network, endpoints), reflow::actors::registry()).unwrap();
    dn.register_local_actor("echo", Forward, json!({"capability": "echo"}))
        .unwrap();
    dn.start().await.unwrap();
    dn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_find_each_other_through_a_registry_and_run_a_graph() {
    let registry = registry().await;
    let endpoints = vec![format!("http://{}", registry.local_addr())];
    let alpha = echo_instance("alpha", &endpoints).await;
    let beta = echo_instance("beta", &endpoints).await;

    // The producer knows only the registry; its graph names both remote echoes.
    let mut producer =
        DistributedNetwork::new(config("producer", &endpoints), reflow::actors::registry())
            .unwrap();
    producer.start_discovery().await.unwrap();
    let graph = json!({
        "processes": {
            "numbers": {"component": "Range", "metadata": {"start": 1, "end": 6}},
            "first": {"component": "echo@alpha"},
            "second": {"component": "echo@beta"}
        },
        "connections": [
            {"src": {"process": "numbers", "port": "out"}, "tgt": {"process": "first", "port": "in"}},
            {"src": {"process": "first", "port": "out"}, "tgt": {"process": "second", "port": "in"}}
        ]
    });
    producer
        .add_graph(&Graph::from_json_str(&graph.to_string()).unwrap())
        .await
        .unwrap();
    let sink = Record::default();
    let net = producer.network_mut().unwrap();
    net.add_actor("sink", sink.clone(), Record::ports())
        .unwrap();
    net.add_connection(("second", "out"), ("sink", "in"))
        .unwrap();
    producer.start().await.unwrap();
    let report = bounded(producer.wait()).await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(sink.integers(), vec![1, 2, 3, 4, 5]);

    // alpha and beta found each other too.
    bounded(alpha.wait_peers(|p| p.iter().any(|p| p.network_id == "beta"))).await;
    bounded(beta.wait_peers(|p| p.iter().any(|p| p.network_id == "alpha"))).await;
    let listed = http_get(&registry.local_addr().to_string(), "/v1/instances").await;
    for network in ["alpha", "beta", "producer"] {
        assert!(
            listed.contains(&format!("\"network_id\":\"{network}\"")),
            "{listed}"
        );
    }
    assert!(
        listed.contains("\"capability\":\"echo\""),
        "exports are registered: {listed}"
    );
    producer.shutdown().await;
    alpha.shutdown().await;
    beta.shutdown().await;
    registry.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_endpoint_down_is_not_fatal_and_a_departed_instance_is_forgotten() {
    let registry = registry().await;
    // The first endpoint refuses connections: logged, and the second one is used.
    let endpoints = vec![
        "http://127.0.0.1:1".to_string(),
        format!("http://{}", registry.local_addr()),
    ];
    let inbox = Record::default();
    let mut server =
        DistributedNetwork::new(config("sink", &endpoints), reflow::actors::registry()).unwrap();
    let net = server.network_mut().unwrap();
    net.add_actor("inbox", inbox.clone(), Record::ports())
        .unwrap();
    server.export("inbox", json!(null)).unwrap();
    server.start().await.unwrap();
    let mut client =
        DistributedNetwork::new(config("source", &endpoints), reflow::actors::registry()).unwrap();
    client.start().await.unwrap();
    client
        .send_to_remote_actor("sink", "inbox", "in", Message::Integer(7))
        .await
        .unwrap();
    bounded(inbox.wait_for(1)).await;

    // The server leaves: it deregisters, its link closes with a goodbye, and the client
    // neither lists nor redials it.
    let server_id = server.instance_id().to_string();
    server.shutdown().await;
    bounded(client.wait_peers(|p| p.is_empty())).await;
    // Shutdown returns once the server has deregistered.
    let listed = http_get(&registry.local_addr().to_string(), "/v1/instances").await;
    assert!(!listed.contains(&server_id), "{listed}");
    // An absence is seen after the client has listed the registry three more times.
    let rounds = common::metric(&client, "discovery_rounds_total").await;
    bounded(async {
        while common::metric(&client, "discovery_rounds_total").await < rounds + 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        client.peers().is_empty(),
        "a departed instance is not dialled again"
    );
    assert!(client.bridge_status().links.is_empty());
    client.shutdown().await;
    registry.stop().await;
}

/// A client that lists the registry before its peer has registered still resolves the
/// peer's actor while it waits: waiting asks the registry again (here the regular interval,
/// a minute, is longer than the whole wait, so only that can find it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_registers_while_a_client_waits_for_its_actor_is_found() {
    let registry = registry().await;
    let endpoints = [format!("http://{}", registry.local_addr())];
    let mut client_config = config("client", &endpoints);
    client_config.bind = None;
    client_config.discovery_interval = Duration::from_secs(60);
    let mut client = DistributedNetwork::new(client_config, reflow::actors::registry()).unwrap();
    client.start_discovery().await.unwrap();
    // The client's first listing leaves as discovery starts, before the server below has
    // even started; the resolution is already waiting when the server registers.
    let (resolved, server) = tokio::join!(
        client.register_remote_actor("echo", "late"),
        echo_instance("late", &endpoints)
    );
    assert_eq!(resolved.unwrap(), "echo");
    client.shutdown().await;
    server.shutdown().await;
    registry.stop().await;
}
