//! The instances a proxy routes to, and its sessions (legs) on each. Membership follows the
//! hub's links while the proxy runs: an instance that links later joins the rotation, one
//! whose link goes down leaves it at once. A leg lost with its instance hands its messages
//! not yet done to the live instances ([`Members::recover`]), before any newer message.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;

use reflow_network::{ActorError, ActorResult, Message, Outputs};
use tokio::sync::watch;

use super::breaker::{Breaker, State};
use super::leg::Leg;
use super::policy::{Candidate, Chooser, Policy};
use super::shares::Shares;
use super::ProxyOptions;
use crate::hub::{Hub, Kept};
use crate::net::LinkHandle;

mod ending;

/// One instance of the network that exports the actor.
struct Member {
    instance: String,
    link: LinkHandle,
    /// Its sessions: the last takes new messages unless its input has ended.
    legs: Vec<Leg>,
    /// It was lost: no new messages until its link is up again.
    failed: bool,
    breaker: Breaker,
    /// Messages sent to it, as /status and /metrics show.
    sent: Arc<AtomicU64>,
}

impl Member {
    /// Whether it takes new messages now, its breaker aside.
    fn is_up(&self) -> bool {
        !self.failed && self.link.is_connected()
    }
}

/// Everything a proxy routes over.
pub(super) struct Members {
    hub: Arc<Hub>,
    /// The remote actor's name, shared by every message sent to it.
    actor: Arc<str>,
    network: String,
    process: String,
    options: ProxyOptions,
    policy: Policy,
    chooser: Chooser,
    list: Vec<Member>,
    changes: watch::Receiver<u64>,
    shares: Arc<Shares>,
    /// The inport names messages were sent to.
    ports: Vec<Arc<str>>,
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
            actor: actor.into(),
            network: network.to_string(),
            process: process.to_string(),
            options,
            policy,
            chooser: Chooser::default(),
            list: Vec::new(),
            changes,
            shares,
            ports: Vec::new(),
        }
    }

    /// Takes in instances that linked since the last look, lets a lost one whose link is up
    /// again back in, and forgets those whose link was given up and hold no session.
    fn refresh(&mut self) {
        if !self.changes.has_changed().unwrap_or(false) {
            return;
        }
        self.changes.borrow_and_update();
        for (instance, link) in self.hub.instances_exporting(&self.actor, &self.network) {
            match self.list.iter_mut().find(|m| m.link.id == link.id) {
                Some(member) => member.failed &= !link.is_connected(),
                None => self.list.push(Member {
                    sent: self.shares.counter(&instance),
                    instance,
                    link,
                    legs: Vec::new(),
                    failed: false,
                    breaker: Breaker::new(
                        self.options.breaker_failures,
                        self.options.breaker_cooldown,
                    ),
                }),
            }
        }
        self.list
            .retain(|m| !m.legs.is_empty() || !m.link.is_closed());
        for m in &self.list {
            self.shares.set_state(&m.instance, state_of(m));
        }
    }

    /// The members that take new messages: those up; when none is, those whose link waits
    /// to be resumed (a send then waits for it, within the timeout).
    fn candidates(&self) -> Vec<usize> {
        let up: Vec<usize> = (0..self.list.len())
            .filter(|&i| self.list[i].is_up())
            .collect();
        if !up.is_empty() {
            return up;
        }
        (0..self.list.len())
            .filter(|&i| !self.list[i].failed && !self.list[i].link.is_closed())
            .collect()
    }

    /// Where `msg` goes, by the policy: indices into the member list (none when every
    /// breaker is open and skip mode drops it). With no instance to take it, waits for one
    /// to link, at most the timeout.
    async fn route(&mut self, msg: &Message) -> Result<Vec<usize>, ActorError> {
        let mut eligible = self.eligible().await?;
        // The clock is read only when a breaker is not closed: it costs a system call on
        // some virtual machines.
        let now = eligible
            .iter()
            .any(|&i| self.list[i].breaker.state() != State::Closed)
            .then(tokio::time::Instant::now);
        if let Some(now) = now {
            eligible.retain(|&i| self.list[i].breaker.admits(now));
        }
        if eligible.is_empty() {
            return self.all_open().map(|()| Vec::new());
        }
        if eligible.len() == 1 && !matches!(self.policy, Policy::Key(_)) {
            // One instance: nothing to choose (a key is still computed, so that a key that
            // fails does so whatever the number of instances).
            if let Some(now) = now {
                let change = self.list[eligible[0]].breaker.sending(now);
                self.breaker_changed(eligible[0], change);
            }
            return Ok(eligible);
        }
        let candidates: Vec<Candidate<'_>> = eligible
            .iter()
            .map(|&i| Candidate {
                instance: &self.list[i].instance,
                in_flight: self.list[i].legs.last().map_or(0, Leg::in_flight),
            })
            .collect();
        let chosen = self
            .chooser
            .choose(&self.policy, &candidates, msg)
            .map_err(|reason| ActorError::new(format!("cannot route the message: {reason}")))?;
        let chosen: Vec<usize> = chosen.into_iter().map(|c| eligible[c]).collect();
        if let Some(now) = now {
            for &i in &chosen {
                let change = self.list[i].breaker.sending(now);
                self.breaker_changed(i, change);
            }
        }
        Ok(chosen)
    }

    /// Every instance's breaker is open: the failure mode applies at once (skip drops the
    /// message, counted; fail and retry fail the proxy).
    fn all_open(&self) -> ActorResult {
        let error = ActorError::new(format!(
            "the circuit breaker of every instance of `{}` that exports `{}` is open: \
             {} sends in a row ran out of time ({} ms); next probe after `breaker_cooldown_ms`",
            self.network,
            self.actor,
            self.options.breaker_failures,
            self.options.timeout.as_millis()
        ));
        if self.options.failure_mode != super::options::FailureMode::Skip {
            return Err(error);
        }
        self.hub
            .metrics
            .proxy_skipped(crate::metrics::SkipReason::BreakerOpen);
        tracing::warn!(process = %self.process, "skip mode, dropped the message: {error}");
        Ok(())
    }

    /// Reports a breaker that changed state.
    fn breaker_changed(&self, i: usize, change: Option<State>) {
        if let Some(state) = change {
            let member = &self.list[i];
            self.hub
                .report_breaker(&self.process, &member.instance, state.label());
            self.shares.set_state(&member.instance, state_of(member));
        }
    }

    /// The members that take new messages now ([`candidates`](Self::candidates)); with
    /// none, waits up to the timeout for one to link.
    async fn eligible(&mut self) -> Result<Vec<usize>, ActorError> {
        self.refresh();
        let eligible = self.candidates();
        if eligible.is_empty() {
            return self.wait_for_candidates().await;
        }
        Ok(eligible)
    }

    /// Whether member `i` is declared down: its link lost while another instance is up.
    fn declared_down(&self, i: usize) -> bool {
        let another_up = || (0..self.list.len()).any(|j| j != i && self.list[j].is_up());
        !self.list[i].link.is_connected() && another_up()
    }

    /// Waits up to the timeout for an instance to take messages (a restarted one, say).
    async fn wait_for_candidates(&mut self) -> Result<Vec<usize>, ActorError> {
        let deadline = tokio::time::Instant::now() + self.options.timeout;
        loop {
            let changed = tokio::time::timeout_at(deadline, self.changes.changed()).await;
            if !matches!(changed, Ok(Ok(()))) {
                return Err(ActorError::new(format!(
                    "no instance of network `{}` that exports `{}` is linked (waited {} ms)",
                    self.network,
                    self.actor,
                    self.options.timeout.as_millis()
                )));
            }
            self.changes.mark_changed();
            self.refresh();
            let eligible = self.candidates();
            if !eligible.is_empty() {
                return Ok(eligible);
            }
        }
    }

    /// Sends `msg` on `port` where the policy says, opening sessions as needed; first hands
    /// on what lost instances had not done.
    pub(super) async fn send(
        &mut self,
        port: &str,
        msg: Message,
        outputs: &Outputs,
    ) -> ActorResult {
        if self.changes.has_changed().unwrap_or(false) || self.needs_recovery() {
            self.recover(outputs).await?;
        }
        self.route_and_send(port, msg, outputs).await
    }

    async fn route_and_send(&mut self, port: &str, msg: Message, outputs: &Outputs) -> ActorResult {
        let port = self.port(port);
        if let Some(only) = self.only_target() {
            return self.send_to(only, &port, msg, outputs).await;
        }
        for i in self.route(&msg).await? {
            self.send_to(i, &port, msg.clone(), outputs).await?;
        }
        Ok(())
    }

    /// The one member a message goes to without choosing: the only one, up, its breaker
    /// closed, on a policy other than `key` (whose key must be computed all the same, so
    /// that a key that fails does so whatever the number of instances).
    fn only_target(&mut self) -> Option<usize> {
        self.refresh();
        let [only] = self.list.as_slice() else {
            return None;
        };
        let plain = !matches!(self.policy, Policy::Key(_));
        (plain && only.is_up() && only.breaker.state() == State::Closed).then_some(0)
    }

    /// Sends `msg` to member `i`, opening its session if needed, and counts the outcome.
    async fn send_to(
        &mut self,
        i: usize,
        port: &Arc<str>,
        msg: Message,
        outputs: &Outputs,
    ) -> ActorResult {
        let leg = self.open_leg(i, outputs);
        let leg = &self.list[i].legs[leg];
        let send = leg.send(&self.actor, port, msg);
        let Some(delivered) = self.unless_down(i, send).await else {
            // Kept by the session: the next recovery sends it to a live instance.
            return Ok(());
        };
        let member = &mut self.list[i];
        let change = if delivered? {
            member.sent.fetch_add(1, Ordering::Relaxed);
            member.breaker.succeeded()
        } else {
            member.breaker.failed(tokio::time::Instant::now())
        };
        self.breaker_changed(i, change);
        Ok(())
    }

    /// Runs `send` to member `i`, unless the member is declared down (its link lost while
    /// another instance is up) before it completes: a send waiting for room at an instance
    /// that died would otherwise wait until its link is given up. `None` then.
    async fn unless_down<T>(&self, i: usize, send: impl Future<Output = T>) -> Option<T> {
        let mut send = std::pin::pin!(send);
        if let Poll::Ready(done) = futures::poll!(&mut send) {
            return Some(done);
        }
        let (hub, mine) = (self.hub.clone(), self.list[i].link.clone());
        let (actor, network) = (self.actor.clone(), self.network.clone());
        let mut changes = hub.changes();
        let down = async move {
            loop {
                let another_up = || {
                    let others = hub.instances_exporting(&actor, &network);
                    others
                        .iter()
                        .any(|(_, l)| l.id != mine.id && l.is_connected())
                };
                if !mine.is_connected() && another_up() {
                    return;
                }
                if changes.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            done = send => Some(done),
            () = down => None,
        }
    }

    /// The index of the session on member `i` that takes messages, opened when there is
    /// none.
    fn open_leg(&mut self, i: usize, outputs: &Outputs) -> usize {
        let taking = self.list[i].legs.last().is_some_and(|l| !l.input_ended());
        if !taking {
            let name = format!("{}@{}", self.actor, self.network);
            let leg = Leg::open(
                &self.hub,
                &self.list[i].link,
                (name, &self.process),
                &self.options,
                outputs,
            );
            self.list[i].legs.push(leg);
        }
        self.list[i].legs.len() - 1
    }

    /// The name of inport `port`, shared by every message kept for it.
    fn port(&mut self, port: &str) -> Arc<str> {
        if let Some(known) = self.ports.iter().find(|p| &***p == port) {
            return known.clone();
        }
        let name: Arc<str> = port.into();
        self.ports.push(name.clone());
        name
    }

    /// Whether a session is over or its instance down (cheap: no allocation).
    fn needs_recovery(&self) -> bool {
        self.list.iter().any(|m| {
            !m.legs.is_empty() && (!m.link.is_connected() || m.legs.iter().any(Leg::is_over))
        })
    }

    /// Hands on the messages not done by sessions that are lost (their link was given up)
    /// or whose instance is down while another is up: each goes where the policy now
    /// says, in the order sent. A remote actor's failure ends the proxy as before.
    async fn recover(&mut self, outputs: &Outputs) -> ActorResult {
        self.refresh();
        let mut kept = Vec::new();
        for i in 0..self.list.len() {
            let down = self.declared_down(i);
            let lost: Vec<usize> = (0..self.list[i].legs.len())
                .filter(|&l| down || self.list[i].legs[l].is_over())
                .collect();
            for l in lost.into_iter().rev() {
                let leg = self.list[i].legs.remove(l);
                let messages = leg.give_up(&self.hub, &self.actor).await?;
                self.list[i].failed = true;
                kept.push((self.list[i].instance.clone(), messages));
            }
        }
        for (instance, messages) in kept {
            self.resend(&instance, messages, outputs).await?;
        }
        Ok(())
    }

    /// Sends again the messages `instance` did not finish, and reports them.
    async fn resend(
        &mut self,
        instance: &str,
        messages: Vec<Kept>,
        outputs: &Outputs,
    ) -> ActorResult {
        if messages.is_empty() {
            return Ok(());
        }
        let duplicates = messages.iter().filter(|k| k.replied).count() as u64;
        self.hub
            .report_resent(&self.process, instance, messages.len() as u64, duplicates);
        for kept in messages {
            self.route_and_send(&kept.port, kept.msg, outputs).await?;
        }
        Ok(())
    }

    fn legs(&self) -> impl Iterator<Item = &Leg> {
        self.list.iter().flat_map(|m| m.legs.iter())
    }
}

/// Where an instance stands for routing.
fn state_of(member: &Member) -> &'static str {
    if member.link.is_closed() {
        "gone"
    } else if !member.is_up() {
        "down"
    } else if member.breaker.state() != State::Closed {
        member.breaker.state().label()
    } else {
        "up"
    }
}
