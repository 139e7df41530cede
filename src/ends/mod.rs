//! The ends of every pipeline: where exchange records come from ([`Source`]) and where they go
//! ([`Sink`]). One small trait pair, so that a command is wiring — a source, the stages, a sink —
//! and a new end is one file implementing one of the traits, plus a flag.
//!
//! Sources: a `.reel` log read from a file or from stdin, several merged by time, a directory of
//! rotated logs ([`reel_file`], [`stdin`], [`merged`]), a GoReplay file ([`gor`]). Sinks: one
//! `.reel` log written to a file or to stdout ([`reel_out`], [`stdout`]), a rotating set of logs
//! ([`rotating`]), GoReplay's format, JSON lines and raw HTTP ([`gor`], [`jsonl`], [`http_text`],
//! each a format of the one text sink, [`text`]);
//! [`threaded`] runs any sink on a thread of its own behind a bounded queue. The shadow
//! dispatcher (`shadow::dispatch`) is a sink too. The contract every end keeps — ordering,
//! backpressure, errors, closing, acknowledgement — is written on the traits and in
//! `docs/ARCHITECTURE.md` ("Sources and sinks").
//!
//! `ends` owns the traits, the way a command names an end (`-` or a path: [`Input`],
//! [`Output`]) and [`pump`], the loop that moves records from a source to a sink. It imports the
//! log format (`log`) and the data model (`exchange`), never a command.

pub mod gor;
pub mod http_text;
pub mod jsonl;
pub mod log_output;
pub mod merged;
pub mod reel_file;
pub mod reel_out;
pub mod rotating;
pub mod stdin;
pub mod stdout;
pub mod text;
pub mod threaded;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::exchange::{Counters, Record};
use crate::exit::{Classify, Status};
use crate::log::LogError;
use crate::log::rotate::OpenError;

/// A source of exchange records.
///
/// **Order.** Records come in the order the source holds them: for a log, the order it was
/// written in — per connection, a request before every response paired with it and requests in
/// index order; across connections by time, as closely as the writer kept it (a merge orders by
/// record time, ties in input order). A source yielding several ordered streams (partitions of a
/// topic) merges them by time, so the consumer sees one stream with the same guarantees.
///
/// **Backpressure.** [`Source::next_record`] blocks until a record is there (a pipe, a topic);
/// the consumer pulls at its own pace, so a slow consumer slows the source, never the reverse.
///
/// **Errors.** A damaged part that can be skipped (a corrupt block, a malformed GoReplay record)
/// is not an error: it is skipped, counted in [`Source::damage`] and said with a warning. An
/// error means the source cannot go on (an I/O failure, a file that is not a log): the consumer
/// stops and reports it; the source is not read again.
///
/// **Closed cleanly** is `Ok(None)`: the input ended where an input may end (a log's last block,
/// EOF on a pipe after a whole block). A log cut in the middle of a block ends cleanly too, with
/// the cut block counted as damage.
///
/// **Acknowledgement.** [`Source::ack`]`(n)` tells the source the first `n` records it yielded are
/// done with — their effects are durable downstream (written by a sink that [`Sink::sync`]ed, or
/// counted when nothing is written). Acks are cumulative and never go backwards. A file ignores
/// them; a message-queue source commits its offsets from them, so a restarted consumer resumes
/// after the last acknowledged record (at-least-once).
pub trait Source {
    /// What messages call this source: a file name, `stdin`, a topic.
    fn name(&self) -> &str;

    /// The next record, `Ok(None)` once the source closed cleanly.
    fn next_record(&mut self) -> Result<Option<Record>, EndError>;

    /// The first `done` records yielded are done with (see the trait's contract).
    fn ack(&mut self, _done: u64) -> Result<(), EndError> {
        Ok(())
    }

    /// What was skipped as damaged so far.
    fn damage(&self) -> Damage {
        Damage::default()
    }
}

