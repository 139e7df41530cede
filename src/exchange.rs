//! The exchange model every stage shares: messages as they crossed the wire, the responses paired with
//! them, and the other records a `.reel` log carries.
//!
//! These are plain data types. The capture side (`http`) produces them, `log` stores them, `replay` and
//! `compare` read them. An *exchange* is one request and its final (non-1xx) response, linked by
//! `conn` and `index`; interim 1xx responses are kept but never counted as responses.

use std::net::SocketAddr;

use bytes::Bytes;

/// Why a message's stored bytes are shorter than what crossed the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Truncation {
    /// The body was longer than `--max-body`; only the first bytes are kept.
    MaxBody,
    /// Capture loss inside the message: the bytes after the gap are missing.
    Gap,
    /// The memory budget gave up the connection while the message was in progress.
    Memory,
    /// Frames were cut by the capture's snaplen, so payload bytes are missing.
    Snaplen,
    /// The capture (or the connection) ended before the message was complete.
    Incomplete,
}

impl Truncation {
    /// Stable lower-case name used in JSON output and counters.
    pub fn as_str(self) -> &'static str {
        match self {
            Truncation::MaxBody => "max_body",
            Truncation::Gap => "gap",
            Truncation::Memory => "memory",
            Truncation::Snaplen => "snaplen",
            Truncation::Incomplete => "incomplete",
        }
    }
}

/// One HTTP message (request or response) with its exact wire bytes and where and when it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Connection id, unique within a log (and across logs once merged).
    pub conn: u64,
    /// Order of the exchange in its connection, from 0. A response carries its request's index.
    pub index: u32,
    /// The side that sent the requests.
    pub client: SocketAddr,
    /// The side that answered.
    pub server: SocketAddr,
    /// Capture time of the message's first byte, ns since the Unix epoch (earliest copy of a segment).
    pub first_ts_ns: u64,
    /// Capture time of the message's last byte, ns since the Unix epoch.
    pub last_ts_ns: u64,
    /// Exact wire bytes: the head (start line and header fields, through the empty line), then the
    /// stored part of the body as framed on the wire (chunked framing included).
    pub bytes: Bytes,
    /// Length of the head within `bytes`.
    pub head_len: u32,
    /// Length of the body on the wire, including chunked framing, even when fewer bytes are stored.
    pub body_len: u64,
    /// Set when `bytes` holds less than the whole message.
    pub truncation: Option<Truncation>,
    /// The id the message had in the format it was imported from (GoReplay's 24 hex digits), so
    /// that exporting gives it back; `None` for messages reel captured itself.
    pub external_id: Option<String>,
}

impl Message {
    /// The head: start line and header fields, through the empty line.
    pub fn head(&self) -> &[u8] {
        &self.bytes[..(self.head_len as usize).min(self.bytes.len())]
    }

    /// The stored body bytes (all of them unless `truncation` is set).
    pub fn body(&self) -> &[u8] {
        &self.bytes[(self.head_len as usize).min(self.bytes.len())..]
    }
}

/// A response as seen in production, with the status and the latency of its exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The response's bytes and flow; `message.index` is the index of the request it answers
    /// (for an orphan, the position it would have had).
    pub message: Message,
    /// Status code from the status line.
    pub status: u16,
    /// Production latency: the request's first byte to this response's first byte, in ns.
    /// `None` for orphans.
    pub latency_ns: Option<u64>,
    /// The request's first byte to this response's last byte, in ns. `None` for orphans.
    pub latency_last_ns: Option<u64>,
}

/// Bytes lost to the capture on one direction of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// Connection id.
    pub conn: u64,
    /// The side that sent requests (as far as known when the gap was seen).
    pub client: SocketAddr,
    /// The side that answered.
    pub server: SocketAddr,
    /// True when the lost bytes were sent by the client.
    pub from_client: bool,
    /// Capture time of the first segment after the gap.
    pub ts_ns: u64,
    /// Number of bytes lost.
    pub len: u64,
}

/// How a replayed request ended, beyond the status it got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// The connection could not be opened: refused.
    ConnectRefused,
    /// The connection could not be opened in `--connect-timeout`.
    ConnectTimeout,
    /// No complete response within `--timeout`.
    Timeout,
    /// The connection was reset or closed before the response was complete.
    Reset,
    /// The TLS handshake failed.
    Tls,
    /// The response could not be framed as HTTP/1.x.
    Malformed,
    /// Any other I/O failure.
    Io,
}

impl ErrorKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::ConnectRefused,
        ErrorKind::ConnectTimeout,
        ErrorKind::Timeout,
        ErrorKind::Reset,
        ErrorKind::Tls,
        ErrorKind::Malformed,
        ErrorKind::Io,
    ];

    /// Stable lower-case name used in JSON output, counters and the log format.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::ConnectRefused => "connect_refused",
            ErrorKind::ConnectTimeout => "connect_timeout",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Reset => "reset",
            ErrorKind::Tls => "tls",
            ErrorKind::Malformed => "malformed",
            ErrorKind::Io => "io",
        }
    }

    /// What the kind means, in words for a one-line cause ("connection refused").
    pub fn cause(self) -> &'static str {
        match self {
            ErrorKind::ConnectRefused => "connection refused",
            ErrorKind::ConnectTimeout => "connect timed out",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Reset => "connection reset or closed",
            ErrorKind::Tls => "TLS handshake failed",
            ErrorKind::Malformed => "not an HTTP response",
            ErrorKind::Io => "I/O error",
        }
    }
}

