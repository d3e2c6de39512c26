//! Redialling a lost link that this side dialled: attempts with jittered exponential
//! backoff until a connection resumes the link (or replaces it, when the peer restarted),
//! or the link ends.

use std::sync::Arc;

use super::backoff::Backoff;
use super::dial::dial;
use super::handle::LinkHandle;
use crate::hub::Hub;

/// Starts redialling `address` for `link`.
pub(crate) fn spawn(hub: Arc<Hub>, link: LinkHandle, address: String) {
    tokio::spawn(async move {
        let config = &hub.config;
        let mut backoff = Backoff::new(config.reconnect_initial, config.reconnect_max);
        loop {
            tokio::time::sleep(backoff.next_delay()).await;
            if link.is_closed() || link.is_connected() {
                return;
            }
            hub.metrics.reconnect_attempts.inc();
            match dial(hub.clone(), &address).await {
                Ok(_) => return,
                Err(err) => tracing::debug!(
                    %address,
                    attempt = backoff.attempts(),
                    "redial failed: {err}"
                ),
            }
        }
    });
}
