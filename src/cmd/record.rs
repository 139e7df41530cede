//! `reel record`: extract HTTP exchanges from pcap/pcapng files (`--read`) or from network
//! devices (`--interface`, a long-running daemon) into `.reel` logs.
//!
//! Threads (see docs/ARCHITECTURE.md, "Live capture"):
//! - `--read`: the main thread reads frames and extracts; a writer thread writes.
//! - `--interface`: one capture thread per interface (`capture::live`) → a bounded frame queue →
//!   one extraction thread (decode, reassembly, HTTP, selection, redaction) → a bounded channel →
//!   the writer thread (encoding, compression, files, rotation, retention). The main thread
//!   watches signals and `--duration`, and prints the stats lines; a metrics thread serves
//!   `--metrics-addr`.
//!
//! Selection, in this order: `--sample` (whole connections, by a fixed hash of their two
//! endpoints), then `--limit`. A request left out takes its responses with it. Redaction comes
//! last, on the records that are kept.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant, SystemTime};

use crate::cli::record::{Args, BufferFlags, LiveFlags};
use crate::exit::Context;

use crate::capture::live::{
    InterfaceCounters, LiveCapture, LiveConfig, LiveError, LiveSource, Poll,
};
use crate::capture::{Frame, OfflineSource, linktype};
use crate::exchange::{Counters, Meta, Record};
use crate::exit::{Status, usage};
use crate::filter::{Filter, FilterArgs};
use crate::http::ExtractConfig;
use crate::log::WriterConfig;
use crate::log::rotate::{FinishedFile, OutputPlan, OutputSpec, RotatingWriter};
use crate::metrics::{self, Kind, Metric, Ready, Registry, Show, StatsLine};
use crate::record::extraction::{Extraction, ExtractionConfig};
use crate::redact::{RedactArgs, Redactor};
use crate::tcp::TcpConfig;

/// How long (capture time) to wait for responses to the last requests kept by `--limit`.
const LIMIT_GRACE_NS: u64 = 30_000_000_000;

/// A batch for the writer is sent once it holds this many records …
const BATCH: usize = 512;
/// … or this many bytes of messages (fewer, larger batches: fewer wakeups of the writer).
const BATCH_BYTES: usize = 512 << 10;
/// Messages in the channel to the writer thread.
const WRITER_QUEUE: usize = 16;
/// How often the extraction thread publishes its figures and a counter snapshot.
const PUBLISH_EVERY: Duration = Duration::from_millis(200);
/// Reassembly budgets live (see `--max-memory`).
const LIVE_MAX_MEMORY: u64 = 24 << 20;
const LIVE_MAX_FLOW_MEMORY: u64 = 8 << 20;
const READ_MAX_MEMORY: u64 = 48 << 20;
const READ_MAX_FLOW_MEMORY: u64 = 16 << 20;

/// Keeps the first `--limit` requests and the responses to them, drops the rest.
struct Limiter {
    limit: u64,
    kept: HashSet<(u64, u32)>,
    unanswered: u64,
    reached_at_ns: Option<u64>,
}

impl Limiter {
    fn new(limit: u64) -> Limiter {
        Limiter {
            limit,
            kept: HashSet::new(),
            unanswered: 0,
            reached_at_ns: None,
        }
    }

    /// Whether to keep a record.
    fn keep(&mut self, record: &Record) -> bool {
        match record {
            Record::Request(m) => {
                if self.reached_at_ns.is_some() {
                    return false;
                }
                self.kept.insert((m.conn, m.index));
                self.unanswered += 1;
                if self.kept.len() as u64 >= self.limit {
                    self.reached_at_ns = Some(m.first_ts_ns);
                }
                true
            }
            Record::Response(r) => {
                let kept = self.kept.contains(&(r.message.conn, r.message.index));
                if kept {
                    self.unanswered = self.unanswered.saturating_sub(1);
                }
                kept
            }
            Record::Interim(r) => self.kept.contains(&(r.message.conn, r.message.index)),
            Record::Orphan(_) => self.reached_at_ns.is_none(),
            _ => true,
        }
    }

    /// True once the limit is reached and its requests are answered (or waited for long enough).
    fn done(&self, now_ns: u64) -> bool {
        self.reached_at_ns
            .is_some_and(|at| self.unanswered == 0 || now_ns.saturating_sub(at) > LIMIT_GRACE_NS)
    }
}

/// Whether `--sample` keeps the connection between these endpoints: xxh3-64 (seed 0) of the two
/// endpoints, the lower first — each as its address bytes (4 for IPv4, 16 for IPv6) then its
/// port, big-endian — is below `per_million` once taken modulo 1 000 000. The same connection
/// gets the same answer on every node and every run, whichever side is named first.
pub fn sample_keeps(a: SocketAddr, b: SocketAddr, per_million: u64) -> bool {
    fn bytes(s: SocketAddr) -> Vec<u8> {
        let mut v = match s.ip() {
            std::net::IpAddr::V4(ip) => ip.octets().to_vec(),
            std::net::IpAddr::V6(ip) => ip.octets().to_vec(),
        };
        v.extend_from_slice(&s.port().to_be_bytes());
        v
    }
    let (x, y) = (bytes(a), bytes(b));
    let mut key = if x <= y { x.clone() } else { y.clone() };
    key.extend_from_slice(if x <= y { &y } else { &x });
    xxhash_rust::xxh3::xxh3_64(&key) % 1_000_000 < per_million
}

/// Requests left out by the filters whose final response has not come yet, remembered at most
/// (the oldest are forgotten: a response that comes later than that is written without its request).
const MAX_DROPPED_KEYS: usize = 1 << 16;

/// `--sample` and the request filters, with what they left out.
#[derive(Default)]
struct Selection {
    /// `--sample` as parts per million of connections.
    sample_per_million: Option<u64>,
    /// `--method`, `--path`, `--exclude-path`, `--header`; `None` when none was given.
    filter: Option<Filter>,
    /// Requests left out by the filter whose final response has not come yet.
    dropped: HashSet<(u64, u32)>,
    dropped_order: VecDeque<(u64, u32)>,
    sampled_out_requests: u64,
    sampled_out_records: u64,
    filtered_requests: u64,
    filtered_responses: u64,
}

impl Selection {
    fn active(&self) -> bool {
        self.sample_per_million.is_some() || self.filter.is_some()
    }

    fn sampled(&self, record: &Record) -> bool {
        let Some(per_million) = self.sample_per_million else {
            return true;
        };
        let ends = match record {
            Record::Request(m) => Some((m.client, m.server)),
            Record::Response(r) | Record::Interim(r) | Record::Orphan(r) => {
                Some((r.message.client, r.message.server))
            }
            Record::Gap(g) => Some((g.client, g.server)),
            _ => None,
        };
        ends.is_none_or(|(a, b)| sample_keeps(a, b, per_million))
    }

    fn remember_dropped(&mut self, key: (u64, u32)) {
        if self.dropped.insert(key) {
            self.dropped_order.push_back(key);
        }
        while self.dropped.len() > MAX_DROPPED_KEYS {
            match self.dropped_order.pop_front() {
                Some(old) => {
                    self.dropped.remove(&old);
                }
                None => break,
            }
        }
        // Keys answered since are still queued: compact once they are most of the queue.
        if self.dropped_order.len() > 2 * self.dropped.len() + 1024 {
            let live = &self.dropped;
            self.dropped_order.retain(|k| live.contains(k));
        }
    }

    /// Whether to keep a record (before `--limit`): whole connections by `--sample`, then
    /// requests by the filter, with the responses of the requests left out.
    fn keep(&mut self, record: &Record) -> bool {
        if !self.sampled(record) {
            self.sampled_out_records += 1;
            if matches!(record, Record::Request(_)) {
                self.sampled_out_requests += 1;
            }
            return false;
        }
        let Some(filter) = &self.filter else {
            return true;
        };
        match record {
            Record::Request(m) => {
                if filter.keeps_bytes(&m.bytes) {
                    return true;
                }
                self.filtered_requests += 1;
                self.remember_dropped((m.conn, m.index));
                false
            }
            Record::Response(r) => {
                let key = (r.message.conn, r.message.index);
                if self.dropped.remove(&key) {
                    self.filtered_responses += 1;
                    return false;
                }
                true
            }
            Record::Interim(r) => {
                let dropped = self.dropped.contains(&(r.message.conn, r.message.index));
                self.filtered_responses += u64::from(dropped);
                !dropped
            }
            // A response whose request was not captured cannot be judged: left out.
            Record::Orphan(_) => {
                self.filtered_responses += 1;
                false
            }
            _ => true,
        }
    }

