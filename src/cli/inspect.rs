//! The arguments of `reel inspect`: the logs and how endpoints are named.

use std::path::PathBuf;

use super::JsonArg;
use crate::compare::endpoint::EndpointRule;

/// Arguments of `reel inspect`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  reel inspect prod.reel
  reel inspect prod-*.reel --json | jq .requests")]
pub struct Args {
    /// The .reel logs to summarise (together, as one body of traffic; `-` reads one from stdin).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// How many endpoints to list.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,

    /// Name endpoints matching REGEX as NAME (repeatable; tried before the built-in folding).
    #[arg(long = "endpoint-rule", value_name = "REGEX=>NAME")]
    pub endpoint_rules: Vec<EndpointRule>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub json: JsonArg,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub damage: crate::cli::DamageArg,
}
