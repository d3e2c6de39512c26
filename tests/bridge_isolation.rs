//! Clients of one exported node do not hold each other back, and no message is lost for its
//! size (issue 10), with real `reflow run` processes: a client that stops reading its output,
//! a client killed with SIGKILL, a 10 MB message through `relay@srv` and back, and messages
//! over `--max-message-size` in both directions. Every wait is bounded by PATIENCE and fails
//! the test when reached; nothing is timed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ChildStdout;
use std::sync::mpsc;
use std::thread;

use serde_json::{json, Value};

use crate::cli_harness::{
    client, finish, patient, pipeline, remote, spawn, tail, Finished, Guard, Scratch, Server,
    Source, PATIENCE,
};

/// A server exporting `relay`, a `Forward`, with more flags.
fn relay_server(scratch: &Scratch, flags: &[&str]) -> Server {
    Server::start(scratch, &[("relay", "Forward", json!({}))], flags)
}

/// A client `id` that sends `feed` through `node@srv` (its process `hop`, configured with
/// `metadata`) to its stdout, started.
fn start_client(
    scratch: &Scratch,
    server: &Server,
    id: &str,
    (feed, node, metadata): (Source, &str, Value),
    flags: &[&str],
) -> Guard {
    let graph = pipeline(&[(feed, "in")], ("hop", &remote(node), metadata), &["out"]);
    let path = scratch.graph(id, &graph);
    spawn(&mut client(server, id, &path, flags))
}

/// `0..end` through `relay@srv` with the default proxy settings.
fn relay(end: i64) -> (Source, &'static str, Value) {
    (Source::range(0, end), "relay", json!({}))
}

/// Asserts that `run` exited 0 having printed the integers `0..end`, one a line.
fn assert_counted(who: &str, run: &Finished, end: i64) {
    assert!(run.succeeded(), "{who} {}: {}", run.exit(), run.stderr);
    let expected: String = (0..end).map(|i| format!("{i}\n")).collect();
    let lines = run.stdout.lines().count();
    assert!(
        run.stdout == expected,
        "{who} printed {lines} lines, not 0..{end}"
    );
}

/// Waits until the server has sent `peer` some replies and then, at the next poll, none
/// more: its client has stopped taking them.
fn wait_until_stalled(server: &Server, peer: &str) {
    let mut last = 0;
    server.wait_until(&format!("the replies to {peer} to stall"), |server| {
        let link = server.link_of(peer);
        let sent = link.and_then(|link| link["messages_out"].as_u64());
        let sent = sent.unwrap_or(0);
        let stalled = sent >= 1000 && sent == last;
        last = sent;
        stalled
    });
}

/// Client A sends 200,000 values through `relay@srv` and nobody reads its stdout, so its
/// `Console` blocks once the pipe is full; client B's 2,000 values through the same relay
/// must all come back while A is still blocked. Then A, drained, completes too.
#[test]
fn a_client_that_does_not_read_its_output_does_not_hold_back_another() {
    let scratch = Scratch::new("isolation-paused");
    let server = relay_server(&scratch, &[]);
    // A's own proxy must not give up while A is paused (its sends wait for its link): that
    // would end A, and with it whatever A held back, before B is done.
    let paused = (Source::range(0, 200_000), "relay", patient());
    let mut a = start_client(&scratch, &server, "client-a", paused, &[]);
    // A's pipe, inbox and link window are full once the server stops sending to it. (A
    // poll that sees a mere pause only starts B earlier, while A runs: still a valid test.)
    wait_until_stalled(&server, "client-a");
    let b = finish(start_client(
        &scratch,
        &server,
        "client-b",
        relay(2000),
        &[],
    ));
    assert_counted("B", &b, 2000);
    let a_running = a.0.try_wait().unwrap().is_none();
    assert!(a_running, "A, unread, must still be running when B is done");
    assert_counted("A", &finish(a), 200_000);
}

