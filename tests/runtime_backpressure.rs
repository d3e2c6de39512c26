//! A slow sink makes its producer wait: queues never exceed their capacity, whatever the
//! rates.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{Pump, SlowSink};
use reflow::{Network, NetworkConfig, Registry};

const CAPACITY: usize = 16;
const COUNT: i64 = 20_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_sink_bounds_what_the_producer_has_in_flight() {
    let config = NetworkConfig {
        capacity: CAPACITY,
        ..NetworkConfig::default()
    };
    let mut net = Network::with_config(Registry::new(), config);
    let sent = Arc::new(AtomicU64::new(0));
    let received = Arc::new(AtomicU64::new(0));
    let max_ahead = Arc::new(AtomicU64::new(0));
    let pump = Pump {
        count: COUNT,
        sent: sent.clone(),
    };
    let sink = SlowSink {
        every: 200,
        pause: Duration::from_millis(2),
        sent: sent.clone(),
        received: received.clone(),
        max_ahead: max_ahead.clone(),
    };
    net.add_actor("pump", pump, common::source_ports()).unwrap();
    net.add_actor("sink", sink, common::sink_ports()).unwrap();
    net.add_connection(("pump", "out"), ("sink", "in")).unwrap();
    let mut running = net.start().unwrap();

    let mut max_depth = 0;
    while received.load(Ordering::SeqCst) < COUNT as u64 {
        max_depth = max_depth.max(running.queue_depth("sink").unwrap_or(0));
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    assert!(running.wait().await.is_success());

    // The inbox holds at most CAPACITY; the batch being handled was taken from it, so the
    // producer is never more than two inboxes' worth (plus the message in hand) ahead.
    let ahead = max_ahead.load(Ordering::SeqCst);
    println!("max queue depth {max_depth}, producer at most {ahead} messages ahead");
    assert!(
        max_depth <= CAPACITY,
        "queue depth {max_depth} exceeds {CAPACITY}"
    );
    assert!(
        ahead <= 2 * CAPACITY as u64 + 1,
        "producer ran {ahead} ahead"
    );
    assert!(
        ahead >= CAPACITY as u64,
        "the sink never fell behind: the test exercised nothing"
    );
    assert_eq!(received.load(Ordering::SeqCst), COUNT as u64);
}
