//! `Dedupe`: passes on the first fact of each CEL key among the most recent distinct keys.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use reflow_network::{
    Actor, ActorResult, Component, ComponentInfo, ConfigError, Context, Message, Ports,
};
use serde::Deserialize;
use serde_json::Value;

use crate::config;
use crate::error_port::ErrorPort;
use crate::expr::{Expr, Fact};

/// The number of distinct keys remembered when the config does not say.
const DEFAULT_WINDOW: usize = 10_000;

/// Sends a fact arriving on `in` on `out` unless a fact with the same key was seen within
/// the window; repeats go on `duplicate`.
///
/// - Inport `in`: the facts.
/// - Outport `out`: the first fact of each key, unchanged and in order.
/// - Outport `duplicate`: the facts whose key was remembered (leave it unconnected to drop
///   them).
/// - Outport `error`: `{"fact": ..., "error": "...", "process": "..."}` for a fact whose
///   `key` failed.
///
/// Config:
/// - `key` (optional): a CEL expression giving a fact's key; without it, the key is the
///   whole fact. Keys are equal when they have the same type and value (`1` and `"1"`
///   differ).
/// - `window` (optional, default 10000, at least 1): how many distinct keys are remembered.
///   Keys are forgotten in the order they were first seen, so memory stays bounded: after
///   `window` newer distinct keys, a key passes again.
///
/// ```json
/// {"processes": {"once": {"component": "Dedupe", "metadata": {"key": "fact.order_id", "window": 1000}}}}
/// ```
#[derive(Debug)]
pub struct Dedupe {
    key: Option<Expr>,
    window: usize,
    seen: HashSet<Key>,
    order: VecDeque<Key>,
    errors: ErrorPort,
}

/// A key, hashable: scalars by value, anything else by its compact JSON.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Null,
    Bool(bool),
    Int(i64),
    Text(Arc<str>),
    Json(Arc<str>),
}

impl From<&Message> for Key {
    fn from(msg: &Message) -> Self {
        match msg {
            Message::Flow => Key::Null,
            Message::Boolean(b) => Key::Bool(*b),
            Message::Integer(i) => Key::Int(*i),
            Message::String(s) => Key::Text(s.clone()),
            other => Key::Json(other.to_string().into()),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DedupeConfig {
    key: Option<String>,
    window: Option<usize>,
}

impl Dedupe {
    /// Whether the fact's key is new, remembering it if so.
    fn is_new(&mut self, msg: &Message) -> Result<bool, String> {
        let key = match &self.key {
            Some(expr) => {
                let value = expr
                    .eval(&Fact::new(msg))
                    .map_err(|e| format!("key: {e}"))?;
                Key::from(&value)
            }
            None => Key::from(msg),
        };
        if self.seen.contains(&key) {
            return Ok(false);
        }
        if self.order.len() == self.window {
            if let Some(oldest) = self.order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        self.order.push_back(key.clone());
        self.seen.insert(key);
        Ok(true)
    }
}

impl Actor for Dedupe {
    async fn on_message(&mut self, _port: &str, msg: Message, ctx: &mut Context) -> ActorResult {
        match self.is_new(&msg) {
            Ok(true) => ctx.send("out", msg).await,
            Ok(false) => ctx.send("duplicate", msg).await,
            Err(reason) => self.errors.report(ctx, msg, reason).await,
        }
    }
}

impl Component for Dedupe {
    fn info() -> ComponentInfo {
        ComponentInfo::new(
            "Dedupe",
            "Passes the first fact of each CEL `key` among the last `window` distinct keys on `out`, repeats on `duplicate`.",
            Ports::new(["in"], ["out", "duplicate", "error"]),
        )
    }

    fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let DedupeConfig { key, window } = config::parse(config)?;
        let window = window.unwrap_or(DEFAULT_WINDOW);
        if window == 0 {
            return Err(ConfigError::new("`window` must be at least 1"));
        }
        Ok(Dedupe {
            key: config::optional_expr("key", key.as_deref())?,
            window,
            seen: HashSet::new(),
            order: VecDeque::new(),
            errors: ErrorPort::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{config_error, msgs, run};
    use serde_json::{json, Value};

    fn inputs(values: &[Value]) -> Vec<(&'static str, reflow_network::Message)> {
        msgs(values.to_vec())
            .into_iter()
            .map(|m| ("in", m))
            .collect()
    }

    #[tokio::test]
    async fn passes_the_first_fact_of_each_key() {
        let facts = [
            json!({"id": 1, "v": "a"}),
            json!({"id": 2, "v": "b"}),
            json!({"id": 1, "v": "c"}),
            json!({"id": "1", "v": "d"}),
            json!({"v": "e"}),
        ];
        let outcome = run("Dedupe", json!({"key": "fact.id"}), inputs(&facts)).await;
        assert!(outcome.report.is_success());
        assert_eq!(
            outcome.json("out"),
            [facts[0].clone(), facts[1].clone(), facts[3].clone()]
        );
        assert_eq!(outcome.json("duplicate"), [facts[2].clone()]);
        assert_eq!(
            outcome.json("error"),
            [
                json!({"fact": facts[4].clone(), "error": "key: `fact.id` failed: No such key: id", "process": "subject"})
            ]
        );
    }

    #[tokio::test]
    async fn forgets_keys_beyond_the_window() {
        let facts: Vec<Value> = [1, 2, 1, 3, 1, 2].iter().map(|i| json!(i)).collect();
        let outcome = run("Dedupe", json!({"window": 2}), inputs(&facts)).await;
        // 1 new, 2 new, 1 dup, 3 new (forgets 1), 1 new (forgets 2), 2 new
        assert_eq!(
            outcome.json("out"),
            [json!(1), json!(2), json!(3), json!(1), json!(2)]
        );
        assert_eq!(outcome.json("duplicate"), [json!(1)]);
    }

    #[tokio::test]
    async fn without_a_key_whole_facts_are_compared() {
        let facts = [
            json!({"a": 1, "b": [1]}),
            json!({"b": [1], "a": 1}),
            json!({"a": 1.0, "b": [1]}),
        ];
        let outcome = run("Dedupe", json!(null), inputs(&facts)).await;
        assert_eq!(outcome.json("out"), [facts[0].clone(), facts[2].clone()]);
        assert_eq!(outcome.json("duplicate"), [facts[1].clone()]);
    }

    #[test]
    fn rejects_bad_config() {
        assert_eq!(
            config_error("Dedupe", json!({"window": 0})),
            "`window` must be at least 1"
        );
        let err = config_error("Dedupe", json!({"window": -1}));
        assert!(err.starts_with("invalid value: integer `-1`"), "{err}");
        let err = config_error("Dedupe", json!({"key": "fact.id ="}));
        assert!(
            err.starts_with("`key`: `fact.id =` does not compile"),
            "{err}"
        );
    }
}
