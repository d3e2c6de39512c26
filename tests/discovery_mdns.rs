//! Instances that find each other only through mDNS, and a spoofed advertisement that is
//! never linked (the handshake still authenticates). mDNS multicasts out of every
//! interface: each test re-executes itself inside a private, loopback-only network
//! namespace (`unshare -rn`) and refuses to run if it sees any other interface there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "discovery_mdns_veth.rs"]
mod veth;

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use common::{http_get, Record};
use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};
use reflow::Message;
use reflow_bridge::{DistributedConfig, DistributedNetwork, MDNS_SERVICE_TYPE, PROTOCOL_VERSION};

const TOKEN: &str = "mdns-token";
/// Failure bound for what must happen: never reached when the test passes.
const BOUND: Duration = Duration::from_secs(30);
/// Set in the re-executed test process, inside the private namespace.
const NS_VAR: &str = "REFLOW_MDNS_NS";

/// Runs `body` inside a private loopback-only network namespace: re-executes this test
/// there (and checks that it passed) unless already inside.
fn in_private_namespace(test: &str, body: impl std::future::Future<Output = ()>) {
    if std::env::var_os(NS_VAR).is_none() {
        let exe = std::env::current_exe().unwrap();
        let output = Command::new("unshare")
            .args(["-rn", "sh", "-c", r#"ip link set lo up && exec "$0" "$@""#])
            .arg(&exe)
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(NS_VAR, "1")
            .output()
            .unwrap_or_else(|e| panic!("mDNS tests need `unshare -rn` (util-linux): {e}"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        println!("--- in the private namespace ---\n{stdout}");
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        assert!(
            output.status.success(),
            "the test failed in the private namespace, or `unshare -rn` is unavailable: {}",
            output.status
        );
        assert!(
            stdout.contains(&format!("test {test} ... ok")),
            "the test did not run in the private namespace"
        );
        return;
    }
    refuse_unless_loopback_only();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(body);
}

/// Panics if this network namespace has an interface other than `lo`.
fn refuse_unless_loopback_only() {
    refuse_unless_only(&["lo"]);
}

/// Panics unless this network namespace has exactly the interfaces `allowed`. Reads
/// /proc/self/net/dev, which shows the current namespace (/sys/class/net shows the
/// namespace sysfs was mounted in, i.e. the machine's, unless remounted).
fn refuse_unless_only(allowed: &[&str]) {
    let devices = std::fs::read_to_string("/proc/self/net/dev").unwrap();
    let mut names: Vec<&str> = devices
        .lines()
        .skip(2)
        .filter_map(|line| line.split(':').next())
        .map(str::trim)
        .collect();
    names.sort_unstable();
    let mut allowed = allowed.to_vec();
    allowed.sort_unstable();
    assert_eq!(
        names, allowed,
        "refusing to start mDNS: this namespace has other interfaces than it should"
    );
}

fn config(network: &str, instance: &str, token: &str) -> DistributedConfig {
    let mut config = common::bridge_config(network, true, Some(token));
    config.instance_id = instance.to_string();
    config.mdns = true;
    config.resolve_timeout = BOUND;
    config
}

async fn bounded<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(BOUND, future)
        .await
        .expect("happened within the failure bound")
}

/// An mDNS instance of `network` exporting a `Record` as `inbox`.
async fn inbox_instance(network: &str, instance: &str) -> (DistributedNetwork, Record) {
    let inbox = Record::default();
    let dn = common::serve_inbox(config(network, instance, TOKEN), inbox.clone()).await;
    (dn, inbox)
}

/// The sum of every `handshake_failures_total` sample in `/metrics` at `addr`.
async fn handshake_failures(addr: &str) -> u64 {
    http_get(addr, "/metrics")
        .await
        .lines()
        .filter(|l| l.starts_with("reflow_bridge_handshake_failures_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn two_instances_find_each_other_with_mdns_and_exchange_a_message() {
    in_private_namespace(
        "two_instances_find_each_other_with_mdns_and_exchange_a_message",
        async {
            let (sink, inbox) = inbox_instance("sink", "instance-a").await;
            let (source, _) = inbox_instance("source", "instance-b").await;
            bounded(source.wait_peers(|p| p.iter().any(|p| p.network_id == "sink"))).await;
            bounded(sink.wait_peers(|p| p.iter().any(|p| p.network_id == "source"))).await;
            source
                .send_to_remote_actor("sink", "inbox", "in", Message::Integer(7))
                .await
                .unwrap();
            bounded(inbox.wait_for(1)).await;
            assert_eq!(inbox.integers(), vec![7]);
            assert_eq!(source.peers().len(), 1, "one link, no crossed dials");
            source.shutdown().await;
            sink.shutdown().await;
        },
    );
}

#[test]
fn a_spoofed_advertisement_is_never_linked() {
    in_private_namespace("a_spoofed_advertisement_is_never_linked", async {
        // A real instance with the wrong token, that does not use mDNS itself.
        let mut impostor_config = common::bridge_config("impostor", true, Some("wrong-token"));
        impostor_config.instance_id = "zz-impostor".into();
        let mut impostor =
            DistributedNetwork::new(impostor_config, reflow::actors::registry()).unwrap();
        impostor.start().await.unwrap();
        let impostor_addr = impostor.local_addr().unwrap();

        // A third daemon advertises it as a reflow instance of our protocol version.
        let spoofer = ServiceDaemon::new().unwrap();
        spoofer.disable_interface(IfKind::All).unwrap();
        spoofer.enable_interface(IfKind::LoopbackV4).unwrap();
        let version = PROTOCOL_VERSION.to_string();
        let txt: HashMap<String, String> = [
            ("network_id", "impostor"),
            ("instance_id", "zz-impostor"),
            ("version", version.as_str()),
            ("scheme", "ws"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let spoof = ServiceInfo::new(
            MDNS_SERVICE_TYPE,
            "zz-impostor",
            "zz-impostor.local.",
            "127.0.0.1",
            impostor_addr.port(),
            txt,
        )
        .unwrap();
        spoofer.register(spoof).unwrap();

        // The honest pair links (both ids are smaller: both would dial the impostor).
        let (alpha, _) = inbox_instance("alpha", "honest-a").await;
        let (beta, _) = inbox_instance("beta", "honest-b").await;
        bounded(alpha.wait_peers(|p| p.iter().any(|p| p.network_id == "beta"))).await;
        bounded(beta.wait_peers(|p| p.iter().any(|p| p.network_id == "alpha"))).await;

        // Both honest instances dialled the impostor and were refused at the handshake:
        // after that, nothing more can come of the advertisement.
        let dialers = [
            alpha.local_addr().unwrap().to_string(),
            beta.local_addr().unwrap().to_string(),
        ];
        bounded(async {
            for addr in &dialers {
                while handshake_failures(addr).await == 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        })
        .await;
        for dn in [&alpha, &beta, &impostor] {
            let ids: Vec<String> = dn.peers().into_iter().map(|p| p.instance_id).collect();
            assert!(!ids.contains(&"zz-impostor".to_string()), "{ids:?}");
        }
        assert!(impostor.peers().is_empty(), "{:?}", impostor.peers());
        assert!(alpha
            .bridge_status()
            .links
            .iter()
            .all(|l| format!("{l:?}").contains("honest-b")));

        let _ = spoofer.shutdown();
        alpha.shutdown().await;
        beta.shutdown().await;
        impostor.shutdown().await;
    });
}