/// A sink of exchange records.
///
/// **Order.** A sink keeps the order it is given: what it writes, it writes in that order.
///
/// **Backpressure.** [`Sink::write`] may wait when the sink cannot take more (a full queue to a
/// writer thread, a slow disk): the caller then waits, and whatever feeds it fills up. A sink
/// that must never make its caller wait (the shadow dispatcher, fed by a live capture) drops
/// what it cannot take and counts it instead, and says so in its documentation.
///
/// **Errors.** An error means the sink cannot take more: the caller stops feeding it, then calls
/// [`Sink::abort`] (the input failed, nothing is worth keeping) or [`Sink::finish`] (keep what was
/// written; its error, if any, is the one to report).
///
/// **Closed cleanly** is [`Sink::finish`] returning `Ok`: every record written is in the output,
/// the output is complete (a `.reel` file has its closing record and was renamed from
/// `NAME.part`; a stream was flushed). Dropped without `finish`, a sink leaves what it wrote as
/// after a crash: readable, marked incomplete where the end can say so (`NAME.part`).
///
/// **Durability.** [`Sink::sync`] returns once every record written before it is as durable as
/// the end can make it (a file's open block written; a topic's producer acknowledged by the
/// brokers). Only then may the records' sources be acknowledged ([`Source::ack`]).
pub trait Sink {
    /// What messages call this sink: a file name, `stdout`, a topic.
    fn name(&self) -> &str;

    /// Takes the next record.
    fn write(&mut self, record: Record) -> Result<(), EndError>;

    /// A note the run learned on the way (TLS seen on the watched ports): written as metadata
    /// now, and in the metadata of every file the sink opens afterwards. Sinks without
    /// metadata ignore it.
    fn note(&mut self, _note: &str) -> Result<(), EndError> {
        Ok(())
    }

    /// The run's counters so far, for a sink that closes files before the run ends (rotation
    /// writes them in each file's closing record).
    fn progress(&mut self, _counters: &[(String, u64)]) {}

    /// Time passes: hands over what is held back (a partial batch) and does what is due by the
    /// clock (closing an old block, rotating, noticing a deleted file). Whoever drives a sink
    /// calls it at least every 200 ms while records are slow to come.
    fn tick(&mut self, _now: SystemTime) -> Result<(), EndError> {
        Ok(())
    }

    /// Makes everything written so far durable (see the trait's contract).
    fn sync(&mut self) -> Result<(), EndError> {
        Ok(())
    }

    /// Ends the output cleanly with the run's closing counters and says what was written.
    fn finish(&mut self, counters: Counters) -> Result<Written, EndError>;

    /// Gives up: removes what only a clean finish would have made whole (a `NAME.part`), best
    /// effort.
    fn abort(&mut self) {}
}

/// A boxed sink is a sink: commands choose their end at run time.
impl<S: Sink + ?Sized> Sink for Box<S> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn write(&mut self, record: Record) -> Result<(), EndError> {
        (**self).write(record)
    }
    fn note(&mut self, note: &str) -> Result<(), EndError> {
        (**self).note(note)
    }
    fn progress(&mut self, counters: &[(String, u64)]) {
        (**self).progress(counters)
    }
    fn tick(&mut self, now: SystemTime) -> Result<(), EndError> {
        (**self).tick(now)
    }
    fn sync(&mut self) -> Result<(), EndError> {
        (**self).sync()
    }
    fn finish(&mut self, counters: Counters) -> Result<Written, EndError> {
        (**self).finish(counters)
    }
    fn abort(&mut self) {
        (**self).abort()
    }
}

/// A boxed source is a source: commands choose their end at run time.
impl<S: Source + ?Sized> Source for Box<S> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn next_record(&mut self) -> Result<Option<Record>, EndError> {
        (**self).next_record()
    }
    fn ack(&mut self, done: u64) -> Result<(), EndError> {
        (**self).ack(done)
    }
    fn damage(&self) -> Damage {
        (**self).damage()
    }
}

/// What a source skipped as damaged (the tally and its rule live with the log format).
pub use crate::log::Damage;

/// One output a sink finished.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WrittenFile {
    /// Its name: the final path, or `stdout`.
    pub name: String,
    /// Records written (metadata and closing records included).
    pub records: u64,
    /// Stored bytes of the messages written.
    pub message_bytes: u64,
    /// Bytes of the output.
    pub file_bytes: u64,
}

/// What a sink wrote, once finished.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// The outputs finished, in order.
    pub files: Vec<WrittenFile>,
    /// Older files deleted by retention.
    pub deleted: Vec<PathBuf>,
    /// Files deleted by someone else while being written, with the records they took.
    pub lost: Vec<(String, u64)>,
}

impl Written {
    /// Records written, all outputs together.
    pub fn records(&self) -> u64 {
        self.files.iter().map(|f| f.records).sum()
    }

    /// Bytes of the outputs together.
    pub fn file_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.file_bytes).sum()
    }

    /// Stored message bytes together.
    pub fn message_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.message_bytes).sum()
    }
}

