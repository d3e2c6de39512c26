//! Ways in and out of a running network from outside the graph, for a bridge: an
//! [`Injector`] puts messages into a process's inbox on behalf of a remote session, a tap
//! receives a copy of everything a process sends ([`Tapped`]), and [`Outputs`] sends on a
//! process's outports from a task.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::actor::ActorResult;
use crate::edge::{deliver, Origin, OutPort, Packet};
use crate::error::ActorError;
use crate::message::Message;

/// A copy of one output of a tapped process, or the end of one origin's stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Tapped {
    /// The outport (empty for an end marker).
    pub port: Arc<str>,
    /// Who caused it: 0 when the process emitted it on its own (on start, on a timer, or
    /// while handling a local message).
    pub origin: Origin,
    /// The message, or `None` when every output caused by `origin` has been sent.
    pub msg: Option<Message>,
}

impl Tapped {
    pub(crate) fn message(port: Arc<str>, origin: Origin, msg: Message) -> Self {
        Tapped {
            port,
            origin,
            msg: Some(msg),
        }
    }

    pub(crate) fn end(origin: Origin) -> Self {
        Tapped {
            port: Arc::from(""),
            origin,
            msg: None,
        }
    }
}

/// Where a tapped process's copies go ([`Network::tap_with`](crate::Network::tap_with)).
/// Called in the process's own task, after its output and before the local receivers get
/// it: the process waits until the returned future completes, so a tap that forwards
/// elsewhere does so without a task of its own in between, and pushes back when it must.
/// Dropped when the process has ended, however it ended.
pub trait Tap: Send + Sync + 'static {
    /// Takes one copy or end marker.
    fn tapped(&self, tapped: Tapped) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;

    /// The process took `n` messages out of its inbox to handle them (room for `n` more):
    /// a bridge grants a remote sender that much credit. Does nothing by default.
    fn taken(&self, n: usize) {
        let _ = n;
    }

    /// The process finished handling one message (its `on_message` returned), after every
    /// output that message caused reached [`tapped`](Tap::tapped): a bridge reports the
    /// message done to its sender. Does nothing by default.
    fn handled(&self) {}
}

/// A tap as the process holds it.
#[derive(Clone)]
pub(crate) struct TapRef(pub(crate) Arc<dyn Tap>);

impl fmt::Debug for TapRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Tap")
    }
}

/// The tap of [`Network::tap`](crate::Network::tap): a bounded channel.
pub(crate) struct ChannelTap(pub(crate) mpsc::Sender<Tapped>);

impl Tap for ChannelTap {
    fn tapped(&self, tapped: Tapped) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            // A receiver that stopped listening simply no longer sees copies.
            let _ = self.0.send(tapped).await;
        })
    }
}

/// Puts messages into one process's inbox from outside the graph, tagged with the remote
/// session (`origin`, never 0) they come from. Waits while the inbox is full. While an
/// injector exists the process's inputs stay open.
#[derive(Debug, Clone)]
pub struct Injector {
    process: Arc<str>,
    inports: Arc<[String]>,
    tx: mpsc::Sender<Packet>,
}

impl Injector {
    pub(crate) fn new(process: Arc<str>, inports: Arc<[String]>, tx: mpsc::Sender<Packet>) -> Self {
        Injector {
            process,
            inports,
            tx,
        }
    }

    /// The process this injector feeds.
    pub fn process(&self) -> &str {
        &self.process
    }

    /// The inports of the process.
    pub fn inports(&self) -> &[String] {
        &self.inports
    }

    /// Delivers `msg` to the inport `port` on behalf of `origin`.
    pub async fn send(&self, port: &str, origin: Origin, msg: Message) -> ActorResult {
        let ix = self.index(port)?;
        self.push(Packet {
            port: ix,
            origin,
            msg: Some(msg),
        })
        .await
    }

    /// Marks the end of `origin`'s stream: once every message before it is handled, the
    /// process's tap sees `Tapped { origin, msg: None }`.
    pub async fn end(&self, origin: Origin) -> ActorResult {
        self.push(Packet {
            port: 0,
            origin,
            msg: None,
        })
        .await
    }

