//! Writing a log: records into an open block, blocks compressed and checksummed onto the output.
//!
//! At most one block is buffered (closed at [`WriterConfig::block_bytes`] of records; when it is
//! older than [`WriterConfig::block_age`] as the next record arrives, by the wall clock or by the
//! records' own capture time, so that an offline conversion gets a block per second of traffic as
//! a live capture does; or by [`Writer::flush_block`]), so a crash or a cut loses at most that
//! block. Files follow the rules of `docs/FORMAT.md` ("Files").

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use zstd::zstd_safe::CParameter;

use super::codec::{self, DedupBody};
use super::dedup::{WriteWindow, body_hash};
use super::format::{
    self, BLOCK_HEADER_LEN, BlockHeader, FILE_HEADER_LEN, FileHeader, MAX_RAW_LEN, put_varint,
};
use super::{LogError, display_name};
use crate::exchange::{Counters, Message, Record};

/// Blocks of at most this many bytes of records are compressed at [`SMALL_BLOCK_LEVEL`] at least,
/// and blocks of a quarter of it at 6 levels more (about 5 ms a block either way, once a second).
const SMALL_BLOCK: usize = 256 << 10;
/// The zstd level of small blocks.
const SMALL_BLOCK_LEVEL: i32 = 9;

/// How a writer builds blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterConfig {
    /// zstd compression level (1–22; default 1: as small as 3 on API traffic, and cheaper).
    pub zstd_level: i32,
    /// A block is closed once it holds this many bytes of encoded records (default 1 MiB).
    pub block_bytes: usize,
    /// A block is closed when the next record arrives after it has been open this long, or is
    /// this much later in capture time than the block's first record (default 1 s:
    /// `--flush-interval`).
    pub block_age: Duration,
    /// Store each distinct large body once per window (default true).
    pub dedup: bool,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            zstd_level: 1,
            block_bytes: 1 << 20,
            block_age: Duration::from_secs(1),
            dedup: true,
        }
    }
}

/// How [`create`] opens its file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateOptions {
    /// Add blocks to an existing file instead of refusing it (`--append`).
    pub append: bool,
    /// How blocks are built.
    pub config: WriterConfig,
}

/// What a writer has written so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Records written (body definitions not counted).
    pub records: u64,
    /// Blocks written.
    pub blocks: u64,
    /// Stored bytes of the messages written (requests, responses, interim, orphans).
    pub message_bytes: u64,
    /// Bytes written to the output, file header included (for an append: the file's size).
    pub file_bytes: u64,
    /// Message bodies written as a reference to an earlier identical body.
    pub dedup_hits: u64,
}

/// Where a file writer's output ends up.
struct FileRules {
    /// A second handle on the file, to sync it when closing.
    sync: File,
    /// `NAME.part` while writing a new file; `None` when appending in place.
    part: Option<PathBuf>,
    /// The final name.
    path: PathBuf,
}

/// Writes records to a `.reel` output. `Send` when its output is; dropped without
/// [`Writer::finish`] or [`Writer::close`], it still writes its open block (best effort) and a file
/// keeps its `.part` name.
pub struct Writer<W: Write = File> {
    out: W,
    name: String,
    config: WriterConfig,
    compressor: zstd::bulk::Compressor<'static>,
    /// The compressor's level now.
    level: i32,
    /// Encoded frames of the open block.
    open: Vec<u8>,
    open_frames: u32,
    open_min_ts: u64,
    open_max_ts: u64,
    opened_at: Option<Instant>,
    /// Capture time of the open block's first exchange record.
    open_capture_ts: Option<u64>,
    scratch: Vec<u8>,
    def_scratch: Vec<u8>,
    payload: Vec<u8>,
    window: WriteWindow,
    stats: WriterStats,
    file: Option<FileRules>,
    done: bool,
}

