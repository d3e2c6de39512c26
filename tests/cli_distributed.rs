//! `reflow run` across two real processes, as a user runs it in two terminals: a validator
//! that serves `check`, a producer that uses `check@validation`, tokens, /metrics, Ctrl-C.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::cli_harness::registry;
use crate::common;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

const TOKEN_VAR: &str = "REFLOW_TEST_TOKEN";
const WRONG_TOKEN_VAR: &str = "REFLOW_TEST_WRONG_TOKEN";

/// How long a line the test waits for may take; generous for a loaded machine. Reaching it
/// fails the test, it never paces it.
const PATIENCE: Duration = Duration::from_secs(60);

fn reflow() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reflow"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env(TOKEN_VAR, "s3cret-demo-token")
        .env(WRONG_TOKEN_VAR, "not-the-token");
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A child process killed (by its pid) if the test ends before it exits.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A serving `reflow run` and its stderr, read line by line on a thread.
struct Server {
    child: Guard,
    addr: String,
    lines: mpsc::Receiver<String>,
    reader: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts the validator on an ephemeral port and waits for its "listening on" line.
    fn start() -> Server {
        Server::start_with(&[])
    }

    /// [`Server::start`] with more flags; `addr` is what it prints it listens on.
    fn start_with(flags: &[&OsStr]) -> Server {
        let mut child = Guard(
            reflow()
                .args(["run", "graphs/distributed/validator.json"])
                .args(["--bind", "127.0.0.1:0", "--network-id", "validation"])
                .args(["--export", "check", "--token-env", TOKEN_VAR])
                .args(flags)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let stderr = child.0.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            addr: String::new(),
            lines,
            reader: Some(reader),
        };
        let line = server.wait_for("listening on ");
        assert!(
            line.starts_with("reflow: network `validation` (instance "),
            "{line}"
        );
        server.addr = line.rsplit(' ').next().unwrap().to_string();
        server
    }

    /// The next stderr line that contains `needle`, the lines before it being skipped.
    fn wait_for(&self, needle: &str) -> String {
        loop {
            match self.lines.recv_timeout(PATIENCE) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(err) => panic!("the server never printed {needle:?}: {err}"),
            }
        }
    }

    /// `GET path` over a plain HTTP/1.1 request; the status line and the body.
    fn get(&self, path: &str) -> (String, String) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        (head.lines().next().unwrap().to_string(), body.to_string())
    }

    /// Sends SIGINT, as Ctrl-C in the terminal would, and waits for the exit.
    fn interrupt(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let pid = self.child.0.id().to_string();
        let kill = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(kill.success());
        let status = self.child.0.wait().unwrap();
        // The child has exited, so its stderr is closed and the reader ends.
        self.reader.take().unwrap().join().unwrap();
        (status, self.lines.try_iter().collect())
    }
}

fn producer(server: &Server, token_var: &str) -> Output {
    producer_with(&server.addr, token_var, &[])
}

/// A producer that links to `addr` with more flags.
fn producer_with(addr: &str, token_var: &str, flags: &[&OsStr]) -> Output {
    reflow()
        .args(["run", "graphs/distributed/producer.json"])
        .args(["--network-id", "producer", "--connect", addr])
        .args(["--token-env", token_var])
        .args(flags)
        .output()
        .unwrap()
}

/// What the producer prints when every order went through the validator's rule.
const VERDICTS: [&str; 5] = [
    r#"{"amount":40,"id":1}"#,
    r#"{"amount":80,"id":2}"#,
    r#"{"amount":120,"id":3,"verdict":"large"}"#,
    r#"{"amount":160,"id":4,"verdict":"large"}"#,
    r#"{"amount":200,"id":5,"verdict":"large"}"#,
];

