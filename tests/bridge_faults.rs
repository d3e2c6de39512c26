//! The bridge under network faults, injected by the relay of the test helpers between two
//! instances on 127.0.0.1: lost connections are noticed, redialled and resumed with nothing
//! lost or duplicated; a peer that never comes back is given up with its loss reported.
//! Each test checks the history: the receiver logs every integer it gets, and the log must
//! be exactly 1..=N — in order, no gap, no duplicate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::fault::FaultProxy;
use common::Record;
use reflow::Message;
use reflow_bridge::{BridgeEvent, DistributedConfig, DistributedNetwork};

const TOKEN: &str = "faults-token";
/// Failure bound for what must happen: never reached when the test passes.
const BOUND: Duration = Duration::from_secs(60);

fn config(network: &str, bind: bool) -> DistributedConfig {
    let mut config = common::bridge_config(network, bind, Some(TOKEN));
    config.reconnect_initial = Duration::from_millis(2);
    config.reconnect_max = Duration::from_millis(20);
    config
}

/// A server exporting an `inbox` that records, behind a fault proxy.
async fn server_behind_proxy(
    config: DistributedConfig,
) -> (DistributedNetwork, Record, FaultProxy) {
    let (server, inbox) = common::record_inbox(config).await;
    let proxy = FaultProxy::start(server.local_addr().unwrap()).await;
    (server, inbox, proxy)
}

async fn client_of(proxy: &FaultProxy, config: DistributedConfig) -> Arc<DistributedNetwork> {
    let client = DistributedNetwork::new(config, reflow::actors::registry()).unwrap();
    client
        .connect_to_network(&proxy.addr().to_string())
        .await
        .unwrap();
    client.wait_peers(|p| p.len() == 1).await;
    Arc::new(client)
}

/// Sends 1..=count to the server's inbox, in order, from a task.
fn produce(client: &Arc<DistributedNetwork>, count: i64) -> tokio::task::JoinHandle<()> {
    let client = client.clone();
    tokio::spawn(async move {
        for i in 1..=count {
            client
                .send_to_remote_actor("validation", "inbox", "in", Message::Integer(i))
                .await
                .unwrap();
        }
    })
}

/// The history check: exactly 1..=count, in order.
fn assert_exactly_once_in_order(inbox: &Record, count: i64) {
    let got = inbox.integers();
    let duplicates = got.len() as i64 - count;
    let first_bad = got
        .iter()
        .zip(1..)
        .find(|(got, want)| **got != *want)
        .map(|(got, want)| format!("position {want}: got {got}"));
    assert_eq!(first_bad, None, "FIFO broken or a gap");
    assert_eq!(
        got.len() as i64,
        count,
        "{duplicates} extra (duplicates) or missing"
    );
}

async fn timeout<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(BOUND, future)
        .await
        .expect("happened within the failure bound")
}

