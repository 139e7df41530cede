//! GoReplay's `.gor` format at both ends: a source reading a `.gor` file or stdin (plain or
//! gzip), converted record by record (`log::gor`); a sink writing records in that format
//! (payload types 1 request, 2 response, 3 replayed response).

use super::text::{TextFormat, TextOut};
use super::{Damage, EndError, Input, Source, stdin};
use crate::exchange::Record;
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
pub struct GorText;

impl TextFormat for GorText {
    fn write(&mut self, record: Record, out: &mut TextOut) -> std::io::Result<u64> {
        match gor::export_record(&record) {
            Some(g) => gor::write_gor(out, &g).map(|()| 1),
            None => Ok(0),
        }
    }
}
