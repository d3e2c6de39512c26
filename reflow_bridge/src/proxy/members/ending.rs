//! How a proxy's sessions end: the end of its input goes to every session (one is opened
//! for an empty stream), then it waits for each to end, recovering any lost meanwhile; and
//! what a proxy that goes away, or whose session failed, does.

use reflow_network::{ActorError, ActorResult, Outputs};

use super::{Leg, Members, Policy};

impl Members {
    /// Ends the input of every session (opening one when none was, so that an empty stream
    /// ends remotely as it would locally), then waits for every session to end, handing on
    /// the messages of any lost meanwhile. The first failure is the outcome.
    pub(in crate::proxy) async fn end(&mut self, outputs: &Outputs) -> ActorResult {
        self.recover(outputs).await?;
        if self.list.iter().all(|m| m.legs.is_empty()) {
            let eligible = self.route_targets_for_end().await?;
            for i in eligible {
                self.open_leg(i, outputs);
            }
        }
        loop {
            for leg in self.list.iter_mut().flat_map(|m| m.legs.iter_mut()) {
                leg.end_input(&self.actor).await?;
            }
            if self.all_finished().await? {
                return Ok(());
            }
            self.recover(outputs).await?;
        }
    }

    /// Where an empty stream's end goes: every instance when broadcasting, else one.
    async fn route_targets_for_end(&mut self) -> Result<Vec<usize>, ActorError> {
        let mut eligible = self.eligible().await?;
        if !matches!(self.policy, Policy::Broadcast) {
            eligible.truncate(1);
        }
        Ok(eligible)
    }

    /// Waits for every session to end: `true` when all did, `false` as soon as one is lost
    /// or its instance goes down while another is up (the caller recovers and waits again).
    async fn all_finished(&mut self) -> Result<bool, ActorError> {
        loop {
            // Looked at before the outcomes, which are final once set: a session that ends
            // between the two looks is seen by the second.
            let all_done = self.legs().all(Leg::is_done);
            self.join_failed().await?;
            let down = (0..self.list.len())
                .any(|i| !self.list[i].legs.is_empty() && self.declared_down(i));
            if down || self.legs().any(Leg::is_lost) {
                return Ok(false);
            }
            if all_done {
                return Ok(true);
            }
            let legs = self.list.iter_mut().flat_map(|m| m.legs.iter_mut());
            let Some(leg) = legs.into_iter().find(|l| !l.is_done()) else {
                continue;
            };
            tokio::select! {
                outcome = leg.wait() => outcome?,
                _ = self.changes.changed() => self.changes.mark_changed(),
            }
        }
    }

    /// The proxy is going away: forget every session, and tell the remote side of those
    /// whose input did not end.
    pub(in crate::proxy) fn stop(&mut self) {
        for leg in self.list.iter_mut().flat_map(|m| m.legs.iter_mut()) {
            leg.stop(&self.hub, &self.actor);
        }
    }

    /// Whether a session is over with a failure that ends the proxy (a lost one is
    /// recovered at the next message instead).
    pub(in crate::proxy) fn any_failed(&self) -> bool {
        self.legs().any(Leg::is_failed)
    }

    /// The failure of the first session that failed.
    pub(in crate::proxy) async fn join_failed(&mut self) -> ActorResult {
        for leg in self.list.iter_mut().flat_map(|m| m.legs.iter_mut()) {
            if leg.is_failed() {
                return leg.wait().await;
            }
        }
        Ok(())
    }
}
