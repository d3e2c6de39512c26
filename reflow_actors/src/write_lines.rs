//! `WriteLines`: a sink that writes each message as one JSON line to a file.

use std::path::PathBuf;

use reflow_network::{
    Actor, ActorError, ActorResult, Component, ComponentInfo, ConfigError, Context, Message, Ports,
};
use serde::Deserialize;
use serde_json::Value;
use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncWriteExt, BufWriter};

/// Writes each message that arrives on `in` to the file at `path` as one line of compact
/// JSON (the form [`Message::to_json`] gives), through a buffer that is flushed when the
/// input ends and when the process stops.
///
/// Ports: inport `in`; no outport.
///
/// Config: `path` (required; relative to the working directory), `append` (default `true`;
/// `false` truncates the file when the process starts). The file and its directories are
/// created if missing. A file that cannot be created, opened or written fails the process
/// with an error naming the path; it is opened when the process starts, not when the graph
/// is validated.
///
/// ```json
/// {"processes": {"save": {"component": "WriteLines", "metadata": {"path": "out.jsonl", "append": false}}}}
/// ```
#[derive(Debug)]
pub struct WriteLines {
    path: PathBuf,
    append: bool,
    writer: Option<BufWriter<File>>,
    /// The line being written, kept to reuse its allocation.
    line: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    path: PathBuf,
    #[serde(default = "yes")]
    append: bool,
}

fn yes() -> bool {
    true
}

impl WriteLines {
    /// Writes to `path`, appending when `append` is true, truncating otherwise.
    pub fn new(path: impl Into<PathBuf>, append: bool) -> Self {
        WriteLines {
            path: path.into(),
            append,
            writer: None,
            line: Vec::new(),
        }
    }

    fn io_error(&self, doing: &str, err: std::io::Error) -> ActorError {
        ActorError::new(format!("cannot {doing} `{}`: {err}", self.path.display()))
    }

    async fn flush(&mut self) -> ActorResult {
        let result = match self.writer.as_mut() {
            Some(writer) => writer.flush().await,
            None => Ok(()),
        };
        result.map_err(|e| self.io_error("write to", e))
    }
}

impl Actor for WriteLines {
    async fn on_start(&mut self, _ctx: &mut Context) -> ActorResult {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| self.io_error("create the directory of", e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(self.append)
            .truncate(!self.append)
            .open(&self.path)
            .await
            .map_err(|e| self.io_error("open", e))?;
        self.writer = Some(BufWriter::with_capacity(crate::FILE_BUFFER, file));
        Ok(())
    }

    async fn on_message(&mut self, _port: &str, msg: Message, _ctx: &mut Context) -> ActorResult {
        let Some(writer) = self.writer.as_mut() else {
            return Err(ActorError::new("the output file is not open"));
        };
        self.line.clear();
        msg.write_json(&mut self.line);
        self.line.push(b'\n');
        let written = writer.write_all(&self.line).await;
        written.map_err(|e| self.io_error("write to", e))
    }

    async fn on_end(&mut self, _ctx: &mut Context) -> ActorResult {
        self.flush().await
    }

    async fn on_stop(&mut self, _ctx: &mut Context) -> ActorResult {
        self.flush().await?;
        self.writer = None;
        Ok(())
    }
}

impl Component for WriteLines {
    fn info() -> ComponentInfo {
        ComponentInfo::new(
            "WriteLines",
            "Writes each message on `in` as one JSON line to the file at `path`.",
            Ports::new(["in"], Vec::<String>::new()),
        )
    }

    fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let config: Config = crate::config::parse(config)?;
        if config.path.as_os_str().is_empty() {
            return Err(ConfigError::new("`path` must not be empty"));
        }
        Ok(WriteLines::new(config.path, config.append))
    }
}

#[cfg(test)]
mod tests {
    use crate::harness::TempDir;
    use crate::testing::{config_error, msgs, run};
    use reflow_network::Message;
    use serde_json::json;

    fn inputs() -> Vec<(&'static str, Message)> {
        let values = [json!(1), json!("two"), json!({"three": [3]}), json!(null)];
        msgs(values).into_iter().map(|m| ("in", m)).collect()
    }

    const LINES: &str = "1\n\"two\"\n{\"three\":[3]}\nnull\n";

    #[tokio::test]
    async fn appends_json_lines_and_flushes_at_end() {
        let dir = TempDir::new("write-lines");
        let path = dir.file("out.jsonl");
        std::fs::write(&path, "\"old\"\n").unwrap();
        let outcome = run("WriteLines", json!({"path": path}), inputs()).await;
        assert!(outcome.report.is_success(), "{:?}", outcome.report);
        let written = std::fs::read_to_string(&path).unwrap();
        assert_eq!(written, format!("\"old\"\n{LINES}"));
    }

    #[tokio::test]
    async fn truncates_without_append_and_creates_the_file() {
        let dir = TempDir::new("write-lines-truncate");
        let path = dir.file("out.jsonl");
        std::fs::write(&path, "left over from before, and long\n").unwrap();
        let config = json!({"path": path, "append": false});
        let outcome = run("WriteLines", config, inputs()).await;
        assert!(outcome.report.is_success());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), LINES);

        let fresh = dir.file("fresh.jsonl");
        let outcome = run("WriteLines", json!({"path": fresh}), inputs()).await;
        assert!(outcome.report.is_success());
        assert_eq!(std::fs::read_to_string(&fresh).unwrap(), LINES);
    }

    #[tokio::test]
    async fn creates_missing_directories() {
        let dir = TempDir::new("write-lines-missing-dir");
        let path = dir.file("new").join("deeper").join("out.jsonl");
        let outcome = run("WriteLines", json!({"path": path}), inputs()).await;
        assert!(outcome.report.is_success(), "{:?}", outcome.report);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), LINES);
    }

    #[tokio::test]
    async fn unopenable_file_fails_with_its_path() {
        let dir = TempDir::new("write-lines-unopenable");
        let blocker = dir.file("a-file");
        std::fs::write(&blocker, "").unwrap();
        let path = blocker.join("out.jsonl");
        let outcome = run("WriteLines", json!({"path": path}), inputs()).await;
        assert_eq!(outcome.report.failures.len(), 1);
        let error = &outcome.report.failures[0].error;
        assert!(
            error.starts_with("cannot create the directory of `"),
            "{error}"
        );
        assert!(error.contains("a-file"), "{error}");

        let outcome = run("WriteLines", json!({"path": dir.file("")}), inputs()).await;
        let error = &outcome.report.failures[0].error;
        assert!(error.starts_with("cannot open `"), "{error}");
    }

    #[test]
    fn rejects_bad_config() {
        assert_eq!(
            config_error("WriteLines", json!(null)),
            "missing field `path`"
        );
        assert_eq!(
            config_error("WriteLines", json!({"path": ""})),
            "`path` must not be empty"
        );
        assert!(
            config_error("WriteLines", json!({"path": "a", "append": 1}))
                .contains("expected a boolean")
        );
        assert!(
            config_error("WriteLines", json!({"path": "a", "mode": "w"}))
                .starts_with("unknown field `mode`")
        );
    }
}
