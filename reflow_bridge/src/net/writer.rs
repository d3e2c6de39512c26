//! The write half of a connection. It first announces our exports and replays what the peer
//! has not received, then drains the outbox in batches while the credit window has room,
//! numbering sequenced frames and keeping them for replay until acknowledged. It sends the
//! heartbeats, answers the peer's, and acknowledges what was delivered: piggybacked on data
//! when there is some, otherwise when the delivery task says one is due (after a short
//! delay, or at once when a quarter window waits).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::SinkExt;
use tokio::time::Instant;

use super::exit::{Ended, Exit};
use super::handle::{Connection, LinkHandle, Outbound};
use super::parts::{self, Refusal};
use super::wire::{Wire, WireSink};
use crate::hub::Hub;
use crate::protocol::{self, close, EncodeError, Frame};

/// Most frames taken from the outbox for one message.
const BATCH: usize = 256;

/// What woke the writer.
enum Step {
    Beat,
    Wake,
    Frames(usize),
    Attach(Option<Box<Connection>>),
    Close,
    CloseDeadline,
}

/// Writes until the connection ends or is replaced.
pub(crate) async fn run(
    sink: &mut WireSink,
    out: &mut Outbound,
    greeting: Option<Frame>,
    peer_received: u64,
    link: &LinkHandle,
    hub: &Hub,
) -> Ended {
    let mut w = Writer::new(sink, link, hub);
    match w.drive(out, greeting, peer_received).await {
        Ok(ended) | Err(ended) => ended,
    }
}

struct Writer<'a> {
    sink: &'a mut WireSink,
    link: &'a LinkHandle,
    hub: &'a Hub,
    frames: Vec<Frame>,
    bytes: Vec<u8>,
    /// The largest WebSocket message the peer accepts.
    limit: usize,
    /// The largest message (one frame, split into parts if need be) either side accepts.
    payload_limit: usize,
    closing: Option<(u16, String, Instant)>,
}

impl<'a> Writer<'a> {
    fn new(sink: &'a mut WireSink, link: &'a LinkHandle, hub: &'a Hub) -> Self {
        let limits = &link.peer.limits;
        let peer_limit = usize::try_from(limits.max_message).unwrap_or(usize::MAX);
        let peer_payload = usize::try_from(limits.max_payload).unwrap_or(usize::MAX);
        Writer {
            sink,
            link,
            hub,
            frames: Vec::with_capacity(BATCH),
            bytes: Vec::new(),
            limit: peer_limit.min(hub.max_message_bytes()),
            payload_limit: peer_payload.min(hub.config.max_message_size),
            closing: None,
        }
    }

    async fn drive(
        &mut self,
        out: &mut Outbound,
        greeting: Option<Frame>,
        peer_received: u64,
    ) -> Result<Ended, Ended> {
        self.start(out, greeting, peer_received)
            .await
            .map_err(Ended::Exit)?;
        let mut beats = Heartbeats::new(self.hub);
        let mut gathered = false;
        loop {
            let room = self.room(out).map_err(Ended::Exit)?;
            // A stream is flowing (frames are waiting) but would not fill a batch: let the
            // producers run once first, so that a busy link writes fewer, fuller WebSocket
            // messages. Nothing is taken before the pause, so nothing is held if the
            // connection ends during it; a lone frame (a request awaiting its answer) goes
            // out at once.
            let queued = out.outbox.len();
            if !gathered && queued >= 2 && queued < room && out.pending.is_empty() {
                gathered = true;
                tokio::task::yield_now().await;
                continue;
            }
            gathered = false;
            if let Some((code, reason, _)) = &self.closing {
                if out.outbox.is_empty() && out.pending.is_empty() {
                    return Ok(Ended::Exit(Exit::Closed(*code, reason.clone())));
                }
            }
            if room > 0 && !out.pending.is_empty() {
                self.take_pending(out, room);
                self.write_batch(out).await.map_err(Ended::Exit)?;
                continue;
            }
            let close_at = self.closing.as_ref().map(|c| c.2);
            let link = self.link;
            let step = tokio::select! {
                biased;
                () = beats.tick() => Step::Beat,
                () = link.state.woken() => Step::Wake,
                n = out.outbox.recv_many(&mut self.frames, room), if room > 0 && out.pending.is_empty() => Step::Frames(n),
                c = out.attach.recv() => Step::Attach(c.map(Box::new)),
                _ = out.close.changed(), if close_at.is_none() => Step::Close,
                () = sleep_until(close_at), if close_at.is_some() => Step::CloseDeadline,
            };
            self.on_step(step, out, &beats).await?;
        }
    }

