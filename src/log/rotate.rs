//! Output files of a long-running recorder: names from strftime patterns, rotation by size and
//! by time, retention of finished files.
//!
//! Rules (the daemon must never stop over a name, and never lose a file to another):
//! - `--output` may hold strftime fields (`%Y%m%d-%H`, local time, expanded when each file is
//!   opened) in its file name; the directory part is fixed (it must exist).
//! - A single fixed name without rotation keeps the one-file rules of [`super::create`]: an
//!   existing file is refused unless appending (`--append`) or replacing (`--force`).
//! - With a pattern or a rotation flag, a name that is taken (the file or its `.part`) gets a
//!   sequence number: `prod-10.reel`, then `prod-10.1.reel`, `prod-10.2.reel`, … (before a
//!   `.reel` extension, else at the end), so restarts and several files per pattern period never
//!   collide.
//! - Each file is written as `NAME.part` and renamed when finished. Each starts with a meta
//!   record and ends with a closing record (the run's counters so far, plus `file.*` counts of
//!   what that file holds).
//! - `--rotate-size`: the file is finished after the block that takes it to SIZE bytes or more.
//!   `--rotate-interval`: files are finished at multiples of the interval in local time (1h: at
//!   the top of each hour), also when nothing was recorded (an empty file says the capture ran).
//! - Retention (`--retain-files N`, `--retain-size SIZE`), after each finished file: among the
//!   finished files of the pattern in its directory (names the pattern and a sequence number can
//!   produce, starting with the `.reel` magic, never a `.part`), the oldest by modification time
//!   are deleted until at most N remain and they take at most SIZE together.
//! - A file is finished (its last block written, synced to disk, renamed) and retention applied on
//!   a thread of its own, in order, so a slow `fsync` never holds up the next file's records.
//! - A file deleted while being written (its link count drops to 0) is found by
//!   [`RotatingWriter::replace_if_deleted`], left with a warning, and replaced by a new file
//!   under the next sequence name, so that a stray `rm` costs the records already in it only.
//! - Connection ids count on across the files of one run, so an exchange cut by a rotation (its
//!   request in one file, its response in the next) joins by `(conn, index)` when the files are
//!   read in order.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use chrono::format::{Item, Pad, StrftimeItems};
use chrono::{DateTime, Local, Offset, TimeZone};

use super::format::FILE_HEADER_LEN;
use super::{CreateOptions, LogError, Writer, WriterConfig, WriterStats};
use crate::exchange::{Counters, Meta, Record};
use crate::exit::{Classify, Status};
use crate::runtime::unix_ns;

/// Why the output flags do not make a plan.
#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    /// A strftime field chrono does not know.
    #[error("--output {pattern:?}: not a valid strftime pattern")]
    BadPattern {
        /// The pattern.
        pattern: String,
    },
    /// strftime fields in the directory part.
    #[error(
        "--output {pattern:?}: strftime fields are allowed in the file name only, not in its directory"
    )]
    PatternInDirectory {
        /// The pattern.
        pattern: String,
    },
    /// The name is empty or names a directory.
    #[error("--output {pattern:?}: needs a file name")]
    NoFileName {
        /// The pattern.
        pattern: String,
    },
    /// A flag that only applies to one fixed file.
    #[error("{flag}: applies to a single fixed --output name, not to a pattern or rotated files")]
    SingleFileOnly {
        /// The flag.
        flag: &'static str,
    },
    /// Retention without several files.
    #[error(
        "{flag}: needs several files (a strftime --output pattern or --rotate-size/--rotate-interval)"
    )]
    RetentionNeedsFiles {
        /// The flag.
        flag: &'static str,
    },
    /// A rotation value out of range.
    #[error("{flag}: {problem}")]
    Range {
        /// The flag.
        flag: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
    /// No free sequence number.
    #[error("{}: no free name (tried sequence numbers up to {MAX_SEQUENCE})", path.display())]
    NoFreeName {
        /// The name every candidate was derived from.
        path: PathBuf,
    },
}

impl Classify for RotateError {
    fn status(&self) -> Status {
        match self {
            RotateError::NoFreeName { .. } => Status::Runtime,
            _ => Status::BadInput,
        }
    }
}

/// Highest sequence number tried for one name.
pub const MAX_SEQUENCE: u32 = 100_000;

