//! The arguments of `reel cat`: the logs to print and the output format.

use std::path::PathBuf;

/// Output formats of `reel cat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per exchange (request with its response folded in), for jq.
    Jsonl,
    /// The raw messages, each after a `####` line saying which it is.
    Http,
    /// GoReplay's .gor format (payload types 1 request, 2 response, 3 replayed response).
    Gor,
}

/// Arguments of `reel cat`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  reel cat prod.reel | jq -r 'select(.status >= 500) | .target'
  reel cat prod.reel --format http | less
  reel cat prod.reel --format gor > prod.gor")]
pub struct Args {
    /// The .reel logs to print (several are merged by time; `-` reads one from stdin).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Jsonl)]
    pub format: Format,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub damage: crate::cli::DamageArg,
}
