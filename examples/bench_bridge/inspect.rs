//! What the bridge really puts on the wire: a relay that records the bytes a link's client
//! sends (to compare the fair baseline's encoding with the bridge's, byte for byte), and the
//! receiving instance's `/metrics` counters (how many frames it packs per WebSocket message).

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::raw::{ACTOR, PORT};
use super::wire;

/// The most client bytes the relay keeps.
const RECORD_LIMIT: usize = 4 << 20;

/// A TCP relay for one connection to `target` that records what the client sends.
pub(crate) struct Relay {
    /// Where to dial instead of the target.
    pub(crate) addr: String,
    recorded: Arc<Mutex<Vec<u8>>>,
}

impl Relay {
    pub(crate) async fn start(target: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let record = recorded.clone();
        tokio::spawn(async move {
            let (client, _) = listener.accept().await.unwrap();
            let server = TcpStream::connect(target).await.unwrap();
            for tcp in [&client, &server] {
                tcp.set_nodelay(true).unwrap();
            }
            let (mut client_in, mut client_out) = client.into_split();
            let (mut server_in, mut server_out) = server.into_split();
            tokio::spawn(async move { tokio::io::copy(&mut server_in, &mut client_out).await });
            copy_recording(&mut client_in, &mut server_out, &record).await;
        });
        Relay { addr, recorded }
    }

    /// The client's bytes so far.
    pub(crate) fn recorded(&self) -> Vec<u8> {
        self.recorded.lock().clone()
    }
}

async fn copy_recording(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    record: &Mutex<Vec<u8>>,
) {
    let mut buf = vec![0; 64 << 10];
    while let Ok(read @ 1..) = from.read(&mut buf).await {
        let chunk = &buf[..read];
        {
            let mut record = record.lock();
            let room = RECORD_LIMIT.saturating_sub(record.len());
            record.extend_from_slice(&chunk[..read.min(room)]);
        }
        if to.write_all(chunk).await.is_err() {
            break;
        }
    }
}

/// What the comparison of recorded bridge messages with the baseline's codec found.
#[derive(Debug, Default)]
pub(crate) struct Comparison {
    /// Binary messages of the link's client, handshake and control included.
    pub(crate) messages: usize,
    /// Those holding only `Data` frames, decoded by the baseline's codec.
    pub(crate) data_messages: usize,
    /// Their frames.
    pub(crate) frames: usize,
    /// Data messages that the baseline's codec wrote back into exactly the same bytes.
    pub(crate) identical: usize,
    /// Frames that carry the baseline's actor, port and an integer payload.
    pub(crate) same_fields: usize,
    /// Bytes of the first data frame of the first data message, as the bridge sent it.
    pub(crate) first_frame: Vec<u8>,
}

/// Decodes every data message in the client bytes of a recorded link with the baseline's
/// codec and encodes it again.
pub(crate) fn compare(recorded: &[u8]) -> Comparison {
    let mut found = Comparison::default();
    for message in binary_messages(recorded) {
        found.messages += 1;
        let Ok(frames) = wire::decode_batch(&message) else {
            continue;
        };
        if found.data_messages == 0 {
            found.first_frame = first_frame_bytes(&message, &frames);
        }
        found.data_messages += 1;
        found.frames += frames.len();
        found.same_fields += frames.iter().filter(|f| baseline_like(f)).count();
        let mut again = Vec::new();
        wire::encode_batch(&frames, &mut again);
        found.identical += usize::from(again == message);
    }
    found
}

/// The bytes of the first of `frames` in `message`, the envelope they were decoded from:
/// after the version (one byte) and the frame count (a varint).
fn first_frame_bytes(message: &[u8], frames: &[wire::DataFrame]) -> Vec<u8> {
    let mut alone = Vec::new();
    wire::encode_batch(&frames[..1.min(frames.len())], &mut alone);
    let frame_len = alone.len().saturating_sub(2);
    let count_len = (64 - (frames.len() as u64 | 1).leading_zeros() as usize).div_ceil(7);
    let start = 1 + count_len;
    message
        .get(start..start + frame_len)
        .unwrap_or_default()
        .to_vec()
}

