//! Frame sources. [`OfflineSource`] reads pcap and pcapng files through libpcap, several files
//! merged by capture time; a live source (libpcap on a device) is the other producer of the same
//! [`Frame`]s, behind the same [`FrameSource`] trait.
//!
//! Merging is k-way: each file keeps one pending frame, copied into that file's reusable buffer;
//! [`OfflineSource::next_frame`] lends the earliest (ties: the file named first) and reads that
//! file's next frame on the following call. Within one file, frames keep the file's order.
//!
//! pcapng files whose interfaces mix link types are refused by libpcap when it reaches the
//! second link type; reading then goes on with reel's own pcapng reader
//! ([`super::pcapng`]), which gives each frame its interface's link type. The BPF filter is
//! then compiled once per link type (`pcap::Capture::dead`) and run on each frame (captured
//! length only: `len`/`greater`/`less` see the captured bytes, not the wire length).
//!
//! Never panics on file contents: libpcap and the pcapng reader check every record; what they
//! reject is a [`CaptureError`] or, for a file cut mid-record, the end of that file (counted in
//! [`OfflineSource::truncated_files`]).

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use pcap::{BpfProgram, Capture, Linktype, Offline, Precision};

use super::Frame;
use super::error::CaptureError;
use super::link::linktype;
use super::pcapng;

/// Something that produces frames one at a time: files now, a capture device later.
pub trait FrameSource {
    /// The next frame, `None` when the source is exhausted. The frame borrows the source until
    /// the next call.
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError>;
}

/// What was read from one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStats {
    /// The file as named.
    pub path: PathBuf,
    /// Frames delivered from it (after the filter).
    pub frames: u64,
    /// Link types of its frames (libpcap's DLT values; pcapng LINKTYPE values after a fallback),
    /// in order of first appearance.
    pub linktypes: Vec<i32>,
    /// The file ended in the middle of a record; the frames before were kept.
    pub truncated: bool,
    /// libpcap refused the file's mix of link types and reel's pcapng reader took over.
    pub pcapng_fallback: bool,
}

/// pcap/pcapng files read through libpcap, merged by capture time.
pub struct OfflineSource {
    inputs: Vec<Input>,
    filter: Option<String>,
    /// The input whose frame was lent last; it reads its next frame on the next call.
    lent: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Its next frame has not been read yet.
    NeedsRead,
    /// `frame_*` and `buf` hold its next frame.
    Ready,
    /// Nothing more to read.
    Done,
}

enum Reader {
    Libpcap {
        capture: Capture<Offline>,
        linktype: i32,
    },
    Pcapng {
        reader: Box<pcapng::Reader<BufReader<File>>>,
        /// BPF programs compiled so far, by link type.
        programs: Vec<(i32, BpfProgram)>,
    },
    Closed,
}

struct Input {
    stats: FileStats,
    reader: Reader,
    state: State,
    ts_ns: u64,
    linktype: i32,
    wire_len: u32,
    buf: Vec<u8>,
}

/// What libpcap says when a pcapng file's interfaces have different link types.
const MIXED_LINKTYPES: &str = "different from the type of the first interface";

impl OfflineSource {
    /// Opens every file (pcap or pcapng, by content, not by name), applying `filter` (BPF) to
    /// each. Fails on the first file that is missing, unreadable or not a capture, or when the
    /// filter does not compile.
    pub fn open(paths: &[PathBuf], filter: Option<&str>) -> Result<Self, CaptureError> {
        if paths.is_empty() {
            return Err(CaptureError::NoFiles);
        }
        let mut inputs = Vec::with_capacity(paths.len());
        for path in paths {
            inputs.push(Input::open(path, filter)?);
        }
        Ok(OfflineSource {
            inputs,
            filter: filter.map(str::to_owned),
            lent: None,
        })
    }

    /// The next frame in capture-time order across the files; `None` when all are read.
    ///
    /// After an error, the file that failed is closed; the caller usually stops there (the
    /// frames before the error were delivered).
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        if let Some(index) = self.lent.take() {
            if let Some(input) = self.inputs.get_mut(index) {
                input.state = State::NeedsRead;
            }
        }
        let filter = self.filter.as_deref();
        let mut earliest: Option<(u64, usize)> = None;
        for (index, input) in self.inputs.iter_mut().enumerate() {
            if input.state == State::NeedsRead {
                if let Err(err) = input.read_next(filter) {
                    input.state = State::Done;
                    input.reader = Reader::Closed;
                    return Err(err);
                }
            }
            if input.state == State::Ready && earliest.is_none_or(|(ts, _)| input.ts_ns < ts) {
                earliest = Some((input.ts_ns, index));
            }
        }
        let Some((_, index)) = earliest else {
            return Ok(None);
        };
        self.lent = Some(index);
        Ok(self.inputs.get(index).map(|input| Frame {
            ts_ns: input.ts_ns,
            linktype: input.linktype,
            data: &input.buf,
            wire_len: input.wire_len,
        }))
    }

    /// What was read from each file, in the order given.
    pub fn file_stats(&self) -> Vec<&FileStats> {
        self.inputs.iter().map(|input| &input.stats).collect()
    }

    /// Files that ended in the middle of a record.
    pub fn truncated_files(&self) -> u64 {
        self.inputs.iter().filter(|i| i.stats.truncated).count() as u64
    }
}

