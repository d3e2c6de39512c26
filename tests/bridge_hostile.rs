//! Hostile input at the listener, over real sockets: the connection limit, a flood of bad
//! connections beside a working link, and frames sent before authentication. Every refusal
//! must be answered with a close code and show up in `/metrics`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::http_get;

use std::future::Future;
use std::time::Duration;

use common::Record;
use futures::{SinkExt, StreamExt};
use reflow::Message;
use reflow_bridge::{BridgeError, DistributedConfig, DistributedNetwork};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const TOKEN: &str = "hostile-token";
/// Bounds every wait: only a hang reaches it.
const HANG: Duration = Duration::from_secs(60);
/// The servers' message size limit.
const MAX_MESSAGE: usize = 1 << 20;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

fn config(network: &str, bind: bool) -> DistributedConfig {
    common::bridge_config(network, bind, Some(TOKEN))
}

async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(HANG, fut)
        .await
        .unwrap_or_else(|_| panic!("hung: {what}"))
}

/// A started server exporting a `Record` as `inbox`, and its address.
async fn server(max_connections: usize) -> (DistributedNetwork, Record, String) {
    let mut config = config("hub", true);
    config.max_connections = max_connections;
    config.max_message_bytes = MAX_MESSAGE;
    let (server, inbox) = common::record_inbox(config).await;
    let addr = server.local_addr().unwrap().to_string();
    (server, inbox, addr)
}

async fn linked_client(name: &str, addr: &str) -> Result<DistributedNetwork, BridgeError> {
    let client = DistributedNetwork::new(config(name, false), reflow::actors::registry()).unwrap();
    client.connect_to_network(addr).await?;
    Ok(client)
}

