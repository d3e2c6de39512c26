//! `Delay`: holds each message for a fixed time, keeping the order.

use std::collections::VecDeque;
use std::time::Duration;

use reflow_network::{
    Actor, ActorResult, Component, ComponentInfo, ConfigError, Context, Message, Ports,
};
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

/// Emits each message from `in` on `out` `ms` milliseconds after it arrived, in arrival
/// order. When the input ends, the messages still held leave at their time, then the
/// process finishes.
///
/// Ports: inport `in`; outport `out`.
///
/// Config: `ms` (required; `0` passes messages straight through), `max_pending` (default
/// 1024, at least 1): how many messages may wait at once. When that many wait, `Delay`
/// takes no more input until the oldest has left, which holds the sender back
/// (backpressure) instead of growing memory. So the throughput is at most `max_pending`
/// messages per `ms`; raise it for long delays of fast streams.
///
/// ```json
/// {"processes": {"later": {"component": "Delay", "metadata": {"ms": 250}}}}
/// ```
#[derive(Debug)]
pub struct Delay {
    delay: Duration,
    max_pending: usize,
    /// Messages waiting, each with when it leaves (non-decreasing).
    pending: VecDeque<(Instant, Message)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    ms: u64,
    #[serde(default = "default_max_pending")]
    max_pending: u64,
}

fn default_max_pending() -> u64 {
    1024
}

impl Delay {
    /// Delays by `delay`, holding at most `max_pending` messages (not 0).
    pub fn new(delay: Duration, max_pending: usize) -> Result<Self, ConfigError> {
        if max_pending == 0 {
            return Err(ConfigError::new("`max_pending` must be at least 1"));
        }
        Ok(Delay {
            delay,
            max_pending,
            pending: VecDeque::new(),
        })
    }

    /// Sends every message whose time has come, oldest first.
    async fn release_due(&mut self, ctx: &mut Context) -> ActorResult {
        let now = Instant::now();
        while self.pending.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, msg)) = self.pending.pop_front() {
                ctx.send("out", msg).await?;
            }
        }
        Ok(())
    }

    /// Waits for the oldest message's time and sends it.
    async fn make_room(&mut self, ctx: &mut Context) -> ActorResult {
        if let Some((at, msg)) = self.pending.pop_front() {
            tokio::time::sleep_until(at).await;
            ctx.send("out", msg).await?;
        }
        Ok(())
    }

    fn arm(&self, ctx: &mut Context) {
        match self.pending.front() {
            Some((at, _)) => ctx.set_timer_at(*at),
            None => ctx.clear_timer(),
        }
    }
}

impl Actor for Delay {
    async fn on_message(&mut self, _port: &str, msg: Message, ctx: &mut Context) -> ActorResult {
        let at = Instant::now() + self.delay;
        if self.pending.len() >= self.max_pending {
            self.make_room(ctx).await?;
        }
        self.pending.push_back((at, msg));
        // Releasing here too keeps the timing when a steady input delays the timer.
        self.release_due(ctx).await?;
        self.arm(ctx);
        Ok(())
    }

    async fn on_timer(&mut self, ctx: &mut Context) -> ActorResult {
        self.release_due(ctx).await?;
        self.arm(ctx);
        Ok(())
    }
}

impl Component for Delay {
    fn info() -> ComponentInfo {
        ComponentInfo::new(
            "Delay",
            "Emits each message from `in` on `out` `ms` milliseconds after it arrived, in order.",
            Ports::new(["in"], ["out"]),
        )
    }

    fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let config: Config = crate::config::parse(config)?;
        let delay = crate::config::millis("ms", config.ms)?;
        let max_pending = usize::try_from(config.max_pending)
            .map_err(|_| ConfigError::new("`max_pending` is too large"))?;
        Delay::new(delay, max_pending)
    }
}

#[cfg(test)]
mod tests {
    use crate::harness::{at, run_script};
    use crate::testing::{config_error, msgs, run};
    use serde_json::json;
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn each_message_leaves_ms_after_it_arrived() {
        let script = vec![at(0, "in", "a"), at(30, "in", "b"), at(35, "in", "c")];
        let out = run_script("Delay", json!({"ms": 100}), script).await;
        assert!(out.report.is_success());
        assert_eq!(
            out.stamped("out"),
            [(100, json!("a")), (130, json!("b")), (135, json!("c"))]
        );
        // The input ended at 35 ms; the held messages still left at their time.
        assert_eq!(out.elapsed_ms, 135);
    }

    #[tokio::test(start_paused = true)]
    async fn keeps_order_and_flushes_after_end() {
        let start = Instant::now();
        let inputs = msgs((0..5).map(|i| json!(i)));
        let inputs = inputs.into_iter().map(|m| ("in", m)).collect();
        let outcome = run("Delay", json!({"ms": 50}), inputs).await;
        assert!(outcome.report.is_success());
        assert_eq!(
            outcome.json("out"),
            (0..5).map(|i| json!(i)).collect::<Vec<_>>()
        );
        assert_eq!(start.elapsed().as_millis(), 50);
    }

    #[tokio::test(start_paused = true)]
    async fn holds_input_back_when_max_pending_wait() {
        let script = (1..=5).map(|i| at(0, "in", i)).collect();
        let out = run_script("Delay", json!({"ms": 100, "max_pending": 2}), script).await;
        assert_eq!(
            out.json("out"),
            (1..=5).map(|i| json!(i)).collect::<Vec<_>>()
        );
        assert_eq!(out.times("out"), [100, 100, 100, 200, 200]);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_passes_straight_through() {
        let script = vec![at(0, "in", 1), at(10, "in", 2)];
        let out = run_script("Delay", json!({"ms": 0}), script).await;
        assert_eq!(out.stamped("out"), [(0, json!(1)), (10, json!(2))]);
    }

    #[test]
    fn rejects_bad_config() {
        assert_eq!(config_error("Delay", json!({})), "missing field `ms`");
        assert!(config_error("Delay", json!({"ms": u64::MAX})).starts_with("`ms` must be at most"));
        assert_eq!(
            config_error("Delay", json!({"ms": 5, "max_pending": 0})),
            "`max_pending` must be at least 1"
        );
        assert!(config_error("Delay", json!({"delay": 5})).starts_with("unknown field `delay`"));
    }
}
