//! The `reflow` command: run, validate and inspect dataflow graphs.

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// The binary allocates through mimalloc (the default feature `mimalloc`; see
/// docs/benchmarks.md).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    if let Err(err) = cli::init_logging(&args.log) {
        eprintln!("error: {err}");
        return ExitCode::from(2);
    }
    match cli::dispatch(args.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
