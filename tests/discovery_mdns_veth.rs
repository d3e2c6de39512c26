//! Two hosts, each in a network namespace of its own, joined by a veth pair: they find each
//! other with mDNS across the pair (multicast out of the veth, not loopback) and exchange a
//! message over it. Host A is this test re-executed in a private namespace (as every mDNS
//! test is); it starts host B, the same test re-executed once more in a namespace nested
//! inside, creates the pair with one end in each, and checks that B's run passed. Each side
//! refuses to start mDNS unless its namespace holds exactly `lo` and its end of the pair.

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use reflow::Message;
use reflow_bridge::DistributedNetwork;

use super::common::Record;
use super::{bounded, config, in_private_namespace, refuse_unless_only, NS_VAR, TOKEN};

const TEST: &str = "veth::two_hosts_joined_by_a_veth_pair_find_each_other_with_mdns";
/// Set to `b` in host B's process.
const HOST_VAR: &str = "REFLOW_MDNS_HOST";
const END_A: &str = "veth-a";
const END_B: &str = "veth-b";
const ADDR_A: &str = "10.77.0.1";
const ADDR_B: &str = "10.77.0.2";

#[test]
fn two_hosts_joined_by_a_veth_pair_find_each_other_with_mdns() {
    if std::env::var(HOST_VAR).as_deref() == Ok("b") {
        return host_b();
    }
    in_private_namespace(TEST, host_a());
}

/// Host A: starts B, wires the pair, serves `inbox` and waits for B's message.
async fn host_a() {
    let b = start_host_b();
    wait_until(|| namespace_of(b.id()) != namespace_of(std::process::id()));
    let netns = b.id().to_string();
    ip(&[
        "link", "add", END_A, "type", "veth", "peer", "name", END_B, "netns", &netns,
    ]);
    bring_up(END_A, ADDR_A);
    refuse_unless_only(&["lo", END_A]);

    let (a, inbox) = inbox_host("sink", "host-a", ADDR_A).await;
    bounded(inbox.wait_for(1)).await;
    assert_eq!(inbox.integers(), vec![7]);
    let link = &a.bridge_status().links[0];
    assert!(
        link.address.contains(ADDR_B),
        "linked over the pair: {link:?}"
    );
    // B finishes once A has gone.
    a.shutdown().await;
    let output = tokio::task::spawn_blocking(move || b.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    check_passed(&output);
}

/// Host B: waits for its end of the pair, brings it up, finds A and sends it a message.
fn host_b() {
    wait_until(|| ip_quiet(&["link", "show", END_B]).is_some());
    bring_up(END_B, ADDR_B);
    refuse_unless_only(&["lo", END_B]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (b, _) = inbox_host("source", "host-b", ADDR_B).await;
        bounded(b.wait_peers(|p| p.iter().any(|p| p.network_id == "sink"))).await;
        b.send_to_remote_actor("sink", "inbox", "in", Message::Integer(7))
            .await
            .unwrap();
        // Until A has it: A leaves once it has checked.
        bounded(b.wait_peers(|p| p.is_empty())).await;
        b.shutdown().await;
    });
}

/// This test again, as host B, in a network namespace nested inside this one.
fn start_host_b() -> Child {
    let exe = std::env::current_exe().unwrap();
    Command::new("unshare")
        .args(["-n", "sh", "-c", r#"ip link set lo up && exec "$0" "$@""#])
        .arg(&exe)
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env(NS_VAR, "1")
        .env(HOST_VAR, "b")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start host B with `unshare -n`: {e}"))
}

fn check_passed(output: &Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("--- host B ---\n{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "host B failed: {}", output.status);
    assert!(
        stdout.contains(&format!("test {TEST} ... ok")),
        "host B did not run"
    );
}

/// An mDNS instance of `network` listening on `ip`, exporting a `Record` as `inbox`.
async fn inbox_host(network: &str, instance: &str, ip: &str) -> (DistributedNetwork, Record) {
    let inbox = Record::default();
    let mut config = config(network, instance, TOKEN);
    config.bind = Some(format!("{ip}:0").parse().unwrap());
    (
        super::common::serve_inbox(config, inbox.clone()).await,
        inbox,
    )
}

/// Gives `end` its address and brings it up, then waits until it reports `UP` (both ends
/// up): an mDNS daemon started before that misses the interface for seconds.
fn bring_up(end: &str, addr: &str) {
    ip(&["addr", "add", &format!("{addr}/24"), "dev", end]);
    ip(&["link", "set", end, "up"]);
    wait_until(|| ip_quiet(&["-o", "link", "show", end]).is_some_and(|s| s.contains("state UP")));
}

fn ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().unwrap();
    assert!(
        output.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `ip ARGS`' output when it succeeds.
fn ip_quiet(args: &[&str]) -> Option<String> {
    let output = Command::new("ip").args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The network namespace of process `pid`.
fn namespace_of(pid: u32) -> std::path::PathBuf {
    std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap()
}

/// Polls `ready` every 20 ms; panics after 30 s.
fn wait_until(mut ready: impl FnMut() -> bool) {
    for _ in 0..1500 {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("not ready after 30 s");
}