/// The output flags, validated.
#[derive(Debug, Clone)]
pub struct OutputPlan {
    dir: PathBuf,
    /// The file name pattern as given.
    name: String,
    items: Vec<Item<'static>>,
    has_fields: bool,
    /// Finish a file once it holds this many bytes.
    pub rotate_size: Option<u64>,
    /// Finish files at multiples of this interval (local time).
    pub rotate_interval: Option<Duration>,
    /// Keep at most this many finished files.
    pub retain_files: Option<usize>,
    /// Keep at most this many bytes of finished files.
    pub retain_size: Option<u64>,
    force: bool,
    append: bool,
}

/// What the output flags asked for, before validation.
#[derive(Debug, Clone, Default)]
pub struct OutputSpec {
    /// `--output`.
    pub output: PathBuf,
    /// `--rotate-size`.
    pub rotate_size: Option<u64>,
    /// `--rotate-interval`.
    pub rotate_interval: Option<Duration>,
    /// `--retain-files`.
    pub retain_files: Option<usize>,
    /// `--retain-size`.
    pub retain_size: Option<u64>,
    /// `--force`.
    pub force: bool,
    /// `--append`.
    pub append: bool,
}

impl OutputPlan {
    /// Validates the output flags; errors name the flag.
    pub fn new(flags: &OutputSpec) -> Result<OutputPlan, RotateError> {
        let text = flags.output.to_string_lossy().into_owned();
        let name = flags
            .output
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| RotateError::NoFileName {
                pattern: text.clone(),
            })?;
        let dir = flags
            .output
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        if dir.to_string_lossy().contains('%') {
            return Err(RotateError::PatternInDirectory { pattern: text });
        }
        let items =
            StrftimeItems::new(&name)
                .parse_to_owned()
                .map_err(|_| RotateError::BadPattern {
                    pattern: text.clone(),
                })?;
        let has_fields = items
            .iter()
            .any(|i| matches!(i, Item::Numeric(..) | Item::Fixed(_)));
        if flags.rotate_size == Some(0) {
            return Err(RotateError::Range {
                flag: "--rotate-size",
                problem: "must be more than 0",
            });
        }
        if flags
            .rotate_interval
            .is_some_and(|d| d < Duration::from_secs(1))
        {
            return Err(RotateError::Range {
                flag: "--rotate-interval",
                problem: "must be at least 1s",
            });
        }
        if flags.retain_files == Some(0) {
            return Err(RotateError::Range {
                flag: "--retain-files",
                problem: "must be at least 1 (the file just finished is kept)",
            });
        }
        let plan = OutputPlan {
            dir,
            name,
            items,
            has_fields,
            rotate_size: flags.rotate_size,
            rotate_interval: flags.rotate_interval,
            retain_files: flags.retain_files,
            retain_size: flags.retain_size,
            force: flags.force,
            append: flags.append,
        };
        if !plan.is_single() {
            if flags.append {
                return Err(RotateError::SingleFileOnly { flag: "--append" });
            }
            if flags.force {
                return Err(RotateError::SingleFileOnly { flag: "--force" });
            }
        } else if flags.retain_files.is_some() {
            return Err(RotateError::RetentionNeedsFiles {
                flag: "--retain-files",
            });
        } else if flags.retain_size.is_some() {
            return Err(RotateError::RetentionNeedsFiles {
                flag: "--retain-size",
            });
        }
        Ok(plan)
    }

    /// True for one fixed name without rotation (the one-file rules apply).
    pub fn is_single(&self) -> bool {
        !self.has_fields && self.rotate_size.is_none() && self.rotate_interval.is_none()
    }

    /// The name for a file opened at `at` (strftime fields expanded in local time), before any
    /// sequence number.
    pub fn name_at(&self, at: DateTime<Local>) -> PathBuf {
        let mut name = String::new();
        // Every item was parsed successfully, so formatting cannot fail; if it did, the pattern
        // as given is still a usable name.
        if write!(name, "{}", at.format_with_items(self.items.iter())).is_err() {
            name = self.name.clone();
        }
        self.dir.join(name)
    }

    /// When the file opened at `at` is finished by `--rotate-interval`: the next multiple of the
    /// interval in local time after `at`.
    pub fn next_boundary(&self, at: SystemTime) -> Option<SystemTime> {
        let interval = self.rotate_interval?.as_secs().max(1);
        let utc: DateTime<chrono::Utc> = at.into();
        let offset = i64::from(
            Local
                .offset_from_utc_datetime(&utc.naive_utc())
                .fix()
                .local_minus_utc(),
        );
        let secs = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()) as i64;
        let local = secs + offset;
        let next_local = (local.div_euclid(interval as i64) + 1) * interval as i64;
        let next = u64::try_from(next_local - offset).unwrap_or(0);
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(next))
    }

    /// A regex matching every name this plan can produce, sequence numbers included.
    fn name_regex(&self) -> Option<regex::Regex> {
        let mut re = String::from("^");
        let (items, suffix_at_end) = match self.items.split_last() {
            Some((Item::Literal(last), rest)) if last.ends_with(".reel") => {
                (rest, Some(last.trim_end_matches(".reel").to_owned()))
            }
            Some((Item::OwnedLiteral(last), rest)) if last.ends_with(".reel") => {
                (rest, Some(last.trim_end_matches(".reel").to_owned()))
            }
            _ => (&self.items[..], None),
        };
        for item in items {
            match item {
                Item::Literal(s) | Item::Space(s) => re.push_str(&regex::escape(s)),
                Item::OwnedLiteral(s) | Item::OwnedSpace(s) => re.push_str(&regex::escape(s)),
                Item::Numeric(_, Pad::Space) => re.push_str("[ 0-9]+"),
                Item::Numeric(..) => re.push_str("[+-]?[0-9]+"),
                Item::Fixed(_) => re.push_str("[^/]+?"),
                Item::Error => return None,
            }
        }
        match suffix_at_end {
            Some(stem) => {
                re.push_str(&regex::escape(&stem));
                re.push_str(r"(\.[0-9]+)?\.reel$");
            }
            None => re.push_str(r"(\.[0-9]+)?$"),
        }
        regex::Regex::new(&re).ok()
    }
}

