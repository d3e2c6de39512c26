//! The instances a proxy routes to, and its session (a leg) on each: membership follows the
//! hub's links while the proxy runs, so an instance that links later joins the rotation and
//! one whose link goes down leaves it at once.

use std::sync::Arc;

use reflow_network::{ActorError, ActorResult, Message, Origin, Outputs};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::forward;
use super::policy::{Candidate, Chooser, Policy};
use super::remote::Remote;
use super::shares::Shares;
use super::{ProxyOptions, REPLY_ROOM};
use crate::hub::{Direct, Hub};
use crate::net::LinkHandle;
use crate::protocol::Frame;

/// The proxy's session on one instance.
struct Leg {
    origin: Origin,
    remote: Arc<Remote>,
    direct: Direct,
    /// Tells the forwarder that this leg's input has ended, so the remote side's silence
    /// counts.
    ended: watch::Sender<bool>,
    forwarder: Option<JoinHandle<ActorResult>>,
}

/// One instance of the network that exports the actor.
struct Member {
    instance: String,
    link: LinkHandle,
    leg: Option<Leg>,
}

/// Everything a proxy routes over.
pub(super) struct Members {
    hub: Arc<Hub>,
    actor: String,
    network: String,
    process: String,
    options: ProxyOptions,
    policy: Policy,
    chooser: Chooser,
    list: Vec<Member>,
    changes: watch::Receiver<u64>,
    shares: Arc<Shares>,
}

impl Members {
    pub(super) fn new(
        hub: Arc<Hub>,
        (actor, network, process): (&str, &str, &str),
        options: ProxyOptions,
        policy: Policy,
        shares: Arc<Shares>,
    ) -> Self {
        let mut changes = hub.changes();
        changes.mark_changed();
        Members {
            hub,
            actor: actor.to_string(),
            network: network.to_string(),
            process: process.to_string(),
            options,
            policy,
            chooser: Chooser::default(),
            list: Vec::new(),
            changes,
            shares,
        }
    }

    /// Takes in instances that linked since the last look, and forgets those whose link was
    /// given up and that hold no session.
    fn refresh(&mut self) {
        if !self.changes.has_changed().unwrap_or(false) {
            return;
        }
        self.changes.borrow_and_update();
        for (instance, link) in self.hub.instances_exporting(&self.actor, &self.network) {
            if !self.list.iter().any(|m| m.link.id == link.id) {
                self.list.push(Member {
                    instance,
                    link,
                    leg: None,
                });
            }
        }
        self.list.retain(|m| m.leg.is_some() || !m.link.is_closed());
        for m in &self.list {
            self.shares.set_state(&m.instance, state_of(&m.link));
        }
    }

    /// The members that take new messages: linked and up; when none is up, those whose
    /// link waits to be resumed (a send then waits for it, within the timeout).
    fn candidates(&self) -> Vec<usize> {
        let live = |m: &Member| m.leg.as_ref().is_none_or(|l| !l.is_over());
        let up: Vec<usize> = (0..self.list.len())
            .filter(|&i| self.list[i].link.is_connected() && live(&self.list[i]))
            .collect();
        if !up.is_empty() {
            return up;
        }
        (0..self.list.len())
            .filter(|&i| !self.list[i].link.is_closed() && live(&self.list[i]))
            .collect()
    }

    /// Where `msg` goes, by the policy: indices into the member list.
    fn route(&mut self, msg: &Message) -> Result<Vec<usize>, ActorError> {
        self.refresh();
        let eligible = self.candidates();
        if eligible.is_empty() {
            return Err(ActorError::new(format!(
                "no instance of network `{}` that exports `{}` is linked",
                self.network, self.actor
            )));
        }
        let candidates: Vec<Candidate<'_>> = eligible
            .iter()
            .map(|&i| Candidate {
                instance: &self.list[i].instance,
                in_flight: self.list[i]
                    .leg
                    .as_ref()
                    .map_or(0, |l| l.remote.in_flight()),
            })
            .collect();
        let chosen = self
            .chooser
            .choose(&self.policy, &candidates, msg)
            .map_err(|reason| ActorError::new(format!("cannot route the message: {reason}")))?;
        Ok(chosen.into_iter().map(|c| eligible[c]).collect())
    }

