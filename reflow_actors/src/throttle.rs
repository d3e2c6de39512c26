//! `Throttle`: limits the rate of a stream without dropping anything.

use std::time::Duration;

use reflow_network::{
    Actor, ActorResult, Component, ComponentInfo, ConfigError, Context, Message, Ports,
};
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

/// How late a message may be on its slot and still keep the schedule: tokio's timers wake
/// to the millisecond, so at rates above about 1,000 per second every wait overshoots; a
/// message within this of its slot leaves on the schedule (catching up), so the rate holds
/// instead of dropping to one message per timer tick. Lateness beyond it (a quiet input)
/// is forgiven, as the token bucket says.
const CATCH_UP: Duration = Duration::from_millis(5);

/// The longest spacing `per_second` may ask for: one message a year.
const MAX_INTERVAL: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Passes messages from `in` to `out` at most `per_second` per second, in order, dropping
/// nothing: a message over the rate waits, and while it waits `Throttle` takes no more
/// input, so the sender is held back (backpressure).
///
/// Ports: inport `in`; outport `out`.
///
/// Config: `per_second` (required, above 0; fractions allowed: `0.5` is one message every
/// two seconds), `burst` (default 1, at least 1): how many messages may pass back to back
/// after a quiet period. With the default, messages leave evenly spaced, `1 / per_second`
/// apart; above about 1,000 per second (timers wake to the millisecond) they leave in small
/// groups that keep the rate. It is a token bucket of `burst` tokens refilled at
/// `per_second`, full at start.
///
/// ```json
/// {"processes": {"slow": {"component": "Throttle", "metadata": {"per_second": 10, "burst": 5}}}}
/// ```
#[derive(Debug)]
pub struct Throttle {
    /// Spacing between messages at the sustained rate.
    interval: Duration,
    /// How far ahead of its slot a message may leave: `interval * (burst - 1)`.
    tolerance: Duration,
    /// When the next message would be due at the sustained rate (the theoretical arrival
    /// time of the generic cell rate algorithm, equivalent to a token bucket).
    next: Option<Instant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    per_second: f64,
    #[serde(default = "one")]
    burst: u32,
}

fn one() -> u32 {
    1
}

impl Throttle {
    /// At most `per_second` messages per second, `burst` of them back to back.
    pub fn new(per_second: f64, burst: u32) -> Result<Self, ConfigError> {
        if !(per_second.is_finite() && per_second > 0.0) {
            return Err(ConfigError::new(format!(
                "`per_second` must be a number above 0, got {per_second}"
            )));
        }
        let interval = Duration::try_from_secs_f64(1.0 / per_second)
            .ok()
            .filter(|d| *d <= MAX_INTERVAL)
            .ok_or_else(|| ConfigError::new("`per_second` is too small (at least one a year)"))?;
        if interval.is_zero() {
            return Err(ConfigError::new("`per_second` is too large"));
        }
        if burst == 0 {
            return Err(ConfigError::new("`burst` must be at least 1"));
        }
        let tolerance = interval
            .checked_mul(burst - 1)
            .ok_or_else(|| ConfigError::new("`burst` is too large"))?;
        Ok(Throttle {
            interval,
            tolerance,
            next: None,
        })
    }
}

impl Actor for Throttle {
    async fn on_message(&mut self, _port: &str, msg: Message, ctx: &mut Context) -> ActorResult {
        let now = Instant::now();
        let due = match self.next {
            Some(next) if now <= next + CATCH_UP => next,
            _ => now,
        };
        if let Some(allowed) = due.checked_sub(self.tolerance) {
            if allowed > now {
                tokio::time::sleep_until(allowed).await;
            }
        }
        self.next = Some(due + self.interval);
        ctx.send("out", msg).await
    }
}

impl Component for Throttle {
    fn info() -> ComponentInfo {
        ComponentInfo::new(
            "Throttle",
            "Passes messages from `in` to `out` at most `per_second` per second; excess waits.",
            Ports::new(["in"], ["out"]),
        )
    }

    fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let config: Config = crate::config::parse(config)?;
        Throttle::new(config.per_second, config.burst)
    }
}

#[cfg(test)]
mod tests {
    use crate::harness::{at, run_script, run_script_with};
    use crate::testing::config_error;
    use reflow_network::NetworkConfig;
    use serde_json::json;

    fn at_once(n: i64) -> Vec<(u64, String, reflow_network::Message)> {
        (0..n).map(|i| at(0, "in", i)).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn spaces_messages_evenly_and_drops_nothing() {
        let out = run_script("Throttle", json!({"per_second": 10}), at_once(5)).await;
        assert!(out.report.is_success());
        assert_eq!(
            out.json("out"),
            (0..5).map(|i| json!(i)).collect::<Vec<_>>()
        );
        assert_eq!(out.times("out"), [0, 100, 200, 300, 400]);
        assert_eq!(out.elapsed_ms, 400);
    }

    #[tokio::test(start_paused = true)]
    async fn holds_the_sender_back_instead_of_queueing() {
        let settings = NetworkConfig {
            capacity: 1,
            ..NetworkConfig::default()
        };
        let config = json!({"per_second": 10});
        let out = run_script_with("Throttle", config, at_once(5), settings).await;
        assert_eq!(out.times("out"), [0, 100, 200, 300, 400]);
        // With room for one message in Throttle's inbox, the sender waits for the pace.
        assert_eq!(out.sent_ms, [0, 0, 0, 100, 200]);
    }

    #[tokio::test(start_paused = true)]
    async fn lets_a_burst_through_then_keeps_the_rate() {
        let config = json!({"per_second": 10, "burst": 3});
        let out = run_script("Throttle", config, at_once(6)).await;
        assert_eq!(
            out.json("out"),
            (0..6).map(|i| json!(i)).collect::<Vec<_>>()
        );
        assert_eq!(out.times("out"), [0, 0, 0, 100, 200, 300]);
    }

    #[tokio::test(start_paused = true)]
    async fn burst_refills_after_a_quiet_period() {
        let mut script = at_once(3);
        script.extend((3..6).map(|i| at(1000, "in", i)));
        let out = run_script("Throttle", json!({"per_second": 10, "burst": 2}), script).await;
        assert_eq!(out.times("out"), [0, 0, 100, 1000, 1000, 1100]);
    }

    #[tokio::test(start_paused = true)]
    async fn fractional_rates() {
        let out = run_script("Throttle", json!({"per_second": 0.5}), at_once(3)).await;
        assert_eq!(out.times("out"), [0, 2000, 4000]);
    }

    #[test]
    fn rejects_bad_config() {
        assert_eq!(
            config_error("Throttle", json!({})),
            "missing field `per_second`"
        );
        assert_eq!(
            config_error("Throttle", json!({"per_second": 0})),
            "`per_second` must be a number above 0, got 0"
        );
        assert!(config_error("Throttle", json!({"per_second": -2})).contains("above 0"));
        assert!(config_error("Throttle", json!({"per_second": "fast"})).contains("invalid type"));
        assert_eq!(
            config_error("Throttle", json!({"per_second": 1e-12})),
            "`per_second` is too small (at least one a year)"
        );
        assert_eq!(
            config_error("Throttle", json!({"per_second": 1e12})),
            "`per_second` is too large"
        );
        assert_eq!(
            config_error("Throttle", json!({"per_second": 1, "burst": 0})),
            "`burst` must be at least 1"
        );
        assert!(config_error("Throttle", json!({"rate": 1})).starts_with("unknown field `rate`"));
    }
}
