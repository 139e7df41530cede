//! One file per subcommand: each holds its clap `Args` and a `run` that returns the exit status.

pub mod completions;
pub mod man;
pub mod replay;

use crate::cli::{Cli, Command};
use crate::exit::{Classify, Status};

/// Runs the subcommand the user chose.
pub fn dispatch(cli: Cli) -> anyhow::Result<Status> {
    crate::cmd::init_tracing(cli.verbose);
    match cli.command {
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
        Command::Replay(args) => replay::run(*args),
    }
}

/// The exit status of a stage error found in an error chain, if it is one.
pub fn classify_stage_error(cause: &(dyn std::error::Error + 'static)) -> Option<Status> {
    if let Some(e) = cause.downcast_ref::<crate::log::LogError>() {
        return Some(e.status());
    }
    if let Some(e) = cause.downcast_ref::<crate::capture::CaptureError>() {
        return Some(e.status());
    }
    if let Some(e) = cause.downcast_ref::<crate::replay::ReplayError>() {
        return Some(e.status());
    }
    None
}

/// Structured logs (tracing) on stderr; `RUST_LOG` overrides, `--verbose` turns on debug.
pub fn init_tracing(verbose: bool) {
    let default = if verbose { "reel=debug" } else { "reel=warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // A second call (tests running several commands in one process) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
