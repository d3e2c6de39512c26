//! The actors of the bridge benchmark: a counting sink, a recorder of its count, and the
//! ping of the round trip.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use reflow::{
    Actor, ActorResult, Component, ComponentInfo, ConfigError, Context, Message, Network, Ports,
};
use serde_json::Value;

/// Counts messages on `in`; sends the count on `out` once it reaches `expect`, or when its
/// input ends. An exported actor's input ends only when its instance stops (a remote
/// session's end is not an end of input), hence `expect`.
#[derive(Default)]
pub(crate) struct CountSink {
    pub(crate) count: i64,
    pub(crate) expect: Option<i64>,
}

impl Actor for CountSink {
    async fn on_message(&mut self, _port: &str, _msg: Message, ctx: &mut Context) -> ActorResult {
        self.count += 1;
        if Some(self.count) == self.expect {
            ctx.send("out", Message::Integer(self.count)).await?;
        }
        Ok(())
    }

    async fn on_end(&mut self, ctx: &mut Context) -> ActorResult {
        if self.expect != Some(self.count) {
            ctx.send("out", Message::Integer(self.count)).await?;
        }
        Ok(())
    }
}

impl Component for CountSink {
    fn info() -> ComponentInfo {
        ComponentInfo::new(
            "CountSink",
            "Counts messages and sends the count.",
            Ports::new(["in"], ["out"]),
        )
    }

    fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let expect = config.get("expect").and_then(Value::as_i64);
        Ok(CountSink { count: 0, expect })
    }
}

/// Keeps the last integer it receives.
struct Recorder(Arc<AtomicI64>);

impl Actor for Recorder {
    async fn on_message(&mut self, _port: &str, msg: Message, _ctx: &mut Context) -> ActorResult {
        if let Some(v) = msg.as_i64() {
            self.0.store(v, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Adds a `Recorder` named `recorder` fed from `(from, "out")`; returns what it will hold.
pub(crate) fn record_count(net: &mut Network, from: &str) -> Arc<AtomicI64> {
    let count = Arc::new(AtomicI64::new(-1));
    let recorder = Recorder(count.clone());
    let ports = Ports::new(["in"], Vec::<String>::new());
    net.add_actor("recorder", recorder, ports).unwrap();
    net.add_connection((from, "out"), ("recorder", "in"))
        .unwrap();
    count
}

/// Sends one message on `out`, waits for one on `in`, records the round trip, `left` times;
/// hands its samples over when it stops.
pub(crate) struct Ping {
    pub(crate) left: usize,
    pub(crate) sent: Instant,
    pub(crate) rtts: Vec<Duration>,
    pub(crate) out: Arc<Mutex<Vec<Duration>>>,
}

impl Ping {
    async fn fire(&mut self, ctx: &mut Context) -> ActorResult {
        self.sent = Instant::now();
        ctx.send("out", Message::Integer(self.left as i64)).await
    }
}

impl Actor for Ping {
    async fn on_start(&mut self, ctx: &mut Context) -> ActorResult {
        self.fire(ctx).await
    }

    async fn on_message(&mut self, _port: &str, _msg: Message, ctx: &mut Context) -> ActorResult {
        self.rtts.push(self.sent.elapsed());
        self.left -= 1;
        if self.left == 0 {
            ctx.stop();
            return Ok(());
        }
        self.fire(ctx).await
    }

    async fn on_stop(&mut self, _ctx: &mut Context) -> ActorResult {
        self.out.lock().append(&mut self.rtts);
        Ok(())
    }
}