    async fn on_step(
        &mut self,
        step: Step,
        out: &mut Outbound,
        beats: &Heartbeats,
    ) -> Result<(), Ended> {
        match step {
            Step::Beat => {
                if let Some(ms) = beats.silence(self.hub, self.link) {
                    return Err(Ended::Exit(Exit::Silent(ms)));
                }
                let beat = Frame::Heartbeat {
                    id: self.hub.now_us().max(1),
                };
                self.write_control(vec![beat]).await.map_err(Ended::Exit)
            }
            Step::Wake => self.on_wake().await.map_err(Ended::Exit),
            Step::Frames(0) => Err(Ended::Exit(Exit::Closed(
                close::GOING_AWAY,
                "going away".into(),
            ))),
            Step::Frames(_) => self.write_batch(out).await.map_err(Ended::Exit),
            Step::Attach(Some(connection)) => Err(Ended::Replaced(*connection)),
            Step::Attach(None) => Err(Ended::Exit(Exit::Closed(
                close::NORMAL,
                "link dropped".into(),
            ))),
            Step::Close => self.begin_close(out).map_err(Ended::Exit),
            Step::CloseDeadline => {
                let (code, reason, _) = self.closing.take().unwrap_or((
                    close::GOING_AWAY,
                    String::new(),
                    Instant::now(),
                ));
                Err(Ended::Exit(Exit::Closed(code, reason)))
            }
        }
    }

    /// The link is asked to close: at once, or, when going away (shutdown), once the outbox
    /// is written, within the shutdown deadline.
    fn begin_close(&mut self, out: &Outbound) -> Result<(), Exit> {
        let (code, reason) = out
            .close
            .borrow()
            .clone()
            .unwrap_or((close::GOING_AWAY, String::new()));
        if code != close::GOING_AWAY {
            return Err(Exit::Closed(code, reason));
        }
        let deadline = Instant::now() + self.hub.config.shutdown_deadline;
        self.closing = Some((code, reason, deadline));
        Ok(())
    }

    /// Sends our `Resume` if the peer waits for it, announces our exports, then sends again
    /// what the peer has not received.
    async fn start(
        &mut self,
        out: &mut Outbound,
        greeting: Option<Frame>,
        peer_received: u64,
    ) -> Result<(), Exit> {
        if let Some(resume) = greeting {
            // Alone in its message: the peer reads it with the handshake's reader.
            self.encode(&[resume])?;
            self.send_bytes().await?;
        }
        if peer_received > out.replay.last() {
            let reason = format!(
                "the peer claims to have received {peer_received}, only {} was sent",
                out.replay.last()
            );
            return Err(Exit::Rejected(close::PROTOCOL_ERROR, reason));
        }
        // An acknowledgement sent on the last connection may have been lost with it: the
        // first message of this one acknowledges again what was delivered.
        self.link.state.forget_ack_sent();
        let exports = self.hub.exports_frame();
        // Credit granted on the last connection may have been lost with it.
        let grants = self.hub.credit_of(self.link.id).into_iter().map(credit);
        self.write_control(std::iter::once(exports).chain(grants).collect())
            .await?;
        for batch in out.replay.replay(peer_received) {
            self.encode(&batch)?;
            self.send_bytes().await?;
        }
        Ok(())
    }

