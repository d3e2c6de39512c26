//! Command-line parsing and dispatch.

mod components;
mod discovery;
mod distributed;
mod interrupt;
mod run;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// reflow: run dataflow graphs of actors written in JSON.
#[derive(Debug, Parser)]
#[command(name = "reflow", version, about, long_about = None)]
pub(crate) struct Cli {
    /// Log level or filter for diagnostics on stderr: error, warn, info, debug, trace, or
    /// a filter such as `reflow_network=debug`.
    #[arg(long, global = true, default_value = "warn", value_name = "LEVEL")]
    pub(crate) log: String,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a graph until it completes (exit 0) or an actor fails (exit 1). Ctrl-C or SIGTERM
    /// stops it gracefully (sources stop, in-flight messages drain, peers get a goodbye):
    /// a run stopped before its graph completed exits 130 (Ctrl-C) or 143 (SIGTERM); a
    /// serving instance (--bind) exits 0, its normal end. Exit 2: the graph or the bridge
    /// could not be set up.
    // Boxed: its flags make it several times the size of the other commands.
    Run(Box<run::RunArgs>),
    /// Check a graph without running it: print every problem with its location and exit 1,
    /// or print a one-line summary and exit 0. Warnings (a cycle of processes, which a full
    /// inbox can deadlock) are printed too and do not change the exit code.
    Validate {
        /// The graph file (FBP JSON or the Reflow export variant).
        graph: PathBuf,
    },
    /// List the registered components with their ports and descriptions.
    Components {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Serve the discovery registry: an HTTP service where instances register (and renew)
    /// their network, address and actors, and where peers list them. State is in memory;
    /// runs until Ctrl-C or SIGTERM (exit 0). See docs/discovery.md.
    Discovery(discovery::DiscoveryArgs),
}

pub(crate) fn init_logging(filter: &str) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .map_err(|e| anyhow::anyhow!("invalid --log value `{filter}`: {e}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    Ok(())
}

pub(crate) fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run(args) => run::run(*args),
        Command::Validate { graph } => Ok(validate::validate(&graph)),
        Command::Components { json } => components::list(json),
        Command::Discovery(args) => discovery::run(args),
    }
}
