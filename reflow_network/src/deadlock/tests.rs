use super::{blocked_on, cycles, next, unchanged, Slot};

/// State words for "process i is blocked on `waits[i]`", each changed `changes` times.
fn slots(waits: &[Option<usize>], changes: u32) -> Vec<Slot> {
    waits
        .iter()
        .map(|&w| {
            let mut slot = 0;
            for _ in 0..changes {
                slot = next(slot, None);
            }
            next(slot, w)
        })
        .collect()
}

/// The naive model: a process is on a cycle when following whom it waits for leads back
/// to it; its cycle is that walk, started at its smallest member.
fn naive(waits: &[Option<usize>]) -> Vec<Vec<usize>> {
    let mut found: Vec<Vec<usize>> = Vec::new();
    for v in 0..waits.len() {
        let mut walk = vec![v];
        let mut at = waits[v];
        while let Some(w) = at.filter(|&w| w != v && walk.len() <= waits.len()) {
            walk.push(w);
            at = waits[w];
        }
        if at == Some(v) && walk.iter().all(|&w| w >= v) {
            found.push(walk);
        }
    }
    found
}

/// Every blocked-on graph of `n` processes, each blocked on nobody or on one of them.
fn every_graph(n: usize) -> impl Iterator<Item = Vec<Option<usize>>> {
    let choices = n + 1;
    (0..choices.pow(n as u32)).map(move |mut code| {
        (0..n)
            .map(|_| {
                let choice = code % choices;
                code /= choices;
                choice.checked_sub(1)
            })
            .collect()
    })
}

#[test]
fn cycles_match_the_naive_model_on_every_graph_of_six() {
    for n in 0..=6 {
        for waits in every_graph(n) {
            assert_eq!(cycles(&slots(&waits, 3)), naive(&waits), "{waits:?}");
        }
    }
}

#[test]
fn a_process_blocked_on_itself_is_a_cycle_and_its_victims_are_not() {
    // 0 feeds 1, which is blocked on itself; 2 is not blocked.
    let waits = [Some(1), Some(1), None];
    assert_eq!(cycles(&slots(&waits, 0)), [vec![1]]);
}

#[test]
fn a_state_word_says_whom_and_changes_every_time() {
    let mut slot: Slot = 0;
    assert_eq!(blocked_on(slot), None);
    let mut seen = vec![slot];
    for target in [Some(0), None, Some(7), Some(7), None] {
        slot = next(slot, target);
        assert_eq!(blocked_on(slot), target);
        assert!(!seen.contains(&slot), "{slot:#x} repeats");
        seen.push(slot);
    }
    // The change count wraps without touching the target.
    let last = (u64::from(u32::MAX) << 32) | 3;
    assert_eq!(next(last, Some(4)), 5);
}

#[test]
fn only_cycles_whose_members_did_not_change_are_kept() {
    let first = slots(&[Some(1), Some(0), Some(3), Some(2)], 0);
    let mut second = first.clone();
    second[3] = next(next(second[3], None), Some(2)); // unblocked and blocked again
    let found = cycles(&first);
    assert_eq!(found, [vec![0, 1], vec![2, 3]]);
    assert_eq!(unchanged(found, &first, &second), [vec![0, 1]]);
}
