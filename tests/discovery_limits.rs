//! The registry's limits over real HTTP on 127.0.0.1: the list in pages (and a client that
//! follows them), the instance id character set, the TTL bounds, the `Bearer` scheme in any
//! case, and `https://` registries (a TLS-terminating proxy in front of the registry, with
//! certificates made at test time).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::discovery_registry::{get, post, record, send, start, Reply, TOKEN};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::tls::Pki;
use reflow::actors::Forward;
use reflow_bridge::discovery::{DiscoveryServer, InstanceList, RegistryConfig};
use reflow_bridge::{DistributedConfig, DistributedNetwork};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Failure bound for what must happen: never reached when the test passes.
const BOUND: Duration = Duration::from_secs(30);

const LINK_TOKEN: &str = "discovery-limits-link-token";

async fn bounded<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(BOUND, future)
        .await
        .expect("happened within the failure bound")
}

/// One page of `GET /v1/instances{query}`: the instance ids and `next`.
async fn page(addr: SocketAddr, query: &str) -> (Vec<String>, Option<String>) {
    let reply = get(addr, &format!("/v1/instances{query}")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let list: InstanceList = serde_json::from_value(reply.body).unwrap();
    let ids = list.instances.into_iter();
    (ids.map(|i| i.record.instance_id).collect(), list.next)
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn the_list_comes_in_pages_that_together_hold_every_instance_once() {
    let config = RegistryConfig {
        default_page_size: 2,
        max_page_size: 3,
        ..RegistryConfig::default()
    };
    let registry = start(config).await;
    let addr = registry.local_addr();
    for (network, id) in [("z", "c"), ("a", "e"), ("m", "a"), ("a", "d"), ("z", "b")] {
        assert_eq!(
            post(addr, &record(network, id, "x", "eu"), None)
                .await
                .status,
            200
        );
    }

    // Without `limit`, the default page size; pages follow the instance id order.
    assert_eq!(page(addr, "").await, (ids(&["a", "b"]), Some("b".into())));
    assert_eq!(
        page(addr, "?after=b").await,
        (ids(&["c", "d"]), Some("d".into()))
    );
    assert_eq!(page(addr, "?after=d").await, (ids(&["e"]), None));
    // A `limit` above the maximum is lowered to it.
    assert_eq!(
        page(addr, "?limit=1000").await,
        (ids(&["a", "b", "c"]), Some("c".into()))
    );
    // Filters apply first: `next` only when a matching instance was left out.
    assert_eq!(
        page(addr, "?network_id=a&limit=1").await,
        (ids(&["d"]), Some("d".into()))
    );
    assert_eq!(
        page(addr, "?network_id=a&limit=1&after=d").await,
        (ids(&["e"]), None)
    );

    let reply = get(addr, "/v1/instances?limit=0").await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.error().contains("`limit` must be 1 to 3"),
        "{reply:?}"
    );
    registry.stop().await;
}

#[tokio::test]
async fn a_page_of_large_records_stays_within_the_byte_budget() {
    const BUDGET: usize = 8 << 10;
    let config = RegistryConfig {
        max_page_bytes: BUDGET,
        ..RegistryConfig::default()
    };
    let registry = start(config).await;
    let addr = registry.local_addr();
    let mut expected = Vec::new();
    for i in 0..20 {
        let id = format!("i-{i:02}");
        let mut big = record("n", &id, "a", "eu");
        big["actors"][0]["metadata"]["pad"] = json!("x".repeat(2000));
        assert_eq!(post(addr, &big, None).await.status, 200);
        expected.push(id);
    }

    let mut seen = Vec::new();
    let mut query = String::new();
    loop {
        let reply = get(addr, &format!("/v1/instances{query}")).await;
        let size = serde_json::to_vec(&reply.body).unwrap().len();
        // The entries within the budget, plus the envelope around them.
        assert!(size <= BUDGET + 64, "a page of {size} bytes");
        let list: InstanceList = serde_json::from_value(reply.body).unwrap();
        assert!(!list.instances.is_empty());
        seen.extend(list.instances.into_iter().map(|i| i.record.instance_id));
        match list.next {
            Some(next) => query = format!("?after={next}"),
            None => break,
        }
    }
    assert_eq!(seen, expected, "every instance once, in order");
    registry.stop().await;
}

#[tokio::test]
async fn instance_ids_outside_the_safe_set_are_refused_naming_the_rule() {
    let registry = start(RegistryConfig::default()).await;
    let addr = registry.local_addr();
    for bad in ["a/b", "a b", "a?b", "a#b", "a%2Fb", "..", "caf\u{e9}"] {
        let reply = post(addr, &record("n", bad, "x", "eu"), None).await;
        assert_eq!(reply.status, 400, "{bad:?}: {reply:?}");
        assert!(
            reply.error().contains(
                "an instance id is 1 to 256 ASCII letters, digits, `-`, `_`, `.` and `:`, \
                 starting with a letter or digit"
            ),
            "{reply:?}"
        );
    }
    assert_eq!(page(addr, "").await, (vec![], None), "none was registered");

    // Every id of the set can be deregistered, percent-encoded or not.
    let id = "Node-1.eu_west:7400";
    assert_eq!(
        post(addr, &record("n", id, "x", "eu"), None).await.status,
        200
    );
    let reply = send(addr, "DELETE /v1/instances/Node-1.eu_west%3A7400", &[], b"").await;
    assert_eq!(reply.status, 204, "{reply:?}");
    assert_eq!(page(addr, "").await, (vec![], None));
    registry.stop().await;
}

#[tokio::test]
async fn ttls_are_kept_within_bounds_and_listed_as_granted() {
    // By default the shortest TTL is a second: `0` is not an entry that is never listed.
    let registry = start(RegistryConfig::default()).await;
    let mut zero = record("n", "zero", "x", "eu");
    zero["ttl_secs"] = json!(0);
    let reply = post(registry.local_addr(), &zero, None).await;
    assert_eq!(reply.body, json!({"ttl_secs": 1}));
    registry.stop().await;

    let config = RegistryConfig {
        min_ttl: Duration::from_secs(60),
        default_ttl: Duration::from_secs(120),
        ..RegistryConfig::default()
    };
    let registry = start(config).await;
    let addr = registry.local_addr();
    let cases = [
        ("a-zero", json!(0), 60),
        ("b-short", json!(2), 60),
        ("c-long", json!(86_400), 300),
        ("d-unsaid", Value::Null, 120),
        ("e-within", json!(200), 200),
    ];
    for (id, asked, granted) in &cases {
        let mut body = record("n", id, "x", "eu");
        if !asked.is_null() {
            body["ttl_secs"] = asked.clone();
        }
        let reply = post(addr, &body, None).await;
        assert_eq!(reply.body, json!({"ttl_secs": granted}), "{id}");
    }
    let listed = get(addr, "/v1/instances").await.body;
    let listed = listed["instances"].as_array().unwrap();
    assert_eq!(listed.len(), cases.len(), "{listed:?}");
    for ((id, _, granted), entry) in cases.iter().zip(listed) {
        assert_eq!(entry["instance_id"], *id);
        assert_eq!(entry["ttl_secs"], *granted, "{entry}");
        let left = entry["expires_in_secs"].as_u64().unwrap();
        assert!(0 < left && left <= *granted, "{entry}");
    }
    registry.stop().await;
}

#[tokio::test]
async fn the_bearer_scheme_is_matched_in_any_case() {
    let config = RegistryConfig {
        token: Some(TOKEN.into()),
        ..RegistryConfig::default()
    };
    let registry = start(config).await;
    let addr = registry.local_addr();
    let post_with = |auth: String| async move {
        let headers = ["Content-Type: application/json", auth.as_str()];
        let body = serde_json::to_vec(&record("n", "i-1", "x", "eu")).unwrap();
        send(addr, "POST /v1/instances", &headers, &body).await
    };
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let reply: Reply = post_with(format!("Authorization: {scheme} {TOKEN}")).await;
        assert_eq!(reply.status, 200, "{scheme}: {reply:?}");
    }
    let reply = post_with(format!("Authorization: bearer   {TOKEN}")).await;
    assert_eq!(reply.status, 200, "several spaces: {reply:?}");
    for refused in [
        format!("Basic {TOKEN}"),
        format!("Bearer{TOKEN}"),
        "bearer wrong".into(),
    ] {
        let reply = post_with(format!("Authorization: {refused}")).await;
        assert_eq!(reply.status, 401, "{refused}: {reply:?}");
    }
    registry.stop().await;
}

