//! The circuit breaker of one proxy towards one instance: after `failures` sends in a row
//! that ran out of time, the instance gets no traffic for `cooldown`; then one message
//! probes it (half-open): delivered in time, the breaker closes; not, it opens again.

use std::time::Duration;

use tokio::time::Instant;

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Traffic flows.
    Closed,
    /// No traffic until the cooldown ends.
    Open,
    /// One probe is (or may be) on its way.
    HalfOpen,
}

impl State {
    /// The state's name in /status, events and /metrics.
    pub(crate) fn label(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
        }
    }
}

/// A proxy's breaker for one instance.
#[derive(Debug)]
pub(crate) struct Breaker {
    /// Consecutive failures that open it; 0 turns it off.
    failures: u32,
    cooldown: Duration,
    state: State,
    /// Failures in a row while closed.
    streak: u32,
    /// While open: when the cooldown ends.
    until: Instant,
    /// While half-open: whether the probe has been sent.
    probing: bool,
}

impl Breaker {
    pub(crate) fn new(failures: u32, cooldown: Duration) -> Self {
        Breaker {
            failures,
            cooldown,
            state: State::Closed,
            streak: 0,
            until: Instant::now(),
            probing: false,
        }
    }

    pub(crate) fn state(&self) -> State {
        self.state
    }

    /// Whether the instance may take a message now (without taking the probe's turn).
    pub(crate) fn admits(&self, now: Instant) -> bool {
        match self.state {
            State::Closed => true,
            State::Open => now >= self.until,
            State::HalfOpen => !self.probing,
        }
    }

    /// A message goes to the instance: when the cooldown is over, it is the probe. The new
    /// state when that changed it.
    pub(crate) fn sending(&mut self, now: Instant) -> Option<State> {
        match self.state {
            State::Open if now >= self.until => {
                self.state = State::HalfOpen;
                self.probing = true;
                Some(State::HalfOpen)
            }
            State::HalfOpen => {
                self.probing = true;
                None
            }
            _ => None,
        }
    }

    /// The message went out in time. The new state when that changed it.
    pub(crate) fn succeeded(&mut self) -> Option<State> {
        self.streak = 0;
        (self.state == State::HalfOpen).then(|| {
            self.state = State::Closed;
            self.probing = false;
            State::Closed
        })
    }

    /// The message did not go out in time. The new state when that changed it.
    pub(crate) fn failed(&mut self, now: Instant) -> Option<State> {
        self.streak += 1;
        let opens = match self.state {
            State::Closed => self.failures > 0 && self.streak >= self.failures,
            State::HalfOpen => true,
            State::Open => false,
        };
        opens.then(|| {
            self.state = State::Open;
            self.probing = false;
            self.until = now + self.cooldown;
            State::Open
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOLDOWN: Duration = Duration::from_millis(500);

    #[test]
    fn opens_after_the_failures_in_a_row_and_a_success_resets_the_count() {
        let now = Instant::now();
        let mut b = Breaker::new(3, COOLDOWN);
        assert_eq!(b.failed(now), None);
        assert_eq!(b.failed(now), None);
        assert_eq!(b.succeeded(), None);
        assert_eq!(b.failed(now), None);
        assert_eq!(b.failed(now), None);
        assert_eq!(b.failed(now), Some(State::Open));
        assert!(!b.admits(now));
        assert!(!b.admits(now + COOLDOWN / 2));
    }

    #[test]
    fn after_the_cooldown_one_probe_decides() {
        let now = Instant::now();
        let mut b = Breaker::new(2, COOLDOWN);
        b.failed(now);
        assert_eq!(b.failed(now), Some(State::Open));
        let later = now + COOLDOWN;
        assert!(b.admits(later));
        assert_eq!(b.sending(later), Some(State::HalfOpen));
        assert!(!b.admits(later), "one probe at a time");
        assert_eq!(
            b.failed(later),
            Some(State::Open),
            "a failed probe opens it again"
        );
        assert!(!b.admits(later));

        let again = later + COOLDOWN;
        assert_eq!(b.sending(again), Some(State::HalfOpen));
        assert_eq!(b.succeeded(), Some(State::Closed));
        assert!(b.admits(again));
        assert_eq!(b.failed(again), None, "closed again, the count starts over");
    }

    #[test]
    fn zero_failures_turns_it_off() {
        let now = Instant::now();
        let mut b = Breaker::new(0, COOLDOWN);
        for _ in 0..100 {
            assert_eq!(b.failed(now), None);
        }
        assert!(b.admits(now));
    }
}
