//! A proxy's timeout, failure mode and circuit breaker, read from its process metadata
//! (`{"timeout_ms": 5000, "failure_mode": "retry", "retries": 3, "retry_backoff_ms": 100,
//! "breaker_failures": 5, "breaker_cooldown_ms": 10000}`).
//! Pure parsing, no I/O; other keys (layout such as `x`, `y`) are ignored.

use std::time::Duration;

use reflow_network::ConfigError;
use serde_json::{Map, Value};

#[cfg(test)]
mod tests;

/// Every metadata key a remote node's proxy reads, and the layout keys editors write.
pub(crate) const KNOWN_KEYS: [&str; 10] = [
    "timeout_ms",
    "failure_mode",
    "retries",
    "retry_backoff_ms",
    "breaker_failures",
    "breaker_cooldown_ms",
    "route",
    "key",
    "x",
    "y",
];

/// How long a proxy waits, by default, for the link to take a message or for the remote
/// side to make progress after the input ended.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How many times a proxy in `retry` mode re-attempts a send, by default.
pub(crate) const DEFAULT_RETRIES: u32 = 3;
/// The pause before the first re-attempt, by default; it doubles at every further one.
pub(crate) const DEFAULT_BACKOFF: Duration = Duration::from_millis(100);
/// Sends in a row that run out of time before an instance's circuit breaker opens, by default.
pub(crate) const DEFAULT_BREAKER_FAILURES: u32 = 5;
/// How long an open circuit breaker keeps traffic off its instance, by default.
pub(crate) const DEFAULT_BREAKER_COOLDOWN: Duration = Duration::from_secs(10);
/// The longest pause between two attempts, unless `retry_backoff_ms` itself is longer.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What a proxy does when the remote side does not keep up within its timeout, or fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureMode {
    /// The proxy fails: its process reports the error.
    Fail,
    /// The message is dropped (or the wait abandoned), counted and logged; the proxy carries
    /// on, or finishes normally when nothing more can come back.
    Skip,
    /// A send is attempted again with exponential backoff, up to `retries` times; then the
    /// proxy fails. A reply wait or a remote failure cannot be retried: the proxy fails.
    Retry,
}

impl FailureMode {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "fail" => Some(FailureMode::Fail),
            "skip" => Some(FailureMode::Skip),
            "retry" => Some(FailureMode::Retry),
            _ => None,
        }
    }
}

/// The settings of one proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProxyOptions {
    /// Bounds a send onto the link, and the silence of the remote side after the input ended.
    pub(crate) timeout: Duration,
    /// What happens when the timeout runs out or the remote actor fails.
    pub(crate) failure_mode: FailureMode,
    /// Re-attempts of one send in `retry` mode (so `retries + 1` attempts in all).
    pub(crate) retries: u32,
    /// The pause before the first re-attempt; each further one doubles it.
    pub(crate) retry_backoff: Duration,
    /// Sends in a row to one instance that run out of time before its breaker opens (0: no
    /// breaker).
    pub(crate) breaker_failures: u32,
    /// How long an open breaker keeps traffic off its instance before one probe.
    pub(crate) breaker_cooldown: Duration,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        ProxyOptions {
            timeout: DEFAULT_TIMEOUT,
            failure_mode: FailureMode::Fail,
            retries: DEFAULT_RETRIES,
            retry_backoff: DEFAULT_BACKOFF,
            breaker_failures: DEFAULT_BREAKER_FAILURES,
            breaker_cooldown: DEFAULT_BREAKER_COOLDOWN,
        }
    }
}

impl ProxyOptions {
    /// The options in a process's metadata: an object, or `null` for the defaults. A key
    /// given as `null` keeps its default.
    pub(crate) fn from_metadata(metadata: &Value) -> Result<Self, ConfigError> {
        let map = match metadata {
            Value::Null => return Ok(Self::default()),
            Value::Object(map) => map,
            other => {
                return Err(ConfigError::new(format!(
                    "the metadata of a remote actor must be an object, not {other}"
                )))
            }
        };
        let mut options = Self::default();
        if let Some(ms) = integer(map, "timeout_ms", 1)? {
            options.timeout = Duration::from_millis(ms);
        }
        if let Some(mode) = field(map, "failure_mode") {
            options.failure_mode = mode.as_str().and_then(FailureMode::parse).ok_or_else(|| {
                ConfigError::new(format!(
                    "`failure_mode` must be \"fail\", \"skip\" or \"retry\", not {mode}"
                ))
            })?;
        }
        if let Some(n) = integer(map, "retries", 0)? {
            options.retries = u32::try_from(n)
                .map_err(|_| ConfigError::new(format!("`retries` is too large: {n}")))?;
        }
        if let Some(ms) = integer(map, "retry_backoff_ms", 0)? {
            options.retry_backoff = Duration::from_millis(ms);
        }
        if let Some(n) = integer(map, "breaker_failures", 0)? {
            options.breaker_failures = u32::try_from(n)
                .map_err(|_| ConfigError::new(format!("`breaker_failures` is too large: {n}")))?;
        }
        if let Some(ms) = integer(map, "breaker_cooldown_ms", 1)? {
            options.breaker_cooldown = Duration::from_millis(ms);
        }
        Ok(options)
    }

    /// The pause before re-attempt `attempt` (1 for the first): `retry_backoff` doubled at
    /// every re-attempt, at most 60 s (or `retry_backoff` itself when that is longer).
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let cap = MAX_BACKOFF.max(self.retry_backoff);
        let doublings = attempt.saturating_sub(1).min(31);
        self.retry_backoff
            .checked_mul(1 << doublings)
            .map_or(cap, |pause| pause.min(cap))
    }
}

/// The value of `key`, unless it is absent or `null`.
fn field<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|v| !v.is_null())
}

/// The whole number at `key`, at least `min`, unless it is absent or `null`.
fn integer(map: &Map<String, Value>, key: &str, min: u64) -> Result<Option<u64>, ConfigError> {
    let Some(value) = field(map, key) else {
        return Ok(None);
    };
    match value.as_u64() {
        Some(n) if n >= min => Ok(Some(n)),
        _ => Err(ConfigError::new(format!(
            "`{key}` must be a whole number of at least {min}, not {value}"
        ))),
    }
}
