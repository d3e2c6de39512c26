//! IIPs, end-of-stream, completion, idle and shutdown.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::time::Duration;

use common::{CountAtEnd, Record, Stuck, Ticker};
use reflow::{Message, Network, NetworkEvent, Registry};
use serde_json::json;
use tokio::sync::broadcast;

fn drain(events: &mut broadcast::Receiver<NetworkEvent>) -> Vec<NetworkEvent> {
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(event);
    }
    seen
}

#[tokio::test]
async fn iips_arrive_first_then_the_stream() {
    let mut net = Network::new(reflow::actors::registry());
    let sink = Record::default();
    net.add_node("numbers", "Range", json!({"start": 1, "end": 3}))
        .unwrap();
    net.add_actor("sink", sink.clone(), Record::ports())
        .unwrap();
    net.add_connection(("numbers", "out"), ("sink", "in"))
        .unwrap();
    net.add_initial(("sink", "other"), json!({"mode": "fast"}))
        .unwrap();
    net.add_initial(("sink", "in"), "hello").unwrap();

    assert!(net.start().unwrap().wait().await.is_success());

    let seen = sink.seen.lock().clone();
    assert_eq!(
        seen[0],
        ("other".to_string(), Message::from(json!({"mode": "fast"})))
    );
    assert_eq!(seen[1], ("in".to_string(), Message::from("hello")));
    assert_eq!(sink.integers(), [1, 2]);
}

#[tokio::test]
async fn end_of_stream_cascades_and_the_network_completes() {
    let mut net = Network::new(reflow::actors::registry());
    let sink = Record::default();
    net.add_node("numbers", "Range", json!({"end": 250}))
        .unwrap();
    net.add_node("pass", "Forward", json!(null)).unwrap();
    net.add_actor("count", CountAtEnd::default(), common::filter_ports())
        .unwrap();
    net.add_actor("sink", sink.clone(), Record::ports())
        .unwrap();
    net.add_connection(("numbers", "out"), ("pass", "in"))
        .unwrap();
    net.add_connection(("pass", "out"), ("count", "in"))
        .unwrap();
    net.add_connection(("count", "out"), ("sink", "in"))
        .unwrap();
    let mut events = net.events();

    let report = net.start().unwrap().wait().await;

    assert_eq!(sink.integers(), [250], "the count flushed at end of stream");
    let mut finished = report.finished.clone();
    finished.sort();
    assert_eq!(finished, ["count", "numbers", "pass", "sink"]);
    let seen = drain(&mut events);
    assert_eq!(seen.last(), Some(&NetworkEvent::Done));
    let started = seen
        .iter()
        .filter(|e| matches!(e, NetworkEvent::ProcessStarted { .. }))
        .count();
    assert_eq!(started, 4);
}

#[tokio::test]
async fn an_iip_only_process_finishes() {
    let mut net = Network::new(Registry::new());
    let sink = Record::default();
    net.add_actor("sink", sink.clone(), Record::ports())
        .unwrap();
    net.add_initial(("sink", "in"), 7).unwrap();
    assert!(net.start().unwrap().wait().await.is_success());
    assert_eq!(sink.integers(), [7]);
    assert!(*sink.ended.lock());
}

#[tokio::test]
async fn shutdown_stops_sources_and_drains_the_rest() {
    let mut net = Network::new(Registry::new());
    let sink = Record::default();
    let ticker = Ticker {
        period: Duration::from_millis(1),
        next: 0,
    };
    net.add_actor("ticker", ticker, common::source_ports())
        .unwrap();
    net.add_actor("sink", sink.clone(), Record::ports())
        .unwrap();
    net.add_connection(("ticker", "out"), ("sink", "in"))
        .unwrap();
    let mut events = net.events();
    let running = net.start().unwrap();
    sink.wait_for(3).await;

    let report = running.shutdown(Duration::from_secs(10)).await;

    assert!(report.is_success(), "{report:?}");
    assert!(*sink.ended.lock(), "the sink saw its input end");
    let ticks = sink.integers();
    assert_eq!(
        ticks,
        (0..ticks.len() as i64).collect::<Vec<_>>(),
        "nothing lost or reordered"
    );
    assert_eq!(drain(&mut events).last(), Some(&NetworkEvent::Stopped));
}

#[tokio::test]
async fn a_quiet_cycle_is_idle_and_is_aborted_at_the_deadline() {
    let mut net = Network::new(reflow::actors::registry());
    net.add_node("ping", "Forward", json!(null)).unwrap();
    net.add_node("pong", "Forward", json!(null)).unwrap();
    net.add_connection(("ping", "out"), ("pong", "in")).unwrap();
    net.add_connection(("pong", "out"), ("ping", "in")).unwrap();
    let mut events = net.events();
    let running = net.start().unwrap();

    // Each process feeds the other, so neither input ever ends: the network never
    // completes, and with nothing in flight it is idle.
    net_events_until(&mut events, |e| matches!(e, NetworkEvent::Idle)).await;
    let report = running.shutdown(Duration::from_millis(20)).await;

    let mut aborted = report.aborted.clone();
    aborted.sort();
    assert_eq!(aborted, ["ping", "pong"]);
    assert!(!report.is_success());
    assert_eq!(drain(&mut events).last(), Some(&NetworkEvent::Stopped));
}

#[tokio::test]
async fn an_actor_stuck_past_the_deadline_is_aborted_and_named() {
    let mut net = Network::new(reflow::actors::registry());
    net.add_node("numbers", "Range", json!({"end": 5})).unwrap();
    net.add_actor("stuck", Stuck, common::sink_ports()).unwrap();
    net.add_connection(("numbers", "out"), ("stuck", "in"))
        .unwrap();
    let mut events = net.events();
    let running = net.start().unwrap();
    net_events_until(&mut events, |e| {
        matches!(e, NetworkEvent::ProcessFinished { .. })
    })
    .await;

    let report = running.shutdown(Duration::from_millis(20)).await;

    assert_eq!(report.finished, ["numbers"]);
    assert_eq!(report.aborted, ["stuck"]);
}

async fn net_events_until(
    events: &mut broadcast::Receiver<NetworkEvent>,
    stop: impl Fn(&NetworkEvent) -> bool,
) -> Vec<NetworkEvent> {
    let mut seen = Vec::new();
    loop {
        let event = events.recv().await.unwrap();
        let done = stop(&event);
        seen.push(event);
        if done {
            return seen;
        }
    }
}
