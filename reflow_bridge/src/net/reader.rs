//! The read half of a connection: checks and decodes each message, queues sequenced frames
//! for the delivery task (dropping those already received, which a resumed connection may
//! send again), and handles control frames at once. It never awaits anything but the socket,
//! so heartbeats keep flowing whatever the local actors do.

use std::sync::atomic::Ordering;

use futures::StreamExt;
use tokio::sync::mpsc::{self, error::TrySendError};

use super::exit::Exit;
use super::handle::LinkHandle;
use super::parts;
use super::state::ACK_DELAY;
use super::wire::{Wire, WireStream};
use crate::error::TransportError;
use crate::hub::{Hub, Route};
use crate::metrics::FrameRejection;
use crate::protocol::{self, close, DecodeError, Frame};

/// Most frames accepted in one WebSocket message.
const MAX_FRAMES_IN: usize = 4096;

/// Reads until the connection ends; returns why.
pub(crate) async fn run(
    stream: &mut WireStream,
    inbound: &mpsc::Sender<Frame>,
    link: &LinkHandle,
    hub: &Hub,
) -> Exit {
    while let Some(item) = next_message(stream, link).await {
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
        if let Err(exit) = on_message(&bytes, inbound, link, hub) {
            return exit;
        }
    }
    Exit::Dropped("the connection ended without a close".to_string())
}

/// The next message from the socket. While deliveries are unacknowledged, wakes the
/// writer to acknowledge them if no message arrives within `ACK_DELAY` (an outgoing
/// message usually carries the acknowledgement first).
async fn next_message(
    stream: &mut WireStream,
    link: &LinkHandle,
) -> Option<Result<Wire, TransportError>> {
    loop {
        if link.state.unacknowledged() == 0 {
            return stream.next().await;
        }
        match tokio::time::timeout(ACK_DELAY, stream.next()).await {
            Ok(item) => return item,
            Err(_) => link.state.wake_writer(),
        }
    }
}

fn on_message(
    bytes: &[u8],
    inbound: &mpsc::Sender<Frame>,
    link: &LinkHandle,
    hub: &Hub,
) -> Result<(), Exit> {
    let max = hub.max_message_bytes();
    if bytes.len() > max {
        hub.metrics.frame_rejected(FrameRejection::Oversized);
        let reason = format!("message of {} bytes exceeds {max}", bytes.len());
        return Err(Exit::Rejected(close::TOO_BIG, reason));
    }
    link.stats
        .bytes_in
        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    let frames = protocol::decode_limited(bytes, MAX_FRAMES_IN).map_err(|e| rejected(hub, &e))?;
    let data = frames.iter().filter(|f| f.seq().is_some()).count();
    hub.metrics.frame_in(bytes.len(), data);
    let mut route = Route::default();
    for frame in frames {
        match frame.seq() {
            Some(seq) => on_sequenced(seq, frame, inbound, link, hub, &mut route)?,
            None => on_control(frame, link, hub)?,
        }
    }
    Ok(())
}

/// Delivers the next sequenced frame at once when nothing is queued before it and its
/// target has room, else queues it for the delivery task; drops a frame already received;
/// a gap is a protocol error.
fn on_sequenced(
    seq: u64,
    frame: Frame,
    inbound: &mpsc::Sender<Frame>,
    link: &LinkHandle,
    hub: &Hub,
    route: &mut Route,
) -> Result<(), Exit> {
    let received = link.state.received();
    if seq <= received {
        hub.metrics.duplicates_dropped.inc();
        return Ok(());
    }
    if seq != received + 1 {
        hub.metrics.frame_rejected(FrameRejection::OutOfOrder);
        let reason = format!("frame {seq} arrived, {} expected", received + 1);
        return Err(Exit::Rejected(close::PROTOCOL_ERROR, reason));
    }
    let frame = match frame {
        Frame::Part { last, bytes, .. } => {
            let max = hub.config.max_message_size;
            match parts::join(&mut link.state.partial(), seq, &bytes, last, max)? {
                Some(joined) => joined,
                None => return part_received(seq, inbound, link, hub),
            }
        }
        other => other,
    };
    let state = &link.state;
    let frame = if state.has_queued() {
        frame
    } else {
        match hub.try_on_frame(link, frame, route) {
            None => {
                link.stats.messages_in.fetch_add(1, Ordering::Relaxed);
                delivered_now(seq, link, hub);
                return Ok(());
            }
            Some(frame) => frame,
        }
    };
    queue(frame, seq, inbound, link, hub)
}

