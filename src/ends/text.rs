//! A text stream as a sink (`reel cat`): records turned into text by a [`TextFormat`] — JSON
//! lines ([`jsonl`](super::jsonl)), raw HTTP ([`http_text`](super::http_text)), GoReplay's
//! format ([`gor`](super::gor)) — buffered, flushed on `sync` and at the finish. A new text
//! format is one [`TextFormat`]; the sink around it is this one.

use std::io::{BufWriter, Write};

use super::{EndError, Sink, Written, WrittenFile};
use crate::exchange::{Counters, Record};

/// The buffered stream a [`TextFormat`] writes to.
pub type TextOut = BufWriter<Box<dyn Write + Send>>;

/// How records become text.
pub trait TextFormat {
    /// Writes what `record` gives (nothing for the kinds the format leaves out, or what it
    /// holds back for now) and returns how many items (lines, messages) it wrote.
    fn write(&mut self, record: Record, out: &mut TextOut) -> std::io::Result<u64>;

    /// Writes what is still held back at the end of the input.
    fn finish(&mut self, _out: &mut TextOut) -> std::io::Result<u64> {
        Ok(0)
    }
}

/// Records written as text by `F`.
pub struct TextSink<F> {
    out: TextOut,
    name: String,
    format: F,
    items: u64,
}

impl<F: TextFormat> TextSink<F> {
    /// Writes `format`'s text to `out`, called `name` in messages.
    pub fn new(format: F, out: Box<dyn Write + Send>, name: &str) -> TextSink<F> {
        TextSink {
            out: BufWriter::with_capacity(1 << 16, out),
            name: name.to_owned(),
            format,
            items: 0,
        }
    }
}

impl<F: TextFormat> Sink for TextSink<F> {
    fn name(&self) -> &str {
        &self.name
    }

    fn write(&mut self, record: Record) -> Result<(), EndError> {
        self.items += self
            .format
            .write(record, &mut self.out)
            .map_err(|e| EndError::io(&self.name, e))?;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), EndError> {
        self.out.flush().map_err(|e| EndError::io(&self.name, e))
    }

    /// Writes what the format held back, then flushes.
    fn finish(&mut self, _counters: Counters) -> Result<Written, EndError> {
        self.items += self
            .format
            .finish(&mut self.out)
            .map_err(|e| EndError::io(&self.name, e))?;
        self.sync()?;
        Ok(Written {
            files: vec![WrittenFile {
                name: self.name.clone(),
                records: self.items,
                ..WrittenFile::default()
            }],
            ..Written::default()
        })
    }
}