/// Opens `path` for writing a log under the file rules: a new file is written as `NAME.part` with
/// mode 0600 and renamed to `NAME` by [`Writer::finish`]; an existing `NAME` is refused unless
/// `options.append`, which adds blocks to it after checking its header. An existing character
/// device or FIFO (`/dev/stdout`, a named pipe, `/dev/full`) is written as a stream: no `.part`, no
/// sync, no rename.
pub fn create(path: impl AsRef<Path>, options: CreateOptions) -> Result<Writer<File>, LogError> {
    let path = path.as_ref();
    let name = display_name(path);
    let exists = path.try_exists().map_err(|e| LogError::io(&name, e))?;
    if exists && is_stream(path) {
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| LogError::io(&name, e))?;
        return Writer::new(file, name, options.config);
    }
    if exists {
        if !options.append {
            return Err(LogError::Exists { path: name });
        }
        return append(path, name, options.config);
    }
    let mut part_os = path.as_os_str().to_owned();
    part_os.push(".part");
    let part = PathBuf::from(part_os);
    let part_name = display_name(&part);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&part)
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => LogError::PartExists {
                path: part_name.clone(),
            },
            _ => LogError::io(&part_name, e),
        })?;
    let sync = file.try_clone().map_err(|e| LogError::io(&part_name, e))?;
    let mut writer = Writer::new(file, part_name, options.config)?;
    writer.file = Some(FileRules {
        sync,
        part: Some(part),
        path: path.to_owned(),
    });
    Ok(writer)
}

/// True when `path` (its target, for a link) is a character device or a FIFO: an output that is
/// written as a stream, never created, renamed or removed.
pub fn is_stream(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| {
        let t = m.file_type();
        t.is_char_device() || t.is_fifo()
    })
}

/// Opens an existing log to add blocks at its end.
fn append(path: &Path, name: String, config: WriterConfig) -> Result<Writer<File>, LogError> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| LogError::Open {
            path: name.clone(),
            source: e,
        })?;
    let mut head = Vec::with_capacity(FILE_HEADER_LEN);
    (&mut file)
        .take(FILE_HEADER_LEN as u64)
        .read_to_end(&mut head)
        .map_err(|e| LogError::io(&name, e))?;
    super::reader::check_header(&head, &name)?;
    let len = file
        .seek(SeekFrom::End(0))
        .map_err(|e| LogError::io(&name, e))?;
    let sync = file.try_clone().map_err(|e| LogError::io(&name, e))?;
    let mut writer = Writer::build(file, name, config)?;
    writer.stats.file_bytes = len;
    writer.file = Some(FileRules {
        sync,
        part: None,
        path: path.to_owned(),
    });
    Ok(writer)
}

impl<W: Write> Writer<W> {
    /// Starts a log on any output (stdout, a buffer), without the file rules: writes the file
    /// header now. `name` is what errors call the output.
    pub fn new(out: W, name: impl Into<String>, config: WriterConfig) -> Result<Self, LogError> {
        let mut writer = Writer::build(out, name.into(), config)?;
        let header = FileHeader::current().encode();
        writer
            .out
            .write_all(&header)
            .map_err(|e| LogError::io(&writer.name, e))?;
        writer.stats.file_bytes = header.len() as u64;
        Ok(writer)
    }

    fn build(out: W, name: String, mut config: WriterConfig) -> Result<Self, LogError> {
        config.block_bytes = config.block_bytes.clamp(1, MAX_RAW_LEN);
        let mut compressor = zstd::bulk::Compressor::new(config.zstd_level)
            .and_then(|mut c| {
                c.set_parameter(CParameter::WindowLog(format::WRITER_WINDOW_LOG))?;
                c.set_parameter(CParameter::ChecksumFlag(false))?;
                c.set_parameter(CParameter::ContentSizeFlag(true))?;
                Ok(c)
            })
            .map_err(|e| LogError::io(&name, e))?;
        compressor
            .set_compression_level(config.zstd_level)
            .map_err(|e| LogError::io(&name, e))?;
        Ok(Writer {
            out,
            name,
            level: config.zstd_level,
            config,
            compressor,
            open: Vec::new(),
            open_frames: 0,
            open_min_ts: 0,
            open_max_ts: 0,
            opened_at: None,
            open_capture_ts: None,
            scratch: Vec::new(),
            def_scratch: Vec::new(),
            payload: Vec::new(),
            window: WriteWindow::new(),
            stats: WriterStats::default(),
            file: None,
            done: false,
        })
    }

