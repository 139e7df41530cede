//! `reel completions SHELL`: a completion script generated from the clap definition.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::exit::Status;

/// Arguments of `reel completions`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  reel completions bash > /etc/bash_completion.d/reel")]
pub struct Args {
    /// The shell to generate for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Prints the completion script for the chosen shell to stdout.
pub fn run(args: Args) -> anyhow::Result<Status> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "reel", &mut out);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out)?;
    stdout.flush()?;
    Ok(Status::Success)
}
