//! `Range`: a source that emits the integers from `start` up to `end` (exclusive).

use reflow_network::{
    Actor, ActorResult, Component, ComponentInfo, ConfigError, Context, Message, Ports,
};
use serde::Deserialize;
use serde_json::Value;

/// Emits `start`, `start + step`, ... while below `end` (above it for a negative step) on
/// `out`, then finishes.
///
/// Config: `start` (default 0), `end` (required), `step` (default 1, not 0).
///
/// ```json
/// {"processes": {"numbers": {"component": "Range", "metadata": {"start": 1, "end": 4}}}}
/// ```
/// emits `1`, `2`, `3`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    #[serde(default)]
    start: i64,
    end: i64,
    #[serde(default = "one")]
    step: i64,
}

fn one() -> i64 {
    1
}

impl Range {
    /// A range from `start` to `end` (exclusive) by `step`.
    pub fn new(start: i64, end: i64, step: i64) -> Result<Self, ConfigError> {
        if step == 0 {
            return Err(ConfigError::new("`step` must not be 0"));
        }
        Ok(Range { start, end, step })
    }

    fn values(&self) -> impl Iterator<Item = i64> + use<> {
        let (end, step) = (self.end, self.step);
        std::iter::successors(Some(self.start), move |i| i.checked_add(step)).take_while(move |i| {
            if step > 0 {
                *i < end
            } else {
                *i > end
            }
        })
    }
}

impl Actor for Range {
    async fn on_start(&mut self, ctx: &mut Context) -> ActorResult {
        for i in self.values() {
            ctx.send("out", Message::Integer(i)).await?;
        }
        Ok(())
    }

    async fn on_message(&mut self, _port: &str, _msg: Message, _ctx: &mut Context) -> ActorResult {
        Ok(())
    }
}

impl Component for Range {
    fn info() -> ComponentInfo {
        ComponentInfo::new(
            "Range",
            "Emits integers from `start` up to `end` (exclusive) by `step` on `out`, then finishes.",
            Ports::new(Vec::<String>::new(), ["out"]),
        )
    }

    fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let range: Range = crate::config::parse(config)?;
        Range::new(range.start, range.end, range.step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_up_and_down() {
        let up = Range::from_config(&json!({"start": 1, "end": 4})).unwrap();
        assert_eq!(up.values().collect::<Vec<_>>(), [1, 2, 3]);
        let down = Range::from_config(&json!({"start": 3, "end": 0, "step": -1})).unwrap();
        assert_eq!(down.values().collect::<Vec<_>>(), [3, 2, 1]);
    }

    #[test]
    fn rejects_bad_config() {
        assert!(Range::from_config(&json!({"start": 1})).is_err());
        assert!(Range::from_config(&json!({"end": 3, "step": 0})).is_err());
        assert!(Range::from_config(&json!({"end": "ten"})).is_err());
        assert!(Range::from_config(&json!({"end": 3, "stpe": 2})).is_err());
    }

    #[tokio::test]
    async fn emits_then_finishes() {
        let outcome = crate::testing::run("Range", json!({"start": 2, "end": 5}), vec![]).await;
        assert!(outcome.report.is_success());
        assert_eq!(outcome.json("out"), [json!(2), json!(3), json!(4)]);
        let err = crate::testing::config_error("Range", json!({"end": 1, "step": 0}));
        assert_eq!(err, "`step` must not be 0");
    }

    #[test]
    fn stops_at_overflow() {
        let range = Range::new(i64::MAX - 1, i64::MAX, 5).unwrap();
        assert_eq!(range.values().count(), 1);
    }
}
