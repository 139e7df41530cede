//! GoReplay's `.gor` format at both ends: a source reading a `.gor` file or stdin (plain or
//! gzip), converted record by record (`log::gor`); a sink writing records in that format
//! (payload types 1 request, 2 response, 3 replayed response).

use std::io::{BufWriter, Write};

use super::{Damage, EndError, Input, Sink, Source, Written, WrittenFile, stdin};
use crate::exchange::{Counters, Record};
use crate::log::gor::{self, GorImporter, GorReader, GorStats};

/// Records of a GoReplay file.
pub struct GorSource {
    reader: GorReader,
    importer: GorImporter,
    name: String,
}

impl GorSource {
    /// Opens a `.gor` (or `.gor.gz`) file, or stdin for `-`.
    pub fn open(input: &Input) -> Result<GorSource, EndError> {
        let reader = match input {
            Input::Stdin => GorReader::new(stdin::stream(), stdin::NAME)?,
            Input::Path(p) => GorReader::open(p)?,
        };
        Ok(GorSource {
            reader,
            importer: GorImporter::new(),
            name: input.to_string(),
        })
    }

    /// What the reader has read: records, and malformed ones skipped.
    pub fn stats(&self) -> GorStats {
        self.reader.stats()
    }
}

impl Source for GorSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_record(&mut self) -> Result<Option<Record>, EndError> {
        Ok(self
            .reader
            .next_record()?
            .map(|g| self.importer.convert(&g)))
    }

    fn damage(&self) -> Damage {
        Damage {
            skipped_records: self.reader.stats().malformed,
            ..Damage::default()
        }
    }
}

/// Records written in GoReplay's format; kinds with no `.gor` form are left out.
pub struct GorSink {
    out: BufWriter<Box<dyn Write + Send>>,
    name: String,
    records: u64,
}

impl GorSink {
    /// Writes to `out`, called `name` in messages.
    pub fn new(out: Box<dyn Write + Send>, name: &str) -> GorSink {
        GorSink {
            out: BufWriter::with_capacity(1 << 16, out),
            name: name.to_owned(),
            records: 0,
        }
    }
}

impl Sink for GorSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn write(&mut self, record: Record) -> Result<(), EndError> {
        if let Some(g) = gor::export_record(&record) {
            gor::write_gor(&mut self.out, &g).map_err(|e| EndError::io(&self.name, e))?;
            self.records += 1;
        }
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
