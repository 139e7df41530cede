//! `reel man`: the man page, generated from the clap definition.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit::Status;

/// Arguments of `reel man`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  reel man > /usr/local/share/man/man1/reel.1")]
pub struct Args {}

/// Prints the man page (roff) to stdout.
pub fn run(_args: Args) -> anyhow::Result<Status> {
    let cmd = Cli::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut out)?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out)?;
    stdout.flush()?;
    Ok(Status::Success)
}
