//! The link task driven through channels instead of a socket: what it writes, what it
//! refuses, and the close codes it answers with.

use std::sync::Arc;

use futures::channel::mpsc as fmpsc;
use futures::{SinkExt, StreamExt};
use reflow_network::Message;

use super::*;
use crate::config::DistributedConfig;
use crate::error::TransportError;
use crate::metrics::FrameRejection;
use crate::net::handle::{Connection, LinkHandle};
use crate::net::Decision;
use crate::protocol;
use crate::session::{Identity, Limits, Peer};

struct Harness {
    link: LinkHandle,
    hub: Arc<Hub>,
    /// What the link wrote to its socket.
    written: fmpsc::UnboundedReceiver<Wire>,
    /// What the peer sends.
    peer: fmpsc::UnboundedSender<Result<Wire, TransportError>>,
}

/// A connection whose two ends are channels: what the link writes, what the peer sends.
fn channel_connection(
    peer_received: u64,
) -> (
    Connection,
    fmpsc::UnboundedReceiver<Wire>,
    fmpsc::UnboundedSender<Result<Wire, TransportError>>,
) {
    let (out_tx, written) = fmpsc::unbounded::<Wire>();
    let (peer, in_rx) = fmpsc::unbounded::<Result<Wire, TransportError>>();
    let connection = Connection {
        sink: Box::pin(out_tx.sink_map_err(|e| TransportError::Failed(e.to_string()))),
        stream: Box::pin(in_rx),
        dialed_by_us: false,
        address: "channel".into(),
        peer_received,
        peer_window: 16,
        greeting: None,
    };
    (connection, written, peer)
}

fn harness() -> Harness {
    let mut config = DistributedConfig::new("here");
    config.max_message_bytes = 4096;
    config.link_window = 16;
    config.resume_timeout = std::time::Duration::from_millis(200);
    let hub = Hub::new(
        Identity::new("here", "me", "1"),
        None,
        config,
        crate::net::Tls::default(),
    );
    let remote = Peer {
        identity: Identity::new("there", "them", "1"),
        limits: Limits {
            max_message: 4096,
            max_payload: 1 << 20,
        },
    };
    let (connection, written, peer) = channel_connection(0);
    let link = hub.settle(remote, Decision::Fresh(1), connection).unwrap();
    Harness {
        link,
        hub,
        written,
        peer,
    }
}

