//! One `.reel` log written to a file (under the file rules: `NAME.part` until finished, mode
//! 0600, an existing name refused unless `--append` or `--force`) or to a stream (stdout).

use std::io::Write;
use std::path::Path;

use super::{EndError, Sink, Written, WrittenFile, stdout};
use crate::exchange::{Counters, Meta, Record};
use crate::log::{CreateOptions, Writer, WriterConfig};
use crate::metrics::Metric;

/// How a log file is opened.
#[derive(Debug, Clone, Default)]
pub struct FileOptions {
    /// Remove an existing file first (`--force`).
    pub force: bool,
    /// Add to an existing log (`--append`).
    pub append: bool,
    /// How blocks are built.
    pub config: WriterConfig,
}

enum Out {
    File(Writer<std::fs::File>),
    Stream(Writer<Box<dyn Write + Send>>),
}

/// A sink writing one `.reel` log.
pub struct LogSink {
    out: Option<Out>,
    name: String,
    /// The final name (the file's, not its `.part`).
    final_name: String,
    /// The last record written was a closing record: the stream carried its own (a merge's).
    closed_by_stream: bool,
    /// The metadata written first, kept for the notes said later.
    meta: Option<Meta>,
    /// Bytes written so far, published on each tick and at the finish.
    bytes_written: Metric,
}

impl LogSink {
    /// Creates `path` under the file rules.
    pub fn create(path: &Path, options: FileOptions) -> Result<LogSink, EndError> {
        let name = path.display().to_string();
        if options.force && path.exists() && !crate::log::is_stream(path) {
            std::fs::remove_file(path)
                .map_err(|source| EndError::io(format!("{name}: cannot replace"), source))?;
        }
        let writer = crate::log::create(
            path,
            CreateOptions {
                append: options.append,
                config: options.config,
            },
        )?;
        Ok(LogSink {
            name: writer.name().to_owned(),
            out: Some(Out::File(writer)),
            final_name: name,
            closed_by_stream: false,
            meta: None,
            bytes_written: Metric::new(),
        })
    }

    /// A log streamed to stdout (no `.part`, no rename); the file header is written now.
    pub fn stdout(config: WriterConfig) -> Result<LogSink, EndError> {
        LogSink::stream(stdout::stream(), stdout::NAME, config)
    }

    /// A log streamed to any writer, called `name` in messages.
    pub fn stream(
        out: Box<dyn Write + Send>,
        name: &str,
        config: WriterConfig,
    ) -> Result<LogSink, EndError> {
        let writer = Writer::new(out, name, config)?;
        Ok(LogSink {
            out: Some(Out::Stream(writer)),
            name: name.to_owned(),
            final_name: name.to_owned(),
            closed_by_stream: false,
            meta: None,
            bytes_written: Metric::new(),
        })
    }

    /// Publishes the bytes written into `metric` (a recording's stats lines and `/metrics`).
    pub fn with_bytes_written(mut self, metric: Metric) -> LogSink {
        self.bytes_written = metric;
        self
    }

    /// Writes `meta` as the first record, and keeps it: a note said later is written as a later
    /// metadata record carrying it.
    pub fn begin(mut self, meta: Meta) -> Result<LogSink, EndError> {
        self.write(Record::Meta(meta.clone()))?;
        self.meta = Some(meta);
        Ok(self)
    }

    /// What was written so far.
    pub fn stats(&self) -> crate::log::WriterStats {
        match &self.out {
            Some(Out::File(w)) => w.stats(),
            Some(Out::Stream(w)) => w.stats(),
            None => crate::log::WriterStats::default(),
        }
    }
}

impl Sink for LogSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn write(&mut self, record: Record) -> Result<(), EndError> {
        self.closed_by_stream = matches!(record, Record::Closing(_));
        match &mut self.out {
            Some(Out::File(w)) => w.write(&record)?,
            Some(Out::Stream(w)) => w.write(&record)?,
            None => return Err(EndError::Closed(self.name.clone())),
        }
        Ok(())
    }

    fn note(&mut self, note: &str) -> Result<(), EndError> {
        let Some(meta) = self.meta.as_mut() else {
            return Ok(());
        };
        meta.notes.push(note.to_owned());
        let mut later = meta.clone();
        later.start_ns = crate::runtime::now_ns();
        self.write(Record::Meta(later))
    }

    fn tick(&mut self, _now: std::time::SystemTime) -> Result<(), EndError> {
        match &mut self.out {
            Some(Out::File(w)) => w.flush_if_due()?,
            Some(Out::Stream(w)) => w.flush_if_due()?,
            None => {}
        }
        self.bytes_written.set(self.stats().file_bytes);
        Ok(())
    }

    fn sync(&mut self) -> Result<(), EndError> {
        match &mut self.out {
            Some(Out::File(w)) => w.flush_block()?,
            Some(Out::Stream(w)) => w.flush_block()?,
            None => {}
        }
        Ok(())
    }

    /// Writes the closing record (unless the stream carried its own: a merge's), the open block,
    /// syncs and renames a new file.
    fn finish(&mut self, counters: Counters) -> Result<Written, EndError> {
        let closing = !self.closed_by_stream;
        let stats = match self.out.take() {
            Some(Out::File(w)) if closing => w.finish(counters)?,
            Some(Out::File(w)) => w.close()?,
            Some(Out::Stream(w)) if closing => w.finish(counters)?,
            Some(Out::Stream(w)) => w.close()?,
            None => return Err(EndError::Closed(self.name.clone())),
        };
        self.bytes_written.set(stats.file_bytes);
        Ok(Written {
            files: vec![WrittenFile {
                name: self.final_name.clone(),
                records: stats.records,
                message_bytes: stats.message_bytes,
                file_bytes: stats.file_bytes,
            }],
            ..Written::default()
        })
    }

    fn abort(&mut self) {
        if let Some(Out::File(w)) = self.out.take() {
            let _ = w.abort();
        }
    }
}
