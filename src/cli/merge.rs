//! The arguments of `reel merge`: the inputs and the merged log.

use std::path::PathBuf;

/// Arguments of `reel merge`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  reel merge node-a.reel node-b.reel node-c.reel -o fleet.reel
  reel merge prod-2026112*.reel -o week.reel --force")]
pub struct Args {
    /// The logs to merge (files of one recording run keep their connection ids; run g of G maps id c to c·G+g).
    #[arg(value_name = "FILE", required = true)]
    pub inputs: Vec<PathBuf>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub log: crate::cli::OutputFlags,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub json: crate::cli::JsonArg,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub damage: crate::cli::DamageArg,
}
