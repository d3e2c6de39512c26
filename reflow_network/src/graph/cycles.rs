//! Cycles in a directed graph given as successor lists: its strongly connected components
//! (Tarjan's algorithm), and a shortest cycle through a node, to name one in a message.

use std::collections::VecDeque;

#[cfg(test)]
mod tests;

/// The strongly connected components of `succ` (successors by node index) that hold a
/// cycle: more than one node, or one node that is its own successor. Each lists its nodes
/// in ascending order; the components come in the order of their smallest node.
pub(crate) fn cyclic_components(succ: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut components: Vec<Vec<usize>> = Tarjan::new(succ)
        .components()
        .into_iter()
        .filter(|c| c.len() > 1 || c.iter().any(|&v| succ[v].contains(&v)))
        .map(|mut c| {
            c.sort_unstable();
            c
        })
        .collect();
    components.sort_unstable_by_key(|c| c[0]);
    components
}

/// A shortest cycle from `start` back to it, through the nodes of `within` only (sorted
/// ascending, as a component is), as the nodes in the order they are visited (`start`
/// first, not repeated at the end). Empty when there is none.
pub(crate) fn shortest_cycle(succ: &[Vec<usize>], within: &[usize], start: usize) -> Vec<usize> {
    let mut before: Vec<Option<usize>> = vec![None; succ.len()];
    let mut queue = VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in &succ[v] {
            if w == start {
                return path_to(&before, start, v);
            }
            if before[w].is_none() && within.binary_search(&w).is_ok() {
                before[w] = Some(v);
                queue.push_back(w);
            }
        }
    }
    Vec::new()
}

/// The path from `start` to `end` recorded by the search in `before`.
fn path_to(before: &[Option<usize>], start: usize, end: usize) -> Vec<usize> {
    let mut path = vec![end];
    let mut at = end;
    while at != start {
        match before[at] {
            Some(prev) => at = prev,
            None => break,
        }
        path.push(at);
    }
    path.reverse();
    path
}

const UNVISITED: usize = usize::MAX;

/// Tarjan's algorithm, with an explicit stack of calls so that a long chain of processes
/// cannot overflow the thread's stack.
struct Tarjan<'a> {
    succ: &'a [Vec<usize>],
    /// Discovery order of each node, `UNVISITED` before.
    index: Vec<usize>,
    /// The smallest discovery index reachable from the node's subtree on the stack.
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    next: usize,
    found: Vec<Vec<usize>>,
}

impl<'a> Tarjan<'a> {
    fn new(succ: &'a [Vec<usize>]) -> Self {
        let n = succ.len();
        Tarjan {
            succ,
            index: vec![UNVISITED; n],
            low: vec![0; n],
            on_stack: vec![false; n],
            stack: Vec::new(),
            next: 0,
            found: Vec::new(),
        }
    }

    fn components(mut self) -> Vec<Vec<usize>> {
        for v in 0..self.succ.len() {
            if self.index[v] == UNVISITED {
                self.visit(v);
            }
        }
        self.found
    }

    /// Depth-first from `root`; each call is a node and the position of its next successor.
    fn visit(&mut self, root: usize) {
        self.enter(root);
        let mut calls = vec![(root, 0usize)];
        while let Some(top) = calls.last_mut() {
            let (v, at) = *top;
            top.1 += 1;
            match self.succ[v].get(at).copied() {
                Some(w) if self.index[w] == UNVISITED => {
                    self.enter(w);
                    calls.push((w, 0));
                }
                Some(w) if self.on_stack[w] => self.low[v] = self.low[v].min(self.index[w]),
                Some(_) => {}
                None => {
                    calls.pop();
                    if let Some(&(parent, _)) = calls.last() {
                        self.low[parent] = self.low[parent].min(self.low[v]);
                    }
                    if self.low[v] == self.index[v] {
                        self.pop_component(v);
                    }
                }
            }
        }
    }

    fn enter(&mut self, v: usize) {
        self.index[v] = self.next;
        self.low[v] = self.next;
        self.next += 1;
        self.stack.push(v);
        self.on_stack[v] = true;
    }

    /// Pops the component whose root is `v`.
    fn pop_component(&mut self, v: usize) {
        let mut component = Vec::new();
        while let Some(w) = self.stack.pop() {
            self.on_stack[w] = false;
            component.push(w);
            if w == v {
                break;
            }
        }
        self.found.push(component);
    }
}
