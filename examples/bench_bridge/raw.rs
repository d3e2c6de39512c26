//! The raw tokio-tungstenite baselines: a client task and a server task on one loopback
//! WebSocket, `TCP_NODELAY` on both ends, tungstenite's default configuration.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use reflow::Message;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;

use super::measure::{Meter, Sample};
use super::wire::{self, DataFrame};

/// Bytes per item in the simple baselines: about what one `Data` frame of an integer takes.
const ITEM: usize = 16;
/// Items per flush (feed) or per binary message (packed) in the simple baselines.
const GROUP: usize = 100;
/// Frames per WebSocket message in the fair baseline: the most the bridge's writer takes
/// from its outbox for one message (`BATCH` in `reflow_bridge/src/net/writer.rs`).
pub(crate) const FRAMES_PER_MESSAGE: usize = 256;
/// The exported actor and its inport, as the bridge names them in its `Data` frames.
pub(crate) const ACTOR: &str = "sink";
/// See [`ACTOR`].
pub(crate) const PORT: &str = "in";
/// The proxy session of the fair baseline's frames (the bridge numbers its sessions from 1).
const ORIGIN: u32 = 1;

type Ws = WebSocketStream<TcpStream>;

/// How the raw client writes its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Raw {
    /// One 16-byte binary message per item, each sent (and so flushed) on its own.
    Unbatched,
    /// One 16-byte binary message per item, flushed every `GROUP`.
    Feed,
    /// `GROUP` 16-byte items in one binary message.
    Packed,
    /// The bridge's `Data` frames, one `Message::Integer` each, in its envelope and format,
    /// this many per binary message; the server decodes every frame.
    Frames(usize),
}

impl Raw {
    /// The fair baseline, which the targets use: frames packed as the bridge packs at most.
    pub(crate) const FAIR: Raw = Raw::Frames(FRAMES_PER_MESSAGE);

    /// Every setup, the fair one last. `Frames(GROUP)` packs about as many frames per
    /// message as the bridge does on average in this benchmark (it prints its own mean).
    pub(crate) const ALL: [Raw; 5] = [
        Raw::Unbatched,
        Raw::Feed,
        Raw::Packed,
        Raw::Frames(GROUP),
        Raw::FAIR,
    ];

    /// What the setup does, for the report.
    pub(crate) fn label(self) -> String {
        match self {
            Raw::Unbatched => "raw ws, send (flush) per message".into(),
            Raw::Feed => "raw ws, feed + flush every 100".into(),
            Raw::Packed => "raw ws, 100 16-byte items per message".into(),
            Raw::FAIR => format!("raw ws, FAIR: Data frames, {FRAMES_PER_MESSAGE} per msg"),
            Raw::Frames(per_message) => format!("raw ws, Data frames, {per_message} per msg"),
        }
    }
}

/// A connected client and server WebSocket on 127.0.0.1, `TCP_NODELAY` on both ends.
async fn ws_pair() -> (Ws, Ws) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        tcp.set_nodelay(true).unwrap();
        tokio_tungstenite::accept_async(tcp).await.unwrap()
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (client, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), tcp)
        .await
        .unwrap();
    (client, server.await.unwrap())
}

/// Sends `n` messages from client to server the way `mode` says; wall and CPU time from the
/// first send until the server has counted them all. Both ends run as tasks, like reflow's
/// processes.
pub(crate) async fn one_way(n: i64, mode: Raw) -> Sample {
    let (mut client, server) = ws_pair().await;
    tokio::spawn(async move {
        let meter = Meter::start();
        let receiver = tokio::spawn(receive(server, n, mode));
        send(&mut client, n, mode).await;
        let _server = receiver.await.unwrap();
        meter.stop()
    })
    .await
    .unwrap()
}

async fn send(ws: &mut Ws, n: i64, mode: Raw) {
    match mode {
        Raw::Unbatched => {
            for i in 0..n {
                ws.send(WsMessage::binary(item(i))).await.unwrap();
            }
        }
        Raw::Feed => send_fed(ws, n).await,
        Raw::Packed => send_packed(ws, n).await,
        Raw::Frames(per_message) => send_frames(ws, n, per_message).await,
    }
}