impl FrameSource for OfflineSource {
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        OfflineSource::next_frame(self)
    }
}

impl Input {
    fn open(path: &Path, filter: Option<&str>) -> Result<Input, CaptureError> {
        let file = File::open(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => CaptureError::NotFound {
                path: path.to_owned(),
            },
            _ => CaptureError::Io {
                path: path.to_owned(),
                source,
            },
        })?;
        let metadata = file.metadata().map_err(|source| CaptureError::Io {
            path: path.to_owned(),
            source,
        })?;
        if !metadata.is_file() {
            return Err(CaptureError::NotAFile {
                path: path.to_owned(),
            });
        }
        drop(file);
        if path.to_str().is_none() {
            return Err(CaptureError::PathNotUtf8 {
                path: path.to_owned(),
            });
        }
        let mut capture = Capture::from_file_with_precision(path, Precision::Nano)
            .map_err(|err| open_error(path, err))?;
        if let Some(filter) = filter {
            capture
                .filter(filter, true)
                .map_err(|err| CaptureError::BadFilter {
                    filter: filter.to_owned(),
                    reason: pcap_message(err),
                })?;
        }
        let linktype = capture.get_datalink().0;
        Ok(Input {
            stats: FileStats {
                path: path.to_owned(),
                frames: 0,
                linktypes: vec![linktype],
                truncated: false,
                pcapng_fallback: false,
            },
            reader: Reader::Libpcap { capture, linktype },
            state: State::NeedsRead,
            ts_ns: 0,
            linktype,
            wire_len: 0,
            buf: Vec::new(),
        })
    }

    /// Reads the next frame into `buf`, or marks the input done.
    fn read_next(&mut self, filter: Option<&str>) -> Result<(), CaptureError> {
        loop {
            match &mut self.reader {
                Reader::Libpcap { capture, linktype } => match capture.next_packet() {
                    Ok(packet) => {
                        self.ts_ns = timeval_ns(packet.header.ts.tv_sec, packet.header.ts.tv_usec);
                        self.linktype = *linktype;
                        self.wire_len = packet.header.len.max(packet.header.caplen);
                        self.buf.clear();
                        self.buf.extend_from_slice(packet.data);
                        self.stats.frames += 1;
                        self.state = State::Ready;
                        return Ok(());
                    }
                    Err(pcap::Error::NoMorePackets) => {
                        self.finish();
                        return Ok(());
                    }
                    Err(pcap::Error::PcapError(message)) if message.contains(MIXED_LINKTYPES) => {
                        self.switch_to_pcapng(filter)?;
                    }
                    Err(pcap::Error::PcapError(message)) if message.contains("truncated") => {
                        self.truncated();
                        return Ok(());
                    }
                    Err(pcap::Error::PcapError(message))
                        if message.starts_with("error reading dump file") =>
                    {
                        return Err(CaptureError::Io {
                            path: self.stats.path.clone(),
                            source: std::io::Error::other(message),
                        });
                    }
                    Err(err) => {
                        return Err(CaptureError::CorruptRecord {
                            path: self.stats.path.clone(),
                            frames_read: self.stats.frames,
                            reason: pcap_message(err),
                        });
                    }
                },
                Reader::Pcapng { .. } => return self.read_pcapng(filter),
                Reader::Closed => {
                    self.state = State::Done;
                    return Ok(());
                }
            }
        }
    }

    fn read_pcapng(&mut self, filter: Option<&str>) -> Result<(), CaptureError> {
        let Reader::Pcapng { reader, programs } = &mut self.reader else {
            return Ok(());
        };
        loop {
            match reader.next_packet() {
                Ok(Some(packet)) => {
                    if let Some(filter) = filter {
                        if !passes(programs, filter, packet.linktype, packet.data)? {
                            continue;
                        }
                    }
                    self.ts_ns = packet.ts_ns;
                    self.linktype = packet.linktype;
                    self.wire_len = packet.wire_len;
                    self.buf.clear();
                    self.buf.extend_from_slice(packet.data);
                    self.stats.frames += 1;
                    if !self.stats.linktypes.contains(&packet.linktype) {
                        self.stats.linktypes.push(packet.linktype);
                    }
                    self.state = State::Ready;
                    return Ok(());
                }
                Ok(None) => {
                    self.finish();
                    return Ok(());
                }
                Err(pcapng::ReadError::Truncated) => {
                    self.truncated();
                    return Ok(());
                }
                Err(pcapng::ReadError::Io(source)) => {
                    return Err(CaptureError::Io {
                        path: self.stats.path.clone(),
                        source,
                    });
                }
                Err(pcapng::ReadError::Corrupt(reason)) => {
                    return Err(CaptureError::CorruptRecord {
                        path: self.stats.path.clone(),
                        frames_read: self.stats.frames,
                        reason,
                    });
                }
                Err(pcapng::ReadError::NotPcapng) => {
                    return Err(CaptureError::CorruptRecord {
                        path: self.stats.path.clone(),
                        frames_read: self.stats.frames,
                        reason: "libpcap and reel's pcapng reader disagree on the format".into(),
                    });
                }
            }
        }
    }

    /// libpcap stopped at an interface of a second link type: reopen the file with reel's
    /// pcapng reader and skip the frames libpcap already delivered (counting, when there is a
    /// filter, only those that pass it, as libpcap did).
    fn switch_to_pcapng(&mut self, filter: Option<&str>) -> Result<(), CaptureError> {
        let path = self.stats.path.clone();
        let corrupt = |reason: String| CaptureError::CorruptRecord {
            path: path.clone(),
            frames_read: self.stats.frames,
            reason,
        };
        let file = File::open(&path).map_err(|source| CaptureError::Io {
            path: path.clone(),
            source,
        })?;
        let mut reader = match pcapng::Reader::new(BufReader::with_capacity(1 << 16, file)) {
            Ok(reader) => Box::new(reader),
            Err(pcapng::ReadError::Io(source)) => {
                return Err(CaptureError::Io {
                    path: path.clone(),
                    source,
                });
            }
            Err(err) => return Err(corrupt(format!("{err:?}"))),
        };
        let mut programs = Vec::new();
        let mut skipped = 0u64;
        while skipped < self.stats.frames {
            match reader.next_packet() {
                Ok(Some(packet)) => {
                    let counts = match filter {
                        Some(filter) => {
                            passes(&mut programs, filter, packet.linktype, packet.data)?
                        }
                        None => true,
                    };
                    if counts {
                        skipped += 1;
                    }
                }
                Ok(None) | Err(pcapng::ReadError::Truncated) => {
                    return Err(corrupt(
                        "reel's pcapng reader finds fewer frames than libpcap".into(),
                    ));
                }
                Err(pcapng::ReadError::Io(source)) => {
                    return Err(CaptureError::Io {
                        path: path.clone(),
                        source,
                    });
                }
                Err(err) => return Err(corrupt(format!("{err:?}"))),
            }
        }
        tracing::debug!(
            file = %path.display(),
            "pcapng interfaces mix link types; reading on with reel's pcapng reader"
        );
        self.stats.pcapng_fallback = true;
        self.reader = Reader::Pcapng { reader, programs };
        Ok(())
    }

    fn truncated(&mut self) {
        tracing::warn!(
            "{}: the file ends in the middle of a record (cut short, or still being written); \
             keeping the {} frames before it",
            self.stats.path.display(),
            self.stats.frames
        );
        self.stats.truncated = true;
        self.finish();
    }

    fn finish(&mut self) {
        self.state = State::Done;
        self.reader = Reader::Closed;
    }
}

