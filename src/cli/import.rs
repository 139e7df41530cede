//! The arguments of `reel import`: the GoReplay file and the log to write.

use std::path::PathBuf;

/// Arguments of `reel import`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  reel import requests.gor -o requests.reel
  reel import requests_0.gor.gz -o requests.reel --force")]
pub struct Args {
    /// The GoReplay file to read (gzip-compressed files are recognised by their content).
    #[arg(value_name = "FILE.gor")]
    pub input: PathBuf,

    /// The .reel log to write.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,

    /// Replace an existing log.
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub json: crate::cli::JsonArg,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub flush: crate::cli::FlushArg,
}
