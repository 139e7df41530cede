//! `reel record`: wiring only — the flags mapped to the record stage's configs (`cli::record`),
//! the stage run over capture files (`record::offline`) or network devices (`record::live`) into
//! a `.reel` log sink (a file, a rotating set, or `-` for stdout), and its summary printed on
//! stderr (`record::Summary`), with `--json` as asked.

use std::time::Instant;

use crate::cli::record::Args;
use crate::ends::log_output::WriteFigures;
use crate::exit::Status;
use crate::record::live::{LiveInput, live_filter, record_live};
use crate::record::offline::{OfflineInput, record_files};
use crate::record::{CaptureFigures, Summary};

/// Runs `reel record`.
pub fn run(args: Args) -> crate::exit::Result<Status> {
    if args.read.is_empty() && args.interfaces.is_empty() {
        return Err(crate::exit::BadInput("--read or --interface is required".into()).into());
    }
    let started = Instant::now();
    let live = !args.interfaces.is_empty();
    let output = args.output_config()?;
    let config = args.capture_config(live)?;
    let name = args.log.output.display().to_string();
    let summary = if live {
        let bpf = live_filter(&args.ports, args.filter.as_deref());
        let input = LiveInput {
            options: args.live.into_options(
                &args.interfaces,
                Some(bpf),
                "reel record: second signal, exiting now (the open file stays .part)",
            )?,
            duration: args.duration,
            stats_interval: args.stats_interval,
        };
        let outcome = record_live(&input, config, |meta, figures: &CaptureFigures| {
            output.open_run(meta, &figures.write_figures(), true)
        })?;
        Summary::of_live(&outcome, &name, started.elapsed())
    } else {
        let input = OfflineInput {
            files: args.read.clone(),
            filter: args.filter.clone(),
            duration: args.duration,
        };
        let outcome = record_files(&input, config, |meta| {
            output.open_run(meta, &WriteFigures::default(), false)
        })?;
        Summary::of_files(&outcome, args.read.len(), &name, started.elapsed())
    };
    for line in &summary.lines {
        crate::logline::info(line);
    }
    args.json.emit(&serde_json::Value::Object(summary.json))?;
    Ok(Status::Success)
}

#[cfg(test)]
mod tests {
    #[test]
    fn flags_of_flattened_groups_stay_apart() {
        use clap::{CommandFactory, Parser};
        crate::cli::Cli::command().debug_assert();
        let cli = crate::cli::Cli::parse_from([
            "reel",
            "record",
            "-i",
            "eth0",
            "-o",
            "x.reel",
            "--redact-header",
            "X-Api-Key",
            "--header",
            "Accept: json",
            "--path",
            "^/api",
        ]);
        let crate::cli::Command::Record(args) = cli.command else {
            panic!("not record");
        };
        assert_eq!(args.redact.headers, ["X-Api-Key"]);
        assert_eq!(args.selection.filters.headers, ["Accept: json"]);
        assert_eq!(args.selection.filters.paths, ["^/api"]);
    }
}
