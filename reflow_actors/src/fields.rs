//! An object whose values are CEL expressions, evaluated into an object message: the
//! derived fact of `Rule`'s `emit` and the object form of `Map`'s `expr`.

use reflow_network::{ConfigError, Message};
use serde_json::{Map, Value};

use crate::config;
use crate::expr::{Expr, Fact};

/// Output keys with the expression that computes each.
#[derive(Debug)]
pub(crate) struct Fields {
    key: &'static str,
    fields: Vec<(String, Expr)>,
}

impl Fields {
    /// Compiles every value of `spec`, found under the config key `key`; each must be a
    /// string holding a CEL expression.
    pub(crate) fn compile(
        key: &'static str,
        spec: &Map<String, Value>,
    ) -> Result<Self, ConfigError> {
        let mut fields = Vec::with_capacity(spec.len());
        for (name, source) in spec {
            let path = format!("{key}.{name}");
            let Value::String(source) = source else {
                return Err(ConfigError::new(format!(
                    "`{path}` must be a CEL expression in a string, not {source}"
                )));
            };
            fields.push((name.clone(), config::expr(&path, source)?));
        }
        Ok(Fields { key, fields })
    }

    /// The object of every field's value for `fact`; the first failure names its field.
    pub(crate) fn eval(&self, fact: &Fact<'_>) -> Result<Message, String> {
        let mut entries = Vec::with_capacity(self.fields.len());
        for (name, expr) in &self.fields {
            match expr.eval(fact) {
                Ok(value) => entries.push((name.as_str(), value)),
                Err(err) => return Err(format!("{}.{name}: {err}", self.key)),
            }
        }
        Ok(Message::object(entries))
    }
}
