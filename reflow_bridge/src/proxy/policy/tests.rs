use super::*;

fn candidates<'a>(names: &'a [&'a str]) -> Vec<Candidate<'a>> {
    names
        .iter()
        .map(|&instance| Candidate {
            instance,
            in_flight: 0,
        })
        .collect()
}

#[test]
fn round_robin_takes_turns() {
    let names = ["a", "b", "c"];
    let mut chooser = Chooser::default();
    let mut counts = [0; 3];
    for _ in 0..300 {
        let chosen = chooser
            .choose(&Policy::RoundRobin, &candidates(&names), &Message::Flow)
            .unwrap();
        counts[chosen[0]] += 1;
    }
    assert_eq!(counts, [100, 100, 100]);
}

#[test]
fn least_loaded_picks_the_fewest_in_flight() {
    let mut list = candidates(&["a", "b", "c"]);
    list[0].in_flight = 5;
    list[1].in_flight = 1;
    list[2].in_flight = 9;
    let mut chooser = Chooser::default();
    for _ in 0..5 {
        let chosen = chooser
            .choose(&Policy::LeastLoaded, &list, &Message::Flow)
            .unwrap();
        assert_eq!(chosen, [1]);
    }
}

#[test]
fn broadcast_chooses_every_instance() {
    let chosen = Chooser::default()
        .choose(&Policy::Broadcast, &candidates(&["a", "b"]), &Message::Flow)
        .unwrap();
    assert_eq!(chosen, [0, 1]);
}

fn key_policy() -> Policy {
    Policy::parse(Some("key"), Some("fact.customer")).unwrap()
}

fn owner(policy: &Policy, names: &[&str], customer: i64) -> String {
    let msg = Message::object([("customer", Message::Integer(customer))]);
    let list = candidates(names);
    let chosen = Chooser::default().choose(policy, &list, &msg).unwrap();
    names[chosen[0]].to_string()
}

#[test]
fn equal_keys_stay_and_about_a_third_move_when_one_of_three_leaves() {
    let policy = key_policy();
    let three = ["alpha", "beta", "gamma"];
    let two = ["alpha", "gamma"];
    let keys = 3000;
    let mut moved = 0;
    let mut per_instance = std::collections::HashMap::new();
    for k in 0..keys {
        let before = owner(&policy, &three, k);
        assert_eq!(before, owner(&policy, &three, k), "key {k} is stable");
        *per_instance.entry(before.clone()).or_insert(0) += 1;
        let after = owner(&policy, &two, k);
        if before != after {
            assert_eq!(before, "beta", "only the leaver's keys move");
            moved += 1;
        }
    }
    let fraction = f64::from(moved) / f64::from(keys as i32);
    assert!((0.28..0.39).contains(&fraction), "{fraction}");
    for (instance, n) in per_instance {
        assert!((850..1150).contains(&n), "{instance} got {n} of {keys}");
    }
}

#[test]
fn a_key_that_fails_is_an_error_naming_it() {
    let list = candidates(&["a"]);
    let err = Chooser::default()
        .choose(&key_policy(), &list, &Message::Integer(3))
        .unwrap_err();
    assert!(err.starts_with("key:"), "{err}");
}

#[test]
fn bad_settings_are_refused_with_what_is_allowed() {
    let cases = [
        (Some("random"), None, "must be \"round_robin\""),
        (Some("key"), None, "needs `key`"),
        (None, Some("fact.x"), "only for `route` \"key\""),
        (Some("key"), Some("fact.("), "`key`:"),
    ];
    for (route, key, expected) in cases {
        let err = Policy::parse(route, key).unwrap_err().to_string();
        assert!(err.contains(expected), "{route:?} {key:?}: {err}");
    }
    assert_eq!(Policy::parse(None, None).unwrap().name(), "round_robin");
}
