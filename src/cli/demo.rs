//! The arguments of `reel demo`: where the report goes, the pace and the size of the run.

use std::path::PathBuf;

use super::JsonArg;

const AFTER_HELP: &str = "\
Examples:
  reel demo
  reel demo --report /tmp/report.html
  reel demo --json | jq '.gates[] | {expr, verdict}'

Exit status: 0 when the demo ran (v2's failed gates are the point of it), 2 for a bad flag (e.g. a
--report in a directory that does not exist), 3 when it could not run (no loopback, no temporary
directory, a report that cannot be written).";

/// Arguments of `reel demo`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Where to write the HTML report.
    #[arg(
        long,
        value_name = "FILE.html",
        default_value = "reel-demo-report.html"
    )]
    pub report: PathBuf,

    /// Replay speed (the sample spans 8.5 s at 1x).
    #[arg(long, value_name = "FACTOR", default_value = "4x")]
    pub speed: String,

    /// How many times the sample is replayed (more requests per endpoint, firmer verdicts).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub repeat: u32,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub json: JsonArg,
}
