//! The arguments of `reel man`: which page, or a directory for all of them.

use std::path::PathBuf;

/// Arguments of `reel man`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  reel man > /usr/local/share/man/man1/reel.1\n  \
    reel man replay | man -l -\n  reel man --out-dir /usr/local/share/man/man1"
)]
pub struct Args {
    /// The subcommand whose page to print (reel-SUBCOMMAND(1)); without it, reel(1).
    #[arg(value_name = "SUBCOMMAND", conflicts_with = "out_dir")]
    pub command: Option<String>,

    /// Write every page, reel.1 and reel-SUBCOMMAND.1 for each subcommand, into DIR (created if
    /// missing) instead of printing one.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}
