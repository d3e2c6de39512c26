//! The registry's entries: a map from instance id to record and deadline, with no I/O and
//! no clock of its own (every call is given `now`), so expiry is tested without waiting.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::records::{InstanceRecord, ListedInstance};

/// Which entries `GET /v1/instances` returns; every given filter must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Filter {
    /// Only this network.
    pub(crate) network_id: Option<String>,
    /// Only instances with an actor of this name.
    pub(crate) actor: Option<String>,
    /// Only instances with an actor whose metadata has this key with this value. With
    /// `actor` too, that same actor must match both.
    pub(crate) meta: Option<(String, String)>,
}

impl Filter {
    fn matches(&self, record: &InstanceRecord) -> bool {
        if self
            .network_id
            .as_ref()
            .is_some_and(|n| *n != record.network_id)
        {
            return false;
        }
        if self.actor.is_none() && self.meta.is_none() {
            return true;
        }
        record.actors.iter().any(|actor| {
            self.actor.as_ref().is_none_or(|name| *name == actor.name)
                && self
                    .meta
                    .as_ref()
                    .is_none_or(|(key, value)| actor.has_metadata(key, value))
        })
    }
}

/// The registry is full: a new instance would exceed `max_entries`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full {
    /// The limit reached.
    pub(crate) max_entries: usize,
}

struct Entry {
    record: InstanceRecord,
    expires_at: Instant,
}

/// Live instances by id. Expired entries are dropped by the next call that looks at them.
pub(crate) struct Store {
    entries: HashMap<String, Entry>,
    max_entries: usize,
}

impl Store {
    /// An empty store holding at most `max_entries` instances.
    pub(crate) fn new(max_entries: usize) -> Store {
        Store {
            entries: HashMap::new(),
            max_entries,
        }
    }

    /// Registers or renews `record` for `ttl` from `now`. A renewal, or a new incarnation of
    /// a known instance, replaces the entry; a new instance is refused when the store is
    /// full of live entries.
    pub(crate) fn upsert(
        &mut self,
        record: InstanceRecord,
        ttl: Duration,
        now: Instant,
    ) -> Result<(), Full> {
        if !self.entries.contains_key(&record.instance_id) {
            if self.entries.len() >= self.max_entries {
                self.purge(now);
            }
            if self.entries.len() >= self.max_entries {
                return Err(Full {
                    max_entries: self.max_entries,
                });
            }
        }
        let expires_at = now + ttl;
        self.entries
            .insert(record.instance_id.clone(), Entry { record, expires_at });
        Ok(())
    }

    /// Removes a live instance; false when it is unknown or already expired.
    pub(crate) fn remove(&mut self, instance_id: &str, now: Instant) -> bool {
        self.purge(now);
        self.entries.remove(instance_id).is_some()
    }

    /// Live entries matching `filter`, by network id then instance id.
    pub(crate) fn list(&mut self, filter: &Filter, now: Instant) -> Vec<ListedInstance> {
        self.purge(now);
        let mut listed: Vec<ListedInstance> = self
            .entries
            .values()
            .filter(|entry| filter.matches(&entry.record))
            .map(|entry| ListedInstance {
                record: entry.record.clone(),
                expires_in_secs: ceil_secs(entry.expires_at.saturating_duration_since(now)),
            })
            .collect();
        listed.sort_by(|a, b| {
            (&a.record.network_id, &a.record.instance_id)
                .cmp(&(&b.record.network_id, &b.record.instance_id))
        });
        listed
    }

    /// How many live entries there are.
    pub(crate) fn len(&mut self, now: Instant) -> usize {
        self.purge(now);
        self.entries.len()
    }

    fn purge(&mut self, now: Instant) {
        self.entries.retain(|_, entry| entry.expires_at > now);
    }
}

fn ceil_secs(d: Duration) -> u64 {
    let millis = d.as_millis().div_ceil(1000);
    u64::try_from(millis).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
