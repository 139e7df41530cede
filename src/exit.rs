//! The conventions every command keeps, in one place: exit codes, error lines, broken pipes.
//! It depends on nothing else in the crate: every stage imports it, it imports no stage.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success (also: stdout closed early by a reader such as `head`) |
//! | 1 | a `--fail-if` gate failed |
//! | 2 | usage error or bad input: a flag, a file that is not what it claims |
//! | 3 | runtime failure: I/O, disk full, network setup, capture device; a damaged input |
//! | 130, 143 | interrupted by SIGINT, SIGTERM (128 + the signal's number) before the run's end |
//!
//! **Classes.** Every error type of the crate says its class itself: it implements [`Classify`]
//! where it is defined. An error enters the command-line edge as an [`Error`] only through
//! `From<E: Classify>` (what `?` calls), which puts a marker holding the class into the chain of
//! causes, above the error itself. [`classify`] is one generic walk down that chain: the first
//! marker found (the outermost classified error) gives the status. An error type without a class
//! cannot reach the edge at all — `?` does not compile — and `tests/architecture.rs` checks that
//! every error type in `src/` has a class.
//!
//! Errors print as one line, `error: <file or flag>: <what is wrong>`; `--verbose` adds the chain of
//! causes, one per line. A panic is a bug.

use std::error::Error as StdError;
use std::fmt;
use std::process::ExitCode;

/// What an exit status says about a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Everything asked for was done (0).
    Success,
    /// A `--fail-if` gate failed (1).
    GateFailed,
    /// A flag or an input file is wrong (2).
    BadInput,
    /// The environment failed us: I/O, disk, network, capture device (3).
    Runtime,
    /// A signal stopped the run before its end: 128 + the signal's number (130 SIGINT, 143
    /// SIGTERM). Whatever was judged covers part of the run only: never a pass.
    Interrupted(i32),
}

impl Status {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::GateFailed => 1,
            Status::BadInput => 2,
            Status::Runtime => 3,
            Status::Interrupted(signal) => u8::try_from(128 + signal.clamp(1, 127)).unwrap_or(255),
        }
    }
}

/// Errors that know which exit status they stand for. Every error type of the crate implements
/// it, next to its definition.
pub trait Classify {
    /// [`Status::BadInput`] for bad flags and input files, [`Status::Runtime`] otherwise.
    fn status(&self) -> Status;
}

/// An I/O error with nothing said about it (writing stdout, say) is the environment's.
impl Classify for std::io::Error {
    fn status(&self) -> Status {
        Status::Runtime
    }
}

/// A JSON document that cannot be encoded is a runtime failure (it does not happen with reel's
/// own values).
impl Classify for serde_json::Error {
    fn status(&self) -> Status {
        Status::Runtime
    }
}

/// A command line clap refuses (tests parse command lines of their own).
impl Classify for clap::Error {
    fn status(&self) -> Status {
        Status::BadInput
    }
}

/// A bad flag value or argument combination, found after clap's own checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag}: {problem}")]
pub struct UsageError {
    /// The flag or argument, e.g. `--rate`.
    pub flag: String,
    /// What is wrong with it.
    pub problem: String,
}

impl UsageError {
    /// The error for `flag`: `problem`.
    pub fn new(flag: impl Into<String>, problem: impl Into<String>) -> UsageError {
        UsageError {
            flag: flag.into(),
            problem: problem.into(),
        }
    }
}

impl Classify for UsageError {
    fn status(&self) -> Status {
        Status::BadInput
    }
}

/// Builds the error for a bad flag value: `error: --flag: problem`, exit status 2.
pub fn usage(flag: impl Into<String>, problem: impl Into<String>) -> Error {
    UsageError::new(flag, problem).into()
}

/// An input that is not what it claims (a file whose content is wrong), exit status 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

impl Classify for BadInput {
    fn status(&self) -> Status {
        Status::BadInput
    }
}

/// Builds an error that names the input and says what is wrong with it, exit status 2.
pub fn bad_input(input: impl fmt::Display, problem: impl fmt::Display) -> Error {
    BadInput(format!("{input}: {problem}")).into()
}

/// Something that failed for a reason of the environment and has no error type of its own (a
/// thread that could not start), exit status 3.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuntimeFailure(pub String);

impl Classify for RuntimeFailure {
    fn status(&self) -> Status {
        Status::Runtime
    }
}

/// Builds a runtime failure (exit status 3) from its one line.
pub fn runtime(text: impl fmt::Display) -> Error {
    RuntimeFailure(text.to_string()).into()
}

/// The marker [`Error`] puts above a classified error in the chain: it shows as the error itself
/// (and `one_line` leaves out the repeat), and holds the class.
struct Classed {
    status: Status,
    error: Box<dyn StdError + Send + Sync + 'static>,
}

impl fmt::Display for Classed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl fmt::Debug for Classed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.error, f)
    }
}

impl StdError for Classed {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.error)
    }
}

/// An error at the command-line edge: a classified error, the context added on the way out, and
/// the whole chain of causes (for `--verbose`). Made from any error that implements [`Classify`].
pub struct Error(anyhow::Error);

impl<E> From<E> for Error
where
    E: Classify + StdError + Send + Sync + 'static,
{
    fn from(error: E) -> Error {
        Error(anyhow::Error::new(Classed {
            status: error.status(),
            error: Box::new(error),
        }))
    }
}

