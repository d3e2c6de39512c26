//! `Console`: a sink that prints each message as one JSON line on stdout.

use std::io::Write;

use reflow_network::{
    Actor, ActorError, ActorResult, Component, ComponentInfo, ConfigError, Context, Message, Ports,
};
use serde_json::Value;

/// Prints each message that arrives on `in` as one line of compact JSON on stdout.
///
/// ```json
/// {"processes": {"print": {"component": "Console"}}}
/// ```
#[derive(Debug, Default)]
pub struct Console;

impl Actor for Console {
    async fn on_message(&mut self, _port: &str, msg: Message, _ctx: &mut Context) -> ActorResult {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{msg}").map_err(|e| ActorError::new(format!("cannot write to stdout: {e}")))
    }
}

impl Component for Console {
    fn info() -> ComponentInfo {
        ComponentInfo::new(
            "Console",
            "Prints each message on `in` as one JSON line on stdout.",
            Ports::new(["in"], Vec::<String>::new()),
        )
    }

    fn from_config(_config: &Value) -> Result<Self, ConfigError> {
        Ok(Console)
    }
}