async fn next_resumed(events: &mut tokio::sync::broadcast::Receiver<BridgeEvent>) -> u64 {
    loop {
        match timeout(events.recv()).await {
            Ok(BridgeEvent::LinkResumed { replayed, .. }) => return replayed,
            Ok(BridgeEvent::MessagesLost { count, reason, .. }) => {
                panic!("{count} messages lost: {reason}")
            }
            Ok(_) => continue,
            Err(err) => panic!("event stream: {err}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_during_10000_messages_deliver_each_exactly_once_in_order() {
    let (server, inbox, proxy) = server_behind_proxy(config("validation", true)).await;
    let client = client_of(&proxy, config("producer", false)).await;
    let mut events = client.bridge_events();
    let producer = produce(&client, 10_000);
    let mut replayed = 0;
    for at in [2_000, 5_000, 8_000] {
        timeout(inbox.wait_for(at)).await;
        proxy.reset();
        replayed += next_resumed(&mut events).await;
    }
    timeout(producer).await.unwrap();
    timeout(inbox.wait_for(10_000)).await;
    let status = client.bridge_status();
    println!(
        "10000 messages, 3 resets: delivered {}, resumes {}, replayed {replayed}, lost 0, duplicates 0",
        inbox.integers().len(),
        status.links[0].resumes
    );
    assert_exactly_once_in_order(&inbox, 10_000);
    assert_eq!(status.links[0].resumes, 3);
    Arc::try_unwrap(client).unwrap().shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_forced_reconnects_lose_and_duplicate_nothing() {
    let (server, inbox, proxy) = server_behind_proxy(config("validation", true)).await;
    let client = client_of(&proxy, config("producer", false)).await;
    let mut events = client.bridge_events();
    let total = 50_000;
    let producer = produce(&client, total);
    let mut replayed = 0;
    for cycle in 0..1_000 {
        proxy.reset();
        match tokio::time::timeout(Duration::from_secs(10), next_resumed(&mut events)).await {
            Ok(n) => replayed += n,
            Err(_) => panic!(
                "cycle {cycle}: not resumed\nclient {:?}\nserver {:?}\nproxy {:?}",
                client.bridge_status().links,
                server.bridge_status().links,
                proxy.stats()
            ),
        }
    }
    let stuck = |what: &str| {
        panic!(
            "{what}\nclient {:?}\nserver {:?}\ndelivered {}",
            client.bridge_status().links,
            server.bridge_status().links,
            inbox.integers().len()
        )
    };
    if tokio::time::timeout(BOUND, producer).await.is_err() {
        stuck("the producer did not finish");
    }
    if tokio::time::timeout(BOUND, inbox.wait_for(total as usize))
        .await
        .is_err()
    {
        stuck("not everything was delivered");
    }
    let resumes = client.bridge_status().links[0].resumes;
    let got = inbox.integers();
    let mut seen = std::collections::HashSet::new();
    let duplicates = got.iter().filter(|i| !seen.insert(**i)).count();
    let lost = (1..=total).filter(|i| !seen.contains(i)).count();
    println!(
        "1000 forced reconnects: resumes {resumes}, sent {total}, delivered {}, replayed {replayed}, lost {lost}, duplicated {duplicates}",
        got.len()
    );
    assert_eq!((lost, duplicates), (0, 0));
    assert_exactly_once_in_order(&inbox, total);
    assert_eq!(resumes, 1_000);
    Arc::try_unwrap(client).unwrap().shutdown().await;
    server.shutdown().await;
}

/// A silent partition raises no TCP error: only the heartbeat deadline notices it. Once the
/// network heals the link resumes and what was sent meanwhile arrives, once. A redial made
/// during the partition vanishes into it (its upgrade request is swallowed): it must give
/// up after `connect_timeout` rather than hold the redialling forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_partition_is_noticed_by_heartbeats_and_heals_without_loss() {
    let (server, inbox, proxy) = server_behind_proxy(config("validation", true)).await;
    let mut config = config("producer", false);
    config.heartbeat_interval_ms = 100;
    config.connect_timeout = Duration::from_millis(500);
    let client = client_of(&proxy, config).await;
    let mut events = client.bridge_events();
    let first = produce(&client, 100);
    timeout(inbox.wait_for(100)).await;
    timeout(first).await.unwrap();
    let accepted = proxy.stats().accepted;
    proxy.blackhole();
    match timeout(events.recv()).await.unwrap() {
        BridgeEvent::PeerDown {
            network_id, reason, ..
        } => {
            assert_eq!(network_id, "validation");
            assert!(reason.contains("silent"), "{reason}");
        }
        other => panic!("expected PeerDown, got {other:?}"),
    }
    // Sent while the peer is unreachable: queued, then delivered after the heal.
    for i in 101..=200 {
        client
            .send_to_remote_actor("validation", "inbox", "in", Message::Integer(i))
            .await
            .unwrap();
    }
    // Heal only once a redial has gone into the partition.
    timeout(async {
        while proxy.stats().accepted == accepted {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    proxy.pass();
    next_resumed(&mut events).await;
    timeout(inbox.wait_for(200)).await;
    assert_exactly_once_in_order(&inbox, 200);
    Arc::try_unwrap(client).unwrap().shutdown().await;
    server.shutdown().await;
}

/// A peer that never comes back (its address refuses connections, as after a kill) is
/// declared down at once, then given up after the resume timeout: what it never
/// acknowledged is reported lost and the link is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_comes_back_is_given_up_with_its_loss_reported() {
    let (server, inbox, proxy) = server_behind_proxy(config("validation", true)).await;
    let mut config = config("producer", false);
    config.resume_timeout = Duration::from_millis(500);
    config.heartbeat_interval_ms = 100;
    let client = client_of(&proxy, config).await;
    let mut events = client.bridge_events();
    let first = produce(&client, 10);
    timeout(inbox.wait_for(10)).await;
    timeout(first).await.unwrap();
    // Everything so far is acknowledged: what is lost below is exactly what follows.
    timeout(async {
        while client.bridge_status().links[0].unacked > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    // Cut the server off for good: silence, then redials are refused. (The server's
    // shutdown waits, within its deadline, for an answer to its close that the silence
    // swallows: it finishes on its own.)
    proxy.blackhole();
    let stopping = tokio::spawn(server.shutdown());
    drop(proxy);
    for i in 11..=15 {
        client
            .send_to_remote_actor("validation", "inbox", "in", Message::Integer(i))
            .await
            .unwrap();
    }
    let mut down = false;
    let lost = loop {
        match timeout(events.recv()).await.unwrap() {
            BridgeEvent::PeerDown { .. } => down = true,
            BridgeEvent::MessagesLost { count, reason, .. } => {
                assert!(reason.contains("not resumed within 500 ms"), "{reason}");
                break count;
            }
            _ => {}
        }
    };
    assert!(down, "PeerDown comes first");
    assert_eq!(lost, 5);
    timeout(client.wait_peers(|p| p.is_empty())).await;
    assert!(client.bridge_status().links.is_empty());
    Arc::try_unwrap(client).unwrap().shutdown().await;
    timeout(stopping).await.unwrap();
}
