//! The send side of a link session: sequence numbers, and the frames sent but not yet
//! acknowledged, kept for replay on the next connection. Its size is the credit window: the
//! writer takes no more from the outbox once `window` frames or `window_bytes` bytes are
//! unacknowledged, so the buffer cannot overflow and a slow consumer slows the producer.

use std::collections::VecDeque;

use crate::protocol::Frame;

/// Sequenced frames sent and not yet acknowledged, in batches as they were written.
#[derive(Debug, Default)]
pub(crate) struct ReplayBuffer {
    batches: VecDeque<Batch>,
    /// Encoded bytes of the buffered batches.
    bytes: usize,
    /// The last sequence number given out.
    last: u64,
    /// The highest sequence number the peer acknowledged.
    acked: u64,
}

#[derive(Debug)]
struct Batch {
    last: u64,
    frames: Vec<Frame>,
    bytes: usize,
}

impl ReplayBuffer {
    /// Numbers the sequenced frames of `frames` after the last one given out. Control frames
    /// are left alone.
    pub(crate) fn number(&mut self, frames: &mut [Frame]) {
        for frame in frames {
            if let Some(slot) = seq_slot(frame) {
                self.last += 1;
                *slot = self.last;
            }
        }
    }

    /// Gives out the numbers after `last` again: the frames numbered since were not sent
    /// (a batch dropped a frame before encoding and is numbered anew).
    pub(crate) fn rewind(&mut self, last: u64) {
        self.last = last.max(self.acked).min(self.last);
    }

    /// Keeps sent sequenced frames (numbered by `number`) until they are acknowledged;
    /// `bytes` is what they took on the wire.
    pub(crate) fn keep(&mut self, frames: Vec<Frame>, bytes: usize) {
        let Some(last) = frames.iter().filter_map(Frame::seq).max() else {
            return;
        };
        self.bytes += bytes;
        self.batches.push_back(Batch {
            last,
            frames,
            bytes,
        });
    }

    /// The peer delivered everything up to `seq`: forget what it covers. Returns whether
    /// anything changed. An ack beyond what was sent is the peer's error.
    pub(crate) fn ack(&mut self, seq: u64) -> Result<bool, String> {
        if seq > self.last {
            return Err(format!(
                "acknowledgement of {seq}, only {} was sent",
                self.last
            ));
        }
        if seq <= self.acked {
            return Ok(false);
        }
        self.acked = seq;
        while self.batches.front().is_some_and(|b| b.last <= seq) {
            if let Some(batch) = self.batches.pop_front() {
                self.bytes -= batch.bytes;
            }
        }
        Ok(true)
    }

    /// How many more sequenced frames may be sent now, at most `max`.
    pub(crate) fn room(&self, window: u64, window_bytes: usize, max: usize) -> usize {
        if self.bytes >= window_bytes {
            return 0;
        }
        let free = window.saturating_sub(self.unacked());
        usize::try_from(free).unwrap_or(usize::MAX).min(max)
    }

    /// The sequenced frames sent and not acknowledged.
    pub(crate) fn unacked_frames(&self) -> impl Iterator<Item = &Frame> {
        let acked = self.acked;
        self.batches
            .iter()
            .flat_map(|b| b.frames.iter())
            .filter(move |f| f.seq().is_some_and(|seq| seq > acked))
    }

    /// Sequenced frames sent and not acknowledged.
    pub(crate) fn unacked(&self) -> u64 {
        self.last - self.acked
    }

    /// Encoded bytes kept for replay.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The last sequence number given out.
    pub(crate) fn last(&self) -> u64 {
        self.last
    }

    /// The frames the peer has not received, when it received everything up to `received`,
    /// in the batches they were first sent in: what a resumed connection sends again.
    pub(crate) fn replay(&self, received: u64) -> Vec<Vec<Frame>> {
        let from = received.max(self.acked);
        self.batches
            .iter()
            .filter(|b| b.last > from)
            .map(|b| {
                b.frames
                    .iter()
                    .filter(|f| f.seq().is_some_and(|seq| seq > from))
                    .cloned()
                    .collect()
            })
            .collect()
    }
}

/// The `seq` field of a sequenced frame.
pub(crate) fn seq_slot(frame: &mut Frame) -> Option<&mut u64> {
    match frame {
        Frame::Data { seq, .. }
        | Frame::End { seq, .. }
        | Frame::Reply { seq, .. }
        | Frame::ReplyEnd { seq, .. }
        | Frame::ReplyError { seq, .. }
        | Frame::Part { seq, .. }
        | Frame::TooLarge { seq, .. } => Some(seq),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