fn baseline_like(frame: &wire::DataFrame) -> bool {
    frame.actor == ACTOR
        && frame.port == PORT
        && frame.trace.is_none()
        && frame.payload.as_i64().is_some()
}

/// The binary messages in the client side of a WebSocket connection: after the HTTP upgrade
/// request, frames masked by the client; fragments joined; other opcodes skipped. Stops at
/// the first incomplete frame.
fn binary_messages(bytes: &[u8]) -> Vec<Vec<u8>> {
    let Some(head_end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Vec::new();
    };
    let mut rest = &bytes[head_end + 4..];
    let (mut messages, mut partial) = (Vec::new(), Vec::new());
    while let Some((frame, tail)) = WsFrame::parse(rest) {
        rest = tail;
        if !matches!(frame.opcode, 0 | 2) {
            continue;
        }
        partial.extend(frame.payload);
        if frame.fin {
            messages.push(std::mem::take(&mut partial));
        }
    }
    messages
}

/// One WebSocket frame (RFC 6455, section 5.2), unmasked.
struct WsFrame {
    fin: bool,
    opcode: u8,
    payload: Vec<u8>,
}

impl WsFrame {
    fn parse(bytes: &[u8]) -> Option<(WsFrame, &[u8])> {
        let [first, second, rest @ ..] = bytes else {
            return None;
        };
        let (len, rest) = match second & 0x7f {
            126 => {
                let (len, rest) = rest.split_first_chunk::<2>()?;
                (u64::from(u16::from_be_bytes(*len)), rest)
            }
            127 => {
                let (len, rest) = rest.split_first_chunk::<8>()?;
                (u64::from_be_bytes(*len), rest)
            }
            short => (u64::from(short), rest),
        };
        let (mask, rest) = match second & 0x80 {
            0 => ([0; 4], rest),
            _ => rest.split_first_chunk::<4>().map(|(m, r)| (*m, r))?,
        };
        let len = usize::try_from(len).ok().filter(|&len| len <= rest.len())?;
        let (payload, rest) = rest.split_at(len);
        let payload = payload
            .iter()
            .zip(mask.iter().cycle())
            .map(|(byte, key)| byte ^ key)
            .collect();
        let frame = WsFrame {
            fin: first & 0x80 != 0,
            opcode: first & 0x0f,
            payload,
        };
        Some((frame, rest))
    }
}

/// The counters of the bridge at `addr` about what it received.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Received {
    /// WebSocket messages received.
    pub(crate) messages: u64,
    /// Sequenced frames (`Data`, `End`, ...) they carried.
    pub(crate) frames: u64,
    /// Bytes of those messages.
    pub(crate) bytes: u64,
}

impl Received {
    /// Adds the counters of another run.
    pub(crate) fn add(self, other: Received) -> Received {
        Received {
            messages: self.messages + other.messages,
            frames: self.frames + other.frames,
            bytes: self.bytes + other.bytes,
        }
    }
}

/// Reads `GET /metrics` of the bridge at `addr` (plain HTTP/1.1, one request).
pub(crate) async fn received(addr: &str) -> Option<Received> {
    let mut tcp = TcpStream::connect(addr).await.ok()?;
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.ok()?;
    let mut text = String::new();
    tcp.read_to_string(&mut text).await.ok()?;
    let counter = |name: &str| {
        let name = format!("reflow_bridge_{name} ");
        let line = text.lines().find(|line| line.starts_with(&name))?;
        line[name.len()..].trim().parse().ok()
    };
    Some(Received {
        messages: counter("frames_in_total")?,
        frames: counter("messages_in_total")?,
        bytes: counter("bytes_in_total")?,
    })
}
