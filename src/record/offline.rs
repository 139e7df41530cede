//! `record --read`: pcap and pcapng files in, one thread extracting (this one), the sink on a
//! writer thread of its own (`ends::threaded`). When the writer falls behind, its queue's bound
//! makes the reader wait: offline input can wait.

use std::path::PathBuf;
use std::time::Duration;

use super::{CaptureConfig, CaptureFigures, RecordError, RecordOutcome, Recorder};
use crate::capture::{OfflineSource, linktype};
use crate::ends::threaded::ThreadedSink;
use crate::ends::{EndError, Sink};
use crate::exchange::{Counters, Meta};
use crate::runtime::now_ns;

/// What to read.
#[derive(Debug, Clone, Default)]
pub struct OfflineInput {
    /// The capture files, merged by time.
    pub files: Vec<PathBuf>,
    /// A BPF filter applied to their frames.
    pub filter: Option<String>,
    /// Stop after this much capture time.
    pub duration: Option<Duration>,
}

/// The figures of a recording from files.
#[derive(Debug, Clone, Default)]
pub struct OfflineOutcome {
    /// The recording's figures.
    pub record: RecordOutcome,
    /// Input files cut short (read up to the cut).
    pub truncated_files: u64,
    /// The link types met, by name, sorted.
    pub linktypes: Vec<String>,
}

/// Records `input` with `config`: opens the files (a bad one is found before any output is
/// made), then the sink `open` makes from the run's metadata, then extracts into it. On a read
/// error the sink is aborted (no partial output is left claiming anything).
pub fn record_files(
    input: &OfflineInput,
    config: CaptureConfig,
    open: impl FnOnce(Meta) -> Result<Box<dyn Sink + Send>, EndError>,
) -> Result<OfflineOutcome, RecordError> {
    let mut source = OfflineSource::open(&input.files, input.filter.as_deref())?;
    let sources = input
        .files
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let meta = config.run_meta("record", sources, input.filter.clone().unwrap_or_default());
    let selection_active = config.selection_active();
    let redacting = config.redactor.is_some();
    let sink = ThreadedSink::spawn(open(meta)?, "reel-writer")?;
    let mut recorder = Recorder::new(config, sink, CaptureFigures::default());

    let duration_ns = input.duration.map(|d| d.as_nanos() as u64);
    let mut first_ts: Option<u64> = None;
    let read = loop {
        let frame = match source.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        let start = *first_ts.get_or_insert(frame.ts_ns);
        if duration_ns.is_some_and(|d| frame.ts_ns.saturating_sub(start) > d) {
            break Ok(());
        }
        let ts = frame.ts_ns;
        if !recorder.push(&frame) || recorder.limit_done(ts) {
            break Ok(());
        }
    };
    if let Err(e) = read {
        recorder.sink_mut().abort();
        return Err(e.into());
    }
    recorder.set_truncated_files(source.truncated_files());
    if recorder.alive() {
        recorder.finish_input();
    }
    let counters = Counters {
        end_ns: now_ns(),
        values: recorder.counter_values(),
    };
    let written = recorder.sink_mut().finish(counters)?;
    let (packets, bytes) = recorder.frames();
    let mut linktypes: Vec<String> = source
        .file_stats()
        .iter()
        .flat_map(|f| f.linktypes.iter().map(|l| linktype::name(*l)))
        .collect();
    linktypes.sort();
    linktypes.dedup();
    Ok(OfflineOutcome {
        record: RecordOutcome {
            packets,
            bytes,
            extracted_packets: packets,
            counts: recorder.totals(),
            written,
            selection_active,
            redacting,
        },
        truncated_files: source.truncated_files(),
        linktypes,
    })
}
