//! Errors of the core crate: what an actor reports, what a component's configuration
//! rejects, and what building or running a network can fail with.

use std::fmt;

use crate::graph::Problems;

/// The error an actor returns from one of its hooks. The runtime reports it as a
/// `ProcessFailed` event with the process name, and stops that process only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorError {
    message: String,
    disconnected: bool,
}

impl ActorError {
    /// An error with the given reason.
    pub fn new(reason: impl fmt::Display) -> Self {
        ActorError {
            message: reason.to_string(),
            disconnected: false,
        }
    }

    /// Every receiver downstream of the process has finished, so nothing it sends can have
    /// an effect. [`Context::send`](crate::Context::send) returns this; a hook that passes
    /// it on (with `?`) ends the process normally, not as a failure.
    pub fn disconnected(process: &str) -> Self {
        ActorError {
            message: format!("every receiver downstream of `{process}` has finished"),
            disconnected: true,
        }
    }

    /// Whether this is the [`disconnected`](Self::disconnected) signal.
    pub fn is_disconnected(&self) -> bool {
        self.disconnected
    }

    /// The reason.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ActorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ActorError {}

impl From<ConfigError> for ActorError {
    fn from(err: ConfigError) -> Self {
        ActorError::new(err)
    }
}

/// A component rejected the configuration (process `metadata`) it was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    /// An error with the given reason.
    pub fn new(reason: impl fmt::Display) -> Self {
        ConfigError {
            message: reason.to_string(),
        }
    }
}

impl From<serde_json::Error> for ConfigError {
    /// A `serde_json` error from reading settings (`serde_json::from_value`, or
    /// `reflow::actors::config::parse`): a missing or unknown field, a wrong type; its text
    /// becomes the configuration error's reason.
    fn from(err: serde_json::Error) -> Self {
        ConfigError::new(err)
    }
}

/// Errors from building, validating or running a network.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The graph has problems; every one is listed with its location.
    #[error("{0}")]
    Invalid(Problems),
    /// No component of that name is registered.
    #[error("unknown component `{name}`{}", suggestion(.nearest))]
    UnknownComponent {
        /// The name asked for.
        name: String,
        /// The closest registered name, if any is close.
        nearest: Option<String>,
    },
    /// A process of that name already exists.
    #[error("duplicate process `{0}`")]
    DuplicateProcess(String),
    /// No process of that name exists.
    #[error("no process named `{0}`")]
    UnknownProcess(String),
    /// The process has no port of that name in that direction.
    #[error("process `{process}` has no {direction} `{port}`")]
    UnknownPort {
        /// The process.
        process: String,
        /// The port asked for.
        port: String,
        /// `inport` or `outport`.
        direction: &'static str,
    },
    /// A component rejected its configuration.
    #[error("process `{process}`: bad configuration: {source}")]
    Config {
        /// The process.
        process: String,
        /// The component's reason.
        source: ConfigError,
    },
    /// A remote actor (`actor@network`) was named but no bridge can resolve it.
    #[error("process `{process}`: cannot reach `{actor}@{network}`: {reason}")]
    NetworkUnreachable {
        /// The local process name.
        process: String,
        /// The remote actor.
        actor: String,
        /// The remote network.
        network: String,
        /// Why it cannot be reached.
        reason: String,
    },
    /// The remote network is reachable but does not export that actor (`X` in `X@network`
    /// is the name of the exported process, case included).
    #[error("process `{process}`: network `{network}` exports no actor `{actor}`{hint}")]
    ActorNotFound {
        /// The local process name.
        process: String,
        /// The remote actor.
        actor: String,
        /// The remote network.
        network: String,
        /// What the network exports instead, for people: `; did you mean ...`, or empty.
        hint: String,
    },
    /// The network was already started.
    #[error("the network is already running")]
    AlreadyStarted,
    /// Reading a graph file failed.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

fn suggestion(nearest: &Option<String>) -> String {
    match nearest {
        Some(name) => format!(" (did you mean `{name}`?)"),
        None => String::new(),
    }
}
