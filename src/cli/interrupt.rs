//! Ctrl-C, listened for from the moment a command asks. tokio's `signal::ctrl_c()` installs
//! its handler only when first polled: a Ctrl-C that came before (say, right after a command
//! printed that it is listening) would kill the process instead of stopping it gracefully.

use std::future::Future;
use std::pin::Pin;

use anyhow::Context as _;

/// Completes at the next Ctrl-C (SIGINT) from now on. Call inside the runtime, before
/// telling the user anything they might interrupt.
pub(crate) fn ctrl_c() -> anyhow::Result<Pin<Box<dyn Future<Output = ()> + Send>>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?;
        Ok(Box::pin(async move {
            interrupt.recv().await;
        }))
    }
    #[cfg(not(unix))]
    {
        Ok(Box::pin(async {
            let _ = tokio::signal::ctrl_c().await;
        }))
    }
}
