//! The link side of one proxy: its frames go onto the link within its timeout, and what
//! happens when they do not (or when the remote actor fails) follows its failure mode.

use std::sync::Arc;
use std::time::Duration;

use reflow_network::{ActorError, ActorResult};

use super::options::{FailureMode, ProxyOptions};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::hub::{Oversized, SendWindow};
use crate::metrics::{Metrics, SkipReason};
use crate::net::LinkHandle;
use crate::protocol::Frame;
use crate::protocol::SESSION_WINDOW;

/// What became of a frame handed to [`Remote::send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    /// The link took it.
    Delivered,
    /// It was dropped after the timeout (skip mode), counted and logged.
    Skipped,
}

/// One proxy's way to its remote actor.
pub(crate) struct Remote {
    link: LinkHandle,
    /// `actor@network`, as errors and logs name it.
    name: String,
    /// The local process standing for it.
    process: String,
    options: ProxyOptions,
    metrics: Arc<Metrics>,
    /// Room for this session's messages at the exporting side.
    window: Arc<SendWindow>,
}

impl Remote {
    pub(crate) fn new(
        link: LinkHandle,
        name: String,
        process: &str,
        options: ProxyOptions,
        metrics: Arc<Metrics>,
    ) -> Self {
        Remote {
            link,
            name,
            process: process.to_string(),
            options,
            metrics,
            window: Arc::default(),
        }
    }

    /// Sends this session's messages within `window`.
    pub(crate) fn with_window(mut self, window: Arc<SendWindow>) -> Self {
        self.window = window;
        self
    }

    /// The messages of session `origin` went to another instance: what of them this link
    /// never delivers is not counted lost.
    pub(crate) fn hand_on(&self, origin: u32) {
        self.link.state.hand_on(origin);
    }

    /// Whether the link was given up: nothing sent on it arrives.
    pub(crate) fn link_closed(&self) -> bool {
        self.link.is_closed()
    }

    /// Messages sent on this session and not yet consumed by the remote side.
    pub(crate) fn in_flight(&self) -> u64 {
        self.window.in_flight()
    }

    /// How long the remote side may stay silent once the proxy's input has ended.
    pub(crate) fn timeout(&self) -> Duration {
        self.options.timeout
    }

    /// Puts `frame` on the link, waiting at most the timeout per attempt. A closed link is
    /// an error in every mode: the session is gone and nothing would come back.
    pub(crate) async fn send(&self, frame: Frame) -> Result<Sent, ActorError> {
        if self.options.failure_mode == FailureMode::Retry {
            return self.send_retrying(frame).await;
        }
        let Some(stall) = self.attempt(frame).await? else {
            return Ok(Sent::Delivered);
        };
        self.give_up(SkipReason::SendTimeout, self.send_timed_out(1, stall))?;
        Ok(Sent::Skipped)
    }

    /// Sends `frame` from a task of its own, within the timeout, whatever comes of it: for
    /// a proxy that is going away.
    pub(crate) fn send_in_background(&self, frame: Frame) {
        let (link, timeout) = (self.link.clone(), self.options.timeout);
        tokio::spawn(async move {
            let _ = tokio::time::timeout(timeout, link.send(frame)).await;
        });
    }

    /// Retry mode: re-attempts after a pause that doubles each time, then fails.
    async fn send_retrying(&self, mut frame: Frame) -> Result<Sent, ActorError> {
        let mut attempt = 0;
        loop {
            // A timed-out send drops the frame it was given (nothing reached the outbox, so
            // a re-attempt never duplicates), hence a copy while attempts remain.
            let spare = (attempt < self.options.retries).then(|| frame.clone());
            let Some(stall) = self.attempt(frame).await? else {
                return Ok(Sent::Delivered);
            };
            let Some(next) = spare else {
                return Err(self.send_timed_out(attempt + 1, stall));
            };
            attempt += 1;
            self.metrics.proxy_retries.inc();
            let pause = self.options.backoff(attempt);
            tracing::debug!(
                process = %self.process,
                remote = %self.name,
                attempt,
                "send timed out; retrying in {} ms",
                pause.as_millis()
            );
            tokio::time::sleep(pause).await;
            frame = next;
        }
    }

