//! `reflow validate`: every problem of a graph, or a one-line summary; warnings either way.

use std::path::Path;
use std::process::ExitCode;

use reflow_network::graph::Warning;
use reflow_network::Graph;

pub(crate) fn validate(path: &Path) -> ExitCode {
    let registry = reflow_actors::registry();
    let (graph, mut problems) = Graph::load_partial(path);
    if let Some(Err(more)) = graph.as_ref().map(|g| g.validate(&registry)) {
        problems.0.extend(more.0);
    }
    let warnings = graph.as_ref().map(all_warnings).unwrap_or_default();
    print_warnings(path, &warnings);
    match graph {
        Some(graph) if problems.is_empty() => {
            println!(
                "{}: ok ({} processes, {} connections, {} initial packets{})",
                path.display(),
                graph.processes.len(),
                graph.connections.len(),
                graph.initials.len(),
                match warnings.len() {
                    0 => String::new(),
                    1 => ", 1 warning".to_string(),
                    n => format!(", {n} warnings"),
                }
            );
            ExitCode::SUCCESS
        }
        _ => {
            eprint!("{}: {problems}", path.display());
            ExitCode::FAILURE
        }
    }
}

/// The graph's warnings and those about its remote nodes.
pub(crate) fn all_warnings(graph: &Graph) -> Vec<Warning> {
    let mut warnings = graph.warnings();
    warnings.extend(reflow_bridge::graph_warnings(graph));
    warnings
}

/// Prints each warning on stderr as `PATH: warning: LOCATION: MESSAGE`. Warnings never
/// change an exit code.
pub(crate) fn print_warnings(path: &Path, warnings: &[Warning]) {
    for warning in warnings {
        eprintln!("{}: warning: {warning}", path.display());
    }
}