/// The first `n` lines of `pipe`, read on a thread, and the pipe, open and no further read.
fn first_lines(pipe: ChildStdout, n: usize) -> (Vec<String>, BufReader<ChildStdout>) {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut read_line = || {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            line.trim_end().to_string()
        };
        let lines = (0..n).map(|_| read_line()).collect();
        let _ = tx.send((lines, reader));
    });
    rx.recv_timeout(PATIENCE).unwrap()
}

/// `0..end` in arrays of 100 through `split@srv`, from a JSON-lines file in `scratch`.
fn split(scratch: &Scratch, end: i64) -> (Source, &'static str, Value) {
    let chunks = (0..end)
        .step_by(100)
        .map(|start| start..(start + 100).min(end));
    let lines: String = chunks
        .map(|chunk| format!("{:?}\n", chunk.collect::<Vec<_>>()))
        .collect();
    let path = scratch.file(&format!("arrays-{end}.jsonl"), lines);
    (Source::json_lines(&path), "split", json!({}))
}

/// Client A is killed with SIGKILL in the middle of its stream, after its first lines came
/// back; the server then still holds replies for A (each array A sent makes 100), which
/// can never be delivered. Client B, started then, must complete while the server still
/// waits for A's link to resume (its `resume_timeout`, 30 s): B is not stalled until A's
/// link is given up.
#[test]
fn a_killed_client_does_not_stall_the_others() {
    let scratch = Scratch::new("isolation-killed");
    let server = Server::start(&scratch, &[("split", "Split", json!({}))], &[]);
    let mut a = start_client(&scratch, &server, "client-a", split(&scratch, 200_000), &[]);
    let (lines, _unread) = first_lines(a.0.stdout.take().unwrap(), 10);
    assert_eq!(lines, (0..10).map(|i| i.to_string()).collect::<Vec<_>>());
    a.0.kill().unwrap();
    let status = a.0.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "A ended before it was killed");
    let state = |server: &Server| server.link_of("client-a").map(|l| l["state"].clone());
    server.wait_until("A's link to go down", |s| state(s) == Some(json!("down")));
    let b = finish(start_client(
        &scratch,
        &server,
        "client-b",
        split(&scratch, 2000),
        &[],
    ));
    assert_counted("B", &b, 2000);
    let waiting = state(&server) == Some(json!("down"));
    assert!(waiting, "B finished only after A's link was given up");
}

/// `len` bytes of letters and digits without a period, so that a part out of place shows.
fn pattern(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ALPHABET[(state % 36) as usize] as char
    };
    (0..len).map(|_| next()).collect()
}

/// A 10 MB line crosses to the server's relay and comes back, whole and in order.
#[test]
fn a_10_mb_message_crosses_a_relay_and_back_intact() {
    let scratch = Scratch::new("isolation-10mb");
    let line = pattern(10_000_000);
    let input = scratch.file("big.txt", format!("{line}\n"));
    let server = relay_server(&scratch, &[]);
    let feed = (Source::long_lines(&input, 64 << 20), "relay", json!({}));
    let run = finish(start_client(&scratch, &server, "client", feed, &[]));
    assert!(run.succeeded(), "{}: {}", run.exit(), tail(&run.stderr));
    // Compared without printing 10 MB.
    let (got, expected) = (run.stdout.as_bytes(), format!("\"{line}\"\n"));
    let first = got
        .iter()
        .zip(expected.as_bytes())
        .position(|(a, b)| a != b);
    let (got_len, len) = (got.len(), expected.len());
    let message = format!("stdout has {got_len} bytes, not {len}; first difference: {first:?}");
    assert!(got == expected.as_bytes(), "{message}");
}

/// The flag given to the server and to the client of the size-limit tests.
const LIMIT: [&str; 2] = ["--max-message-size", "1000000"];

