//! An object whose values are CEL expressions, evaluated into an object message: the
//! derived fact of `Rule`'s `emit` and the object form of `Map`'s `expr`.

use reflow_network::{ConfigError, Key, Message, Object};
use serde_json::{Map, Value};
use std::sync::Arc;

use crate::config;
use crate::expr::{Expr, Fact};

/// Output keys with the expression that computes each, in the order of the keys (so that
/// each object is built in order, without sorting).
#[derive(Debug)]
pub(crate) struct Fields {
    key: &'static str,
    fields: Vec<(Key, Expr)>,
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
            fields.push((Key::new(name), config::expr(&path, source)?));
        }
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Fields { key, fields })
    }

    /// The object of every field's value for `fact`; the first failure names its field.
    pub(crate) fn eval(&self, fact: &Fact<'_>) -> Result<Message, String> {
        let mut entries = Vec::with_capacity(self.fields.len());
        for (name, expr) in &self.fields {
            match expr.eval(fact) {
                Ok(value) => entries.push((name.clone(), value)),
                Err(err) => return Err(format!("{}.{name}: {err}", self.key)),
            }
        }
        Ok(Message::Object(Arc::new(Object::from_iter(entries))))
    }
}