    /// Sends `msg` on `port` where the policy says, opening sessions as needed.
    pub(super) async fn send(
        &mut self,
        port: &str,
        msg: Message,
        outputs: &Outputs,
    ) -> ActorResult {
        let targets = self.route(&msg)?;
        for i in targets {
            let leg = self.leg(i, outputs);
            let (origin, remote) = (leg.origin, leg.remote.clone());
            let frame = Frame::Data {
                seq: 0,
                actor: self.actor.clone(),
                port: port.to_string(),
                origin,
                payload: msg.clone(),
                trace: None,
            };
            if remote.send(frame).await? == super::remote::Sent::Delivered {
                self.shares.sent(&self.list[i].instance, 1);
            }
        }
        Ok(())
    }

    /// The session on member `i`, opened on first use.
    fn leg(&mut self, i: usize, outputs: &Outputs) -> &Leg {
        let leg = match self.list[i].leg.take() {
            Some(leg) => leg,
            None => self.open(&self.list[i].link, outputs),
        };
        self.list[i].leg.insert(leg)
    }

    /// Opens a session on `link`: replies come out of `outputs`, straight from the link while
    /// the input is open and through a forwarder task always.
    fn open(&self, link: &LinkHandle, outputs: &Outputs) -> Leg {
        let capacity = self.hub.config.local.capacity.max(REPLY_ROOM);
        let (origin, replies, window) = self.hub.open_session(link, capacity);
        let name = format!("{}@{}", self.actor, self.network);
        let metrics = self.hub.metrics.clone();
        let remote = Remote::new(
            link.clone(),
            name,
            &self.process,
            self.options.clone(),
            metrics,
        );
        let remote = Arc::new(remote.with_window(window));
        let direct = replies.direct();
        direct.open(outputs.clone());
        let ended = watch::channel(false).0;
        let task = forward::forward(replies, outputs.clone(), ended.subscribe(), remote.clone());
        Leg {
            origin,
            remote,
            direct,
            ended,
            forwarder: Some(tokio::spawn(task)),
        }
    }

    /// Whether a session is already over: its remote actor failed, or its link dropped it.
    pub(super) fn any_over(&self) -> bool {
        self.legs().any(Leg::is_over)
    }

    /// The outcome of the first session that is over.
    pub(super) async fn join_over(&mut self) -> ActorResult {
        for member in &mut self.list {
            if let Some(leg) = member.leg.as_mut().filter(|l| l.is_over()) {
                return leg.join().await;
            }
        }
        Ok(())
    }

    /// Ends the input of every session (opening one when none was, so that an empty stream
    /// ends remotely as it would locally), then waits for every session to end. The first
    /// failure is the outcome.
    pub(super) async fn end(&mut self, outputs: &Outputs) -> ActorResult {
        if self.legs().next().is_none() {
            self.refresh();
            let eligible = self.candidates();
            let take = match self.policy {
                Policy::Broadcast => eligible.len(),
                _ => 1,
            };
            for &i in eligible.iter().take(take) {
                self.leg(i, outputs);
            }
        }
        for member in &mut self.list {
            let Some(leg) = member.leg.as_mut() else {
                continue;
            };
            // From now on every reply passes the forwarder, which times the remote side's
            // silence.
            leg.direct.close();
            leg.remote.send(leg.end_frame(&self.actor)).await?;
            leg.ended.send_replace(true);
        }
        let mut outcome = Ok(());
        for member in &mut self.list {
            if let Some(leg) = member.leg.as_mut() {
                let result = leg.join().await;
                if outcome.is_ok() {
                    outcome = result;
                }
            }
        }
        outcome
    }

    /// The proxy is going away: forget every session, and tell the remote side of those
    /// whose input did not end.
    pub(super) fn stop(&mut self) {
        for member in &mut self.list {
            let Some(leg) = member.leg.as_mut() else {
                continue;
            };
            leg.direct.close();
            self.hub.close_session(leg.origin);
            if let Some(task) = leg.forwarder.take() {
                task.abort();
            }
            if !*leg.ended.borrow() {
                leg.remote.send_in_background(leg.end_frame(&self.actor));
            }
        }
    }

    fn legs(&self) -> impl Iterator<Item = &Leg> {
        self.list.iter().filter_map(|m| m.leg.as_ref())
    }
}

impl Leg {
    fn is_over(&self) -> bool {
        self.forwarder.as_ref().is_some_and(JoinHandle::is_finished)
    }

    async fn join(&mut self) -> ActorResult {
        match self.forwarder.take() {
            Some(task) => task.await.map_err(ActorError::new)?,
            None => Ok(()),
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

/// Where an instance stands for routing.
fn state_of(link: &LinkHandle) -> &'static str {
    if link.is_connected() {
        "up"
    } else if link.is_closed() {
        "gone"
    } else {
        "down"
    }
}
