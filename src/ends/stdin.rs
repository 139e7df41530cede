//! Stdin as a source (`-`): a `.reel` log or a GoReplay file arriving on a pipe.
//!
//! Nothing is buffered beyond the reader's window (one block): a pipe cannot seek, and the
//! `.reel` format is read front to back by design. Stdin is taken once per process.

use std::io::Read;

use super::reel_file::{AnyRead, LogReader};
use crate::log::{LogError, Reader};

/// What messages call stdin.
pub const NAME: &str = "stdin";

/// Stdin as a byte stream (unlocked: `Stdin` is `Send`, its lock is not).
pub fn stream() -> AnyRead {
    Box::new(std::io::stdin()) as Box<dyn Read + Send>
}

/// Stdin read as a `.reel` log; reads and checks its file header now (waits for it).
pub fn open_log() -> Result<LogReader, LogError> {
    Reader::new(stream(), NAME)
}
