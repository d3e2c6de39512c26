//! Links over TLS (`wss://`) on real sockets: a remote actor answers through its proxy; a
//! plaintext client, a client trusting another CA, and a `wss://` dial of a plaintext server
//! all fail closed with an error that says why, and the server carries on.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::tls::Pki;
use reflow::actors::Forward;
use reflow_bridge::{BridgeError, DistributedConfig, DistributedNetwork, TlsConfig};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "s3cret-shared-token";

/// A server of network `validation` exporting `echo` (a Forward), serving TLS with `pki`.
async fn tls_server(pki: &Pki) -> (DistributedNetwork, String) {
    let mut config = common::bridge_config("validation", true, Some(TOKEN));
    config.tls.identity = Some(pki.identity());
    let mut dn = DistributedNetwork::new(config, reflow::actors::registry()).unwrap();
    dn.register_local_actor("echo", Forward, Value::Null)
        .unwrap();
    dn.start().await.unwrap();
    let addr = dn.local_addr().unwrap().to_string();
    (dn, addr)
}

/// A dial-only client of network `producer` trusting the CA at `ca`, if any.
fn client(ca: Option<&Path>) -> DistributedNetwork {
    let mut config: DistributedConfig = common::bridge_config("producer", false, Some(TOKEN));
    config.tls = TlsConfig {
        identity: None,
        ca: ca.map(Path::to_path_buf),
    };
    DistributedNetwork::new(config, reflow::actors::registry()).unwrap()
}

/// `GET path` over HTTPS, trusting the CA at `ca`: the whole response.
async fn https_get(addr: &str, path: &str, ca: &Path) -> String {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(ca).unwrap();
    for cert in pem_certs(&pem) {
        roots.add(cert).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    // A server may close without a TLS close_notify; what was read by then is complete.
    let _ = tls.read_to_end(&mut response).await;
    String::from_utf8_lossy(&response).into_owned()
}

fn pem_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Waits until the server's /metrics counts `failures` failed TLS handshakes. The server
/// counts a failure just after its side of the handshake ends, which may be a moment after
/// the client has its error.
async fn wait_for_tls_failures(addr: &str, ca: &Path, failures: u64) -> String {
    let line = format!("reflow_bridge_handshake_failures_total{{reason=\"tls\"}} {failures}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = https_get(addr, "/metrics", ca).await;
        if metrics.lines().any(|l| l == line) {
            return metrics;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never saw {line}:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_a_remote_actor_answers_through_its_proxy() {
    let pki = Pki::new("link");
    let (server, addr) = tls_server(&pki).await;
    let mut client = client(Some(&pki.ca));
    let peer = client
        .connect_to_network(&format!("wss://{addr}"))
        .await
        .unwrap();
    assert_eq!(peer.network_id, "validation");

    let sink = common::echo_through_proxy(&mut client, 1000).await;
    assert_eq!(sink.integers(), (0..1000).collect::<Vec<_>>());
    assert!(*sink.ended.lock(), "the end came back through the proxy");
    assert_eq!(server.bridge_status().links.len(), 1);

    let health = https_get(&addr, "/health", &pki.ca).await;
    assert!(health.starts_with("HTTP/1.1 200 OK"), "{health}");
    client.shutdown().await;
    server.shutdown().await;
    wait_until_closed(&addr).await;
}

/// Waits until nothing accepts on `addr` any more: the TLS accept loop ends once the server
/// has stopped, a moment after `shutdown` returns.
async fn wait_until_closed(addr: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{addr} still accepts after shutdown"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_client_is_refused_by_a_tls_server_and_told_to_dial_wss() {
    let pki = Pki::new("plaintext");
    let (server, addr) = tls_server(&pki).await;

    let err = client(None).connect_to_network(&addr).await.unwrap_err();
    match &err {
        BridgeError::Tls { address, .. } => assert_eq!(address, &addr),
        other => panic!("expected a TLS error, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(&format!("it may require TLS, dial wss://{addr}")),
        "{text}"
    );
    assert!(server.bridge_status().links.is_empty(), "no link was made");
    let metrics = wait_for_tls_failures(&addr, &pki.ca, 1).await;
    assert!(
        metrics
            .lines()
            .any(|l| l == "reflow_bridge_links_established_total 0"),
        "{metrics}"
    );

    // The failed handshake did not stop the server: a client that dials wss:// links.
    let good = client(Some(&pki.ca));
    good.connect_to_network(&format!("wss://{addr}"))
        .await
        .unwrap();
    assert_eq!(server.bridge_status().links.len(), 1);
    good.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trusting_another_ca_refuses_the_server_certificate() {
    let pki = Pki::new("server-ca");
    let other = Pki::new("other-ca");
    let (server, addr) = tls_server(&pki).await;

    let err = client(Some(&other.ca))
        .connect_to_network(&format!("wss://{addr}"))
        .await
        .unwrap_err();
    assert!(matches!(&err, BridgeError::Tls { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "TLS with {addr}: certificate not trusted: the server's certificate is not signed \
             by a CA in {}",
            other.ca.display()
        )
    );
    assert!(server.bridge_status().links.is_empty(), "no link was made");
    wait_for_tls_failures(&addr, &pki.ca, 1).await;
    server.shutdown().await;
}

#[tokio::test]
async fn dialling_wss_to_a_plaintext_server_is_told_to_dial_ws() {
    let pki = Pki::new("plain-server");
    let mut server = DistributedNetwork::new(
        common::bridge_config("validation", true, Some(TOKEN)),
        reflow::actors::registry(),
    )
    .unwrap();
    let addr = server.listen().await.unwrap().unwrap().to_string();

    let err = client(Some(&pki.ca))
        .connect_to_network(&format!("wss://{addr}"))
        .await
        .unwrap_err();
    assert!(matches!(&err, BridgeError::Tls { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("the server did not answer in TLS"), "{text}");
    assert!(text.contains(&format!("dial ws://{addr}")), "{text}");
    assert!(server.bridge_status().links.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn dialling_wss_without_a_trusted_ca_is_a_configuration_error() {
    let err = client(None)
        .connect_to_network("wss://127.0.0.1:9")
        .await
        .unwrap_err();
    assert!(matches!(&err, BridgeError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("--tls-ca"), "{err}");
}

#[test]
fn a_missing_certificate_file_fails_creation_naming_the_file() {
    let mut config = common::bridge_config("validation", true, Some(TOKEN));
    config.tls.identity = Some(reflow_bridge::TlsIdentity::new(
        "no/such/cert.pem",
        "no/such/key.pem",
    ));
    let err = DistributedNetwork::new(config, reflow::actors::registry()).unwrap_err();
    assert!(matches!(&err, BridgeError::Config(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("cannot read the TLS certificate chain no/such/cert.pem"),
        "{err}"
    );
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_refused() {
    let pki = Pki::new("mismatch");
    let other = Pki::new("mismatch-other");
    let mut config = common::bridge_config("validation", true, Some(TOKEN));
    config.tls.identity = Some(reflow_bridge::TlsIdentity::new(&pki.cert, &other.key));
    let err = DistributedNetwork::new(config, reflow::actors::registry()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "the TLS key {} does not go with the certificate {}",
            other.key.display(),
            pki.cert.display()
        )),
        "{text}"
    );
}
