//! `reel merge`: several logs into one, ordered by time, connection ids kept unique.

use crate::cli::merge::Args;
use crate::cmd::open_merged;
use crate::exit::{Status, usage};
use crate::log::WriterConfig;

/// Runs `reel merge`.
pub fn run(args: Args) -> crate::exit::Result<Status> {
    if args.inputs.iter().any(|i| same_file(i, &args.output)) {
        return Err(usage(
            "--output",
            format!("{} is also an input", args.output.display()),
        ));
    }
    let mut merged = open_merged(&args.inputs)?;
    let mut writer =
        crate::cmd::create_output(&args.output, args.force, false, WriterConfig::default())?;
    let result = (|| -> crate::exit::Result<()> {
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
