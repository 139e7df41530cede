//! The arguments of `reel man`: no arguments.

/// Arguments of `reel man`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  reel man > /usr/local/share/man/man1/reel.1")]
pub struct Args {}
