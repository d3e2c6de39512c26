//! When to redial a lost link: exponential backoff from `initial` to `max`, with "equal
//! jitter" (each delay is uniform between half and all of the nominal one), so that many
//! instances that lost the same peer do not redial in step and a flapping link is not
//! hammered.

use std::time::Duration;

use rand::Rng;

/// Successive redial delays of one lost link.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// Delays starting at `initial`, never above `max`.
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial: initial.max(Duration::from_micros(1)),
            max: max.max(initial),
            attempt: 0,
        }
    }

    /// The nominal delay of the next attempt, before jitter: doubles each time, capped.
    pub(crate) fn nominal(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The delay before the next attempt, jittered, and counts the attempt.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let nominal = self.nominal();
        self.attempt = self.attempt.saturating_add(1);
        let half = nominal / 2;
        let jitter = rand::rng().random_range(0..=half.as_micros().max(1));
        half + Duration::from_micros(u64::try_from(jitter).unwrap_or(u64::MAX))
    }

    /// How many attempts were made.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests;
