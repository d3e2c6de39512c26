//! The HTTP surface over real sockets on 127.0.0.1, with hand-written HTTP/1.1 requests.

use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

use axum::extract::ws::Message as AxumMessage;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::MaybeTlsStream;

use super::*;
use crate::status::{LinkState, LinkStatus};

/// Bounds every test, so that a regression fails instead of hanging; never synchronisation.
const GUARD: Duration = Duration::from_secs(10);

async fn within<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(GUARD, fut)
        .await
        .expect("test timed out")
}

fn test_status() -> Status {
    Status {
        network_id: "alpha".into(),
        instance_id: "i-1".into(),
        incarnation: "inc-1".into(),
        uptime_secs: 9,
        links: vec![LinkStatus {
            peer_network: "beta".into(),
            peer_instance: "i-2".into(),
            address: "127.0.0.1:1".into(),
            state: LinkState::Down,
            dialed_by_us: false,
            latency_ms: None,
            messages_in: 1,
            messages_out: 2,
            queue_depth: 0,
            unacked: 0,
            resumes: 0,
            replayed: 0,
        }],
        ..Status::default()
    }
}

/// A handler that first sends the peer address it was given, then echoes data messages;
/// read errors go to `errors`.
fn echo_handler(errors: mpsc::UnboundedSender<String>) -> WsHandler {
    Arc::new(move |mut socket: WebSocket, peer: SocketAddr| {
        let errors = errors.clone();
        Box::pin(async move {
            if socket
                .send(AxumMessage::text(peer.to_string()))
                .await
                .is_err()
            {
                return;
            }
            while let Some(message) = socket.recv().await {
                match message {
                    Ok(m @ (AxumMessage::Text(_) | AxumMessage::Binary(_))) => {
                        if socket.send(m).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(err) => {
                        let _ = errors.send(err.to_string());
                        return;
                    }
                }
            }
        })
    })
}

struct Server {
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    ws_errors: mpsc::UnboundedReceiver<String>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

async fn start(limits: WsLimits, deadline: Duration) -> Server {
    let deadlines = Deadlines {
        drain: deadline,
        ..Deadlines::default()
    };
    start_with(limits, deadlines).await
}

async fn start_with(limits: WsLimits, deadlines: Deadlines) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let metrics = Arc::new(Metrics::new());
    let (errors_tx, ws_errors) = mpsc::unbounded_channel();
    let state = HttpState {
        network_id: "alpha".into(),
        instance_id: "i-1".into(),
        status: Arc::new(test_status),
        metrics: metrics.clone(),
        gauges: Arc::new(|| Gauges {
            links_up: 1,
            ..Gauges::default()
        }),
        ws_handler: echo_handler(errors_tx),
        ws_limits: limits,
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let task = tokio::spawn(serve_with(listener, router(state), shutdown, deadlines));
    Server {
        addr,
        metrics,
        ws_errors,
        stop,
        task,
    }
}

async fn start_default() -> Server {
    start(WsLimits::default(), DRAIN_DEADLINE).await
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        let found = self.headers.iter().find(|(n, _)| n == name);
        found.map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// Reads one response whose length is given by `Content-Length` (what axum sends for
/// complete bodies), leaving the connection usable for the next request.
async fn read_reply(stream: &mut TcpStream) -> Reply {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed mid-response: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
        .collect();
    let length = headers.iter().find(|(n, _)| n == "content-length");
    let length: usize = length.expect("content-length").1.parse().unwrap();
    let mut body = buf[head_end..].to_vec();
    body.resize(length, 0);
    stream
        .read_exact(&mut body[buf.len() - head_end..])
        .await
        .unwrap();
    let body = String::from_utf8(body).unwrap();
    Reply {
        status,
        headers,
        body,
    }
}

async fn request(addr: SocketAddr, method: &str, path: &str) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    read_reply(&mut stream).await
}

async fn get(addr: SocketAddr, path: &str) -> Reply {
    request(addr, "GET", path).await
}

#[tokio::test]
async fn health_reports_the_instance_ids() {
    let server = start_default().await;
    let reply = within(get(server.addr, "/health")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let expected = json!({"status": "ok", "network_id": "alpha", "instance_id": "i-1"});
    assert_eq!(reply.json(), expected);
}

#[tokio::test]
async fn status_serves_the_providers_document() {
    let server = start_default().await;
    let reply = within(get(server.addr, "/status")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), serde_json::to_value(test_status()).unwrap());
    assert_eq!(reply.json()["links"][0]["state"], "down");
}

#[tokio::test]
async fn metrics_serves_prometheus_text_with_counters_and_gauges() {
    let server = start_default().await;
    server.metrics.links_established.add(3);
    let reply = within(get(server.addr, "/metrics")).await;
    assert_eq!(reply.status, 200);
    let content_type = reply.header("content-type").unwrap();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    assert!(reply
        .body
        .contains("\nreflow_bridge_links_established_total 3\n"));
    assert!(reply.body.contains("\nreflow_bridge_links_up 1\n"));
}

#[tokio::test]
async fn unknown_paths_get_a_counted_404_and_the_server_keeps_serving() {
    let server = start_default().await;
    let reply = within(get(server.addr, "/")).await;
    assert_eq!((reply.status, reply.body.as_str()), (404, "not found\n"));
    assert_eq!(within(get(server.addr, "/nope/deeper")).await.status, 404);
    assert_eq!(server.metrics.http_requests_not_found.get(), 2);
    let metrics = within(get(server.addr, "/metrics")).await;
    assert!(metrics
        .body
        .contains("\nreflow_bridge_http_requests_not_found_total 2\n"));
    assert_eq!(within(get(server.addr, "/health")).await.status, 200);
}

#[tokio::test]
async fn a_wrong_method_on_a_known_path_is_405_and_not_counted_as_404() {
    let server = start_default().await;
    for path in ["/health", "/status", "/metrics", "/ws"] {
        let reply = within(request(server.addr, "POST", path)).await;
        assert_eq!(reply.status, 405, "POST {path}");
        assert!(reply.header("allow").is_some_and(|a| a.contains("GET")));
    }
    assert_eq!(server.metrics.http_requests_not_found.get(), 0);
}

#[tokio::test]
async fn a_plain_get_on_ws_is_refused_and_the_server_keeps_serving() {
    let server = start_default().await;
    let reply = within(get(server.addr, "/ws")).await;
    assert!((400..500).contains(&reply.status), "{reply:?}");
    assert_eq!(within(get(server.addr, "/health")).await.status, 200);
}

#[tokio::test]
async fn idle_stalled_and_garbage_connections_do_not_block_other_clients() {
    let server = start_default().await;
    let addr = server.addr;
    let _idle = TcpStream::connect(addr).await.unwrap();
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(b"GET /health HTTP/1.1\r\nHost: t")
        .await
        .unwrap();
    let mut garbage = TcpStream::connect(addr).await.unwrap();
    garbage
        .write_all(b"\x16\x03\x01\x00\xff garbage \0\0\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    // The server answers garbage with 400 and closes; a reset is fine too.
    let _ = within(garbage.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );
    let reply = within(get(addr, "/health")).await;
    assert_eq!(reply.status, 200);
    // The stalled request is still served once it completes.
    stalled.write_all(b"\r\n\r\n").await.unwrap();
    assert_eq!(within(read_reply(&mut stalled)).await.status, 200);
}

async fn ws_connect(
    addr: SocketAddr,
) -> tokio_tungstenite::WebSocketStream<MaybeTlsStream<TcpStream>> {
    let (ws, response) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    ws
}

fn local_addr(ws: &tokio_tungstenite::WebSocketStream<MaybeTlsStream<TcpStream>>) -> SocketAddr {
    match ws.get_ref() {
        MaybeTlsStream::Plain(tcp) => tcp.local_addr().unwrap(),
        _ => panic!("plain TCP expected"),
    }
}

#[tokio::test]
async fn a_websocket_client_reaches_the_handler_with_its_address() {
    let server = start_default().await;
    let mut ws = within(ws_connect(server.addr)).await;
    let hello = within(ws.next()).await.unwrap().unwrap();
    assert_eq!(
        hello.into_text().unwrap().as_str(),
        local_addr(&ws).to_string()
    );
    ws.send(Message::text("ping")).await.unwrap();
    let echo = within(ws.next()).await.unwrap().unwrap();
    assert_eq!(echo, Message::text("ping"));
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    let echo = within(ws.next()).await.unwrap().unwrap();
    assert_eq!(echo, Message::binary(vec![1u8, 2, 3]));
    assert_eq!(within(get(server.addr, "/health")).await.status, 200);
}

#[tokio::test]
async fn a_message_over_the_configured_limit_fails_the_read() {
    let limits = WsLimits {
        max_message_size: 1024,
        ..WsLimits::default()
    };
    let mut server = start(limits, DRAIN_DEADLINE).await;
    let mut ws = within(ws_connect(server.addr)).await;
    within(ws.next()).await.unwrap().unwrap();
    ws.send(Message::binary(vec![7u8; 1024])).await.unwrap();
    let echo = within(ws.next()).await.unwrap().unwrap();
    assert_eq!(echo.len(), 1024);
    ws.send(Message::binary(vec![7u8; 1025])).await.unwrap();
    let error = within(server.ws_errors.recv()).await.unwrap();
    assert!(error.contains("too long"), "{error}");
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_stops_listening() {
    let server = start_default().await;
    let _idle = TcpStream::connect(server.addr).await.unwrap();
    // A keep-alive connection that has been served once is idle as well.
    let mut kept = TcpStream::connect(server.addr).await.unwrap();
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(within(read_reply(&mut kept)).await.status, 200);
    let started = Instant::now();
    server.stop.send(()).unwrap();
    within(server.task).await.unwrap().unwrap();
    // Idle connections do not hold shutdown until the drain deadline.
    assert!(started.elapsed() < DRAIN_DEADLINE);
    let mut rest = Vec::new();
    assert_eq!(within(kept.read_to_end(&mut rest)).await.unwrap(), 0);
    assert!(TcpStream::connect(server.addr).await.is_err());
}

#[tokio::test]
async fn shutdown_gives_up_on_a_request_still_open_at_the_deadline() {
    // A partial request does not hold shutdown (hyper closes it like an idle connection);
    // a handler that never answers does.
    let (entered_tx, mut entered) = mpsc::unbounded_channel();
    let hang = Router::new().route(
        "/hang",
        axum::routing::get(move || {
            let _ = entered_tx.send(());
            std::future::pending::<()>()
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let deadline = Duration::from_millis(200);
    let shutdown = async move {
        let _ = stopped.await;
    };
    let deadlines = Deadlines {
        drain: deadline,
        ..Deadlines::default()
    };
    let task = tokio::spawn(serve_with(listener, hang, shutdown, deadlines));
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(b"GET /hang HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    within(entered.recv()).await.unwrap();
    let started = Instant::now();
    stop.send(()).unwrap();
    within(task).await.unwrap().unwrap();
    assert!(started.elapsed() >= deadline);
}

/// A client that connects and sends nothing, or starts a request and never finishes its
/// head, is disconnected once the header deadline passes (it would otherwise hold its
/// connection forever); a client that does finish is served meanwhile.
#[tokio::test]
async fn a_request_head_that_never_ends_is_cut_off_at_the_header_deadline() {
    let deadlines = Deadlines {
        header_read: Duration::from_millis(300),
        ..Deadlines::default()
    };
    let server = start_with(WsLimits::default(), deadlines).await;
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut preface = TcpStream::connect(server.addr).await.unwrap();
    preface.write_all(b"P").await.unwrap();
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: t\r\nX-Slow")
        .await
        .unwrap();
    let started = Instant::now();
    let reply = get(server.addr, "/health").await;
    assert_eq!(reply.status, 200);
    for client in [&mut silent, &mut preface, &mut slow] {
        let mut rest = Vec::new();
        // EOF or a reset, either way the server let go; never a response to a partial head.
        let _ = within(client.read_to_end(&mut rest)).await;
        assert!(
            !String::from_utf8_lossy(&rest).contains("200 OK"),
            "{rest:?}"
        );
    }
    assert!(started.elapsed() >= Duration::from_millis(250));
    let _ = server.stop.send(());
    within(server.task).await.unwrap().unwrap();
}
