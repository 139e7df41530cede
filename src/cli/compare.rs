//! The arguments of `reel compare`: results logs, the baseline, gates and the report.

use std::path::PathBuf;
use std::time::Duration;

use super::{JsonArg, parse_duration};
use crate::compare::GATES_HELP;
use crate::compare::endpoint::EndpointRule;

/// Arguments of `reel compare`.
#[derive(Debug, clap::Args)]
#[command(after_help = GATES_HELP)]
pub struct Args {
    /// Results logs written by `reel replay --results` (several: shards of one run, merged
    /// exactly).
    #[arg(value_name = "RESULTS", required = true)]
    pub files: Vec<PathBuf>,

    /// Results of a second staging run to compare against (the reference), e.g. the current
    /// release replayed on identical hardware. Each run must have used one target only.
    #[arg(long, value_name = "RESULTS", num_args = 1..)]
    pub baseline: Vec<PathBuf>,

    /// Fail (exit 1) when EXPR is true, e.g. 'p99 > 1.25x' (repeatable; grammar below).
    #[arg(long = "fail-if", value_name = "EXPR")]
    pub fail_if: Vec<String>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub verdicts: super::VerdictFlags,

    /// Write a self-contained HTML report (plots, gates, examples) to FILE.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub json: JsonArg,

    /// Name endpoints matching REGEX as NAME (repeatable; tried before the built-in folding).
    #[arg(long = "endpoint-rule", value_name = "REGEX=>NAME")]
    pub endpoint_rules: Vec<EndpointRule>,

    /// Fewest values per side for the latency verdict and effect-size gates; below it they read
    /// "not enough data".
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub min_samples: u64,

    /// The replay's --timeout, so that timeouts count as that latency (else errors only).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Distinct endpoints kept; the rest are counted under "(other endpoints)".
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub max_endpoints: usize,

    /// Endpoints listed in the terminal table (all of them are in --json and --report).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub damage: super::DamageArg,
}
