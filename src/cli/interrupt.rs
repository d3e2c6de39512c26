//! Ctrl-C (SIGINT) and SIGTERM (what containers and systemd send), listened for from the
//! moment a command asks: both stop a command gracefully. tokio installs a signal handler
//! only when first asked: a signal that came before (say, right after a command printed that
//! it is listening) would kill the process instead of stopping it.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;

use anyhow::Context as _;

/// The signal that asked a command to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Ctrl-C.
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl Signal {
    /// The exit code of a run this signal stopped before it completed: 128 + the signal's
    /// number, as a shell reports a process the signal killed (130, 143).
    pub(crate) fn exit_code(self) -> ExitCode {
        match self {
            Signal::Interrupt => ExitCode::from(130),
            Signal::Terminate => ExitCode::from(143),
        }
    }

    /// How logs name it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "interrupted (Ctrl-C)",
            Signal::Terminate => "terminated (SIGTERM)",
        }
    }
}

/// A future that completes at the next Ctrl-C or SIGTERM.
pub(crate) type Stop = Pin<Box<dyn Future<Output = Signal> + Send>>;

/// Completes at the next Ctrl-C or SIGTERM from now on. Call inside the runtime, before
/// telling the user anything they might interrupt.
pub(crate) fn stop_signal() -> anyhow::Result<Stop> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?;
        let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        Ok(Box::pin(async move {
            tokio::select! {
                _ = interrupt.recv() => Signal::Interrupt,
                _ = terminate.recv() => Signal::Terminate,
            }
        }))
    }
    #[cfg(not(unix))]
    {
        Ok(Box::pin(async {
            let _ = tokio::signal::ctrl_c().await;
            Signal::Interrupt
        }))
    }
}
