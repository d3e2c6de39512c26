//! `Split`: turns an array into a stream of its elements.

use reflow_network::{
    Actor, ActorResult, Component, ComponentInfo, ConfigError, Context, Message, Ports,
};
use serde_json::Value;

/// Emits each element of an array that arrives on `in` on `out`, in order.
///
/// Ports: inport `in`; outports `out` (the elements) and `error`. No config.
///
/// A message that is not an array is not passed through: it goes to `error` as
/// `{"error": "expected an array, got <kind>", "value": the message}`, so that a type
/// mismatch upstream shows instead of silently changing the shape of the stream. An empty
/// array emits nothing.
///
/// ```json
/// {"processes": {"items": {"component": "Split"}},
///  "connections": [{"data": [1, 2, 3], "tgt": {"process": "items", "port": "in"}}]}
/// ```
/// emits `1`, `2`, `3`.
#[derive(Debug, Default)]
pub struct Split;

/// What a message is, for error reasons.
fn kind(msg: &Message) -> &'static str {
    match msg {
        Message::Flow => "null",
        Message::Boolean(_) => "a boolean",
        Message::Integer(_) => "an integer",
        Message::Float(_) => "a float",
        Message::String(_) => "a string",
        Message::Array(_) => "an array",
        Message::Object(_) => "an object",
        Message::Bytes(_) => "bytes",
        Message::Error(_) => "an error",
    }
}

impl Actor for Split {
    async fn on_message(&mut self, _port: &str, msg: Message, ctx: &mut Context) -> ActorResult {
        let Message::Array(items) = msg else {
            let reason = format!("expected an array, got {}", kind(&msg));
            let error = Message::object([("error", Message::from(reason)), ("value", msg)]);
            return ctx.send("error", error).await;
        };
        for item in items.iter() {
            ctx.send("out", item.clone()).await?;
        }
        Ok(())
    }
}

impl Component for Split {
    fn info() -> ComponentInfo {
        ComponentInfo::new(
            "Split",
            "Emits each element of an array on `in` on `out`; non-arrays go to `error`.",
            Ports::new(["in"], ["out", "error"]),
        )
    }

    fn from_config(config: &Value) -> Result<Self, ConfigError> {
        crate::config::none(config)?;
        Ok(Split)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{config_error, msgs, run};
    use serde_json::json;

    #[tokio::test]
    async fn emits_elements_in_order_and_rejects_non_arrays() {
        let inputs = msgs([
            json!([1, [2], {"three": 3}]),
            json!("oops"),
            json!([]),
            json!([4]),
        ]);
        let inputs = inputs.into_iter().map(|m| ("in", m)).collect();
        let outcome = run("Split", json!(null), inputs).await;
        assert!(outcome.report.is_success());
        assert_eq!(
            outcome.json("out"),
            [json!(1), json!([2]), json!({"three": 3}), json!(4)]
        );
        assert_eq!(
            outcome.json("error"),
            [json!({"error": "expected an array, got a string", "value": "oops"})]
        );
    }

    #[test]
    fn takes_no_settings() {
        assert!(config_error("Split", json!({"by": ","})).starts_with("unknown field `by`"));
    }
}
