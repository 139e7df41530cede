//! Errors of the capture stage, written for the person who gave the file or the filter.

use std::path::PathBuf;

use crate::exit::{Classify, Status};

/// Why a capture source could not be opened or read.
///
/// Messages name the file or `--filter` first, as `error: <file or flag>: <what is wrong>` wants.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// `--read` was given no file.
    #[error("--read: no capture file given")]
    NoFiles,
    /// The file does not exist.
    #[error("{}: no such file", path.display())]
    NotFound {
        /// The file named.
        path: PathBuf,
    },
    /// The path names a directory or a device, not a file.
    #[error("{}: not a regular file", path.display())]
    NotAFile {
        /// The path named.
        path: PathBuf,
    },
    /// libpcap takes paths as C strings, which reel builds from UTF-8.
    #[error("{}: the path is not valid UTF-8, which libpcap needs", path.display())]
    PathNotUtf8 {
        /// The path named.
        path: PathBuf,
    },
    /// The file could not be opened or read (permissions, I/O error).
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file does not start with a pcap or pcapng magic number.
    #[error("{}: not a pcap or pcapng capture file ({reason})", path.display())]
    NotACapture {
        /// The file.
        path: PathBuf,
        /// What libpcap said.
        reason: String,
    },
    /// The file header is cut short or holds values no capture file has.
    #[error("{}: corrupt capture file header: {reason}", path.display())]
    CorruptHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A record inside the file is impossible (absurd capture length, broken block); the frames
    /// before it were delivered.
    #[error("{}: corrupt record after frame {frames_read}: {reason}", path.display())]
    CorruptRecord {
        /// The file.
        path: PathBuf,
        /// Frames read from the file before the bad record.
        frames_read: u64,
        /// What is wrong.
        reason: String,
    },
    /// The BPF filter does not compile (for the link type named, when the file mixes several).
    #[error("--filter {filter:?}: {reason}")]
    BadFilter {
        /// The filter as given.
        filter: String,
        /// What libpcap said.
        reason: String,
    },
}

impl Classify for CaptureError {
    fn status(&self) -> Status {
        match self {
            CaptureError::Io { .. } => Status::Runtime,
            _ => Status::BadInput,
        }
    }
}
