//! The delivery task of a link: hands each queued sequenced frame to the hub (an exported
//! actor's inbox, or a proxy's replies), in order, waiting as long as they are full. This is
//! where a slow consumer pushes back: the queue fills, acknowledgements stop, the peer's
//! window closes and its producers wait. It records what it delivered and wakes the writer
//! to acknowledge it.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::link::LinkHandle;
use super::writer::ack_threshold;
use crate::hub::{Hub, Route};
use crate::protocol::Frame;

/// Starts delivering what `inbound` receives; ends when the link drops the sender.
pub(crate) fn spawn(hub: Arc<Hub>, link: LinkHandle, mut inbound: mpsc::Receiver<Frame>) {
    tokio::spawn(async move {
        while let Some(first) = inbound.recv().await {
            // A run of frames that arrived together shares lookups; a fresh run looks again.
            let mut route = Route::default();
            let mut next = Some(first);
            while let Some(frame) = next {
                let seq = frame.seq().unwrap_or(0);
                hub.on_frame(&link, frame, &mut route).await;
                link.state.delivered.store(seq, Ordering::Release);
                next = inbound.try_recv().ok();
                wake_writer(&hub, &link, next.is_none());
            }
        }
    });
}

/// Wakes the writer when enough is delivered to acknowledge at once, or when the queue ran
/// dry and no delayed acknowledgement is pending yet.
fn wake_writer(hub: &Hub, link: &LinkHandle, drained: bool) {
    let state = &link.state;
    let pending = state
        .delivered
        .load(Ordering::Acquire)
        .saturating_sub(state.ack_sent.load(Ordering::Acquire));
    let urgent = pending >= ack_threshold(hub);
    if urgent || (drained && pending > 0 && !state.ack_armed.swap(true, Ordering::AcqRel)) {
        state.wake.notify_one();
    }
}