/// Config of an instance of `network` whose only discovery endpoint is `endpoint`.
fn config(network: &str, instance: &str, bind: bool, endpoint: &str) -> DistributedConfig {
    let mut config = common::bridge_config(network, bind, Some(LINK_TOKEN));
    config.instance_id = instance.into();
    config.discovery_endpoints = vec![endpoint.to_string()];
    config.discovery_interval = Duration::from_millis(100);
    config.resolve_timeout = BOUND;
    config
}

/// An instance of `network` exporting a `Forward` as `echo`, found only by discovery.
async fn echo_instance(config: DistributedConfig) -> DistributedNetwork {
    let mut dn = DistributedNetwork::new(config, reflow::actors::registry()).unwrap();
    dn.register_local_actor("echo", Forward, Value::Null)
        .unwrap();
    dn.start().await.unwrap();
    dn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_follows_the_pages_to_an_instance_past_the_first() {
    // One instance per page: the echo's instance sorts after three others.
    let one_per_page = RegistryConfig {
        default_page_size: 1,
        max_page_size: 1,
        ..RegistryConfig::default()
    };
    let registry = start(one_per_page).await;
    let addr = registry.local_addr();
    for filler in ["a-1", "a-2", "a-3"] {
        let mut body = record("fillers", filler, "x", "eu");
        body["address"] = json!("127.0.0.1:1");
        assert_eq!(post(addr, &body, None).await.status, 200);
    }
    let endpoint = format!("http://{addr}");
    let server = echo_instance(config("beta", "z-beta", true, &endpoint)).await;
    let mut client = DistributedNetwork::new(
        config("client", "client", false, &endpoint),
        reflow::actors::registry(),
    )
    .unwrap();
    client.start_discovery().await.unwrap();
    let resolved = bounded(client.register_remote_actor("echo", "beta")).await;
    assert_eq!(resolved.unwrap(), "echo");
    client.shutdown().await;
    server.shutdown().await;
    registry.stop().await;
}

#[tokio::test]
async fn an_instance_whose_id_cannot_be_registered_does_not_start_discovery() {
    let registry = start(RegistryConfig::default()).await;
    let addr = registry.local_addr();
    let config = config("n", "node 1/eu", true, &format!("http://{addr}"));
    let mut dn = DistributedNetwork::new(config, reflow::actors::registry()).unwrap();
    let err = dn.start_discovery().await.unwrap_err().to_string();
    assert!(
        err.contains("cannot register for discovery")
            && err.contains("' ' at byte 4")
            && err.contains("an instance id is 1 to 256 ASCII letters"),
        "{err}"
    );
    assert_eq!(page(addr, "").await, (vec![], None));
    registry.stop().await;
}

/// A TLS-terminating proxy in front of a plain registry: what `docs/discovery.md` says to
/// put across an untrusted network.
struct TlsProxy {
    addr: SocketAddr,
    /// The outcome of every TLS handshake, in order.
    handshakes: mpsc::UnboundedReceiver<Result<(), String>>,
}

async fn tls_proxy(pki: &Pki, registry: SocketAddr) -> TlsProxy {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(&pki.cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(&pki.key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, handshakes) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                match acceptor.accept(tcp).await {
                    Ok(mut tls) => {
                        let _ = tx.send(Ok(()));
                        let mut plain = TcpStream::connect(registry).await.unwrap();
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                    }
                    Err(err) => {
                        let _ = tx.send(Err(err.to_string()));
                    }
                }
            });
        }
    });
    TlsProxy { addr, handshakes }
}