#[test]
fn a_producer_uses_the_validators_rule_then_a_wrong_token_is_refused_and_counted() {
    let server = Server::start();

    let out = producer(&server, TOKEN_VAR);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).lines().collect::<Vec<_>>(),
        VERDICTS,
        "stderr: {}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("reflow: linked to network `validation`"),
        "{}",
        text(&out.stderr)
    );
    // The producer left having received every verdict: the server lost nothing.
    let down = server.wait_for("down:");
    assert!(down.contains("`producer`"), "{down}");
    let (_, body) = server.get("/metrics");
    assert!(
        body.lines()
            .any(|l| l == "reflow_bridge_messages_lost_total 0"),
        "{body}"
    );

    let out = producer(&server, WRONG_TOKEN_VAR);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot link to {}", server.addr)),
        "{stderr}"
    );
    assert!(stderr.contains("authentication failed"), "{stderr}");
    assert_eq!(text(&out.stdout), "", "nothing ran");

    // The server counts the failure before it logs the refusal, so once the line is there
    // the counter is final.
    server.wait_for("refused a link");
    let (status, body) = server.get("/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let failures: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("reflow_bridge_handshake_failures_total{"))
        .collect();
    assert!(
        failures.contains(&r#"reflow_bridge_handshake_failures_total{reason="auth_failed"} 1"#),
        "{body}"
    );
    assert!(
        body.lines()
            .any(|l| l == "reflow_bridge_links_established_total 1"),
        "only the good producer linked:\n{body}"
    );

    let (status, rest) = server.interrupt();
    assert_eq!(status.code(), Some(0), "stderr after start: {rest:?}");
    assert!(
        rest.iter()
            .any(|l| l == "interrupted (Ctrl-C): shutting down"),
        "{rest:?}"
    );
}

#[test]
fn a_remote_node_without_a_bridge_is_refused_with_exit_two() {
    let out = reflow()
        .args(["run", "graphs/distributed/producer.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("`check@validation`"), "{stderr}");
    assert!(stderr.contains("no bridge is attached"), "{stderr}");
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn a_bridge_without_a_token_is_refused_before_anything_runs() {
    let out = reflow()
        .args(["run", "graphs/distributed/producer.json"])
        .args(["--network-id", "producer"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("--token-env"), "{stderr}");
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn over_tls_a_producer_trusting_the_ca_links_and_a_plaintext_one_is_refused_at_once() {
    let pki = common::tls::Pki::new("cli");
    let server = Server::start_with(&[
        "--tls-cert".as_ref(),
        pki.cert.as_os_str(),
        "--tls-key".as_ref(),
        pki.key.as_os_str(),
    ]);
    let Some(plain_addr) = server.addr.strip_prefix("wss://") else {
        panic!(
            "a TLS server prints its address as peers dial it: {}",
            server.addr
        );
    };

    let out = producer_with(
        &server.addr,
        TOKEN_VAR,
        &["--tls-ca".as_ref(), pki.ca.as_os_str()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).lines().collect::<Vec<_>>(),
        VERDICTS,
        "stderr: {}",
        text(&out.stderr)
    );

    let started = std::time::Instant::now();
    let out = producer_with(plain_addr, TOKEN_VAR, &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot link to {plain_addr}: TLS with {plain_addr}"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("it may require TLS, dial wss://"),
        "{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "refused at once, not retried for 15 s"
    );
    assert_eq!(text(&out.stdout), "", "nothing ran");
    server.wait_for("the TLS handshake failed");

    let (status, _) = server.interrupt();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn an_unreadable_tls_certificate_is_named_before_anything_runs() {
    let out = reflow()
        .args(["run", "graphs/distributed/validator.json"])
        .args(["--bind", "127.0.0.1:0", "--network-id", "validation"])
        .args(["--token-env", TOKEN_VAR])
        .args(["--tls-cert", "missing.pem", "--tls-key", "missing-key.pem"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot read the TLS certificate chain missing.pem"),
        "{stderr}"
    );
    assert!(!stderr.contains("listening on"), "{stderr}");
}

#[test]
fn tls_flags_explain_themselves_and_a_lone_key_is_refused() {
    let out = reflow().args(["run", "--help"]).output().unwrap();
    let help = text(&out.stdout);
    for flag in [
        "--tls-cert <FILE>",
        "--tls-key <FILE>",
        "--tls-ca <FILE>",
        "wss://",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }

    let out = reflow()
        .args(["run", "graphs/distributed/validator.json"])
        .args(["--bind", "127.0.0.1:0", "--tls-key", "key.pem"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("--tls-cert <FILE>"), "{stderr}");
}

#[test]
fn three_processes_find_each_other_only_through_a_discovery_registry() {
    let (_registry, url) = registry();
    let validator = Server::start_with(&[OsStr::new("--discovery"), OsStr::new(&url)]);
    let out = reflow()
        .args(["run", "graphs/distributed/producer.json"])
        .args(["--network-id", "producer", "--token-env", TOKEN_VAR])
        .args(["--discovery", &url])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        text(&out.stdout).lines().collect::<Vec<_>>(),
        VERDICTS,
        "{stderr}"
    );
    assert!(stderr.contains("peer `validation`"), "{stderr}");
    assert!(
        !stderr.contains("lost"),
        "a clean run loses nothing: {stderr}"
    );
    let (status, lines) = validator.interrupt();
    assert!(status.success(), "{lines:?}");
}

/// Only argument parsing: no mDNS daemon starts in this process's namespace (the refused
/// command exits at parsing).
#[test]
fn mdns_explains_that_it_multicasts_and_requires_bind() {
    let out = reflow().args(["run", "--help"]).output().unwrap();
    let help = text(&out.stdout);
    assert!(help.contains("--mdns"), "{help}");
    assert!(help.contains("Multicasts"), "{help}");

    let out = reflow()
        .args(["run", "graphs/distributed/validator.json", "--mdns"])
        .args(["--network-id", "n", "--token-env", "REFLOW_UNSET_TOKEN"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("--bind <"), "{stderr}");
}

/// Ctrl-C while `--connect` is still retrying a peer that is not up stops the command at
/// once (exit 130), instead of being ignored until the retries run out or killing it.
#[test]
fn ctrl_c_while_linking_stops_at_once_with_exit_130() {
    let mut child = Guard(
        reflow()
            .args(["run", "graphs/distributed/producer.json", "--log", "debug"])
            .args(["--network-id", "producer", "--connect", "127.0.0.1:1"])
            .args(["--token-env", TOKEN_VAR])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let mut line = String::new();
    // The first failed attempt is logged once the command is retrying.
    while !line.contains("not reachable yet") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "stderr ended");
    }
    let pid = child.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(
        rest.contains("interrupted (Ctrl-C) before the graph started"),
        "{rest}"
    );
}

#[test]
fn refused_links_are_logged_once_per_interval_not_twice_each() {
    let server = Server::start();
    for _ in 0..5 {
        let out = producer(&server, WRONG_TOKEN_VAR);
        assert!(!out.status.success(), "{}", text(&out.stderr));
    }
    let (status, rest) = server.interrupt();
    assert_eq!(status.code(), Some(0), "{rest:?}");
    let logged: Vec<&String> = rest
        .iter()
        .filter(|l| l.contains("refused a link") || l.contains("handshake failed"))
        .collect();
    assert_eq!(logged.len(), 1, "{logged:#?}");
}
