//! `Collect`: gathers every message of a stream into one array, emitted when it ends.

use reflow_network::{
    Actor, ActorResult, Component, ComponentInfo, ConfigError, Context, Message, Ports,
};
use serde_json::Value;

/// Keeps every message that arrives on `in`, in order, and when the input ends emits them
/// as one array on `out` (an empty array if nothing arrived), then finishes.
///
/// Ports: inport `in`; outport `out`. No config.
///
/// It holds the whole stream in memory: meant for finite streams such as a file or a test.
/// Use `Batch` to cut an endless stream into arrays.
///
/// ```json
/// {"processes": {"numbers": {"component": "Range", "metadata": {"end": 3}}, "all": {"component": "Collect"}},
///  "connections": [{"src": {"process": "numbers", "port": "out"}, "tgt": {"process": "all", "port": "in"}}]}
/// ```
/// emits `[0, 1, 2]` once.
#[derive(Debug, Default)]
pub struct Collect {
    items: Vec<Message>,
}

impl Actor for Collect {
    async fn on_message(&mut self, _port: &str, msg: Message, _ctx: &mut Context) -> ActorResult {
        self.items.push(msg);
        Ok(())
    }

    async fn on_end(&mut self, ctx: &mut Context) -> ActorResult {
        let items = std::mem::take(&mut self.items);
        ctx.send("out", Message::array(items)).await
    }
}

impl Component for Collect {
    fn info() -> ComponentInfo {
        ComponentInfo::new(
            "Collect",
            "Gathers every message on `in` and emits them as one array on `out` when it ends.",
            Ports::new(["in"], ["out"]),
        )
    }

    fn from_config(config: &Value) -> Result<Self, ConfigError> {
        crate::config::none(config)?;
        Ok(Collect::default())
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{config_error, msgs, run};
    use serde_json::json;

    #[tokio::test]
    async fn emits_one_array_at_end() {
        let inputs = msgs([json!(1), json!("two"), json!([3])]);
        let inputs = inputs.into_iter().map(|m| ("in", m)).collect();
        let outcome = run("Collect", json!({"x": 3}), inputs).await;
        assert!(outcome.report.is_success());
        assert_eq!(outcome.json("out"), [json!([1, "two", [3]])]);
    }

    #[tokio::test]
    async fn empty_stream_gives_empty_array() {
        let outcome = run("Collect", json!(null), vec![]).await;
        assert!(outcome.report.is_success());
        assert_eq!(outcome.json("out"), [json!([])]);
    }

    #[test]
    fn takes_no_settings() {
        assert_eq!(
            config_error("Collect", json!({"max": 3})),
            "unknown field `max`, there are no fields"
        );
    }
}
