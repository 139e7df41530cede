//! Stage 4 — the `.reel` log: a compact, crash-safe, streamable file of exchange records.
//!
//! The layout is specified in `docs/FORMAT.md`: a file header, then zstd-compressed blocks of
//! length-prefixed records (postcard 1 bodies), each block with a sync marker, its lengths, time
//! range and crc32c checksums. Large bodies are stored once per bounded window and referenced after.
//!
//! - [`create`] / [`Writer`] write a log (`NAME.part`, renamed on [`Writer::finish`]);
//! - [`open`] / [`Reader`] stream it back, skipping corrupt blocks with a warning;
//! - [`merge::Merger`] merges several logs by time; [`gor`] imports and exports GoReplay files.

mod codec;
mod damage;
mod dedup;
pub mod format;
pub mod gor;
pub mod merge;
mod reader;
pub mod rotate;
mod writer;

use std::io;
use std::path::Path;

pub use damage::{Damage, DamagedInput};
pub use dedup::{MAX_BODY as DEDUP_MAX_BODY, MIN_BODY as DEDUP_MIN_BODY, WINDOW_BYTES};
pub use format::{FileHeader, MAX_RAW_LEN, crc32c};
pub use reader::{ReadStats, Reader, open};
pub use writer::{CreateOptions, Writer, WriterConfig, WriterStats, create, is_stream};

use crate::exit::{Classify, Status};

/// What can go wrong reading or writing a log. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The input file does not exist (or cannot be opened for a reason the user can fix).
    #[error("{path}: cannot open: {source}")]
    Open {
        /// The file.
        path: String,
        /// Why it could not be opened.
        source: io::Error,
    },
    /// The file does not start with the `.reel` magic.
    #[error("{path}: not a .reel file (bad magic)")]
    NotReel {
        /// The file.
        path: String,
    },
    /// The file is a `.reel` of a newer major version.
    #[error(
        "{path}: written by a newer reel (format v{major}.{minor}); this reel reads format v{}.x",
        format::VERSION_MAJOR
    )]
    NewerVersion {
        /// The file.
        path: String,
        /// Major version found.
        major: u16,
        /// Minor version found.
        minor: u16,
    },
    /// The file header is cut short or fails its checksum.
    #[error("{path}: corrupt .reel header ({problem})")]
    CorruptHeader {
        /// The file.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// An output file already exists and `--append` was not given.
    #[error("{path}: already exists; use --append to add to it or --force to replace it")]
    Exists {
        /// The existing file.
        path: String,
    },
    /// A `NAME.part` left by an interrupted run is in the way of a new output.
    #[error(
        "{path}: left by an interrupted run (still readable); rename or remove it to write this output"
    )]
    PartExists {
        /// The `.part` file.
        path: String,
    },
    /// A record too large for one block (64 MiB decompressed).
    #[error("{path}: a record of {len} bytes is larger than the {max}-byte block cap")]
    RecordTooLarge {
        /// The output file.
        path: String,
        /// Encoded length of the record.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// A gzip input that does not decompress.
    #[error("{path}: corrupt gzip stream: {source}")]
    CorruptGzip {
        /// The file.
        path: String,
        /// What the decoder said.
        source: io::Error,
    },
    /// Merging would overflow a connection id (`conn * inputs + input` above 2^64).
    #[error("{path}: connection id {conn} is too large to keep unique across {inputs} inputs")]
    ConnOverflow {
        /// The input file.
        path: String,
        /// The connection id.
        conn: u64,
        /// Number of inputs merged.
        inputs: usize,
    },
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: io::Error,
    },
}

impl LogError {
    fn io(path: &str, source: io::Error) -> LogError {
        LogError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Whether an I/O error on an input stands for bad input (the user named the wrong thing).
fn is_bad_input_io(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied | io::ErrorKind::IsADirectory
    )
}

impl Classify for LogError {
    fn status(&self) -> Status {
        match self {
            LogError::Open { source, .. } if !is_bad_input_io(source) => Status::Runtime,
            LogError::Io { source, .. } if is_bad_input_io(source) => Status::BadInput,
            LogError::Io { .. } => Status::Runtime,
            _ => Status::BadInput,
        }
    }
}

/// The name a path is shown by in messages.
fn display_name(path: &Path) -> String {
    path.display().to_string()
}

/// Fuzz entry point: reads `data` as a log, then writes what was read and reads it back, which
/// must give the same records. Panics only on a bug.
#[cfg(feature = "testing")]
pub fn fuzz_reader(data: &[u8]) {
    let Ok(reader) = Reader::new(data, "fuzz.reel") else {
        return;
    };
    let records: Vec<_> = reader.filter_map(Result::ok).collect();
    let mut out = Vec::new();
    let Ok(mut writer) = Writer::new(&mut out, "again.reel", WriterConfig::default()) else {
        return;
    };
    for r in &records {
        if writer.write(r).is_err() {
            return;
        }
    }
    if writer.close().is_err() {
        return;
    }
    let again: Vec<_> = match Reader::new(&out[..], "again.reel") {
        Ok(r) => r.filter_map(Result::ok).collect(),
        Err(e) => panic!("re-reading what was written failed: {e}"),
    };
    assert_eq!(records, again, "records changed through a write and a read");
}

/// Fuzz entry point: imports `data` as a GoReplay file, converts every record to a `.reel` record
/// and exports it again. Panics only on a bug.
#[cfg(feature = "testing")]
pub fn fuzz_gor(data: &[u8]) {
    let Ok(mut reader) = gor::GorReader::new(std::io::Cursor::new(data.to_vec()), "fuzz.gor")
    else {
        return;
    };
    let mut importer = gor::GorImporter::new();
    let mut out = Vec::new();
    while let Ok(Some(rec)) = reader.next_record() {
        let record = importer.convert(&rec);
        if let Some(back) = gor::export_record(&record) {
            if gor::write_gor(&mut out, &back).is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_file_and_classify() {
        let e = LogError::NotReel {
            path: "prod.reel".into(),
        };
        assert_eq!(e.to_string(), "prod.reel: not a .reel file (bad magic)");
        assert_eq!(e.status(), Status::BadInput);
        let e = LogError::NewerVersion {
            path: "a.reel".into(),
            major: 2,
            minor: 1,
        };
        assert_eq!(
            e.to_string(),
            "a.reel: written by a newer reel (format v2.1); this reel reads format v1.x"
        );
        let missing = LogError::Open {
            path: "x".into(),
            source: io::Error::from(io::ErrorKind::NotFound),
        };
        assert_eq!(missing.status(), Status::BadInput);
        let disk = LogError::Io {
            path: "x".into(),
            source: io::Error::from(io::ErrorKind::StorageFull),
        };
        assert_eq!(disk.status(), Status::Runtime);
    }
}