/// The most frequent causes of `counts` (indexed like [`ErrorKind::ALL`]), counted, at most
/// three: `connection refused × 640, timed out × 2`. Empty when every count is 0.
pub fn causes(counts: &[u64; 7]) -> String {
    let mut kinds: Vec<(ErrorKind, u64)> = ErrorKind::ALL
        .into_iter()
        .zip(counts.iter().copied())
        .filter(|&(_, n)| n > 0)
        .collect();
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let shown: Vec<String> = kinds
        .iter()
        .take(3)
        .map(|(k, n)| format!("{} × {n}", k.cause()))
        .collect();
    let rest: u64 = kinds.iter().skip(3).map(|(_, n)| n).sum();
    let mut text = shown.join(", ");
    if rest > 0 {
        text.push_str(&format!(", other errors × {rest}"));
    }
    text
}

/// What staging answered to one replayed request; self-contained, with copies of the production
/// fields so that a results log can be compared on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayResult {
    /// The recorded connection id of the request.
    pub conn: u64,
    /// The recorded index of the request in its connection.
    pub index: u32,
    /// The target URL the request was sent to (scheme, host, port).
    pub target: String,
    /// Production request method.
    pub method: String,
    /// Production request-target, as recorded (before rewrites).
    pub path: String,
    /// Production status, when a response was recorded.
    pub prod_status: Option<u16>,
    /// Production latency (request first byte to response first byte), ns.
    pub prod_latency_ns: Option<u64>,
    /// Recorded time of the request's first byte, ns since the Unix epoch.
    pub recorded_ts_ns: u64,
    /// When the scheduler meant to send it, ns since the Unix epoch.
    pub intended_ns: u64,
    /// When its first byte was written, ns since the Unix epoch (0 when never sent).
    pub sent_ns: u64,
    /// When the first byte of the final response arrived (0 when none).
    pub first_byte_ns: u64,
    /// When the last byte of the final response arrived (0 when none).
    pub last_byte_ns: u64,
    /// Staging status of the final response.
    pub status: Option<u16>,
    /// Bytes written for the request.
    pub request_bytes: u64,
    /// Bytes read for the response(s).
    pub response_bytes: u64,
    /// Staging's final response as kept: the head and the first bytes of the body (the whole
    /// message for results imported from GoReplay), for examples in reports.
    pub response: Bytes,
    /// The id the request had in the format it was imported from (GoReplay's), else `None`.
    pub external_id: Option<String>,
    /// Transport-level failure, if any.
    pub error: Option<ErrorKind>,
    /// Replay shard that sent it (`I` of `--shard I/N`), 0 when unsharded.
    pub shard: u32,
    /// Number of shards (`N` of `--shard I/N`), 1 when unsharded.
    pub shards: u32,
    /// Iteration of `--loop`, from 0.
    pub iteration: u32,
    /// True for requests sent during `--warmup`: kept, but left out of statistics.
    pub warmup: bool,
    /// Which target set answered: 0 the candidate (`--target`), 1 the baseline (`--baseline-target`).
    pub role: u8,
}

/// Who wrote a log and how: the first record of every file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Meta {
    /// Host name of the machine that wrote the log.
    pub host: String,
    /// Capture interfaces, or the input files for `record --read`.
    pub sources: Vec<String>,
    /// BPF filter in force, empty when none.
    pub filter: String,
    /// `reel` version that wrote the file.
    pub tool_version: String,
    /// When writing started, ns since the Unix epoch.
    pub start_ns: u64,
    /// Id of the redaction key (a hash of it, never the key), empty when no redaction.
    pub redaction_key_id: String,
    /// The command that wrote the log, e.g. `record`, `import`, `merge`, `replay`.
    pub command: String,
    /// Notes said once for the whole file, e.g. that TLS connections were seen and skipped.
    pub notes: Vec<String>,
    /// Identifies the run that wrote the log: the files one `record` run rotates through share it,
    /// and connection ids are unique within a run, so merging those files keeps the ids (and an
    /// exchange split across two files still pairs). 0 when unknown.
    pub run_id: u64,
}

/// Named counters written when a log is closed (packets, drops, requests, …).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Counters {
    /// When the log was closed, ns since the Unix epoch.
    pub end_ns: u64,
    /// `(name, value)` pairs in a stable order.
    pub values: Vec<(String, u64)>,
}

impl Counters {
    /// The value of the counter `name`, if present.
    pub fn get(&self, name: &str) -> Option<u64> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }
}

/// One record of a `.reel` log.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// Who wrote the log and how.
    Meta(Meta),
    /// A request as captured.
    Request(Message),
    /// The final response to a request, as captured.
    Response(Response),
    /// A 1xx interim response, as captured; never counted as a response.
    Interim(Response),
    /// A response whose request was not captured; kept, never replayed, not an exchange.
    Orphan(Response),
    /// Bytes lost to the capture on one direction of a connection.
    Gap(Gap),
    /// What staging answered to one replayed request.
    Result(ReplayResult),
    /// Counters written when the log is closed.
    Closing(Counters),
}

impl Record {
    /// The record's time, ns since the Unix epoch: what logs are ordered and merged by.
    pub fn ts_ns(&self) -> u64 {
        match self {
            Record::Meta(m) => m.start_ns,
            Record::Request(m) => m.first_ts_ns,
            Record::Response(r) | Record::Interim(r) | Record::Orphan(r) => r.message.first_ts_ns,
            Record::Gap(g) => g.ts_ns,
            Record::Result(r) => r.intended_ns,
            Record::Closing(c) => c.end_ns,
        }
    }

    /// The connection the record belongs to, if it belongs to one.
    pub fn conn(&self) -> Option<u64> {
        match self {
            Record::Request(m) => Some(m.conn),
            Record::Response(r) | Record::Interim(r) | Record::Orphan(r) => Some(r.message.conn),
            Record::Gap(g) => Some(g.conn),
            Record::Result(r) => Some(r.conn),
            Record::Meta(_) | Record::Closing(_) => None,
        }
    }
}
