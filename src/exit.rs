//! The conventions every command keeps, in one place: exit codes, error lines, broken pipes.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success (also: stdout closed early by a reader such as `head`) |
//! | 1 | a `--fail-if` gate failed |
//! | 2 | usage error or bad input: a flag, a file that is not what it claims |
//! | 3 | runtime failure: I/O, disk full, network setup, capture device |
//!
//! Errors print as one line, `error: <file or flag>: <what is wrong>`; `--verbose` adds the chain of
//! causes, one per line. A panic is a bug.

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
}

impl Status {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::GateFailed => 1,
            Status::BadInput => 2,
            Status::Runtime => 3,
        }
    }
}

/// Errors that know which exit status they stand for. Every stage's error enum implements it.
pub trait Classify {
    /// [`Status::BadInput`] for bad flags and input files, [`Status::Runtime`] otherwise.
    fn status(&self) -> Status;
}

/// A bad flag value or argument combination, found after clap's own checks.
#[derive(Debug)]
pub struct UsageError {
    /// The flag or argument, e.g. `--rate`.
    pub flag: String,
    /// What is wrong with it.
    pub problem: String,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.flag, self.problem)
    }
}

impl std::error::Error for UsageError {}

/// Builds the error for a bad flag value: `error: --flag: problem`, exit status 2.
pub fn usage(flag: impl Into<String>, problem: impl Into<String>) -> anyhow::Error {
    UsageError {
        flag: flag.into(),
        problem: problem.into(),
    }
    .into()
}

/// Marks an error as bad input (exit 2) whatever its cause, e.g. a file whose content is wrong.
#[derive(Debug)]
pub struct BadInput(pub String);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Builds an error that names the input and says what is wrong with it, exit status 2.
pub fn bad_input(input: impl fmt::Display, problem: impl fmt::Display) -> anyhow::Error {
    BadInput(format!("{input}: {problem}")).into()
}

/// True when the error is a write to a closed pipe (`reel cat … | head`), which is not a failure.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The status an error stands for: the first cause in the chain that knows, else runtime failure.
pub fn classify(err: &anyhow::Error) -> Status {
    for cause in err.chain() {
        if cause.is::<UsageError>() || cause.is::<BadInput>() {
            return Status::BadInput;
        }
        if let Some(status) = crate::cmd::classify_stage_error(cause) {
            return status;
        }
    }
    Status::Runtime
}

/// The error and its causes on one line, `outer: inner: root`, leaving out a cause whose text
/// the message before it already includes (stage errors often quote their I/O cause).
pub fn one_line(err: &anyhow::Error) -> String {
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
pub fn report(result: anyhow::Result<Status>, verbose: bool) -> ExitCode {
    match result {
        Ok(status) => ExitCode::from(status.code()),
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", one_line(&err));
            if verbose {
                for (depth, cause) in err.chain().enumerate().skip(1) {
                    eprintln!("  cause {depth}: {cause}");
                }
            }
            ExitCode::from(classify(&err).code())
        }
    }
}

/// The flag or file an error's one line starts with (the text before its first `:`), for tests.
#[cfg(test)]
pub(crate) fn flag_of(e: &anyhow::Error) -> String {
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
    fn plain_io_errors_are_runtime_failures() {
        let err = anyhow::Error::from(std::io::Error::other("disk on fire")).context("out.reel");
        assert_eq!(classify(&err), Status::Runtime);
    }

    #[test]
    fn causes_already_quoted_are_not_repeated() {
        #[derive(Debug, thiserror::Error)]
        #[error("prod.reel: cannot open: {source}")]
        struct Quoting {
            source: std::io::Error,
        }
        let err = anyhow::Error::from(Quoting {
            source: std::io::Error::other("no such file"),
        })
        .context("--read");
        assert_eq!(
            one_line(&err),
            "--read: prod.reel: cannot open: no such file"
        );
    }

    #[test]
    fn broken_pipe_is_success() {
        let err = anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(is_broken_pipe(&err));
    }
}