    fn counters(&self) -> [(&'static str, u64); 4] {
        [
            ("sampled_out_requests", self.sampled_out_requests),
            ("sampled_out_records", self.sampled_out_records),
            ("filtered_requests", self.filtered_requests),
            ("filtered_responses", self.filtered_responses),
        ]
    }
}

/// What the writer thread is asked to do.
enum ToWriter {
    /// Records to write, in order.
    Records(Vec<Record>),
    /// Something to say once: written as a later metadata record now, and in the metadata of
    /// every file opened after.
    Note(String),
    /// The run's counters so far, for the closing record of a file finished by rotation.
    Snapshot(Vec<(String, u64)>),
    /// Finish the open file with these counters.
    Finish(Counters),
    /// Give up: remove the open file's `.part` (the input failed before anything worth keeping).
    Abort,
}

/// Figures the extraction and writer threads publish (for stats lines and /metrics).
#[derive(Clone, Default)]
pub(crate) struct Figures {
    flows_open: Metric,
    requests: Metric,
    responses: Metric,
    /// Connections that began with a TLS handshake.
    pub(crate) tls_connections: Metric,
    non_http_connections: Metric,
    gaps: Metric,
    gap_bytes: Metric,
    memory_bytes: Metric,
    peak_memory_bytes: Metric,
    queue_bytes: Metric,
    memory_give_ups: Metric,
    sampled_out_requests: Metric,
    filtered_requests: Metric,
    requests_written: Metric,
    redacted_values: Metric,
    bytes_written: Metric,
    files_finished: Metric,
}

impl Figures {
    fn registered(r: &Registry) -> Figures {
        Figures {
            flows_open: r.gauge("reel_record_flows_open", "TCP connections tracked now."),
            requests: r.counter("reel_record_requests_total", "Requests extracted."),
            responses: r.counter(
                "reel_record_responses_total",
                "Final responses paired with a request.",
            ),
            tls_connections: r.counter(
                "reel_record_tls_connections_total",
                "Connections that began with a TLS handshake (cannot be read; skipped).",
            ),
            non_http_connections: r.counter(
                "reel_record_non_http_connections_total",
                "Connections that never carried HTTP/1.x (skipped).",
            ),
            gaps: r.counter(
                "reel_record_gaps_total",
                "Places where the capture lost bytes of a connection.",
            ),
            gap_bytes: r.counter("reel_record_gap_bytes_total", "Bytes lost in gaps."),
            memory_bytes: r.gauge(
                "reel_record_memory_bytes",
                "Bytes held by reassembly and framing (what --max-memory caps).",
            ),
            peak_memory_bytes: r.gauge(
                "reel_record_memory_peak_bytes",
                "Most bytes held by reassembly and framing at once.",
            ),
            queue_bytes: r.gauge(
                "reel_record_queue_bytes",
                "Bytes of frames waiting for extraction (what --queue-memory caps).",
            ),
            memory_give_ups: r.counter(
                "reel_record_memory_give_ups_total",
                "Connections given up to stay within --max-memory (the largest first).",
            ),
            sampled_out_requests: r.counter(
                "reel_record_sampled_out_requests_total",
                "Requests left out by --sample.",
            ),
            filtered_requests: r.counter(
                "reel_record_filtered_requests_total",
                "Requests left out by the request filters.",
            ),
            requests_written: r.counter(
                "reel_record_requests_written_total",
                "Requests written to the log.",
            ),
            redacted_values: r.counter(
                "reel_record_redacted_values_total",
                "Values replaced by a keyed hash.",
            ),
            bytes_written: r.counter(
                "reel_record_bytes_written_total",
                "Bytes written to log files.",
            ),
            files_finished: r.counter(
                "reel_record_files_finished_total",
                "Log files finished and renamed.",
            ),
        }
    }
}

/// Where the records kept by selection, `--limit` and redaction go: the writer thread
/// (`record`) or the shadow replayer (`shadow`). Called on the extraction thread; an output must
/// not wait long there (live, a waiting extraction thread fills the frame queue).
pub(crate) trait Output {
    /// Takes one kept record, in extraction order.
    fn record(&mut self, record: Record);
    /// Hands over what is held back: extraction is idle, or done.
    fn flush(&mut self) {}
    /// False once the output is gone (stop reading).
    fn alive(&self) -> bool {
        true
    }
    /// The first TLS connection on the watched ports was seen (called once).
    fn tls_seen(&mut self) {}
    /// True when [`Output::snapshot`] wants the run's counters every [`PUBLISH_EVERY`].
    fn wants_snapshots(&self) -> bool {
        false
    }
    /// The run's counters so far.
    fn snapshot(&mut self, _values: Vec<(String, u64)>) {}
}

/// Record's output: batches of records to the writer thread.
struct WriterOut {
    batch: Vec<Record>,
    batch_bytes: usize,
    tx: SyncSender<ToWriter>,
    gone: bool,
}

impl WriterOut {
    fn new(tx: SyncSender<ToWriter>) -> WriterOut {
        WriterOut {
            batch: Vec::with_capacity(BATCH),
            batch_bytes: 0,
            tx,
            gone: false,
        }
    }

    fn send(&mut self, message: ToWriter) {
        if !self.gone && self.tx.send(message).is_err() {
            self.gone = true;
        }
    }
}

impl Output for WriterOut {
    fn record(&mut self, record: Record) {
        self.batch_bytes += match &record {
            Record::Request(m) => m.bytes.len(),
            Record::Response(r) | Record::Interim(r) | Record::Orphan(r) => r.message.bytes.len(),
            _ => 64,
        };
        self.batch.push(record);
        if self.batch.len() >= BATCH || self.batch_bytes >= BATCH_BYTES {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        self.batch_bytes = 0;
        self.send(ToWriter::Records(batch));
    }

    fn alive(&self) -> bool {
        !self.gone
    }

    fn tls_seen(&mut self) {
        self.send(ToWriter::Note(TLS_NOTE.to_string()));
    }

    fn wants_snapshots(&self) -> bool {
        true
    }

    fn snapshot(&mut self, values: Vec<(String, u64)>) {
        self.send(ToWriter::Snapshot(values));
    }
}

/// Extraction, selection, `--limit` and redaction, handing the records kept to an [`Output`].
pub(crate) struct Recorder<O: Output> {
    extraction: Extraction,
    selection: Selection,
    limiter: Option<Limiter>,
    redactor: Option<Redactor>,
    produced: Vec<Record>,
    /// Where kept records go.
    pub(crate) out: O,
    tls_noted: bool,
    requests_written: u64,
    figures: Figures,
    published_at: Instant,
    /// Capture figures to put in the counters (live), by interface.
    interfaces: Vec<(String, InterfaceCounters)>,
    /// Frames and bytes given to extraction.
    frames: u64,
    bytes: u64,
    truncated_files: u64,
}

impl<O: Output> Recorder<O> {
    pub(crate) fn new(
        capture: Capture,
        limit: Option<u64>,
        out: O,
        figures: Figures,
    ) -> Recorder<O> {
        Recorder {
            extraction: Extraction::new(capture.extraction),
            selection: capture.selection,
            limiter: limit.map(Limiter::new),
            redactor: capture.redactor,
            produced: Vec::with_capacity(BATCH),
            out,
            tls_noted: false,
            requests_written: 0,
            figures,
            published_at: Instant::now(),
            interfaces: Vec::new(),
            frames: 0,
            bytes: 0,
            truncated_files: 0,
        }
    }

    /// Extraction's stages, for their figures.
    pub(crate) fn extraction(&self) -> &Extraction {
        &self.extraction
    }

    /// Requests kept by selection and `--limit` (handed to the output).
    pub(crate) fn requests_kept(&self) -> u64 {
        self.requests_written
    }

