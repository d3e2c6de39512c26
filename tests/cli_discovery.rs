//! `reflow discovery` as a user runs it: it prints the address it really listens on,
//! answers /health there, enforces the writer token, and stops on Ctrl-C.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a line the test waits for may take; reaching it fails the test.
const PATIENCE: Duration = Duration::from_secs(60);

/// A `reflow discovery` child, killed (by its pid) if the test ends before it exits.
struct Registry {
    child: Child,
    addr: String,
    lines: mpsc::Receiver<String>,
}

impl Registry {
    fn start(flags: &[&str]) -> Registry {
        let mut child = Command::new(env!("CARGO_BIN_EXE_reflow"))
            .args(["discovery", "--bind", "127.0.0.1:0"])
            .args(flags)
            .env("REFLOW_TEST_REGISTRY_TOKEN", "s3cret")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut registry = Registry {
            child,
            addr: String::new(),
            lines,
        };
        let line = registry.wait_for("listening on http://");
        registry.addr = line.rsplit("http://").next().unwrap().to_string();
        registry
    }

    fn wait_for(&self, needle: &str) -> String {
        loop {
            match self.lines.recv_timeout(PATIENCE) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(err) => panic!("the registry never printed {needle:?}: {err}"),
            }
        }
    }

    /// One request; the status line and the body.
    fn request(&self, head: &str, extra: &str, body: &str) -> (String, String) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let request = format!(
            "{head} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        (head.lines().next().unwrap().to_string(), body.to_string())
    }

    /// Sends SIGINT, as Ctrl-C would, and waits for the exit.
    fn interrupt(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success());
        self.child.wait().unwrap()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn the_registry_prints_its_real_address_answers_health_and_stops_on_ctrl_c() {
    let registry = Registry::start(&[]);
    assert!(!registry.addr.ends_with(":0"), "{}", registry.addr);
    registry.wait_for("no writer token");

    let (status, body) = registry.request("GET /health", "", "");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, r#"{"entries":0,"status":"ok"}"#);

    let status = registry.interrupt();
    assert!(status.success(), "{status}");
}

#[test]
fn with_a_token_writes_without_it_are_refused() {
    let registry = Registry::start(&["--token-env", "REFLOW_TEST_REGISTRY_TOKEN"]);
    let record = r#"{"network_id":"n","instance_id":"i","incarnation":"1","address":"127.0.0.1:1","actors":[]}"#;
    let json = "Content-Type: application/json\r\n";
    let (status, body) = registry.request("POST /v1/instances", json, record);
    assert_eq!(status, "HTTP/1.1 401 Unauthorized", "{body}");
    let auth = format!("{json}Authorization: Bearer s3cret\r\n");
    let (status, body) = registry.request("POST /v1/instances", &auth, record);
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    assert_eq!(body, r#"{"ttl_secs":30}"#);
}

#[test]
fn help_names_every_flag() {
    let out = Command::new(env!("CARGO_BIN_EXE_reflow"))
        .args(["discovery", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in ["--bind", "--token-env", "--token-file", "--ttl-secs"] {
        assert!(help.contains(flag), "{help}");
    }
}
