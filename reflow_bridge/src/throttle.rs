//! Rate-limited warnings: the first of a kind is logged at once, the ones that follow within
//! the interval only counted, and the count said with the next one logged. A hostile or
//! misconfigured peer retrying in a loop then costs a line per interval, not per attempt.

use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// One kind of warning.
#[derive(Debug)]
pub(crate) struct Throttle {
    every: Duration,
    /// When the next line may be logged, and how many were held back since the last.
    state: Mutex<(Option<Instant>, u64)>,
}

impl Throttle {
    /// At most one line per `every`.
    pub(crate) fn new(every: Duration) -> Self {
        Throttle {
            every,
            state: Mutex::default(),
        }
    }

    /// Whether a line may be logged now; `Some(n)`: yes, and `n` were held back before it.
    pub(crate) fn allow(&self) -> Option<u64> {
        let now = Instant::now();
        let mut state = self.state.lock();
        let (next, held) = &mut *state;
        if next.is_some_and(|next| now < next) {
            *held += 1;
            return None;
        }
        *next = Some(now + self.every);
        Some(std::mem::take(held))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_line_per_interval_and_the_count_of_those_held_back() {
        let throttle = Throttle::new(Duration::from_secs(10));
        assert_eq!(throttle.allow(), Some(0));
        assert_eq!(throttle.allow(), None);
        assert_eq!(throttle.allow(), None);
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(throttle.allow(), Some(2));
        assert_eq!(throttle.allow(), None);
    }
}
