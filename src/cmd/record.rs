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
    let mut cut_short = None;
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
        cut_short = outcome.cut_short;
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
    let mut json = summary.json;
    json.insert("interrupted".into(), cut_short.is_some().into());
    args.json.emit(&serde_json::Value::Object(json))?;
    // A signal before the --duration or --limit asked for: the log is valid but not the
    // recording that was asked for.
    if let Some((signal, flag)) = cut_short {
        crate::logline::warn(&format!(
            "INTERRUPTED by {} before {flag} was reached ({:.1} s): the log holds what was captured until then",
            crate::runtime::signals::signal_name(signal),
            started.elapsed().as_secs_f64()
        ));
        return Ok(Status::Interrupted(signal));
    }
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
