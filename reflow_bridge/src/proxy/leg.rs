//! One session of a proxy on one instance: its messages go out within the session's window
//! and are kept until done; its replies come out of the proxy's outports, straight from the
//! link while its input is open and through a forwarder task always.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use reflow_network::{ActorError, ActorResult, Message, Origin, Outputs};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::forward::{self, Stopped};
use super::remote::{Remote, Sent};
use super::{ProxyOptions, REPLY_ROOM};
use crate::hub::{Direct, Hub, Kept, Pending};
use crate::net::LinkHandle;
use crate::protocol::Frame;

/// How a session's forwarder finished.
#[derive(Debug, Clone)]
enum Outcome {
    /// The remote side ended the session.
    Ended,
    /// The hub dropped the session (its link was given up, or the proxy closed it).
    Lost,
    /// The proxy's error.
    Failed(ActorError),
}

/// A proxy's session on one instance.
pub(super) struct Leg {
    origin: Origin,
    remote: Arc<Remote>,
    direct: Direct,
    /// Its messages not yet done at the exporting side.
    pending: Arc<Pending>,
    /// Tells the forwarder that the input has ended, so the remote side's silence counts.
    ended: watch::Sender<bool>,
    /// Whether the input has ended (what `ended` says, read without its lock).
    input_ended: bool,
    forwarder: Option<JoinHandle<()>>,
    outcome: Arc<Mutex<Option<Outcome>>>,
    /// Set once `outcome` is: read on every message without the lock.
    finished: Arc<AtomicBool>,
}

impl Leg {
    /// Opens a session on `link` for the remote actor `name` (`actor@network`) of the proxy
    /// of `process`; its replies come out of `outputs`.
    pub(super) fn open(
        hub: &Hub,
        link: &LinkHandle,
        (name, process): (String, &str),
        options: &ProxyOptions,
        outputs: &Outputs,
    ) -> Leg {
        let capacity = hub.config.local.capacity.max(REPLY_ROOM);
        let (origin, replies, window, pending) = hub.open_session(link, capacity);
        let metrics = hub.metrics.clone();
        let remote = Remote::new(link.clone(), name, process, options.clone(), metrics);
        let remote = Arc::new(remote.with_window(window));
        let direct = replies.direct();
        direct.open(outputs.clone());
        let ended = watch::channel(false).0;
        let outcome = Arc::new(Mutex::new(None));
        let task = forward::forward(replies, outputs.clone(), ended.subscribe(), remote.clone());
        let slot = outcome.clone();
        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        let forwarder = tokio::spawn(async move {
            let finished = match task.await {
                Ok(()) => Outcome::Ended,
                Err(Stopped::Lost) => Outcome::Lost,
                Err(Stopped::Failed(err)) => Outcome::Failed(err),
            };
            *slot.lock() = Some(finished);
            flag.store(true, Ordering::Release);
        });
        Leg {
            origin,
            remote,
            direct,
            pending,
            ended,
            input_ended: false,
            forwarder: Some(forwarder),
            outcome,
            finished,
        }
    }

    /// Messages sent and not yet taken by the remote side.
    pub(super) fn in_flight(&self) -> u64 {
        self.remote.in_flight()
    }

    /// Whether this session's input has ended (it takes no more messages).
    pub(super) fn input_ended(&self) -> bool {
        self.input_ended
    }

    /// Sends `msg` to `port` of `actor`, kept until done; `false` when skip mode dropped it.
    pub(super) async fn send(
        &self,
        actor: &Arc<str>,
        port: &Arc<str>,
        msg: Message,
    ) -> Result<bool, ActorError> {
        self.pending.push(port.clone(), msg.clone());
        let frame = Frame::Data {
            seq: 0,
            actor: actor.clone(),
            port: port.clone(),
            origin: self.origin,
            payload: msg,
            trace: None,
        };
        match self.remote.send(frame).await {
            Ok(Sent::Delivered) => Ok(true),
            Ok(Sent::Skipped) => {
                self.pending.unpush();
                Ok(false)
            }
            Err(err) => Err(err),
        }
    }

    /// Ends this session's input (once): from now on every reply passes the forwarder, which
    /// times the remote side's silence.
    pub(super) async fn end_input(&mut self, actor: &str) -> ActorResult {
        if self.input_ended() || self.is_done() {
            return Ok(());
        }
        self.direct.close();
        self.remote.send(self.end_frame(actor)).await?;
        self.ended.send_replace(true);
        self.input_ended = true;
        Ok(())
    }

    /// Whether the forwarder has finished, however.
    pub(super) fn is_done(&self) -> bool {
        self.outcome.lock().is_some()
    }

    /// Whether the session was dropped by the hub (its link was given up).
    pub(super) fn is_lost(&self) -> bool {
        matches!(*self.outcome.lock(), Some(Outcome::Lost))
    }

    /// Whether the session failed in a way that fails the proxy.
    pub(super) fn is_failed(&self) -> bool {
        matches!(*self.outcome.lock(), Some(Outcome::Failed(_)))
    }

    /// Whether the session is over for routing: lost or failed.
    pub(super) fn is_over(&self) -> bool {
        self.finished.load(Ordering::Acquire)
            && matches!(
                *self.outcome.lock(),
                Some(Outcome::Lost | Outcome::Failed(_))
            )
    }

    /// Waits for the forwarder to finish: its failure, if it failed (a lost session is
    /// `Ok`: its messages are recovered).
    pub(super) async fn wait(&mut self) -> ActorResult {
        if let Some(task) = self.forwarder.as_mut() {
            task.await.map_err(ActorError::new)?;
            self.forwarder = None;
        }
        match self.outcome.lock().clone() {
            Some(Outcome::Failed(err)) => Err(err),
            _ => Ok(()),
        }
    }

    /// Gives the session up: no more replies come from it (those that arrived are passed
    /// on first), the remote side is told to end it when its link is still there, and what
    /// it did not finish is returned, in the order sent. The remote actor's failure is the
    /// error.
    pub(super) async fn give_up(mut self, hub: &Hub, actor: &str) -> Result<Vec<Kept>, ActorError> {
        self.direct.close();
        hub.close_session(self.origin);
        self.wait().await?;
        if !self.input_ended() && !self.remote.link_closed() {
            self.remote.send_in_background(self.end_frame(actor));
        }
        self.remote.hand_on(self.origin);
        Ok(self.pending.take())
    }

    /// The proxy is going away: forgets the session, and tells the remote side when its
    /// input did not end.
    pub(super) fn stop(&mut self, hub: &Hub, actor: &str) {
        self.direct.close();
        hub.close_session(self.origin);
        if let Some(task) = self.forwarder.take() {
            task.abort();
        }
        if !self.input_ended() {
            self.remote.send_in_background(self.end_frame(actor));
        }
    }

    fn end_frame(&self, actor: &str) -> Frame {
        Frame::End {
            seq: 0,
            actor: actor.to_string(),
            origin: self.origin,
        }
    }
}
