use std::path::PathBuf;

use super::*;

fn scratch(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("reflow-tls-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn message(err: BridgeError) -> String {
    err.to_string()
}

#[test]
fn the_server_name_is_the_host_without_its_port() {
    assert_eq!(
        server_name("example.com:7400").unwrap(),
        ServerName::try_from("example.com").unwrap()
    );
    assert_eq!(
        server_name("127.0.0.1:7400").unwrap(),
        ServerName::try_from("127.0.0.1").unwrap()
    );
    assert_eq!(
        server_name("[::1]:7400").unwrap(),
        ServerName::try_from("::1").unwrap()
    );
    assert_eq!(
        server_name("localhost").unwrap(),
        ServerName::try_from("localhost").unwrap()
    );
}

#[test]
fn a_host_tls_cannot_verify_is_a_configuration_error() {
    let err = message(server_name("bad_name!:7400").unwrap_err());
    assert!(err.contains("`bad_name!` is not a host name"), "{err}");
}

#[test]
fn a_missing_file_is_named_in_the_error() {
    let config = TlsConfig {
        identity: None,
        ca: Some(PathBuf::from("/nonexistent/ca.pem")),
    };
    let err = message(Tls::load(&config).unwrap_err());
    assert!(
        err.contains("cannot read the TLS CA file /nonexistent/ca.pem"),
        "{err}"
    );

    let config = TlsConfig {
        identity: Some(TlsIdentity::new("/nonexistent/cert.pem", "key.pem")),
        ca: None,
    };
    let err = message(Tls::load(&config).unwrap_err());
    assert!(
        err.contains("cannot read the TLS certificate chain /nonexistent/cert.pem"),
        "{err}"
    );
}

#[test]
fn a_file_without_certificates_or_with_broken_pem_is_refused_by_name() {
    let empty = scratch("empty.pem", "just some text\n");
    let config = TlsConfig {
        identity: None,
        ca: Some(empty.clone()),
    };
    let err = message(Tls::load(&config).unwrap_err());
    assert!(
        err.contains(&format!(
            "the TLS CA file {} holds no PEM certificate",
            empty.display()
        )),
        "{err}"
    );

    let broken = scratch(
        "broken.pem",
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
    );
    let config = TlsConfig {
        identity: None,
        ca: Some(broken.clone()),
    };
    let err = message(Tls::load(&config).unwrap_err());
    assert!(
        err.contains(&format!(
            "the TLS CA file {} is not valid PEM",
            broken.display()
        )),
        "{err}"
    );
}

#[test]
fn no_tls_configured_loads_nothing() {
    let tls = Tls::load(&TlsConfig::default()).unwrap();
    assert!(tls.server.is_none() && tls.client.is_none());
}

/// What a TLS server sends a client that speaks plaintext to it: a fatal alert record
/// (here `decode_error`), then it hangs up.
const TLS_ALERT: &[u8] = &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32];

#[tokio::test]
async fn a_tls_alert_answering_a_plaintext_upgrade_suggests_wss() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (client, mut server) = tokio::io::duplex(4096);
    tokio::spawn(async move {
        let mut request = [0u8; 1024];
        let _ = server.read(&mut request).await;
        let _ = server.write_all(TLS_ALERT).await;
    });
    let err = tokio_tungstenite::client_async("ws://h:1/ws", client)
        .await
        .unwrap_err();
    let err = plaintext_upgrade_failed("ws://h:1/ws", "h:1", err);
    assert!(matches!(&err, BridgeError::Tls { address, .. } if address == "h:1"));
    let text = message(err);
    assert!(
        text.contains("it may require TLS, dial wss://h:1"),
        "{text}"
    );
}

#[test]
fn other_upgrade_failures_stay_websocket_errors() {
    let err = plaintext_upgrade_failed("ws://h:1/ws", "h:1", tungstenite::Error::ConnectionClosed);
    assert!(matches!(err, BridgeError::WebSocket(_)), "{err}");
}

#[test]
fn an_unknown_issuer_reads_certificate_not_trusted_naming_the_ca_file() {
    let io = io::Error::new(
        io::ErrorKind::InvalidData,
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
    );
    let text = message(client_handshake_failed("h:1", Path::new("ca.pem"), &io));
    assert_eq!(
        text,
        "TLS with h:1: certificate not trusted: the server's certificate is not signed by a CA in ca.pem"
    );
}

#[test]
fn a_non_tls_answer_suggests_ws() {
    let io = io::Error::new(
        io::ErrorKind::InvalidData,
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
    );
    let text = message(client_handshake_failed("h:1", Path::new("ca.pem"), &io));
    assert!(text.contains("the server did not answer in TLS"), "{text}");
    assert!(text.contains("dial ws://h:1"), "{text}");
}

#[test]
fn a_closed_connection_during_the_tls_handshake_is_reported_as_such() {
    let io = io::Error::from(io::ErrorKind::UnexpectedEof);
    let text = message(client_handshake_failed("h:1", Path::new("ca.pem"), &io));
    assert!(
        text.starts_with("TLS with h:1: the TLS handshake failed"),
        "{text}"
    );
}

#[test]
fn the_server_says_which_client_mistake_a_failed_handshake_looks_like() {
    let plaintext = io::Error::new(
        io::ErrorKind::InvalidData,
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
    );
    let text = server_handshake_failed(&plaintext);
    assert!(text.starts_with("the client did not speak TLS"), "{text}");

    let distrust = io::Error::new(
        io::ErrorKind::InvalidData,
        rustls::Error::AlertReceived(rustls::AlertDescription::UnknownCA),
    );
    let text = server_handshake_failed(&distrust);
    assert!(
        text.contains("likely distrusting this certificate"),
        "{text}"
    );
    assert!(text.contains("UnknownCA"), "{text}");

    let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
    assert_eq!(server_handshake_failed(&eof), eof.to_string());
}