    /// What selection left out: requests and records by `--sample`, requests and responses by
    /// the filters.
    pub(crate) fn selection_counters(&self) -> [(&'static str, u64); 4] {
        self.selection.counters()
    }

    /// Values replaced by redaction.
    pub(crate) fn redacted_values(&self) -> u64 {
        self.redactor.as_ref().map_or(0, |r| r.stats().values)
    }

    /// Feeds one frame; false once the output is gone (stop reading).
    fn push(&mut self, frame: &Frame<'_>) -> bool {
        self.frames += 1;
        self.bytes += frame.data.len() as u64;
        self.extraction.push(frame, &mut self.produced);
        self.take_produced();
        self.out.alive()
    }

    /// Closes connections idle as of `now_ns` (live, when no frames come).
    fn expire(&mut self, now_ns: u64) {
        self.extraction.expire(now_ns, &mut self.produced);
        self.take_produced();
    }

    /// Selects, limits and redacts what extraction produced, and hands it to the output.
    fn take_produced(&mut self) {
        for mut record in self.produced.drain(..) {
            if !self.selection.keep(&record) {
                continue;
            }
            if !self.limiter.as_mut().is_none_or(|l| l.keep(&record)) {
                continue;
            }
            if let Some(r) = self.redactor.as_mut() {
                r.record(&mut record);
            }
            if matches!(record, Record::Request(_)) {
                self.requests_written += 1;
            }
            self.out.record(record);
        }
        if !self.tls_noted && self.extraction.http_stats().tls_conns > 0 {
            self.tls_noted = true;
            tracing::warn!(
                "TLS connections on the watched ports: they cannot be read and are skipped (counted in tls_connections)"
            );
            self.out.tls_seen();
        }
    }

    /// End of input: every connection is closed and what is complete is handed over.
    fn finish(&mut self) {
        self.extraction.finish(&mut self.produced);
        self.take_produced();
        self.out.flush();
        self.publish();
    }

    fn limit_done(&self, now_ns: u64) -> bool {
        self.limiter.as_ref().is_some_and(|l| l.done(now_ns))
    }

    /// Sets the figures (and gives the output a counter snapshot) at most every PUBLISH_EVERY.
    fn publish_if_due(&mut self, queue_bytes: usize) {
        if self.published_at.elapsed() < PUBLISH_EVERY {
            return;
        }
        self.published_at = Instant::now();
        self.figures.queue_bytes.set(queue_bytes as u64);
        self.publish();
        if self.out.wants_snapshots() {
            let snapshot = self.counter_values();
            self.out.snapshot(snapshot);
        }
    }

    fn publish(&self) {
        let http = self.extraction.http_stats();
        let tcp = self.extraction.tcp_stats();
        let f = &self.figures;
        f.flows_open.set(self.extraction.open_flows() as u64);
        f.requests.set(http.requests);
        f.responses.set(http.responses);
        f.tls_connections.set(http.tls_conns);
        f.non_http_connections.set(http.non_http_conns);
        f.gaps.set(tcp.gaps);
        f.gap_bytes.set(tcp.gap_bytes());
        f.memory_bytes.set(self.extraction.buffered_bytes() as u64);
        f.peak_memory_bytes.set(tcp.peak_buffered_bytes);
        f.memory_give_ups.set(tcp.given_up_flows);
        f.sampled_out_requests
            .set(self.selection.sampled_out_requests);
        f.filtered_requests.set(self.selection.filtered_requests);
        f.requests_written.set(self.requests_written);
        if let Some(r) = &self.redactor {
            f.redacted_values.set(r.stats().values);
        }
    }
    /// The counters of the closing record: capture, selection, redaction, then every stage's own.
    fn counter_values(&self) -> Vec<(String, u64)> {
        let mut values = Vec::new();
        if self.interfaces.is_empty() {
            values.extend([
                ("packets".to_string(), self.frames),
                ("bytes".to_string(), self.bytes),
                ("truncated_files".to_string(), self.truncated_files),
            ]);
        } else {
            // Live: what libpcap delivered; frames dropped at the queue never reached extraction.
            let sum = |f: fn(&InterfaceCounters) -> &Metric| {
                self.interfaces.iter().map(|(_, c)| f(c).get()).sum::<u64>()
            };
            values.extend([
                ("packets".to_string(), sum(|c| &c.packets)),
                ("bytes".to_string(), sum(|c| &c.bytes)),
                ("extracted_packets".to_string(), self.frames),
                ("kernel_drops".to_string(), sum(|c| &c.kernel_drops)),
                ("interface_drops".to_string(), sum(|c| &c.interface_drops)),
                ("queue_drops".to_string(), sum(|c| &c.queue_drops)),
            ]);
            for (name, c) in &self.interfaces {
                values.extend([
                    (format!("capture.{name}.packets"), c.packets.get()),
                    (format!("capture.{name}.kernel_drops"), c.kernel_drops.get()),
                    (
                        format!("capture.{name}.interface_drops"),
                        c.interface_drops.get(),
                    ),
                    (format!("capture.{name}.queue_drops"), c.queue_drops.get()),
                ]);
            }
        }
        values.push(("requests_written".to_string(), self.requests_written));
        if self.selection.active() {
            values.extend(
                self.selection
                    .counters()
                    .into_iter()
                    .map(|(k, v)| (format!("select.{k}"), v)),
            );
        }
        if let Some(r) = &self.redactor {
            let s = r.stats();
            values.push(("redact.values".to_string(), s.values));
            values.push(("redact.messages".to_string(), s.messages));
        }
        values.extend(self.extraction.counters());
        values
    }
}

/// Said once in the log when the first TLS connection is seen.
const TLS_NOTE: &str = "TLS connections were seen on the watched ports: they cannot be read, so \
their requests are not in this log (counted in tls_connections / http.tls_conns)";

/// How often the writer checks that its open file was not deleted (one `fstat`).
const DELETION_CHECK: Duration = Duration::from_secs(1);

/// Where the writer thread writes: the files of the output plan, or one log streamed to stdout
/// (`-o -`: no `.part`, no rotation; the summary goes to stderr as always).
#[allow(
    clippy::large_enum_variant,
    reason = "one Dest lives for the whole run; its size is irrelevant"
)]
enum Dest {
    Files(RotatingWriter),
    Stdout {
        writer: Option<crate::log::Writer<Box<dyn std::io::Write + Send>>>,
        finished: Vec<FinishedFile>,
    },
}

impl Dest {
    /// The output `plan` names: its files (the first not yet open), or stdout for no plan.
    fn new(plan: Option<&OutputPlan>, flush: Duration) -> crate::exit::Result<Dest> {
        Ok(match plan {
            Some(plan) => Dest::Files(RotatingWriter::new(
                plan.clone(),
                WriterConfig {
                    block_age: flush,
                    ..writer_config(plan)
                },
            )),
            None => Dest::Stdout {
                writer: Some(crate::log::Writer::new(
                    crate::ends::stdout::stream(),
                    crate::ends::stdout::NAME,
                    WriterConfig {
                        block_age: flush,
                        ..WriterConfig::default()
                    },
                )?),
                finished: Vec::new(),
            },
        })
    }

    fn rotates(&self) -> bool {
        matches!(self, Dest::Files(w) if !w.plan().is_single())
    }

    fn open(&mut self, now: SystemTime, meta: Meta) -> crate::exit::Result<()> {
        match self {
            Dest::Files(w) => {
                w.open(now, meta)?;
            }
            Dest::Stdout { .. } => self.write(&Record::Meta(meta))?,
        }
        Ok(())
    }

    fn apply_retention(&mut self) {
        if let Dest::Files(w) = self {
            w.apply_retention();
        }
    }

    fn write(&mut self, record: &Record) -> Result<(), crate::log::LogError> {
        match self {
            Dest::Files(w) => w.write(record),
            Dest::Stdout {
                writer: Some(w), ..
            } => w.write(record),
            Dest::Stdout { writer: None, .. } => Ok(()),
        }
    }

    fn files_opened(&self) -> u64 {
        match self {
            Dest::Files(w) => w.files_opened(),
            Dest::Stdout { .. } => 1,
        }
    }

    fn finish_current(&mut self, counters: Counters) -> Result<(), crate::log::LogError> {
        match self {
            Dest::Files(w) => w.finish_current(counters),
            Dest::Stdout { writer, finished } => {
                if let Some(w) = writer.take() {
                    finished.push(FinishedFile {
                        path: crate::ends::stdout::NAME.into(),
                        stats: w.finish(counters)?,
                    });
                }
                Ok(())
            }
        }
    }

    fn abort(&mut self) -> Result<(), crate::log::LogError> {
        match self {
            Dest::Files(w) => w.abort(),
            Dest::Stdout { writer, .. } => writer.take().map_or(Ok(()), |w| w.abort()),
        }
    }

    fn due(&self, now: SystemTime) -> bool {
        matches!(self, Dest::Files(w) if w.due(now))
    }

    fn replace_if_deleted(&mut self, now: SystemTime, meta: Meta) -> crate::exit::Result<()> {
        if let Dest::Files(w) = self {
            w.replace_if_deleted(now, meta)?;
        }
        Ok(())
    }

