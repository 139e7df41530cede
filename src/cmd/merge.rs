//! `reel merge`: several logs into one, ordered by time, connection ids kept unique.

use std::path::PathBuf;

use crate::cmd::open_merged;
use crate::exit::{Status, usage};
use crate::log::WriterConfig;

/// Arguments of `reel merge`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  reel merge node-a.reel node-b.reel node-c.reel -o fleet.reel
  reel merge prod-2026112*.reel -o week.reel --force")]
pub struct Args {
    /// The logs to merge (files of one recording run keep their connection ids; run g of G maps id c to c·G+g).
    #[arg(value_name = "FILE", required = true)]
    pub inputs: Vec<PathBuf>,

    /// The merged log to write.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,

    /// Replace an existing log.
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub json: crate::cli::JsonArg,
}

/// Runs `reel merge`.
pub fn run(args: Args) -> anyhow::Result<Status> {
    if args.inputs.iter().any(|i| same_file(i, &args.output)) {
        return Err(usage(
            "--output",
            format!("{} is also an input", args.output.display()),
        ));
    }
    let mut merged = open_merged(&args.inputs)?;
    let mut writer =
        crate::cmd::create_output(&args.output, args.force, false, WriterConfig::default())?;
    let result = (|| -> anyhow::Result<()> {
        while let Some(record) = merged.next_record()? {
            writer.write(&record)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = writer.abort();
        return Err(e);
    }
    // The merged stream already ends with a Closing record summing the inputs' counters.
    let stats = writer.close()?;
    let skipped: u64 = merged
        .input_stats()
        .iter()
        .map(|(_, s)| s.skipped_blocks)
        .sum();
    eprintln!(
        "merged {} logs into {}: {} records, {} bytes{}",
        args.inputs.len(),
        args.output.display(),
        stats.records,
        stats.file_bytes,
        if skipped > 0 {
            format!(" ({skipped} corrupt blocks skipped)")
        } else {
            String::new()
        }
    );
    args.json.emit(&serde_json::json!({
        "inputs": args.inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "output": args.output.display().to_string(),
        "records": stats.records,
        "file_bytes": stats.file_bytes,
        "message_bytes": stats.message_bytes,
        "skipped_blocks": skipped,
    }))?;
    Ok(Status::Success)
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