    /// One attempt: whether the link took the frame within the timeout; a message waits
    /// for room in the session's window first, within the same timeout.
    /// `None` when the link took it; else where it waited when the time ran out.
    async fn attempt(&self, frame: Frame) -> Result<Option<Stall>, ActorError> {
        let windowed = matches!(frame, Frame::Data { .. });
        let in_window = AtomicBool::new(windowed);
        let send = async {
            let permit = if windowed {
                Some(self.window.acquire().await)
            } else {
                None
            };
            in_window.store(false, Ordering::Relaxed);
            let sent = self.link.send(frame).await;
            if let (Ok(()), Some(permit)) = (&sent, permit) {
                permit.used();
            }
            sent
        };
        match tokio::time::timeout(self.options.timeout, send).await {
            Ok(Ok(())) => Ok(None),
            Ok(Err(_)) => Err(self.lost()),
            Err(_) => {
                self.metrics.proxy_timeouts.inc();
                Ok(Some(if in_window.load(Ordering::Relaxed) {
                    Stall::Window
                } else {
                    Stall::Link
                }))
            }
        }
    }

    /// Ends the session the way the failure mode says: in skip mode the failure is counted
    /// under `reason` and the proxy carries on (`Ok`); otherwise it is the proxy's error.
    pub(crate) fn give_up(&self, reason: SkipReason, error: ActorError) -> ActorResult {
        if self.options.failure_mode != FailureMode::Skip {
            return Err(error);
        }
        self.metrics.proxy_skipped(reason);
        let what = match reason {
            SkipReason::SendTimeout | SkipReason::TooLarge | SkipReason::BreakerOpen => {
                "dropped the message"
            }
            SkipReason::ReplyTimeout | SkipReason::RemoteError => "finishing without more replies",
        };
        tracing::warn!(process = %self.process, "skip mode, {what}: {error}");
        Ok(())
    }

    /// Counts a reply wait that ran out of time and says so.
    pub(crate) fn reply_timed_out(&self) -> ActorError {
        self.metrics.proxy_timeouts.inc();
        ActorError::new(format!(
            "timed out after {} ms waiting for `{}` to finish: nothing came back since the input ended",
            self.options.timeout.as_millis(),
            self.name
        ))
    }

    /// The remote actor stopped while this proxy's session was open.
    pub(crate) fn remote_failed(&self, error: &str) -> ActorError {
        ActorError::new(format!(
            "`{}` failed on the remote side: {error}",
            self.name
        ))
    }

    /// A message of this session, or a reply to it, was over the maximum message size.
    pub(crate) fn too_large(&self, refused: &Oversized) -> ActorError {
        let what = if refused.reply {
            format!("a reply of `{}` on `{}`", self.name, refused.port)
        } else {
            format!("a message to `{}` on `{}`", self.name, refused.port)
        };
        ActorError::new(format!(
            "{what} takes {} bytes, over the maximum message size of {} bytes (max_message_size)",
            refused.size, refused.limit
        ))
    }

    /// The link went down while the session was open.
    pub(crate) fn lost(&self) -> ActorError {
        ActorError::new(format!(
            "the link to `{}` closed before the remote actor finished",
            self.name
        ))
    }

    fn send_timed_out(&self, attempts: u32, stall: Stall) -> ActorError {
        let tries = match attempts {
            1 => String::new(),
            n => format!(" ({n} attempts)"),
        };
        let why = match stall {
            Stall::Window => format!(
                "the remote side has not taken this node's last {SESSION_WINDOW} messages: \
                 the remote actor is slow, or the replies it sends back wait for a slow \
                 consumer in this graph"
            ),
            Stall::Link => "the link did not take the message (it is congested, or down \
                 and waiting to be resumed)"
                .to_string(),
        };
        ActorError::new(format!(
            "timed out after {} ms sending to `{}`{tries}: {why}",
            self.options.timeout.as_millis(),
            self.name
        ))
    }
}

/// Where a send that ran out of time was waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stall {
    /// For room in the session's window: the remote side took nothing more.
    Window,
    /// For room in the link's outbox.
    Link,
}
