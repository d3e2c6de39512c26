//! Link bookkeeping: one link per pair of instances, messages sent outside any proxy, and
//! remote names that cannot be resolved.
#![allow(clippy::unwrap_used)]

use crate::common;

use reflow::Message;
use reflow_bridge::{BridgeError, DistributedConfig, DistributedNetwork, LinkState};

const TOKEN: &str = "links-token";

fn config(network: &str, instance: &str) -> DistributedConfig {
    let mut config = common::bridge_config(network, true, Some(TOKEN));
    config.instance_id = instance.into();
    config
}

async fn started(network: &str, instance: &str) -> (DistributedNetwork, String) {
    let mut dn =
        DistributedNetwork::new(config(network, instance), reflow::actors::registry()).unwrap();
    dn.start().await.unwrap();
    let addr = dn.local_addr().unwrap().to_string();
    (dn, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simultaneous_dial_from_both_sides_leaves_one_link() {
    let (a, a_addr) = started("east", "instance-a").await;
    let (b, b_addr) = started("west", "instance-b").await;
    let (from_a, from_b) =
        tokio::join!(a.connect_to_network(&b_addr), b.connect_to_network(&a_addr));
    // One dial may lose the tie-break; the other always stands.
    assert!(from_a.is_ok() || from_b.is_ok(), "{from_a:?} {from_b:?}");
    a.wait_peers(|p| p.len() == 1).await;
    b.wait_peers(|p| p.len() == 1).await;
    // Both sides end on the same connection: dialled by one of them, accepted by the other.
    // When the second connection resumes the first one's session, each side moves its link onto
    // it in its own time, so the two sides agree only once both have.
    let mut statuses = (a.bridge_status(), b.bridge_status());
    for _ in 0..500 {
        let (sa, sb) = &statuses;
        if sa.links.len() == 1 && sb.links.len() == 1 && same_connection(sa, sb) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        statuses = (a.bridge_status(), b.bridge_status());
    }
    let (sa, sb) = statuses;
    assert_eq!(sa.links.len(), 1);
    assert_eq!(sb.links.len(), 1);
    assert!(same_connection(&sa, &sb), "{sa:?} {sb:?}");
    a.shutdown().await;
    b.shutdown().await;
}

/// Whether both sides' only link is up on one connection: of the two connections, the one
/// that one side dialled and the other accepted.
fn same_connection(a: &reflow_bridge::Status, b: &reflow_bridge::Status) -> bool {
    let (a, b) = (&a.links[0], &b.links[0]);
    a.state == LinkState::Up && b.state == LinkState::Up && a.dialed_by_us != b.dialed_by_us
}

#[tokio::test]
async fn a_second_dial_from_the_same_process_resumes_its_link() {
    let (server, addr) = started("hub", "server-1").await;
    let client =
        DistributedNetwork::new(config("spoke", "client-1"), reflow::actors::registry()).unwrap();
    client.connect_to_network(&addr).await.unwrap();
    client.connect_to_network(&addr).await.unwrap();
    assert_eq!(server.bridge_status().links.len(), 1);
    assert_eq!(client.bridge_status().links.len(), 1);
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn another_process_claiming_a_linked_instance_id_is_refused() {
    let (server, addr) = started("hub", "server-3").await;
    let first =
        DistributedNetwork::new(config("spoke", "client-3"), reflow::actors::registry()).unwrap();
    first.connect_to_network(&addr).await.unwrap();
    let impostor =
        DistributedNetwork::new(config("spoke", "client-3"), reflow::actors::registry()).unwrap();
    let err = impostor.connect_to_network(&addr).await.unwrap_err();
    assert!(matches!(err, BridgeError::DuplicateInstance(_)), "{err}");
    assert_eq!(server.bridge_status().links.len(), 1);
    first.shutdown().await;
    impostor.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn send_to_remote_actor_reaches_an_exported_actor() {
    let (server, inbox) = common::record_inbox(config("hub", "server-2")).await;
    let addr = server.local_addr().unwrap().to_string();

    let client =
        DistributedNetwork::new(config("spoke", "client-2"), reflow::actors::registry()).unwrap();
    client.connect_to_network(&addr).await.unwrap();
    client.wait_peers(|p| p.len() == 1).await;
    for i in 0..3 {
        client
            .send_to_remote_actor("hub", "inbox", "in", Message::Integer(i))
            .await
            .unwrap();
    }
    inbox.wait_for(3).await;
    assert_eq!(inbox.integers(), [0, 1, 2]);

    let err = client
        .send_to_remote_actor("hub", "outbox", "in", Message::Flow)
        .await
        .unwrap_err();
    assert!(matches!(err, BridgeError::ActorNotFound { .. }), "{err}");
    let err = client
        .send_to_remote_actor("elsewhere", "inbox", "in", Message::Flow)
        .await
        .unwrap_err();
    assert!(
        matches!(err, BridgeError::NetworkUnreachable { .. }),
        "{err}"
    );
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_graph_naming_an_unreachable_network_fails_with_its_name() {
    let mut lonely =
        DistributedNetwork::new(config("alone", "lonely-1"), reflow::actors::registry()).unwrap();
    let graph =
        reflow::Graph::from_json_str(r#"{"processes": {"v": {"component": "validator@checks"}}}"#)
            .unwrap();
    let err = lonely.add_graph(&graph).await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, BridgeError::NetworkUnreachable { .. }),
        "{text}"
    );
    assert!(text.contains("`checks`"), "{text}");
}

#[tokio::test]
async fn a_distributed_network_can_be_shared_with_spawned_tasks() {
    fn shareable<T: Send + Sync>(_: &T) {}
    let (server, addr) = started("hub", "server-3").await;
    let client = std::sync::Arc::new(
        DistributedNetwork::new(config("spoke", "client-3"), reflow::actors::registry()).unwrap(),
    );
    shareable(&*client);
    let dialer = client.clone();
    let peer = tokio::spawn(async move { dialer.connect_to_network(&addr).await })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(peer.network_id, "hub");
    server.shutdown().await;
}

/// A client linked before the peer exports anything resolves `actor@network` once the peer
/// starts and announces it: the resolution waits for the announcement instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actor_exported_after_the_link_is_up_resolves_when_announced() {
    let mut server =
        DistributedNetwork::new(config("late", "late-1"), reflow::actors::registry()).unwrap();
    server
        .register_local_actor("echo", reflow::actors::Forward, serde_json::Value::Null)
        .unwrap();
    let addr = server.listen().await.unwrap().unwrap().to_string();
    let mut client =
        DistributedNetwork::new(config("early", "early-1"), reflow::actors::registry()).unwrap();
    client.connect_to_network(&addr).await.unwrap();
    assert!(client.bridge_status().remote_actors.is_empty());
    let (resolved, started) = tokio::join!(client.register_remote_actor("echo", "late"), async {
        // Started once the client is already waiting for the announcement.
        tokio::task::yield_now().await;
        server.start().await
    });
    started.unwrap();
    assert_eq!(resolved.unwrap(), "echo");
    client.shutdown().await;
    server.shutdown().await;
}
