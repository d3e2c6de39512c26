//! The bridge's errors, one enum that callers match on.

/// What went wrong with a link's socket, by the cases callers act on differently.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The peer sent a WebSocket message larger than this side reads (answered with 1009).
    #[error("message too long: {0}")]
    TooLong(String),
    /// The connection ended without a WebSocket close.
    #[error("the connection ended without a close")]
    Ended,
    /// The upgrade to WebSocket, the socket or the WebSocket protocol failed.
    #[error("{0}")]
    Failed(String),
}

impl From<tokio_tungstenite::tungstenite::Error> for TransportError {
    fn from(err: tokio_tungstenite::tungstenite::Error) -> Self {
        use tokio_tungstenite::tungstenite::Error;
        match err {
            Error::Capacity(why) => TransportError::TooLong(why.to_string()),
            Error::ConnectionClosed | Error::AlreadyClosed => TransportError::Ended,
            other => TransportError::Failed(other.to_string()),
        }
    }
}

impl From<axum::Error> for TransportError {
    fn from(err: axum::Error) -> Self {
        // axum carries the same tungstenite error inside.
        match err
            .into_inner()
            .downcast::<tokio_tungstenite::tungstenite::Error>()
        {
            Ok(err) => TransportError::from(*err),
            Err(other) => TransportError::Failed(other.to_string()),
        }
    }
}

/// What a bridge operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// The peer refused our token, or could not prove its own.
    #[error("authentication failed: {0}")]
    AuthenticationFailed(String),
    /// This instance or the peer has no token configured.
    #[error("missing token: {0}")]
    MissingToken(String),
    /// The peer speaks another protocol version.
    #[error("protocol version mismatch: we speak {ours}, the peer speaks {theirs}")]
    VersionMismatch {
        /// Our version.
        ours: u16,
        /// The peer's version.
        theirs: u16,
    },
    /// The peer already has a link with an instance of this id.
    #[error("duplicate instance id `{0}`")]
    DuplicateInstance(String),
    /// The peer is at its connection limit.
    #[error("the peer refused the connection: too many connections")]
    TooManyConnections,
    /// The peer refused for another reason.
    #[error("refused by the peer: {0}")]
    Refused(String),
    /// The peer broke the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// No link to that network is up.
    #[error("network `{network}` is unreachable: {reason}")]
    NetworkUnreachable {
        /// The network asked for.
        network: String,
        /// Why.
        reason: String,
    },
    /// The network is reachable but does not export that actor (`X` in `X@network` is the
    /// name of the exported process on the other instance, case included).
    #[error("network `{network}` exports no actor `{actor}`{}", exports_hint(.exported))]
    ActorNotFound {
        /// The actor asked for.
        actor: String,
        /// The network asked for.
        network: String,
        /// What its linked instances export, nearest name to `actor` first.
        exported: Vec<String>,
    },
    /// A name clash the chosen strategy refused.
    #[error(transparent)]
    Alias(#[from] crate::alias::AliasError),
    /// The link closed while the operation was under way.
    #[error("the link to `{0}` closed")]
    LinkClosed(String),
    /// Connecting, binding or another I/O step failed. The message names the step; the
    /// cause is the error's source.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// TLS with a peer failed: its certificate is not trusted, or one side speaks TLS and
    /// the other does not. No link is made, and retrying will not help.
    #[error("TLS with {address}: {reason}")]
    Tls {
        /// The peer's `HOST:PORT`.
        address: String,
        /// What went wrong, in the user's terms.
        reason: String,
    },
    /// The WebSocket connection failed.
    #[error("websocket: {0}")]
    WebSocket(#[from] TransportError),
    /// The local network failed to build or start.
    #[error(transparent)]
    Network(#[from] reflow_network::Error),
    /// A configuration value is not usable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The bridge was already started, or is not started yet.
    #[error("{0}")]
    State(&'static str),
}

impl BridgeError {
    /// Whether the same call may succeed if tried again later: the peer is not up yet or
    /// the connection dropped (`Io`, `WebSocket`, `TooManyConnections`, `LinkClosed`,
    /// `NetworkUnreachable`, `DuplicateInstance` while an old link of a restarted peer is
    /// still up). Everything else is final until something changes: a wrong token, a TLS
    /// or protocol refusal, a bad configuration, an actor the network does not export.
    ///
    /// ```
    /// use reflow_bridge::BridgeError;
    ///
    /// assert!(BridgeError::TooManyConnections.is_temporary());
    /// assert!(!BridgeError::AuthenticationFailed("bad proof".into()).is_temporary());
    /// ```
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            BridgeError::Io { .. }
                | BridgeError::WebSocket(_)
                | BridgeError::TooManyConnections
                | BridgeError::LinkClosed(_)
                | BridgeError::NetworkUnreachable { .. }
                | BridgeError::DuplicateInstance(_)
        )
    }
}

/// `; did you mean `X`? (it exports X, Y)` for a list of exports, nearest first.
pub(crate) fn exports_hint(exported: &[String]) -> String {
    match exported {
        [] => " (it exports nothing)".to_string(),
        [nearest, ..] => format!(
            "; did you mean `{nearest}`? (it exports {})",
            exported.join(", ")
        ),
    }
}