impl Error {
    /// Wraps the error in a line of context (a file name, a flag), keeping its class.
    pub fn context(self, context: impl fmt::Display + Send + Sync + 'static) -> Error {
        Error(self.0.context(context))
    }

    /// The error and its causes, outermost first (the class markers left out).
    pub fn chain(&self) -> impl Iterator<Item = &(dyn StdError + 'static)> {
        self.0.chain().filter(|cause| !cause.is::<Classed>())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            f.write_str(&one_line(self))
        } else {
            fmt::Display::fmt(&self.0, f)
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// The result of the command-line edge.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds context to a classified error on its way to the edge, as `anyhow::Context` does.
pub trait Context<T> {
    /// Wraps the error in `context`.
    fn context<C>(self, context: C) -> Result<T>
    where
        C: fmt::Display + Send + Sync + 'static;

    /// Wraps the error in the context `f` makes (only when there is an error).
    fn with_context<C, F>(self, f: F) -> Result<T>
    where
        C: fmt::Display + Send + Sync + 'static,
        F: FnOnce() -> C;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context<C>(self, context: C) -> Result<T>
    where
        C: fmt::Display + Send + Sync + 'static,
    {
        self.map_err(|e| e.into().context(context))
    }

    fn with_context<C, F>(self, f: F) -> Result<T>
    where
        C: fmt::Display + Send + Sync + 'static,
        F: FnOnce() -> C,
    {
        self.map_err(|e| e.into().context(f()))
    }
}

/// True when the error is a write to a closed pipe (`reel cat … | head`), which is not a failure.
fn is_broken_pipe(err: &Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The status an error stands for: the class of the outermost classified error in its chain.
pub fn classify(err: &Error) -> Status {
    err.0
        .chain()
        .find_map(|cause| cause.downcast_ref::<Classed>().map(|c| c.status))
        .unwrap_or(Status::Runtime)
}

/// The error and its causes on one line, `outer: inner: root`, leaving out a cause whose text
/// the message before it already includes (stage errors often quote their I/O cause).
pub fn one_line(err: &Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// Turns a command's outcome into the process exit code, printing the error line if there is one.
pub fn report(result: Result<Status>, verbose: bool) -> ExitCode {
    report_with(result, verbose, &|line| eprintln!("{line}"))
}

/// [`report`], with each line of the error given to `print` (the binary writes them in the log
/// format the user chose).
pub fn report_with(result: Result<Status>, verbose: bool, print: &dyn Fn(&str)) -> ExitCode {
    match result {
        Ok(status) => ExitCode::from(status.code()),
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            print(&format!("error: {}", one_line(&err)));
            if verbose {
                for (depth, cause) in err.chain().enumerate().skip(1) {
                    print(&format!("  cause {depth}: {cause}"));
                }
            }
            ExitCode::from(classify(&err).code())
        }
    }
}

/// The flag or file an error's one line starts with (the text before its first `:`), for tests.
#[cfg(test)]
pub(crate) fn flag_of(e: &Error) -> String {
    format!("{e:#}")
        .split(':')
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_exit_2_and_name_the_flag() {
        let err = usage("--rate", "expected N/s or max, got \"fast\"");
        assert_eq!(classify(&err), Status::BadInput);
        assert_eq!(
            format!("{err:#}"),
            "--rate: expected N/s or max, got \"fast\""
        );
    }

    #[test]
    fn an_interrupted_run_exits_128_plus_the_signal() {
        assert_eq!(Status::Interrupted(2).code(), 130);
        assert_eq!(Status::Interrupted(15).code(), 143);
    }

    #[test]
    fn plain_io_errors_are_runtime_failures() {
        let err = Error::from(std::io::Error::other("disk on fire")).context("out.reel");
        assert_eq!(classify(&err), Status::Runtime);
    }

    #[test]
    fn causes_already_quoted_are_not_repeated() {
        #[derive(Debug, thiserror::Error)]
        #[error("prod.reel: cannot open: {source}")]
        struct Quoting {
            source: std::io::Error,
        }
        impl Classify for Quoting {
            fn status(&self) -> Status {
                Status::BadInput
            }
        }
        let err = Error::from(Quoting {
            source: std::io::Error::other("no such file"),
        })
        .context("--read");
        assert_eq!(
            one_line(&err),
            "--read: prod.reel: cannot open: no such file"
        );
        assert_eq!(classify(&err), Status::BadInput);
    }

    #[test]
    fn broken_pipe_is_success() {
        let err = Error::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(is_broken_pipe(&err));
    }

    #[test]
    fn the_chain_is_kept_and_the_outermost_class_wins() {
        #[derive(Debug, thiserror::Error)]
        #[error("cannot write the results")]
        struct Outer {
            source: std::io::Error,
        }
        impl Classify for Outer {
            fn status(&self) -> Status {
                Status::BadInput
            }
        }
        let err = Error::from(Outer {
            source: std::io::Error::other("disk on fire"),
        })
        .context("--results r.reel");
        let causes: Vec<String> = err.chain().map(ToString::to_string).collect();
        assert_eq!(
            causes,
            [
                "--results r.reel",
                "cannot write the results",
                "disk on fire"
            ]
        );
        assert_eq!(classify(&err), Status::BadInput);
        assert_eq!(
            one_line(&err),
            "--results r.reel: cannot write the results: disk on fire"
        );
    }
}
