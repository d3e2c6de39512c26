//! `Console`: a sink that prints each message as one JSON line on stdout.

use std::io::Write;
use std::time::Duration;

use reflow_network::{
    Actor, ActorError, ActorResult, Component, ComponentInfo, ConfigError, Context, Message, Ports,
};
use serde_json::Value;

/// Lines gathered before they are written at once.
const FLUSH_AT: usize = 64 * 1024;

/// How long a line may wait for others to join it before it is written.
const LINGER: Duration = Duration::from_millis(1);

/// Prints each message that arrives on `in` as one line of compact JSON on stdout. Lines
/// are gathered and written together (one write for many messages), at the latest a
/// millisecond after the first of them, and when the input ends or the process stops.
///
/// ```json
/// {"processes": {"print": {"component": "Console"}}}
/// ```
#[derive(Debug, Default)]
pub struct Console {
    pending: Vec<u8>,
}

impl Console {
    /// Writes the gathered lines.
    fn flush(&mut self) -> ActorResult {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut out = std::io::stdout().lock();
        let written = out.write_all(&self.pending).and_then(|()| out.flush());
        self.pending.clear();
        written.map_err(|e| ActorError::new(format!("cannot write to stdout: {e}")))
    }
}

impl Actor for Console {
    async fn on_message(&mut self, _port: &str, msg: Message, ctx: &mut Context) -> ActorResult {
        if self.pending.is_empty() {
            ctx.set_timer(LINGER);
        }
        msg.write_json(&mut self.pending);
        self.pending.push(b'\n');
        if self.pending.len() >= FLUSH_AT {
            ctx.clear_timer();
            return self.flush();
        }
        Ok(())
    }

    async fn on_timer(&mut self, _ctx: &mut Context) -> ActorResult {
        self.flush()
    }

    async fn on_end(&mut self, ctx: &mut Context) -> ActorResult {
        ctx.clear_timer();
        self.flush()
    }

    async fn on_stop(&mut self, _ctx: &mut Context) -> ActorResult {
        self.flush()
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
        Ok(Console::default())
    }
}
