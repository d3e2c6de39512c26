//! `reflow run`: load, validate and run a graph until it completes or Ctrl-C.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use reflow_network::{Graph, Network, NetworkConfig, NetworkEvent, Report};
use tokio::sync::broadcast;

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The graph file (FBP JSON or the Reflow export variant).
    pub(crate) graph: PathBuf,
    /// Capacity of each process inbox, in messages; a full inbox makes senders wait.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    capacity: u32,
    /// After Ctrl-C, how long in-flight messages may drain before processes are aborted.
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    pub(crate) shutdown_deadline_ms: u64,

    #[command(flatten)]
    pub(crate) bridge: super::distributed::BridgeArgs,
}

pub(crate) fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let graph = match Graph::load(&args.graph) {
        Ok(graph) => graph,
        Err(problems) => {
            eprint!("{}: {problems}", args.graph.display());
            return Ok(ExitCode::from(2));
        }
    };
    super::validate::print_warnings(&args.graph, &super::validate::all_warnings(&graph));
    let config = NetworkConfig {
        capacity: args.capacity as usize,
        shutdown_deadline: Duration::from_millis(args.shutdown_deadline_ms),
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    if args.bridge.is_distributed() {
        return runtime.block_on(super::distributed::run(&args, &graph, config));
    }
    runtime.block_on(run_graph(&args, &graph, config))
}

async fn run_graph(
    args: &RunArgs,
    graph: &Graph,
    config: NetworkConfig,
) -> anyhow::Result<ExitCode> {
    let deadline = config.shutdown_deadline;
    let network = match Network::from_graph(graph, reflow_actors::registry(), config) {
        Ok(network) => network,
        Err(err) => {
            eprintln!("{}: {}", args.graph.display(), err.to_string().trim_end());
            return Ok(ExitCode::from(2));
        }
    };
    let printed = Printed::default();
    tokio::spawn(log_events(network.events(), printed.clone()));
    let stop = super::interrupt::stop_signal()?;
    let mut running = network.start()?;
    let (report, interrupted) = tokio::select! {
        report = running.wait() => (report, None),
        signal = stop => {
            eprintln!("{}: stopping sources and draining (up to {} ms)", signal.name(), deadline.as_millis());
            (running.shutdown(deadline).await, Some(signal))
        }
    };
    let code = exit_code(&report, &printed);
    Ok(match interrupted {
        // The graph did not complete: not a success, though nothing failed.
        Some(signal) if report.is_success() => signal.exit_code(),
        _ => code,
    })
}

/// Reports failures on stderr as they happen.
/// The processes whose failure was printed already (by the live event log).
pub(crate) type Printed = Arc<Mutex<HashSet<String>>>;

/// Records `process` as printed; whether it was not yet.
fn first_time(printed: &Printed, process: &str) -> bool {
    let mut set = printed.lock().unwrap_or_else(PoisonError::into_inner);
    set.insert(process.to_string())
}

/// Prints each process failure as it happens, and records it in `printed`.
pub(crate) async fn log_events(mut events: broadcast::Receiver<NetworkEvent>, printed: Printed) {
    loop {
        match events.recv().await {
            Ok(NetworkEvent::ProcessFailed { process, error }) => {
                if first_time(&printed, &process) {
                    eprintln!("error: process `{process}` failed: {error}");
                }
            }
            Ok(event) => tracing::debug!(?event, "network event"),
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "event log lagged")
            }
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}

/// The exit code of a finished run; first prints every failure the live log has not
/// printed yet (the process may end before the log task runs), then a summary.
pub(crate) fn exit_code(report: &Report, printed: &Printed) -> ExitCode {
    for failure in &report.failures {
        if first_time(printed, &failure.process) {
            eprintln!(
                "error: process `{}` failed: {}",
                failure.process, failure.error
            );
        }
    }
    for name in &report.aborted {
        eprintln!(
            "error: process `{name}` was still running at the shutdown deadline and was aborted"
        );
    }
    print_deadlock(report);
    if report.is_success() {
        ExitCode::SUCCESS
    } else {
        let failed: Vec<&str> = report.failures.iter().map(|f| f.process.as_str()).collect();
        if !failed.is_empty() {
            eprintln!(
                "error: {} process(es) failed: {}",
                failed.len(),
                failed.join(", ")
            );
        }
        ExitCode::FAILURE
    }
}

/// Says what a deadlock was and what to do about it, when the run had one.
fn print_deadlock(report: &Report) {
    if report.deadlocked.is_empty() {
        return;
    }
    eprintln!(
        "error: deadlock: process(es) {} blocked sending into full inboxes on a cycle, none \
         able to go on; give the inboxes more room with a larger --capacity, or break the \
         cycle (`reflow validate` lists the graph's cycles)",
        report.deadlocked.join(", ")
    );
}
