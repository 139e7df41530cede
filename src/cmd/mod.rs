//! One file per subcommand: each maps its `cli` arguments to the stages' configs, runs them and
//! prints what they return. The exit status comes back to `main` through `exit::report`.

pub mod cat;
pub mod compare;
pub mod completions;
pub mod demo;
pub mod import;
pub mod inspect;
pub mod man;
pub mod merge;
pub mod record;
pub mod replay;
pub mod shadow;

use crate::cli::{Cli, Command};
use crate::exit::Status;

/// Runs the subcommand the user chose.
pub fn dispatch(cli: Cli) -> crate::exit::Result<Status> {
    crate::cmd::init_tracing(cli.verbose);
    match cli.command {
        Command::Record(args) => record::run(*args),
        Command::Inspect(args) => inspect::run(args),
        Command::Cat(args) => cat::run(args),
        Command::Import(args) => import::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
        Command::Replay(args) => replay::run(*args),
        Command::Shadow(args) => shadow::run(*args),
        Command::Demo(args) => demo::run(args),
    }
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

/// Opens logs for reading as one stream merged by time (one input is passed through as is).
pub fn open_merged(paths: &[std::path::PathBuf]) -> crate::exit::Result<crate::log::merge::Merger> {
    let readers = paths
        .iter()
        .map(crate::log::open)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(crate::log::merge::Merger::new(readers)?)
}

/// Creates an output log under the file rules (`.part`, mode 0600, refusal of an existing name
/// unless `append`), removing an existing file first when `force`.
pub fn create_output(
    path: &std::path::Path,
    force: bool,
    append: bool,
    config: crate::log::WriterConfig,
) -> crate::exit::Result<crate::log::Writer> {
    use crate::exit::Context;
    if force && path.exists() {
        std::fs::remove_file(path)
            .with_context(|| format!("{}: cannot replace", path.display()))?;
    }
    Ok(crate::log::create(
        path,
        crate::log::CreateOptions { append, config },
    )?)
}
