use std::sync::Arc;

use proptest::prelude::*;
use reflow_network::Message;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::*;

/// The version byte that starts every encoded batch.
const V: u8 = PROTOCOL_VERSION as u8;

/// One frame of every kind, in wire order.
pub(crate) fn samples() -> Vec<Frame> {
    vec![
        Frame::Hello {
            version: PROTOCOL_VERSION,
            network_id: "net-a".into(),
            instance_id: "a1".into(),
            incarnation: "inc".into(),
            nonce: [7; 32],
            max_message: 1 << 20,
            max_payload: 64 << 20,
        },
        Frame::Challenge {
            version: PROTOCOL_VERSION,
            network_id: "net-b".into(),
            instance_id: "b1".into(),
            incarnation: "inc-b".into(),
            nonce: [9; 32],
            proof: vec![1; 32],
            max_message: 4096,
            max_payload: 8192,
        },
        Frame::Response {
            proof: Some(vec![2; 32]),
        },
        Frame::Welcome,
        Frame::Refuse {
            reason: RefuseReason::DuplicateInstance,
            detail: "a1".into(),
        },
        Frame::Exports {
            actors: vec![ExportedActor::new(
                "counter",
                vec!["in".into()],
                vec!["out".into(), "error".into()],
                &json!({"step": 2}),
            )],
            started: true,
        },
        Frame::Heartbeat { id: 3 },
        Frame::HeartbeatAck { id: 3 },
        Frame::Bye {
            reason: "shutdown".into(),
        },
        Frame::Data {
            seq: 1,
            actor: "counter".into(),
            port: "in".into(),
            origin: 4,
            payload: Message::object([("n", Message::Integer(-5))]),
            trace: Some(99),
        },
        Frame::End {
            seq: 2,
            actor: "counter".into(),
            origin: 4,
        },
        Frame::Reply {
            seq: 1,
            actor: "counter".into(),
            port: "out".into(),
            origin: 0,
            handled: 0,
            payload: Message::Bytes(Arc::from(&[0u8, 255, 3][..])),
        },
        Frame::ReplyEnd {
            seq: 2,
            actor: "counter".into(),
            origin: 4,
        },
        Frame::Ack { seq: 2 },
        Frame::ReplyError {
            seq: 3,
            actor: "counter".into(),
            origin: 4,
            error: "refused message 3".into(),
        },
        Frame::Resume {
            session: 7,
            received: 3,
            window: 1024,
            salt: 9,
        },
        Frame::Part {
            seq: 8,
            last: true,
            bytes: vec![1, 2, 3],
        },
        Frame::TooLarge {
            seq: 9,
            actor: "relay".into(),
            origin: 4,
            port: "out".into(),
            reply: true,
            size: 70 << 20,
            limit: 64 << 20,
        },
        Frame::Credit {
            origin: 4,
            reply: false,
            consumed: 256,
        },
    ]
}

#[test]
fn every_kind_round_trips_in_one_batch() {
    let frames = samples();
    let bytes = encode(&frames).unwrap();
    assert_eq!(decode(&bytes).unwrap(), frames);
}

#[test]
fn variant_indices_and_kind_names_are_pinned() {
    let names = [
        "hello",
        "challenge",
        "response",
        "welcome",
        "refuse",
        "exports",
        "heartbeat",
        "heartbeat_ack",
        "bye",
        "data",
        "end",
        "reply",
        "reply_end",
        "ack",
        "reply_error",
        "resume",
        "part",
        "too_large",
        "credit",
    ];
    let frames = samples();
    assert_eq!(frames.len(), KIND_COUNT as usize);
    for (index, frame) in frames.iter().enumerate() {
        let bytes = encode(std::slice::from_ref(frame)).unwrap();
        // version 3, count 1, then the variant index (a single varint byte below 128).
        assert_eq!(&bytes[..3], &[V, 1, index as u8], "{}", frame.kind());
        assert_eq!(frame.kind(), names[index]);
    }
}

