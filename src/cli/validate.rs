//! `reflow validate`: every problem of a graph, or a one-line summary.

use std::path::Path;
use std::process::ExitCode;

use reflow_network::Graph;

pub(crate) fn validate(path: &Path) -> ExitCode {
    let registry = reflow_actors::registry();
    let graph = Graph::load(path).and_then(|g| g.validate(&registry).map(|()| g));
    match graph {
        Ok(graph) => {
            println!(
                "{}: ok ({} processes, {} connections, {} initial packets)",
                path.display(),
                graph.processes.len(),
                graph.connections.len(),
                graph.initials.len()
            );
            ExitCode::SUCCESS
        }
        Err(problems) => {
            eprint!("{}: {problems}", path.display());
            ExitCode::FAILURE
        }
    }
}
