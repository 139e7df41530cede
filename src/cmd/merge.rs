//! `reel merge`: wiring only — the logs named (`-` is stdin, a directory its rotated files)
//! merged by time with connection ids kept unique, pumped into one `.reel` log sink (a file, or
//! `-` for stdout); the summary on stderr.

use crate::cli::merge::Args;
use crate::ends::{Input, Source, merged, pump};
use crate::exchange::Counters;
use crate::exit::{Status, usage};

/// Runs `reel merge`.
pub fn run(args: Args) -> crate::exit::Result<Status> {
    if args.inputs.iter().any(|i| same_file(i, &args.log.output)) {
        return Err(usage(
            "--output",
            format!("{} is also an input", args.log.output.display()),
        ));
    }
    let output = args.log.into_config(None, &args.json)?;
    let mut source = merged::open(&Input::list(&args.inputs)?)?;
    // The merged stream carries its inputs' metadata and closing records.
    let mut sink = output.open_copy(None)?;
    let moved = pump(&mut source, &mut sink, |_| {})?;
    // A damaged input makes no output claiming to be the whole merge (unless --allow-damaged).
    let damage = source.damage();
    if let Err(e) = crate::cmd::judge_damage(&damage, args.damage) {
        sink.abort();
        return Err(e);
    }
    // The merged stream already ends with a Closing record summing the inputs' counters: the
    // sink writes no second one.
    let written = sink.finish(Counters::default())?;
    source.ack(moved)?;
    let skipped = damage.skipped_blocks;
    let output_name = output.target.to_string();
    crate::logline::info(&format!(
        "merged {} logs into {}: {} records, {} bytes{}",
        args.inputs.len(),
        output_name,
        written.records(),
        written.file_bytes(),
        if skipped > 0 {
            format!(
                " ({skipped} corrupt block{} skipped)",
                if skipped == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        }
    ));
    args.json.emit(&serde_json::json!({
        "inputs": args.inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "output": output_name,
        "records": written.records(),
        "file_bytes": written.file_bytes(),
        "message_bytes": written.message_bytes(),
        "skipped_blocks": skipped,
        "damaged": damage.to_json(),
    }))?;
    Ok(Status::Success)
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
