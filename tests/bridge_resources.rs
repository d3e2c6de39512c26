//! The bridge's resources under stress, on real sockets on 127.0.0.1: a restarted peer gets a
//! fresh session and never the old tail; a stalled consumer holds the sender's memory flat and
//! makes the producer wait; a thousand connect/disconnect cycles leave no descriptor, task or
//! table entry behind; a peer that accepts nothing is disconnected by the write deadline.
//! File descriptors and RSS are process-wide, so the tests of this file run one at a time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::fault::FaultProxy;
use common::{Record, Stuck};
use reflow::Message;
use reflow_bridge::{BridgeEvent, DistributedConfig, DistributedNetwork, LinkState};
use tokio::sync::broadcast;

const TOKEN: &str = "resources-token";
/// Failure bound for what must happen: never reached when the test passes.
const BOUND: Duration = Duration::from_secs(60);

/// Process-wide figures (descriptors, RSS) are only meaningful with one test at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `test` on a fresh two-worker runtime, one test of this file at a time. The runtime
/// is dropped, and with it every task and socket of the test, before the next one starts.
fn serial(test: impl std::future::Future<Output = ()>) {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(test);
    drop(runtime);
}

fn config(network: &str, bind: bool) -> DistributedConfig {
    let mut config = common::bridge_config(network, bind, Some(TOKEN));
    config.reconnect_initial = Duration::from_millis(2);
    config.reconnect_max = Duration::from_millis(20);
    config
}

/// A started server exporting `actor` as `inbox`.
async fn client_of(addr: &str, config: DistributedConfig) -> Arc<DistributedNetwork> {
    let client = DistributedNetwork::new(config, reflow::actors::registry()).unwrap();
    client.connect_to_network(addr).await.unwrap();
    client.wait_peers(|p| p.len() == 1).await;
    Arc::new(client)
}

async fn send_range(
    client: &DistributedNetwork,
    network: &str,
    range: std::ops::RangeInclusive<i64>,
) {
    for i in range {
        client
            .send_to_remote_actor(network, "inbox", "in", Message::Integer(i))
            .await
            .unwrap();
    }
}

async fn timeout<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(BOUND, future)
        .await
        .expect("happened within the failure bound")
}

