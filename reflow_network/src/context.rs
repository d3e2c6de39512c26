//! The handle an actor gets in every hook: send on named outports, set a timer, stop.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::actor::ActorResult;
use crate::edge::{all_closed, deliver, Origin, OutPort};
use crate::error::ActorError;
use crate::external::{Outputs, TapRef, Tapped};
use crate::message::Message;
use crate::stall::Stall;

/// What an actor uses to talk to the network.
#[derive(Debug)]
pub struct Context {
    process: Arc<str>,
    outports: Vec<OutPort>,
    timer: Option<Instant>,
    stopped: bool,
    dropped: u64,
    /// Who caused the message being handled (0 outside `on_message`).
    origin: Origin,
    /// Copies of every output, with its origin, for a bridge that exports this process.
    tap: Option<TapRef>,
    /// Counts this process blocked while a send waits for room (none for a lone instance,
    /// which has no connections).
    stall: Option<Arc<Stall>>,
}

impl Context {
    pub(crate) fn new(
        process: Arc<str>,
        outports: Vec<OutPort>,
        tap: Option<TapRef>,
        stall: Option<Arc<Stall>>,
    ) -> Self {
        Context {
            process,
            outports,
            timer: None,
            stopped: false,
            dropped: 0,
            origin: 0,
            tap,
            stall,
        }
    }

    /// The name of this process in the graph.
    pub fn process_name(&self) -> &str {
        &self.process
    }

    /// Sends `msg` on the outport `port`: a copy to every connection leaving it, each in
    /// order. Waits while a receiving inbox is full (backpressure). A message for an outport
    /// with no connection is discarded; a message for a receiver that has already finished
    /// is discarded and counted.
    ///
    /// Fails when the process has no outport of that name, and with
    /// [`ActorError::disconnected`] once every receiver on every outport has finished, so
    /// that a source feeding nobody stops (pass it on with `?`; the process then ends
    /// normally).
    pub async fn send(&mut self, port: &str, msg: Message) -> ActorResult {
        let Some(out) = self.outports.iter().find(|o| &*o.name == port) else {
            return Err(self.unknown_port(port));
        };
        if let Some(tap) = &self.tap {
            let copy = Tapped::message(out.name.clone(), self.origin, msg.clone());
            tap.0.tapped(copy).await;
        }
        let lost = deliver(&out.edges, msg, self.stall.as_ref()).await;
        if lost == 0 {
            return Ok(());
        }
        tracing::debug!(process = %self.process, port, lost, "receiver already finished");
        self.dropped += lost;
        if self.tap.is_none() && all_closed(&self.outports) {
            return Err(ActorError::disconnected(&self.process));
        }
        Ok(())
    }

    /// A handle that sends on this process's outports from elsewhere, for example from a
    /// task the actor spawned to bring in messages from outside the graph. While a handle
    /// lives, the receivers downstream do not see this process's end of stream.
    pub fn outputs(&self) -> Outputs {
        Outputs::new(self.process.clone(), self.outports.clone())
    }

    /// Who caused the message being handled: 0 for the local graph, else the remote
    /// session it came from.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    pub(crate) fn set_origin(&mut self, origin: Origin) {
        self.origin = origin;
    }

    /// Tells the tap that `n` messages were taken from the inbox.
    pub(crate) fn taken(&self, n: usize) {
        if let Some(tap) = &self.tap {
            tap.0.taken(n);
        }
    }

    /// Tells the tap that a message has been handled.
    pub(crate) fn handled(&self) {
        if let Some(tap) = &self.tap {
            tap.0.handled();
        }
    }

    /// Passes the end of `origin`'s stream on to the tap, after every output it caused.
    pub(crate) async fn end_origin(&mut self, origin: Origin) {
        if let Some(tap) = &self.tap {
            tap.0.tapped(Tapped::end(origin)).await;
        }
    }

    /// Whether at least one connection leaves the outport `port`, or the process is tapped
    /// (exported: its outputs go to remote sessions, whose own graphs decide what to do with
    /// them).
    pub fn is_connected(&self, port: &str) -> bool {
        self.outports
            .iter()
            .any(|o| &*o.name == port && (!o.edges.is_empty() || self.tap.is_some()))
    }

    /// Messages discarded so far because their receiver had already finished.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Arms the timer to fire once after `after`, replacing any earlier setting. The
    /// runtime then calls [`Actor::on_timer`](crate::Actor::on_timer).
    pub fn set_timer(&mut self, after: Duration) {
        self.timer = Some(Instant::now() + after);
    }

    /// Arms the timer to fire at `at`, replacing any earlier setting.
    pub fn set_timer_at(&mut self, at: Instant) {
        self.timer = Some(at);
    }

    /// Disarms the timer.
    pub fn clear_timer(&mut self) {
        self.timer = None;
    }

    /// When the timer fires next, if it is armed.
    pub fn timer(&self) -> Option<Instant> {
        self.timer
    }

    /// Asks the runtime to finish this process after the current hook returns, even if
    /// its inputs are still open.
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// Whether [`stop`](Self::stop) was called.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    pub(crate) fn take_timer(&mut self) -> Option<Instant> {
        self.timer.take()
    }

    pub(crate) fn close_outports(&mut self) {
        self.outports.clear();
    }

    fn unknown_port(&self, port: &str) -> ActorError {
        let known: Vec<&str> = self.outports.iter().map(|o| &*o.name).collect();
        ActorError::new(format!(
            "process `{}` has no outport `{port}` (outports: {})",
            self.process,
            known.join(", ")
        ))
    }
}
