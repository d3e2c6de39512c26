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

/// Every live entry matching `filter`, on one page.
fn list(store: &mut Store, filter: &Filter, now: Instant) -> Vec<ListedInstance> {
    let everything = PageSpec {
        after: None,
        limit: usize::MAX,
        max_bytes: usize::MAX,
    };
    let page = store.page(filter, &everything, now);
    assert_eq!(page.next, None);
    page.instances
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
    let listed = list(
        &mut store,
        &Filter::default(),
        now + Duration::from_millis(500),
    );
    assert_eq!(ids(&listed), ["a"]);
    assert_eq!(listed[0].expires_in_secs, 30, "29.5 s rounds up");
    let mut granted = record("n", "a", "1");
    granted.ttl_secs = Some(30);
    assert_eq!(listed[0].record, granted);
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
    let listed = list(&mut store, &Filter::default(), after_first_ttl);
    assert_eq!(ids(&listed), ["a"], "the renewal kept it alive");
    assert_eq!(listed[0].expires_in_secs, 19);

    let after_renewed_ttl = start + Duration::from_secs(50);
    assert!(list(&mut store, &Filter::default(), after_renewed_ttl).is_empty());
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
    let listed = list(&mut store, &Filter::default(), now);
    assert_eq!(listed.len(), 1);
    restarted.ttl_secs = Some(30);
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
    assert_eq!(
        ids(&list(&mut store, &Filter::default(), later)),
        ["c", "d"]
    );
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
    let mut ids_of = |f: Filter| {
        list(&mut store, &f, now)
            .iter()
            .map(|l| l.record.instance_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids_of(filter(Some("n1"), None, None)), ["a", "c"]);
    assert_eq!(ids_of(filter(None, Some("emit"), None)), ["c"]);
    assert_eq!(
        ids_of(filter(None, Some("nope"), None)),
        Vec::<String>::new()
    );
    assert_eq!(ids_of(filter(None, None, Some(("zone", "eu")))), ["a", "b"]);
    assert_eq!(
        ids_of(filter(None, None, Some(("version", "2")))),
        ["a", "b"]
    );
    assert_eq!(
        ids_of(filter(None, None, Some(("gpu", "true")))),
        ["a", "b"]
    );
    assert_eq!(
        ids_of(filter(Some("n1"), None, Some(("zone", "us")))),
        ["c"]
    );
    assert_eq!(
        ids_of(filter(None, Some("check"), Some(("zone", "us")))),
        Vec::<String>::new(),
        "actor and meta must hold for the same actor"
    );
}

#[test]
fn the_listed_ttl_is_the_one_granted_not_the_one_asked_for() {
    let now = Instant::now();
    let mut store = Store::new(10);
    let mut asked = record("n", "a", "1");
    asked.ttl_secs = Some(86_400);
    store.upsert(asked, TTL, now).unwrap();
    assert_eq!(
        list(&mut store, &Filter::default(), now)[0].record.ttl_secs,
        Some(30)
    );
}

fn page(
    store: &mut Store,
    filter: &Filter,
    after: Option<&str>,
    limit: usize,
) -> (Vec<String>, Option<String>) {
    let spec = PageSpec {
        after: after.map(Into::into),
        limit,
        max_bytes: usize::MAX,
    };
    let list = store.page(filter, &spec, Instant::now());
    let ids = list
        .instances
        .into_iter()
        .map(|l| l.record.instance_id)
        .collect();
    (ids, list.next)
}

#[test]
fn pages_follow_instance_id_order_and_together_hold_every_entry_once() {
    let now = Instant::now();
    let mut store = Store::new(10);
    for (network, id) in [("z", "c"), ("a", "e"), ("m", "a"), ("a", "d"), ("z", "b")] {
        store.upsert(record(network, id, "1"), TTL, now).unwrap();
    }
    let all = Filter::default();
    assert_eq!(
        page(&mut store, &all, None, 2),
        (vec!["a".into(), "b".into()], Some("b".into()))
    );
    assert_eq!(
        page(&mut store, &all, Some("b"), 2),
        (vec!["c".into(), "d".into()], Some("d".into()))
    );
    assert_eq!(
        page(&mut store, &all, Some("d"), 2),
        (vec!["e".into()], None)
    );
    assert_eq!(page(&mut store, &all, Some("e"), 2), (vec![], None));
    assert_eq!(
        page(&mut store, &all, Some("bb"), 1),
        (vec!["c".into()], Some("c".into())),
        "the cursor need not be a listed id (it may have left since)"
    );
    assert_eq!(
        page(&mut store, &all, Some("c"), 3),
        (vec!["d".into(), "e".into()], None),
        "exactly the rest: no next"
    );
}

#[test]
fn a_filtered_page_has_a_next_only_when_a_matching_entry_was_left_out() {
    let now = Instant::now();
    let mut store = Store::new(10);
    for (network, id) in [("x", "a"), ("y", "b"), ("x", "c"), ("y", "d")] {
        store.upsert(record(network, id, "1"), TTL, now).unwrap();
    }
    let only_x = Filter {
        network_id: Some("x".into()),
        ..Filter::default()
    };
    assert_eq!(
        page(&mut store, &only_x, None, 1),
        (vec!["a".into()], Some("a".into()))
    );
    assert_eq!(
        page(&mut store, &only_x, Some("a"), 1),
        (vec!["c".into()], None)
    );
}

#[test]
fn a_page_stops_at_its_byte_budget_but_always_holds_one_entry() {
    let now = Instant::now();
    let mut store = Store::new(10);
    for id in ["a", "b", "c"] {
        store.upsert(record("n", id, "1"), TTL, now).unwrap();
    }
    let mut one = record("n", "a", "1");
    one.ttl_secs = Some(30);
    let size = one.json_len() + LISTED_OVERHEAD;
    let spec = |max_bytes| PageSpec {
        after: None,
        limit: 10,
        max_bytes,
    };
    let two = store.page(&Filter::default(), &spec(2 * size), now);
    assert_eq!(ids(&two.instances), ["a", "b"]);
    assert_eq!(two.next.as_deref(), Some("b"));
    let tiny = store.page(&Filter::default(), &spec(1), now);
    assert_eq!(
        ids(&tiny.instances),
        ["a"],
        "one entry even when it alone is over budget"
    );
    assert_eq!(tiny.next.as_deref(), Some("a"));
    let all = store.page(&Filter::default(), &spec(3 * size), now);
    assert_eq!((all.instances.len(), all.next), (3, None));
}

#[test]
fn listed_entries_never_take_more_json_than_budgeted() {
    let now = Instant::now();
    let mut store = Store::new(10);
    let longest = Duration::from_secs(u64::from(u32::MAX));
    for id in ["a", "b", "c"] {
        store.upsert(record("n", id, "1"), longest, now).unwrap();
    }
    let listed = list(&mut store, &Filter::default(), now);
    let budgeted: usize = listed
        .iter()
        .map(|l| l.record.json_len() + LISTED_OVERHEAD)
        .sum();
    let json = serde_json::to_vec(&listed).unwrap();
    assert!(
        json.len() <= budgeted + 2,
        "{} > {budgeted} + `[]`",
        json.len()
    );
}
