//! Deadlock detection: what each process is blocked on, as one word per process that the
//! process and its waker update, and the cycles of processes blocked on each other's full
//! inboxes, the only state from which none of them can ever go on.
//!
//! A process blocked sending waits for room in one inbox, so the "waits for room in" graph
//! has at most one edge out of each process and its cycles are simple loops. Room in a full
//! inbox comes only from its owner taking messages, which a process blocked in a send does
//! not do: on a cycle of blocked processes, each waits for the next, forever.

#[cfg(test)]
mod tests;

/// The state word of one process: a change count in the high half (so that a reader can
/// tell two reads apart, and a compare-and-swap fails after any change), and in the low
/// half 0, or 1 + the index of the process whose full inbox it is blocked on.
pub(crate) type Slot = u64;

/// Whom a process is blocked on, from its state word.
pub(crate) fn blocked_on(slot: Slot) -> Option<usize> {
    let target = slot & u64::from(u32::MAX);
    usize::try_from(target).ok()?.checked_sub(1)
}

/// The state word after `slot` that says "blocked on `target`", or "not blocked" for `None`.
pub(crate) fn next(slot: Slot, target: Option<usize>) -> Slot {
    let count = (slot >> 32).wrapping_add(1) & u64::from(u32::MAX);
    let low = target.map_or(0, |t| (t as u64 + 1) & u64::from(u32::MAX));
    (count << 32) | low
}

/// The cycles of the blocked-on graph given by the state words `slots`: each starts at its
/// smallest process and follows who waits for whom; the cycles come in the order of their
/// first process. A process blocked on itself is a cycle of one.
pub(crate) fn cycles(slots: &[Slot]) -> Vec<Vec<usize>> {
    let n = slots.len();
    let on = |v: usize| blocked_on(slots[v]).filter(|&t| t < n);
    // The walk that first reached each process, `usize::MAX` for none yet.
    let mut walk_of = vec![usize::MAX; n];
    let mut found = Vec::new();
    for start in 0..n {
        let mut path = Vec::new();
        let mut at = Some(start);
        while let Some(v) = at.filter(|&v| walk_of[v] == usize::MAX) {
            walk_of[v] = start;
            path.push(v);
            at = on(v);
        }
        // Back on this walk: the path from there on is a new cycle.
        let Some(v) = at.filter(|&v| walk_of[v] == start) else {
            continue;
        };
        let from = path.iter().position(|&p| p == v).unwrap_or(0);
        let mut cycle = path.split_off(from);
        let smallest = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
        cycle.rotate_left(smallest);
        found.push(cycle);
    }
    found.sort_unstable_by_key(|c| c[0]);
    found
}

/// The cycles of `first` whose members' state words did not change by `second`: each
/// member was blocked throughout, on the same process, at one instant between the reads
/// (every read of `first` came before every read of `second`).
pub(crate) fn unchanged(
    cycles: Vec<Vec<usize>>,
    first: &[Slot],
    second: &[Slot],
) -> Vec<Vec<usize>> {
    cycles
        .into_iter()
        .filter(|c| c.iter().all(|&v| first.get(v) == second.get(v)))
        .collect()
}