#[test]
fn golden_bytes() {
    let bytes = encode(&[Frame::Heartbeat { id: 300 }, Frame::Welcome]).unwrap();
    assert_eq!(bytes, [V, 2, 6, 0xac, 0x02, 3]);
    let data = Frame::Data {
        seq: 1,
        actor: "a".into(),
        port: "in".into(),
        origin: 2,
        payload: Message::Integer(-1),
        trace: None,
    };
    let bytes = encode(&[data]).unwrap();
    // kind 9, seq 1, "a", "in", origin 2, Integer (2) zigzag(-1) = 1, no trace.
    assert_eq!(bytes, [V, 1, 9, 1, 1, b'a', 2, b'i', b'n', 2, 2, 1, 0]);
}

#[test]
fn control_and_sequenced_frames() {
    for frame in samples() {
        let sequenced = [
            "data",
            "end",
            "reply",
            "reply_end",
            "reply_error",
            "part",
            "too_large",
        ];
        let sequenced = sequenced.contains(&frame.kind());
        assert_eq!(frame.is_control(), !sequenced, "{}", frame.kind());
        assert_eq!(frame.seq().is_some(), sequenced, "{}", frame.kind());
        let handshake = ["hello", "challenge", "response", "welcome", "refuse"];
        assert_eq!(frame.is_handshake(), handshake.contains(&frame.kind()));
    }
}

