//! The handle an actor gets in every hook: send on named outports, set a timer, stop.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::actor::ActorResult;
use crate::error::ActorError;
use crate::message::Message;

/// One message addressed to an inport of the receiving process.
#[derive(Debug)]
pub(crate) struct Packet {
    /// Index of the inport in the receiver's port table.
    pub(crate) port: u16,
    pub(crate) msg: Message,
}

/// One connection leaving an outport: the receiver's inbox and the inport index there.
#[derive(Debug, Clone)]
pub(crate) struct Edge {
    pub(crate) tx: mpsc::Sender<Packet>,
    pub(crate) port: u16,
}

/// An outport and every connection leaving it.
#[derive(Debug)]
pub(crate) struct OutPort {
    pub(crate) name: Arc<str>,
    pub(crate) edges: Vec<Edge>,
}

/// What an actor uses to talk to the network.
#[derive(Debug)]
pub struct Context {
    process: Arc<str>,
    outports: Vec<OutPort>,
    timer: Option<Instant>,
    stopped: bool,
    dropped: u64,
}

impl Context {
    pub(crate) fn new(process: Arc<str>, outports: Vec<OutPort>) -> Self {
        Context {
            process,
            outports,
            timer: None,
            stopped: false,
            dropped: 0,
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
        let lost = deliver(&out.edges, msg).await;
        if lost == 0 {
            return Ok(());
        }
        tracing::debug!(process = %self.process, port, lost, "receiver already finished");
        self.dropped += lost;
        if self.all_receivers_gone() {
            return Err(ActorError::disconnected(&self.process));
        }
        Ok(())
    }

    fn all_receivers_gone(&self) -> bool {
        self.outports
            .iter()
            .flat_map(|o| &o.edges)
            .all(|e| e.tx.is_closed())
    }

    /// Whether at least one connection leaves the outport `port`.
    pub fn is_connected(&self, port: &str) -> bool {
        self.outports
            .iter()
            .any(|o| &*o.name == port && !o.edges.is_empty())
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

/// Sends a copy of `msg` on every edge; returns how many receivers had gone.
async fn deliver(edges: &[Edge], msg: Message) -> u64 {
    let Some((last, rest)) = edges.split_last() else {
        return 0;
    };
    let mut lost = 0;
    for edge in rest {
        let packet = Packet {
            port: edge.port,
            msg: msg.clone(),
        };
        lost += u64::from(edge.tx.send(packet).await.is_err());
    }
    let packet = Packet {
        port: last.port,
        msg,
    };
    lost + u64::from(last.tx.send(packet).await.is_err())
}