    /// Applies the peer's latest acknowledgement to the replay buffer.
    fn take_acks(&mut self, out: &mut Outbound) -> Result<(), Exit> {
        let acked = self.link.state.acked_by_peer();
        out.replay
            .ack(acked)
            .map_err(|reason| Exit::Rejected(close::PROTOCOL_ERROR, reason))?;
        Ok(())
    }

    /// Applies the acknowledgements and returns the room left in the window. While there
    /// is none, `window_full` tells the reader to wake the writer at the next `Ack`: set
    /// before the acknowledgements are read, so that an `Ack` the reader stores meanwhile is
    /// either seen here or followed by a wake (both sides use `SeqCst`).
    fn room(&mut self, out: &mut Outbound) -> Result<usize, Exit> {
        let state = &self.link.state;
        state.wait_for_room();
        self.take_acks(out)?;
        let window = u64::from(self.hub.config.link_window.min(out.peer_window).max(1));
        let room = out
            .replay
            .room(window, self.hub.config.link_window_bytes, BATCH);
        if room > 0 {
            state.room_found();
        }
        Ok(room)
    }

    /// A heartbeat to answer or deliveries to acknowledge: the delivery task wakes the
    /// writer only when an acknowledgement is due, so it goes out now.
    async fn on_wake(&mut self) -> Result<(), Exit> {
        self.write_control(Vec::new()).await
    }

    /// Writes what the outbox gave: sequenced frames first (numbered, kept for replay),
    /// then any control frames (exports, bye) in a message of their own.
    async fn write_batch(&mut self, out: &mut Outbound) -> Result<(), Exit> {
        let (data, control): (Vec<Frame>, Vec<Frame>) = std::mem::take(&mut self.frames)
            .into_iter()
            .partition(|f| f.seq().is_some());
        if !data.is_empty() {
            self.write_data(out, data).await?;
        }
        if !control.is_empty() {
            self.write_control(control).await?;
        }
        Ok(())
    }

    /// Numbers, encodes, keeps and sends sequenced frames. Everything is numbered and kept
    /// for replay before the first byte is sent, so a connection that fails half-way loses
    /// nothing: the next one replays it.
    async fn write_data(&mut self, out: &mut Outbound, data: Vec<Frame>) -> Result<(), Exit> {
        let (extras, due) = self.extras();
        let messages = self.seal(out, data, extras);
        for (i, message) in messages.into_iter().enumerate() {
            self.bytes = message;
            self.send_bytes().await?;
            if i == 0 {
                self.commit_extras(due);
            }
        }
        Ok(())
    }

    /// Turns sequenced frames into messages no larger than the peer accepts, numbering them
    /// and keeping them for replay; `extras` ride on the first message. A frame too large
    /// for one message goes in parts, and the frames after it wait behind them (in the
    /// outbound `pending`); one that cannot be sent at all is refused or dropped, and said.
    fn seal(
        &mut self,
        out: &mut Outbound,
        data: Vec<Frame>,
        mut extras: Vec<Frame>,
    ) -> Vec<Vec<u8>> {
        let mut messages = Vec::new();
        let mut chunks = vec![data];
        while let Some(chunk) = chunks.pop() {
            match self.seal_chunk(out, chunk, &extras) {
                Sealed::Message(message) => {
                    messages.push(message);
                    extras.clear();
                }
                Sealed::Again(first, second) => {
                    chunks.extend(second);
                    chunks.push(first);
                }
                Sealed::Nothing => {}
                Sealed::Oversized(frame) => {
                    let mut held: VecDeque<Frame> = self.split(frame).into();
                    held.extend(chunks.drain(..).rev().flatten());
                    held.append(&mut out.pending);
                    out.pending = held;
                    break;
                }
            }
        }
        messages
    }

