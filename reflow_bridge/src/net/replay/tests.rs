use super::*;
use reflow_network::Message;

fn data() -> Frame {
    Frame::Data {
        seq: 0,
        actor: "a".into(),
        port: "in".into(),
        origin: 1,
        payload: Message::Integer(1),
        trace: None,
    }
}

fn sent(buf: &mut ReplayBuffer, count: usize, bytes: usize) -> Vec<u64> {
    let mut frames: Vec<Frame> = (0..count).map(|_| data()).collect();
    frames.push(Frame::Heartbeat { id: 1 });
    buf.number(&mut frames);
    let seqs = frames.iter().filter_map(Frame::seq).collect();
    buf.keep(frames, bytes);
    seqs
}

#[test]
fn numbers_only_sequenced_frames_from_one() {
    let mut buf = ReplayBuffer::default();
    assert_eq!(sent(&mut buf, 3, 30), vec![1, 2, 3]);
    assert_eq!(sent(&mut buf, 2, 20), vec![4, 5]);
    assert_eq!(buf.unacked(), 5);
    assert_eq!(buf.bytes(), 50);
}

#[test]
fn acks_free_whole_batches_and_room() {
    let mut buf = ReplayBuffer::default();
    sent(&mut buf, 3, 30);
    sent(&mut buf, 2, 20);
    assert_eq!(buf.room(8, 1000, 256), 3);
    assert_eq!(buf.ack(2), Ok(true));
    // The first batch still holds 3, so its bytes stay until 3 is acknowledged.
    assert_eq!(buf.bytes(), 50);
    assert_eq!(buf.room(8, 1000, 256), 5);
    assert_eq!(buf.ack(3), Ok(true));
    assert_eq!(buf.bytes(), 20);
    assert_eq!(buf.ack(1), Ok(false), "an older ack changes nothing");
    assert!(
        buf.ack(9).is_err(),
        "an ack beyond what was sent is an error"
    );
}

#[test]
fn room_is_zero_at_the_byte_limit() {
    let mut buf = ReplayBuffer::default();
    sent(&mut buf, 1, 100);
    assert_eq!(buf.room(8, 100, 256), 0);
    assert_eq!(buf.room(8, 101, 2), 2);
}

#[test]
fn replay_sends_what_the_peer_did_not_receive_in_order() {
    let mut buf = ReplayBuffer::default();
    sent(&mut buf, 3, 30);
    sent(&mut buf, 3, 30);
    buf.ack(2).unwrap();
    let seqs = |batches: Vec<Vec<Frame>>| {
        let frames = batches.concat();
        assert!(
            frames.iter().all(|f| f.seq().is_some()),
            "control frames are not replayed"
        );
        frames.iter().filter_map(Frame::seq).collect::<Vec<_>>()
    };
    assert_eq!(seqs(buf.replay(0)), vec![3, 4, 5, 6], "never below the ack");
    assert_eq!(seqs(buf.replay(4)), vec![5, 6]);
    assert_eq!(seqs(buf.replay(6)), Vec::<u64>::new());
    assert_eq!(buf.replay(4).len(), 1, "replayed in the batches first sent");
}

#[test]
fn rewind_gives_numbers_out_again() {
    let mut buf = ReplayBuffer::default();
    sent(&mut buf, 2, 20);
    let base = buf.last();
    let mut frames = vec![data(), data()];
    buf.number(&mut frames);
    buf.rewind(base);
    let mut frames = vec![data()];
    buf.number(&mut frames);
    assert_eq!(frames[0].seq(), Some(3));
}
