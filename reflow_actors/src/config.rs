//! Reading a process's configuration (its `metadata`): layout keys written by graph editors
//! (`x`, `y`) are dropped before a component's own strict settings are parsed, so a
//! component can `deny_unknown_fields` and still run in graphs drawn by an editor.
//!
//! ```
//! use reflow_actors::config;
//! use serde::Deserialize;
//! use serde_json::json;
//!
//! #[derive(Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Settings {
//!     percent: u32,
//! }
//!
//! let settings: Settings = config::parse(&json!({"percent": 10, "x": 120, "y": 40})).unwrap();
//! assert_eq!(settings.percent, 10);
//! let err = config::parse::<Settings>(&json!({"percnt": 10})).err().unwrap();
//! assert!(err.to_string().contains("unknown field `percnt`"), "{err}");
//! ```

use std::time::Duration;

use reflow_network::ConfigError;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::expr::Expr;

/// Keys that graph editors store in a process's `metadata` for drawing; no actor reads them.
const LAYOUT_KEYS: [&str; 2] = ["x", "y"];

/// The longest duration a setting in milliseconds may ask for (one year), so that adding it
/// to the current instant can never overflow.
const MAX_MILLIS: u64 = 365 * 24 * 60 * 60 * 1000;

/// Parses `config` into `T`, ignoring layout keys. A missing configuration (`null`) reads
/// as an empty object, so a component whose settings all have defaults needs none.
pub fn parse<T: DeserializeOwned>(config: &Value) -> Result<T, ConfigError> {
    let settings = match config {
        Value::Null => Value::Object(serde_json::Map::new()),
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !LAYOUT_KEYS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => {
            return Err(ConfigError::new(format!(
                "expected an object of settings, got `{other}`"
            )))
        }
    };
    Ok(serde_json::from_value(settings)?)
}

/// Settings of a component that takes none.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoSettings {}

/// Accepts only a configuration without settings (layout keys aside).
pub fn none(config: &Value) -> Result<(), ConfigError> {
    parse::<NoSettings>(config).map(|NoSettings {}| ())
}

/// Checks a setting in milliseconds (`name` is the key, for the message) and converts it.
pub(crate) fn millis(name: &str, ms: u64) -> Result<Duration, ConfigError> {
    if ms > MAX_MILLIS {
        return Err(ConfigError::new(format!(
            "`{name}` must be at most {MAX_MILLIS} (one year), got {ms}"
        )));
    }
    Ok(Duration::from_millis(ms))
}

/// Like [`millis`], also rejecting 0.
pub(crate) fn positive_millis(name: &str, ms: u64) -> Result<Duration, ConfigError> {
    if ms == 0 {
        return Err(ConfigError::new(format!("`{name}` must be at least 1")));
    }
    millis(name, ms)
}

/// Compiles the CEL expression found under `key`.
pub(crate) fn expr(key: &str, source: &str) -> Result<Expr, ConfigError> {
    Expr::compile(source).map_err(|err| ConfigError::new(format!("`{key}`: {err}")))
}

/// Compiles an optional CEL expression found under `key`.
pub(crate) fn optional_expr(key: &str, source: Option<&str>) -> Result<Option<Expr>, ConfigError> {
    source.map(|source| expr(key, source)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Settings {
        #[serde(default)]
        size: u32,
    }

    #[test]
    fn ignores_layout_keys_only() {
        let parsed: Settings = parse(&json!({"size": 3, "x": 10, "y": 20})).unwrap();
        assert_eq!(parsed, Settings { size: 3 });
        let err = parse::<Settings>(&json!({"sise": 3})).unwrap_err();
        assert_eq!(err.to_string(), "unknown field `sise`, expected `size`");
    }

    #[test]
    fn null_is_empty_and_non_objects_are_refused() {
        assert_eq!(
            parse::<Settings>(&json!(null)).unwrap(),
            Settings { size: 0 }
        );
        let err = parse::<Settings>(&json!([1])).unwrap_err();
        assert_eq!(err.to_string(), "expected an object of settings, got `[1]`");
    }

    #[test]
    fn none_accepts_only_layout() {
        assert!(none(&json!(null)).is_ok());
        assert!(none(&json!({"x": 1, "y": 2})).is_ok());
        assert_eq!(
            none(&json!({"size": 1})).unwrap_err().to_string(),
            "unknown field `size`, there are no fields"
        );
    }

    #[test]
    fn bounds_durations() {
        assert_eq!(millis("ms", 0).unwrap(), Duration::ZERO);
        assert!(millis("ms", u64::MAX)
            .unwrap_err()
            .to_string()
            .contains("`ms` must be at most"));
        assert_eq!(
            positive_millis("period_ms", 0).unwrap_err().to_string(),
            "`period_ms` must be at least 1"
        );
    }
}
