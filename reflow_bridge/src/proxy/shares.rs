//! What a proxy routed where: its policy and, per instance, the messages it sent there. The
//! proxy writes it; /status and /metrics read it through the hub.

use parking_lot::Mutex;

use crate::status::InstanceShare;

/// The routing of one proxy, shared with the hub.
#[derive(Debug)]
pub(crate) struct Shares {
    policy: &'static str,
    instances: Mutex<Vec<InstanceShare>>,
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

    /// Counts `n` messages sent to `instance`.
    pub(crate) fn sent(&self, instance: &str, n: u64) {
        let mut list = self.instances.lock();
        match list.iter_mut().find(|s| s.instance == instance) {
            Some(entry) => entry.messages += n,
            None => list.push(InstanceShare {
                instance: instance.to_string(),
                state: "up".to_string(),
                messages: n,
                share: 0.0,
            }),
        }
    }

    /// Records where `instance` stands, listing it if it is new.
    pub(crate) fn set_state(&self, instance: &str, state: &str) {
        self.sent(instance, 0);
        let mut list = self.instances.lock();
        if let Some(entry) = list.iter_mut().find(|s| s.instance == instance) {
            entry.state = state.to_string();
        }
    }

    /// Every instance with its share, ordered by instance id.
    pub(crate) fn snapshot(&self) -> Vec<InstanceShare> {
        let mut list = self.instances.lock().clone();
        let total: u64 = list.iter().map(|s| s.messages).sum();
        for entry in &mut list {
            entry.share = if total == 0 {
                0.0
            } else {
                entry.messages as f64 / total as f64
            };
        }
        list.sort_by(|a, b| a.instance.cmp(&b.instance));
        list
    }
}
