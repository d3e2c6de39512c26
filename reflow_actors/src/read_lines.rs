//! `ReadLines`: a source that streams a text file line by line, as strings or as JSON lines.

use std::path::PathBuf;

use reflow_network::{
    Actor, ActorError, ActorResult, Component, ComponentInfo, ConfigError, Context, Message, Ports,
};
use serde::Deserialize;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Reads the file at `path` line by line (buffered, never the whole file at once) and emits
/// each line on `out`, then finishes.
///
/// Ports: no inport; outports `out` (one message per line) and `error` (lines that cannot
/// be read as asked).
///
/// Config: `path` (required; relative to the working directory), `json` (default `false`).
///
/// - Plain mode emits every line as a string, without its `\n` or `\r\n`; empty lines are
///   empty strings.
/// - JSON-lines mode (`"json": true`) parses each line as JSON and emits the value; blank
///   lines are skipped.
///
/// A line that is not valid UTF-8 (either mode) or not valid JSON (JSON-lines mode) goes to
/// `error` as `{"line": n, "error": reason, "text": the line}` with its 1-based line number,
/// and reading continues. A file that cannot be opened or read fails the process with an
/// error naming the path; the file is opened when the process starts, not when the graph is
/// validated.
///
/// ```json
/// {"processes": {"events": {"component": "ReadLines", "metadata": {"path": "events.jsonl", "json": true}}}}
/// ```
#[derive(Debug)]
pub struct ReadLines {
    path: PathBuf,
    json: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    path: PathBuf,
    #[serde(default)]
    json: bool,
}

impl ReadLines {
    /// Reads `path`, as JSON lines when `json` is true.
    pub fn new(path: impl Into<PathBuf>, json: bool) -> Self {
        ReadLines {
            path: path.into(),
            json,
        }
    }

    fn io_error(&self, doing: &str, err: std::io::Error) -> ActorError {
        ActorError::new(format!("cannot {doing} `{}`: {err}", self.path.display()))
    }

    async fn emit(&self, line: u64, raw: &[u8], ctx: &mut Context) -> ActorResult {
        let text = match std::str::from_utf8(raw) {
            Ok(text) => text,
            Err(err) => {
                let text = String::from_utf8_lossy(raw);
                let reason = format!("invalid UTF-8: {err}");
                return ctx.send("error", bad_line(line, reason, &text)).await;
            }
        };
        if !self.json {
            return ctx.send("out", Message::from(text)).await;
        }
        if text.trim().is_empty() {
            return Ok(());
        }
        match serde_json::from_str::<Value>(text) {
            Ok(value) => ctx.send("out", Message::from(value)).await,
            Err(err) => ctx.send("error", bad_line(line, err, text)).await,
        }
    }
}

fn bad_line(line: u64, reason: impl std::fmt::Display, text: &str) -> Message {
    Message::object([
        (
            "line",
            Message::Integer(i64::try_from(line).unwrap_or(i64::MAX)),
        ),
        ("error", Message::from(reason.to_string())),
        ("text", Message::from(text)),
    ])
}

/// Removes the line terminator (`\n` or `\r\n`) that `read_until` keeps.
fn trim_newline(buf: &mut Vec<u8>) {
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
}

impl Actor for ReadLines {
    async fn on_start(&mut self, ctx: &mut Context) -> ActorResult {
        let file = tokio::fs::File::open(&self.path)
            .await
            .map_err(|e| self.io_error("open", e))?;
        let mut reader = BufReader::new(file);
        let mut buf = Vec::new();
        let mut line = 0;
        loop {
            buf.clear();
            let read = reader
                .read_until(b'\n', &mut buf)
                .await
                .map_err(|e| self.io_error("read", e))?;
            if read == 0 {
                return Ok(());
            }
            line += 1;
            trim_newline(&mut buf);
            self.emit(line, &buf, ctx).await?;
        }
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
        Ok(ReadLines::new(config.path, config.json))
    }
}

#[cfg(test)]
mod tests {
    use crate::harness::TempDir;
    use crate::testing::{config_error, run};
    use serde_json::{json, Value};

    async fn read(contents: &[u8], json_mode: bool) -> (Vec<Value>, Vec<Value>) {
        let dir = TempDir::new("read-lines");
        let path = dir.file("input.txt");
        std::fs::write(&path, contents).unwrap();
        let config = json!({"path": path, "json": json_mode});
        let outcome = run("ReadLines", config, vec![]).await;
        assert!(outcome.report.is_success(), "{:?}", outcome.report);
        (outcome.json("out"), outcome.json("error"))
    }

    #[tokio::test]
    async fn plain_mode_emits_every_line() {
        let (out, errors) = read(b"a\n\nb\r\nlast without newline", false).await;
        assert_eq!(
            out,
            [
                json!("a"),
                json!(""),
                json!("b"),
                json!("last without newline")
            ]
        );
        assert!(errors.is_empty());
    }

    #[tokio::test]
    async fn json_mode_parses_skips_blanks_and_reports_bad_lines() {
        let input = b"{\"a\": 1}\n\n   \nnot json\n[2, 3]\n\"s\"\n";
        let (out, errors) = read(input, true).await;
        assert_eq!(out, [json!({"a": 1}), json!([2, 3]), json!("s")]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0]["line"], json!(4));
        assert_eq!(errors[0]["text"], json!("not json"));
        assert!(errors[0]["error"].as_str().unwrap().contains("expected"));
    }

    #[tokio::test]
    async fn invalid_utf8_goes_to_error_and_reading_continues() {
        let (out, errors) = read(b"ok\n\xff\xfe\nafter\n", false).await;
        assert_eq!(out, [json!("ok"), json!("after")]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0]["line"], json!(2));
        assert!(errors[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid UTF-8"));
    }

    #[tokio::test]
    async fn empty_file_emits_nothing() {
        let (out, errors) = read(b"", true).await;
        assert!(out.is_empty() && errors.is_empty());
    }

    #[tokio::test]
    async fn missing_file_fails_the_process_with_its_path() {
        let dir = TempDir::new("read-lines-missing");
        let path = dir.file("nope.txt");
        let outcome = run("ReadLines", json!({"path": path}), vec![]).await;
        assert_eq!(outcome.report.failures.len(), 1);
        let error = &outcome.report.failures[0].error;
        assert!(error.starts_with("cannot open `"), "{error}");
        assert!(error.contains("nope.txt"), "{error}");
    }

    #[test]
    fn config_is_checked_without_io() {
        let registry = crate::registry();
        assert!(registry
            .build(
                "ReadLines",
                &json!({"path": "/no/such/file", "x": 1, "y": 2})
            )
            .is_ok());
        assert_eq!(config_error("ReadLines", json!({})), "missing field `path`");
        assert_eq!(
            config_error("ReadLines", json!({"path": ""})),
            "`path` must not be empty"
        );
        assert!(
            config_error("ReadLines", json!({"path": "a", "json": "yes"}))
                .contains("expected a boolean")
        );
        assert!(
            config_error("ReadLines", json!({"path": "a", "jsonl": true}))
                .starts_with("unknown field `jsonl`")
        );
    }
}
