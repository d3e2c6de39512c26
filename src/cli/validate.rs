//! `reflow validate`: every problem of a graph, or a one-line summary.

use std::path::Path;
use std::process::ExitCode;

use reflow_network::Graph;

pub(crate) fn validate(path: &Path) -> ExitCode {
    let registry = reflow_actors::registry();
    let (graph, mut problems) = Graph::load_partial(path);
    if let Some(Err(more)) = graph.as_ref().map(|g| g.validate(&registry)) {
        problems.0.extend(more.0);
    }
    match graph {
        Some(graph) if problems.is_empty() => {
            println!(
                "{}: ok ({} processes, {} connections, {} initial packets)",
                path.display(),
                graph.processes.len(),
                graph.connections.len(),
                graph.initials.len()
            );
            ExitCode::SUCCESS
        }
        _ => {
            eprint!("{}: {problems}", path.display());
            ExitCode::FAILURE
        }
    }
}
