//! The seam between the local runtime and a bridge: how a process whose component is
//! `actor@network` gets an actor. The bridge implements this; the core never depends on it.

use serde_json::Value;

use crate::actor::Ports;
use crate::error::Error;
use crate::process::BoxedActor;

/// Resolves remote actors into local proxies.
pub trait RemoteResolver: Send + Sync {
    /// Builds the proxy that stands for `actor` on `network` as the local process
    /// `process`, configured by the process metadata `config`, with the remote actor's
    /// ports. Fails with [`Error::NetworkUnreachable`] or [`Error::ActorNotFound`].
    fn resolve(
        &self,
        process: &str,
        actor: &str,
        network: &str,
        config: &Value,
    ) -> Result<(BoxedActor, Ports), Error>;
}
