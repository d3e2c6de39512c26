//! What a proxy routed where: its policy and, per instance, the messages it sent there. The
//! proxy writes it (a counter per instance, no lock per message); /status and /metrics read
//! it through the hub.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::status::InstanceShare;

/// One instance as the proxy last described it.
#[derive(Debug)]
struct Entry {
    instance: String,
    state: &'static str,
    messages: Arc<AtomicU64>,
}

/// The routing of one proxy, shared with the hub.
#[derive(Debug)]
pub(crate) struct Shares {
    policy: &'static str,
    instances: Mutex<Vec<Entry>>,
}

impl Shares {
    pub(crate) fn new(policy: &'static str) -> Self {
        Shares {
            policy,
            instances: Mutex::default(),
        }
    }

    /// The policy's name.
    pub(crate) fn policy(&self) -> &'static str {
        self.policy
    }

    /// The counter of messages sent to `instance`, listing it (as `up`) if it is new.
    pub(crate) fn counter(&self, instance: &str) -> Arc<AtomicU64> {
        let mut list = self.instances.lock();
        entry(&mut list, instance).messages.clone()
    }

    /// Records where `instance` stands, listing it if it is new.
    pub(crate) fn set_state(&self, instance: &str, state: &'static str) {
        entry(&mut self.instances.lock(), instance).state = state;
    }

    /// Every instance with its share, ordered by instance id.
    pub(crate) fn snapshot(&self) -> Vec<InstanceShare> {
        let list = self.instances.lock();
        let counts: Vec<u64> = list
            .iter()
            .map(|e| e.messages.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        let mut shares: Vec<InstanceShare> = list
            .iter()
            .zip(counts)
            .map(|(e, messages)| InstanceShare {
                instance: e.instance.clone(),
                state: e.state.to_string(),
                messages,
                share: if total == 0 {
                    0.0
                } else {
                    messages as f64 / total as f64
                },
            })
            .collect();
        shares.sort_by(|a, b| a.instance.cmp(&b.instance));
        shares
    }
}

/// The entry of `instance`, added (as `up`, nothing sent) if it is new.
fn entry<'a>(list: &'a mut Vec<Entry>, instance: &str) -> &'a mut Entry {
    let at = match list.iter().position(|e| e.instance == instance) {
        Some(at) => at,
        None => {
            list.push(Entry {
                instance: instance.to_string(),
                state: "up",
                messages: Arc::default(),
            });
            list.len() - 1
        }
    };
    &mut list[at]
}
