//! Records as raw HTTP for reading (`reel cat --format http`): each message after a `####`
//! line saying which it is, its connection, endpoints and time.

use std::io::Write;

use super::text::{TextFormat, TextOut};
use crate::exchange::Record;

/// Messages written as text.
pub struct HttpText;

impl TextFormat for HttpText {
    fn write(&mut self, record: Record, out: &mut TextOut) -> std::io::Result<u64> {
        write_http(&record, out).map(u64::from)
    }
}

/// A log timestamp as RFC 3339 UTC with milliseconds.
pub fn format_ts(ns: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns);
    humantime::format_rfc3339_millis(t).to_string()
}

fn write_http(record: &Record, out: &mut impl Write) -> std::io::Result<bool> {
    let (what, m) = match record {
        Record::Request(m) => ("request", m),
        Record::Response(r) => ("response", &r.message),
        Record::Interim(r) => ("interim", &r.message),
        Record::Orphan(r) => ("orphan response", &r.message),
        _ => return Ok(false),
    };
    writeln!(
        out,
        "#### {what} conn={} index={} {} -> {} ts={}{}",
        m.conn,
        m.index,
        m.client,
        m.server,
        format_ts(m.first_ts_ns),
        m.truncation
            .map_or(String::new(), |t| format!(" truncated={}", t.as_str())),
    )?;
    out.write_all(&m.bytes)?;
    if !m.bytes.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    Ok(true)
}