    fn flush_if_due(&mut self) -> Result<(), crate::log::LogError> {
        match self {
            Dest::Files(w) => w.flush_if_due(),
            Dest::Stdout {
                writer: Some(w), ..
            } => w.flush_if_due(),
            Dest::Stdout { writer: None, .. } => Ok(()),
        }
    }

    fn poll_finished(&mut self) -> Result<usize, crate::log::LogError> {
        match self {
            Dest::Files(w) => w.poll_finished(),
            Dest::Stdout { .. } => Ok(0),
        }
    }

    fn wait_finished(&mut self) -> Result<usize, crate::log::LogError> {
        match self {
            Dest::Files(w) => w.wait_finished(),
            Dest::Stdout { finished, .. } => Ok(finished.len()),
        }
    }

    fn bytes_written(&self) -> u64 {
        match self {
            Dest::Files(w) => w.bytes_written(),
            Dest::Stdout {
                writer: Some(w), ..
            } => w.stats().file_bytes,
            Dest::Stdout { finished, .. } => finished.iter().map(|f| f.stats.file_bytes).sum(),
        }
    }

    fn finished(&self) -> &[FinishedFile] {
        match self {
            Dest::Files(w) => w.finished(),
            Dest::Stdout { finished, .. } => finished,
        }
    }

    fn deleted(&self) -> &[std::path::PathBuf] {
        match self {
            Dest::Files(w) => w.deleted(),
            Dest::Stdout { .. } => &[],
        }
    }

    fn lost(&self) -> &[crate::log::rotate::LostFile] {
        match self {
            Dest::Files(w) => w.lost(),
            Dest::Stdout { .. } => &[],
        }
    }
}

/// What the writer thread hands back.
struct WriterOutcome {
    writer: Dest,
    finished: Vec<FinishedFile>,
}

/// Starts the writer thread: it writes records into the rotating writer (whose first file is
/// already open), rotates when due, closes blocks on a timer, and finishes the last file.
fn spawn_writer(
    mut writer: Dest,
    meta: Meta,
    run_start: SystemTime,
    figures: Figures,
) -> crate::exit::Result<(
    SyncSender<ToWriter>,
    std::thread::JoinHandle<crate::exit::Result<WriterOutcome>>,
)> {
    let (tx, rx) = mpsc::sync_channel::<ToWriter>(WRITER_QUEUE);
    let thread = std::thread::Builder::new()
        .name("reel-writer".into())
        .spawn(move || {
            writer_loop(&mut writer, &rx, meta, run_start, &figures)
                .map(|finished| WriterOutcome { finished, writer })
        })
        .context("cannot start the writer thread")?;
    Ok((tx, thread))
}

fn writer_loop(
    writer: &mut Dest,
    rx: &Receiver<ToWriter>,
    mut meta: Meta,
    run_start: SystemTime,
    figures: &Figures,
) -> crate::exit::Result<Vec<FinishedFile>> {
    let mut snapshot: Vec<(String, u64)> = Vec::new();
    let mut deletion_checked = Instant::now();
    loop {
        let message = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                // The sender died without a word (a panic upstream): keep what was written.
                writer.finish_current(Counters {
                    end_ns: now_ns(),
                    values: snapshot,
                })?;
                break;
            }
        };
        match message {
            Some(ToWriter::Records(records)) => {
                for record in &records {
                    writer.write(record)?;
                }
            }
            Some(ToWriter::Note(note)) => {
                meta.notes.push(note);
                let mut later = meta.clone();
                later.start_ns = now_ns();
                let number = writer.files_opened();
                writer.write(&Record::Meta(file_meta(&later, writer, number, run_start)))?;
            }
            Some(ToWriter::Snapshot(values)) => snapshot = values,
            Some(ToWriter::Finish(counters)) => {
                writer.finish_current(counters)?;
                break;
            }
            Some(ToWriter::Abort) => {
                writer.abort()?;
                break;
            }
            None => {}
        }
        let now = SystemTime::now();
        if writer.due(now) {
            // Finished (synced, renamed) on a thread of its own; the next file opens now.
            writer.finish_current(Counters {
                end_ns: now_ns(),
                values: snapshot.clone(),
            })?;
            let next = file_meta(&meta, writer, writer.files_opened() + 1, run_start);
            writer.open(now, next)?;
        }
        if deletion_checked.elapsed() >= DELETION_CHECK {
            // A file deleted under us (`rm`) would swallow every record after it: start another.
            deletion_checked = Instant::now();
            let next = file_meta(&meta, writer, writer.files_opened() + 1, run_start);
            writer.replace_if_deleted(now, next)?;
        }
        writer.flush_if_due()?;
        figures.files_finished.add(writer.poll_finished()? as u64);
        figures.bytes_written.set(writer.bytes_written());
    }
    figures.files_finished.add(writer.wait_finished()? as u64);
    figures.bytes_written.set(writer.bytes_written());
    Ok(writer.finished().to_vec())
}

/// The metadata of file `number` of the run (its first record, or a later note): the run's, plus
/// where the file stands in a rotated run.
fn file_meta(meta: &Meta, writer: &Dest, number: u64, run_start: SystemTime) -> Meta {
    let mut m = meta.clone();
    if writer.rotates() {
        let started: chrono::DateTime<chrono::Local> = run_start.into();
        m.notes.insert(
            0,
            format!(
                "file {number} of a run started {}; connection ids continue across the run's files \
                 (a response may be in the file after its request's)",
                started.format("%Y-%m-%dT%H:%M:%S%z")
            ),
        );
    }
    m
}

/// The validated output, extraction and selection settings common to both modes.
struct Common {
    /// The files to write; `None` for `-o -` (stdout).
    plan: Option<OutputPlan>,
    capture: Capture,
}

fn common(args: &Args, live: bool) -> crate::exit::Result<Common> {
    if args.limit == Some(0) {
        return Err(usage("--limit", "must be at least 1"));
    }
    let plan = if crate::ends::Output::new(&args.output).is_stdout() {
        refuse_with_stdout(args)?;
        None
    } else {
        Some(OutputPlan::new(&OutputSpec {
            output: args.output.clone(),
            rotate_size: args.rotate_size,
            rotate_interval: args.rotate_interval,
            retain_files: args.retain_files,
            retain_size: args.retain_size,
            force: args.force,
            append: args.append,
        })?)
    };
    let capture = Capture::new(
        &CaptureFlags {
            ports: &args.ports,
            buffers: &args.buffers,
            sample: args.sample,
            select: &args.select,
            redact: &args.redact,
        },
        live,
    )?;
    Ok(Common { plan, capture })
}

/// `-o -` streams one log to stdout: the flags about files (and JSON on stdout) have no place.
fn refuse_with_stdout(args: &Args) -> crate::exit::Result<()> {
    let file_flags = [
        ("--rotate-size", args.rotate_size.is_some()),
        ("--rotate-interval", args.rotate_interval.is_some()),
        ("--retain-files", args.retain_files.is_some()),
        ("--retain-size", args.retain_size.is_some()),
        ("--append", args.append),
        ("--force", args.force),
    ];
    if let Some((flag, _)) = file_flags.iter().find(|(_, set)| *set) {
        return Err(usage(*flag, "has no use with -o - (stdout)"));
    }
    if args.json.on_stdout() {
        return Err(usage(
            "--json",
            "stdout carries the log (-o -): give --json a PATH",
        ));
    }
    Ok(())
}

/// The flags that say what extraction keeps and how (of `record` or `shadow`).
pub(crate) struct CaptureFlags<'a> {
    /// `--port`.
    pub ports: &'a [u16],
    /// `--max-body`, `--max-memory`, `--max-flow-memory`, `--idle-timeout`.
    pub buffers: &'a BufferFlags,
    /// `--sample`.
    pub sample: Option<f64>,
    /// The request filters.
    pub select: &'a FilterArgs,
    /// The redaction flags.
    pub redact: &'a RedactArgs,
}

/// What extraction keeps and how, validated: extraction's limits, the selection, the redactor,
/// and the notes that say so in a log's metadata.
pub(crate) struct Capture {
    extraction: ExtractionConfig,
    selection: Selection,
    redactor: Option<Redactor>,
    /// Lines for the metadata's notes.
    pub notes: Vec<String>,
}

