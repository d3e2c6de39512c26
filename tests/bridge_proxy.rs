//! Two instances in one process over real sockets on 127.0.0.1: a remote actor used from a
//! graph behaves like a local one, both directions, in order, and completes.
#![allow(clippy::unwrap_used)]

use crate::common;

use common::Record;
use reflow::actors::Forward;
use reflow_bridge::{AliasStrategy, BridgeError, DistributedConfig, DistributedNetwork};
use serde_json::{json, Value};

const TOKEN: &str = "s3cret-shared-token";

fn config(network: &str, bind: bool, token: Option<&str>) -> DistributedConfig {
    common::bridge_config(network, bind, token)
}

/// A client linked to the server that has a local process named `echo` as well.
async fn client_with_local_echo(addr: &str) -> DistributedNetwork {
    let registry = reflow::actors::registry();
    let mut client =
        DistributedNetwork::new(config("producer", false, Some(TOKEN)), registry).unwrap();
    client.connect_to_network(addr).await.unwrap();
    let net = client.network_mut().unwrap();
    net.add_node("echo", "Forward", Value::Null).unwrap();
    client
}

/// A server exporting `echo` (a Forward), started and listening.
async fn server() -> (DistributedNetwork, String) {
    let mut dn = DistributedNetwork::new(
        config("validation", true, Some(TOKEN)),
        reflow::actors::registry(),
    )
    .unwrap();
    dn.register_local_actor("echo", Forward, json!({"version": 1}))
        .unwrap();
    dn.start().await.unwrap();
    let addr = dn.local_addr().unwrap().to_string();
    (dn, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_actor_in_a_graph_carries_100k_messages_in_order_and_completes() {
    let (server, addr) = server().await;
    let mut client = DistributedNetwork::new(
        config("producer", false, Some(TOKEN)),
        reflow::actors::registry(),
    )
    .unwrap();
    let peer = client.connect_to_network(&addr).await.unwrap();
    assert_eq!(peer.network_id, "validation");

    let sink = common::echo_through_proxy(&mut client, 100_000).await;
    assert_eq!(sink.integers(), (0..100_000).collect::<Vec<_>>());
    assert!(
        *sink.ended.lock(),
        "end of stream came back through the proxy"
    );

    let status = server.bridge_status();
    assert_eq!(status.exported[0].name, "echo");
    assert_eq!(status.links.len(), 1);
    assert_eq!(status.links[0].peer_network, "producer");
    assert!(status.links[0].messages_in >= 100_000);
    // The client leaves having delivered every reply: its Bye acknowledges them, so the
    // server reports nothing lost.
    client.shutdown().await;
    server.wait_peers(|p| p.is_empty()).await;
    assert_eq!(server.bridge_status().messages_lost, 0);
    server.shutdown().await;
}

/// A [`Record`] that pauses every `every` messages, so that its inbox fills now and then.
struct Dawdle {
    record: Record,
    every: usize,
    seen: usize,
}

impl reflow::Actor for Dawdle {
    async fn on_message(
        &mut self,
        port: &str,
        msg: reflow::Message,
        ctx: &mut reflow::Context,
    ) -> reflow::ActorResult {
        self.seen += 1;
        if self.seen % self.every == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        self.record.on_message(port, msg, ctx).await
    }

    async fn on_end(&mut self, ctx: &mut reflow::Context) -> reflow::ActorResult {
        self.record.on_end(ctx).await
    }
}

/// Replies leave the proxy straight from the link while its receivers have room, and queue
/// behind the forwarder while one is full: with inboxes of two and a receiver that pauses,
/// the two ways take turns thousands of times, and both receivers still get every reply,
/// once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_keep_their_order_when_a_receiver_behind_the_proxy_falls_behind() {
    let (server, addr) = server().await;
    let mut config = config("producer", false, Some(TOKEN));
    config.local.capacity = 2;
    let mut client = DistributedNetwork::new(config, reflow::actors::registry()).unwrap();
    client.connect_to_network(&addr).await.unwrap();
    let graph = json!({
        "processes": {
            "numbers": {"component": "Range", "metadata": {"end": 20_000}},
            "remote": {"component": "echo@validation"}
        },
        "connections": [
            {"src": {"process": "numbers", "port": "out"}, "tgt": {"process": "remote", "port": "in"}}
        ]
    });
    let graph = reflow::Graph::from_json_str(&graph.to_string()).unwrap();
    client.add_graph(&graph).await.unwrap();
    let (fast, slow) = (Record::default(), Record::default());
    let dawdle = Dawdle {
        record: slow.clone(),
        every: 500,
        seen: 0,
    };
    let net = client.network_mut().unwrap();
    net.add_actor("fast", fast.clone(), Record::ports())
        .unwrap();
    net.add_actor("slow", dawdle, Record::ports()).unwrap();
    net.add_connection(("remote", "out"), ("fast", "in"))
        .unwrap();
    net.add_connection(("remote", "out"), ("slow", "in"))
        .unwrap();
    client.start().await.unwrap();
    let report = client.wait().await;
    assert!(report.is_success(), "{report:?}");
    let expected: Vec<i64> = (0..20_000).collect();
    assert_eq!(fast.integers(), expected);
    assert_eq!(slow.integers(), expected);
    assert!(*fast.ended.lock() && *slow.ended.lock());
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_proxies_of_one_remote_actor_sharing_a_link_each_get_their_own_replies() {
    let (server, addr) = server().await;
    let mut client = DistributedNetwork::new(
        config("producer", false, Some(TOKEN)),
        reflow::actors::registry(),
    )
    .unwrap();
    client.connect_to_network(&addr).await.unwrap();
    // Both proxies write into the same link, so their frames interleave in the same
    // WebSocket messages.
    let graph = reflow::Graph::from_json_str(
        r#"{
        "processes": {
            "evens": {"component": "Range", "metadata": {"start": 0, "end": 40000, "step": 2}},
            "odds": {"component": "Range", "metadata": {"start": 1, "end": 40000, "step": 2}},
            "left": {"component": "echo@validation"},
            "right": {"component": "echo@validation"}
        },
        "connections": [
            {"src": {"process": "evens", "port": "out"}, "tgt": {"process": "left", "port": "in"}},
            {"src": {"process": "odds", "port": "out"}, "tgt": {"process": "right", "port": "in"}}
        ]
    }"#,
    )
    .unwrap();
    client.add_graph(&graph).await.unwrap();
    let (left, right) = (Record::default(), Record::default());
    let net = client.network_mut().unwrap();
    for (proxy, sink, record) in [
        ("left", "left_sink", &left),
        ("right", "right_sink", &right),
    ] {
        net.add_actor(sink, record.clone(), Record::ports())
            .unwrap();
        net.add_connection((proxy, "out"), (sink, "in")).unwrap();
    }
    client.start().await.unwrap();

    let report = client.wait().await;
    assert!(report.is_success(), "{report:?}");
    let (evens, odds): (Vec<i64>, Vec<i64>) = (0..40_000).partition(|i| i % 2 == 0);
    // Compared without printing 20,000 numbers on failure.
    assert!(
        left.integers() == evens,
        "left got replies of another session"
    );
    assert!(
        right.integers() == odds,
        "right got replies of another session"
    );
    assert!(*left.ended.lock() && *right.ended.lock());
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_and_missing_tokens_are_refused_with_a_typed_error() {
    let (server, addr) = server().await;
    let wrong = DistributedNetwork::new(
        config("intruder", false, Some("guess")),
        reflow::actors::registry(),
    )
    .unwrap();
    let err = wrong.connect_to_network(&addr).await.unwrap_err();
    assert!(matches!(err, BridgeError::AuthenticationFailed(_)), "{err}");
    let missing =
        DistributedNetwork::new(config("intruder", false, None), reflow::actors::registry())
            .unwrap();
    let err = missing.connect_to_network(&addr).await.unwrap_err();
    assert!(matches!(err, BridgeError::MissingToken(_)), "{err}");
    assert!(server.bridge_status().links.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn name_clashes_follow_the_chosen_strategy() {
    let (server, addr) = server().await;
    let mut client = client_with_local_echo(&addr).await;

    let auto = client
        .register_remote_actor("echo", "validation")
        .await
        .unwrap();
    assert_eq!(auto, "validation_echo");
    let again = client
        .register_remote_actor("echo", "validation")
        .await
        .unwrap();
    assert_eq!(again, "validation_echo", "registering twice is idempotent");
    let err = client
        .register_remote_actor_with_strategy(
            "echo",
            "validation",
            AliasStrategy::ManualAlias("checker".into()),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already registered"), "{err}");

    let status = client.bridge_status();
    let remote = &status
        .remote_actors
        .iter()
        .find(|r| r.actor == "echo")
        .unwrap();
    assert_eq!(
        (remote.local_name.as_str(), remote.aliased),
        ("validation_echo", true)
    );

    let err = client
        .register_remote_actor("nope", "validation")
        .await
        .unwrap_err();
    assert!(matches!(err, BridgeError::ActorNotFound { .. }), "{err}");
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn fail_strategy_refuses_a_clash_and_manual_alias_names_it() {
    let (server, addr) = server().await;
    let mut client = client_with_local_echo(&addr).await;
    let err = client
        .register_remote_actor_with_strategy("echo", "validation", AliasStrategy::Fail)
        .await
        .unwrap_err();
    assert!(matches!(err, BridgeError::Alias(_)), "{err}");
    let manual = client
        .register_remote_actor_with_strategy(
            "echo",
            "validation",
            AliasStrategy::ManualAlias("checker".into()),
        )
        .await
        .unwrap();
    assert_eq!(manual, "checker");
    client.shutdown().await;
    server.shutdown().await;
}

/// A name the peer does not export fails as soon as the peer has said what it exports, with
/// the nearest name: never the whole resolve timeout (an hour here: the test would outlive
/// its bound).
#[tokio::test]
async fn a_wrongly_cased_remote_name_fails_at_once_naming_the_export() {
    let (server, addr) = server().await;
    let mut config = config("producer", false, Some(TOKEN));
    config.resolve_timeout = std::time::Duration::from_secs(3600);
    let mut client = DistributedNetwork::new(config, reflow::actors::registry()).unwrap();
    client.connect_to_network(&addr).await.unwrap();
    let resolve = client.register_remote_actor("Echo", "validation");
    let bound = std::time::Duration::from_secs(60);
    let err = tokio::time::timeout(bound, resolve)
        .await
        .expect("an early answer, not the resolve timeout")
        .unwrap_err();
    assert!(matches!(err, BridgeError::ActorNotFound { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("did you mean `echo`?"), "{text}");
    client.shutdown().await;
    server.shutdown().await;
}

/// `connect_with_retry` waits for a peer that is not up yet, and gives up at once on a final
/// refusal (a wrong token) however long its patience.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_with_retry_waits_for_a_late_peer_but_not_for_a_wrong_token() {
    let hour = std::time::Duration::from_secs(3600);
    let bound = std::time::Duration::from_secs(60);
    // A free port, then nothing listening on it until the server starts.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let client = DistributedNetwork::new(
        config("producer", false, Some(TOKEN)),
        reflow::actors::registry(),
    )
    .unwrap();
    let dialing = client.connect_with_retry(&addr, hour);
    let serving = async {
        let mut server_config = config("validation", false, Some(TOKEN));
        server_config.bind = Some(addr.parse().unwrap());
        let mut server =
            DistributedNetwork::new(server_config, reflow::actors::registry()).unwrap();
        server.start().await.unwrap();
        server
    };
    let (linked, server) = tokio::time::timeout(bound, async { tokio::join!(dialing, serving) })
        .await
        .expect("linked once the server is up");
    assert_eq!(linked.unwrap().network_id, "validation");

    let stranger = DistributedNetwork::new(
        config("producer", false, Some("wrong")),
        reflow::actors::registry(),
    )
    .unwrap();
    let refused = tokio::time::timeout(bound, stranger.connect_with_retry(&addr, hour))
        .await
        .expect("a final error at once, not an hour of retries")
        .unwrap_err();
    assert!(!refused.is_temporary(), "{refused}");
    client.shutdown().await;
    stranger.shutdown().await;
    server.shutdown().await;
}
