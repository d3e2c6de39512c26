//! `Switch`: routes each fact to the outport of the first case whose CEL condition holds.

use std::collections::HashSet;

use reflow_network::{
    Actor, ActorResult, Component, ComponentInfo, ConfigError, Context, Message, Ports,
};
use serde::Deserialize;
use serde_json::Value;

use crate::config;
use crate::error_port::ErrorPort;
use crate::expr::{Expr, Fact};

/// Tests each fact arriving on `in` against an ordered list of cases and sends it, unchanged,
/// on the outport of the first case whose `when` is true, or on the default outport when
/// none is.
///
/// - Inport `in`: the facts.
/// - Outports: one per case, named by its `port`; the default port; and `error`, which gets
///   `{"fact": ..., "error": "...", "process": "..."}` when a case's `when` fails or is not
///   a boolean. Cases after a failing one are not tried: the fact goes to `error` only.
///
/// Config:
/// - `cases` (required, at least one): `[{"port": NAME, "when": CEL}, ...]`, tried in order.
/// - `default` (optional, default `"default"`): the outport for facts no case matches.
///
/// Port names must be non-empty and distinct, and `error` is reserved.
///
/// ```json
/// {"processes": {"route": {"component": "Switch", "metadata": {
///     "cases": [
///         {"port": "urgent", "when": "fact.priority >= 8"},
///         {"port": "normal", "when": "fact.priority >= 3"}
///     ],
///     "default": "low"
/// }}},
///  "connections": [
///     {"src": {"process": "route", "port": "urgent"}, "tgt": {"process": "pager", "port": "in"}}
/// ]}
/// ```
#[derive(Debug)]
pub struct Switch {
    cases: Vec<Case>,
    default: String,
    errors: ErrorPort,
}

#[derive(Debug)]
struct Case {
    port: String,
    when: Expr,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SwitchConfig {
    cases: Vec<CaseConfig>,
    #[serde(default = "default_port")]
    default: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseConfig {
    port: String,
    when: String,
}

fn default_port() -> String {
    "default".to_string()
}

enum Route<'s> {
    Port(&'s str),
    Failed(String),
}

impl Switch {
    fn route(&self, msg: &Message) -> Route<'_> {
        let fact = Fact::new(msg);
        for (i, case) in self.cases.iter().enumerate() {
            match case.when.eval_bool(&fact) {
                Ok(true) => return Route::Port(&case.port),
                Ok(false) => {}
                Err(err) => return Route::Failed(format!("cases[{i}].when: {err}")),
            }
        }
        Route::Port(&self.default)
    }
}

impl Actor for Switch {
    async fn on_message(&mut self, _port: &str, msg: Message, ctx: &mut Context) -> ActorResult {
        match self.route(&msg) {
            Route::Port(port) => ctx.send(port, msg).await,
            Route::Failed(reason) => self.errors.report(ctx, msg, reason).await,
        }
    }

    fn ports(&self) -> Option<Ports> {
        let outports = self
            .cases
            .iter()
            .map(|c| c.port.as_str())
            .chain([self.default.as_str(), "error"]);
        Some(Ports::new(["in"], outports))
    }
}

impl Component for Switch {
    fn info() -> ComponentInfo {
        ComponentInfo::new(
            "Switch",
            "Routes each fact to the outport of the first case whose CEL `when` holds, else to the `default` outport.",
            Ports::new(["in"], ["default", "error"]),
        )
    }

    fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let SwitchConfig { cases, default } = config::parse(config)?;
        if cases.is_empty() {
            return Err(ConfigError::new("`cases` must list at least one case"));
        }
        let mut seen = HashSet::from(["error"]);
        let ports = cases
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("cases[{i}].port"), c.port.as_str()));
        for (key, port) in ports.chain([("default".to_string(), default.as_str())]) {
            if port.is_empty() {
                return Err(ConfigError::new(format!("`{key}` must not be empty")));
            }
            if !seen.insert(port) {
                return Err(ConfigError::new(format!(
                    "`{key}`: outport `{port}` is already used (`error` is reserved)"
                )));
            }
        }
        let cases = cases
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let when = config::expr(&format!("cases[{i}].when"), &c.when)?;
                Ok(Case { port: c.port, when })
            })
            .collect::<Result<_, ConfigError>>()?;
        Ok(Switch {
            cases,
            default,
            errors: ErrorPort::default(),
        })
    }
}

#[cfg(test)]
mod tests;
