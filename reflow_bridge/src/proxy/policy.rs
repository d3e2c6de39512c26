//! How a proxy spreads its messages over the instances of a network that export its actor:
//! the `route` key of its process metadata.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use reflow_actors::expr::{Expr, Fact};
use reflow_network::{ConfigError, Message};

/// The policy of one proxy.
#[derive(Debug, Clone)]
pub(crate) enum Policy {
    /// Each message to the next instance in turn (the default).
    RoundRobin,
    /// Each message to the instance with the fewest messages in flight on this session.
    LeastLoaded,
    /// Equal keys to the same instance while membership is stable, by rendezvous hashing:
    /// when an instance joins or leaves, only the keys it wins or held move.
    Key(Arc<Expr>),
    /// Every message to every instance.
    Broadcast,
}

impl Policy {
    /// The policy named `route`, with the CEL expression `key` for the `key` policy.
    pub(crate) fn parse(route: Option<&str>, key: Option<&str>) -> Result<Self, ConfigError> {
        let policy = match (route.unwrap_or("round_robin"), key) {
            ("key", Some(source)) => {
                let expr = Expr::compile(source)
                    .map_err(|err| ConfigError::new(format!("`key`: {err}")))?;
                return Ok(Policy::Key(Arc::new(expr)));
            }
            ("key", None) => {
                return Err(ConfigError::new(
                    "`route` \"key\" needs `key`, a CEL expression over the message (`fact.customer`)",
                ))
            }
            (_, Some(_)) => return Err(ConfigError::new("`key` is only for `route` \"key\"")),
            ("round_robin", None) => Policy::RoundRobin,
            ("least_loaded", None) => Policy::LeastLoaded,
            ("broadcast", None) => Policy::Broadcast,
            (other, None) => {
                return Err(ConfigError::new(format!(
                    "`route` must be \"round_robin\", \"least_loaded\", \"key\" or \"broadcast\", not \"{other}\""
                )))
            }
        };
        Ok(policy)
    }

    /// The policy in a proxy's metadata (`route`, `key`); round robin when absent.
    pub(crate) fn from_metadata(metadata: &serde_json::Value) -> Result<Self, ConfigError> {
        let text = |name: &str| match metadata.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(ConfigError::new(format!(
                "`{name}` must be a string, not {other}"
            ))),
        };
        Self::parse(text("route")?, text("key")?)
    }

    /// The policy's name, as `route` gives it.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Policy::RoundRobin => "round_robin",
            Policy::LeastLoaded => "least_loaded",
            Policy::Key(_) => "key",
            Policy::Broadcast => "broadcast",
        }
    }
}

/// A candidate instance as the policy sees it.
pub(crate) struct Candidate<'a> {
    /// The instance id, stable across restarts of that instance.
    pub(crate) instance: &'a str,
    /// Messages sent to it on this session and not yet consumed there.
    pub(crate) in_flight: u64,
}

/// Chooses among candidates, keeping the round-robin turn.
#[derive(Debug, Default)]
pub(crate) struct Chooser {
    turn: usize,
}

impl Chooser {
    /// The indices of `candidates` (not empty) that `msg` goes to; an error when the key
    /// expression fails on it.
    pub(crate) fn choose(
        &mut self,
        policy: &Policy,
        candidates: &[Candidate<'_>],
        msg: &Message,
    ) -> Result<Vec<usize>, String> {
        let one = match policy {
            Policy::Broadcast => return Ok((0..candidates.len()).collect()),
            Policy::RoundRobin => {
                self.turn = self.turn.wrapping_add(1);
                self.turn % candidates.len()
            }
            Policy::LeastLoaded => least_loaded(candidates, &mut self.turn),
            Policy::Key(expr) => {
                let key = expr
                    .eval(&Fact::new(msg))
                    .map_err(|err| format!("key: {err}"))?;
                rendezvous(&key, candidates)
            }
        };
        Ok(vec![one])
    }
}

/// The candidate with the fewest messages in flight; ties go round in turn.
fn least_loaded(candidates: &[Candidate<'_>], turn: &mut usize) -> usize {
    *turn = turn.wrapping_add(1);
    let n = candidates.len();
    (0..n)
        .map(|i| (i + *turn) % n)
        .min_by_key(|&i| candidates[i].in_flight)
        .unwrap_or(0)
}

/// Highest random weight: the candidate whose hash with the key is the largest. A key keeps
/// its instance unless that instance leaves or a new one wins it (about 1/N of the keys).
pub(crate) fn rendezvous(key: &Message, candidates: &[Candidate<'_>]) -> usize {
    let mut text = Vec::new();
    key.write_json(&mut text);
    let weight = |c: &Candidate<'_>| {
        // SipHash with fixed keys: the same weights in every process of this build.
        let mut h = std::hash::DefaultHasher::new();
        text.hash(&mut h);
        c.instance.hash(&mut h);
        h.finish()
    };
    (0..candidates.len())
        .max_by_key(|&i| (weight(&candidates[i]), candidates[i].instance))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
