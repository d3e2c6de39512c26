//! The delivery task of a link: hands each queued sequenced frame to the hub (an exported
//! actor's inbox, or a proxy's replies), in order, waiting as long as they are full. This is
//! where a slow consumer pushes back: the queue fills, acknowledgements stop, the peer's
//! window closes and its producers wait. It records what it delivered and wakes the writer
//! to acknowledge it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::handle::LinkHandle;
use super::state::ACK_DELAY;
use crate::hub::{Hub, Route};
use crate::protocol::Frame;

/// The longest wait between two reminders of an acknowledgement that is still due.
const MAX_ACK_RETRY: Duration = Duration::from_millis(200);

/// Starts delivering what `inbound` receives; ends when the link drops the sender.
pub(crate) fn spawn(hub: Arc<Hub>, link: LinkHandle, mut inbound: mpsc::Receiver<Frame>) {
    tokio::spawn(async move {
        while let Some(first) = next_frame(&mut inbound, &link).await {
            // A run of frames that arrived together shares lookups; a fresh run looks again.
            let mut route = Route::default();
            let mut next = Some(first);
            while let Some(frame) = next {
                let seq = frame.seq().unwrap_or(0);
                hub.on_frame(&link, frame, &mut route).await;
                if link.state.delivered_from_queue(seq, hub.ack_threshold()) {
                    link.state.wake_writer();
                }
                next = inbound.try_recv().ok();
            }
        }
    });
}

/// The next frame to deliver. While deliveries are unacknowledged, waits at most
/// `ACK_DELAY` for one; then, if no outgoing message carried the acknowledgement meanwhile,
/// has the writer send it on its own. The writer is thus woken for an acknowledgement only
/// when one is due, never once per message.
async fn next_frame(inbound: &mut mpsc::Receiver<Frame>, link: &LinkHandle) -> Option<Frame> {
    loop {
        let state = &link.state;
        if state.unacknowledged() == 0 {
            return inbound.recv().await;
        }
        match tokio::time::timeout(ACK_DELAY, inbound.recv()).await {
            Ok(frame) => return frame,
            Err(_) if state.unacknowledged() > 0 => state.wake_writer(),
            Err(_) => {}
        }
        // Wait for the writer to send it before arming the delay again; ask again less and
        // less often while it cannot (the link is between connections).
        let mut delay = ACK_DELAY;
        while state.unacknowledged() > 0 {
            tokio::select! {
                frame = inbound.recv() => return frame,
                () = tokio::time::sleep(delay) => state.wake_writer(),
            }
            delay = (delay * 2).min(MAX_ACK_RETRY);
        }
    }
}