impl Capture {
    /// Validates the flags (errors name the flag); `live` picks the live memory defaults.
    pub fn new(flags: &CaptureFlags<'_>, live: bool) -> crate::exit::Result<Capture> {
        let (max_memory, max_flow) = if live {
            (LIVE_MAX_MEMORY, LIVE_MAX_FLOW_MEMORY)
        } else {
            (READ_MAX_MEMORY, READ_MAX_FLOW_MEMORY)
        };
        let b = flags.buffers;
        let extraction = ExtractionConfig {
            tcp: TcpConfig {
                idle_timeout_ns: b.idle_timeout.as_nanos() as u64,
                max_flow_bytes: b.max_flow_memory.unwrap_or(max_flow) as usize,
                max_total_bytes: b.max_memory.unwrap_or(max_memory) as usize,
                max_flows: usize::try_from(b.max_flows).unwrap_or(usize::MAX),
                ..TcpConfig::default()
            },
            http: ExtractConfig {
                server_ports: flags.ports.to_vec(),
                max_body: b.max_body,
                ..ExtractConfig::default()
            },
            ..ExtractionConfig::default()
        };
        let mut notes = Vec::new();
        let mut selection = Selection::default();
        if let Some(pct) = flags.sample {
            selection.sample_per_million = Some((pct * 10_000.0).round() as u64);
            notes.push(format!(
                "--sample {pct}: about {pct}% of connections are kept, whole (by a fixed hash of their endpoints)"
            ));
        }
        let s = flags.select;
        let filter = s.build()?;
        if !filter.is_empty() {
            let mut names = Vec::new();
            names.extend(s.methods.iter().map(|m| format!("--method {m}")));
            if s.read_only {
                names.push("--read-only".to_string());
            }
            names.extend(s.paths.iter().map(|p| format!("--path {p:?}")));
            names.extend(
                s.exclude_paths
                    .iter()
                    .map(|p| format!("--exclude-path {p:?}")),
            );
            names.extend(s.headers.iter().map(|h| format!("--header {h:?}")));
            notes.push(format!(
                "requests selected by {}; the others and their responses are left out (counted in select.*)",
                names.join(" ")
            ));
            selection.filter = Some(filter);
        }
        let r = flags.redact;
        let redactor = r.build()?;
        if let Some(redactor) = &redactor {
            if redactor.random_key() {
                tracing::warn!(
                    "no --redact-key-file: a random key is used for this run, so equal secrets hash equal only within it"
                );
            }
            let mut what = Vec::new();
            if r.default {
                what.push("Authorization, Proxy-Authorization, cookies".to_string());
            }
            for (kind, names) in [
                ("header", &r.headers),
                ("cookie", &r.cookies),
                ("param", &r.params),
            ] {
                what.extend(names.iter().map(|n| format!("{kind} {n}")));
            }
            notes.push(format!(
                "values redacted with a keyed hash (key id {}): {}",
                redactor.key_id(),
                what.join(", ")
            ));
        }
        Ok(Capture {
            extraction,
            selection,
            redactor,
            notes,
        })
    }

    /// The redaction key's id, empty without redaction.
    pub fn redaction_key_id(&self) -> String {
        self.redactor
            .as_ref()
            .map(|r| r.key_id().to_string())
            .unwrap_or_default()
    }
}

/// The writer's block settings: smaller blocks when files are small, so that rotation by size
/// keeps close to the size asked.
fn writer_config(plan: &OutputPlan) -> WriterConfig {
    let mut config = WriterConfig::default();
    if let Some(size) = plan.rotate_size {
        config.block_bytes = (size / 4).clamp(16 << 10, 1 << 20) as usize;
    }
    config
}

pub(crate) fn host_name() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Runs `reel record`.
pub fn run(args: Args) -> crate::exit::Result<Status> {
    if args.read.is_empty() && args.interfaces.is_empty() {
        return Err(crate::exit::BadInput("--read or --interface is required".into()).into());
    }
    args.json.check()?;
    if args.interfaces.is_empty() {
        run_read(args)
    } else {
        run_live(args)
    }
}

/// An id for this run, shared by every file it rotates through: a hash of the host, the process
/// and the clock, never 0.
pub(crate) fn new_run_id() -> u64 {
    let seed = format!("{}/{}/{}", host_name(), std::process::id(), now_ns());
    xxhash_rust::xxh3::xxh3_64(seed.as_bytes()).max(1)
}

/// The metadata every file of this run starts with (each file's own `start_ns` is set on opening).
fn run_meta(common: &Common, sources: Vec<String>, filter: String) -> Meta {
    Meta {
        host: host_name(),
        sources,
        filter,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        start_ns: 0,
        redaction_key_id: common.capture.redaction_key_id(),
        command: "record".to_string(),
        notes: common.capture.notes.clone(),
        run_id: new_run_id(),
    }
}

/// `reel record --read`: files in, one thread extracting, one writing.
fn run_read(args: Args) -> crate::exit::Result<Status> {
    let started = Instant::now();
    let common = common(&args, false)?;
    let mut source = OfflineSource::open(&args.read, args.filter.as_deref())?;
    let sources = args.read.iter().map(|p| p.display().to_string()).collect();
    let meta = run_meta(&common, sources, args.filter.clone().unwrap_or_default());
    let mut writer = Dest::new(common.plan.as_ref(), args.flush.flush_interval)?;
    let run_start = SystemTime::now();
    let first = file_meta(&meta, &writer, 1, run_start);
    writer.open(run_start, first)?;
    let figures = Figures::default();
    let (tx, writer_thread) = spawn_writer(writer, meta, run_start, figures.clone())?;
    let mut recorder = Recorder::new(
        common.capture,
        args.limit,
        WriterOut::new(tx.clone()),
        figures,
    );

    let duration_ns = args.duration.map(|d| d.as_nanos() as u64);
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
        if !recorder.push(&frame) {
            break Ok(());
        }
        if recorder.limit_done(ts) {
            break Ok(());
        }
    };
    if let Err(e) = read {
        // No partial output is left behind claiming anything: the .part file is removed.
        let _ = tx.send(ToWriter::Abort);
        drop(tx);
        drop(recorder);
        let _ = writer_thread.join();
        return Err(e.into());
    }
    recorder.truncated_files = source.truncated_files();
    if recorder.out.alive() {
        recorder.finish();
    }
    let counters = Counters {
        end_ns: now_ns(),
        values: recorder.counter_values(),
    };
    let _ = tx.send(ToWriter::Finish(counters));
    drop(tx);
    let outcome = writer_thread
        .join()
        .map_err(|_| crate::exit::runtime("the writer thread panicked"))??;
    let summary = Summary::new(&recorder, &outcome, recorder.frames, recorder.bytes);
    summary.print_read(&args, &source, started.elapsed())?;
    Ok(Status::Success)
}

/// Combines `--port` and `--filter` into the capture's BPF filter.
pub(crate) fn live_filter(ports: &[u16], filter: Option<&str>) -> String {
    let tcp = if ports.is_empty() {
        "tcp".to_string()
    } else {
        let list: Vec<String> = ports.iter().map(|p| format!("port {p}")).collect();
        format!("tcp and ({})", list.join(" or "))
    };
    match filter {
        Some(f) if !f.trim().is_empty() => format!("({tcp}) and ({f})"),
        _ => tcp,
    }
}

/// Switches to `name`'s user and group (supplementary groups cleared), for good.
fn drop_privileges(name: &str) -> crate::exit::Result<()> {
    use nix::unistd::{Gid, Uid, User, getegid, geteuid, setgid, setgroups, setuid};
    let user = User::from_name(name)
        .map_err(|e| crate::exit::runtime(format!("--user {name}: cannot look the user up: {e}")))?
        .ok_or_else(|| usage("--user", format!("no such user: {name}")))?;
    if geteuid() == user.uid && getegid() == user.gid {
        return Ok(());
    }
    let fail = |what: &str, e: nix::Error| {
        crate::exit::runtime(format!(
            "--user {name}: cannot {what}: {e} (switching users needs root; with setcap, run as the user itself)"
        ))
    };
    setgroups(&[user.gid]).map_err(|e| fail("set groups", e))?;
    setgid(user.gid).map_err(|e| fail("set the group", e))?;
    setuid(user.uid).map_err(|e| fail("set the user", e))?;
    if !user.uid.is_root() && (setuid(Uid::from_raw(0)).is_ok() || setgid(Gid::from_raw(0)).is_ok())
    {
        return Err(crate::exit::runtime(format!(
            "--user {name}: root could be regained after switching; refusing to go on"
        )));
    }
    tracing::info!("running as {name} (uid {}, gid {})", user.uid, user.gid);
    Ok(())
}

