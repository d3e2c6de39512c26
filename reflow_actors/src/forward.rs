//! `Forward`: passes every message from `in` to `out` unchanged.

use reflow_network::{
    Actor, ActorResult, Component, ComponentInfo, ConfigError, Context, Message, Ports,
};
use serde_json::Value;

/// Passes every message from `in` to `out` unchanged, in order.
///
/// ```json
/// {"processes": {"pass": {"component": "Forward"}}}
/// ```
#[derive(Debug, Default)]
pub struct Forward;

impl Actor for Forward {
    async fn on_message(&mut self, _port: &str, msg: Message, ctx: &mut Context) -> ActorResult {
        ctx.send("out", msg).await
    }
}

impl Component for Forward {
    fn info() -> ComponentInfo {
        ComponentInfo::new(
            "Forward",
            "Passes every message from `in` to `out` unchanged.",
            Ports::new(["in"], ["out"]),
        )
    }

    fn from_config(_config: &Value) -> Result<Self, ConfigError> {
        Ok(Forward)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{msgs, run};
    use serde_json::json;

    #[tokio::test]
    async fn passes_everything_in_order() {
        let inputs = msgs([json!(1), json!("two"), json!({"three": 3})]);
        let outcome = run(
            "Forward",
            json!(null),
            inputs.iter().cloned().map(|m| ("in", m)).collect(),
        )
        .await;
        assert!(outcome.report.is_success());
        assert_eq!(outcome.port("out"), inputs.as_slice());
    }
}
