//! `ReadLines`: a source that streams a text file line by line, as strings or as JSON lines.

mod lines;

use std::path::PathBuf;

use reflow_network::{
    Actor, ActorError, ActorResult, Component, ComponentInfo, ConfigError, Context, Message, Ports,
};
use serde::Deserialize;
use serde_json::Value;
use tokio::io::BufReader;

use lines::{Line, Lines};

/// The default longest line, in bytes: 1 MiB.
const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// How much of a line an error record quotes, in bytes.
const QUOTE_BYTES: usize = 200;

/// Reads the file at `path` line by line (buffered, never the whole file at once) and emits
/// each line on `out`, then finishes.
///
/// Ports: no inport; outports `out` (one message per line) and `error` (lines that cannot
/// be read as asked).
///
/// Config: `path` (required; relative to the working directory), `json` (default `false`),
/// `max_line_bytes` (default 1048576, at least 1).
///
/// - Plain mode emits every line as a string, without its `\n` or `\r\n`; empty lines are
///   empty strings.
/// - JSON-lines mode (`"json": true`) parses each line as JSON and emits the value; blank
///   lines are skipped.
///
/// A line that is not valid UTF-8 (either mode), not valid JSON (JSON-lines mode) or longer
/// than `max_line_bytes` (without its terminator) goes to `error` as
/// `{"line": n, "error": reason, "text": start}` with its 1-based line number and the line's
/// first 200 bytes at most (cut at a character boundary), and reading continues with the next
/// line. A line over the limit is never held whole: past `max_line_bytes` its bytes are only
/// counted, and the reason gives its length and the limit. A file that cannot be opened or
/// read fails the process with an error naming the path; the file is opened when the process
/// starts, not when the graph is validated.
///
/// ```json
/// {"processes": {"events": {"component": "ReadLines", "metadata": {"path": "events.jsonl", "json": true}}}}
/// ```
#[derive(Debug)]
pub struct ReadLines {
    path: PathBuf,
    json: bool,
    max_line_bytes: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    path: PathBuf,
    #[serde(default)]
    json: bool,
    #[serde(default = "default_max_line_bytes")]
    max_line_bytes: usize,
}

fn default_max_line_bytes() -> usize {
    DEFAULT_MAX_LINE_BYTES
}

impl ReadLines {
    /// Reads `path`, as JSON lines when `json` is true, with lines of at most 1 MiB.
    pub fn new(path: impl Into<PathBuf>, json: bool) -> Self {
        ReadLines {
            path: path.into(),
            json,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }

    /// Sets the longest line, in bytes without its terminator; a longer line goes to
    /// `error`. A limit of 0 is taken as 1.
    pub fn with_max_line_bytes(mut self, max: usize) -> Self {
        self.max_line_bytes = max.max(1);
        self
    }

    fn io_error(&self, doing: &str, err: std::io::Error) -> ActorError {
        ActorError::new(format!("cannot {doing} `{}`: {err}", self.path.display()))
    }

    async fn emit(&self, line: u64, raw: &[u8], ctx: &mut Context) -> ActorResult {
        let text = match std::str::from_utf8(raw) {
            Ok(text) => text,
            Err(err) => {
                let reason = format!("invalid UTF-8: {err}");
                return ctx
                    .send("error", bad_line(line, reason, raw, raw.len() as u64))
                    .await;
            }
        };
        if !self.json {
            return ctx.send("out", Message::from(text)).await;
        }
        if text.trim().is_empty() {
            return Ok(());
        }
        match Message::from_json_str(text) {
            Ok(msg) => ctx.send("out", msg).await,
            Err(err) => {
                ctx.send("error", bad_line(line, err, raw, raw.len() as u64))
                    .await
            }
        }
    }

    /// The error record of a line longer than the limit, of which `start` was kept.
    fn too_long(&self, line: u64, start: &[u8], len: u64) -> Message {
        let reason = format!(
            "line of {len} bytes is longer than `max_line_bytes` ({}); skipped",
            self.max_line_bytes
        );
        bad_line(line, reason, start, len)
    }
}

/// `{"line": n, "error": reason, "text": ...}` for a line of `len` bytes starting with
/// `start`; `text` quotes at most its first [`QUOTE_BYTES`], and the reason then says so.
fn bad_line(line: u64, reason: impl std::fmt::Display, start: &[u8], len: u64) -> Message {
    let quoted = quote_len(start);
    let reason = if (quoted as u64) < len {
        format!("{reason} (`text` quotes its first {quoted} of {len} bytes)")
    } else {
        reason.to_string()
    };
    let text = String::from_utf8_lossy(&start[..quoted]);
    Message::object([
        (
            "line",
            Message::Integer(i64::try_from(line).unwrap_or(i64::MAX)),
        ),
        ("error", Message::from(reason)),
        ("text", Message::from(&*text)),
    ])
}

/// How many of the first bytes of `raw` to quote: at most [`QUOTE_BYTES`], cut back to a
/// character boundary (invalid UTF-8 before the cut is replaced by U+FFFD when quoted).
fn quote_len(raw: &[u8]) -> usize {
    let end = raw.len().min(QUOTE_BYTES);
    match std::str::from_utf8(&raw[..end]) {
        // Only a character cut by the end of the quote, not a bad byte before it.
        Err(err) if err.error_len().is_none() => err.valid_up_to(),
        _ => end,
    }
}

impl Actor for ReadLines {
    async fn on_start(&mut self, ctx: &mut Context) -> ActorResult {
        let file = tokio::fs::File::open(&self.path)
            .await
            .map_err(|e| self.io_error("open", e))?;
        let mut lines = Lines::new(
            BufReader::with_capacity(crate::FILE_BUFFER, file),
            self.max_line_bytes,
        );
        let mut number = 0;
        while let Some(line) = lines.next().await.map_err(|e| self.io_error("read", e))? {
            number += 1;
            match line {
                Line::Whole(raw) => self.emit(number, raw, ctx).await?,
                Line::TooLong { start, len } => {
                    ctx.send("error", self.too_long(number, start, len)).await?
                }
            }
        }
        Ok(())
    }

    async fn on_message(&mut self, _port: &str, _msg: Message, _ctx: &mut Context) -> ActorResult {
        Ok(())
    }
}

impl Component for ReadLines {
    fn info() -> ComponentInfo {
        ComponentInfo::new(
            "ReadLines",
            "Reads a file line by line: each line on `out` as a string, or as JSON with `json`.",
            Ports::new(Vec::<String>::new(), ["out", "error"]),
        )
    }

    fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let config: Config = crate::config::parse(config)?;
        if config.path.as_os_str().is_empty() {
            return Err(ConfigError::new("`path` must not be empty"));
        }
        if config.max_line_bytes == 0 {
            return Err(ConfigError::new("`max_line_bytes` must be at least 1"));
        }
        Ok(ReadLines::new(config.path, config.json).with_max_line_bytes(config.max_line_bytes))
    }
}

#[cfg(test)]
mod tests;