    /// Adds a record to the open block, closing the block first if it is older than the block age
    /// (by the clock, or by the record's capture time) and afterwards if it has reached the block
    /// size.
    pub fn write(&mut self, record: &Record) -> Result<(), LogError> {
        let age_ns = u64::try_from(self.config.block_age.as_nanos()).unwrap_or(u64::MAX);
        // Capture time: of exchange records only (a log's metadata and closing records carry
        // the wall clock of the run, not of the traffic).
        let capture_ts = record.conn().map(|_| record.ts_ns());
        if self
            .opened_at
            .is_some_and(|t| t.elapsed() >= self.config.block_age)
            || capture_ts
                .zip(self.open_capture_ts)
                .is_some_and(|(ts, first)| ts.saturating_sub(first) >= age_ns)
        {
            self.flush_block()?;
        }
        if self.open_capture_ts.is_none() {
            self.open_capture_ts = capture_ts;
        }
        let message = message_of(record);
        // Dedup: find or plan the body definition, without touching the window yet.
        let mut dedup = None;
        let mut define = None;
        if let Some(m) = message.filter(|_| self.config.dedup) {
            let head_len = m.head_len as usize;
            if let Some(body) = m.bytes.get(head_len..) {
                if WriteWindow::eligible(body) {
                    let hash = body_hash(body);
                    let id = match self.window.lookup(hash) {
                        Some(id) => id,
                        None => {
                            let id = self.window.next_id();
                            codec::encode_body_def(id, body, &mut self.def_scratch)
                                .map_err(|e| encode_error(&self.name, e))?;
                            define = Some((hash, body.len()));
                            id
                        }
                    };
                    dedup = Some(DedupBody {
                        id,
                        inline_len: head_len,
                    });
                }
            }
        }
        let kind = codec::encode_record(record, dedup.as_ref(), &mut self.scratch)
            .map_err(|e| encode_error(&self.name, e))?;
        let def_len = if define.is_some() {
            frame_len(self.def_scratch.len())
        } else {
            0
        };
        let needed = def_len + frame_len(self.scratch.len());
        if needed > MAX_RAW_LEN {
            return Err(LogError::RecordTooLarge {
                path: self.name.clone(),
                len: needed,
                max: MAX_RAW_LEN,
            });
        }
        if !self.open.is_empty() && self.open.len() + needed > MAX_RAW_LEN {
            self.flush_block()?;
        }
        if let Some((hash, len)) = define {
            self.window.define(hash, len);
            push_frame(&mut self.open, codec::kind::BODY_DEF, &self.def_scratch);
            self.open_frames += 1;
        } else if dedup.is_some() {
            self.stats.dedup_hits += 1;
        }
        push_frame(&mut self.open, kind, &self.scratch);
        let ts = record.ts_ns();
        if self.opened_at.is_none() {
            self.opened_at = Some(Instant::now());
            self.open_min_ts = ts;
            self.open_max_ts = ts;
        } else {
            self.open_min_ts = self.open_min_ts.min(ts);
            self.open_max_ts = self.open_max_ts.max(ts);
        }
        self.open_frames += 1;
        self.stats.records += 1;
        if let Some(m) = message {
            self.stats.message_bytes += m.bytes.len() as u64;
        }
        if self.open.len() >= self.config.block_bytes {
            self.flush_block()?;
        }
        Ok(())
    }

    /// Closes the open block if it is older than the block age: for callers with a timer, so that
    /// a quiet capture still gets its records on disk.
    pub fn flush_if_due(&mut self) -> Result<(), LogError> {
        if self
            .opened_at
            .is_some_and(|t| t.elapsed() >= self.config.block_age)
        {
            self.flush_block()?;
        }
        Ok(())
    }

    /// Compresses and writes the open block (nothing when it is empty), then flushes the output.
    pub fn flush_block(&mut self) -> Result<(), LogError> {
        if self.open.is_empty() {
            return Ok(());
        }
        self.payload.clear();
        self.payload
            .reserve(zstd::zstd_safe::compress_bound(self.open.len()));
        // A small block (closed by time: a quiet second of traffic) costs little to compress
        // harder, and without it a per-second block of light traffic compresses worse than one
        // large block would.
        // Only blocks closed before their size (by time, a flush or the end): a writer whose
        // blocks are small by configuration (small rotated files) keeps its own level.
        let level = match self.open.len() {
            n if n >= self.config.block_bytes => self.config.zstd_level,
            n if n <= SMALL_BLOCK / 4 => self.config.zstd_level.max(SMALL_BLOCK_LEVEL + 6),
            n if n <= SMALL_BLOCK => self.config.zstd_level.max(SMALL_BLOCK_LEVEL),
            _ => self.config.zstd_level,
        };
        if level != self.level {
            self.compressor
                .set_compression_level(level)
                .map_err(|e| LogError::io(&self.name, e))?;
            self.level = level;
        }
        self.compressor
            .compress_to_buffer(&self.open, &mut self.payload)
            .map_err(|e| LogError::io(&self.name, e))?;
        let header = BlockHeader {
            payload_len: self.payload.len() as u32,
            raw_len: self.open.len() as u32,
            frames: self.open_frames,
            flags: 0,
            min_ts_ns: self.open_min_ts,
            max_ts_ns: self.open_max_ts,
            payload_crc: format::crc32c(&self.payload),
        };
        self.open.clear();
        self.open_frames = 0;
        self.opened_at = None;
        self.open_capture_ts = None;
        self.open_min_ts = 0;
        self.open_max_ts = 0;
        let name = &self.name;
        self.out
            .write_all(&header.encode())
            .and_then(|()| self.out.write_all(&self.payload))
            .and_then(|()| self.out.flush())
            .map_err(|e| LogError::io(name, e))?;
        self.stats.blocks += 1;
        self.stats.file_bytes += (BLOCK_HEADER_LEN + self.payload.len()) as u64;
        Ok(())
    }

