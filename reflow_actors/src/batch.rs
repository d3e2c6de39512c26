//! `Batch`: groups a stream into arrays by size, by time, or both.

use std::time::Duration;

use reflow_network::{
    Actor, ActorResult, Component, ComponentInfo, ConfigError, Context, Message, Ports,
};
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

/// Gathers the messages from `in` and emits them as arrays on `out`: a batch leaves when
/// it holds `size` messages, or `timeout_ms` after its first message arrived, whichever
/// comes first. When the input ends, what is left leaves as a last, shorter batch. An
/// empty array is never emitted.
///
/// Ports: inport `in`; outport `out` (arrays, in arrival order).
///
/// Config: `size` (at least 1) and/or `timeout_ms` (at least 1); at least one of them.
/// With `timeout_ms` alone a batch holds whatever arrives within the window.
///
/// ```json
/// {"processes": {"chunks": {"component": "Batch", "metadata": {"size": 100, "timeout_ms": 500}}}}
/// ```
/// emits arrays of 100 messages, or fewer when 500 ms pass after a batch's first message.
#[derive(Debug)]
pub struct Batch {
    size: Option<usize>,
    timeout: Option<Duration>,
    items: Vec<Message>,
    /// When the current batch must leave, if it is time-bound and not empty.
    deadline: Option<Instant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    size: Option<u64>,
    timeout_ms: Option<u64>,
}

impl Batch {
    /// Batches of at most `size` messages and at most `timeout` old; at least one of them
    /// must be set, and `size` must not be 0.
    pub fn new(size: Option<usize>, timeout: Option<Duration>) -> Result<Self, ConfigError> {
        if size.is_none() && timeout.is_none() {
            return Err(ConfigError::new("set `size`, `timeout_ms` or both"));
        }
        if size == Some(0) {
            return Err(ConfigError::new("`size` must be at least 1"));
        }
        Ok(Batch {
            size,
            timeout,
            items: Vec::new(),
            deadline: None,
        })
    }

    /// Emits the current batch, if any, and forgets its deadline.
    async fn emit(&mut self, ctx: &mut Context) -> ActorResult {
        self.deadline = None;
        ctx.clear_timer();
        if self.items.is_empty() {
            return Ok(());
        }
        let items = std::mem::take(&mut self.items);
        ctx.send("out", Message::array(items)).await
    }
}

impl Actor for Batch {
    async fn on_message(&mut self, _port: &str, msg: Message, ctx: &mut Context) -> ActorResult {
        // A steady input can keep the timer from firing; a batch that is due leaves now,
        // before this message, as if the timer had fired.
        if self.deadline.is_some_and(|at| Instant::now() >= at) {
            self.emit(ctx).await?;
        }
        if let (true, Some(timeout)) = (self.items.is_empty(), self.timeout) {
            let at = Instant::now() + timeout;
            self.deadline = Some(at);
            ctx.set_timer_at(at);
        }
        self.items.push(msg);
        if self.size.is_some_and(|size| self.items.len() >= size) {
            self.emit(ctx).await?;
        }
        Ok(())
    }

    async fn on_timer(&mut self, ctx: &mut Context) -> ActorResult {
        self.emit(ctx).await
    }

    async fn on_end(&mut self, ctx: &mut Context) -> ActorResult {
        self.emit(ctx).await
    }
}

impl Component for Batch {
    fn info() -> ComponentInfo {
        ComponentInfo::new(
            "Batch",
            "Groups messages on `in` into arrays on `out` of `size`, or every `timeout_ms`.",
            Ports::new(["in"], ["out"]),
        )
    }

    fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let config: Config = crate::config::parse(config)?;
        let size = match config.size {
            Some(size) => {
                Some(usize::try_from(size).map_err(|_| ConfigError::new("`size` is too large"))?)
            }
            None => None,
        };
        let timeout = match config.timeout_ms {
            Some(ms) => Some(crate::config::positive_millis("timeout_ms", ms)?),
            None => None,
        };
        Batch::new(size, timeout)
    }
}

#[cfg(test)]
mod tests {
    use crate::harness::{at, run_script};
    use crate::testing::{config_error, msgs, run};
    use serde_json::json;

    #[tokio::test(start_paused = true)]
    async fn cuts_by_size_and_flushes_the_rest_at_end() {
        let inputs = msgs((1..=7).map(|i| json!(i)));
        let inputs = inputs.into_iter().map(|m| ("in", m)).collect();
        let outcome = run("Batch", json!({"size": 3}), inputs).await;
        assert!(outcome.report.is_success());
        assert_eq!(
            outcome.json("out"),
            [json!([1, 2, 3]), json!([4, 5, 6]), json!([7])]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn cuts_by_time_since_the_first_message() {
        let script = vec![
            at(0, "in", 1),
            at(10, "in", 2),
            at(20, "in", 3),
            at(150, "in", 4),
            at(400, "in", 5),
        ];
        let out = run_script("Batch", json!({"timeout_ms": 100}), script).await;
        assert!(out.report.is_success());
        assert_eq!(
            out.stamped("out"),
            [
                (100, json!([1, 2, 3])),
                (250, json!([4])),
                (400, json!([5]))
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn whichever_comes_first() {
        let script = vec![
            at(0, "in", 1),
            at(10, "in", 2),
            at(20, "in", 3),
            at(200, "in", 4),
        ];
        let out = run_script("Batch", json!({"size": 2, "timeout_ms": 100}), script).await;
        assert_eq!(
            out.stamped("out"),
            [(10, json!([1, 2])), (120, json!([3])), (200, json!([4]))]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_at_the_deadline_starts_the_next_batch() {
        let script = vec![at(0, "in", 1), at(100, "in", 2), at(130, "in", 3)];
        let out = run_script("Batch", json!({"timeout_ms": 100}), script).await;
        assert_eq!(out.json("out"), [json!([1]), json!([2, 3])]);
    }

    #[tokio::test(start_paused = true)]
    async fn never_emits_an_empty_array() {
        let out = run_script("Batch", json!({"timeout_ms": 100}), vec![]).await;
        assert!(out.report.is_success());
        assert!(out.json("out").is_empty());
        assert_eq!(out.elapsed_ms, 0);
    }

    #[test]
    fn rejects_bad_config() {
        let none = "set `size`, `timeout_ms` or both";
        assert_eq!(config_error("Batch", json!(null)), none);
        assert_eq!(config_error("Batch", json!({"x": 1})), none);
        assert_eq!(
            config_error("Batch", json!({"size": 0})),
            "`size` must be at least 1"
        );
        assert_eq!(
            config_error("Batch", json!({"timeout_ms": 0})),
            "`timeout_ms` must be at least 1"
        );
        assert!(config_error("Batch", json!({"size": 2, "timeout": 5}))
            .starts_with("unknown field `timeout`"));
    }
}
