//! Serving until asked to stop: what an instance's `main` waits on between `start` and
//! `shutdown`.

/// Completes at the next Ctrl-C (SIGINT) or SIGTERM (what containers and systemd send).
/// The handlers are installed when this is first polled: call it before telling anyone that
/// the instance is ready, so that a signal right after is caught rather than fatal.
///
/// ```no_run
/// # async fn serve(mut dn: reflow_bridge::DistributedNetwork) -> Result<(), reflow_bridge::BridgeError> {
/// dn.start().await?;
/// reflow_bridge::stop_requested().await?;
/// let report = dn.shutdown().await; // exports drain, peers get a close
/// # let _ = report;
/// # Ok(())
/// # }
/// ```
pub async fn stop_requested() -> Result<(), crate::BridgeError> {
    let io = |source| crate::BridgeError::Io {
        context: "cannot listen for Ctrl-C or SIGTERM".into(),
        source,
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt()).map_err(io)?;
        let mut terminate = signal(SignalKind::terminate()).map_err(io)?;
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map_err(io)
    }
}