/// SIGINT and SIGTERM: the first asks for a clean stop; a second exits at once (status 3, the
/// open file left as `.part`, readable, as after a crash). The signals are counted on one thread
/// of their own, in the order they came, so two that arrive together still count as two.
fn install_signals(second: &'static str) -> crate::exit::Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let term = Arc::new(AtomicBool::new(false));
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .context("cannot install signal handlers")?;
    let flag = term.clone();
    std::thread::Builder::new()
        .name("reel-signals".into())
        .spawn(move || {
            for _ in signals.forever() {
                if flag.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    eprintln!("{second}");
                    std::process::exit(3);
                }
            }
        })
        .context("cannot start the signal thread")?;
    Ok(term)
}

/// The capture figures of one interface, registered under its name.
fn interface_counters(registry: &Registry, name: &str) -> InterfaceCounters {
    let labels = [("interface", name)];
    let series = |metric, help| registry.series(metric, help, Kind::Counter, &labels);
    InterfaceCounters {
        packets: series("reel_record_packets_total", "Frames captured."),
        bytes: series(
            "reel_record_captured_bytes_total",
            "Bytes of the frames captured.",
        ),
        kernel_drops: series(
            "reel_record_kernel_drops_total",
            "Frames the kernel dropped because the capture ring was full (pcap_stats).",
        ),
        interface_drops: series(
            "reel_record_interface_drops_total",
            "Frames the interface or its driver dropped (pcap_stats).",
        ),
        queue_drops: series(
            "reel_record_queue_drops_total",
            "Frames dropped because the queue to extraction was full.",
        ),
    }
}

/// A live capture, opened: the handles open and filtered, `--metrics-addr` bound and served,
/// privileges dropped to `--user`, SIGINT/SIGTERM watched, the capture figures registered.
/// What `record --interface` and `shadow` both start with.
pub(crate) struct LiveStart {
    /// The handles, not yet read.
    pub capture: LiveCapture,
    /// Set by the first SIGINT or SIGTERM.
    pub term: Arc<AtomicBool>,
    /// Every figure of the run (/metrics).
    pub registry: Arc<Registry>,
    /// The extraction figures (`reel_record_*`).
    pub figures: Figures,
    /// The capture figures, by interface.
    pub interfaces: Vec<(String, InterfaceCounters)>,
    /// `/ready`: set once the capture runs.
    pub ready: Ready,
    /// The metrics endpoint, stopped when dropped.
    pub server: Option<metrics::MetricsServer>,
}

impl LiveStart {
    /// Opens `interfaces` with the BPF filter `bpf` (errors name the flag). Everything that needs
    /// root happens here, before the switch to `--user`. A second signal prints `second_signal`
    /// and exits at once with status 3.
    pub fn open(
        interfaces: &[String],
        flags: &LiveFlags,
        bpf: &str,
        second_signal: &'static str,
    ) -> crate::exit::Result<LiveStart> {
        if flags.snaplen < 96 {
            return Err(usage(
                "--snaplen",
                "must be at least 96 bytes (the headers)",
            ));
        }
        let config = LiveConfig {
            interfaces: interfaces.to_vec(),
            snaplen: flags.snaplen,
            buffer_bytes: u32::try_from(flags.buffer_size).unwrap_or(u32::MAX),
            promisc: flags.promisc,
            immediate: flags.immediate,
            filter: Some(bpf.to_string()),
            queue_bytes: flags.queue_memory as usize,
        };
        let capture = LiveCapture::open(&config)?;
        let listener = flags
            .metrics_addr
            .as_deref()
            .map(metrics::bind)
            .transpose()?;
        if let Some(user) = &flags.user {
            drop_privileges(user)?;
        } else if nix::unistd::geteuid().is_root() {
            tracing::info!("capturing as root; --user NAME would parse packets without root");
        }
        let term = install_signals(second_signal)?;
        let registry = Arc::new(Registry::new());
        let figures = Figures::registered(&registry);
        let interfaces = capture
            .interfaces()
            .into_iter()
            .map(|(name, _)| {
                let c = interface_counters(&registry, &name);
                (name, c)
            })
            .collect();
        let ready = Ready::new();
        let server = listener
            .map(|l| metrics::serve(l, registry.clone(), ready.clone()))
            .transpose()?;
        Ok(LiveStart {
            capture,
            term,
            registry,
            figures,
            interfaces,
            ready,
            server,
        })
    }
}

/// The extraction thread's loop: frames from `source` through `recorder` until the capture has
/// stopped and drained (or the output is gone, or `--limit` is reached: then the capture is asked
/// to stop, and `limit_hit` says which), then every connection is finished. Returns the capture
/// threads' outcome.
pub(crate) fn extract_live<O: Output>(
    source: &mut LiveSource,
    recorder: &mut Recorder<O>,
    limit_hit: &AtomicBool,
) -> Result<(), LiveError> {
    let mut stopping = false;
    let mut polls = 0u64;
    loop {
        let mut idle = false;
        let now = match source.poll(Duration::from_millis(100)) {
            Poll::Frame(frame) => {
                let ts = frame.ts_ns;
                // A gone output (the writer failed) is reported by the main thread.
                recorder.push(&frame).then_some(ts)
            }
            Poll::Idle => {
                idle = true;
                let now = now_ns();
                recorder.expire(now);
                recorder.out.flush();
                Some(now)
            }
            Poll::Ended => break,
        };
        let limit = now.is_some_and(|t| recorder.limit_done(t));
        if !stopping && (now.is_none() || limit) {
            stopping = true;
            limit_hit.store(limit, Ordering::Relaxed);
            source.stop();
        }
        // The clock is read every 1024 frames (and when idle), not per frame.
        polls += 1;
        if polls % 1024 == 0 || idle {
            recorder.publish_if_due(source.queued_bytes());
        }
    }
    let captured = source.join();
    recorder.finish();
    captured
}

/// The main thread of a live run: waits for a signal, `--duration` (wall time since `started`),
/// or `ended()` to name why the work ended by itself, printing `stats()` on stderr every
/// `interval` (never when 0). Returns why it stopped.
pub(crate) fn watch(
    term: &AtomicBool,
    started: Instant,
    duration: Option<Duration>,
    interval: Duration,
    mut ended: impl FnMut() -> Option<&'static str>,
    mut stats: impl FnMut() -> String,
) -> &'static str {
    let mut next_stats = Instant::now() + interval;
    loop {
        std::thread::sleep(Duration::from_millis(50));
        if term.load(Ordering::Relaxed) {
            return "a signal";
        }
        if duration.is_some_and(|d| started.elapsed() >= d) {
            return "--duration";
        }
        if let Some(why) = ended() {
            return why;
        }
        if !interval.is_zero() && Instant::now() >= next_stats {
            next_stats += interval;
            eprintln!("{} stats: {}", local_time(), stats());
        }
    }
}

