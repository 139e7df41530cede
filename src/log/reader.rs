//! Reading a log as a stream: memory is bounded by one block (≤ 64 MiB decompressed, 1 MiB by
//! default) plus the dedup window, never by the file's size.
//!
//! A block that fails its checks (marker, header crc, payload crc, decompression) is skipped with a
//! warning giving its byte offset and the bytes skipped; the reader then scans forward for the next
//! sync marker. Only the file header's problems are fatal, and they come from [`Reader::new`].

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use zstd::zstd_safe::DParameter;

use super::codec::{self, Decoded};
use super::dedup::ReadWindow;
use super::format::{
    self, BLOCK_HEADER_LEN, FILE_HEADER_LEN, FileHeader, HeaderProblem, MAX_WINDOW_LOG,
    SYNC_MARKER, get_varint, parse_block_header,
};
use super::{LogError, display_name};
use crate::exchange::Record;

/// What a reader has read so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Intact blocks read.
    pub blocks: u64,
    /// Corrupt or truncated blocks skipped.
    pub skipped_blocks: u64,
    /// Bytes skipped with them.
    pub skipped_bytes: u64,
    /// Records returned.
    pub records: u64,
    /// Records of kinds this version does not know, skipped.
    pub unknown_records: u64,
    /// Records of known kinds that did not decode (only a writer bug or a forged file gives them).
    pub undecodable_records: u64,
    /// Messages whose deduplicated body was defined in a skipped block: returned without their
    /// body, marked `Truncation::Gap`.
    pub missing_bodies: u64,
    /// Stored bytes of the messages returned.
    pub message_bytes: u64,
    /// Bytes of the file consumed so far (the whole file once the reader is done).
    pub file_bytes: u64,
    /// Frames (records and body definitions) the skipped blocks' intact headers said they held.
    pub lost_records: u64,
    /// Skipped blocks whose header was unreadable too (how much they held is unknown).
    pub headerless_skips: u64,
    /// Byte offset of the first skipped block.
    pub first_skip_at: Option<u64>,
    /// The input was read to its end.
    pub ended: bool,
    /// The last record returned was a closing record (a finished log ends with one).
    pub closed: bool,
}

/// A refillable window on the input, tracking the file offset of its first byte.
struct Input<R> {
    read: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    offset: u64,
    eof: bool,
}

const READ_CHUNK: usize = 64 << 10;

impl<R: Read> Input<R> {
    fn new(read: R) -> Self {
        Input {
            read,
            buf: Vec::new(),
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
        }
    }