/// Queues a frame for the delivery task.
fn queue(
    frame: Frame,
    seq: u64,
    inbound: &mpsc::Sender<Frame>,
    link: &LinkHandle,
    hub: &Hub,
) -> Result<(), Exit> {
    let state = &link.state;
    state.enqueue();
    match inbound.try_send(frame) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            state.unqueue();
            hub.metrics.frame_rejected(FrameRejection::WindowExceeded);
            let reason = "the peer sent more than the receive window".to_string();
            return Err(Exit::Rejected(close::POLICY_VIOLATION, reason));
        }
        Err(TrySendError::Closed(_)) => {
            state.unqueue();
            return Err(Exit::Closed(close::GOING_AWAY, "link closed".into()));
        }
    }
    state.queued_as(seq);
    link.stats.messages_in.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Records frame `seq` as delivered at once; wakes the writer when an acknowledgement is due.
fn delivered_now(seq: u64, link: &LinkHandle, hub: &Hub) {
    if link.state.delivered_now(seq, hub.ack_threshold()) {
        link.state.wake_writer();
    }
}

/// A part that does not complete its frame is taken as soon as it arrives (the link keeps
/// it): delivered now when nothing is queued, else when the frames before it are.
fn part_received(
    seq: u64,
    inbound: &mpsc::Sender<Frame>,
    link: &LinkHandle,
    hub: &Hub,
) -> Result<(), Exit> {
    if !link.state.has_queued() {
        delivered_now(seq, link, hub);
        return Ok(());
    }
    let marker = Frame::Part {
        seq,
        last: false,
        bytes: Vec::new(),
    };
    queue(marker, seq, inbound, link, hub)
}

fn on_control(frame: Frame, link: &LinkHandle, hub: &Hub) -> Result<(), Exit> {
    match frame {
        Frame::Ack { seq } => {
            // The writer applies it at its next step; it is woken only when it waits for
            // room. Waking it for every `Ack` made it send an `Ack` of its own at once, one
            // more write per round trip, where the next data would have carried it.
            link.state.peer_acked(seq);
        }
        Frame::Heartbeat { id } => {
            link.state.answer_heartbeat(id);
        }
        Frame::HeartbeatAck { id } => {
            let rtt = hub.now_us().saturating_sub(id);
            link.stats.latency_us.store(rtt, Ordering::Relaxed);
        }
        Frame::Exports { actors, started } => hub.set_peer_exports(link, actors, started),
        Frame::Credit {
            origin,
            reply,
            consumed,
        } => hub.on_credit(link.id, origin, reply, consumed),
        Frame::Bye { reason } => return Err(Exit::PeerClosed(close::GOING_AWAY, reason)),
        other => {
            hub.metrics.frame_rejected(FrameRejection::Unexpected);
            let reason = format!("unexpected {} after the handshake", other.kind());
            return Err(Exit::Rejected(close::PROTOCOL_ERROR, reason));
        }
    }
    Ok(())
}

fn rejected(hub: &Hub, err: &DecodeError) -> Exit {
    let reason = match err {
        DecodeError::UnknownKind { .. } => FrameRejection::UnknownKind,
        _ => FrameRejection::Malformed,
    };
    hub.metrics.frame_rejected(reason);
    Exit::Rejected(err.close_code(), format!("rejected message: {err}"))
}

/// tungstenite reports an over-limit message as a read error and sends no Close, so we
/// answer 1009 ourselves.
fn classify_read_error(err: TransportError, hub: &Hub) -> Exit {
    if let TransportError::TooLong(why) = err {
        hub.metrics.frame_rejected(FrameRejection::Oversized);
        return Exit::Rejected(close::TOO_BIG, format!("message too long: {why}"));
    }
    Exit::Dropped(err.to_string())
}
