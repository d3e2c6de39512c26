//! The link task driven through channels instead of a socket: what it writes, what it
//! refuses, and the close codes it answers with.

use std::sync::Arc;

use futures::channel::mpsc as fmpsc;
use futures::{SinkExt, StreamExt};
use reflow_network::Message;

use super::*;
use crate::config::DistributedConfig;
use crate::metrics::FrameRejection;
use crate::session::{Identity, Limits, Peer};

struct Harness {
    link: LinkHandle,
    hub: Arc<Hub>,
    /// What the link wrote to its socket.
    written: fmpsc::UnboundedReceiver<Wire>,
    /// What the peer sends.
    peer: fmpsc::UnboundedSender<Result<Wire, String>>,
}

fn harness() -> Harness {
    let mut config = DistributedConfig::new("here");
    config.max_message_bytes = 4096;
    let hub = Hub::new(
        Identity::new("here", "me", "1"),
        None,
        config,
        crate::net::Tls::default(),
    );
    let (out_tx, written) = fmpsc::unbounded::<Wire>();
    let (peer, in_rx) = fmpsc::unbounded::<Result<Wire, String>>();
    let sink: WireSink = Box::pin(out_tx.sink_map_err(|e| e.to_string()));
    let stream: WireStream = Box::pin(in_rx);
    let remote = Peer {
        identity: Identity::new("there", "them", "1"),
        limits: Limits { max_message: 4096 },
    };
    let register = |link: &LinkHandle| {
        hub.add_link(crate::hub::LinkEntry {
            handle: link.clone(),
            address: "channel".into(),
            dialed_by_us: false,
            exports: Vec::new(),
        })
    };
    let link = spawn(sink, stream, remote, hub.clone(), 16, register).unwrap();
    Harness {
        link,
        hub,
        written,
        peer,
    }
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
    h.link.send(Frame::Heartbeat { id: 5 }).await.unwrap();
    h.link.send(data(0)).await.unwrap();
    let mut frames = Vec::new();
    while frames.len() < 3 {
        let Some(Wire::Binary(bytes)) = h.written.next().await else {
            panic!("expected a binary message")
        };
        frames.extend(protocol::decode(&bytes).unwrap());
    }
    let seqs: Vec<Option<u64>> = frames.iter().map(Frame::seq).collect();
    assert_eq!(seqs, [Some(1), None, Some(2)]);
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
    assert_eq!(
        h.hub.metrics.rejected_frames(FrameRejection::UnknownTarget),
        2
    );
}

#[tokio::test]
async fn garbage_is_refused_as_malformed() {
    let mut h = harness();
    // Version 1, one frame, kind 0 (hello), then a truncated body.
    let (code, reason) = close_after(&mut h, Wire::Binary(vec![1, 1, 0, 0xff])).await;
    assert_eq!(code, 1007, "{reason}");
    assert_eq!(h.hub.metrics.rejected_frames(FrameRejection::Malformed), 1);
}

#[tokio::test]
async fn an_unknown_frame_kind_is_refused_and_counted() {
    let mut h = harness();
    let (code, reason) = close_after(&mut h, Wire::Binary(vec![1, 1, 99])).await;
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
    let Some(Wire::Binary(bytes)) = h.written.next().await else {
        panic!("expected an answer")
    };
    assert_eq!(
        protocol::decode(&bytes).unwrap(),
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
async fn a_socket_that_fails_ends_the_link_and_the_hub_forgets_it() {
    let h = harness();
    assert_eq!(h.hub.link_count(), 1);
    let mut changes = h.hub.changes();
    drop(h.written); // the peer is gone: every write now fails
    h.link.send(data(0)).await.unwrap();
    while h.hub.link_count() > 0 {
        changes.changed().await.unwrap();
    }
    assert_eq!(h.hub.metrics.links_closed.get(), 1);
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
            Wire::Binary(bytes) => {
                assert!(matches!(
                    protocol::decode(&bytes).unwrap()[..],
                    [Frame::Heartbeat { .. }]
                ));
                beats += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(code, 1001);
    assert!(reason.starts_with("silent for"), "{reason}");
    assert!(beats >= 3, "{beats} heartbeats before giving up");
    while h.hub.link_count() > 0 {
        changes.changed().await.unwrap();
    }
}
