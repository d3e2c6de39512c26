//! `Interval`: a source that emits a counter at a fixed period.

use std::time::Duration;

use reflow_network::{
    Actor, ActorResult, Component, ComponentInfo, ConfigError, Context, Message, Ports,
};
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

/// Emits `0`, `1`, `2`, ... on `out`, one every `period_ms`, the first one period after the
/// start. With `count` it finishes after that many; without, it runs until the network is
/// shut down.
///
/// Ports: no inport; outport `out` (integers).
///
/// Config: `period_ms` (required, at least 1), `count` (optional; `0` emits nothing).
///
/// Ticks are scheduled on a fixed grid (`start + n * period`), so they do not drift. When a
/// slow consumer holds a send back past the next tick, the missed ticks are not replayed in
/// a burst: counting resumes one period after the late send.
///
/// ```json
/// {"processes": {"tick": {"component": "Interval", "metadata": {"period_ms": 1000, "count": 3}}}}
/// ```
/// emits `0`, `1`, `2` at one, two and three seconds, then finishes.
#[derive(Debug)]
pub struct Interval {
    period: Duration,
    count: Option<u64>,
    sent: u64,
    next: Option<Instant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    period_ms: u64,
    count: Option<u64>,
}

impl Interval {
    /// Emits every `period`, `count` times (forever when `None`).
    pub fn new(period: Duration, count: Option<u64>) -> Self {
        Interval {
            period,
            count,
            sent: 0,
            next: None,
        }
    }

    fn done(&self) -> bool {
        self.count.is_some_and(|n| self.sent >= n)
    }

    /// The next tick on the grid, or one period from now when the grid fell behind.
    fn schedule(&mut self, ctx: &mut Context) {
        if self.done() {
            return;
        }
        let now = Instant::now();
        let next = self
            .next
            .map_or(now + self.period, |last| last + self.period);
        let next = if next < now { now + self.period } else { next };
        self.next = Some(next);
        ctx.set_timer_at(next);
    }
}

impl Actor for Interval {
    async fn on_start(&mut self, ctx: &mut Context) -> ActorResult {
        self.schedule(ctx);
        Ok(())
    }

    async fn on_message(&mut self, _port: &str, _msg: Message, _ctx: &mut Context) -> ActorResult {
        Ok(())
    }

    async fn on_timer(&mut self, ctx: &mut Context) -> ActorResult {
        let value = i64::try_from(self.sent).unwrap_or(i64::MAX);
        ctx.send("out", Message::Integer(value)).await?;
        self.sent += 1;
        self.schedule(ctx);
        Ok(())
    }
}

impl Component for Interval {
    fn info() -> ComponentInfo {
        ComponentInfo::new(
            "Interval",
            "Emits a counter 0, 1, 2, ... on `out` every `period_ms`, optionally `count` times.",
            Ports::new(Vec::<String>::new(), ["out"]),
        )
    }

    fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let config: Config = crate::config::parse(config)?;
        let period = crate::config::positive_millis("period_ms", config.period_ms)?;
        Ok(Interval::new(period, config.count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::StampSink;
    use crate::testing::{config_error, run};
    use parking_lot::Mutex;
    use reflow_network::{Network, NetworkConfig};
    use serde_json::json;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn emits_count_ticks_one_period_apart() {
        let start = Instant::now();
        let outcome = run("Interval", json!({"period_ms": 100, "count": 3}), vec![]).await;
        assert!(outcome.report.is_success());
        assert_eq!(outcome.json("out"), [json!(0), json!(1), json!(2)]);
        assert_eq!(start.elapsed(), Duration::from_millis(300));
    }

    #[tokio::test(start_paused = true)]
    async fn count_zero_finishes_at_once() {
        let start = Instant::now();
        let outcome = run(
            "Interval",
            json!({"period_ms": 100, "count": 0, "x": 5}),
            vec![],
        )
        .await;
        assert!(outcome.report.is_success());
        assert!(outcome.port("out").is_empty());
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn runs_until_shutdown_without_count() {
        let start = Instant::now();
        let mut net = Network::new(crate::registry());
        net.add_node("tick", "Interval", json!({"period_ms": 100}))
            .unwrap();
        let (sink, seen) = StampSink::new(start);
        net.add_actor("sink", sink, Ports::new(["in"], Vec::<String>::new()))
            .unwrap();
        net.add_connection(("tick", "out"), ("sink", "in")).unwrap();
        let running = net.start().unwrap();
        tokio::time::sleep(Duration::from_millis(350)).await;
        let report = running.shutdown(Duration::from_secs(1)).await;
        assert!(report.is_success(), "{report:?}");
        assert_eq!(report.finished.len(), 2);
        let seen: Vec<_> = seen.lock().iter().map(|(t, m)| (*t, m.to_json())).collect();
        assert_eq!(seen, [(100, json!(0)), (200, json!(1)), (300, json!(2))]);
    }

    /// Records when each message arrives; takes 350 ms over the first one.
    struct SlowOnce {
        start: Instant,
        seen: Arc<Mutex<Vec<u64>>>,
    }

    impl Actor for SlowOnce {
        async fn on_message(&mut self, _: &str, _: Message, _: &mut Context) -> ActorResult {
            let first = {
                let mut seen = self.seen.lock();
                seen.push(u64::try_from(self.start.elapsed().as_millis()).unwrap());
                seen.len() == 1
            };
            if first {
                tokio::time::sleep(Duration::from_millis(350)).await;
            }
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_replay_missed_ticks_after_a_stall() {
        let start = Instant::now();
        let config = NetworkConfig {
            capacity: 1,
            ..NetworkConfig::default()
        };
        let mut net = Network::with_config(crate::registry(), config);
        net.add_node("tick", "Interval", json!({"period_ms": 100, "count": 5}))
            .unwrap();
        let seen = Arc::default();
        let sink = SlowOnce {
            start,
            seen: Arc::clone(&seen),
        };
        net.add_actor("sink", sink, Ports::new(["in"], Vec::<String>::new()))
            .unwrap();
        net.add_connection(("tick", "out"), ("sink", "in")).unwrap();
        assert!(net.start().unwrap().wait().await.is_success());
        // The send of tick 2 (due at 300) waits until 450; the grid then restarts from
        // there instead of firing tick 3 (due at 400) at once.
        assert_eq!(*seen.lock(), [100, 450, 450, 550, 650]);
    }

    #[test]
    fn rejects_bad_config() {
        assert_eq!(
            config_error("Interval", json!({})),
            "missing field `period_ms`"
        );
        assert_eq!(
            config_error("Interval", json!({"period_ms": 0})),
            "`period_ms` must be at least 1"
        );
        assert!(config_error("Interval", json!({"period_ms": -1})).contains("invalid value"));
        assert!(config_error("Interval", json!({"period_ms": 5, "cont": 2}))
            .starts_with("unknown field `cont`"));
    }
}
