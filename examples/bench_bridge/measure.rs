//! Wall-clock and CPU time of one run, and the best of several.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What one run took: wall-clock time, and CPU time (user and system) of the whole process,
/// all threads, over the same interval.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sample {
    pub(crate) wall: Duration,
    /// `None` where `/proc/self/task` cannot be read.
    pub(crate) cpu: Option<Duration>,
}

impl Sample {
    /// Messages per second for `n` messages.
    pub(crate) fn rate(&self, n: i64) -> f64 {
        n as f64 / self.wall.as_secs_f64()
    }

    /// CPU nanoseconds per message for `n` messages.
    pub(crate) fn cpu_ns(&self, n: i64) -> Option<f64> {
        self.cpu.map(|cpu| cpu.as_secs_f64() * 1e9 / n as f64)
    }

    /// The best of two samples of the same setup: the shorter wall time and the lesser CPU
    /// time, each on its own (the least disturbed run of each).
    pub(crate) fn best(self, other: Sample) -> Sample {
        let cpu = match (self.cpu, other.cpu) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Sample {
            wall: self.wall.min(other.wall),
            cpu,
        }
    }
}

/// Started at the beginning of a run, stopped at its end.
pub(crate) struct Meter {
    wall: Instant,
    cpu: Option<ThreadTimes>,
}

impl Meter {
    pub(crate) fn start() -> Self {
        Meter {
            cpu: ThreadTimes::now(),
            wall: Instant::now(),
        }
    }

    pub(crate) fn stop(self) -> Sample {
        let wall = self.wall.elapsed();
        let cpu = ThreadTimes::now()
            .zip(self.cpu)
            .map(|(end, start)| end.since(&start));
        Sample { wall, cpu }
    }
}

/// CPU time of each thread of this process so far, in nanoseconds, from
/// `/proc/self/task/*/schedstat`: exact, where `/proc/self/stat` counts 10 ms ticks, too
/// coarse for a run of a few hundred milliseconds. A thread that ends during a run takes
/// its time with it; the runtime's worker threads live as long as the process.
struct ThreadTimes(HashMap<u32, u64>);

impl ThreadTimes {
    fn now() -> Option<ThreadTimes> {
        let mut times = HashMap::new();
        for task in std::fs::read_dir("/proc/self/task").ok()? {
            let task = task.ok()?;
            let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
                continue;
            };
            // A thread may end between listing and reading: skip it.
            if let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) {
                times.insert(tid, stat.split_whitespace().next()?.parse().ok()?);
            }
        }
        Some(ThreadTimes(times))
    }

    /// The CPU time spent since `start` by the threads alive now.
    fn since(&self, start: &ThreadTimes) -> Duration {
        let ns = self.0.iter().map(|(tid, &now)| {
            let before = start.0.get(tid).copied().unwrap_or(0);
            now.saturating_sub(before)
        });
        Duration::from_nanos(ns.sum())
    }
}