/// `path` with sequence number `n` (0: the name itself).
pub fn with_sequence(path: &Path, n: u32) -> PathBuf {
    if n == 0 {
        return path.to_path_buf();
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let numbered = match name.strip_suffix(".reel") {
        Some(stem) if !stem.is_empty() => format!("{stem}.{n}.reel"),
        _ => format!("{name}.{n}"),
    };
    path.with_file_name(numbered)
}

fn part_of(path: &Path) -> PathBuf {
    let mut os = path.as_os_str().to_owned();
    os.push(".part");
    PathBuf::from(os)
}

/// A file written and renamed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedFile {
    /// Its final name.
    pub path: PathBuf,
    /// What was written to it.
    pub stats: WriterStats,
}

/// What the current file holds, for its closing record.
#[derive(Debug, Clone, Copy, Default)]
struct FileCounts {
    requests: u64,
    responses: u64,
    first_ts_ns: u64,
    last_ts_ns: u64,
}

/// Writes records to the files of an [`OutputPlan`], rotating and applying retention.
pub struct RotatingWriter {
    plan: OutputPlan,
    config: WriterConfig,
    current: Option<(Writer, PathBuf)>,
    counts: FileCounts,
    boundary: Option<SystemTime>,
    files_opened: u64,
    finished_bytes: u64,
    finished: Vec<FinishedFile>,
    deleted: Vec<PathBuf>,
    closer: Option<Closer>,
    /// The last name pattern expansion and the sequence number it got: a name is never used
    /// twice in a run, even after retention deleted the first file of that name.
    last_sequence: Option<(PathBuf, u32)>,
    /// Files deleted by someone else while being written, left behind.
    lost: Vec<LostFile>,
}

/// A file deleted (by someone else) while it was being written, and left for a new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostFile {
    /// The name it had (`NAME.part`).
    pub name: String,
    /// Records written to it, all gone with it.
    pub records: u64,
    /// The file the recording went on in.
    pub replaced_by: PathBuf,
}

impl RotatingWriter {
    /// A writer for the plan; no file is open until [`RotatingWriter::open`].
    pub fn new(plan: OutputPlan, config: WriterConfig) -> RotatingWriter {
        RotatingWriter {
            plan,
            config,
            current: None,
            counts: FileCounts::default(),
            boundary: None,
            files_opened: 0,
            finished_bytes: 0,
            finished: Vec::new(),
            deleted: Vec::new(),
            closer: None,
            last_sequence: None,
            lost: Vec::new(),
        }
    }

    /// The plan.
    pub fn plan(&self) -> &OutputPlan {
        &self.plan
    }

    /// Opens the next file, named for `now`, and writes `meta` (its `start_ns` set to `now`) as its
    /// first record. Returns the file's final name.
    pub fn open(&mut self, now: SystemTime, meta: Meta) -> Result<PathBuf, OpenError> {
        self.open_file(now, meta, false)
    }

