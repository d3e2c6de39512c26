//! The registry's entries: a map from instance id to record and deadline, with no I/O and
//! no clock of its own (every call is given `now`), so expiry is tested without waiting.
//! Lists come out a page at a time, so a read copies one page, never the whole store.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::time::Duration;

use tokio::time::Instant;

use super::records::{InstanceList, InstanceRecord, ListedInstance};

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

/// Which part of the list one `GET /v1/instances` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageSpec {
    /// Only entries whose instance id sorts after this one (the previous page's `next`).
    pub(crate) after: Option<String>,
    /// Most entries on the page.
    pub(crate) limit: usize,
    /// Most bytes of entry JSON on the page; a page always holds at least one entry.
    pub(crate) max_bytes: usize,
}

/// What listing adds to a record's JSON, at most: `,"expires_in_secs":N` (N up to 20
/// digits) and the comma before the next entry.
pub(crate) const LISTED_OVERHEAD: usize = 40;

struct Entry {
    /// The record as registered, its `ttl_secs` the TTL granted.
    record: InstanceRecord,
    expires_at: Instant,
    /// The most bytes of JSON the entry takes in a list, counted once at registration.
    listed_len: usize,
}

/// Live instances by id, in id order. Expired entries are dropped by the next call that
/// looks at them.
pub(crate) struct Store {
    entries: BTreeMap<String, Entry>,
    max_entries: usize,
}

impl Store {
    /// An empty store holding at most `max_entries` instances.
    pub(crate) fn new(max_entries: usize) -> Store {
        Store {
            entries: BTreeMap::new(),
            max_entries,
        }
    }

    /// Registers or renews `record` for `ttl` from `now`, recording `ttl` (in whole
    /// seconds) as its granted `ttl_secs`. A renewal, or a new incarnation of a known
    /// instance, replaces the entry; a new instance is refused when the store is full of
    /// live entries.
    pub(crate) fn upsert(
        &mut self,
        mut record: InstanceRecord,
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
        record.ttl_secs = Some(ttl.as_secs());
        let entry = Entry {
            listed_len: record.json_len() + LISTED_OVERHEAD,
            expires_at: now + ttl,
            record,
        };
        self.entries.insert(entry.record.instance_id.clone(), entry);
        Ok(())
    }

    /// Removes a live instance; false when it is unknown or already expired.
    pub(crate) fn remove(&mut self, instance_id: &str, now: Instant) -> bool {
        self.purge(now);
        self.entries.remove(instance_id).is_some()
    }

    /// One page of the live entries matching `filter`, in instance id order: those after
    /// `page.after`, at most `page.limit` of them, and no more than fit in `page.max_bytes`
    /// unless the first alone does not. `next` is set when a matching entry was left out.
    pub(crate) fn page(&mut self, filter: &Filter, page: &PageSpec, now: Instant) -> InstanceList {
        self.purge(now);
        let start = page
            .after
            .as_deref()
            .map_or(Bound::Unbounded, Bound::Excluded);
        let matching = self
            .entries
            .range::<str, _>((start, Bound::Unbounded))
            .map(|(_, entry)| entry)
            .filter(|entry| filter.matches(&entry.record));
        let mut list = InstanceList::default();
        let mut bytes = 0;
        for entry in matching {
            let fits = list.instances.is_empty() || bytes + entry.listed_len <= page.max_bytes;
            if list.instances.len() == page.limit || !fits {
                list.next = list.instances.last().map(|l| l.record.instance_id.clone());
                break;
            }
            bytes += entry.listed_len;
            list.instances.push(ListedInstance {
                record: entry.record.clone(),
                expires_in_secs: ceil_secs(entry.expires_at.saturating_duration_since(now)),
            });
        }
        list
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
