//! `Join`: pairs messages from several inports, zip-like, into one object per set.

use std::collections::VecDeque;

use reflow_network::{
    Actor, ActorError, ActorResult, Component, ComponentInfo, ConfigError, Context, Message, Ports,
};
use serde::Deserialize;
use serde_json::Value;

/// Waits until every configured inport holds a message, then emits one object keyed by
/// port name on `out`, taking the oldest message of each port (zip-like: the n-th message
/// of each port go together).
///
/// Ports: the inports named in `ports`; outports `out` (objects) and `error`.
///
/// Config: `ports` (required: at least 2 distinct lower-case names: letters, digits, `_`,
/// starting with a letter), `max_pending` (default 1024, at least 1): how many unpaired
/// messages one port may hold.
///
/// Nothing is dropped silently; what cannot be paired goes to `error`:
/// - a message for a port that already holds `max_pending` is refused at once, as
///   `{"error": "...", "port": name, "value": the message}`, so memory stays bounded when
///   one input runs ahead or another stops;
/// - at end of stream, the leftovers are emitted one by one in port order, oldest first, as
///   `{"error": "unpaired at end of stream", "port": name, "value": the message}`.
///
/// ```json
/// {"processes": {"pair": {"component": "Join", "metadata": {"ports": ["left", "right"]}}},
///  "connections": [{"data": 1, "tgt": {"process": "pair", "port": "left"}},
///                  {"data": "a", "tgt": {"process": "pair", "port": "right"}}]}
/// ```
/// emits `{"left": 1, "right": "a"}`.
#[derive(Debug)]
pub struct Join {
    ports: Vec<String>,
    queues: Vec<VecDeque<Message>>,
    max_pending: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    ports: Vec<String>,
    #[serde(default = "default_max_pending")]
    max_pending: u64,
}

fn default_max_pending() -> u64 {
    1024
}

fn check_name(name: &str) -> Result<(), ConfigError> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        return Ok(());
    }
    Err(ConfigError::new(format!(
        "port name `{name}` must be lower-case letters, digits or `_`, starting with a letter"
    )))
}

fn error(reason: String, port: &str, value: Message) -> Message {
    Message::object([
        ("error", Message::from(reason)),
        ("port", Message::from(port)),
        ("value", value),
    ])
}

impl Join {
    /// Joins the inports `ports`, each holding at most `max_pending` unpaired messages.
    pub fn new(ports: Vec<String>, max_pending: usize) -> Result<Self, ConfigError> {
        if ports.len() < 2 {
            return Err(ConfigError::new(format!(
                "`ports` needs at least 2 inport names, got {}",
                ports.len()
            )));
        }
        for (i, name) in ports.iter().enumerate() {
            check_name(name)?;
            if ports[..i].contains(name) {
                return Err(ConfigError::new(format!("port `{name}` is listed twice")));
            }
        }
        if max_pending == 0 {
            return Err(ConfigError::new("`max_pending` must be at least 1"));
        }
        let queues = ports.iter().map(|_| VecDeque::new()).collect();
        Ok(Join {
            ports,
            queues,
            max_pending,
        })
    }

    /// The oldest message of every port, when each has one.
    fn take_set(&mut self) -> Option<Message> {
        if self.queues.iter().any(VecDeque::is_empty) {
            return None;
        }
        let entries = self.ports.iter().zip(&mut self.queues);
        let set: Vec<_> = entries
            .filter_map(|(port, queue)| Some((port.clone(), queue.pop_front()?)))
            .collect();
        Some(Message::object(set))
    }
}

impl Actor for Join {
    async fn on_message(&mut self, port: &str, msg: Message, ctx: &mut Context) -> ActorResult {
        let Some(ix) = self.ports.iter().position(|p| p == port) else {
            return Err(ActorError::new(format!("Join has no inport `{port}`")));
        };
        let max = self.max_pending;
        let Some(queue) = self.queues.get_mut(ix).filter(|q| q.len() < max) else {
            let reason = format!("port `{port}` already holds {max} unpaired messages");
            return ctx.send("error", error(reason, port, msg)).await;
        };
        queue.push_back(msg);
        match self.take_set() {
            Some(set) => ctx.send("out", set).await,
            None => Ok(()),
        }
    }

    async fn on_end(&mut self, ctx: &mut Context) -> ActorResult {
        for (port, queue) in self.ports.iter().zip(&mut self.queues) {
            for msg in queue.drain(..) {
                let reason = "unpaired at end of stream".to_string();
                ctx.send("error", error(reason, port, msg)).await?;
            }
        }
        Ok(())
    }

    fn ports(&self) -> Option<Ports> {
        Some(Ports::new(self.ports.clone(), ["out", "error"]))
    }
}

impl Component for Join {
    fn info() -> ComponentInfo {
        ComponentInfo::new(
            "Join",
            "Pairs one message from each inport named in `ports` into an object on `out`.",
            Ports::new(Vec::<String>::new(), ["out", "error"]),
        )
    }

    fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let config: Config = crate::config::parse(config)?;
        let max_pending = usize::try_from(config.max_pending)
            .map_err(|_| ConfigError::new("`max_pending` is too large"))?;
        Join::new(config.ports, max_pending)
    }
}

#[cfg(test)]
mod tests;