    /// Seals one chunk of frames into one message, or says what to do instead.
    fn seal_chunk(
        &mut self,
        out: &mut Outbound,
        mut chunk: Vec<Frame>,
        extras: &[Frame],
    ) -> Sealed {
        let base = out.replay.last();
        out.replay.number(&mut chunk);
        let count = chunk.len();
        chunk.extend(extras.iter().cloned());
        let encoded = self.encode(&chunk);
        chunk.truncate(count);
        let max = self.limit.min(self.payload_limit);
        if !matches!(encoded, Ok(None)) || self.bytes.len() > max {
            out.replay.rewind(base);
        }
        match encoded {
            Ok(None) => {}
            Ok(Some(bad)) => {
                self.drop_frame(&mut chunk, bad, "it cannot be encoded (nested too deep)");
                return Sealed::Again(chunk, None);
            }
            Err(exit) => {
                self.hub.metrics.messages_lost.add(count as u64);
                tracing::error!("dropped {count} frames: {}", exit.describe());
                return Sealed::Nothing;
            }
        }
        if self.bytes.len() > max {
            if count > 1 {
                let second = chunk.split_off(count / 2);
                return Sealed::Again(chunk, Some(second));
            }
            return chunk.pop().map_or(Sealed::Nothing, Sealed::Oversized);
        }
        let message = std::mem::take(&mut self.bytes);
        self.count_out(count as u64);
        out.replay.keep(chunk, message.len());
        self.link.state.sent(out.replay.last());
        Sealed::Message(message)
    }

    /// The parts of a frame too large for one message; nothing when it is over the maximum
    /// message size (its proxy hears of it, see [`parts::refuse`]) or cannot be encoded.
    fn split(&self, frame: Frame) -> Vec<Frame> {
        let (frame, whole) = match parts::encode_alone(frame) {
            Ok(encoded) => encoded,
            Err(err) => {
                self.hub.metrics.messages_lost.inc();
                tracing::error!("dropped a frame: {err}");
                return Vec::new();
            }
        };
        if whole.len() <= self.payload_limit {
            return parts::cut(&whole, self.limit);
        }
        match parts::refuse(frame, whole.len(), self.payload_limit) {
            Refusal::Send(frame) => vec![frame],
            Refusal::Local {
                origin,
                port,
                size,
                limit,
            } => {
                self.hub.refused_locally(origin, port, size, limit);
                Vec::new()
            }
            Refusal::Drop(kind) => {
                self.hub.metrics.messages_lost.inc();
                tracing::error!(
                    kind,
                    "dropped a frame of {} bytes: over the maximum message size {}",
                    whole.len(),
                    self.payload_limit
                );
                Vec::new()
            }
        }
    }

    /// Moves what waits behind a split frame into the batch: one part at a time (the window
    /// in bytes counts each), else the frames up to the next part, at most `room`.
    fn take_pending(&mut self, out: &mut Outbound, room: usize) {
        if matches!(out.pending.front(), Some(Frame::Part { .. })) {
            self.frames.extend(out.pending.pop_front());
            return;
        }
        let n = out
            .pending
            .iter()
            .take(room)
            .take_while(|f| !matches!(f, Frame::Part { .. }))
            .count();
        self.frames.extend(out.pending.drain(..n));
    }

    fn drop_frame(&self, chunk: &mut Vec<Frame>, index: usize, why: &str) {
        if index < chunk.len() {
            let dropped = chunk.remove(index);
            self.hub.metrics.messages_lost.inc();
            tracing::error!(kind = dropped.kind(), peer = %self.link.peer.identity.instance_id, "dropped a frame: {why}");
        }
    }

    /// Writes control frames (possibly none) with any acknowledgement or heartbeat answer
    /// that is due; writes nothing when there is nothing at all.
    async fn write_control(&mut self, control: Vec<Frame>) -> Result<(), Exit> {
        // The acknowledgement goes first: the peer stops reading at a `Bye`.
        let (mut frames, due) = self.extras();
        frames.extend(control);
        if frames.is_empty() {
            return Ok(());
        }
        if let Ok(Some(bad)) = self.encode(&frames) {
            frames.remove(bad);
            self.encode(&frames)?;
        }
        self.send_bytes().await?;
        self.commit_extras(due);
        Ok(())
    }

