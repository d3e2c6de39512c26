//! Reading a component's configuration from a process's `metadata`: layout keys written by
//! graph editors are ignored, unknown keys are refused, CEL expressions are compiled with
//! the key they came from in any error.

use reflow_network::ConfigError;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::expr::Expr;

/// Keys that graph editors put in `metadata` for their own use.
const LAYOUT_KEYS: [&str; 2] = ["x", "y"];

/// Deserializes `config` (an object, or `null` for none) into `T`, without layout keys.
pub(crate) fn parse<T: DeserializeOwned>(config: &Value) -> Result<T, ConfigError> {
    let mut config = match config {
        Value::Null => Value::Object(serde_json::Map::new()),
        other => other.clone(),
    };
    if let Value::Object(map) = &mut config {
        for key in LAYOUT_KEYS {
            map.remove(key);
        }
    }
    Ok(serde_json::from_value(config)?)
}

/// Compiles the CEL expression found under `key`.
pub(crate) fn expr(key: &str, source: &str) -> Result<Expr, ConfigError> {
    Expr::compile(source).map_err(|err| ConfigError::new(format!("`{key}`: {err}")))
}

/// Compiles an optional CEL expression found under `key`.
pub(crate) fn optional_expr(key: &str, source: Option<&str>) -> Result<Option<Expr>, ConfigError> {
    source.map(|source| expr(key, source)).transpose()
}
