//! One task per link owns its socket: a writer that drains a bounded outbox in batches (one
//! WebSocket message per batch) and a reader that hands decoded frames to the hub. Others
//! reach the link through a cloneable [`LinkHandle`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};

use super::wire::{Wire, WireSink, WireStream};
use crate::error::BridgeError;
use crate::hub::Hub;
use crate::metrics::FrameRejection;
use crate::protocol::{self, Frame};
use crate::session::Peer;

/// Identifies a link for the lifetime of the process.
pub(crate) type LinkId = u64;

/// Most frames written in one WebSocket message.
const BATCH: usize = 256;

/// Counters of one link.
#[derive(Debug, Default)]
pub(crate) struct LinkStats {
    pub(crate) messages_in: AtomicU64,
    pub(crate) messages_out: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    /// Round trip of the last heartbeat, in microseconds (0 before the first).
    pub(crate) latency_us: AtomicU64,
}

/// A cloneable way to send on a link and to close it.
#[derive(Debug, Clone)]
pub(crate) struct LinkHandle {
    pub(crate) id: LinkId,
    pub(crate) peer: Arc<Peer>,
    pub(crate) stats: Arc<LinkStats>,
    outbox: mpsc::Sender<Frame>,
    close: Arc<watch::Sender<Option<(u16, String)>>>,
}

impl LinkHandle {
    /// Queues a frame; waits while the outbox is full (backpressure).
    pub(crate) async fn send(&self, frame: Frame) -> Result<(), BridgeError> {
        self.outbox
            .send(frame)
            .await
            .map_err(|_| BridgeError::LinkClosed(self.peer.identity.network_id.clone()))
    }

    /// Frames queued and not yet written.
    pub(crate) fn queue_depth(&self) -> usize {
        self.outbox.max_capacity() - self.outbox.capacity()
    }

    /// Asks the link to write what is queued, send a Close with `code`, and end.
    pub(crate) fn close(&self, code: u16, reason: &str) {
        let _ = self.close.send(Some((code, reason.to_string())));
    }

    /// Whether the link's task has ended.
    pub(crate) fn is_closed(&self) -> bool {
        self.outbox.is_closed()
    }
}

/// Why a link ended, and the close code it sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Exit {
    /// We closed it on purpose.
    Closed(u16, String),
    /// The peer sent a Close.
    PeerClosed(u16, String),
    /// The socket failed or ended without a Close.
    Dropped(String),
    /// The peer sent something we cannot accept (close code, reason).
    Rejected(u16, String),
}

impl Exit {
    /// A short description for logs and events.
    pub(crate) fn describe(&self) -> String {
        match self {
            Exit::Closed(code, reason) => format!("closed by us ({code}): {reason}"),
            Exit::PeerClosed(code, reason) => format!("closed by the peer ({code}): {reason}"),
            Exit::Dropped(reason) => format!("connection lost: {reason}"),
            Exit::Rejected(code, reason) => format!("rejected peer input ({code}): {reason}"),
        }
    }
}

/// Starts the task of an authenticated link, once `register` has recorded it (so that no
/// frame is read before the hub knows the link). When `register` refuses the link (a
/// duplicate), it is closed with 1000 instead.
pub(crate) fn spawn(
    mut sink: WireSink,
    stream: WireStream,
    peer: Peer,
    hub: Arc<Hub>,
    outbox_capacity: usize,
    register: impl FnOnce(&LinkHandle) -> bool,
) -> Option<LinkHandle> {
    let (tx, rx) = mpsc::channel(outbox_capacity);
    let (close_tx, close_rx) = watch::channel(None);
    let handle = LinkHandle {
        id: hub.next_link_id(),
        peer: Arc::new(peer),
        stats: Arc::default(),
        outbox: tx,
        close: Arc::new(close_tx),
    };
    if !register(&handle) {
        tokio::spawn(async move {
            let _ = sink.send(Wire::Close(1000, "duplicate link".into())).await;
        });
        return None;
    }
    let link = handle.clone();
    tokio::spawn(async move {
        let exit = run(sink, stream, rx, close_rx, &link, &hub).await;
        hub.link_closed(&link, exit);
    });
    Some(handle)
}

async fn run(
    mut sink: WireSink,
    mut stream: WireStream,
    mut outbox: mpsc::Receiver<Frame>,
    mut close: watch::Receiver<Option<(u16, String)>>,
    link: &LinkHandle,
    hub: &Arc<Hub>,
) -> Exit {
    let exit = {
        let writer = write_loop(&mut sink, &mut outbox, &mut close, link);
        let reader = read_loop(&mut stream, link, hub);
        tokio::select! {
            exit = writer => exit,
            exit = reader => exit,
        }
    };
    if let Exit::Closed(code, reason) | Exit::Rejected(code, reason) = &exit {
        let _ = sink.send(Wire::Close(*code, reason.clone())).await;
    }
    let _ = sink.close().await;
    exit
}

