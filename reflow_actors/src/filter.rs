//! `Filter`: passes on the facts for which a CEL condition holds and drops the others.

use reflow_network::{
    Actor, ActorResult, Component, ComponentInfo, ConfigError, Context, Message, Ports,
};
use serde::Deserialize;
use serde_json::Value;

use crate::config;
use crate::error_port::ErrorPort;
use crate::expr::{Expr, Fact};

/// Sends each fact arriving on `in` on `out` when the CEL condition `when` is true for it
/// (the fact bound to `fact`); a fact for which it is false is dropped, silently, as a
/// filter should.
///
/// - Inport `in`: the facts.
/// - Outport `out`: the facts that pass, unchanged and in order.
/// - Outport `error`: `{"fact": ..., "error": "...", "process": "..."}` for a fact on which
///   `when` failed or gave something else than a boolean.
///
/// Config: `when` (required), a CEL expression that must evaluate to a boolean.
///
/// ```json
/// {"processes": {"paid": {"component": "Filter", "metadata": {"when": "fact.status == 'paid'"}}}}
/// ```
#[derive(Debug)]
pub struct Filter {
    when: Expr,
    errors: ErrorPort,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilterConfig {
    when: String,
}

impl Actor for Filter {
    async fn on_message(&mut self, _port: &str, msg: Message, ctx: &mut Context) -> ActorResult {
        let verdict = self.when.eval_bool(&Fact::new(&msg));
        match verdict {
            Ok(true) => ctx.send("out", msg).await,
            Ok(false) => Ok(()),
            Err(err) => self.errors.report(ctx, msg, format!("when: {err}")).await,
        }
    }
}

impl Component for Filter {
    fn info() -> ComponentInfo {
        ComponentInfo::new(
            "Filter",
            "Passes the facts for which the CEL condition `when` holds from `in` to `out`, drops the others.",
            Ports::new(["in"], ["out", "error"]),
        )
    }

    fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let FilterConfig { when } = config::parse(config)?;
        Ok(Filter {
            when: config::expr("when", &when)?,
            errors: ErrorPort::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{config_error, msgs, run};
    use serde_json::json;

    #[tokio::test]
    async fn passes_matching_facts_and_drops_the_rest() {
        let facts = [
            json!({"id": 1, "status": "paid"}),
            json!({"id": 2, "status": "open"}),
            json!({"id": 3, "status": "paid"}),
            json!({"id": 4}),
            json!({"id": 5, "status": 5}),
        ];
        let inputs = msgs(facts.clone()).into_iter().map(|m| ("in", m)).collect();
        let outcome = run("Filter", json!({"when": "fact.status == 'paid'"}), inputs).await;
        assert!(outcome.report.is_success());
        assert_eq!(outcome.json("out"), [facts[0].clone(), facts[2].clone()]);
        let errors = outcome.json("error");
        assert_eq!(
            errors,
            [json!({
                "fact": facts[3].clone(),
                "error": "when: `fact.status == 'paid'` failed: No such key: status",
                "process": "subject"
            })],
            "a string compared with an int is false in CEL, not an error"
        );
    }

    #[tokio::test]
    async fn a_non_boolean_condition_is_an_error() {
        let inputs = msgs([json!({"n": 1})])
            .into_iter()
            .map(|m| ("in", m))
            .collect();
        let outcome = run("Filter", json!({"when": "fact.n + 1"}), inputs).await;
        assert!(outcome.port("out").is_empty());
        assert_eq!(
            outcome.json("error")[0]["error"],
            "when: `fact.n + 1` failed: returned int 2, not a bool"
        );
    }

    #[test]
    fn rejects_bad_config() {
        let err = config_error("Filter", json!({"when": "fact.status = 'paid'"}));
        assert!(
            err.starts_with("`when`: `fact.status = 'paid'` does not compile: line 1, column 13"),
            "{err}"
        );
        assert_eq!(config_error("Filter", json!({})), "missing field `when`");
    }
}
