//! `reel man`: the man page, generated from the clap definition.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::cli::man::Args;
use crate::exit::Status;

/// Prints the man page (roff) to stdout.
pub fn run(_args: Args) -> crate::exit::Result<Status> {
    let cmd = Cli::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut out)?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out)?;
    stdout.flush()?;
    Ok(Status::Success)
}