/// What can go wrong at an end. Every message names the end.
#[derive(Debug, thiserror::Error)]
pub enum EndError {
    /// Reading or writing a log failed, or it is not a log.
    #[error(transparent)]
    Log(#[from] LogError),
    /// A rotated output could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Reading or writing failed.
    #[error("{name}: {source}")]
    Io {
        /// The end.
        name: String,
        /// The I/O error.
        source: io::Error,
    },
    /// Stdin named twice (`-` can be read once).
    #[error("-: stdin can be read only once")]
    StdinTwice,
    /// A thread driving the end failed to start or died.
    #[error("{name}: {problem}")]
    Thread {
        /// The end.
        name: String,
        /// What happened.
        problem: String,
    },
    /// The sink was already finished, or gave up earlier (its error was reported then).
    #[error("{0}: the output is closed")]
    Closed(String),
    /// A directory named as a log holds none.
    #[error("{0}: a directory with no .reel logs in it")]
    EmptyDirectory(String),
}

impl EndError {
    /// An I/O error at the end called `name`.
    pub fn io(name: impl Into<String>, source: io::Error) -> EndError {
        EndError::Io {
            name: name.into(),
            source,
        }
    }
}

impl Classify for EndError {
    fn status(&self) -> Status {
        match self {
            EndError::Log(e) => e.status(),
            EndError::Open(e) => e.status(),
            EndError::StdinTwice | EndError::EmptyDirectory(_) => Status::BadInput,
            EndError::Io { .. } | EndError::Thread { .. } | EndError::Closed(_) => Status::Runtime,
        }
    }
}

/// A log to read, as the command line names it: `-` for stdin, else a path (a file, or a
/// directory whose `.reel` files are read as one run's rotated set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// `-`.
    Stdin,
    /// A file or a directory.
    Path(PathBuf),
}

impl Input {
    /// `-` is stdin; anything else a path.
    pub fn new(arg: &Path) -> Input {
        if arg.as_os_str() == "-" {
            Input::Stdin
        } else {
            Input::Path(arg.to_path_buf())
        }
    }

    /// The inputs of a command line's list, stdin named at most once.
    pub fn list(args: &[PathBuf]) -> Result<Vec<Input>, EndError> {
        let inputs: Vec<Input> = args.iter().map(|a| Input::new(a)).collect();
        if inputs.iter().filter(|i| **i == Input::Stdin).count() > 1 {
            return Err(EndError::StdinTwice);
        }
        Ok(inputs)
    }

    /// True for `-`.
    pub fn is_stdin(&self) -> bool {
        *self == Input::Stdin
    }
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Stdin => f.write_str(stdin::NAME),
            Input::Path(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A log to write, as the command line names it: `-` for stdout, else a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// `-`.
    Stdout,
    /// A file (a pattern, for a rotating output).
    Path(PathBuf),
}

impl Output {
    /// `-` is stdout; anything else a path.
    pub fn new(arg: &Path) -> Output {
        if arg.as_os_str() == "-" {
            Output::Stdout
        } else {
            Output::Path(arg.to_path_buf())
        }
    }

    /// True for `-`.
    pub fn is_stdout(&self) -> bool {
        *self == Output::Stdout
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Output::Stdout => f.write_str(stdout::NAME),
            Output::Path(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Moves every record of `source` to `sink`, in order, until the source closes, and returns how
/// many moved; the caller then finishes the sink and acknowledges the source. On an error of
/// either end the sink is aborted (nothing half-made is left claiming to be whole) and the error
/// returned. `each` sees every record on its way (for counts).
pub fn pump(
    source: &mut dyn Source,
    sink: &mut dyn Sink,
    mut each: impl FnMut(&Record),
) -> Result<u64, EndError> {
    let moved = (|| {
        let mut n = 0u64;
        while let Some(record) = source.next_record()? {
            each(&record);
            sink.write(record)?;
            n += 1;
            if n % 4096 == 0 {
                sink.tick(SystemTime::now())?;
            }
        }
        Ok::<u64, EndError>(n)
    })();
    if moved.is_err() {
        sink.abort();
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dash_is_stdin_or_stdout_and_stdin_is_read_once() {
        assert_eq!(Input::new(Path::new("-")), Input::Stdin);
        assert_eq!(
            Input::new(Path::new("./-")),
            Input::Path(PathBuf::from("./-"))
        );
        assert_eq!(Output::new(Path::new("-")), Output::Stdout);
        let twice = Input::list(&[PathBuf::from("-"), PathBuf::from("-")]).unwrap_err();
        assert_eq!(twice.status(), Status::BadInput);
        assert_eq!(Input::Stdin.to_string(), "stdin");
    }
}
