use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use super::*;
use crate::discovery::registry::records::ActorRecord;

const TTL: Duration = Duration::from_secs(30);

fn actor(name: &str, metadata: serde_json::Value) -> ActorRecord {
    ActorRecord {
        name: name.into(),
        inports: vec!["in".into()],
        outports: vec!["out".into()],
        metadata,
    }
}

fn record(network: &str, instance: &str, incarnation: &str) -> InstanceRecord {
    InstanceRecord {
        network_id: network.into(),
        instance_id: instance.into(),
        incarnation: incarnation.into(),
        address: "127.0.0.1:7400".into(),
        actors: vec![actor(
            "check",
            json!({"version": 2, "zone": "eu", "gpu": true}),
        )],
        ttl_secs: None,
    }
}

fn ids(listed: &[ListedInstance]) -> Vec<&str> {
    listed
        .iter()
        .map(|l| l.record.instance_id.as_str())
        .collect()
}

#[test]
fn a_registered_instance_is_listed_with_its_time_left() {
    let now = Instant::now();
    let mut store = Store::new(10);
    store.upsert(record("n", "a", "1"), TTL, now).unwrap();
    let listed = store.list(&Filter::default(), now + Duration::from_millis(500));
    assert_eq!(ids(&listed), ["a"]);
    assert_eq!(listed[0].expires_in_secs, 30, "29.5 s rounds up");
    assert_eq!(listed[0].record, record("n", "a", "1"));
}

#[test]
fn a_renewal_extends_the_deadline_and_expiry_removes_the_entry() {
    let start = Instant::now();
    let mut store = Store::new(10);
    store.upsert(record("n", "a", "1"), TTL, start).unwrap();
    store
        .upsert(record("n", "a", "1"), TTL, start + Duration::from_secs(20))
        .unwrap();

    let after_first_ttl = start + Duration::from_secs(31);
    let listed = store.list(&Filter::default(), after_first_ttl);
    assert_eq!(ids(&listed), ["a"], "the renewal kept it alive");
    assert_eq!(listed[0].expires_in_secs, 19);

    let after_renewed_ttl = start + Duration::from_secs(50);
    assert!(store.list(&Filter::default(), after_renewed_ttl).is_empty());
    assert_eq!(store.len(after_renewed_ttl), 0);
    assert!(!store.remove("a", after_renewed_ttl), "expired is unknown");
}

#[test]
fn a_new_incarnation_replaces_the_old_entry() {
    let now = Instant::now();
    let mut store = Store::new(1);
    store.upsert(record("n", "a", "1"), TTL, now).unwrap();
    let mut restarted = record("n", "a", "2");
    restarted.address = "127.0.0.1:7500".into();
    store.upsert(restarted.clone(), TTL, now).unwrap();
    let listed = store.list(&Filter::default(), now);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].record, restarted);
}

#[test]
fn a_full_store_refuses_new_instances_until_one_expires_or_leaves() {
    let now = Instant::now();
    let mut store = Store::new(2);
    store.upsert(record("n", "a", "1"), TTL, now).unwrap();
    store
        .upsert(record("n", "b", "1"), Duration::from_secs(5), now)
        .unwrap();
    assert_eq!(
        store.upsert(record("n", "c", "1"), TTL, now),
        Err(Full { max_entries: 2 })
    );
    store
        .upsert(record("n", "a", "1"), TTL, now)
        .expect("renewing a known instance is not a new entry");

    let later = now + Duration::from_secs(6);
    store
        .upsert(record("n", "c", "1"), TTL, later)
        .expect("b expired and made room");
    assert!(store.remove("a", later));
    store.upsert(record("n", "d", "1"), TTL, later).unwrap();
    assert_eq!(ids(&store.list(&Filter::default(), later)), ["c", "d"]);
}

#[test]
fn filters_match_network_actor_and_metadata_together() {
    let now = Instant::now();
    let mut store = Store::new(10);
    store.upsert(record("n1", "a", "1"), TTL, now).unwrap();
    store.upsert(record("n2", "b", "1"), TTL, now).unwrap();
    let mut other = record("n1", "c", "1");
    other.actors = vec![
        actor("emit", json!({"zone": "us"})),
        actor("check", json!({})),
    ];
    store.upsert(other, TTL, now).unwrap();

    let filter = |network: Option<&str>, actor: Option<&str>, meta: Option<(&str, &str)>| Filter {
        network_id: network.map(Into::into),
        actor: actor.map(Into::into),
        meta: meta.map(|(k, v)| (k.into(), v.into())),
    };
    let mut list = |f: Filter| {
        store
            .list(&f, now)
            .iter()
            .map(|l| l.record.instance_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(list(filter(Some("n1"), None, None)), ["a", "c"]);
    assert_eq!(list(filter(None, Some("emit"), None)), ["c"]);
    assert_eq!(list(filter(None, Some("nope"), None)), Vec::<String>::new());
    assert_eq!(list(filter(None, None, Some(("zone", "eu")))), ["a", "b"]);
    assert_eq!(list(filter(None, None, Some(("version", "2")))), ["a", "b"]);
    assert_eq!(list(filter(None, None, Some(("gpu", "true")))), ["a", "b"]);
    assert_eq!(list(filter(Some("n1"), None, Some(("zone", "us")))), ["c"]);
    assert_eq!(
        list(filter(None, Some("check"), Some(("zone", "us")))),
        Vec::<String>::new(),
        "actor and meta must hold for the same actor"
    );
}