/// `reel record --interface`: the capture daemon.
fn run_live(args: Args) -> crate::exit::Result<Status> {
    let started = Instant::now();
    let common = common(&args, true)?;
    let bpf = live_filter(&args.ports, args.filter.as_deref());
    let LiveStart {
        capture,
        term,
        registry: _registry,
        figures,
        interfaces,
        ready,
        server,
    } = LiveStart::open(
        &args.interfaces,
        &args.live,
        &bpf,
        "reel record: second signal, exiting now (the open file stays .part)",
    )?;

    let meta = run_meta(&common, args.interfaces.clone(), bpf);
    let mut writer = Dest::new(common.plan.as_ref(), args.flush.flush_interval)?;
    let run_start = SystemTime::now();
    let first = file_meta(&meta, &writer, 1, run_start);
    writer.open(run_start, first)?;
    writer.apply_retention();
    let (tx, writer_thread) = spawn_writer(writer, meta, run_start, figures.clone())?;

    let mut source = capture.start(interfaces.iter().map(|(_, c)| c.clone()).collect())?;
    let stopper = source.stopper();
    let mut recorder = Recorder::new(
        common.capture,
        args.limit,
        WriterOut::new(tx),
        figures.clone(),
    );
    recorder.interfaces = interfaces.clone();
    let limit_hit = Arc::new(AtomicBool::new(false));
    let limit_flag = limit_hit.clone();
    let extraction_thread = std::thread::Builder::new()
        .name("reel-extract".into())
        .spawn(move || -> (Recorder<WriterOut>, Result<(), LiveError>) {
            let captured = extract_live(&mut source, &mut recorder, &limit_flag);
            let counters = Counters {
                end_ns: now_ns(),
                values: recorder.counter_values(),
            };
            recorder.out.send(ToWriter::Finish(counters));
            (recorder, captured)
        })
        .context("cannot start the extraction thread")?;
    ready.set();
    tracing::info!("capturing on {}", args.interfaces.join(", "));

    // The main thread: signals, --duration, stats lines.
    let totals = InterfaceTotals::new(&interfaces);
    let mut stats = StatsLine::new(vec![
        ("packets", totals.packets.clone(), Show::Rate),
        ("kernel drops", totals.kernel_drops.clone(), Show::Value),
        (
            "interface drops",
            totals.interface_drops.clone(),
            Show::Value,
        ),
        ("queue drops", totals.queue_drops.clone(), Show::Value),
        ("flows open", figures.flows_open.clone(), Show::Value),
        ("requests", figures.requests.clone(), Show::Rate),
        ("responses", figures.responses.clone(), Show::Value),
        (
            "TLS connections",
            figures.tls_connections.clone(),
            Show::Value,
        ),
        ("written", figures.bytes_written.clone(), Show::Bytes),
        ("memory", figures.memory_bytes.clone(), Show::Bytes),
        ("queue", figures.queue_bytes.clone(), Show::Bytes),
    ]);
    let stop_reason = watch(
        &term,
        started,
        args.duration,
        args.stats_interval,
        || {
            (extraction_thread.is_finished() || writer_thread.is_finished()).then(|| {
                if limit_hit.load(Ordering::Relaxed) {
                    "--limit"
                } else if writer_thread.is_finished() {
                    "the writer stopped"
                } else {
                    "the capture ended"
                }
            })
        },
        || {
            totals.update(&interfaces);
            stats.line()
        },
    );
    tracing::info!("stopping ({stop_reason}): draining the capture");
    stopper.stop();
    let (recorder, captured) = extraction_thread
        .join()
        .map_err(|_| crate::exit::runtime("the extraction thread panicked"))?;
    let outcome = writer_thread
        .join()
        .map_err(|_| crate::exit::runtime("the writer thread panicked"))??;
    drop(server);
    captured?;
    totals.update(&interfaces);
    let summary = Summary::new(
        &recorder,
        &outcome,
        totals.packets.get(),
        totals.bytes.get(),
    );
    summary.print_live(&args, &totals, recorder.frames, started.elapsed())?;
    Ok(Status::Success)
}

/// Capture figures summed over the interfaces (for stats lines and totals).
pub(crate) struct InterfaceTotals {
    /// Frames captured.
    pub packets: Metric,
    /// Their bytes.
    pub bytes: Metric,
    /// Dropped by the kernel (ring full).
    pub kernel_drops: Metric,
    /// Dropped by the interface.
    pub interface_drops: Metric,
    /// Dropped at the queue to extraction.
    pub queue_drops: Metric,
}

impl InterfaceTotals {
    /// The totals of `interfaces` now.
    pub(crate) fn new(interfaces: &[(String, InterfaceCounters)]) -> InterfaceTotals {
        let t = InterfaceTotals {
            packets: Metric::new(),
            bytes: Metric::new(),
            kernel_drops: Metric::new(),
            interface_drops: Metric::new(),
            queue_drops: Metric::new(),
        };
        t.update(interfaces);
        t
    }

    /// Sums the interfaces' figures again.
    pub(crate) fn update(&self, interfaces: &[(String, InterfaceCounters)]) {
        let sum = |f: fn(&InterfaceCounters) -> &Metric| {
            interfaces.iter().map(|(_, c)| f(c).get()).sum::<u64>()
        };
        self.packets.set(sum(|c| &c.packets));
        self.bytes.set(sum(|c| &c.bytes));
        self.kernel_drops.set(sum(|c| &c.kernel_drops));
        self.interface_drops.set(sum(|c| &c.interface_drops));
        self.queue_drops.set(sum(|c| &c.queue_drops));
    }
}

