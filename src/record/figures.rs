//! The figures a recording publishes while it runs: what extraction saw, what selection kept,
//! what was written. Atomics, set every 200 ms by the extraction thread (and by the writer for
//! the files), read by the stats lines and `/metrics`.

use crate::metrics::{Metric, Registry};

/// Figures the extraction and writer threads publish (for stats lines and /metrics); the
/// default is a set registered nowhere (offline runs).
#[derive(Clone, Default)]
pub struct CaptureFigures {
    /// TCP connections tracked now.
    pub flows_open: Metric,
    /// Requests extracted.
    pub requests: Metric,
    /// Final responses paired with a request.
    pub responses: Metric,
    /// Connections that began with a TLS handshake.
    pub tls_connections: Metric,
    /// Connections that never carried HTTP/1.x.
    pub non_http_connections: Metric,
    /// Places where the capture lost bytes.
    pub gaps: Metric,
    /// Bytes lost in gaps.
    pub gap_bytes: Metric,
    /// Bytes held by reassembly and framing.
    pub memory_bytes: Metric,
    /// Most bytes held at once.
    pub peak_memory_bytes: Metric,
    /// Bytes of frames waiting for extraction.
    pub queue_bytes: Metric,
    /// Connections given up to stay within --max-memory.
    pub memory_give_ups: Metric,
    /// Requests left out by --sample.
    pub sampled_out_requests: Metric,
    /// Requests left out by the filters.
    pub filtered_requests: Metric,
    /// Requests kept (handed to the sink).
    pub requests_written: Metric,
    /// Values replaced by redaction.
    pub redacted_values: Metric,
    /// Bytes written to log files.
    pub bytes_written: Metric,
    /// Log files finished and renamed.
    pub files_finished: Metric,
}

impl CaptureFigures {
    /// The figures the output keeps up to date (files finished, bytes written).
    pub fn write_figures(&self) -> crate::ends::log_output::WriteFigures {
        crate::ends::log_output::WriteFigures {
            files_finished: self.files_finished.clone(),
            bytes_written: self.bytes_written.clone(),
        }
    }

    /// The figures, registered for `/metrics` (`reel_record_*`).
    pub fn registered(r: &Registry) -> CaptureFigures {
        CaptureFigures {
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