async fn send_fed(ws: &mut Ws, n: i64) {
    for i in 0..n {
        ws.feed(WsMessage::binary(item(i))).await.unwrap();
        if (i + 1) % GROUP as i64 == 0 {
            ws.flush().await.unwrap();
        }
    }
    ws.flush().await.unwrap();
}

async fn send_packed(ws: &mut Ws, n: i64) {
    for start in (0..n).step_by(GROUP) {
        let mut packed = Vec::with_capacity(GROUP * ITEM);
        for i in start..(start + GROUP as i64).min(n) {
            put_item(&mut packed, i);
        }
        ws.send(WsMessage::binary(packed)).await.unwrap();
    }
}

/// Builds each frame as the bridge's proxy does (two owned strings and the payload), encodes
/// a batch into a buffer that the socket then takes, as the bridge's writer does.
async fn send_frames(ws: &mut Ws, n: i64, per_message: usize) {
    let mut frames = Vec::with_capacity(per_message);
    let mut bytes = Vec::new();
    for start in (0..n).step_by(per_message) {
        let end = (start + per_message as i64).min(n);
        frames.extend((start..end).map(data_frame));
        wire::encode_batch(&frames, &mut bytes);
        frames.clear();
        let len = bytes.len();
        let message = std::mem::replace(&mut bytes, Vec::with_capacity(len));
        ws.send(WsMessage::binary(message)).await.unwrap();
    }
}

/// The frame of the `i`th message (counted from 0), as the bridge would send it.
pub(crate) fn data_frame(i: i64) -> DataFrame {
    DataFrame {
        seq: i as u64 + 1,
        actor: ACTOR.to_string(),
        port: PORT.to_string(),
        origin: ORIGIN,
        payload: Message::Integer(i),
        trace: None,
    }
}

/// Appends item `i`: the integer and padding up to `ITEM` bytes.
fn put_item(buf: &mut Vec<u8>, i: i64) {
    buf.extend_from_slice(&i.to_le_bytes());
    buf.resize(buf.len() + ITEM - 8, 0);
}

fn item(i: i64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(ITEM);
    put_item(&mut bytes, i);
    bytes
}

/// Reads until `n` items have arrived; in the fair setup, decodes every frame.
async fn receive(mut ws: Ws, n: i64, mode: Raw) -> Ws {
    let mut count = 0;
    while count < n {
        let bytes = match ws.next().await.unwrap().unwrap() {
            WsMessage::Binary(bytes) => bytes,
            other => panic!("unexpected {other:?}"),
        };
        count += match mode {
            Raw::Frames(_) => decoded(&bytes, count),
            _ => (bytes.len() / ITEM) as i64,
        };
    }
    ws
}

/// Decodes one message of frames and checks they follow the `received` before them, as the
/// bridge's reader checks its sequence; returns how many it held.
fn decoded(bytes: &[u8], received: i64) -> i64 {
    let frames = wire::decode_batch(bytes).unwrap();
    let first = frames.first().map(|f| f.seq);
    assert_eq!(first, Some(received as u64 + 1), "frames arrive in order");
    frames.len() as i64
}

/// `k` round trips: the client sends one 16-byte item, the server echoes it back.
pub(crate) async fn rtt(k: usize) -> Vec<Duration> {
    let (mut client, mut server) = ws_pair().await;
    tokio::spawn(async move {
        while let Some(Ok(msg)) = server.next().await {
            if msg.is_binary() && server.send(msg).await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let mut rtts = Vec::with_capacity(k);
        for i in 0..k {
            let sent = Instant::now();
            client
                .send(WsMessage::binary(item(i as i64)))
                .await
                .unwrap();
            client.next().await.unwrap().unwrap();
            rtts.push(sent.elapsed());
        }
        rtts
    })
    .await
    .unwrap()
}
