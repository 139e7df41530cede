//! The `reel` binary: parse the command line, dispatch, turn the outcome into an exit code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = reel::cli::Cli::parse();
    let verbose = cli.verbose;
    reel::exit::report_with(reel::cmd::dispatch(cli), verbose, &reel::logline::error)
}
