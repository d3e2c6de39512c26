//! `Map`: replaces each fact by the value of a CEL expression, or by an object of several.

use reflow_network::{
    Actor, ActorResult, Component, ComponentInfo, ConfigError, Context, Message, Ports,
};
use serde::Deserialize;
use serde_json::Value;

use crate::config;
use crate::error_port::ErrorPort;
use crate::expr::{Expr, Fact};
use crate::fields::Fields;

/// Sends, for each fact arriving on `in`, the value computed from it on `out`.
///
/// - Inport `in`: the facts.
/// - Outport `out`: one value per fact, in order.
/// - Outport `error`: `{"fact": ..., "error": "...", "process": "..."}` for a fact on which
///   an expression failed.
///
/// Config `expr` (required), either:
/// - a CEL expression (string): its value, of any type, is sent;
/// - an object whose values are CEL expressions: the object of their values is sent.
///
/// ```json
/// {"processes": {
///     "total": {"component": "Map", "metadata": {"expr": "fact.price * fact.quantity"}},
///     "shape": {"component": "Map", "metadata": {"expr": {"id": "fact.id", "big": "fact.amount > 100"}}}
/// }}
/// ```
/// `total` turns `{"price": 3, "quantity": 4}` into `12`; `shape` turns
/// `{"id": 1, "amount": 150}` into `{"big": true, "id": 1}`.
#[derive(Debug)]
pub struct Map {
    shape: Shape,
    errors: ErrorPort,
}

#[derive(Debug)]
enum Shape {
    Value(Expr),
    Object(Fields),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MapConfig {
    expr: Value,
}

impl Actor for Map {
    async fn on_message(&mut self, _port: &str, msg: Message, ctx: &mut Context) -> ActorResult {
        let result = {
            let fact = Fact::new(&msg);
            match &self.shape {
                Shape::Value(expr) => expr.eval(&fact).map_err(|err| format!("expr: {err}")),
                Shape::Object(fields) => fields.eval(&fact),
            }
        };
        match result {
            Ok(value) => ctx.send("out", value).await,
            Err(reason) => self.errors.report(ctx, msg, reason).await,
        }
    }
}

impl Component for Map {
    fn info() -> ComponentInfo {
        ComponentInfo::new(
            "Map",
            "Replaces each fact from `in` by the value of the CEL expression `expr` (or an object of several) on `out`.",
            Ports::new(["in"], ["out", "error"]),
        )
    }

    fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let MapConfig { expr } = config::parse(config)?;
        let shape = match &expr {
            Value::String(source) => Shape::Value(config::expr("expr", source)?),
            Value::Object(spec) => Shape::Object(Fields::compile("expr", spec)?),
            other => {
                return Err(ConfigError::new(format!(
                    "`expr` must be a CEL expression (a string) or an object of them, not {other}"
                )))
            }
        };
        Ok(Map {
            shape,
            errors: ErrorPort::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{config_error, msgs, run};
    use serde_json::json;

    fn inputs(values: Vec<serde_json::Value>) -> Vec<(&'static str, reflow_network::Message)> {
        msgs(values).into_iter().map(|m| ("in", m)).collect()
    }

    #[tokio::test]
    async fn maps_each_fact_to_a_value() {
        let facts = vec![
            json!({"price": 3, "quantity": 4}),
            json!({"price": 2, "quantity": 0}),
        ];
        let outcome = run(
            "Map",
            json!({"expr": "fact.price * fact.quantity"}),
            inputs(facts),
        )
        .await;
        assert!(outcome.report.is_success());
        assert_eq!(outcome.json("out"), [json!(12), json!(0)]);
    }

    #[tokio::test]
    async fn maps_each_fact_to_an_object() {
        let config = json!({"expr": {"id": "fact.id", "big": "fact.amount > 100", "tags": "[fact.kind, 'x']"}});
        let facts = vec![
            json!({"id": 1, "amount": 150, "kind": "a"}),
            json!({"id": 2, "amount": 5}),
        ];
        let outcome = run("Map", config, inputs(facts.clone())).await;
        assert_eq!(
            outcome.json("out"),
            [json!({"id": 1, "big": true, "tags": ["a", "x"]})]
        );
        assert_eq!(
            outcome.json("error"),
            [json!({
                "fact": facts[1].clone(),
                "error": "expr.tags: `[fact.kind, 'x']` failed: No such key: kind",
                "process": "subject"
            })]
        );
    }

    #[tokio::test]
    async fn errors_name_the_expression() {
        let outcome = run(
            "Map",
            json!({"expr": "fact.n + 1"}),
            inputs(vec![json!({"n": "1"}), json!({"n": 1})]),
        )
        .await;
        assert_eq!(outcome.json("out"), [json!(2)]);
        let reason = outcome.json("error")[0]["error"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            reason.starts_with("expr: `fact.n + 1` failed: "),
            "{reason}"
        );
    }

    #[test]
    fn rejects_bad_config() {
        let err = config_error("Map", json!({"expr": "fact.a +"}));
        assert!(
            err.starts_with("`expr`: `fact.a +` does not compile: line 1, column 9"),
            "{err}"
        );
        let err = config_error("Map", json!({"expr": {"a": "fact..b"}}));
        assert!(
            err.starts_with("`expr.a`: `fact..b` does not compile"),
            "{err}"
        );
        let err = config_error("Map", json!({"expr": 3}));
        assert_eq!(
            err,
            "`expr` must be a CEL expression (a string) or an object of them, not 3"
        );
        assert_eq!(config_error("Map", json!(null)), "missing field `expr`");
    }
}
