//! Stdout as a sink's stream (`-`): a `.reel` log, or text (JSON lines, HTTP, GoReplay's format)
//! for the next command of a pipe.
//!
//! When stdout carries a log, human output goes to stderr (the commands check it); a closed pipe
//! (`reel cat - | head`) ends the command with status 0 (`exit::report`).

use std::io::Write;

/// What messages call stdout.
pub const NAME: &str = "stdout";

/// Stdout as a byte stream for a sink (unlocked: `Stdout` is `Send`, its lock is not; sinks
/// write whole blocks or buffer through a `BufWriter`, so each write is one lock).
pub fn stream() -> Box<dyn Write + Send> {
    Box::new(std::io::stdout())
}
