//! The proxy's forwarder: a task that brings the remote actor's outputs out of the proxy's
//! outports until the session's end or failure: the replies that had to wait (a receiver
//! was full; the others leave straight from the link, see `hub/replies.rs`), every reply
//! once the input has ended, and the end. Once the proxy's input has ended, the remote side
//! may stay silent for at most the timeout.

use std::sync::Arc;
use std::time::Duration;

use reflow_network::{ActorError, Outputs};
use tokio::sync::watch;
use tokio::time::error::Elapsed;

use super::remote::Remote;
use crate::hub::{ReplyEvent, ReplyReceiver};
use crate::metrics::SkipReason;

/// How a session stopped short of its end.
#[derive(Debug)]
pub(crate) enum Stopped {
    /// The hub dropped the session: its link was given up, or the proxy closed it. Every
    /// reply that arrived before has been passed on.
    Lost,
    /// The proxy's error (the remote actor failed, a timeout, a reply over the size limit).
    Failed(ActorError),
}

impl From<ActorError> for Stopped {
    fn from(err: ActorError) -> Self {
        Stopped::Failed(err)
    }
}

/// Runs until the session ends: `Ok` at its end (or, in skip mode, when it is given up),
/// how it stopped otherwise.
pub(crate) async fn forward(
    mut replies: ReplyReceiver,
    outputs: Outputs,
    mut ended: watch::Receiver<bool>,
    remote: Arc<Remote>,
) -> Result<(), Stopped> {
    loop {
        let event = match next(&mut replies, &mut ended, remote.timeout()).await {
            Ok(Some(event)) => event,
            Ok(None) => return Err(Stopped::Lost),
            Err(_) => {
                return Ok(remote.give_up(SkipReason::ReplyTimeout, remote.reply_timed_out())?)
            }
        };
        // Refused on the way out before anything that came back since: handled first.
        for refused in replies.take_refused() {
            remote.give_up(SkipReason::TooLarge, remote.too_large(&refused))?;
        }
        match event {
            ReplyEvent::Message(port, msg, handled) => {
                outputs.send(&port, msg).await?;
                // No await in between: a forwarder stopped at an await point has counted
                // every reply that left.
                replies.passed_on(handled);
            }
            ReplyEvent::End => return Ok(()),
            ReplyEvent::Error(error) => {
                return Ok(remote.give_up(SkipReason::RemoteError, remote.remote_failed(&error))?)
            }
            ReplyEvent::TooLarge(refused) => {
                remote.give_up(SkipReason::TooLarge, remote.too_large(&refused))?;
                replies.handled();
            }
            ReplyEvent::Refused => replies.handled(),
        }
    }
}

/// The next reply event: waited for without a bound while the input is open (the remote
/// actor owes nothing yet), within `idle` once it has ended. `None` when the link dropped
/// the session.
async fn next(
    replies: &mut ReplyReceiver,
    ended: &mut watch::Receiver<bool>,
    idle: Duration,
) -> Result<Option<ReplyEvent>, Elapsed> {
    if !*ended.borrow() {
        tokio::select! {
            event = replies.recv() => return Ok(event),
            // A proxy that goes away without ending its input aborts this task.
            _ = ended.wait_for(|ended| *ended) => {}
        }
    }
    tokio::time::timeout(idle, replies.recv()).await
}
