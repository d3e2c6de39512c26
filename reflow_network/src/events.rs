//! What a running network tells its observers, and the report it ends with.

use std::fmt;

/// A lifecycle event of a running network. Per-message activity is never an event; it is
/// traced at `trace` level only.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetworkEvent {
    /// A process began running.
    ProcessStarted {
        /// The process name.
        process: String,
    },
    /// A process finished normally: its inputs ended (or it stopped itself) and it flushed.
    ProcessFinished {
        /// The process name.
        process: String,
    },
    /// A process returned an error or panicked. The rest of the network keeps running.
    ProcessFailed {
        /// The process name.
        process: String,
        /// The error, or the panic message.
        error: String,
    },
    /// Every live process waits on an empty inbox with no timer armed.
    Idle,
    /// Processes are blocked sending into each other's full inboxes, so that none of them
    /// can ever go on. Each cycle lists its processes in the order they wait: each waits
    /// for room in the next one's inbox, the last in the first's (a process sending into
    /// its own full inbox is a cycle of one). The network then ends them as failed (see
    /// [`Report::deadlocked`]); the rest of it carries on.
    Deadlock {
        /// The cycles of blocked processes.
        cycles: Vec<Vec<String>>,
    },
    /// Every process has finished: the network completed.
    Done,
    /// The network was shut down; processes still running at the deadline were aborted.
    Stopped,
}

/// A process that failed, as reported at the end of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The process name.
    pub process: String,
    /// The error, or the panic message.
    pub error: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "process `{}` failed: {}", self.process, self.error)
    }
}

/// How a run ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Processes that finished normally.
    pub finished: Vec<String>,
    /// Processes that failed, in the order they failed.
    pub failures: Vec<Failure>,
    /// Processes still running at the shutdown deadline, which were aborted.
    pub aborted: Vec<String>,
    /// Processes that were deadlocked ([`NetworkEvent::Deadlock`]) and were ended: each is
    /// also among `failures`, with an error that starts with `deadlock:`.
    pub deadlocked: Vec<String>,
}

impl Report {
    /// True when no process failed and none had to be aborted.
    pub fn is_success(&self) -> bool {
        self.failures.is_empty() && self.aborted.is_empty()
    }
}