    async fn push(&self, packet: Packet) -> ActorResult {
        self.tx
            .send(packet)
            .await
            .map_err(|_| ActorError::new(format!("process `{}` has finished", self.process)))
    }

    /// Delivers `msg` like [`Injector::send`] if the inbox has room now, without waiting.
    pub fn try_send(&self, port: &str, origin: Origin, msg: Message) -> Result<(), TryInjectError> {
        let ix = self.index(port).map_err(TryInjectError::Failed)?;
        let packet = Packet {
            port: ix,
            origin,
            msg: Some(msg),
        };
        self.tx.try_send(packet).map_err(|err| match err {
            mpsc::error::TrySendError::Full(packet) => match packet.msg {
                Some(msg) => TryInjectError::Full(msg),
                None => TryInjectError::Failed(ActorError::new("an end was given back")),
            },
            mpsc::error::TrySendError::Closed(_) => TryInjectError::Failed(ActorError::new(
                format!("process `{}` has finished", self.process),
            )),
        })
    }

    fn index(&self, port: &str) -> Result<u16, ActorError> {
        let ix = self.inports.iter().position(|p| p == port).ok_or_else(|| {
            ActorError::new(format!(
                "process `{}` has no inport `{port}` (inports: {})",
                self.process,
                self.inports.join(", ")
            ))
        })?;
        u16::try_from(ix).map_err(ActorError::new)
    }
}

/// Why [`Injector::try_send`] did not deliver.
#[derive(Debug)]
pub enum TryInjectError {
    /// The inbox is full: the message is handed back, to send later.
    Full(Message),
    /// The port is unknown or the process has finished.
    Failed(ActorError),
}

/// Sends on a process's outports from outside its hooks (see [`Context::outputs`]).
///
/// [`Context::outputs`]: crate::Context::outputs
#[derive(Debug, Clone)]
pub struct Outputs {
    process: Arc<str>,
    outports: Vec<OutPort>,
}

impl Outputs {
    pub(crate) fn new(process: Arc<str>, outports: Vec<OutPort>) -> Self {
        Outputs { process, outports }
    }

    /// Sends `msg` on `port` to every connection leaving it, waiting while a receiver is
    /// full. Fails only for an unknown outport.
    pub async fn send(&self, port: &str, msg: Message) -> ActorResult {
        // Not counted as blocked while it waits: a task is no process, and cannot free room
        // in any inbox, so it neither makes nor breaks a deadlock among processes.
        deliver(&self.outport(port)?.edges, msg, None).await;
        Ok(())
    }

    /// Sends like [`send`](Self::send) if every receiver has room now, without waiting;
    /// otherwise sends nothing and hands `msg` back. A receiver that has finished is
    /// skipped, as `send` does.
    pub fn try_send(&self, port: &str, msg: Message) -> Result<(), TryOutputError> {
        let out = match self.outport(port) {
            Ok(out) => out,
            Err(err) => return Err(TryOutputError::Failed(err, msg)),
        };
        let mut permits = Vec::with_capacity(out.edges.len());
        for edge in &out.edges {
            match edge.tx.try_reserve() {
                Ok(permit) => permits.push((permit, edge.port)),
                Err(mpsc::error::TrySendError::Full(())) => return Err(TryOutputError::Full(msg)),
                Err(mpsc::error::TrySendError::Closed(())) => {}
            }
        }
        let Some((last, last_port)) = permits.pop() else {
            return Ok(());
        };
        for (permit, port) in permits {
            permit.send(Packet::local(port, msg.clone()));
        }
        last.send(Packet::local(last_port, msg));
        Ok(())
    }

    fn outport(&self, port: &str) -> Result<&OutPort, ActorError> {
        self.outports
            .iter()
            .find(|o| &*o.name == port)
            .ok_or_else(|| {
                ActorError::new(format!(
                    "process `{}` has no outport `{port}`",
                    self.process
                ))
            })
    }
}

/// Why [`Outputs::try_send`] did not send.
#[derive(Debug)]
pub enum TryOutputError {
    /// A receiver is full: the message is handed back, to send later.
    Full(Message),
    /// The outport is unknown: the error, and the message handed back.
    Failed(ActorError, Message),
}
