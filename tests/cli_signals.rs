//! Stopping `reflow` the way terminals, containers and systemd do: Ctrl-C (SIGINT) and SIGTERM
//! stop every command gracefully; a run stopped before its graph completed says so in its
//! exit code; a stopped server says goodbye to its clients. Plus addresses that no retry could
//! make work, refused before anything is dialled.

use std::process::Command;

use serde_json::json;

use crate::cli_harness::{
    finish, listening, reflow, spawn, Graph, Guard, Lines, Scratch, TOKEN_VAR,
};

/// Sends `signal` (a `kill` name: INT, TERM) to the child, by its pid.
fn signal(child: &Guard, signal: &str) {
    let pid = child.0.id().to_string();
    let sent = Command::new("kill")
        .args([format!("-{signal}"), pid])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// An endless `Range → Console` run, once it has printed its first line.
fn endless_run() -> (Guard, Lines) {
    let mut child = spawn(reflow().args(["run", "tests/data/endless.json"]));
    let stdout = Lines::new(child.0.stdout.take().unwrap());
    stdout.wait_for("");
    (child, stdout)
}

#[test]
fn ctrl_c_and_sigterm_stop_a_local_run_gracefully_with_the_exit_code_of_the_signal() {
    for (name, code, says) in [
        (
            "INT",
            130,
            "interrupted (Ctrl-C): stopping sources and draining",
        ),
        (
            "TERM",
            143,
            "terminated (SIGTERM): stopping sources and draining",
        ),
    ] {
        let (child, _stdout) = endless_run();
        signal(&child, name);
        let run = finish(child);
        let stderr = &run.stderr;
        assert_eq!(run.status.and_then(|s| s.code()), Some(code), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
}

/// A serving instance exporting a `Forward` as `relay`, and its stderr.
fn server(scratch: &Scratch) -> (Guard, Lines, String) {
    let graph = Graph::default().process("relay", "Forward", json!(null));
    let mut cmd = reflow();
    cmd.arg("run").arg(scratch.graph("server", &graph));
    cmd.args([
        "--bind",
        "127.0.0.1:0",
        "--network-id",
        "srv",
        "--export",
        "relay",
    ]);
    cmd.args(["--token-env", TOKEN_VAR]);
    listening(&mut cmd)
}

#[test]
fn sigterm_stops_a_server_that_says_goodbye_to_its_busy_clients() {
    let scratch = Scratch::new("sigterm-server");
    let (server, server_err, addr) = server(&scratch);
    let remote = json!({ "timeout_ms": 120_000 });
    let graph = Graph::default()
        .process("numbers", "Range", json!({ "end": i64::MAX }))
        .process("relay", "relay@srv", remote)
        .process("print", "Console", json!(null))
        .connect(("numbers", "out"), ("relay", "in"))
        .connect(("relay", "out"), ("print", "in"));
    let mut cmd = reflow();
    cmd.arg("run").arg(scratch.graph("client", &graph));
    cmd.args(["--network-id", "client", "--connect", &addr]);
    cmd.args(["--token-env", TOKEN_VAR]);
    let mut client = spawn(&mut cmd);
    let client_out = Lines::new(client.0.stdout.take().unwrap());
    // Messages are going both ways.
    client_out.wait_for("");

    signal(&server, "TERM");
    server_err.wait_for("terminated (SIGTERM): shutting down");
    let stopped = finish(server);
    assert_eq!(stopped.status.and_then(|s| s.code()), Some(0));
    // The client hears that the server stopped (its session's error, or the goodbye on the
    // link, whichever comes first), never a lost connection it would wait 30 s to resume;
    // its run did not complete, and says so.
    let client = finish(client);
    let said = &client.stderr;
    assert!(!client.succeeded(), "{said}");
    assert!(
        said.contains("shut down before this session's input ended")
            || said.contains("closed by the peer (1001)"),
        "{said}"
    );
    assert!(!said.contains("connection lost"), "{said}");
    assert!(!said.contains("waiting to resume"), "{said}");
}

#[test]
fn sigterm_stops_the_discovery_registry_gracefully() {
    let (registry, stderr, _) = listening(reflow().args(["discovery", "--bind", "127.0.0.1:0"]));
    signal(&registry, "TERM");
    stderr.wait_for("terminated (SIGTERM): stopping the discovery registry");
    let stopped = finish(registry);
    assert_eq!(stopped.status.and_then(|s| s.code()), Some(0));
}

#[test]
fn addresses_no_retry_could_fix_are_refused_before_anything_is_dialled() {
    let cases = [
        (["--connect", "127.0.0.1"], "no port"),
        (
            ["--connect", "http://127.0.0.1:7400"],
            "the scheme `http://`",
        ),
        (
            ["--discovery", "ftp://127.0.0.1:7400"],
            "starts with http:// or https://",
        ),
        (["--discovery", "http://127.0.0.1"], "the port is required"),
    ];
    for (flags, says) in cases {
        let run = reflow()
            .args([
                "run",
                "graphs/distributed/producer.json",
                "--network-id",
                "p",
            ])
            .args(["--token-env", TOKEN_VAR])
            .args(flags)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(
            stderr.contains(flags[1]) && stderr.contains(says),
            "{flags:?}: {stderr}"
        );
        assert!(!stderr.contains("not reachable yet"), "{flags:?}: {stderr}");
    }
}
