use proptest::prelude::*;

use super::{cyclic_components, shortest_cycle};

fn graph(n: usize, edges: &[(usize, usize)]) -> Vec<Vec<usize>> {
    let mut succ = vec![Vec::new(); n];
    for &(a, b) in edges {
        succ[a].push(b);
    }
    succ
}

#[test]
fn a_self_loop_is_a_cycle_of_one() {
    let succ = graph(3, &[(0, 1), (1, 1), (1, 2)]);
    assert_eq!(cyclic_components(&succ), [vec![1]]);
}

#[test]
fn a_chain_and_a_tree_have_no_cycle() {
    let succ = graph(5, &[(0, 1), (1, 2), (0, 3), (3, 4), (2, 4)]);
    assert!(cyclic_components(&succ).is_empty());
}

#[test]
fn each_component_is_reported_once_in_a_stable_order() {
    // 4 -> 3 -> 4 and 2 -> 0 -> 1 -> 2, joined by 1 -> 3; 5 hangs off the side.
    let succ = graph(6, &[(4, 3), (3, 4), (2, 0), (0, 1), (1, 2), (1, 3), (3, 5)]);
    assert_eq!(cyclic_components(&succ), [vec![0, 1, 2], vec![3, 4]]);
}

#[test]
fn a_long_cycle_does_not_overflow_the_stack() {
    let n = 200_000;
    let succ: Vec<Vec<usize>> = (0..n).map(|v| vec![(v + 1) % n]).collect();
    let components = cyclic_components(&succ);
    assert_eq!(components.len(), 1);
    assert_eq!(components[0].len(), n);
}

#[test]
fn the_shortest_cycle_through_a_node_stays_in_its_component() {
    // 0 -> 1 -> 2 -> 0 and the shortcut 0 -> 2; 2 -> 3 -> 0 leaves through 3.
    let succ = graph(4, &[(0, 1), (1, 2), (2, 0), (0, 2), (2, 3), (3, 0)]);
    assert_eq!(shortest_cycle(&succ, &[0, 1, 2, 3], 0), [0, 2]);
    assert_eq!(shortest_cycle(&succ, &[0, 1, 2], 1), [1, 2, 0]);
    assert_eq!(shortest_cycle(&succ, &[1, 2], 1), Vec::<usize>::new());
    let self_loop = graph(1, &[(0, 0)]);
    assert_eq!(shortest_cycle(&self_loop, &[0], 0), [0]);
}

/// Every node `from` reaches, by one edge or more.
fn reached(succ: &[Vec<usize>], from: usize) -> Vec<bool> {
    let mut seen = vec![false; succ.len()];
    let mut todo = succ[from].clone();
    while let Some(v) = todo.pop() {
        if !seen[v] {
            seen[v] = true;
            todo.extend(&succ[v]);
        }
    }
    seen
}

/// The naive model: nodes on a cycle are those that reach themselves; two of them share a
/// component when each reaches the other.
fn naive(succ: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let reach: Vec<Vec<bool>> = (0..succ.len()).map(|v| reached(succ, v)).collect();
    let mut components: Vec<Vec<usize>> = Vec::new();
    for v in (0..succ.len()).filter(|&v| reach[v][v]) {
        match components
            .iter_mut()
            .find(|c| reach[c[0]][v] && reach[v][c[0]])
        {
            Some(component) => component.push(v),
            None => components.push(vec![v]),
        }
    }
    components
}

proptest! {
    #[test]
    fn components_match_mutual_reachability(
        edges in proptest::collection::vec((0usize..8, 0usize..8), 0..20)
    ) {
        let succ = graph(8, &edges);
        prop_assert_eq!(cyclic_components(&succ), naive(&succ));
    }

    #[test]
    fn the_shortest_cycle_is_a_cycle_no_longer_than_any(
        edges in proptest::collection::vec((0usize..6, 0usize..6), 0..14)
    ) {
        let succ = graph(6, &edges);
        for component in cyclic_components(&succ) {
            for &start in &component {
                let cycle = shortest_cycle(&succ, &component, start);
                prop_assert_eq!(cycle.first(), Some(&start));
                for (i, &v) in cycle.iter().enumerate() {
                    let next = cycle[(i + 1) % cycle.len()];
                    prop_assert!(succ[v].contains(&next), "{v} -> {next} is no edge");
                }
                // No shorter cycle: the nodes within fewer steps do not lead back.
                let steps = shortest_return(&succ, &component, start);
                prop_assert_eq!(cycle.len(), steps);
            }
        }
    }
}

/// How many steps the shortest way from `start` back to it takes, within `component`,
/// by expanding the set of nodes reached after each number of steps.
fn shortest_return(succ: &[Vec<usize>], component: &[usize], start: usize) -> usize {
    let mut frontier = vec![start];
    for steps in 1..=component.len() {
        let next: Vec<usize> = frontier.iter().flat_map(|&v| succ[v].clone()).collect();
        if next.contains(&start) {
            return steps;
        }
        frontier = next.into_iter().filter(|w| component.contains(w)).collect();
        frontier.sort_unstable();
        frontier.dedup();
    }
    0
}