/// The frames of the next message the link writes, without `Exports` announcements.
async fn next_frames(written: &mut fmpsc::UnboundedReceiver<Wire>) -> Vec<Frame> {
    loop {
        match written.next().await.expect("the link wrote a message") {
            Wire::Binary(bytes) => {
                let mut frames = protocol::decode(&bytes).unwrap();
                frames.retain(|f| !matches!(f, Frame::Exports { .. }));
                if !frames.is_empty() {
                    return frames;
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// The sequence numbers in the next `count` sequenced frames written.
async fn next_seqs(written: &mut fmpsc::UnboundedReceiver<Wire>, count: usize) -> Vec<u64> {
    let mut seqs = Vec::new();
    while seqs.len() < count {
        seqs.extend(next_frames(written).await.iter().filter_map(Frame::seq));
    }
    seqs
}

fn data(seq: u64) -> Frame {
    Frame::Data {
        seq,
        actor: "nobody".into(),
        port: "in".into(),
        origin: 1,
        payload: Message::Integer(7),
        trace: None,
    }
}

fn envelope(frames: &[Frame]) -> Wire {
    Wire::Binary(protocol::encode(frames).unwrap())
}

/// Sends `wire` from the peer and returns the close the link answers with.
async fn close_after(h: &mut Harness, wire: Wire) -> (u16, String) {
    h.peer.unbounded_send(Ok(wire)).unwrap();
    loop {
        match h.written.next().await.expect("the link wrote a close") {
            Wire::Close(code, reason) => return (code, reason),
            _ => continue,
        }
    }
}

#[tokio::test]
async fn frames_are_written_in_batches_with_sequence_numbers() {
    let mut h = harness();
    h.link.send(data(0)).await.unwrap();
    h.link
        .send(Frame::Bye { reason: "x".into() })
        .await
        .unwrap();
    h.link.send(data(0)).await.unwrap();
    let mut frames = Vec::new();
    while frames.iter().filter(|f: &&Frame| f.seq().is_some()).count() < 2 {
        frames.extend(next_frames(&mut h.written).await);
    }
    let seqs: Vec<u64> = frames.iter().filter_map(Frame::seq).collect();
    assert_eq!(seqs, [1, 2]);
}

#[tokio::test]
async fn the_window_stops_the_writer_until_the_peer_acknowledges() {
    let mut h = harness();
    for _ in 0..40 {
        h.link.send(data(0)).await.unwrap();
    }
    assert_eq!(
        next_seqs(&mut h.written, 16).await,
        (1..=16).collect::<Vec<_>>()
    );
    assert_eq!(h.link.queue_depth(), 24, "the rest waits for credit");
    h.peer
        .unbounded_send(Ok(envelope(&[Frame::Ack { seq: 10 }])))
        .unwrap();
    assert_eq!(
        next_seqs(&mut h.written, 10).await,
        (17..=26).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_resumed_connection_replays_what_the_peer_did_not_receive() {
    let mut h = harness();
    let mut events = h.hub.events();
    for _ in 0..5 {
        h.link.send(data(0)).await.unwrap();
    }
    assert_eq!(next_seqs(&mut h.written, 5).await, [1, 2, 3, 4, 5]);
    h.peer
        .unbounded_send(Err(TransportError::Failed("reset".into())))
        .unwrap();
    loop {
        if let crate::events::BridgeEvent::PeerDown { .. } = events.recv().await.unwrap() {
            break;
        }
    }
    // The peer had received up to 2: 3..=5 come again, then the next frame is 6.
    let (connection, mut written, _peer) = channel_connection(2);
    h.link.attach(connection).unwrap();
    h.link.send(data(0)).await.unwrap();
    assert_eq!(next_seqs(&mut written, 4).await, [3, 4, 5, 6]);
    let resumed = loop {
        if let crate::events::BridgeEvent::LinkResumed { replayed, .. } =
            events.recv().await.unwrap()
        {
            break replayed;
        }
    };
    assert_eq!(resumed, 3);
    assert_eq!(h.hub.link_count(), 1);
}

#[tokio::test]
async fn frames_already_received_are_dropped_and_counted() {
    let mut h = harness();
    h.peer
        .unbounded_send(Ok(envelope(&[data(1), data(2), data(1), data(2), data(3)])))
        .unwrap();
    h.peer
        .unbounded_send(Ok(envelope(&[Frame::Heartbeat { id: 9 }])))
        .unwrap();
    // The answer to the heartbeat comes after the data was read.
    let frames = next_frames(&mut h.written).await;
    assert!(
        frames.contains(&Frame::HeartbeatAck { id: 9 }),
        "{frames:?}"
    );
    assert_eq!(h.hub.metrics.duplicates_dropped.get(), 2);
    assert_eq!(h.hub.metrics.rejected_frames(FrameRejection::OutOfOrder), 0);
}

#[tokio::test]
async fn sending_beyond_the_window_closes_with_1008() {
    let mut h = harness();
    // Replies to a proxy session that reads nothing: delivery stalls after the first.
    let (origin, _replies, _, _) = h.hub.open_session(&h.link, 1);
    let reply = |seq| Frame::Reply {
        seq,
        actor: "a".into(),
        port: "out".into(),
        origin,
        handled: 0,
        payload: Message::Integer(1),
    };
    let frames: Vec<Frame> = (1..=40).map(reply).collect();
    let (code, reason) = close_after(&mut h, envelope(&frames)).await;
    assert_eq!(code, 1008, "{reason}");
    assert_eq!(
        h.hub
            .metrics
            .rejected_frames(FrameRejection::WindowExceeded),
        1
    );
}

#[tokio::test]
async fn a_gap_in_sequence_numbers_closes_with_1002() {
    let mut h = harness();
    h.peer
        .unbounded_send(Ok(envelope(&[data(1), data(2)])))
        .unwrap();
    let (code, reason) = close_after(&mut h, envelope(&[data(4)])).await;
    assert_eq!(code, 1002, "{reason}");
    assert!(reason.contains("frame 4 arrived, 3 expected"), "{reason}");
    assert_eq!(h.hub.metrics.rejected_frames(FrameRejection::OutOfOrder), 1);
    // The two in order were delivered (to no export: counted as unknown targets).
    while h.hub.metrics.rejected_frames(FrameRejection::UnknownTarget) < 2 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn garbage_is_refused_as_malformed() {
    let mut h = harness();
    // Version 2, one frame, kind 0 (hello), then a truncated body.
    let (code, reason) = close_after(
        &mut h,
        Wire::Binary(vec![protocol::PROTOCOL_VERSION as u8, 1, 0, 0xff]),
    )
    .await;
    assert_eq!(code, 1007, "{reason}");
    assert_eq!(h.hub.metrics.rejected_frames(FrameRejection::Malformed), 1);
}

#[tokio::test]
async fn an_unknown_frame_kind_is_refused_and_counted() {
    let mut h = harness();
    let (code, reason) = close_after(
        &mut h,
        Wire::Binary(vec![protocol::PROTOCOL_VERSION as u8, 1, 99]),
    )
    .await;
    assert_eq!(code, 1002, "{reason}");
    assert_eq!(
        h.hub.metrics.rejected_frames(FrameRejection::UnknownKind),
        1
    );
}

#[tokio::test]
async fn an_oversized_message_closes_with_1009() {
    let mut h = harness();
    let (code, reason) = close_after(&mut h, Wire::Binary(vec![0; 5000])).await;
    assert_eq!(code, 1009, "{reason}");
    assert_eq!(h.hub.metrics.rejected_frames(FrameRejection::Oversized), 1);
}

#[tokio::test]
async fn text_messages_close_with_1003() {
    let mut h = harness();
    let (code, _) = close_after(&mut h, Wire::Text).await;
    assert_eq!(code, 1003);
}

#[tokio::test]
async fn a_handshake_frame_after_authentication_closes_with_1002() {
    let mut h = harness();
    let (code, reason) = close_after(&mut h, envelope(&[Frame::Welcome])).await;
    assert_eq!(code, 1002);
    assert!(reason.contains("unexpected welcome"), "{reason}");
    assert_eq!(h.hub.metrics.rejected_frames(FrameRejection::Unexpected), 1);
}

#[tokio::test]
async fn heartbeats_are_answered_while_the_link_lives() {
    let mut h = harness();
    h.peer
        .unbounded_send(Ok(envelope(&[Frame::Heartbeat { id: 42 }])))
        .unwrap();
    assert_eq!(
        next_frames(&mut h.written).await,
        [Frame::HeartbeatAck { id: 42 }]
    );
}

#[tokio::test]
async fn closing_writes_what_is_queued_then_the_close() {
    let mut h = harness();
    h.link.send(data(0)).await.unwrap();
    h.link.close(1001, "going away");
    let mut seen = Vec::new();
    while let Some(wire) = h.written.next().await {
        let done = matches!(wire, Wire::Close(..));
        seen.push(wire);
        if done {
            break;
        }
    }
    assert!(matches!(seen.first(), Some(Wire::Binary(_))), "{seen:?}");
    assert_eq!(seen.last(), Some(&Wire::Close(1001, "going away".into())));
}

#[tokio::test]
async fn a_lost_connection_suspends_the_link_then_gives_it_up_reporting_the_loss() {
    let h = harness();
    let mut events = h.hub.events();
    drop(h.written); // the peer is gone: every write now fails
    h.link.send(data(0)).await.unwrap();
    let mut seen = Vec::new();
    while h.hub.link_count() > 0 || seen.len() < 2 {
        seen.push(events.recv().await.unwrap());
    }
    assert!(
        matches!(seen[0], crate::events::BridgeEvent::PeerDown { .. }),
        "{seen:?}"
    );
    assert!(
        matches!(
            seen[1],
            crate::events::BridgeEvent::MessagesLost { count: 1, .. }
        ),
        "{seen:?}"
    );
    assert_eq!(h.hub.metrics.links_closed.get(), 1);
    assert_eq!(h.hub.metrics.messages_lost.get(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_silent_peer_is_declared_down_after_the_heartbeat_budget() {
    let mut h = harness();
    let mut changes = h.hub.changes();
    // The peer answers nothing: heartbeats go out, then the link gives up on it.
    let mut beats = 0;
    let (code, reason) = loop {
        match h.written.next().await.expect("the link wrote a close") {
            Wire::Close(code, reason) => break (code, reason),
            Wire::Binary(bytes) => match protocol::decode(&bytes).unwrap()[..] {
                [Frame::Heartbeat { .. }] => beats += 1,
                [Frame::Exports { .. }] => {}
                ref other => panic!("unexpected {other:?}"),
            },
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(code, close::RECONNECT, "resumable: the peer may come back");
    assert!(reason.starts_with("silent for"), "{reason}");
    assert!(beats >= 3, "{beats} heartbeats before giving up");
    while h.hub.link_count() > 0 {
        changes.changed().await.unwrap();
    }
}