/// Polls `until` every few milliseconds, within the failure bound.
async fn poll(what: &str, mut until: impl FnMut() -> bool) {
    let polled = tokio::time::timeout(BOUND, async {
        while !until() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(polled.is_ok(), "not within the failure bound: {what}");
}

/// Waits until every message the client sent is acknowledged.
async fn all_acked(client: &DistributedNetwork) {
    poll("everything acknowledged", || {
        client.bridge_status().links.iter().all(|l| l.unacked == 0)
    })
    .await;
}

fn assert_exactly(inbox: &Record, want: std::ops::RangeInclusive<i64>) {
    let want: Vec<i64> = want.collect();
    assert_eq!(inbox.integers(), want, "not exactly once, in order");
}

/// The next `MessagesLost`, skipping other events.
async fn next_lost(events: &mut broadcast::Receiver<BridgeEvent>) -> (u64, String) {
    loop {
        match timeout(events.recv()).await.unwrap() {
            BridgeEvent::MessagesLost { count, reason, .. } => return (count, reason),
            _ => continue,
        }
    }
}

/// A peer restarted under the same instance id is a new incarnation: the client gives the
/// old session up with its unacknowledged tail reported lost, starts a fresh one, and never
/// sends the old tail to the new process.
#[test]
fn a_restarted_peer_gets_a_fresh_session_and_the_old_tail_is_reported_lost() {
    serial(async {
        let mut server_config = config("srv-net", true);
        server_config.instance_id = "srv".into();
        let inbox_a = Record::default();
        let server_a = common::serve_inbox(server_config.clone(), inbox_a.clone()).await;
        let port = server_a.local_addr().unwrap();
        let proxy = FaultProxy::start(port).await;
        let mut client_config = config("producer", false);
        client_config.heartbeat_interval_ms = 100;
        let client = client_of(&proxy.addr().to_string(), client_config).await;
        let mut events = client.bridge_events();
        let incarnation_a = server_a.bridge_status().incarnation;

        send_range(&client, "srv-net", 1..=50).await;
        timeout(inbox_a.wait_for(50)).await;
        all_acked(&client).await;

        proxy.blackhole();
        send_range(&client, "srv-net", 51..=60).await;
        server_a.shutdown().await;
        // Same instance id, same port: only the incarnation differs.
        server_config.bind = Some(port);
        let inbox_b = Record::default();
        let server_b = common::serve_inbox(server_config, inbox_b.clone()).await;
        let incarnation_b = server_b.bridge_status().incarnation;
        assert_ne!(incarnation_a, incarnation_b);
        proxy.reset();
        proxy.pass();

        let (lost, reason) = next_lost(&mut events).await;
        timeout(client.wait_peers(|p| p.len() == 1)).await;
        send_range(&client, "srv-net", 61..=70).await;
        timeout(inbox_b.wait_for(10)).await;
        all_acked(&client).await;
        let links = client.bridge_status().links;
        println!(
        "restart under the same id: A got {}, lost {lost} ({reason}), B got {:?}, client links {}, resumes {}",
        inbox_a.integers().len(),
        inbox_b.integers(),
        links.len(),
        links[0].resumes
    );
        assert_eq!(lost, 10);
        assert_exactly(&inbox_a, 1..=50);
        assert_exactly(&inbox_b, 61..=70);
        assert_eq!(links.len(), 1, "{links:?}");
        Arc::try_unwrap(client).unwrap().shutdown().await;
        server_b.shutdown().await;
    });
}

/// This process's resident set, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Sends 1 KiB strings to the server's inbox as fast as it can, counting each send.
fn flood(client: &Arc<DistributedNetwork>, sent: Arc<AtomicU64>) -> tokio::task::JoinHandle<()> {
    let client = client.clone();
    let payload = "x".repeat(1024);
    tokio::spawn(async move {
        loop {
            let msg = Message::String(payload.clone().into());
            if client
                .send_to_remote_actor("stuck-net", "inbox", "in", msg)
                .await
                .is_err()
            {
                return;
            }
            sent.fetch_add(1, Ordering::SeqCst);
        }
    })
}

/// Waits until two samples of `sent` 500 ms apart are equal, and returns that count.
async fn plateau(sent: &AtomicU64) -> u64 {
    timeout(async {
        let mut last = sent.load(Ordering::SeqCst);
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let now = sent.load(Ordering::SeqCst);
            if now == last {
                return now;
            }
            last = now;
        }
    })
    .await
}

/// A consumer that never finishes: the credit window fills, the outbox fills, the producer
/// waits; the sender's memory stays flat, and heartbeats keep the link up meanwhile.
#[test]
fn a_stalled_consumer_holds_the_producer_and_memory_flat() {
    serial(async {
        let mut server_config = config("stuck-net", true);
        server_config.heartbeat_interval_ms = 50;
        // The stuck actor never drains: shutting down waits this long on both sides, not 5 s.
        server_config.shutdown_deadline = Duration::from_millis(200);
        let server = common::serve_inbox(server_config, Stuck).await;
        let mut client_config = config("producer", false);
        client_config.heartbeat_interval_ms = 50;
        client_config.shutdown_deadline = Duration::from_millis(200);
        let window = client_config.link_window;
        let client = client_of(&server.local_addr().unwrap().to_string(), client_config).await;
        let mut events = client.bridge_events();
        let sent = Arc::new(AtomicU64::new(0));
        let producer = flood(&client, sent.clone());

        // The pipeline is full once the credit window is: then the producer must stop.
        poll("the credit window fills", || {
            client.bridge_status().links[0].unacked == u64::from(window)
        })
        .await;
        let count = plateau(&sent).await;
        let rss_before = rss_kib();
        let confirmed = plateau(&sent).await;
        // More than 3 heartbeat intervals passed while stalled (two 500 ms samples at least).
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss_after = rss_kib();
        let after = sent.load(Ordering::SeqCst);
        let link = client.bridge_status().links[0].clone();
        let server_link = server.bridge_status().links[0].clone();
        println!(
        "stalled consumer: producer plateau at {count} sends (window {window} frames), unacked {}, queued {}, RSS {} KiB -> {} KiB, latency {:?} ms",
        link.unacked, link.queue_depth, rss_before, rss_after, link.latency_ms
    );
        assert_eq!(count, confirmed, "the producer kept going");
        assert_eq!(after, count, "the producer kept going");
        assert_eq!(link.unacked, u64::from(window), "{link:?}");
        assert!(
            rss_after.saturating_sub(rss_before) < 64 * 1024,
            "RSS grew from {rss_before} KiB to {rss_after} KiB"
        );
        assert_eq!(link.state, LinkState::Up, "{link:?}");
        assert_eq!(server_link.state, LinkState::Up, "{server_link:?}");
        assert!(link.latency_ms.is_some(), "heartbeats answered: {link:?}");
        // A silence detected on either side would have cost a reconnection.
        assert_eq!((link.resumes, server_link.resumes), (0, 0), "{link:?}");
        let downs: Vec<BridgeEvent> = std::iter::from_fn(|| events.try_recv().ok())
            .filter(|e| matches!(e, BridgeEvent::PeerDown { .. }))
            .collect();
        assert!(downs.is_empty(), "{downs:?}");
        producer.abort();
        let _ = producer.await;
        Arc::try_unwrap(client).unwrap().shutdown().await;
        server.shutdown().await;
    });
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Waits until the descriptors and tasks are back to `baseline` (they are released by tasks
/// that end a little after `shutdown` returns); returns the figures either way.
async fn settled(baseline: (usize, usize)) -> (usize, usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = (open_fds(), alive_tasks());
        let back = now.0 <= baseline.0 && now.1 <= baseline.1;
        if back || Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One client: links, sends `i`, shuts down.
async fn cycle(addr: &str, i: i64) {
    let client =
        DistributedNetwork::new(config("spoke", false), reflow::actors::registry()).unwrap();
    client.connect_to_network(addr).await.unwrap();
    send_range(&client, "hub", i..=i).await;
    client.shutdown().await;
}

/// Descriptors and tasks once two samples 100 ms apart agree.
async fn steady() -> (usize, usize) {
    timeout(async {
        let mut last = (open_fds(), alive_tasks());
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = (open_fds(), alive_tasks());
            if now == last {
                return now;
            }
            last = now;
        }
    })
    .await
}

/// A thousand clients that link, send one message and shut down leave nothing behind on
/// the server: no link, no remote actor, no descriptor, no task.
#[test]
fn a_thousand_connect_disconnect_cycles_leave_resources_at_baseline() {
    serial(async {
        let inbox = Record::default();
        let server = common::serve_inbox(config("hub", true), inbox.clone()).await;
        let addr = server.local_addr().unwrap().to_string();
        // The baseline is a server that has served one link: a task the server spawns after
        // `start` returns is not counted as a leak of the cycles.
        cycle(&addr, 0).await;
        poll("the warm-up link is gone", || {
            server.bridge_status().links.is_empty()
        })
        .await;
        let baseline = steady().await;
        let status = server.bridge_status();
        let tables = (status.links.len(), status.remote_actors.len());
        let cycles = 1_000;
        let started = Instant::now();
        for i in 1..=cycles {
            cycle(&addr, i).await;
        }
        let elapsed = started.elapsed();
        timeout(inbox.wait_for(cycles as usize + 1)).await;
        poll("the server has no link left", || {
            server.bridge_status().links.is_empty()
        })
        .await;
        let (fds, tasks) = settled(baseline).await;
        let status = server.bridge_status();
        println!(
        "{cycles} connect/disconnect cycles in {:.1} s: fds {} -> {fds}, tasks {} -> {tasks}, links {} -> {}, remote actors {} -> {}, delivered {}",
        elapsed.as_secs_f64(),
        baseline.0,
        baseline.1,
        tables.0,
        status.links.len(),
        tables.1,
        status.remote_actors.len(),
        inbox.integers().len()
    );
        assert_eq!(fds, baseline.0, "file descriptors leaked");
        assert_eq!(tasks, baseline.1, "tasks leaked");
        assert_eq!(
            (status.links.len(), status.remote_actors.len()),
            (0, 0),
            "{status:?}"
        );
        server.shutdown().await;
    });
}

/// The first `PeerDown`, skipping other events.
async fn next_down(events: &mut broadcast::Receiver<BridgeEvent>) -> String {
    loop {
        match timeout(events.recv()).await.unwrap() {
            BridgeEvent::PeerDown { reason, .. } => return reason,
            BridgeEvent::MessagesLost { count, reason, .. } => {
                panic!("{count} messages lost: {reason}")
            }
            _ => continue,
        }
    }
}

/// A peer that accepts nothing at all (its socket is never read) is disconnected by the
/// write deadline; once the network heals the link resumes and everything arrives once.
#[test]
fn a_peer_that_accepts_nothing_is_disconnected_by_the_write_deadline() {
    serial(async {
        let mut server_config = config("slow-net", true);
        server_config.heartbeat_interval_ms = 60_000;
        let inbox = Record::default();
        let server = common::serve_inbox(server_config, inbox.clone()).await;
        let proxy = FaultProxy::start(server.local_addr().unwrap()).await;
        let mut client_config = config("producer", false);
        client_config.heartbeat_interval_ms = 60_000;
        client_config.write_timeout = Duration::from_millis(300);
        client_config.link_window_bytes = 64 << 20;
        let client = client_of(&proxy.addr().to_string(), client_config).await;
        let mut events = client.bridge_events();

        // One message through first: the server's exports have reached the client.
        send_payloads(&client, 1..=1).await;
        timeout(inbox.wait_for(1)).await;
        proxy.stall();
        let count = 512;
        let producer = {
            let client = client.clone();
            tokio::spawn(async move { send_payloads(&client, 2..=count).await })
        };
        let reason = next_down(&mut events).await;
        let at_down = client.bridge_status().links[0].clone();
        proxy.pass();
        timeout(producer).await.unwrap();
        timeout(inbox.wait_for(count as usize)).await;
        all_acked(&client).await;
        let link = client.bridge_status().links[0].clone();
        println!(
        "write deadline: PeerDown \"{reason}\" with {} unacked and {} queued; {count} x 64 KiB delivered {}, resumes {}, replayed {}",
        at_down.unacked,
        at_down.queue_depth,
        inbox.values().len(),
        link.resumes,
        link.replayed
    );
        assert!(reason.contains("accepted nothing"), "{reason}");
        let got: Vec<i64> = inbox
            .values()
            .iter()
            .map(|m| first_integer(m).expect("an [i, payload] message"))
            .collect();
        assert_eq!(
            got,
            (1..=count).collect::<Vec<_>>(),
            "not exactly once, in order"
        );
        assert!(link.resumes >= 1, "{link:?}");
        Arc::try_unwrap(client).unwrap().shutdown().await;
        server.shutdown().await;
    });
}

/// Sends `[i, 64 KiB string]` for each `i`, in order.
async fn send_payloads(client: &DistributedNetwork, range: std::ops::RangeInclusive<i64>) {
    let payload: Arc<str> = "y".repeat(64 * 1024).into();
    for i in range {
        let msg =
            Message::Array(vec![Message::Integer(i), Message::String(payload.clone())].into());
        client
            .send_to_remote_actor("slow-net", "inbox", "in", msg)
            .await
            .unwrap();
    }
}

fn first_integer(msg: &Message) -> Option<i64> {
    match msg {
        Message::Array(items) => items.first().and_then(Message::as_i64),
        _ => None,
    }
}
