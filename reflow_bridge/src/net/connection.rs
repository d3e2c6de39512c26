//! One task per link owns its socket: a writer that drains a bounded outbox in batches (one
//! WebSocket message per batch) and a reader that hands decoded frames to the hub. Others
//! reach the link through a cloneable [`LinkHandle`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};

use super::wire::{Wire, WireSink, WireStream};
use crate::error::BridgeError;
use crate::hub::{Hub, Route};
use crate::metrics::FrameRejection;
use crate::protocol::{self, close, DecodeError, Frame};
use crate::session::Peer;

/// Identifies a link for the lifetime of the process.
pub(crate) type LinkId = u64;

/// Most frames written in one WebSocket message.
const BATCH: usize = 256;

/// Most frames accepted in one WebSocket message.
const MAX_FRAMES_IN: usize = 4096;

/// Counters of one link.
#[derive(Debug, Default)]
pub(crate) struct LinkStats {
    pub(crate) messages_in: AtomicU64,
    pub(crate) messages_out: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    /// Round trip of the last heartbeat, in microseconds (0 before the first).
    pub(crate) latency_us: AtomicU64,
    /// When the peer was last heard from (any message), in the hub's microseconds.
    pub(crate) last_seen_us: AtomicU64,
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
    /// The peer was silent for longer than the heartbeat budget (that long, in ms).
    Silent(u64),
}

impl Exit {
    /// A short description for logs and events.
    pub(crate) fn describe(&self) -> String {
        match self {
            Exit::Closed(code, reason) => format!("closed by us ({code}): {reason}"),
            Exit::PeerClosed(code, reason) => format!("closed by the peer ({code}): {reason}"),
            Exit::Dropped(reason) => format!("connection lost: {reason}"),
            Exit::Rejected(code, reason) => format!("rejected peer input ({code}): {reason}"),
            Exit::Silent(ms) => format!("peer silent for {ms} ms: declared down"),
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
        stats: Arc::new(LinkStats {
            last_seen_us: AtomicU64::new(hub.now_us()),
            ..LinkStats::default()
        }),
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
        let mut guard = Closing {
            hub,
            link,
            exit: Some(Exit::Dropped("the link task ended unexpectedly".into())),
        };
        let exit = run(sink, stream, rx, close_rx, &guard.link, &guard.hub).await;
        guard.exit = Some(exit);
    });
    Some(handle)
}

/// Tells the hub that a link ended, however its task ended (even by a panic), so that no
/// dead link stays listed.
struct Closing {
    hub: Arc<Hub>,
    link: LinkHandle,
    exit: Option<Exit>,
}

impl Drop for Closing {
    fn drop(&mut self) {
        if let Some(exit) = self.exit.take() {
            self.hub.link_closed(&self.link, exit);
        }
    }
}

async fn run(
    mut sink: WireSink,
    mut stream: WireStream,
    mut outbox: mpsc::Receiver<Frame>,
    mut close: watch::Receiver<Option<(u16, String)>>,
    link: &LinkHandle,
    hub: &Arc<Hub>,
) -> Exit {
    let (exit, sink_failed) = {
        let writer = write_loop(&mut sink, &mut outbox, &mut close, link, hub);
        let reader = read_loop(&mut stream, link, hub);
        tokio::select! {
            exit = writer => {
                // The writer only drops the link when the socket refused a write; a sink
                // that failed must not be polled again.
                let failed = matches!(exit, Exit::Dropped(_));
                (exit, failed)
            }
            exit = reader => (exit, false),
        }
    };
    if sink_failed {
        return exit;
    }
    if let Exit::Silent(ms) = &exit {
        let _ = sink
            .send(Wire::Close(
                close::GOING_AWAY,
                format!("silent for {ms} ms"),
            ))
            .await;
        return exit;
    }
    if let Exit::Closed(code, reason) | Exit::Rejected(code, reason) = &exit {
        if sink.send(Wire::Close(*code, reason.clone())).await.is_err() {
            return exit;
        }
    }
    let _ = sink.close().await;
    exit
}

async fn write_loop(
    sink: &mut WireSink,
    outbox: &mut mpsc::Receiver<Frame>,
    close: &mut watch::Receiver<Option<(u16, String)>>,
    link: &LinkHandle,
    hub: &Hub,
) -> Exit {
    let mut out = Outgoing::default();
    let mut beats = Heartbeats::new(hub);
    loop {
        let n = tokio::select! {
            biased;
            _ = beats.tick() => {
                if let Some(silent_ms) = beats.silence(hub, link) {
                    return Exit::Silent(silent_ms);
                }
                out.frames.push(Frame::Heartbeat { id: hub.now_us() });
                if let Err(exit) = write_batch(sink, &mut out, link, hub).await {
                    return exit;
                }
                continue;
            }
            n = outbox.recv_many(&mut out.frames, BATCH) => n,
            _ = close.changed() => {
                let (code, reason) = close.borrow().clone().unwrap_or((close::GOING_AWAY, String::new()));
                // Write what is already queued, then close.
                while let Ok(frame) = outbox.try_recv() {
                    out.frames.push(frame);
                }
                if let Err(exit) = write_batch(sink, &mut out, link, hub).await {
                    return exit;
                }
                return Exit::Closed(code, reason);
            }
        };
        if n == 0 {
            return Exit::Closed(close::GOING_AWAY, "going away".to_string());
        }
        if let Err(exit) = write_batch(sink, &mut out, link, hub).await {
            return exit;
        }
    }
}

