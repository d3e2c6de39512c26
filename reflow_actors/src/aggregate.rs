//! `Aggregate`: count, sum, min, max and average of a CEL value over the facts, per group of
//! a CEL key; one table at the end, or each group's figures as they change.

mod stats;

use std::collections::HashMap;

use reflow_network::{
    Actor, ActorResult, Component, ComponentInfo, ConfigError, Context, Message, Ports,
};
use serde::Deserialize;
use serde_json::Value;

use crate::config;
use crate::error_port::ErrorPort;
use crate::expr::{Expr, Fact};
use stats::Stats;

/// Aggregates the facts arriving on `in`, grouped by the CEL expression `key`.
///
/// - Inport `in`: the facts.
/// - Outport `out`: the figures (see below).
/// - Outport `error`: `{"fact": ..., "error": "...", "process": "..."}` for a fact whose
///   `key` or `value` failed (an infinite or NaN result is a failure), whose `value` is not
///   a number, or whose `value` would take a double sum past the largest double; it is left
///   out of the figures, so no figure is ever infinite, NaN or `null` because of it.
///
/// Config:
/// - `value` (optional): a CEL expression giving a number (int or double) per fact. Without
///   it only facts are counted.
/// - `key` (optional): a CEL expression giving the group of a fact. Without it every fact
///   is in one group.
/// - `mode` (optional, default `"final"`): `"final"` sends one message when every input has
///   ended; `"updates"` sends the figures of a fact's group after each fact, and nothing at
///   the end.
///
/// The figures of a group are the object
/// `{"group": k, "count": n, "sum": s, "min": lo, "max": hi, "avg": a}`: `k` is the value of
/// `key` (`null` without one), `n` the number of facts, `s` the sum (an int while every value
/// is an int and the sum fits, else a double), `lo`/`hi` the smallest and largest value as
/// they came, `a` the mean as a double; `min`, `max` and `avg` are `null` for no value.
/// Without `value`, only `group` and `count` are present.
///
/// In `final` mode with a `key`, the message is a table: an object from each group's name
/// to its figures, where the name is the key itself when it is a string and its compact JSON
/// otherwise (`3`, `true`, `null`, `["a",1]`). Without a `key`, it is the figures of the one
/// group, sent even when no fact came (`count` 0). Memory grows with the number of groups.
///
/// ```json
/// {"processes": {"sales": {"component": "Aggregate", "metadata": {
///     "key": "fact.country", "value": "fact.amount"
/// }}}}
/// ```
/// on `{"country": "FR", "amount": 10}`, `{"country": "DE", "amount": 5}`,
/// `{"country": "FR", "amount": 30}` sends, once its input ends:
/// `{"DE": {"group": "DE", "count": 1, "sum": 5, "min": 5, "max": 5, "avg": 5.0},
///   "FR": {"group": "FR", "count": 2, "sum": 40, "min": 10, "max": 30, "avg": 20.0}}`.
#[derive(Debug)]
pub struct Aggregate {
    key: Option<Expr>,
    value: Option<Expr>,
    mode: Mode,
    groups: HashMap<String, Group>,
    errors: ErrorPort,
}

#[derive(Debug)]
struct Group {
    key: Message,
    stats: Stats,
}

impl Group {
    /// Counts one fact; in `updates` mode, the group's figures to send.
    fn add(
        &mut self,
        value: Option<Message>,
        updates: bool,
        with_value: bool,
    ) -> Result<Option<Message>, String> {
        self.stats
            .add(value)
            .map_err(|reason| format!("value: {reason}"))?;
        Ok(updates.then(|| self.stats.to_message(&self.key, with_value)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Final,
    Updates,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AggregateConfig {
    key: Option<String>,
    value: Option<String>,
    #[serde(default = "final_mode")]
    mode: Mode,
}

fn final_mode() -> Mode {
    Mode::Final
}

impl Aggregate {
    /// Adds a fact to its group; returns that group's figures in `updates` mode.
    fn observe(&mut self, msg: &Message) -> Result<Option<Message>, String> {
        let fact = Fact::new(msg);
        let key = match &self.key {
            Some(expr) => expr.eval(&fact).map_err(|err| format!("key: {err}"))?,
            None => Message::Flow,
        };
        let value = match &self.value {
            Some(expr) => Some(number(expr, &fact)?),
            None => None,
        };
        let (updates, with_value) = (self.mode == Mode::Updates, self.value.is_some());
        // A string key already seen, or no key (one group), is found without building its
        // name.
        let known = match &key {
            Message::String(name) => Some(&**name),
            Message::Flow => Some("null"),
            _ => None,
        };
        if let Some(group) = known.and_then(|name| self.groups.get_mut(name)) {
            return group.add(value, updates, with_value);
        }
        let group = self
            .groups
            .entry(group_name(&key))
            .or_insert_with(|| Group {
                key,
                stats: Stats::default(),
            });
        group.add(value, updates, with_value)
    }

    /// What `final` mode sends at the end.
    fn table(&self) -> Message {
        let with_value = self.value.is_some();
        if self.key.is_none() {
            return match self.groups.values().next() {
                Some(group) => group.stats.to_message(&group.key, with_value),
                None => Stats::default().to_message(&Message::Flow, with_value),
            };
        }
        Message::object(
            self.groups
                .iter()
                .map(|(name, g)| (name.as_str(), g.stats.to_message(&g.key, with_value))),
        )
    }
}

fn number(expr: &Expr, fact: &Fact<'_>) -> Result<Message, String> {
    match expr.eval(fact) {
        Ok(n @ (Message::Integer(_) | Message::Float(_))) => Ok(n),
        Ok(other) => Err(format!(
            "value: `{}` returned {other}, not a number",
            expr.source()
        )),
        Err(err) => Err(format!("value: {err}")),
    }
}

/// The name of a group in the table: a string key as is, anything else as compact JSON.
fn group_name(key: &Message) -> String {
    match key {
        Message::String(s) => s.to_string(),
        other => other.to_string(),
    }
}

impl Actor for Aggregate {
    async fn on_message(&mut self, _port: &str, msg: Message, ctx: &mut Context) -> ActorResult {
        match self.observe(&msg) {
            Ok(Some(figures)) => ctx.send("out", figures).await,
            Ok(None) => Ok(()),
            Err(reason) => self.errors.report(ctx, msg, reason).await,
        }
    }

    async fn on_end(&mut self, ctx: &mut Context) -> ActorResult {
        match self.mode {
            Mode::Final => ctx.send("out", self.table()).await,
            Mode::Updates => Ok(()),
        }
    }
}

impl Component for Aggregate {
    fn info() -> ComponentInfo {
        ComponentInfo::new(
            "Aggregate",
            "Count, sum, min, max and avg of the CEL `value` per CEL `key` group: one table at the end, or each group's figures as they change.",
            Ports::new(["in"], ["out", "error"]),
        )
    }

    fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let AggregateConfig { key, value, mode } = config::parse(config)?;
        Ok(Aggregate {
            key: config::optional_expr("key", key.as_deref())?,
            value: config::optional_expr("value", value.as_deref())?,
            mode,
            groups: HashMap::new(),
            errors: ErrorPort::default(),
        })
    }
}

#[cfg(test)]
mod tests;