/// Local time to the second, for stats lines.
pub(crate) fn local_time() -> String {
    chrono::Local::now().format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// The figures of a finished run, for the human summary and `--json`.
struct Summary {
    packets: u64,
    bytes: u64,
    counts: Vec<(&'static str, u64)>,
    files: Vec<String>,
    deleted: Vec<String>,
    /// Files deleted by someone else while being written, and the records they took.
    lost: Vec<(String, u64)>,
    message_bytes: u64,
    file_bytes: u64,
    records: u64,
}

impl Summary {
    fn new(
        recorder: &Recorder<WriterOut>,
        outcome: &WriterOutcome,
        packets: u64,
        bytes: u64,
    ) -> Summary {
        let http = recorder.extraction.http_stats();
        let tcp = recorder.extraction.tcp_stats();
        let decode = recorder.extraction.decode_stats();
        let mut counts = vec![
            ("requests", http.requests),
            ("responses", http.responses),
            ("interim", http.interim),
            ("orphans", http.orphans),
            ("unanswered", http.unanswered),
            ("flows", tcp.flows_opened),
            ("gaps", tcp.gaps),
            ("gap_bytes", tcp.gap_bytes()),
            ("non_http_flows", http.non_http_conns),
            ("tls_connections", http.tls_conns),
            ("upgraded_connections", http.upgraded_conns),
            (
                "unsupported_encapsulation",
                decode.unsupported_encapsulation,
            ),
            ("unknown_linktype", decode.unknown_linktype),
            ("not_tcp", decode.not_ip + decode.not_tcp),
            ("malformed", decode.malformed),
            ("memory_give_ups", tcp.given_up_flows),
            ("evicted_flows", tcp.evicted_flows),
            ("peak_memory_bytes", tcp.peak_buffered_bytes),
            (
                "truncated_messages",
                http.truncated_max_body
                    + http.truncated_gap
                    + http.truncated_snaplen
                    + http.truncated_memory
                    + http.truncated_incomplete,
            ),
            ("requests_written", recorder.requests_written),
        ];
        counts.extend(recorder.selection.counters());
        counts.push((
            "redacted_values",
            recorder.redactor.as_ref().map_or(0, |r| r.stats().values),
        ));
        let finished = &outcome.finished;
        Summary {
            packets,
            bytes,
            counts,
            files: finished
                .iter()
                .map(|f| f.path.display().to_string())
                .collect(),
            deleted: outcome
                .writer
                .deleted()
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            lost: outcome
                .writer
                .lost()
                .iter()
                .map(|l| (l.name.clone(), l.records))
                .collect(),
            message_bytes: finished.iter().map(|f| f.stats.message_bytes).sum(),
            file_bytes: finished.iter().map(|f| f.stats.file_bytes).sum(),
            records: finished.iter().map(|f| f.stats.records).sum(),
        }
    }

    fn get(&self, key: &str) -> u64 {
        self.counts
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(0, |(_, v)| *v)
    }

    fn output_name(&self, args: &Args) -> String {
        match self.files.as_slice() {
            [one] => one.clone(),
            _ => args.output.display().to_string(),
        }
    }

    /// Lines common to both modes, after the first.
    fn common_lines(&self, args: &Args) -> Vec<String> {
        let mut lines = vec![format!(
            "{} requests, {} responses, {} interim (1xx), {} orphan responses, {} unanswered",
            self.get("requests"),
            self.get("responses"),
            self.get("interim"),
            self.get("orphans"),
            self.get("unanswered"),
        )];
        lines.push(format!(
            "{} connection{}, {} gaps ({}), {} truncated messages, {} non-HTTP, {} TLS, {} upgraded",
            self.get("flows"),
            if self.get("flows") == 1 { "" } else { "s" },
            self.get("gaps"),
            human_bytes(self.get("gap_bytes")),
            self.get("truncated_messages"),
            self.get("non_http_flows"),
            self.get("tls_connections"),
            self.get("upgraded_connections"),
        ));
        if args.sample.is_some() || !args.select.build().is_ok_and(|f| f.is_empty()) {
            lines.push(format!(
                "selection: {} requests left out by --sample, {} by the filters (and {} responses), {} requests written",
                self.get("sampled_out_requests"),
                self.get("filtered_requests"),
                self.get("filtered_responses"),
                self.get("requests_written"),
            ));
        }
        if self.get("redacted_values") > 0 || args.redact.any() {
            lines.push(format!(
                "redaction: {} values replaced",
                self.get("redacted_values")
            ));
        }
        let wrote = match self.files.len() {
            1 => self.output_name(args),
            n => format!("{n} files ({})", args.output.display()),
        };
        lines.push(format!(
            "wrote {wrote}: {} for {} of messages (ratio {:.3} of messages, {:.3} of the capture)",
            human_bytes(self.file_bytes),
            human_bytes(self.message_bytes),
            ratio(self.file_bytes, self.message_bytes),
            ratio(self.file_bytes, self.bytes),
        ));
        if !self.deleted.is_empty() {
            lines.push(format!(
                "retention deleted {} older files",
                self.deleted.len()
            ));
        }
        for (name, records) in &self.lost {
            lines.push(format!(
                "lost {name}: deleted while being written, with its {records} records"
            ));
        }
        lines
    }

    fn json(&self, args: &Args, secs: f64) -> serde_json::Map<String, serde_json::Value> {
        let mut json = serde_json::Map::new();
        json.insert("output".into(), self.output_name(args).into());
        json.insert("files".into(), self.files.clone().into());
        json.insert("packets".into(), self.packets.into());
        json.insert("bytes".into(), self.bytes.into());
        for (k, v) in &self.counts {
            json.insert((*k).into(), (*v).into());
        }
        json.insert("message_bytes".into(), self.message_bytes.into());
        json.insert("file_bytes".into(), self.file_bytes.into());
        json.insert("bytes_written".into(), self.file_bytes.into());
        json.insert("records".into(), self.records.into());
        json.insert("deleted_files".into(), self.deleted.clone().into());
        json.insert(
            "lost_files".into(),
            self.lost
                .iter()
                .map(|(name, records)| serde_json::json!({ "file": name, "records": records }))
                .collect::<Vec<_>>()
                .into(),
        );
        json.insert("duration_s".into(), secs.into());
        json
    }

    fn print_read(
        &self,
        args: &Args,
        source: &OfflineSource,
        took: Duration,
    ) -> crate::exit::Result<()> {
        let secs = took.as_secs_f64();
        let mut lines = vec![format!(
            "read {} packets ({}) from {} file{} in {:.2} s ({:.0} MB/s)",
            self.packets,
            human_bytes(self.bytes),
            args.read.len(),
            if args.read.len() == 1 { "" } else { "s" },
            secs,
            self.bytes as f64 / 1e6 / secs.max(1e-9),
        )];
        let mut rest = self.common_lines(args);
        rest.insert(
            2,
            format!(
                "skipped: {} not TCP, {} unsupported encapsulation, {} unknown link type, {} malformed, {} memory give-ups, {} evicted (--max-flows), {} truncated files",
                self.get("not_tcp"),
                self.get("unsupported_encapsulation"),
                self.get("unknown_linktype"),
                self.get("malformed"),
                self.get("memory_give_ups"),
                self.get("evicted_flows"),
                source.truncated_files(),
            ),
        );
        lines.extend(rest);
        for line in &lines {
            eprintln!("{line}");
        }
        let mut json = self.json(args, secs);
        json.insert("truncated_files".into(), source.truncated_files().into());
        let mut linktypes: Vec<String> = source
            .file_stats()
            .iter()
            .flat_map(|f| f.linktypes.iter().map(|l| linktype::name(*l)))
            .collect();
        linktypes.sort();
        linktypes.dedup();
        json.insert("linktypes".into(), linktypes.into());
        args.json.emit(&serde_json::Value::Object(json))
    }

    fn print_live(
        &self,
        args: &Args,
        totals: &InterfaceTotals,
        recorder_frames: u64,
        took: Duration,
    ) -> crate::exit::Result<()> {
        let secs = took.as_secs_f64();
        let mut lines = vec![format!(
            "captured {} packets ({}) on {} in {:.1} s; drops: {} kernel, {} interface, {} queue",
            self.packets,
            human_bytes(self.bytes),
            args.interfaces.join(", "),
            secs,
            totals.kernel_drops.get(),
            totals.interface_drops.get(),
            totals.queue_drops.get(),
        )];
        lines.extend(self.common_lines(args));
        lines.insert(
            3,
            format!(
                "memory: peak {} of --max-memory buffered, {} connections given up, {} evicted (--max-flows)",
                human_bytes(self.get("peak_memory_bytes")),
                self.get("memory_give_ups"),
                self.get("evicted_flows"),
            ),
        );
        for line in &lines {
            eprintln!("{line}");
        }
        let mut json = self.json(args, secs);
        json.insert("interfaces".into(), args.interfaces.clone().into());
        json.insert("extracted_packets".into(), recorder_frames.into());
        json.insert("kernel_drops".into(), totals.kernel_drops.get().into());
        json.insert(
            "interface_drops".into(),
            totals.interface_drops.get().into(),
        );
        json.insert("queue_drops".into(), totals.queue_drops.get().into());
        args.json.emit(&serde_json::Value::Object(json))
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Bytes in B, kB, MB, GB (powers of 1000, as `ls -lh --si` and network tools print them).
pub fn human_bytes(n: u64) -> String {
    metrics::human_bytes(n)
}

/// Wall-clock time, ns since the Unix epoch.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_is_by_connection_and_symmetric() {
        let a: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:80".parse().unwrap();
        for per_million in [0, 1, 100_000, 999_999, 1_000_000] {
            assert_eq!(
                sample_keeps(a, b, per_million),
                sample_keeps(b, a, per_million)
            );
        }
        assert!(sample_keeps(a, b, 1_000_000));
        assert!(!sample_keeps(a, b, 0));
        // About the share asked for, over many connections.
        let kept = (0..20_000u16)
            .filter(|p| {
                let c: SocketAddr = format!("10.0.0.1:{}", 20_000 + p).parse().unwrap();
                sample_keeps(c, b, 100_000)
            })
            .count();
        assert!((1_800..2_200).contains(&kept), "{kept}");
    }

    #[test]
    fn live_filters_combine_ports_and_the_users() {
        assert_eq!(live_filter(&[], None), "tcp");
        assert_eq!(
            live_filter(&[80, 8080], None),
            "tcp and (port 80 or port 8080)"
        );
        assert_eq!(
            live_filter(&[80], Some("host 10.0.0.5")),
            "(tcp and (port 80)) and (host 10.0.0.5)"
        );
    }

    fn message(conn: u64, index: u32, bytes: &[u8]) -> crate::exchange::Message {
        crate::exchange::Message {
            conn,
            index,
            client: "10.0.0.1:40000".parse().unwrap(),
            server: "10.0.0.2:80".parse().unwrap(),
            first_ts_ns: 1,
            last_ts_ns: 1,
            bytes: bytes::Bytes::copy_from_slice(bytes),
            head_len: bytes.len() as u32,
            body_len: 0,
            truncation: None,
            external_id: None,
        }
    }

    fn response(conn: u64, index: u32) -> crate::exchange::Response {
        crate::exchange::Response {
            message: message(conn, index, b"HTTP/1.1 200 OK\r\n\r\n"),
            status: 200,
            latency_ns: Some(1),
            latency_last_ns: Some(1),
        }
    }

    #[test]
    fn filtered_requests_take_their_responses_with_them() {
        let filter = FilterArgs {
            exclude_paths: vec!["^/health".into()],
            ..FilterArgs::default()
        }
        .build()
        .unwrap();
        let mut s = Selection {
            filter: Some(filter),
            ..Selection::default()
        };
        let health = b"GET /health HTTP/1.1\r\n\r\n";
        let api = b"GET /api/x HTTP/1.1\r\n\r\n";
        let kept: Vec<bool> = [
            Record::Request(message(1, 0, health)),
            Record::Interim(response(1, 0)),
            Record::Response(response(1, 0)),
            Record::Request(message(1, 1, api)),
            Record::Response(response(1, 1)),
            Record::Orphan(response(2, 0)),
        ]
        .iter()
        .map(|r| s.keep(r))
        .collect();
        assert_eq!(kept, [false, false, false, true, true, false]);
        assert_eq!(
            s.counters(),
            [
                ("sampled_out_requests", 0),
                ("sampled_out_records", 0),
                ("filtered_requests", 1),
                ("filtered_responses", 3),
            ]
        );
        assert!(s.dropped.is_empty(), "answered keys are forgotten");
    }

    #[test]
    fn dropped_keys_stay_bounded() {
        let mut s = Selection::default();
        for i in 0..(MAX_DROPPED_KEYS as u32 + 10) {
            s.remember_dropped((1, i));
        }
        assert_eq!(s.dropped.len(), MAX_DROPPED_KEYS);
        assert!(!s.dropped.contains(&(1, 0)) && s.dropped.contains(&(1, 10)));
    }

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
        assert_eq!(args.select.headers, ["Accept: json"]);
        assert_eq!(args.select.paths, ["^/api"]);
    }
}