async fn write_batch(
    sink: &mut WireSink,
    out: &mut Outgoing,
    link: &LinkHandle,
    hub: &Hub,
) -> Result<(), Exit> {
    if out.frames.is_empty() {
        return Ok(());
    }
    let mut data = 0;
    for frame in out.frames.iter_mut() {
        if let Some(slot) = seq_slot(frame) {
            out.seq += 1;
            *slot = out.seq;
            data += 1;
        }
    }
    encode_dropping_bad(&mut out.frames, &mut out.bytes);
    out.frames.clear();
    let len = out.bytes.len();
    link.stats.messages_out.fetch_add(data, Ordering::Relaxed);
    link.stats
        .bytes_out
        .fetch_add(len as u64, Ordering::Relaxed);
    hub.metrics
        .frame_out(len, usize::try_from(data).unwrap_or(usize::MAX));
    // The socket takes the message; the next batch starts a buffer of the same size.
    let message = std::mem::replace(&mut out.bytes, Vec::with_capacity(len));
    sink.send(Wire::Binary(message))
        .await
        .map_err(Exit::Dropped)
}

/// The heartbeat schedule of a link, and its failure detector: a peer silent (nothing read)
/// for `heartbeat_misses` intervals is declared down. A silent partition raises no TCP error
/// for a long time, so this is the detector that matters.
struct Heartbeats {
    ticks: tokio::time::Interval,
    budget_us: u64,
}

impl Heartbeats {
    fn new(hub: &Hub) -> Self {
        let every = std::time::Duration::from_millis(hub.config.heartbeat_interval_ms.max(1));
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let budget = every * hub.config.heartbeat_misses.max(1);
        Heartbeats {
            ticks,
            budget_us: u64::try_from(budget.as_micros()).unwrap_or(u64::MAX),
        }
    }

    async fn tick(&mut self) {
        self.ticks.tick().await;
    }

    /// How long the peer has been silent, in ms, once that exceeds the budget.
    fn silence(&self, hub: &Hub, link: &LinkHandle) -> Option<u64> {
        let last = link.stats.last_seen_us.load(Ordering::Relaxed);
        let silent = hub.now_us().saturating_sub(last);
        (silent > self.budget_us).then_some(silent / 1000)
    }
}

/// The writer's state: the batch being built, its encoding, the last sequence number.
#[derive(Default)]
struct Outgoing {
    frames: Vec<Frame>,
    bytes: Vec<u8>,
    seq: u64,
}

/// Encodes the batch; a frame that cannot be encoded (a payload nested too deep) is dropped
/// with an error log rather than losing the whole batch.
fn encode_dropping_bad(buf: &mut Vec<Frame>, bytes: &mut Vec<u8>) {
    loop {
        match protocol::encode_into(buf, bytes) {
            Ok(()) => return,
            Err(protocol::EncodeError::TooDeep { frame }) if frame < buf.len() => {
                let dropped = buf.remove(frame);
                tracing::error!(
                    kind = dropped.kind(),
                    "dropped a frame whose payload nests too deep to send"
                );
            }
            Err(err) => {
                tracing::error!("cannot encode a batch of {} frames: {err}", buf.len());
                return;
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
        Frame::ReplyError { seq, .. } => Some(seq),
        _ => None,
    }
}

async fn read_loop(stream: &mut WireStream, link: &LinkHandle, hub: &Arc<Hub>) -> Exit {
    let max = hub.max_message_bytes();
    let mut expected = 1u64;
    while let Some(item) = stream.next().await {
        link.stats
            .last_seen_us
            .store(hub.now_us(), Ordering::Relaxed);
        let bytes = match item {
            Ok(Wire::Binary(bytes)) => bytes,
            Ok(Wire::Close(code, reason)) => return Exit::PeerClosed(code, reason),
            Ok(Wire::Other) => continue,
            Ok(Wire::Text) => {
                hub.metrics.frame_rejected(FrameRejection::Malformed);
                let reason = "text messages are not part of the protocol".to_string();
                return Exit::Rejected(close::UNSUPPORTED_DATA, reason);
            }
            Err(err) => return classify_read_error(err, hub),
        };
        if bytes.len() > max {
            hub.metrics.frame_rejected(FrameRejection::Oversized);
            return Exit::Rejected(
                close::TOO_BIG,
                format!("message of {} bytes exceeds {max}", bytes.len()),
            );
        }
        link.stats
            .bytes_in
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let frames = match protocol::decode_limited(&bytes, MAX_FRAMES_IN) {
            Ok(frames) => frames,
            Err(err) => return rejected(hub, &err),
        };
        let data = frames.iter().filter(|f| f.seq().is_some()).count();
        hub.metrics.frame_in(bytes.len(), data);
        let mut route = Route::default();
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
            if let Err(exit) = hub.on_frame(link, frame, &mut route).await {
                return exit;
            }
        }
    }
    Exit::Dropped("the connection ended without a close".to_string())
}

fn rejected(hub: &Hub, err: &DecodeError) -> Exit {
    let reason = match err {
        DecodeError::UnknownKind { .. } => FrameRejection::UnknownKind,
        _ => FrameRejection::Malformed,
    };
    hub.metrics.frame_rejected(reason);
    Exit::Rejected(err.close_code(), format!("rejected message: {err}"))
}

/// tungstenite reports an over-limit message as a read error ("too long") and sends no
/// Close, so we answer 1009 ourselves.
fn classify_read_error(err: String, hub: &Hub) -> Exit {
    if err.contains("too long") || err.contains("Space limit exceeded") {
        hub.metrics.frame_rejected(FrameRejection::Oversized);
        return Exit::Rejected(close::TOO_BIG, err);
    }
    Exit::Dropped(err)
}

#[cfg(test)]
mod tests;