async fn write_loop(
    sink: &mut WireSink,
    outbox: &mut mpsc::Receiver<Frame>,
    close: &mut watch::Receiver<Option<(u16, String)>>,
    link: &LinkHandle,
) -> Exit {
    let mut buf = Vec::with_capacity(BATCH);
    let mut seq = 0u64;
    loop {
        let n = tokio::select! {
            biased;
            n = outbox.recv_many(&mut buf, BATCH) => n,
            _ = close.changed() => {
                let (code, reason) = close.borrow().clone().unwrap_or((1001, String::new()));
                // Write what is already queued, then close.
                while let Ok(frame) = outbox.try_recv() {
                    buf.push(frame);
                }
                if let Err(exit) = write_batch(sink, &mut buf, &mut seq, link).await {
                    return exit;
                }
                return Exit::Closed(code, reason);
            }
        };
        if n == 0 {
            return Exit::Closed(1001, "going away".to_string());
        }
        if let Err(exit) = write_batch(sink, &mut buf, &mut seq, link).await {
            return exit;
        }
    }
}

async fn write_batch(
    sink: &mut WireSink,
    buf: &mut Vec<Frame>,
    seq: &mut u64,
    link: &LinkHandle,
) -> Result<(), Exit> {
    if buf.is_empty() {
        return Ok(());
    }
    let mut data = 0;
    for frame in buf.iter_mut() {
        if let Some(slot) = seq_slot(frame) {
            *seq += 1;
            *slot = *seq;
            data += 1;
        }
    }
    let bytes = encode_dropping_bad(buf);
    buf.clear();
    link.stats.messages_out.fetch_add(data, Ordering::Relaxed);
    link.stats
        .bytes_out
        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    sink.send(Wire::Binary(bytes)).await.map_err(Exit::Dropped)
}

/// Encodes the batch; a frame that cannot be encoded (a payload nested too deep) is dropped
/// with an error log rather than losing the whole batch.
fn encode_dropping_bad(buf: &mut Vec<Frame>) -> Vec<u8> {
    loop {
        match protocol::encode(buf) {
            Ok(bytes) => return bytes,
            Err(protocol::EncodeError::TooDeep { frame }) if frame < buf.len() => {
                let dropped = buf.remove(frame);
                tracing::error!(
                    kind = dropped.kind(),
                    "dropped a frame whose payload nests too deep to send"
                );
            }
            Err(err) => {
                tracing::error!("cannot encode a batch of {} frames: {err}", buf.len());
                return Vec::new();
            }
        }
    }
}

fn seq_slot(frame: &mut Frame) -> Option<&mut u64> {
    match frame {
        Frame::Data { seq, .. }
        | Frame::End { seq, .. }
        | Frame::Reply { seq, .. }
        | Frame::ReplyEnd { seq, .. } => Some(seq),
        _ => None,
    }
}

async fn read_loop(stream: &mut WireStream, link: &LinkHandle, hub: &Arc<Hub>) -> Exit {
    let max = hub.max_message_bytes();
    let mut expected = 1u64;
    while let Some(item) = stream.next().await {
        let bytes = match item {
            Ok(Wire::Binary(bytes)) => bytes,
            Ok(Wire::Close(code, reason)) => return Exit::PeerClosed(code, reason),
            Ok(Wire::Other) => continue,
            Err(err) => return classify_read_error(err, hub),
        };
        if bytes.len() > max {
            hub.metrics.frame_rejected(FrameRejection::Oversized);
            return Exit::Rejected(
                1009,
                format!("message of {} bytes exceeds {max}", bytes.len()),
            );
        }
        link.stats
            .bytes_in
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let frames = match protocol::decode(&bytes) {
            Ok(frames) => frames,
            Err(err) => {
                hub.metrics.frame_rejected(FrameRejection::Malformed);
                return Exit::Rejected(1007, format!("malformed message: {err}"));
            }
        };
        for frame in frames {
            if let Some(seq) = frame.seq() {
                if seq != expected {
                    hub.metrics.frame_rejected(FrameRejection::OutOfOrder);
                    return Exit::Rejected(
                        1002,
                        format!("frame {seq} arrived, {expected} expected"),
                    );
                }
                expected += 1;
                link.stats.messages_in.fetch_add(1, Ordering::Relaxed);
            }
            if let Err(exit) = hub.on_frame(link, frame).await {
                return exit;
            }
        }
    }
    Exit::Dropped("the connection ended without a close".to_string())
}

fn classify_read_error(err: String, hub: &Hub) -> Exit {
    if err.contains("too long") || err.contains("Space limit exceeded") || err.contains("capacity")
    {
        hub.metrics.frame_rejected(FrameRejection::Oversized);
        return Exit::Rejected(1009, err);
    }
    Exit::Dropped(err)
}