/// The value of one sample in `/metrics`, e.g. `handshake_failures_total{reason="protocol"}`.
async fn metric(addr: &str, sample: &str) -> u64 {
    let text = http_get(addr, "/metrics").await;
    let name = format!("reflow_bridge_{sample} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&name))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

/// A WebSocket to the bridge that has not said anything yet.
async fn raw_ws(addr: &str) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    ws
}

/// What the server sent until it closed: its binary messages, and the close code.
async fn until_close(ws: &mut Ws) -> (Vec<Vec<u8>>, Option<u16>) {
    let mut binaries = Vec::new();
    while let Some(msg) = bounded("a close", ws.next()).await {
        match msg {
            Ok(WsMessage::Binary(bytes)) => binaries.push(bytes.to_vec()),
            Ok(WsMessage::Close(frame)) => return (binaries, frame.map(|f| u16::from(f.code))),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    (binaries, None)
}

/// `Data { seq: 1, actor: "inbox", port: "in", origin: 1, payload: Integer(7), trace: None }`
/// in protocol version 4, built by hand as docs/protocol.md describes it (kind 9 is `Data`).
fn data_frame_bytes() -> Vec<u8> {
    let mut bytes = vec![4, 1, 9, 1, 5];
    bytes.extend(b"inbox");
    bytes.push(2);
    bytes.extend(b"in");
    bytes.extend([1, 2, 14, 0]);
    bytes
}

/// Sends `msg` on a fresh WebSocket before any `Hello`; returns what the server answered.
async fn before_hello(addr: &str, msg: WsMessage) -> (Vec<Vec<u8>>, Option<u16>) {
    let mut ws = raw_ws(addr).await;
    // The server may close before taking all of a message it refuses.
    let _ = ws.send(msg).await;
    until_close(&mut ws).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_limit_refuses_a_third_authenticated_peer() {
    let (server, _inbox, addr) = server(2).await;
    let first = linked_client("first", &addr).await.unwrap();
    let second = linked_client("second", &addr).await.unwrap();

    let third = linked_client("third", &addr).await;
    assert!(
        matches!(third, Err(BridgeError::TooManyConnections)),
        "{:?}",
        third.err()
    );
    let sample = r#"handshake_failures_total{reason="too_many_connections"}"#;
    assert_eq!(metric(&addr, sample).await, 1);
    assert_eq!(server.bridge_status().links.len(), 2);
    // The two admitted links still carry messages.
    first
        .send_to_remote_actor("hub", "inbox", "in", Message::Integer(1))
        .await
        .unwrap();
    second
        .send_to_remote_actor("hub", "inbox", "in", Message::Integer(2))
        .await
        .unwrap();
    first.shutdown().await;
    second.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn frames_before_authentication_are_refused_with_a_close_code_and_counted() {
    let (server, inbox, addr) = server(8).await;

    let (answers, code) = before_hello(&addr, WsMessage::Binary(data_frame_bytes().into())).await;
    assert_eq!(code, Some(1002));
    // The refusal names its reason first: a `Refuse` frame (kind 4) of reason `protocol`.
    assert!(
        answers.iter().any(|b| b.starts_with(&[4, 1, 4])),
        "{answers:?}"
    );

    let unknown_kind = vec![4u8, 1, 19];
    let (_, code) = before_hello(&addr, WsMessage::Binary(unknown_kind.into())).await;
    assert_eq!(code, Some(1002));

    let garbage = vec![4u8, 1, 0, 0xff, 0xff];
    let (_, code) = before_hello(&addr, WsMessage::Binary(garbage.into())).await;
    assert_eq!(code, Some(1007));

    let (_, code) = before_hello(&addr, WsMessage::Text("hello?".into())).await;
    assert_eq!(code, Some(1003));

    // Under the limit these bytes would be a malformed batch (1007), not an oversized one.
    let mut oversized = data_frame_bytes();
    oversized.resize(MAX_MESSAGE + 1, 0);
    let (_, code) = before_hello(&addr, WsMessage::Binary(oversized.into())).await;
    assert_eq!(code, Some(1009));

    for (sample, expected) in [
        (r#"rejected_frames_total{reason="before_auth"}"#, 1),
        (r#"rejected_frames_total{reason="unknown_kind"}"#, 1),
        (r#"rejected_frames_total{reason="malformed"}"#, 2),
        (r#"rejected_frames_total{reason="oversized"}"#, 1),
        (r#"handshake_failures_total{reason="protocol"}"#, 5),
        ("links_established_total", 0),
    ] {
        assert_eq!(metric(&addr, sample).await, expected, "{sample}");
    }
    assert!(inbox.values().is_empty(), "{:?}", inbox.values());
    server.shutdown().await;
}

/// How each connection of the flood misbehaves.
#[derive(Clone, Copy, Debug)]
enum Flood {
    /// Connects and says nothing.
    IdleTcp,
    /// Sends bytes that are not HTTP.
    Garbage,
    /// Upgrades, then sends a `Data` frame instead of `Hello`.
    DataBeforeHello,
    /// Upgrades and says nothing.
    IdleWs,
}

const FLOOD: [Flood; 4] = [
    Flood::IdleTcp,
    Flood::Garbage,
    Flood::DataBeforeHello,
    Flood::IdleWs,
];

/// One flood connection; it stays open until `release` fires. Returns the close code the
/// server answered a `DataBeforeHello` with.
async fn flood_one(kind: Flood, addr: String, mut release: watch::Receiver<bool>) -> Option<u16> {
    let mut code = None;
    let _held: Box<dyn std::any::Any + Send> = match kind {
        Flood::IdleTcp => Box::new(TcpStream::connect(&addr).await.unwrap()),
        Flood::Garbage => {
            let mut tcp = TcpStream::connect(&addr).await.unwrap();
            let _ = tcp
                .write_all(b"\x00\xffGARBAGE\r\n\x16\x03\x01\r\n\r\n")
                .await;
            Box::new(tcp)
        }
        Flood::DataBeforeHello => {
            let mut ws = raw_ws(&addr).await;
            ws.send(WsMessage::Binary(data_frame_bytes().into()))
                .await
                .unwrap();
            code = until_close(&mut ws).await.1;
            Box::new(ws)
        }
        Flood::IdleWs => Box::new(raw_ws(&addr).await),
    };
    let _ = release.wait_for(|go| *go).await;
    code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_bad_connections_does_not_starve_an_established_link() {
    const MESSAGES: i64 = 2_000;
    const PER_KIND: usize = 80;
    let (server, inbox, addr) = server(8).await;
    let client = linked_client("steady", &addr).await.unwrap();
    client.wait_peers(|p| p.len() == 1).await;

    let (release, released) = watch::channel(false);
    let flood: Vec<_> = (0..PER_KIND)
        .flat_map(|_| FLOOD)
        .map(|kind| {
            (
                kind,
                tokio::spawn(flood_one(kind, addr.clone(), released.clone())),
            )
        })
        .collect();
    for i in 1..=MESSAGES {
        bounded(
            "a send",
            client.send_to_remote_actor("hub", "inbox", "in", Message::Integer(i)),
        )
        .await
        .unwrap();
    }
    bounded("every message", inbox.wait_for(MESSAGES as usize)).await;

    // Every idle connection is still open: the link answered while they were.
    client
        .send_to_remote_actor("hub", "inbox", "in", Message::Integer(MESSAGES + 1))
        .await
        .unwrap();
    bounded("the last message", inbox.wait_for(MESSAGES as usize + 1)).await;
    assert_eq!(inbox.integers(), (1..=MESSAGES + 1).collect::<Vec<_>>());
    assert_eq!(server.bridge_status().links.len(), 1);

    release.send(true).unwrap();
    for (kind, task) in flood {
        let code = bounded("a flood connection", task).await.unwrap();
        if let Flood::DataBeforeHello = kind {
            assert_eq!(code, Some(1002), "{kind:?}");
        }
    }
    let before_auth = r#"rejected_frames_total{reason="before_auth"}"#;
    assert_eq!(metric(&addr, before_auth).await, PER_KIND as u64);
    let protocol = r#"handshake_failures_total{reason="protocol"}"#;
    assert!(metric(&addr, protocol).await >= PER_KIND as u64);
    assert_eq!(metric(&addr, "links_established_total").await, 1);
    client.shutdown().await;
    server.shutdown().await;
}