    /// What errors call the output (`NAME.part` while a new file is written).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What has been written so far.
    pub fn stats(&self) -> WriterStats {
        self.stats
    }

    /// Writes the closing record with `counters`, then [`Writer::close`]s.
    pub fn finish(mut self, counters: Counters) -> Result<WriterStats, LogError> {
        self.write(&Record::Closing(counters))?;
        self.close()
    }

    /// Writes the open block and flushes, without a closing record (for callers that copy one,
    /// such as merge). A file is synced to disk, and a new file renamed from `NAME.part` to `NAME`.
    pub fn close(mut self) -> Result<WriterStats, LogError> {
        self.done = true;
        self.flush_block()?;
        self.out.flush().map_err(|e| LogError::io(&self.name, e))?;
        if let Some(rules) = &self.file {
            rules
                .sync
                .sync_all()
                .map_err(|e| LogError::io(&self.name, e))?;
            if let Some(part) = &rules.part {
                std::fs::rename(part, &rules.path).map_err(|e| LogError::io(&self.name, e))?;
            }
        }
        Ok(self.stats)
    }

    /// True when the file being written was deleted (its link count is 0): whatever is written
    /// to it from now on is lost once it is closed. False for outputs that are not files.
    pub fn is_deleted(&self) -> Result<bool, LogError> {
        match &self.file {
            Some(rules) => rules
                .sync
                .metadata()
                .map(|m| m.nlink() == 0)
                .map_err(|e| LogError::io(&self.name, e)),
            None => Ok(false),
        }
    }

    /// Leaves a file that was deleted while being written: writes the open block into it (so that
    /// whoever still holds it open reads every record written so far), without a closing record,
    /// sync or rename. Returns what was written to it.
    pub fn abandon(mut self) -> Result<WriterStats, LogError> {
        self.done = true;
        self.flush_block()?;
        Ok(self.stats)
    }

    /// Gives up a new file, removing its `.part` (so that no partial output is left behind); an
    /// appended file keeps what was written to it. Does nothing more for other outputs.
    pub fn abort(mut self) -> Result<(), LogError> {
        self.done = true;
        if let Some(part) = self.file.as_ref().and_then(|r| r.part.as_ref()) {
            std::fs::remove_file(part).map_err(|e| LogError::io(&self.name, e))?;
        }
        Ok(())
    }
}

impl<W: Write> Drop for Writer<W> {
    fn drop(&mut self) {
        if !self.done {
            // Best effort: keep what was buffered in a `.part` that readers can still read.
            let _ = self.flush_block();
        }
    }
}

/// The message inside a record, for the records that carry one.
fn message_of(record: &Record) -> Option<&Message> {
    match record {
        Record::Request(m) => Some(m),
        Record::Response(r) | Record::Interim(r) | Record::Orphan(r) => Some(&r.message),
        _ => None,
    }
}

/// Bytes a frame takes: kind, varint length, body.
fn frame_len(body_len: usize) -> usize {
    let mut varint = Vec::with_capacity(10);
    put_varint(&mut varint, body_len as u64);
    1 + varint.len() + body_len
}

fn push_frame(out: &mut Vec<u8>, kind: u8, body: &[u8]) {
    out.push(kind);
    put_varint(out, body.len() as u64);
    out.extend_from_slice(body);
}

fn encode_error(name: &str, e: postcard::Error) -> LogError {
    LogError::io(name, io::Error::other(format!("encoding a record: {e}")))
}
