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

/// The damage rule, the same for every command that reads logs: nothing skipped is fine; damage
/// prints a warning with `--allow-damaged` and is an error (exit 3) without it.
pub fn judge_damage(
    damage: &crate::log::Damage,
    flag: crate::cli::DamageArg,
) -> crate::exit::Result<()> {
    if let Some(warning) = damage.judge(flag.allow_damaged)? {
        eprintln!("warning: {warning}");
    }
    Ok(())
}

/// Structured logs (tracing) on stderr; `RUST_LOG` overrides, `--verbose` turns on debug. ANSI
/// colour only when stderr is a terminal and `NO_COLOR` is unset (<https://no-color.org>).
pub fn init_tracing(verbose: bool) {
    let default = if verbose { "reel=debug" } else { "reel=warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // A second call (tests running several commands in one process) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour())
        .with_target(false)
        .try_init();
}

/// True when stderr may carry ANSI colour: a terminal, and `NO_COLOR` unset or empty.
fn colour() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
