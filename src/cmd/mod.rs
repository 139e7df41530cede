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
    crate::logline::set_format(cli.log_format);
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
        crate::logline::warn(&format!("warning: {warning}"));
    }
    Ok(())
}

/// Structured logs (tracing) on stderr; `RUST_LOG` overrides, `--verbose` turns on debug. One
/// line per event: plain (colour only on a terminal without `NO_COLOR`) or, with
/// `--log-format json`, a JSON object ([`crate::logline`]).
pub fn init_tracing(verbose: bool) {
    let default = if verbose { "reel=debug" } else { "reel=warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour())
        .with_target(false)
        .with_ansi(crate::logline::stderr_colour());
    // A second call (tests running several commands in one process) keeps the first subscriber.
    let _ = if crate::logline::is_json() {
        builder.event_format(crate::logline::JsonEvents).try_init()
    } else {
        builder.try_init()
    };
}

/// The gates' judging settings from the flags, and the implicit `--max-error-rate` gate (errors
/// name the flag, exit 2).
pub fn judging(
    flags: &crate::cli::VerdictFlags,
    min_samples: u64,
) -> crate::exit::Result<(crate::compare::Judging, Option<crate::compare::Gate>)> {
    use crate::compare::gate::{parse_confidence, parse_max_error_rate};
    let confidence =
        parse_confidence(&flags.confidence).map_err(|e| crate::exit::usage("--confidence", e))?;
    let implicit = parse_max_error_rate(&flags.max_error_rate)
        .map_err(|e| crate::exit::usage("--max-error-rate", e))?;
    Ok((
        crate::compare::Judging {
            confidence,
            allow_insufficient: flags.allow_insufficient,
            min_samples,
            ..crate::compare::Judging::default()
        },
        implicit,
    ))
}

/// True when stderr may carry ANSI colour: a terminal, and `NO_COLOR` unset or empty.
fn colour() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
