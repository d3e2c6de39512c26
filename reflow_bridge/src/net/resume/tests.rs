use super::*;

fn offer(session: u64, salt: u64) -> Offer {
    Offer {
        session,
        received: 0,
        window: 8,
        salt,
    }
}

#[test]
fn equal_sessions_resume() {
    assert_eq!(decide(offer(7, 1), offer(7, 2)), Decision::Resume(7));
}

#[test]
fn anything_else_is_fresh_and_both_sides_agree_on_the_id() {
    for (a, b) in [
        (offer(0, 5), offer(0, 9)),
        (offer(7, 5), offer(0, 9)),
        (offer(7, 5), offer(8, 9)),
    ] {
        let here = decide(a, b);
        let there = decide(b, a);
        assert_eq!(here, there, "{a:?} / {b:?}");
        assert!(matches!(here, Decision::Fresh(id) if id != 0));
    }
}

#[test]
fn simultaneous_dials_leave_the_same_link_on_both_sides() {
    // Two fresh sessions 7 and 9 between the same instances; each side settled one first.
    let kept = |first: u64, second: u64| {
        if keep_existing(first, second) {
            first
        } else {
            second
        }
    };
    assert_eq!(kept(7, 9), 9, "one side saw 7 first");
    assert_eq!(kept(9, 7), 9, "the other saw 9 first");
}