    fn open_file(
        &mut self,
        now: SystemTime,
        mut meta: Meta,
        numbered: bool,
    ) -> Result<PathBuf, OpenError> {
        let (writer, path) = self.create(now, numbered)?;
        meta.start_ns = unix_ns(now);
        self.current = Some((writer, path.clone()));
        self.counts = FileCounts::default();
        self.files_opened += 1;
        self.boundary = self.plan.next_boundary(now);
        self.write(&Record::Meta(meta))?;
        Ok(path)
    }

    /// Creates the file for `now`: its plain name for one fixed name unless `numbered` (then, as
    /// for patterns, the next free sequence number, 1 and up for one fixed name).
    fn create(&mut self, now: SystemTime, numbered: bool) -> Result<(Writer, PathBuf), OpenError> {
        let base = self.plan.name_at(now.into());
        let options = CreateOptions {
            append: self.plan.append,
            config: self.config.clone(),
        };
        if self.plan.is_single() && !numbered {
            // A device or FIFO is written to, never removed.
            if self.plan.force && base.exists() && !super::writer::is_stream(&base) {
                std::fs::remove_file(&base).map_err(|source| LogError::Io {
                    path: base.display().to_string(),
                    source,
                })?;
            }
            return Ok((super::create(&base, options)?, base));
        }
        let first = match &self.last_sequence {
            Some((last, n)) if *last == base => n + 1,
            _ if self.plan.is_single() => 1,
            _ => 0,
        };
        for n in first..=MAX_SEQUENCE {
            let candidate = with_sequence(&base, n);
            if candidate.exists() || part_of(&candidate).exists() {
                continue;
            }
            match super::create(&candidate, options.clone()) {
                Ok(w) => {
                    self.last_sequence = Some((base, n));
                    return Ok((w, candidate));
                }
                // Taken between the check and the creation (another process): next number.
                Err(LogError::Exists { .. } | LogError::PartExists { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(RotateError::NoFreeName { path: base }.into())
    }

    /// Checks whether the open file was deleted while being written (its link count fell to 0,
    /// say by `rm`). If so: writes its open block into it (for whoever still holds it open),
    /// leaves it, warns, and opens a new file under the next free name (with a sequence number,
    /// also for one fixed name), `meta` first with a note naming the lost file, so that the
    /// recording goes on. Returns the lost file.
    pub fn replace_if_deleted(
        &mut self,
        now: SystemTime,
        mut meta: Meta,
    ) -> Result<Option<LostFile>, OpenError> {
        match &self.current {
            Some((w, _)) if w.is_deleted()? => {}
            _ => return Ok(None),
        }
        let Some((writer, _)) = self.current.take() else {
            return Ok(None);
        };
        let name = writer.name().to_owned();
        let stats = writer.abandon()?;
        self.finished_bytes += stats.file_bytes;
        meta.notes.push(format!(
            "replaces {name}, deleted while it was being written (its {} records are lost)",
            stats.records
        ));
        let replaced_by = self.open_file(now, meta, true)?;
        tracing::warn!(
            "{name}: deleted while being written ({} records in it are lost); recording goes on in {}",
            stats.records,
            part_of(&replaced_by).display()
        );
        let lost = LostFile {
            name,
            records: stats.records,
            replaced_by,
        };
        self.lost.push(lost.clone());
        Ok(Some(lost))
    }

    /// Files deleted by someone else while being written, so far.
    pub fn lost(&self) -> &[LostFile] {
        &self.lost
    }

    /// The final name of the file being written.
    pub fn current_path(&self) -> Option<&Path> {
        self.current.as_ref().map(|(_, p)| p.as_path())
    }

    /// Files opened so far in this run.
    pub fn files_opened(&self) -> u64 {
        self.files_opened
    }

    /// Files finished (renamed) so far, in order.
    pub fn finished(&self) -> &[FinishedFile] {
        &self.finished
    }

    /// Files deleted by retention so far.
    pub fn deleted(&self) -> &[PathBuf] {
        &self.deleted
    }

    /// Bytes written to every file of the run, the open one included.
    pub fn bytes_written(&self) -> u64 {
        self.finished_bytes
            + self
                .current
                .as_ref()
                .map_or(0, |(w, _)| w.stats().file_bytes)
    }

    /// Adds a record to the open file (after [`RotatingWriter::open`]; without an open file the
    /// record is dropped).
    pub fn write(&mut self, record: &Record) -> Result<(), LogError> {
        let Some((writer, _)) = self.current.as_mut() else {
            return Ok(());
        };
        writer.write(record)?;
        match record {
            Record::Request(_) => self.counts.requests += 1,
            Record::Response(_) => self.counts.responses += 1,
            _ => {}
        }
        if !matches!(record, Record::Meta(_) | Record::Closing(_)) {
            let ts = record.ts_ns();
            if self.counts.first_ts_ns == 0 {
                self.counts.first_ts_ns = ts;
            }
            self.counts.last_ts_ns = self.counts.last_ts_ns.max(ts);
        }
        Ok(())
    }

    /// Writes the open block if it is older than the block age (call on a timer).
    pub fn flush_if_due(&mut self) -> Result<(), LogError> {
        match self.current.as_mut() {
            Some((w, _)) => w.flush_if_due(),
            None => Ok(()),
        }
    }

    /// True when the open file should be finished: it reached `--rotate-size`, or `now` passed
    /// its `--rotate-interval` boundary.
    pub fn due(&self, now: SystemTime) -> bool {
        let Some((writer, _)) = &self.current else {
            return false;
        };
        self.plan
            .rotate_size
            .is_some_and(|size| writer.stats().file_bytes >= size)
            || self.boundary.is_some_and(|b| now >= b)
    }

    /// Hands the open file over to be finished with a closing record of `counters` plus `file.*`
    /// counts: a thread of its own writes the last block, syncs the file to disk, renames it and
    /// applies retention, so that a slow disk never holds up the records of the next file. What
    /// it did is collected by [`RotatingWriter::poll_finished`] and
    /// [`RotatingWriter::wait_finished`].
    pub fn finish_current(&mut self, mut counters: Counters) -> Result<(), LogError> {
        let Some((writer, path)) = self.current.take() else {
            return Ok(());
        };
        counters.values.extend([
            ("file.number".to_string(), self.files_opened),
            ("file.requests".to_string(), self.counts.requests),
            ("file.responses".to_string(), self.counts.responses),
            ("file.first_ts_ns".to_string(), self.counts.first_ts_ns),
            ("file.last_ts_ns".to_string(), self.counts.last_ts_ns),
        ]);
        let handed = writer.stats().file_bytes;
        self.finished_bytes += handed;
        if self.closer.is_none() {
            self.closer = Some(Closer::start(self.plan.clone())?);
        }
        let Some(closer) = self.closer.as_mut() else {
            return Ok(());
        };
        closer.pending.push_back(handed);
        if let Err(mpsc::SendError((writer, path, counters))) =
            closer.tx.send((writer, path, counters))
        {
            // The closer is gone (it panicked): finish here.
            closer.pending.pop_back();
            self.finished_bytes -= handed;
            let stats = writer.finish(counters)?;
            self.finished_bytes += stats.file_bytes;
            self.finished.push(FinishedFile { path, stats });
            let mut deleted = retention(&self.plan);
            self.deleted.append(&mut deleted);
        }
        Ok(())
    }

    /// Collects the files finished since the last call (without waiting); the first error a
    /// finishing met is returned.
    pub fn poll_finished(&mut self) -> Result<usize, LogError> {
        self.collect(false)
    }

    /// Waits until every file handed over is finished (the end of a run).
    pub fn wait_finished(&mut self) -> Result<usize, LogError> {
        self.collect(true)
    }

    fn collect(&mut self, wait: bool) -> Result<usize, LogError> {
        let Some(closer) = self.closer.as_mut() else {
            return Ok(0);
        };
        let mut done = 0;
        let mut first_error = None;
        while !closer.pending.is_empty() {
            let result = if wait {
                match closer.results.recv() {
                    Ok(r) => r,
                    Err(_) => break,
                }
            } else {
                match closer.results.try_recv() {
                    Ok(r) => r,
                    Err(_) => break,
                }
            };
            let handed = closer.pending.pop_front().unwrap_or(0);
            self.finished_bytes -= handed;
            match result {
                Ok(Some((file, mut deleted))) => {
                    self.finished_bytes += file.stats.file_bytes;
                    self.finished.push(file);
                    self.deleted.append(&mut deleted);
                    done += 1;
                }
                Ok(None) => self.finished_bytes += handed,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }

    /// Gives up the open file: a new file's `.part` is removed (for a run that failed before it
    /// recorded anything worth keeping).
    pub fn abort(&mut self) -> Result<(), LogError> {
        match self.current.take() {
            Some((w, _)) => w.abort(),
            None => Ok(()),
        }
    }

    /// Deletes the oldest finished files of the pattern beyond `--retain-files`/`--retain-size`
    /// (run when a file is finished, and once at the start of a run). Failures are warnings:
    /// retention never stops a recording.
    pub fn apply_retention(&mut self) {
        let mut deleted = retention(&self.plan);
        self.deleted.append(&mut deleted);
    }
}

impl Drop for RotatingWriter {
    fn drop(&mut self) {
        // Files handed over are finished before the writer goes; a failure here (the run is
        // already ending on an error) is said, not lost.
        if let Err(e) = self.wait_finished() {
            tracing::warn!("finishing a file: {e} (what it holds stays readable)");
        }
    }
}

/// Work for the closer thread: a writer, its final name, its closing counters.
type Handover = (Writer, PathBuf, Counters);
/// What the closer thread did with one file.
/// (`None`: it had been deleted, and was left.)
type Closed = Result<Option<(FinishedFile, Vec<PathBuf>)>, LogError>;

/// The thread that finishes files handed over by rotation, in order.
struct Closer {
    tx: mpsc::Sender<Handover>,
    results: mpsc::Receiver<Closed>,
    /// `file_bytes` of each file handed over and not collected yet, in order.
    pending: VecDeque<u64>,
}

impl Closer {
    fn start(plan: OutputPlan) -> Result<Closer, LogError> {
        let (tx, rx) = mpsc::channel::<Handover>();
        let (done_tx, results) = mpsc::channel::<Closed>();
        let dir = plan.dir.display().to_string();
        std::thread::Builder::new()
            .name("reel-closer".into())
            .spawn(move || {
                for (writer, path, counters) in rx {
                    let closed = if writer.is_deleted().unwrap_or(false) {
                        // Deleted between its last check and its hand-over: nothing to rename.
                        let name = writer.name().to_owned();
                        let records = writer.stats().records;
                        tracing::warn!(
                            "{name}: deleted while being written ({records} records in it are lost)"
                        );
                        writer.abandon().map(|_| None)
                    } else {
                        writer.finish(counters).map(|stats| {
                            let deleted = retention(&plan);
                            Some((FinishedFile { path, stats }, deleted))
                        })
                    };
                    if done_tx.send(closed).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| LogError::Io {
                path: dir,
                source: e,
            })?;
        Ok(Closer {
            tx,
            results,
            pending: VecDeque::new(),
        })
    }
}

/// Deletes the oldest finished files of the plan's pattern beyond its retention; returns them.
fn retention(plan: &OutputPlan) -> Vec<PathBuf> {
    let mut deleted = Vec::new();
    if plan.retain_files.is_none() && plan.retain_size.is_none() {
        return deleted;
    }
    let Some(re) = plan.name_regex() else {
        return deleted;
    };
    let dir = if plan.dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        plan.dir.as_path()
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!("retention: cannot list {}: {e}", dir.display());
            return deleted;
        }
    };
    let mut files: Vec<(SystemTime, String, PathBuf, u64)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !re.is_match(&name) {
                return None;
            }
            let meta = entry.metadata().ok()?;
            if !meta.is_file() || !is_reel(&entry.path()) {
                return None;
            }
            Some((meta.modified().ok()?, name, entry.path(), meta.len()))
        })
        .collect();
    // Newest first; the oldest are at the end, deleted first.
    files.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(&a.1)));
    let mut total = 0u64;
    for (i, (_, _, path, len)) in files.into_iter().enumerate() {
        total += len;
        let too_many = plan.retain_files.is_some_and(|n| i >= n);
        // The newest file is always kept, even when it alone is over the size.
        let too_big = i > 0 && plan.retain_size.is_some_and(|s| total > s);
        if too_many || too_big {
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    tracing::info!("retention: deleted {}", path.display());
                    deleted.push(path);
                }
                Err(e) => tracing::warn!("retention: cannot delete {}: {e}", path.display()),
            }
        }
    }
    deleted
}