#[test]
fn exported_metadata_is_json_text() {
    let actor = ExportedActor::new("a", vec![], vec![], &json!({"x": [1, 2]}));
    assert_eq!(actor.metadata, r#"{"x":[1,2]}"#);
    assert_eq!(actor.parse_metadata().unwrap(), json!({"x": [1, 2]}));
    let broken = ExportedActor {
        metadata: "{".into(),
        ..actor
    };
    assert!(broken.parse_metadata().is_err());
}

#[test]
fn an_empty_batch_round_trips() {
    let bytes = encode(&[]).unwrap();
    assert_eq!(bytes, [V, 0]);
    assert_eq!(decode(&bytes).unwrap(), vec![]);
}

#[test]
fn encode_into_reuses_and_replaces_the_buffer() {
    let mut buf = vec![0xff; 10];
    encode_into(&[Frame::Welcome], &mut buf).unwrap();
    assert_eq!(buf, [V, 1, 3]);
    let capacity = buf.capacity();
    encode_into(&[Frame::Ack { seq: 1 }], &mut buf).unwrap();
    assert_eq!(buf, [V, 1, 13, 1]);
    assert_eq!(buf.capacity(), capacity);
}

#[test]
fn decode_errors_are_typed() {
    let cases: Vec<(&[u8], DecodeError)> = vec![
        (&[], DecodeError::Empty),
        (
            &[V + 1, 0],
            DecodeError::UnsupportedVersion(u16::from(V) + 1),
        ),
        (&[1, 0], DecodeError::UnsupportedVersion(1)),
        (&[0x80, 0x01, 0], DecodeError::UnsupportedVersion(128)),
        (&[V, 1, 19], DecodeError::UnknownKind { frame: 0, kind: 19 }),
        (
            &[V, 2, 3, 0x90, 0x4e],
            DecodeError::UnknownKind {
                frame: 1,
                kind: 10000,
            },
        ),
    ];
    for (bytes, expected) in cases {
        assert_eq!(decode(bytes), Err(expected), "{bytes:?}");
    }
}

#[test]
fn malformed_messages_say_what_is_wrong() {
    let cases: Vec<(&[u8], &str)> = vec![
        (&[0x80], "protocol version"),
        (&[V], "frame count"),
        (&[V, 5, 3], "5 frames announced in 1 bytes"),
        (&[V, 1, 3, 3], "1 trailing bytes"),
        (&[V, 1, 6], "frame 0 (kind 6)"),
        (&[V, 1, 4, 6, 0], "unknown variant"),
        (&[V, 1, 8, 2, 0xff, 0xfe], "utf-8"),
        (&[V, 1, 0x80], "frame 0: kind"),
        (
            &[V, 1, 9, 0xff, 0xff],
            "the message ends in the middle of a value",
        ),
        (
            &[
                V, 1, 13, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
            "a number is not validly encoded",
        ),
    ];
    for (bytes, needle) in cases {
        match decode(bytes) {
            Err(DecodeError::Malformed(text)) => {
                assert!(text.contains(needle), "{bytes:?}: {text}");
                // Words for people, not the decoder's internals.
                assert!(!text.contains("varint"), "{bytes:?}: {text}");
            }
            other => panic!("{bytes:?}: {other:?}"),
        }
    }
}

#[test]
fn decode_limited_refuses_before_decoding() {
    let bytes = encode(&[Frame::Welcome, Frame::Welcome, Frame::Welcome]).unwrap();
    assert_eq!(decode_limited(&bytes, 3).unwrap().len(), 3);
    assert_eq!(
        decode_limited(&bytes, 2),
        Err(DecodeError::TooManyFrames { count: 3, max: 2 })
    );
    let huge = [
        V, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
    ];
    assert_eq!(
        decode_limited(&huge, 100),
        Err(DecodeError::TooManyFrames {
            count: u64::MAX,
            max: 100
        })
    );
}

#[test]
fn close_codes() {
    assert_eq!(DecodeError::Empty.close_code(), 1007);
    assert_eq!(DecodeError::Malformed(String::new()).close_code(), 1007);
    assert_eq!(DecodeError::UnsupportedVersion(2).close_code(), 1002);
    let unknown = DecodeError::UnknownKind { frame: 0, kind: 99 };
    assert_eq!(unknown.close_code(), 1002);
    let too_many = DecodeError::TooManyFrames { count: 9, max: 1 };
    assert_eq!(too_many.close_code(), 1009);
    assert_eq!(RefuseReason::AuthenticationFailed.close_code(), 1008);
    assert_eq!(RefuseReason::MissingToken.close_code(), 1008);
    assert_eq!(RefuseReason::DuplicateInstance.close_code(), 1008);
    assert_eq!(RefuseReason::TooManyConnections.close_code(), 1008);
    assert_eq!(RefuseReason::VersionMismatch.close_code(), 1002);
    assert_eq!(RefuseReason::Protocol.close_code(), 1002);
}

/// A payload through the bounded codec, as a newtype (postcard encodes it transparently).
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Wire(#[serde(with = "super::payload")] Message);

fn nested(depth: usize) -> Message {
    (1..depth).fold(Message::Integer(1), |inner, i| {
        if i % 2 == 0 {
            Message::array([inner])
        } else {
            Message::object([("k", inner)])
        }
    })
}

#[test]
fn payload_depth_is_bounded_both_ways() {
    let deepest = nested(MAX_DEPTH);
    let bytes = postcard::to_allocvec(&Wire(deepest.clone())).unwrap();
    assert_eq!(postcard::from_bytes::<Wire>(&bytes).unwrap(), Wire(deepest));

    let too_deep = nested(MAX_DEPTH + 1);
    assert!(postcard::to_allocvec(&Wire(too_deep.clone())).is_err());
    // The derived impl has no bound: it writes what a hostile peer could send.
    let hostile = postcard::to_allocvec(&too_deep).unwrap();
    assert!(postcard::from_bytes::<Wire>(&hostile).is_err());
}

#[test]
fn a_too_deep_payload_names_its_frame() {
    let frame = |payload| Frame::Reply {
        seq: 1,
        actor: "a".into(),
        port: "out".into(),
        origin: 0,
        handled: 0,
        payload,
    };
    let frames = [frame(Message::Flow), frame(nested(MAX_DEPTH + 1))];
    let mut buf = vec![1, 2, 3];
    let error = encode_into(&frames, &mut buf).unwrap_err();
    assert_eq!(error, EncodeError::TooDeep { frame: 1 });
    assert!(buf.is_empty());

    // The same frame as a hostile peer would write it: the derived `Message` encoding, which
    // the frame encoding reuses field for field (a tuple is a plain concatenation).
    let fields = (11u32, 1u64, "a", "out", 0u32, 0u64, nested(MAX_DEPTH + 1));
    let mut bytes = vec![V, 1];
    bytes.extend(postcard::to_allocvec(&fields).unwrap());
    match decode(&bytes) {
        Err(DecodeError::Malformed(text)) => assert!(text.contains("deeper than 128"), "{text}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_hostile_nesting_far_beyond_the_bound_is_refused_without_overflow() {
    // 100 000 nested single-element arrays: 200 kB that would blow the stack unbounded.
    let mut bytes = vec![V, 1, 11, 1, 1, b'a', 3, b'o', b'u', b't', 0];
    for _ in 0..100_000 {
        bytes.extend([5, 1]);
    }
    bytes.extend([0]);
    assert!(matches!(decode(&bytes), Err(DecodeError::Malformed(_))));
}

fn message() -> impl Strategy<Value = Message> {
    let leaf = prop_oneof![
        Just(Message::Flow),
        any::<bool>().prop_map(Message::Boolean),
        any::<i64>().prop_map(Message::Integer),
        any::<f64>()
            .prop_filter("NaN is not equal to itself", |f| !f.is_nan())
            .prop_map(Message::Float),
        ".{0,12}".prop_map(Message::from),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(|b| Message::Bytes(b.into())),
        ".{0,12}".prop_map(Message::error),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Message::array),
            prop::collection::btree_map(".{0,6}", inner, 0..6).prop_map(Message::object),
        ]
    })
}

fn text() -> impl Strategy<Value = String> {
    ".{0,16}"
}

fn reason() -> impl Strategy<Value = RefuseReason> {
    prop_oneof![
        Just(RefuseReason::VersionMismatch),
        Just(RefuseReason::AuthenticationFailed),
        Just(RefuseReason::MissingToken),
        Just(RefuseReason::DuplicateInstance),
        Just(RefuseReason::TooManyConnections),
        Just(RefuseReason::Protocol),
    ]
}

fn exported() -> impl Strategy<Value = ExportedActor> {
    let ports = || prop::collection::vec(text(), 0..4);
    (text(), ports(), ports(), text()).prop_map(|(name, inports, outports, metadata)| {
        ExportedActor {
            name,
            inports,
            outports,
            metadata,
        }
    })
}

fn control_frame() -> impl Strategy<Value = Frame> {
    let bytes = || prop::collection::vec(any::<u8>(), 0..40);
    prop_oneof![
        (
            any::<u16>(),
            text(),
            text(),
            text(),
            any::<[u8; 32]>(),
            any::<(u32, u32)>()
        )
            .prop_map(
                |(
                    version,
                    network_id,
                    instance_id,
                    incarnation,
                    nonce,
                    (max_message, max_payload),
                )| {
                    Frame::Hello {
                        version,
                        network_id,
                        instance_id,
                        incarnation,
                        nonce,
                        max_message,
                        max_payload,
                    }
                }
            ),
        (
            any::<u16>(),
            text(),
            text(),
            text(),
            any::<[u8; 32]>(),
            bytes(),
            any::<(u32, u32)>()
        )
            .prop_map(
                |(version, network_id, instance_id, incarnation, nonce, proof, (max, payload))| {
                    Frame::Challenge {
                        version,
                        network_id,
                        instance_id,
                        incarnation,
                        nonce,
                        proof,
                        max_message: max,
                        max_payload: payload,
                    }
                }
            ),
        prop::option::of(bytes()).prop_map(|proof| Frame::Response { proof }),
        Just(Frame::Welcome),
        (reason(), text()).prop_map(|(reason, detail)| Frame::Refuse { reason, detail }),
        prop::collection::vec(exported(), 0..3).prop_map(|actors| Frame::Exports {
            actors,
            started: false,
        }),
        any::<u64>().prop_map(|id| Frame::Heartbeat { id }),
        any::<u64>().prop_map(|id| Frame::HeartbeatAck { id }),
        text().prop_map(|reason| Frame::Bye { reason }),
        any::<u64>().prop_map(|seq| Frame::Ack { seq }),
        (any::<u32>(), any::<bool>(), any::<u64>()).prop_map(|(origin, reply, consumed)| {
            Frame::Credit {
                origin,
                reply,
                consumed,
            }
        }),
        (any::<u64>(), any::<u64>(), any::<u32>(), any::<u64>()).prop_map(
            |(session, received, window, salt)| Frame::Resume {
                session,
                received,
                window,
                salt
            }
        ),
    ]
}

fn data_frame() -> impl Strategy<Value = Frame> {
    let ids = || (any::<u64>(), text(), any::<u32>());
    prop_oneof![
        (ids(), text(), message(), prop::option::of(any::<u64>())).prop_map(
            |((seq, actor, origin), port, payload, trace)| Frame::Data {
                seq,
                actor: actor.into(),
                port: port.into(),
                origin,
                payload,
                trace,
            }
        ),
        ids().prop_map(|(seq, actor, origin)| Frame::End { seq, actor, origin }),
        (ids(), text(), message()).prop_map(|((seq, actor, origin), port, payload)| {
            Frame::Reply {
                seq,
                actor,
                port,
                origin,
                handled: 0,
                payload,
            }
        }),
        ids().prop_map(|(seq, actor, origin)| Frame::ReplyEnd { seq, actor, origin }),
        (ids(), text()).prop_map(|((seq, actor, origin), error)| Frame::ReplyError {
            seq,
            actor,
            origin,
            error
        }),
        (
            any::<u64>(),
            any::<bool>(),
            prop::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(seq, last, bytes)| Frame::Part { seq, last, bytes }),
        (ids(), text(), any::<bool>(), any::<(u64, u64)>()).prop_map(
            |((seq, actor, origin), port, reply, (size, limit))| Frame::TooLarge {
                seq,
                actor,
                origin,
                port,
                reply,
                size,
                limit,
            }
        ),
    ]
}

/// Any frame, with random fields; the decoder fuzz mutates batches of these.
pub(crate) fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![control_frame(), data_frame()]
}

proptest! {
    #[test]
    fn random_batches_round_trip(frames in prop::collection::vec(frame(), 0..12)) {
        let bytes = encode(&frames).unwrap();
        prop_assert_eq!(decode(&bytes).unwrap(), frames);
    }

    #[test]
    fn payloads_keep_the_derived_wire_format(msg in message()) {
        let ours = postcard::to_allocvec(&Wire(msg.clone())).unwrap();
        prop_assert_eq!(&ours, &postcard::to_allocvec(&msg).unwrap());
        prop_assert_eq!(postcard::from_bytes::<Message>(&ours).unwrap(), msg.clone());
        prop_assert_eq!(postcard::from_bytes::<Wire>(&ours).unwrap(), Wire(msg));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&bytes);
        // The same bytes behind a valid header reach the frame decoder.
        let mut framed = vec![PROTOCOL_VERSION as u8, 3];
        framed.extend(&bytes);
        let _ = decode_limited(&framed, 8);
    }

    #[test]
    fn corrupted_batches_never_panic(
        frames in prop::collection::vec(frame(), 1..6),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = encode(&frames).unwrap();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let _ = decode(&bytes);
        let _ = decode(&bytes[..cut.index(bytes.len())]);
    }
}
