//! The `.reel` logs of a long run: one file, or a set rotated by size and time with retention
//! (`log::rotate`), each file starting with the run's metadata and ending with its counters.
//!
//! Rotation keeps exchanges whole: connection ids count on across the files of a run, and every
//! file's metadata says which file of which run it is, so a response written to the file after
//! its request's still joins when the files are read in order.

use std::time::{Duration, Instant, SystemTime};

use super::{EndError, Sink, Written, WrittenFile};
use crate::exchange::{Counters, Meta, Record};
use crate::log::WriterConfig;
use crate::log::rotate::{OutputPlan, RotatingWriter};
use crate::metrics::Metric;
use crate::runtime::{now_ns, unix_ns};

/// How often the open file is checked for having been deleted (one `fstat`).
const DELETION_CHECK: Duration = Duration::from_secs(1);

/// A sink writing the files of an [`OutputPlan`].
pub struct RotatingSink {
    writer: RotatingWriter,
    /// The run's metadata (notes said once included); each file's first record derives from it.
    meta: Meta,
    run_start: SystemTime,
    /// The run's counters so far, for the closing record of a file finished by rotation.
    progress: Vec<(String, u64)>,
    deletion_checked: Instant,
    name: String,
    files_finished: Metric,
    bytes_written: Metric,
    done: bool,
}

impl RotatingSink {
    /// Opens the first file of the run (so that a name in the way is found before anything is
    /// read), `meta` as its first record.
    pub fn open(
        plan: OutputPlan,
        config: WriterConfig,
        meta: Meta,
    ) -> Result<RotatingSink, EndError> {
        let mut writer = RotatingWriter::new(plan, config);
        let run_start = SystemTime::now();
        let first = file_meta(&meta, &writer, 1, run_start);
        let path = writer.open(run_start, first)?;
        Ok(RotatingSink {
            writer,
            meta,
            run_start,
            progress: Vec::new(),
            deletion_checked: Instant::now(),
            name: path.display().to_string(),
            files_finished: Metric::new(),
            bytes_written: Metric::new(),
            done: false,
        })
    }

    /// Publishes files finished and bytes written into these figures (`/metrics`).
    pub fn with_figures(mut self, files_finished: Metric, bytes_written: Metric) -> RotatingSink {
        self.files_finished = files_finished;
        self.bytes_written = bytes_written;
        self
    }

    /// Deletes the oldest finished files of the pattern beyond the retention flags (a live run
    /// does it once at its start).
    pub fn apply_retention(&mut self) {
        self.writer.apply_retention();
    }

    fn next_meta(&self) -> Meta {
        file_meta(
            &self.meta,
            &self.writer,
            self.writer.files_opened() + 1,
            self.run_start,
        )
    }
}

/// The smaller blocks a rotated output wants: files close to the size asked.
pub fn writer_config(plan: &OutputPlan, mut config: WriterConfig) -> WriterConfig {
    if let Some(size) = plan.rotate_size {
        config.block_bytes = (size / 4).clamp(16 << 10, 1 << 20) as usize;
    }
    config
}

/// The metadata of file `number` of the run (its first record, or a later note): the run's, plus
/// where the file stands in a rotated run.
fn file_meta(meta: &Meta, writer: &RotatingWriter, number: u64, run_start: SystemTime) -> Meta {
    let mut m = meta.clone();
    if !writer.plan().is_single() {
        let started: chrono::DateTime<chrono::Local> = run_start.into();
        m.notes.insert(
            0,
            format!(
                "file {number} of a run started {}; connection ids continue across the run's files \
                 (a response may be in the file after its request's)",
                started.format("%Y-%m-%dT%H:%M:%S%z")
            ),
        );
    }
    m
}

impl Sink for RotatingSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn write(&mut self, record: Record) -> Result<(), EndError> {
        Ok(self.writer.write(&record)?)
    }

    fn note(&mut self, note: &str) -> Result<(), EndError> {
        self.meta.notes.push(note.to_owned());
        let mut later = self.meta.clone();
        later.start_ns = now_ns();
        let number = self.writer.files_opened();
        let meta = file_meta(&later, &self.writer, number, self.run_start);
        Ok(self.writer.write(&Record::Meta(meta))?)
    }

    fn progress(&mut self, counters: &[(String, u64)]) {
        self.progress = counters.to_vec();
    }

    /// Rotates when due (the finished file is synced and renamed on a thread of its own), starts
    /// a new file when the open one was deleted, writes a block older than the block age.
    fn tick(&mut self, now: SystemTime) -> Result<(), EndError> {
        if self.writer.due(now) {
            self.writer.finish_current(Counters {
                end_ns: unix_ns(now),
                values: self.progress.clone(),
            })?;
            let next = self.next_meta();
            self.writer.open(now, next)?;
        }
        if self.deletion_checked.elapsed() >= DELETION_CHECK {
            // A file deleted under us (`rm`) would swallow every record after it: start another.
            self.deletion_checked = Instant::now();
            let next = self.next_meta();
            self.writer.replace_if_deleted(now, next)?;
        }
        if let Some(path) = self.writer.current_path() {
            self.name = path.display().to_string();
        }
        self.writer.flush_if_due()?;
        self.files_finished.add(self.writer.poll_finished()? as u64);
        self.bytes_written.set(self.writer.bytes_written());
        Ok(())
    }

    fn finish(&mut self, counters: Counters) -> Result<Written, EndError> {
        if self.done {
            return Err(EndError::Closed(self.name.clone()));
        }
        self.done = true;
        self.writer.finish_current(counters)?;
        self.files_finished.add(self.writer.wait_finished()? as u64);
        self.bytes_written.set(self.writer.bytes_written());
        Ok(Written {
            files: self
                .writer
                .finished()
                .iter()
                .map(|f| WrittenFile {
                    name: f.path.display().to_string(),
                    records: f.stats.records,
                    message_bytes: f.stats.message_bytes,
                    file_bytes: f.stats.file_bytes,
                })
                .collect(),
            deleted: self.writer.deleted().to_vec(),
            lost: self
                .writer
                .lost()
                .iter()
                .map(|l| (l.name.clone(), l.records))
                .collect(),
        })
    }

    fn abort(&mut self) {
        self.done = true;
        let _ = self.writer.abort();
        let _ = self.writer.wait_finished();
    }
}
