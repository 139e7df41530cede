//! `reel completions SHELL`: a completion script generated from the clap definition.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::cli::completions::Args;
use crate::exit::Status;

/// Prints the completion script for the chosen shell to stdout.
pub fn run(args: Args) -> crate::exit::Result<Status> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "reel", &mut out);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out)?;
    stdout.flush()?;
    Ok(Status::Success)
}