/// True when the file starts with the `.reel` magic.
fn is_reel(path: &Path) -> bool {
    let mut head = Vec::with_capacity(FILE_HEADER_LEN);
    File::open(path)
        .and_then(|f| f.take(8).read_to_end(&mut head))
        .is_ok()
        && head.len() == 8
        && head == super::format::MAGIC
}

/// Why a file could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The log could not be created or written.
    #[error(transparent)]
    Log(#[from] LogError),
    /// No usable name.
    #[error(transparent)]
    Name(#[from] RotateError),
}

impl Classify for OpenError {
    fn status(&self) -> Status {
        match self {
            OpenError::Log(e) => e.status(),
            OpenError::Name(e) => e.status(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn plan(output: &str) -> Result<OutputPlan, RotateError> {
        OutputPlan::new(&OutputSpec {
            output: output.into(),
            ..Default::default()
        })
    }

    fn local(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Local> {
        Local
            .from_local_datetime(
                &NaiveDate::from_ymd_opt(y, mo, d)
                    .unwrap()
                    .and_hms_opt(h, mi, 7)
                    .unwrap(),
            )
            .earliest()
            .unwrap()
    }

    #[test]
    fn names_expand_strftime_in_the_file_name() {
        let p = plan("/var/lib/reel/prod-%Y%m%d-%H.reel").unwrap();
        assert!(!p.is_single());
        assert_eq!(
            p.name_at(local(2025, 3, 9, 7, 30)),
            PathBuf::from("/var/lib/reel/prod-20250309-07.reel")
        );
        assert!(plan("/var/lib/reel/prod.reel").unwrap().is_single());
        assert!(matches!(
            plan("/var/%Y/prod.reel"),
            Err(RotateError::PatternInDirectory { .. })
        ));
        assert!(matches!(
            plan("/x/prod-%Q.reel"),
            Err(RotateError::BadPattern { .. })
        ));
    }

    #[test]
    fn sequence_numbers_go_before_the_extension() {
        assert_eq!(
            with_sequence(Path::new("d/a.reel"), 0),
            PathBuf::from("d/a.reel")
        );
        assert_eq!(
            with_sequence(Path::new("d/a.reel"), 2),
            PathBuf::from("d/a.2.reel")
        );
        assert_eq!(
            with_sequence(Path::new("d/a.log"), 1),
            PathBuf::from("d/a.log.1")
        );
        assert_eq!(
            with_sequence(Path::new("d/.reel"), 1),
            PathBuf::from("d/.reel.1")
        );
    }

    #[test]
    fn flags_that_need_one_file_or_several_are_refused() {
        let flags = |output: &str, f: fn(&mut OutputSpec)| {
            let mut o = OutputSpec {
                output: output.into(),
                ..Default::default()
            };
            f(&mut o);
            OutputPlan::new(&o).err().map(|e| e.to_string())
        };
        assert_eq!(
            flags("p-%H.reel", |o| o.append = true).as_deref(),
            Some(
                "--append: applies to a single fixed --output name, not to a pattern or rotated files"
            )
        );
        assert!(flags("p.reel", |o| o.retain_files = Some(3)).is_some());
        assert!(
            flags("p.reel", |o| {
                o.retain_files = Some(3);
                o.rotate_size = Some(1 << 20);
            })
            .is_none()
        );
        assert!(
            flags("p.reel", |o| o.rotate_interval =
                Some(Duration::from_millis(10)))
            .is_some()
        );
    }

    #[test]
    fn interval_boundaries_are_multiples_in_local_time() {
        let mut p = plan("a.reel").unwrap();
        p.rotate_interval = Some(Duration::from_secs(3600));
        let at: SystemTime = local(2025, 3, 9, 7, 30).into();
        let next: DateTime<Local> = p.next_boundary(at).unwrap().into();
        assert_eq!(
            next.naive_local(),
            local(2025, 3, 9, 8, 0).naive_local() - chrono::Duration::seconds(7)
        );
    }

    #[test]
    fn name_regex_matches_what_the_plan_writes() {
        let p = plan("/d/prod-%Y%m%d-%H.reel").unwrap();
        let re = p.name_regex().unwrap();
        for ok in ["prod-20250309-07.reel", "prod-20250309-07.3.reel"] {
            assert!(re.is_match(ok), "{ok}");
        }
        for no in [
            "prod-x.reel",
            "other-20250309-07.reel",
            "prod-20250309-07.reel.part",
        ] {
            assert!(!re.is_match(no), "{no}");
        }
        let re = plan("/d/fixed.reel").unwrap().name_regex().unwrap();
        assert!(re.is_match("fixed.reel") && re.is_match("fixed.12.reel"));
        assert!(!re.is_match("fixedx.reel"));
    }

    fn meta() -> Meta {
        Meta {
            command: "record".into(),
            ..Meta::default()
        }
    }

    #[test]
    fn rotation_never_collides_and_retention_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let flags = OutputSpec {
            output: dir.path().join("cap.reel"),
            rotate_size: Some(1),
            retain_files: Some(2),
            ..Default::default()
        };
        // Something in the way that is not a log: never deleted, never overwritten.
        std::fs::write(dir.path().join("cap.1.reel"), b"not a log").unwrap();
        let mut w = RotatingWriter::new(OutputPlan::new(&flags).unwrap(), WriterConfig::default());
        let mut names = Vec::new();
        for i in 0..4u64 {
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + i);
            names.push(w.open(now, meta()).unwrap());
            w.flush_if_due().unwrap();
            w.finish_current(Counters::default()).unwrap();
            assert_eq!(w.wait_finished().unwrap(), 1);
            assert_eq!(w.finished().last().unwrap().path, names[i as usize]);
            // Distinct modification times for the retention order.
            std::thread::sleep(Duration::from_millis(20));
        }
        let names: Vec<String> = names
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["cap.reel", "cap.2.reel", "cap.3.reel", "cap.4.reel"]
        );
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["cap.1.reel", "cap.3.reel", "cap.4.reel"]);
        // Every finished file has its meta first and its closing record last, with file counts.
        let records: Vec<Record> = super::super::open(dir.path().join("cap.4.reel"))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            matches!(records.first(), Some(Record::Meta(m)) if m.start_ns == 1_700_000_003_000_000_000)
        );
        match records.last() {
            Some(Record::Closing(c)) => assert_eq!(c.get("file.number"), Some(4)),
            other => panic!("last record {other:?}"),
        }
    }

    #[test]
    fn a_single_fixed_name_keeps_the_one_file_rules() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("one.reel");
        std::fs::write(&path, b"x").unwrap();
        let flags = OutputSpec {
            output: path.clone(),
            ..Default::default()
        };
        let mut w = RotatingWriter::new(OutputPlan::new(&flags).unwrap(), WriterConfig::default());
        let e = w.open(SystemTime::now(), meta()).unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
    }

    #[test]
    fn a_deleted_file_is_found_by_its_link_count_and_replaced_under_the_next_name() {
        let dir = tempfile::tempdir().unwrap();
        let flags = OutputSpec {
            output: dir.path().join("one.reel"),
            ..Default::default()
        };
        let mut w = RotatingWriter::new(OutputPlan::new(&flags).unwrap(), WriterConfig::default());
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(w.open(now, meta()).unwrap(), dir.path().join("one.reel"));
        assert_eq!(w.replace_if_deleted(now, meta()).unwrap(), None);
        w.write(&Record::Meta(meta())).unwrap();
        let part = dir.path().join("one.reel.part");
        let held = File::open(&part).unwrap();
        std::fs::remove_file(&part).unwrap();
        let lost = w.replace_if_deleted(now, meta()).unwrap().unwrap();
        assert_eq!(
            lost,
            LostFile {
                name: part.display().to_string(),
                records: 2,
                replaced_by: dir.path().join("one.1.reel"),
            }
        );
        // The open block went into the deleted file: both records, no closing one.
        let gone: Vec<Record> = super::super::Reader::new(held, "gone")
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(gone.len(), 2);
        // A second deletion takes the next number; the files opened count on.
        std::fs::remove_file(dir.path().join("one.1.reel.part")).unwrap();
        let lost = w.replace_if_deleted(now, meta()).unwrap().unwrap();
        assert_eq!(lost.replaced_by, dir.path().join("one.2.reel"));
        assert_eq!(w.lost().len(), 2);
        assert_eq!(w.files_opened(), 3);
        w.finish_current(Counters::default()).unwrap();
        assert_eq!(w.wait_finished().unwrap(), 1);
        let records = super::super::open(dir.path().join("one.2.reel"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        match records.first() {
            Some(Record::Meta(m)) => assert_eq!(
                m.notes,
                [format!(
                    "replaces {}, deleted while it was being written (its 1 records are lost)",
                    dir.path().join("one.1.reel.part").display()
                )]
            ),
            other => panic!("first record {other:?}"),
        }
    }

    #[test]
    fn a_file_deleted_after_its_hand_over_is_left_without_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let flags = OutputSpec {
            output: dir.path().join("r.reel"),
            rotate_size: Some(1),
            ..Default::default()
        };
        let mut w = RotatingWriter::new(OutputPlan::new(&flags).unwrap(), WriterConfig::default());
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        w.open(now, meta()).unwrap();
        std::fs::remove_file(dir.path().join("r.reel.part")).unwrap();
        w.finish_current(Counters::default()).unwrap();
        assert_eq!(w.wait_finished().unwrap(), 0);
        assert!(w.finished().is_empty());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
