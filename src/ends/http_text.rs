//! Records as raw HTTP for reading (`reel cat --format http`): each message after a `####`
//! line saying which it is, its connection, endpoints and time.

use std::io::{BufWriter, Write};

use super::{EndError, Sink, Written, WrittenFile};
use crate::exchange::{Counters, Record};

/// Messages written as text.
pub struct HttpSink {
    out: BufWriter<Box<dyn Write + Send>>,
    name: String,
    records: u64,
}

impl HttpSink {
    /// Writes to `out`, called `name` in messages.
    pub fn new(out: Box<dyn Write + Send>, name: &str) -> HttpSink {
        HttpSink {
            out: BufWriter::with_capacity(1 << 16, out),
            name: name.to_owned(),
            records: 0,
        }
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

impl Sink for HttpSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn write(&mut self, record: Record) -> Result<(), EndError> {
        let wrote = write_http(&record, &mut self.out).map_err(|e| EndError::io(&self.name, e))?;
        self.records += u64::from(wrote);
        Ok(())
    }

    fn sync(&mut self) -> Result<(), EndError> {
        self.out.flush().map_err(|e| EndError::io(&self.name, e))
    }

    fn finish(&mut self, _counters: Counters) -> Result<Written, EndError> {
        self.sync()?;
        Ok(Written {
            files: vec![WrittenFile {
                name: self.name.clone(),
                records: self.records,
                ..WrittenFile::default()
            }],
            ..Written::default()
        })
    }
}
