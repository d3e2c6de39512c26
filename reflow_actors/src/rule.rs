//! `Rule`: a CEL condition over each incoming fact; the fact (or a fact derived from it)
//! goes out on `matched`, otherwise on `unmatched`.

use reflow_network::{
    Actor, ActorResult, Component, ComponentInfo, ConfigError, Context, Message, Ports,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config;
use crate::error_port::ErrorPort;
use crate::expr::{Expr, Fact};
use crate::fields::Fields;

/// Tests each fact arriving on `in` with the CEL condition `when`, the fact bound to the
/// variable `fact`.
///
/// - Inport `in`: the facts.
/// - Outport `matched`: a fact for which `when` is true, or, when `emit` is set, the object
///   built from it.
/// - Outport `unmatched`: a fact for which `when` is false, unchanged.
/// - Outport `error`: `{"fact": ..., "error": "...", "process": "..."}` for a fact on which
///   `when` or an `emit` expression failed (missing field, type mismatch), or `when` gave
///   something else than a boolean. The rule carries on with the next fact.
///
/// Config:
/// - `when` (required): a CEL expression that must evaluate to a boolean.
/// - `emit` (optional): an object whose values are CEL expressions (strings); each matched
///   fact is replaced by the object of their values. A constant is a CEL literal:
///   `"'gold'"`, `"3"`.
///
/// ```json
/// {"processes": {"big_orders": {"component": "Rule", "metadata": {
///     "when": "fact.amount >= 1000 && fact.country in ['FR', 'DE']",
///     "emit": {"order": "fact.id", "tier": "'gold'", "net": "double(fact.amount) * 0.8"}
/// }}}}
/// ```
/// turns `{"id": 7, "amount": 1500, "country": "FR"}` into
/// `{"net": 1200.0, "order": 7, "tier": "gold"}` on `matched`, and sends
/// `{"id": 8, "amount": 20, "country": "FR"}` on `unmatched`. CEL does not mix `int` and
/// `double` in arithmetic, hence `double(...)`: `fact.amount * 0.8` would send the fact to
/// `error` with that reason.
#[derive(Debug)]
pub struct Rule {
    when: Expr,
    emit: Option<Fields>,
    errors: ErrorPort,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleConfig {
    when: String,
    emit: Option<Map<String, Value>>,
}

enum Outcome {
    Matched(Option<Message>),
    Unmatched,
    Failed(String),
}

impl Rule {
    fn decide(&self, msg: &Message) -> Outcome {
        let fact = Fact::new(msg);
        match self.when.eval_bool(&fact) {
            Err(err) => Outcome::Failed(format!("when: {err}")),
            Ok(false) => Outcome::Unmatched,
            Ok(true) => match &self.emit {
                None => Outcome::Matched(None),
                Some(fields) => match fields.eval(&fact) {
                    Ok(derived) => Outcome::Matched(Some(derived)),
                    Err(reason) => Outcome::Failed(reason),
                },
            },
        }
    }
}

impl Actor for Rule {
    async fn on_message(&mut self, _port: &str, msg: Message, ctx: &mut Context) -> ActorResult {
        match self.decide(&msg) {
            Outcome::Matched(None) => ctx.send("matched", msg).await,
            Outcome::Matched(Some(derived)) => ctx.send("matched", derived).await,
            Outcome::Unmatched => ctx.send("unmatched", msg).await,
            Outcome::Failed(reason) => self.errors.report(ctx, msg, reason).await,
        }
    }
}

impl Component for Rule {
    fn info() -> ComponentInfo {
        ComponentInfo::new(
            "Rule",
            "Sends each fact on `matched` when the CEL condition `when` holds (or the object of `emit` expressions), else on `unmatched`.",
            Ports::new(["in"], ["matched", "unmatched", "error"]),
        )
    }

    fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let RuleConfig { when, emit } = config::parse(config)?;
        Ok(Rule {
            when: config::expr("when", &when)?,
            emit: emit
                .map(|spec| Fields::compile("emit", &spec))
                .transpose()?,
            errors: ErrorPort::default(),
        })
    }
}

#[cfg(test)]
mod tests;
