//! The record stage's engine: extraction (decode → reassembly → HTTP), then selection, `--limit`
//! and redaction, handing each record kept to a [`Sink`]. Driven one frame at a time by whoever
//! reads frames (a file reader, the live capture's extraction thread).

use std::time::{Duration, Instant, SystemTime};

use super::CaptureConfig;
use super::extraction::Extraction;
use super::figures::CaptureFigures;
use super::select::{Limiter, Selection};
use crate::capture::Frame;
use crate::capture::live::InterfaceCounters;
use crate::ends::{EndError, Sink};
use crate::exchange::Record;
use crate::metrics::Metric;
use crate::redact::Redactor;

/// How often the figures are published (and the sink given a counter snapshot).
pub const PUBLISH_EVERY: Duration = Duration::from_millis(200);

/// Said once in the log when the first TLS connection is seen.
pub const TLS_NOTE: &str = "TLS connections were seen on the watched ports: they cannot be read, so \
their requests are not in this log (counted in tls_connections / http.tls_conns)";

/// Extraction, selection, `--limit` and redaction, handing the records kept to a sink.
pub struct Recorder<S: Sink> {
    extraction: Extraction,
    selection: Selection,
    limiter: Option<Limiter>,
    redactor: Option<Redactor>,
    produced: Vec<Record>,
    out: S,
    /// The sink's first error: the recording stops taking frames (the sink reports why when it
    /// is finished).
    failed: Option<EndError>,
    progress: bool,
    tls_noted: bool,
    requests_kept: u64,
    figures: CaptureFigures,
    published_at: Instant,
    /// Capture figures to put in the counters (live), by interface.
    interfaces: Vec<(String, InterfaceCounters)>,
    /// Frames and bytes given to extraction.
    frames: u64,
    bytes: u64,
    truncated_files: u64,
}

impl<S: Sink> Recorder<S> {
    /// A recorder writing into `out`, publishing into `figures`.
    pub fn new(config: CaptureConfig, out: S, figures: CaptureFigures) -> Recorder<S> {
        Recorder {
            extraction: Extraction::new(config.extraction),
            selection: Selection::new(config.selection),
            limiter: config.limit.map(Limiter::new),
            redactor: config.redactor,
            produced: Vec::with_capacity(512),
            out,
            failed: None,
            progress: false,
            tls_noted: false,
            requests_kept: 0,
            figures,
            published_at: Instant::now(),
            interfaces: Vec::new(),
            frames: 0,
            bytes: 0,
            truncated_files: 0,
        }
    }

    /// Gives the sink the run's counters every [`PUBLISH_EVERY`] (for the closing records of
    /// files rotation finishes).
    pub fn with_progress(mut self) -> Recorder<S> {
        self.progress = true;
        self
    }

    /// Puts these interfaces' capture figures in the counters (a live run).
    pub fn with_interfaces(mut self, interfaces: Vec<(String, InterfaceCounters)>) -> Recorder<S> {
        self.interfaces = interfaces;
        self
    }

    /// Says how many input files were cut short (in the counters).
    pub fn set_truncated_files(&mut self, n: u64) {
        self.truncated_files = n;
    }

    /// Extraction's stages, for their figures.
    pub fn extraction(&self) -> &Extraction {
        &self.extraction
    }

    /// The sink.
    pub fn sink(&self) -> &S {
        &self.out
    }

    /// The sink, to finish it.
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.out
    }

    /// Frames and bytes given to extraction.
    pub fn frames(&self) -> (u64, u64) {
        (self.frames, self.bytes)
    }

    /// Requests kept by selection and `--limit` (handed to the sink).
    pub fn requests_kept(&self) -> u64 {
        self.requests_kept
    }

    /// What selection left out: requests and records by `--sample`, requests and responses by
    /// the filters.
    pub fn selection_counters(&self) -> [(&'static str, u64); 4] {
        self.selection.counters()
    }

    /// Values replaced by redaction.
    pub fn redacted_values(&self) -> u64 {
        self.redactor.as_ref().map_or(0, |r| r.stats().values)
    }

    /// True while the sink takes records.
    pub fn alive(&self) -> bool {
        self.failed.is_none()
    }

    /// Feeds one frame; false once the sink failed (stop reading).
    pub fn push(&mut self, frame: &Frame<'_>) -> bool {
        self.frames += 1;
        self.bytes += frame.data.len() as u64;
        self.extraction.push(frame, &mut self.produced);
        self.take_produced();
        self.alive()
    }

    /// Closes connections idle as of `now_ns` (live, when no frames come), and lets the sink
    /// hand over what it holds back.
    pub fn idle(&mut self, now_ns: u64) {
        self.extraction.expire(now_ns, &mut self.produced);
        self.take_produced();
        self.tick();
    }

    fn tick(&mut self) {
        if self.failed.is_none() {
            if let Err(e) = self.out.tick(SystemTime::now()) {
                self.failed = Some(e);
            }
        }
    }

    /// Selects, limits and redacts what extraction produced, and hands it to the sink.
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
                self.requests_kept += 1;
            }
            if self.failed.is_none() {
                if let Err(e) = self.out.write(record) {
                    self.failed = Some(e);
                }
            }
        }
        if !self.tls_noted && self.extraction.http_stats().tls_conns > 0 {
            self.tls_noted = true;
            tracing::warn!(
                "TLS connections on the watched ports: they cannot be read and are skipped (counted in tls_connections)"
            );
            if self.failed.is_none() {
                if let Err(e) = self.out.note(TLS_NOTE) {
                    self.failed = Some(e);
                }
            }
        }
    }

    /// End of input: every connection is closed and what is complete is handed over.
    pub fn finish_input(&mut self) {
        self.extraction.finish(&mut self.produced);
        self.take_produced();
        self.tick();
        self.publish();
    }

    /// True once `--limit` is reached and its requests are answered (or waited for long enough).
    pub fn limit_done(&self, now_ns: u64) -> bool {
        self.limiter.as_ref().is_some_and(|l| l.done(now_ns))
    }

    /// Sets the figures (and gives the sink a counter snapshot) at most every [`PUBLISH_EVERY`].
    pub fn publish_if_due(&mut self, queue_bytes: usize) {
        if self.published_at.elapsed() < PUBLISH_EVERY {
            return;
        }
        self.published_at = Instant::now();
        self.figures.queue_bytes.set(queue_bytes as u64);
        self.publish();
        if self.progress && self.failed.is_none() {
            let snapshot = self.counter_values();
            self.out.progress(&snapshot);
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
        f.requests_written.set(self.requests_kept);
        if let Some(r) = &self.redactor {
            f.redacted_values.set(r.stats().values);
        }
    }

    /// The counters of the closing record: capture, selection, redaction, then every stage's own.
    pub fn counter_values(&self) -> Vec<(String, u64)> {
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
        values.push(("requests_written".to_string(), self.requests_kept));
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

    /// The figures of the run so far, for its summary (`requests`, `flows`, `gaps`, …, the
    /// selection's and redaction's counts).
    pub fn totals(&self) -> Vec<(&'static str, u64)> {
        let http = self.extraction.http_stats();
        let tcp = self.extraction.tcp_stats();
        let decode = self.extraction.decode_stats();
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
            ("requests_written", self.requests_kept),
        ];
        counts.extend(self.selection.counters());
        counts.push(("redacted_values", self.redacted_values()));
        counts
    }

    /// The sink's first error, if it failed.
    pub fn take_failure(&mut self) -> Option<EndError> {
        self.failed.take()
    }
}
