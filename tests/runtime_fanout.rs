//! Fan-out copies every message to every edge, in order; fan-in merges.
#![allow(clippy::unwrap_used)]

use crate::common;

use common::Record;
use reflow::{Network, NetworkConfig};
use serde_json::json;

const N: i64 = 20_000;

fn small_queues() -> NetworkConfig {
    NetworkConfig {
        capacity: 8,
        ..NetworkConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_reaches_each_of_two_sinks_once_in_order() {
    let mut net = Network::with_config(reflow::actors::registry(), small_queues());
    let (left, right) = (Record::default(), Record::default());
    net.add_node("numbers", "Range", json!({"end": N})).unwrap();
    net.add_node("branch", "Forward", json!({})).unwrap();
    net.add_actor("left", left.clone(), Record::ports())
        .unwrap();
    net.add_actor("right", right.clone(), Record::ports())
        .unwrap();
    net.add_connection(("numbers", "out"), ("left", "in"))
        .unwrap();
    net.add_connection(("numbers", "out"), ("branch", "in"))
        .unwrap();
    net.add_connection(("branch", "out"), ("right", "in"))
        .unwrap();

    let report = net.start().unwrap().wait().await;

    assert!(report.is_success(), "{report:?}");
    let expected: Vec<i64> = (0..N).collect();
    assert_eq!(left.integers(), expected);
    assert_eq!(right.integers(), expected);
    assert!(*left.ended.lock() && *right.ended.lock());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_in_merges_and_keeps_each_edge_in_order() {
    let mut net = Network::with_config(reflow::actors::registry(), small_queues());
    let sink = Record::default();
    net.add_node("low", "Range", json!({"start": 0, "end": N}))
        .unwrap();
    net.add_node("high", "Range", json!({"start": N, "end": 2 * N}))
        .unwrap();
    net.add_actor("sink", sink.clone(), Record::ports())
        .unwrap();
    net.add_connection(("low", "out"), ("sink", "in")).unwrap();
    net.add_connection(("high", "out"), ("sink", "other"))
        .unwrap();

    assert!(net.start().unwrap().wait().await.is_success());

    let seen = sink.seen.lock().clone();
    let on = |port: &str| -> Vec<i64> {
        seen.iter()
            .filter(|(p, _)| p == port)
            .filter_map(|(_, m)| m.as_i64())
            .collect()
    };
    assert_eq!(on("in"), (0..N).collect::<Vec<_>>());
    assert_eq!(on("other"), (N..2 * N).collect::<Vec<_>>());
}