    /// The acknowledgement, heartbeat answer and session credit due now, as frames, and
    /// what they are.
    fn extras(&self) -> (Vec<Frame>, Due) {
        let state = &self.link.state;
        let due = Due {
            ack: state.ack_due(),
            pong: state.pong_due(),
        };
        let ack = due.ack.map(|seq| Frame::Ack { seq });
        let pong = due.pong.map(|id| Frame::HeartbeatAck { id });
        let grants = state.take_grants().into_iter().map(credit);
        (ack.into_iter().chain(pong).chain(grants).collect(), due)
    }

    /// Records that the extras of the last message were sent.
    fn commit_extras(&self, due: Due) {
        let state = &self.link.state;
        if let Some(seq) = due.ack {
            state.ack_sent(seq);
        }
        if let Some(id) = due.pong {
            state.pong_sent(id);
        }
    }

    /// Encodes `frames` into the message buffer. `Ok(Some(i))`: frame `i` cannot be
    /// encoded (too deep) and must be dropped first.
    fn encode(&mut self, frames: &[Frame]) -> Result<Option<usize>, Exit> {
        match protocol::encode_into(frames, &mut self.bytes) {
            Ok(()) => Ok(None),
            Err(EncodeError::TooDeep { frame }) if frame < frames.len() => Ok(Some(frame)),
            Err(err) => Err(Exit::Closed(
                close::INTERNAL_ERROR,
                format!("cannot encode a batch of {} frames: {err}", frames.len()),
            )),
        }
    }

    fn count_out(&self, data: u64) {
        self.hub.metrics.messages_out.add(data);
        self.link
            .stats
            .messages_out
            .fetch_add(data, Ordering::Relaxed);
    }

    /// Sends the encoded message within the write deadline.
    async fn send_bytes(&mut self) -> Result<(), Exit> {
        let len = self.bytes.len();
        self.link
            .stats
            .bytes_out
            .fetch_add(len as u64, Ordering::Relaxed);
        self.hub.metrics.frame_out(len, 0);
        // The socket takes the message; the next one starts a buffer of the same size.
        let message = std::mem::replace(&mut self.bytes, Vec::with_capacity(len));
        let deadline = self.hub.config.write_timeout;
        match tokio::time::timeout(deadline, self.sink.send(Wire::Binary(message))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(Exit::Dropped(err.to_string())),
            Err(_) => Err(Exit::Stalled(
                u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX),
            )),
        }
    }
}

/// What became of one chunk given to [`Writer::seal_chunk`].
enum Sealed {
    /// One message, numbered and kept for replay.
    Message(Vec<u8>),
    /// Seal these again: the chunk without a frame that was dropped, or cut in two halves.
    Again(Vec<Frame>, Option<Vec<Frame>>),
    /// Nothing to send.
    Nothing,
    /// One frame too large for a message: it goes in parts.
    Oversized(Frame),
}

/// The `Credit` frame of a grant.
fn credit((origin, reply, consumed): (u32, bool, u64)) -> Frame {
    Frame::Credit {
        origin,
        reply,
        consumed,
    }
}

/// The acknowledgement and heartbeat answer that ride on a message.
#[derive(Clone, Copy)]
struct Due {
    ack: Option<u64>,
    pong: Option<u64>,
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The heartbeat schedule of a connection, and its failure detector: a peer silent (nothing
/// read) for `heartbeat_misses` intervals is declared down. A silent partition raises no TCP
/// error for a long time, so this is the detector that matters.
struct Heartbeats {
    ticks: tokio::time::Interval,
    budget_us: u64,
}

impl Heartbeats {
    fn new(hub: &Hub) -> Self {
        let every = Duration::from_millis(hub.config.heartbeat_interval_ms.max(1));
        let mut ticks = tokio::time::interval_at(Instant::now() + every, every);
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