fn with_ca(mut config: DistributedConfig, ca: Option<PathBuf>) -> DistributedConfig {
    config.tls.ca = ca;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_register_find_each_other_and_deregister_through_an_https_registry() {
    let pki = Pki::new("discovery-https");
    let registry = start(RegistryConfig::default()).await;
    let mut proxy = tls_proxy(&pki, registry.local_addr()).await;
    let endpoint = format!("https://127.0.0.1:{}", proxy.addr.port());
    let ca = Some(pki.ca.clone());

    // The id holds a `:`, which the client percent-encodes when it deregisters.
    let server = echo_instance(with_ca(
        config("beta", "beta:1", true, &endpoint),
        ca.clone(),
    ))
    .await;
    let mut client = DistributedNetwork::new(
        with_ca(config("client", "client", false, &endpoint), ca),
        reflow::actors::registry(),
    )
    .unwrap();
    client.start_discovery().await.unwrap();
    let resolved = bounded(client.register_remote_actor("echo", "beta")).await;
    assert_eq!(resolved.unwrap(), "echo");
    assert_eq!(bounded(proxy.handshakes.recv()).await, Some(Ok(())));
    assert_eq!(page(registry.local_addr(), "").await.0, ids(&["beta:1"]));

    client.shutdown().await;
    // Shutdown returns once the server has deregistered (through the proxy).
    server.shutdown().await;
    assert_eq!(page(registry.local_addr(), "").await, (vec![], None));
    registry.stop().await;
}

#[tokio::test]
async fn an_https_endpoint_needs_the_ca_option() {
    let config = config("beta", "beta-1", true, "https://127.0.0.1:9");
    let mut dn = DistributedNetwork::new(config, reflow::actors::registry()).unwrap();
    let err = dn.start_discovery().await.unwrap_err().to_string();
    assert!(
        err.contains("https://127.0.0.1:9 needs the CA") && err.contains("`tls.ca`, --tls-ca"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_registry_whose_certificate_another_ca_signed_is_not_trusted() {
    let pki = Pki::new("discovery-https-served");
    let other = Pki::new("discovery-https-other");
    let registry = start(RegistryConfig::default()).await;
    let mut proxy = tls_proxy(&pki, registry.local_addr()).await;
    let endpoint = format!("https://127.0.0.1:{}", proxy.addr.port());

    let config = with_ca(
        config("beta", "beta-1", true, &endpoint),
        Some(other.ca.clone()),
    );
    let server = echo_instance(config).await;
    let outcome = bounded(proxy.handshakes.recv()).await.unwrap();
    let err = outcome.expect_err("the client refuses the certificate");
    assert!(err.to_lowercase().contains("unknownca"), "{err}");
    assert_eq!(page(registry.local_addr(), "").await, (vec![], None));
    server.shutdown().await;
    registry.stop().await;
}

#[tokio::test]
async fn ttl_bounds_and_page_sizes_out_of_order_are_refused() {
    let config = |change: fn(&mut RegistryConfig)| {
        let mut config = RegistryConfig::default();
        change(&mut config);
        config
    };
    let cases = [
        (
            config(|c| c.min_ttl = Duration::ZERO),
            "minimum TTL is under a second",
        ),
        (
            config(|c| c.min_ttl = Duration::from_secs(60)),
            "default TTL is shorter than its minimum TTL",
        ),
        (
            config(|c| c.max_page_bytes = 0),
            "page size or page byte budget is zero",
        ),
        (
            config(|c| c.default_page_size = 2_000),
            "default page size is larger than its maximum page size",
        ),
    ];
    for (config, expected) in cases {
        let err = DiscoveryServer::serve(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
}
