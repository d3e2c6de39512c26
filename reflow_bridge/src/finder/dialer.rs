//! What HTTP discovery and mDNS share once they have an instance id and an address: whether
//! to dial it, and dialling it in the background. Not ourselves, not an instance we have a
//! link to, not one being tried or recently failed, and when this side serves links only
//! the smaller instance id dials, so two instances that find each other do not cross dials.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use crate::hub::Hub;

/// The dialling policy of one discovery source.
#[derive(Debug)]
pub(crate) struct Dialer {
    hub: Arc<Hub>,
    /// Whether this instance serves links (then only the smaller instance id dials).
    serving: bool,
    /// How long an instance that could not be linked is left alone.
    retry_after: Duration,
    /// For logs: `discovery` or `mdns`.
    source: &'static str,
    /// Instances being dialled, or that failed, with when they may be tried again.
    attempts: Mutex<HashMap<String, Instant>>,
}

impl Dialer {
    /// A dialler for `source` that leaves a failed instance alone for `retry_after`.
    pub(crate) fn new(
        hub: Arc<Hub>,
        serving: bool,
        retry_after: Duration,
        source: &'static str,
    ) -> Arc<Self> {
        Arc::new(Dialer {
            hub,
            serving,
            retry_after,
            source,
            attempts: Mutex::default(),
        })
    }

    /// Whether `instance_id` should be dialled now.
    pub(crate) fn should_dial(&self, instance_id: &str) -> bool {
        let me = &self.hub.me.instance_id;
        if instance_id == me || self.hub.knows_instance(instance_id) {
            return false;
        }
        if self.serving && me.as_str() > instance_id {
            return false;
        }
        self.attempts
            .lock()
            .get(instance_id)
            .is_none_or(|retry| Instant::now() >= *retry)
    }

    /// Dials `address` for `instance_id` in the background (check `should_dial` first).
    pub(crate) fn dial(self: &Arc<Self>, instance_id: String, address: String) {
        let retry = Instant::now() + self.retry_after;
        self.attempts.lock().insert(instance_id.clone(), retry);
        let dialer = self.clone();
        tokio::spawn(async move {
            let source = dialer.source;
            match crate::net::dial(dialer.hub.clone(), &address).await {
                Ok(_) => {
                    dialer.attempts.lock().remove(&instance_id);
                    tracing::info!(peer = %instance_id, %address, "{source}: linked");
                }
                Err(err) => {
                    tracing::warn!(peer = %instance_id, %address, "{source}: cannot link: {err}")
                }
            }
        });
    }
}
