//! The record stage as a library object: a capture source (pcap files, or live devices) →
//! extraction (decode → TCP reassembly → HTTP framing and pairing) → selection (`--sample`, the
//! request filters, `--limit`) → redaction → a [`Sink`](crate::ends::Sink) of exchange records.
//! [`offline::record_files`] runs it over capture files, [`live::record_live`] over network
//! devices until a stop; both return their figures, which [`Summary`] turns into the lines and
//! JSON `reel record` prints. `reel record` maps its flags to a [`CaptureConfig`] and a sink
//! opener, runs one of them and prints.
//!
//! `record` owns the pipeline from frames to kept records ([`Recorder`]) and the threads of a
//! live capture (capture threads → frame queue → extraction thread → the sink's writer thread).
//! The ends (`ends`), the process's environment (`runtime`: signals, `--user`, the watch loop) and
//! each stage (`capture`, `tcp`, `http`, `redact`, `filter`) are used, never re-implemented.
//! `shadow` runs the same capture side ([`live::LiveStart`], [`live::extract_live`]) with its
//! dispatcher as the sink.

pub mod extraction;
pub mod figures;
pub mod live;
pub mod offline;
mod recorder;
pub mod select;
pub mod summary;

pub use extraction::{Extraction, ExtractionConfig};
pub use figures::CaptureFigures;
pub use recorder::{PUBLISH_EVERY, Recorder, TLS_NOTE};
pub use select::{SelectionConfig, sample_keeps};
pub use summary::Summary;

use crate::capture::CaptureError;
use crate::capture::live::LiveError;
use crate::ends::EndError;
use crate::exchange::Meta;
use crate::exit::{Classify, Status};
use crate::metrics::MetricsError;
use crate::redact::Redactor;
use crate::runtime::RuntimeError;

/// Reassembly budgets (see `--max-memory`): live, where the whole capture must stay within
/// 64 MiB resident …
pub const LIVE_MAX_MEMORY: u64 = 24 << 20;
/// … and per connection, live …
pub const LIVE_MAX_FLOW_MEMORY: u64 = 8 << 20;
/// … reading files …
pub const READ_MAX_MEMORY: u64 = 48 << 20;
/// … and per connection, reading files.
pub const READ_MAX_FLOW_MEMORY: u64 = 16 << 20;

/// What extraction keeps and how, validated: extraction's limits, the selection, `--limit`,
/// the redactor, and the notes that say so in a log's metadata.
#[derive(Default)]
pub struct CaptureConfig {
    /// Decode, reassembly and framing limits.
    pub extraction: ExtractionConfig,
    /// `--sample` and the request filters.
    pub selection: SelectionConfig,
    /// `--limit`: stop after this many requests (their responses still awaited).
    pub limit: Option<u64>,
    /// Redaction, when asked for.
    pub redactor: Option<Redactor>,
    /// Lines for the metadata's notes (what selection and redaction did to the log).
    pub notes: Vec<String>,
}

impl CaptureConfig {
    /// True when `--sample` or a request filter selects.
    pub fn selection_active(&self) -> bool {
        self.selection.sample_per_million.is_some() || self.selection.filter.is_some()
    }

    /// The redaction key's id, empty without redaction.
    pub fn redaction_key_id(&self) -> String {
        self.redactor
            .as_ref()
            .map(|r| r.key_id().to_string())
            .unwrap_or_default()
    }

    /// The metadata every file of a run of `command` starts with (each file's own `start_ns` is
    /// set when it opens): this host, the sources and capture filter, the notes, a new run id.
    pub fn run_meta(&self, command: &str, sources: Vec<String>, filter: String) -> Meta {
        Meta {
            host: crate::runtime::host_name(),
            sources,
            filter,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            start_ns: 0,
            redaction_key_id: self.redaction_key_id(),
            command: command.to_string(),
            notes: self.notes.clone(),
            run_id: crate::runtime::new_run_id(),
        }
    }
}

/// Why a recording could not start or stopped. Each message names the file, flag or device.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// A capture file could not be read.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// A capture device could not be opened or failed.
    #[error(transparent)]
    Live(#[from] LiveError),
    /// The output failed.
    #[error(transparent)]
    End(#[from] EndError),
    /// `--metrics-addr` could not be served.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// Signals or `--user` could not be set up.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// A thread of the run could not start or died.
    #[error("cannot start the {0} thread: {1}")]
    Thread(&'static str, std::io::Error),
    /// A thread of the run panicked (a bug).
    #[error("the {0} thread panicked")]
    Panicked(&'static str),
}

impl Classify for RecordError {
    fn status(&self) -> Status {
        match self {
            RecordError::Capture(e) => e.status(),
            RecordError::Live(e) => e.status(),
            RecordError::End(e) => e.status(),
            RecordError::Metrics(e) => e.status(),
            RecordError::Runtime(e) => e.status(),
            RecordError::Thread(..) | RecordError::Panicked(_) => Status::Runtime,
        }
    }
}

/// The figures of a finished recording, for its summary and `--json`.
#[derive(Debug, Clone, Default)]
pub struct RecordOutcome {
    /// Frames captured (live: what libpcap delivered) and their bytes.
    pub packets: u64,
    /// Bytes of those frames.
    pub bytes: u64,
    /// Frames that reached extraction (live: fewer than `packets` when the queue dropped).
    pub extracted_packets: u64,
    /// Extraction's, selection's and redaction's counts by name (`requests`, `flows`, …).
    pub counts: Vec<(&'static str, u64)>,
    /// What the sink wrote.
    pub written: crate::ends::Written,
    /// `--sample` or a request filter was in force (the summary then says what they left out).
    pub selection_active: bool,
    /// Redaction was asked for.
    pub redacting: bool,
}

impl RecordOutcome {
    /// One count by name (0 when absent).
    pub fn get(&self, key: &str) -> u64 {
        self.counts
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(0, |(_, v)| *v)
    }
}