/// Asserts that `run` exited by itself, and not with 0.
fn assert_exited_non_zero(mode: &str, run: &Finished) {
    let failed = run.status.is_some_and(|s| !s.success());
    let (exit, stdout) = (run.exit(), tail(&run.stdout));
    assert!(
        failed,
        "{mode} mode: {exit}, stdout {stdout:?}: {}",
        run.stderr
    );
}

/// Asserts that `run` failed naming the process `hop`, the limit, and the size of the
/// message: a number from 2,000,000 to 2,001,000 (the 2 MB line, perhaps with framing).
fn assert_failed_over_the_limit(run: &Finished) {
    let stderr = &run.stderr;
    assert_exited_non_zero("fail", run);
    for needle in ["`hop`", "1000000"] {
        assert!(stderr.contains(needle), "fail mode, no {needle}: {stderr}");
    }
    let numbers = stderr.split(|c: char| !c.is_ascii_digit());
    let mut sizes = numbers.filter_map(|n| n.parse::<u64>().ok());
    let sized = sizes.any(|n| (2_000_000..2_001_000).contains(&n));
    assert!(sized, "fail mode, no size: {stderr}");
}

/// Asserts that `run` printed `kept`, reported one message skipped, and exited non-zero.
fn assert_skipped_one(run: &Finished, kept: &str) {
    let stderr = &run.stderr;
    assert_exited_non_zero("skip", run);
    assert_eq!(run.stdout, kept, "skip mode: {stderr}");
    let one_skipped = stderr.lines().any(|line| {
        let mut words = line.split(|c: char| !c.is_alphanumeric());
        line.contains("skipped") && words.any(|word| word == "1")
    });
    assert!(one_skipped, "skip mode, no `1 ... skipped`: {stderr}");
}

/// Runs `input` through `node@srv` (process `hop`) with `failure_mode` `fail`, then `skip`,
/// the client limited like the server; in skip mode, `kept` is what must come back.
fn over_the_limit(scratch: &Scratch, server: &Server, node: &str, input: &Path, kept: &str) {
    let long = Source::long_lines(input, 64 << 20);
    let feed = |mode| (long.clone(), node, json!({"failure_mode": mode}));
    let failed = start_client(scratch, server, "client-fail", feed("fail"), &LIMIT);
    assert_failed_over_the_limit(&finish(failed));
    let skipped = start_client(scratch, server, "client-skip", feed("skip"), &LIMIT);
    assert_skipped_one(&finish(skipped), kept);
}

/// The client sends a 2 MB line between two small ones to a relay; both sides allow 1 MB.
#[test]
fn a_message_over_the_limit_on_its_way_out_fails_or_is_skipped_as_configured() {
    let scratch = Scratch::new("isolation-limit-out");
    let big = "y".repeat(2_000_000);
    let input = scratch.file("lines.txt", format!("small 1\n{big}\nsmall 2\n"));
    let server = relay_server(&scratch, &LIMIT);
    let kept = "\"small 1\"\n\"small 2\"\n";
    over_the_limit(&scratch, &server, "relay", &input, kept);
}

/// The client sends only small lines; the server's `grow`, a `Map`, makes each `x` a
/// thousand (CEL `replace` three times over), so 2,000 `x` come back as a 2 MB reply. Both
/// sides allow 1 MB: the server's node makes the big message, as the issue asks of replies.
#[test]
fn a_reply_over_the_limit_fails_or_is_skipped_as_configured() {
    let scratch = Scratch::new("isolation-limit-back");
    let tenfold = "replace('x', 'xxxxxxxxxx')";
    let grow = json!({"expr": format!("fact.{tenfold}.{tenfold}.{tenfold}")});
    let server = Server::start(&scratch, &[("grow", "Map", grow)], &LIMIT);
    let input = scratch.file("lines.txt", format!("a\n{}\nb\n", "x".repeat(2000)));
    over_the_limit(&scratch, &server, "grow", &input, "\"a\"\n\"b\"\n");
}
