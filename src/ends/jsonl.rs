//! Exchanges as JSON lines for `jq` (`reel cat --format jsonl`): one object per exchange, the
//! request with its final response folded in, in request order.
//!
//! A request waits for its response in a bounded way: one still unanswered after
//! [`PENDING_HORIZON_NS`] of log time is printed without one (so memory follows the log's
//! concurrency, not its length).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use serde_json::json;

use super::text::{TextFormat, TextOut};
use crate::exchange::{Message, Record, Response};
use crate::http::framing::RequestHead;

/// Requests waiting for their response longer than this (log time) are printed without one.
pub const PENDING_HORIZON_NS: u64 = 600_000_000_000;

/// Exchanges written as JSON lines.
#[derive(Default)]
pub struct JsonlText {
    exchanges: Exchanges,
}

impl TextFormat for JsonlText {
    fn write(&mut self, record: Record, out: &mut TextOut) -> std::io::Result<u64> {
        self.exchanges.push(record, out)
    }

    /// Prints the requests still waiting (without a response).
    fn finish(&mut self, out: &mut TextOut) -> std::io::Result<u64> {
        self.exchanges.flush_older_than(u64::MAX, out)
    }
}

/// Joins requests with their final responses; each call returns the lines it printed.
#[derive(Default)]
struct Exchanges {
    /// Requests waiting for a response, by (conn, index).
    pending: HashMap<(u64, u32), Message>,
    /// The same requests by first-byte time, to flush those whose response never came.
    by_time: BTreeMap<(u64, u64, u32), ()>,
}

impl Exchanges {
    fn push(&mut self, record: Record, out: &mut impl Write) -> std::io::Result<u64> {
        let mut lines = 0;
        match record {
            Record::Request(m) => {
                let now = m.first_ts_ns;
                self.by_time.insert((m.first_ts_ns, m.conn, m.index), ());
                if let Some(old) = self.pending.insert((m.conn, m.index), m) {
                    // The same (conn, index) twice: print the first without a response.
                    write_exchange(&old, None, out)?;
                    lines += 1;
                }
                lines += self.flush_older_than(now.saturating_sub(PENDING_HORIZON_NS), out)?;
            }
            Record::Response(r) => {
                if let Some(req) = self.pending.remove(&(r.message.conn, r.message.index)) {
                    self.by_time.remove(&(req.first_ts_ns, req.conn, req.index));
                    write_exchange(&req, Some(&r), out)?;
                    lines += 1;
                }
            }
            _ => {}
        }
        Ok(lines)
    }

    fn flush_older_than(&mut self, ts: u64, out: &mut impl Write) -> std::io::Result<u64> {
        let mut lines = 0;
        while let Some((&(t, conn, index), ())) = self.by_time.first_key_value() {
            if t >= ts {
                break;
            }
            self.by_time.pop_first();
            if let Some(req) = self.pending.remove(&(conn, index)) {
                write_exchange(&req, None, out)?;
                lines += 1;
            }
        }
        Ok(lines)
    }
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
        "client": req.client.to_string(),
        "server": req.server.to_string(),
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