/// Runs the filter, compiled for `link` (once per link type), on one frame.
fn passes(
    programs: &mut Vec<(i32, BpfProgram)>,
    filter: &str,
    link: i32,
    data: &[u8],
) -> Result<bool, CaptureError> {
    if let Some((_, program)) = programs.iter().find(|(l, _)| *l == link) {
        return Ok(program.filter(data));
    }
    // libpcap compiles for DLT values; files carry LINKTYPE values, which differ for raw IP.
    let dlt = if link == linktype::RAW {
        linktype::RAW_12
    } else {
        link
    };
    let bad_filter = |reason: String| CaptureError::BadFilter {
        filter: filter.to_owned(),
        reason: format!("for link type {link}: {reason}"),
    };
    let dead = Capture::dead(Linktype(dlt)).map_err(|e| bad_filter(pcap_message(e)))?;
    let program = dead
        .compile(filter, true)
        .map_err(|e| bad_filter(pcap_message(e)))?;
    let verdict = program.filter(data);
    programs.push((link, program));
    Ok(verdict)
}

/// A libpcap timestamp (seconds, nanoseconds with `Precision::Nano`) in ns since the epoch;
/// times before the epoch become 0, past year 2554 `u64::MAX`.
fn timeval_ns(seconds: i64, nanoseconds: i64) -> u64 {
    let ns = i128::from(seconds) * 1_000_000_000 + i128::from(nanoseconds);
    u64::try_from(ns.max(0)).unwrap_or(u64::MAX)
}

fn pcap_message(err: pcap::Error) -> String {
    match err {
        pcap::Error::PcapError(message) => message,
        other => other.to_string(),
    }
}

/// Classifies libpcap's refusal to open a file.
fn open_error(path: &Path, err: pcap::Error) -> CaptureError {
    let path = path.to_owned();
    let reason = pcap_message(err);
    if reason.contains("unknown file format") {
        CaptureError::NotACapture { path, reason }
    } else if reason.contains("truncated") {
        CaptureError::CorruptHeader {
            path,
            reason: format!("the file ends inside its header ({reason})"),
        }
    } else {
        CaptureError::CorruptHeader { path, reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_clamp_to_u64() {
        assert_eq!(timeval_ns(1, 5), 1_000_000_005);
        assert_eq!(timeval_ns(-1, 0), 0);
        assert_eq!(timeval_ns(i64::MAX, 0), u64::MAX);
    }
}
