//! `reel import`: wiring only — a GoReplay source (a `.gor` file, plain or gzip, or `-` for
//! stdin) pumped into a `.reel` log sink (a file, or `-` for stdout); the counts on stderr.

use crate::cli::import::Args;
use crate::ends::gor::GorSource;
use crate::ends::{Input, Source, pump};
use crate::exchange::{Counters, Meta, Record};
use crate::exit::{Context, Status};
use crate::runtime::now_ns;

/// Runs `reel import`.
pub fn run(args: Args) -> crate::exit::Result<Status> {
    let input = Input::new(&args.input);
    let output = args.log.into_config(None, &args.json)?;
    let mut source = GorSource::open(&input)?;
    let mut sink = output.open_copy(Some(Meta {
        sources: vec![input.to_string()],
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        start_ns: now_ns(),
        command: "import".to_string(),
        ..Meta::default()
    }))?;
    let mut counts = [0u64; 6];
    let moved = pump(&mut source, &mut sink, |record| {
        let slot = match record {
            Record::Request(_) => 0,
            Record::Response(_) => 1,
            Record::Interim(_) => 2,
            Record::Orphan(_) => 3,
            Record::Result(_) => 4,
            _ => 5,
        };
        counts[slot] += 1;
    })?;
    let gor = source.stats();
    let names = [
        "requests",
        "responses",
        "interim",
        "orphans",
        "results",
        "other",
    ];
    let mut values: Vec<(String, u64)> = names
        .iter()
        .zip(counts)
        .map(|(n, c)| (n.to_string(), c))
        .collect();
    if gor.records == 0 && gor.malformed > 0 {
        sink.abort();
        return Err(crate::exit::bad_input(
            &input,
            format!(
                "not a GoReplay file: none of its {} records parses (a GoReplay record is a \
                 header line `TYPE ID TIMESTAMP`, then the payload, then the separator line)",
                gor.malformed
            ),
        ));
    }
    values.push(("gor.records".into(), gor.records));
    values.push(("gor.malformed".into(), gor.malformed));
    let written = sink
        .finish(Counters {
            end_ns: now_ns(),
            values: values.clone(),
        })
        .with_context(|| output.target.to_string())?;
    source.ack(moved)?;
    let output_name = output.target.to_string();
    crate::logline::info(&format!(
        "imported {} GoReplay records ({} malformed, skipped): {} requests, {} responses, {} interim, {} orphans, {} replayed; wrote {} ({} bytes)",
        gor.records,
        gor.malformed,
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        counts[4],
        output_name,
        written.file_bytes()
    ));
    let mut json: serde_json::Map<String, serde_json::Value> =
        values.into_iter().map(|(k, v)| (k, v.into())).collect();
    json.insert("output".into(), output_name.into());
    json.insert("file_bytes".into(), written.file_bytes().into());
    args.json.emit(&serde_json::Value::Object(json))?;
    Ok(Status::Success)
}
