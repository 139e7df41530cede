//! Several logs read as one stream, merged by record time with connection ids kept unique
//! (`log::merge`); every input is a file, a directory of rotated files, or stdin.

use std::io::Read;

use super::reel_file::{self, LogReader};
use super::{Damage, EndError, Input, Source, stdin};
use crate::exchange::Record;
use crate::log::merge::Merger;

/// The merge of several logs (of one: that log, its metadata said as a merge's).
pub type MergedLogs = Merger<reel_file::AnyRead>;

/// Opens every input (a directory stands for its files) and starts the merge.
pub fn open(inputs: &[Input]) -> Result<MergedLogs, EndError> {
    Ok(Merger::new(open_readers(inputs)?)?)
}

/// Opens every input as readers, in order (a directory stands for its files).
pub fn open_readers(inputs: &[Input]) -> Result<Vec<LogReader>, EndError> {
    let mut readers = Vec::with_capacity(inputs.len());
    for input in inputs {
        match input {
            Input::Stdin => readers.push(stdin::open_log()?),
            Input::Path(p) => {
                for file in reel_file::files_of(p)? {
                    readers.push(reel_file::open(&file)?);
                }
            }
        }
    }
    Ok(readers)
}

impl<R: Read> Source for Merger<R> {
    fn name(&self) -> &str {
        "merged logs"
    }

    fn next_record(&mut self) -> Result<Option<Record>, EndError> {
        Ok(Merger::next_record(self)?)
    }

    fn damage(&self) -> Damage {
        let mut d = Damage::default();
        for (name, s) in self.input_stats() {
            d += Damage::of(&name, &s);
        }
        d
    }
}
