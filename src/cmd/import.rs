//! `reel import`: a GoReplay `.gor` file (plain or gzip) into a `.reel` log.

use crate::cli::import::Args;
use crate::exit::Context;

use crate::cmd::record::now_ns;
use crate::exchange::{Counters, Meta, Record};
use crate::exit::Status;
use crate::log::WriterConfig;
use crate::log::gor::{GorImporter, GorReader};

/// Runs `reel import`.
pub fn run(args: Args) -> crate::exit::Result<Status> {
    let mut reader = GorReader::open(&args.input)?;
    let mut writer =
        crate::cmd::create_output(&args.output, args.force, false, WriterConfig::default())?;
    writer.write(&Record::Meta(Meta {
        sources: vec![args.input.display().to_string()],
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        start_ns: now_ns(),
        command: "import".to_string(),
        ..Meta::default()
    }))?;
    let mut importer = GorImporter::new();
    let mut counts = [0u64; 6];
    let result = (|| -> crate::exit::Result<()> {
        while let Some(g) = reader.next_record()? {
            let record = importer.convert(&g);
            let slot = match &record {
                Record::Request(_) => 0,
                Record::Response(_) => 1,
                Record::Interim(_) => 2,
                Record::Orphan(_) => 3,
                Record::Result(_) => 4,
                _ => 5,
            };
            counts[slot] += 1;
            writer.write(&record)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = writer.abort();
        return Err(e);
    }
    let gor = reader.stats();
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
    values.push(("gor.records".into(), gor.records));
    values.push(("gor.malformed".into(), gor.malformed));
    let stats = writer
        .finish(Counters {
            end_ns: now_ns(),
            values: values.clone(),
        })
        .with_context(|| args.output.display().to_string())?;
    eprintln!(
        "imported {} GoReplay records ({} malformed, skipped): {} requests, {} responses, {} interim, {} orphans, {} replayed; wrote {} ({} bytes)",
        gor.records,
        gor.malformed,
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        counts[4],
        args.output.display(),
        stats.file_bytes
    );
    let mut json: serde_json::Map<String, serde_json::Value> =
        values.into_iter().map(|(k, v)| (k, v.into())).collect();
    json.insert("output".into(), args.output.display().to_string().into());
    json.insert("file_bytes".into(), stats.file_bytes.into());
    args.json.emit(&serde_json::Value::Object(json))?;
    Ok(Status::Success)
}