    fn avail(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Reads until at least `n` bytes are available or the input ends; true when they are.
    fn fill(&mut self, n: usize) -> io::Result<bool> {
        while self.end - self.start < n && !self.eof {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let want = n.max(self.end + READ_CHUNK);
            if self.buf.len() < want {
                self.buf.resize(want, 0);
            }
            match self.read.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(got) => self.end += got,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.end - self.start >= n)
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.offset += n as u64;
    }

    /// Consumes bytes up to the next sync marker (or to the end of the input).
    fn seek_marker(&mut self) -> io::Result<()> {
        loop {
            let avail = self.avail();
            if let Some(at) = find(avail, &SYNC_MARKER) {
                self.consume(at);
                return Ok(());
            }
            // Keep a tail that could be the start of a marker cut by the buffer's end.
            let keep = (SYNC_MARKER.len() - 1).min(avail.len());
            let drop = avail.len() - keep;
            self.consume(drop);
            let have = self.end - self.start;
            if !self.fill(have + 1)? {
                self.consume(have);
                return Ok(());
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut from = 0;
    while let Some(p) = haystack.get(from..)?.iter().position(|&b| b == first) {
        let at = from + p;
        if haystack.get(at..at + needle.len())? == needle {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Reads the records of a `.reel` log one at a time.
pub struct Reader<R: Read = File> {
    input: Input<R>,
    name: String,
    header: FileHeader,
    decompressor: zstd::bulk::Decompressor<'static>,
    /// The current block, decompressed, and the position of the next frame in it.
    block: Vec<u8>,
    pos: usize,
    block_offset: u64,
    window: ReadWindow,
    stats: ReadStats,
    failed: bool,
}

/// Opens a log file for reading. A missing file, a file that is not a `.reel`, a newer major
/// version or a corrupt header is an error naming the file.
pub fn open(path: impl AsRef<Path>) -> Result<Reader<File>, LogError> {
    let path = path.as_ref();
    let name = display_name(path);
    let file = File::open(path).map_err(|e| LogError::Open {
        path: name.clone(),
        source: e,
    })?;
    Reader::new(file, name)
}

/// Checks the first bytes of a file (up to the header's length) as a `.reel` header.
pub(super) fn check_header(bytes: &[u8], name: &str) -> Result<FileHeader, LogError> {
    let path = name.to_owned();
    match format::parse_file_header(bytes) {
        Ok(h) => Ok(h),
        Err(_) if bytes.is_empty() => Err(LogError::CorruptHeader {
            path,
            problem: "empty file".into(),
        }),
        Err(HeaderProblem::BadMagic) => Err(LogError::NotReel { path }),
        Err(HeaderProblem::Short(n)) => Err(LogError::CorruptHeader {
            path,
            problem: format!("file is {n} bytes, shorter than the {FILE_HEADER_LEN}-byte header"),
        }),
        Err(HeaderProblem::BadCrc) => Err(LogError::CorruptHeader {
            path,
            problem: "header checksum mismatch".into(),
        }),
        Err(HeaderProblem::Newer { major, minor }) => {
            Err(LogError::NewerVersion { path, major, minor })
        }
    }
}

impl<R: Read> Reader<R> {
    /// Starts reading a log from any input; `name` is what messages call it. Reads and checks the
    /// file header now.
    pub fn new(read: R, name: impl Into<String>) -> Result<Self, LogError> {
        let name = name.into();
        let mut input = Input::new(read);
        input
            .fill(FILE_HEADER_LEN)
            .map_err(|e| LogError::io(&name, e))?;
        let avail = input.avail();
        let header = check_header(&avail[..avail.len().min(FILE_HEADER_LEN)], &name)?;
        input.consume(FILE_HEADER_LEN);
        let mut decompressor =
            zstd::bulk::Decompressor::new().map_err(|e| LogError::io(&name, e))?;
        decompressor
            .set_parameter(DParameter::WindowLogMax(MAX_WINDOW_LOG))
            .map_err(|e| LogError::io(&name, e))?;
        let stats = ReadStats {
            file_bytes: FILE_HEADER_LEN as u64,
            ..ReadStats::default()
        };
        Ok(Reader {
            input,
            name,
            header,
            decompressor,
            block: Vec::new(),
            pos: 0,
            block_offset: 0,
            window: ReadWindow::new(),
            stats,
            failed: false,
        })
    }

    /// The file header: version and flags.
    pub fn header(&self) -> FileHeader {
        self.header
    }

    /// The name messages use for this input.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What has been read so far.
    pub fn stats(&self) -> ReadStats {
        self.stats
    }

    /// The next record, `Ok(None)` at the end. Corrupt blocks are skipped and counted, not
    /// returned; only an I/O error on the input is an error. Never panics on any input.
    pub fn next_record(&mut self) -> Result<Option<Record>, LogError> {
        loop {
            if self.pos >= self.block.len() {
                if !self.next_block().map_err(|e| LogError::io(&self.name, e))? {
                    self.stats.ended = true;
                    return Ok(None);
                }
                continue;
            }
            let Reader {
                block,
                pos,
                window,
                stats,
                ..
            } = self;
            let rest = block.get(*pos..).unwrap_or_default();
            let Some((kind, body, used)) = frame(rest) else {
                tracing::warn!(
                    "{}: block at byte {}: record frame at block offset {} is cut short; \
                     rest of the block ({} bytes) dropped",
                    self.name,
                    self.block_offset,
                    *pos,
                    rest.len()
                );
                stats.undecodable_records += 1;
                *pos = block.len();
                continue;
            };
            *pos += used;
            match codec::decode_frame(kind, body, &*window) {
                Ok(Decoded::Record(record, missing)) => {
                    if let Some(id) = missing {
                        if stats.missing_bodies == 0 {
                            tracing::warn!(
                                "{}: a message refers to body {id}, defined in a skipped block; \
                                 kept without its body (truncation gap), further ones only counted",
                                self.name
                            );
                        }
                        stats.missing_bodies += 1;
                    }
                    stats.records += 1;
                    stats.closed = matches!(record, Record::Closing(_));
                    stats.message_bytes += message_len(&record);
                    return Ok(Some(record));
                }
                Ok(Decoded::BodyDef(id, bytes)) => window.define(id, bytes),
                Ok(Decoded::Unknown) => stats.unknown_records += 1,
                Err(e) => {
                    tracing::warn!(
                        "{}: block at byte {}: a record of kind {kind} does not decode ({e}); skipped",
                        self.name,
                        self.block_offset
                    );
                    stats.undecodable_records += 1;
                }
            }
        }
    }

    /// Reads the next intact block into `self.block`; false at the end of the input.
    fn next_block(&mut self) -> io::Result<bool> {
        self.block.clear();
        self.pos = 0;
        loop {
            let at = self.input.offset;
            if !self.input.fill(BLOCK_HEADER_LEN)? {
                let rest = self.input.avail().len();
                if rest > 0 {
                    self.input.consume(rest);
                    self.skipped(at, "file ends inside a block header", None);
                }
                return Ok(false);
            }
            let header = match parse_block_header(&self.input.avail()[..BLOCK_HEADER_LEN]) {
                Ok(h) => h,
                Err(problem) => {
                    self.resync(at, problem.describe(), None)?;
                    continue;
                }
            };
            let total = BLOCK_HEADER_LEN + header.payload_len as usize;
            if !self.input.fill(total)? {
                // Cut short by a crash, unless an append followed: scanning finds its blocks.
                self.resync(at, "block cut short", Some(header.frames))?;
                continue;
            }
            let payload = &self.input.avail()[BLOCK_HEADER_LEN..total];
            if format::crc32c(payload) != header.payload_crc {
                self.resync(at, "block checksum mismatch", Some(header.frames))?;
                continue;
            }
            let raw_len = header.raw_len as usize;
            // Exact: the spare capacity bounds what zstd may write, and it stays ≤ 64 MiB.
            self.block.reserve_exact(raw_len);
            let decoded = self
                .decompressor
                .decompress_to_buffer(payload, &mut self.block);
            if !matches!(decoded, Ok(n) if n == raw_len) {
                self.block.clear();
                self.resync(
                    at,
                    "block does not decompress to its stated length",
                    Some(header.frames),
                )?;
                continue;
            }
            self.input.consume(total);
            self.block_offset = at;
            self.stats.blocks += 1;
            self.stats.file_bytes = self.input.offset;
            return Ok(true);
        }
    }

    /// Skips the block that starts at `at`: past its first byte, then up to the next marker.
    fn resync(&mut self, at: u64, reason: &str, frames: Option<u32>) -> io::Result<()> {
        self.input.consume(1);
        self.input.seek_marker()?;
        self.skipped(at, reason, frames);
        Ok(())
    }

    /// Counts the skip of the bytes from `at` to here; `frames` is what the block's header said
    /// it held, when the header was intact.
    fn skipped(&mut self, at: u64, reason: &str, frames: Option<u32>) {
        match frames {
            Some(n) => self.stats.lost_records += u64::from(n),
            None => self.stats.headerless_skips += 1,
        }
        self.stats.first_skip_at.get_or_insert(at);
        let bytes = self.input.offset - at;
        tracing::warn!(
            "{}: skipped a corrupt block at byte {at} ({reason}): {bytes} bytes",
            self.name
        );
        self.stats.skipped_blocks += 1;
        self.stats.skipped_bytes += bytes;
        self.stats.file_bytes = self.input.offset;
    }
}

/// Splits a frame off the front of `bytes`: kind, body, bytes used. `None` when cut short.
fn frame(bytes: &[u8]) -> Option<(u8, &[u8], usize)> {
    let (&kind, rest) = bytes.split_first()?;
    let (len, n) = get_varint(rest)?;
    let len = usize::try_from(len).ok()?;
    let body = rest.get(n..n.checked_add(len)?)?;
    Some((kind, body, 1 + n + len))
}

fn message_len(record: &Record) -> u64 {
    match record {
        Record::Request(m) => m.bytes.len() as u64,
        Record::Response(r) | Record::Interim(r) | Record::Orphan(r) => {
            r.message.bytes.len() as u64
        }
        _ => 0,
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Record, LogError>;

    /// The next record; after an I/O error, the iteration ends.
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_record() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_marker_positions() {
        assert_eq!(find(b"abcdef", b"cd"), Some(2));
        assert_eq!(find(b"ccd", b"cd"), Some(1));
        assert_eq!(find(b"abc", b"cd"), None);
        assert_eq!(find(b"abc", b"c"), Some(2));
    }

    #[test]
    fn seek_marker_across_refills() {
        // A reader that hands out one byte at a time splits the marker across refills.
        struct OneByte<'a>(&'a [u8]);
        impl Read for OneByte<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let Some((&b, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                buf[0] = b;
                self.0 = rest;
                Ok(1)
            }
        }
        let mut data = vec![7u8; 100];
        data.extend_from_slice(&SYNC_MARKER);
        data.extend_from_slice(b"tail");
        let mut input = Input::new(OneByte(&data));
        input.fill(1).unwrap();
        input.seek_marker().unwrap();
        assert_eq!(input.offset, 100);
        input.fill(8).unwrap();
        assert_eq!(input.avail()[..8], SYNC_MARKER);
    }
}
