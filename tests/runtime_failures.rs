//! A failing or panicking actor is reported with its name; the rest keeps running.
#![allow(clippy::unwrap_used)]

use crate::common;

use common::{FailAt, PanicAt, Record};
use reflow::{Failure, Network, NetworkEvent};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_reported_and_the_rest_keeps_running() {
    let mut net = Network::new(reflow::actors::registry());
    let sink = Record::default();
    net.add_node("numbers", "Range", json!({"end": 1000}))
        .unwrap();
    net.add_actor("picky", FailAt(3, 0), common::sink_ports())
        .unwrap();
    net.add_actor("fragile", PanicAt(2, 0), common::sink_ports())
        .unwrap();
    net.add_actor("sink", sink.clone(), Record::ports())
        .unwrap();
    for target in ["picky", "fragile", "sink"] {
        net.add_connection(("numbers", "out"), (target, "in"))
            .unwrap();
    }
    let mut events = net.events();

    let report = net.start().unwrap().wait().await;

    let mut failures = report.failures.clone();
    failures.sort_by(|a, b| a.process.cmp(&b.process));
    assert_eq!(
        failures,
        [
            Failure {
                process: "fragile".into(),
                error: "panicked: boom at message 2".into()
            },
            Failure {
                process: "picky".into(),
                error: "refused message 3".into()
            },
        ]
    );
    assert_eq!(sink.integers(), (0..1000).collect::<Vec<_>>());
    assert!(report.finished.contains(&"numbers".to_string()));

    let mut failed_events = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let NetworkEvent::ProcessFailed { process, .. } = event {
            failed_events.push(process);
        }
    }
    failed_events.sort();
    assert_eq!(failed_events, ["fragile", "picky"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_whose_receivers_are_all_gone_stops_cleanly() {
    let mut net = Network::new(reflow::actors::registry());
    net.add_node("endless", "Range", json!({"end": i64::MAX}))
        .unwrap();
    net.add_actor("picky", FailAt(1, 0), common::sink_ports())
        .unwrap();
    net.add_connection(("endless", "out"), ("picky", "in"))
        .unwrap();

    let report = net.start().unwrap().wait().await;

    assert_eq!(
        report.finished,
        ["endless"],
        "the source ended normally once nobody listened"
    );
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].process, "picky");
}
