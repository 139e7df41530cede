//! `reel demo`'s parts: the sample capture embedded in the binary, extracted into a `.reel` log
//! ([`sample`]), and the built-in staging server that answers it on loopback in two releases,
//! the second with deliberate regressions ([`staging`]). `cmd/demo.rs` wires them to
//! `reel replay --baseline-target` and prints what happened.

pub mod sample;
pub mod staging;

use crate::exit::{Classify, Status};
use crate::log::LogError;

/// What can stop the demo before its replay runs.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The embedded capture did not read (a broken build).
    #[error("the sample capture embedded in reel does not read as a pcap (a broken build of reel)")]
    Sample,
    /// The temporary log could not be written.
    #[error(transparent)]
    Log(#[from] LogError),
    /// A staging server could not start on loopback.
    #[error("starting the demo's staging server on 127.0.0.1: {0}")]
    Staging(std::io::Error),
    /// The temporary directory could not be made.
    #[error("{path}: cannot create the demo's temporary directory: {source}")]
    TempDir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl Classify for DemoError {
    fn status(&self) -> Status {
        match self {
            DemoError::Log(e) => e.status(),
            // Not the user's input: the build, or the machine.
            DemoError::Sample | DemoError::Staging(_) | DemoError::TempDir { .. } => {
                Status::Runtime
            }
        }
    }
}
