use super::*;

#[test]
fn doubles_up_to_the_cap() {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(700));
    let mut nominal = Vec::new();
    for _ in 0..6 {
        nominal.push(backoff.nominal().as_millis());
        backoff.next_delay();
    }
    assert_eq!(nominal, vec![100, 200, 400, 700, 700, 700]);
    assert_eq!(backoff.attempts(), 6);
}

#[test]
fn jitter_stays_between_half_and_all_of_the_nominal_delay() {
    let mut backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(80));
    for _ in 0..200 {
        let nominal = backoff.nominal();
        let delay = backoff.next_delay();
        assert!(
            delay >= nominal / 2 && delay <= nominal,
            "{delay:?} for {nominal:?}"
        );
    }
}

#[test]
fn jittered_delays_differ() {
    let delays: std::collections::HashSet<_> = (0..20)
        .map(|_| Backoff::new(Duration::from_secs(1), Duration::from_secs(1)).next_delay())
        .collect();
    assert!(
        delays.len() > 1,
        "twenty lost links must not all redial at once"
    );
}

#[test]
fn never_overflows() {
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
    for _ in 0..100 {
        assert!(backoff.next_delay() <= Duration::from_secs(30));
    }
}
