//! `reel cat`: the records of logs as JSON lines (one per exchange), raw HTTP, or GoReplay's format.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufWriter, Write};

use serde_json::json;

use crate::cli::cat::{Args, Format};
use crate::cmd::open_merged;
use crate::exchange::{Message, Record, Response};
use crate::exit::Status;
use crate::http::framing::RequestHead;
use crate::log::gor;

/// Requests waiting for their response longer than this (log time) are printed without one.
const PENDING_HORIZON_NS: u64 = 600_000_000_000;

/// Runs `reel cat`.
pub fn run(args: Args) -> crate::exit::Result<Status> {
    let mut merged = open_merged(&args.files)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    match args.format {
        Format::Jsonl => {
            let mut exchanges = Exchanges::default();
            while let Some(record) = merged.next_record()? {
                exchanges.push(record, &mut out)?;
            }
            exchanges.flush_all(&mut out)?;
        }
        Format::Http => {
            while let Some(record) = merged.next_record()? {
                write_http(&record, &mut out)?;
            }
        }
        Format::Gor => {
            while let Some(record) = merged.next_record()? {
                if let Some(g) = gor::export_record(&record) {
                    gor::write_gor(&mut out, &g)?;
                }
            }
        }
    }
    out.flush()?;
    Ok(Status::Success)
}

/// Joins requests with their final responses and prints one line per exchange.
#[derive(Default)]
struct Exchanges {
    /// Requests waiting for a response, by (conn, index).
    pending: HashMap<(u64, u32), Message>,
    /// The same requests by first-byte time, to flush those whose response never came.
    by_time: BTreeMap<(u64, u64, u32), ()>,
}

impl Exchanges {
    fn push(&mut self, record: Record, out: &mut impl Write) -> std::io::Result<()> {
        match record {
            Record::Request(m) => {
                let now = m.first_ts_ns;
                self.by_time.insert((m.first_ts_ns, m.conn, m.index), ());
                if let Some(old) = self.pending.insert((m.conn, m.index), m) {
                    // The same (conn, index) twice: print the first without a response.
                    write_exchange(&old, None, out)?;
                }
                self.flush_older_than(now.saturating_sub(PENDING_HORIZON_NS), out)?;
            }
            Record::Response(r) => {
                if let Some(req) = self.pending.remove(&(r.message.conn, r.message.index)) {
                    self.by_time.remove(&(req.first_ts_ns, req.conn, req.index));
                    write_exchange(&req, Some(&r), out)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn flush_older_than(&mut self, ts: u64, out: &mut impl Write) -> std::io::Result<()> {
        while let Some((&(t, conn, index), ())) = self.by_time.first_key_value() {
            if t >= ts {
                break;
            }
            self.by_time.pop_first();
            if let Some(req) = self.pending.remove(&(conn, index)) {
                write_exchange(&req, None, out)?;
            }
        }
        Ok(())
    }

    fn flush_all(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        self.flush_older_than(u64::MAX, out)
    }
}

/// `ip:port`, IPv6 as `[addr]:port`.
fn addr(a: &std::net::SocketAddr) -> String {
    a.to_string()
}

fn write_exchange(
    req: &Message,
    resp: Option<&Response>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let (method, target, version, headers) = match RequestHead::parse(req.head()) {
        Ok(h) => (
            h.method.to_string(),
            h.target_str().into_owned(),
            h.version.as_str().to_string(),
            h.headers
                .iter()
                .map(|hd| json!([hd.name, String::from_utf8_lossy(hd.value)]))
                .collect::<Vec<_>>(),
        ),
        Err(_) => (String::new(), String::new(), String::new(), Vec::new()),
    };
    let line = json!({
        "conn": req.conn,
        "index": req.index,
        "ts_ns": req.first_ts_ns,
        "client": addr(&req.client),
        "server": addr(&req.server),
        "method": method,
        "target": target,
        "version": version,
        "headers": headers,
        "body_bytes": req.body_len,
        "truncated": req.truncation.map(|t| t.as_str()),
        "status": resp.map(|r| r.status),
        "latency_ns": resp.and_then(|r| r.latency_ns),
        "response_bytes": resp.map(|r| u64::from(r.message.head_len) + r.message.body_len),
    });
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}

fn write_http(record: &Record, out: &mut impl Write) -> std::io::Result<()> {
    let (what, m) = match record {
        Record::Request(m) => ("request", m),
        Record::Response(r) => ("response", &r.message),
        Record::Interim(r) => ("interim", &r.message),
        Record::Orphan(r) => ("orphan response", &r.message),
        _ => return Ok(()),
    };
    writeln!(
        out,
        "#### {what} conn={} index={} {} -> {} ts={}{}",
        m.conn,
        m.index,
        addr(&m.client),
        addr(&m.server),
        crate::cmd::inspect::format_ts(m.first_ts_ns),
        m.truncation
            .map_or(String::new(), |t| format!(" truncated={}", t.as_str())),
    )?;
    out.write_all(&m.bytes)?;
    if !m.bytes.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    Ok(())
}
