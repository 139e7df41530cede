//! Live capture from network devices through libpcap.
//!
//! [`LiveCapture::open`] opens one libpcap handle per `--interface` (this is what needs root or
//! `cap_net_raw,cap_net_admin`; privileges can be dropped right after). [`LiveCapture::start`]
//! gives each handle a thread of its own that does nothing but read frames (a non-blocking
//! handle and a 50 ms `poll` on its socket — libpcap's read timeout does not reliably return on
//! Linux) and copy them into batches, and hands the batches to one bounded queue. The
//! consumer — the extraction thread — takes them from [`LiveSource`].
//!
//! The capture threads never wait for the consumer: when the queue holds `queue_bytes` (counted
//! as the capacity of the batches in it), a full batch is dropped and its frames are counted as
//! queue drops (`InterfaceCounters::queue_drops`); the kernel's own drops and the interface's are
//! read with `pcap_stats` every second. Batches go back to a small pool once read, so a steady
//! capture allocates nothing.
//!
//! Where bytes are copied: libpcap's ring (memory-mapped, filled by the kernel) → the batch
//! (one copy per frame, in the capture thread). Everything after borrows from the batch until the
//! HTTP stage copies message bytes.
//!
//! Stopping ([`LiveSource::stop`], on SIGINT/SIGTERM): each thread reads what the kernel ring
//! still holds (for at most [`DRAIN_TIME`]), hands over
//! its last batch, and ends; [`LiveSource::poll`] returns [`Poll::Ended`] once every thread has
//! ended and the queue is empty.
//!
//! Timestamps are asked of libpcap in nanoseconds (Linux supports it for every device).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pcap::{Active, Capture, Precision};

use super::Frame;
use super::FrameSource;
use crate::exit::{Classify, Status};
use crate::metrics::Metric;

/// How long a stopping capture thread keeps reading what the kernel ring holds.
pub const DRAIN_TIME: Duration = Duration::from_secs(2);

/// A batch is handed over once it holds this many bytes of frames …
const BATCH_BYTES: usize = 256 << 10;
/// … or this many frames …
const BATCH_FRAMES: usize = 512;
/// … or its frames span this much capture time (and whenever the ring is empty).
const BATCH_AGE: Duration = Duration::from_millis(5);
/// Without immediate mode, the kernel hands over a block of frames at most this long after its
/// first frame (libpcap's read timeout, which is TPACKET_V3's block retire timeout on Linux).
pub const BLOCK_TIMEOUT_MS: i32 = 10;
/// How long a thread waits for a frame before looking at its stop flag and handing over what it has.
const POLL_MS: u16 = 50;
/// Most batches in the queue, whatever their size.
const QUEUE_BATCHES: usize = 1024;
/// Spare batches kept for reuse.
const POOL_BATCHES: usize = 8;

/// What to capture and how.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// Devices to open (`any` is libpcap's all-devices pseudo-device).
    pub interfaces: Vec<String>,
    /// Bytes kept of each frame.
    pub snaplen: u32,
    /// Size of the kernel's capture ring per interface, in bytes.
    pub buffer_bytes: u32,
    /// Promiscuous mode (not on `any`, where libpcap cannot).
    pub promisc: bool,
    /// BPF filter compiled into each handle.
    pub filter: Option<String>,
    /// libpcap's immediate mode: each frame is handed over as it arrives (one wakeup per frame,
    /// which costs the host CPU under load). Off, the kernel hands over blocks of frames when a
    /// block is full or [`BLOCK_TIMEOUT_MS`] after its first frame.
    pub immediate: bool,
    /// Most bytes of frames waiting between the capture threads and the consumer.
    pub queue_bytes: usize,
}

/// Why a live capture could not start or went on failing.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The interface does not exist.
    #[error("--interface {interface}: no such device ({reason})")]
    NoSuchDevice {
        /// The interface.
        interface: String,
        /// What libpcap said.
        reason: String,
    },
    /// Not allowed to capture.
    #[error(
        "--interface {interface}: not allowed to capture ({reason}); run as root, or give the binary cap_net_raw,cap_net_admin with setcap"
    )]
    Permission {
        /// The interface.
        interface: String,
        /// What libpcap said.
        reason: String,
    },
    /// The device could not be opened for another reason.
    #[error("--interface {interface}: cannot capture: {reason}")]
    Open {
        /// The interface.
        interface: String,
        /// What libpcap said.
        reason: String,
    },
    /// The BPF filter does not compile for the device's link type.
    #[error("--filter {filter:?}: {reason}")]
    BadFilter {
        /// The filter as compiled.
        filter: String,
        /// What libpcap said.
        reason: String,
    },
    /// Reading failed (the device went away, for instance).
    #[error("--interface {interface}: capture failed: {reason}")]
    Read {
        /// The interface.
        interface: String,
        /// What libpcap said.
        reason: String,
    },
    /// A capture thread could not be started.
    #[error("cannot start a capture thread: {0}")]
    Thread(std::io::Error),
}

impl Classify for LiveError {
    fn status(&self) -> Status {
        match self {
            LiveError::NoSuchDevice { .. } | LiveError::BadFilter { .. } => Status::BadInput,
            _ => Status::Runtime,
        }
    }
}

/// Counters of one interface, updated by its capture thread.
#[derive(Debug, Clone, Default)]
pub struct InterfaceCounters {
    /// Frames read from libpcap.
    pub packets: Metric,
    /// Captured bytes of those frames.
    pub bytes: Metric,
    /// Frames the kernel dropped because the ring was full (`pcap_stats` `ps_drop`).
    pub kernel_drops: Metric,
    /// Frames the interface or its driver dropped (`ps_ifdrop`).
    pub interface_drops: Metric,
    /// Frames read but dropped because the queue to the extraction thread was full.
    pub queue_drops: Metric,
}

struct Handle {
    name: String,
    capture: Capture<Active>,
    linktype: i32,
}

/// Capture handles, open and filtered, not yet read.
pub struct LiveCapture {
    handles: Vec<Handle>,
    queue_bytes: usize,
}

impl LiveCapture {
    /// Opens and activates every interface with the settings of `config` and compiles the filter
    /// into each. Errors name the interface or the filter.
    pub fn open(config: &LiveConfig) -> Result<LiveCapture, LiveError> {
        let mut handles = Vec::with_capacity(config.interfaces.len());
        for name in &config.interfaces {
            handles.push(open_one(name, config)?);
        }
        Ok(LiveCapture {
            handles,
            queue_bytes: config.queue_bytes.max(BATCH_BYTES),
        })
    }

    /// The interfaces opened, with their link types (libpcap DLT values).
    pub fn interfaces(&self) -> Vec<(String, i32)> {
        self.handles
            .iter()
            .map(|h| (h.name.clone(), h.linktype))
            .collect()
    }

    /// Starts one capture thread per interface, counting into `counters` (one per interface, in
    /// the order opened; missing ones are made up and not shown anywhere).
    pub fn start(self, counters: Vec<InterfaceCounters>) -> Result<LiveSource, LiveError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE_BATCHES);
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            queued_bytes: AtomicUsize::new(0),
            queue_bytes: self.queue_bytes,
            pool: Mutex::new(Vec::new()),
        });
        let mut counters = counters.into_iter();
        let mut threads = Vec::with_capacity(self.handles.len());
        for handle in self.handles {
            let thread = CaptureThread {
                counters: counters.next().unwrap_or_default(),
                name: handle.name.clone(),
                linktype: handle.linktype,
                tx: tx.clone(),
                shared: shared.clone(),
                last_stats: pcap::Stat {
                    received: 0,
                    dropped: 0,
                    if_dropped: 0,
                },
            };
            let capture = handle.capture;
            let spawned = std::thread::Builder::new()
                .name(format!("reel-capture-{}", handle.name))
                .spawn(move || thread.run(capture));
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    shared.stop.store(true, Ordering::Relaxed);
                    return Err(LiveError::Thread(e));
                }
            }
        }
        Ok(LiveSource {
            rx,
            shared,
            current: None,
            pos: 0,
            threads,
        })
    }
}

fn pcap_message(err: pcap::Error) -> String {
    match err {
        pcap::Error::PcapError(message) => message,
        other => other.to_string(),
    }
}

fn open_one(name: &str, config: &LiveConfig) -> Result<Handle, LiveError> {
    let classify = |err: pcap::Error| {
        let reason = pcap_message(err);
        let lower = reason.to_ascii_lowercase();
        if lower.contains("no such device") {
            LiveError::NoSuchDevice {
                interface: name.to_owned(),
                reason,
            }
        } else if lower.contains("permission") || lower.contains("not permitted") {
            LiveError::Permission {
                interface: name.to_owned(),
                reason,
            }
        } else {
            LiveError::Open {
                interface: name.to_owned(),
                reason,
            }
        }
    };
    let promisc = config.promisc && name != "any";
    if config.promisc && !promisc {
        tracing::warn!("--promisc: libpcap cannot set promiscuous mode on \"any\"; ignored");
    }
    let mut capture = Capture::from_device(name)
        .map_err(classify)?
        .snaplen(i32::try_from(config.snaplen).unwrap_or(i32::MAX))
        .buffer_size(i32::try_from(config.buffer_bytes).unwrap_or(i32::MAX))
        .promisc(promisc)
        .immediate_mode(config.immediate)
        .timeout(BLOCK_TIMEOUT_MS)
        .precision(Precision::Nano)
        .open()
        .and_then(Capture::setnonblock)
        .map_err(classify)?;
    if let Some(filter) = &config.filter {
        capture
            .filter(filter, true)
            .map_err(|e| LiveError::BadFilter {
                filter: filter.clone(),
                reason: pcap_message(e),
            })?;
    }
    let linktype = capture.get_datalink().0;
    Ok(Handle {
        name: name.to_owned(),
        capture,
        linktype,
    })
}

/// Where a frame sits in its batch.
#[derive(Debug, Clone, Copy)]
struct Slot {
    ts_ns: u64,
    wire_len: u32,
    start: u32,
    len: u32,
}

/// Frames of one interface, copied out of libpcap's ring.
struct Batch {
    linktype: i32,
    data: Vec<u8>,
    slots: Vec<Slot>,
    /// Capture time of the first frame (the kernel's clock: no clock read per frame here).
    first_ts_ns: Option<u64>,
    /// Capture time of the last frame.
    last_ts_ns: u64,
}

impl Batch {
    fn new(linktype: i32) -> Batch {
        // Grown as frames come (a quiet capture's batches stay small); reused from the pool.
        Batch {
            linktype,
            data: Vec::new(),
            slots: Vec::new(),
            first_ts_ns: None,
            last_ts_ns: 0,
        }
    }

    /// Memory the batch holds (what the queue bound counts).
    fn footprint(&self) -> usize {
        self.data.capacity() + self.slots.capacity() * std::mem::size_of::<Slot>()
    }

    fn clear(&mut self) {
        self.data.clear();
        self.slots.clear();
        self.first_ts_ns = None;
        self.last_ts_ns = 0;
    }

    /// Capture time between the first and the last frame.
    fn age_ns(&self) -> u64 {
        self.first_ts_ns
            .map_or(0, |first| self.last_ts_ns.saturating_sub(first))
    }

    fn full(&self) -> bool {
        self.data.len() >= BATCH_BYTES || self.slots.len() >= BATCH_FRAMES
    }

    fn frame(&self, i: usize) -> Option<Frame<'_>> {
        let slot = self.slots.get(i)?;
        let start = slot.start as usize;
        Some(Frame {
            ts_ns: slot.ts_ns,
            linktype: self.linktype,
            data: self.data.get(start..start + slot.len as usize)?,
            wire_len: slot.wire_len,
        })
    }
}

/// What the capture threads and the consumer share.
struct Shared {
    stop: AtomicBool,
    /// Footprint of the batches in the queue.
    queued_bytes: AtomicUsize,
    queue_bytes: usize,
    pool: Mutex<Vec<Batch>>,
}

impl Shared {
    fn take(&self, linktype: i32) -> Batch {
        let spare = self
            .pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        match spare {
            Some(mut b) => {
                b.linktype = linktype;
                b.clear();
                b
            }
            None => Batch::new(linktype),
        }
    }

    fn give_back(&self, mut batch: Batch) {
        batch.clear();
        if batch.data.capacity() > 2 * BATCH_BYTES {
            batch.data.shrink_to(BATCH_BYTES);
        }
        let mut pool = self
            .pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if pool.len() < POOL_BATCHES {
            pool.push(batch);
        }
    }
}

struct CaptureThread {
    name: String,
    linktype: i32,
    counters: InterfaceCounters,
    tx: SyncSender<Batch>,
    shared: Arc<Shared>,
    last_stats: pcap::Stat,
}

/// The outcome of handing a batch over.
enum Handover {
    Sent,
    /// The queue is full; the batch is given back.
    Full(Batch),
    /// The consumer is gone.
    Gone,
}

impl CaptureThread {
    fn run(mut self, capture: Capture<Active>) -> Result<(), LiveError> {
        let result = self.capture(capture);
        if let Err(e) = &result {
            tracing::error!("{e}");
        }
        result
    }

    fn capture(&mut self, mut capture: Capture<Active>) -> Result<(), LiveError> {
        let mut batch = self.shared.take(self.linktype);
        let mut stats_at = Instant::now();
        // The clock is read when the ring is empty or every 4096 frames, not per frame.
        let mut since_clock = 0u32;
        while !self.shared.stop.load(Ordering::Relaxed) {
            let look_at_clock;
            match capture.next_packet() {
                Ok(packet) => {
                    self.add(&mut batch, &packet);
                    since_clock += 1;
                    look_at_clock = since_clock >= 4096;
                    if batch.full() {
                        batch = match self.hand_over(batch) {
                            Handover::Sent => self.shared.take(self.linktype),
                            Handover::Full(mut b) => {
                                self.counters.queue_drops.add(b.slots.len() as u64);
                                b.clear();
                                b
                            }
                            Handover::Gone => return Ok(()),
                        };
                    } else if batch.age_ns() >= BATCH_AGE.as_nanos() as u64 {
                        batch = match self.hand_over(batch) {
                            Handover::Sent => self.shared.take(self.linktype),
                            // Not full yet: keep filling it, the queue may have room later.
                            Handover::Full(b) => b,
                            Handover::Gone => return Ok(()),
                        };
                    }
                }
                // The handle is non-blocking: the ring is empty. Hand over what was read, then
                // wait for the socket (libpcap's own timeout cannot be relied on to return).
                Err(pcap::Error::TimeoutExpired | pcap::Error::NoMorePackets) => {
                    if !batch.slots.is_empty() {
                        batch = match self.hand_over(batch) {
                            Handover::Sent => self.shared.take(self.linktype),
                            Handover::Full(b) => b,
                            Handover::Gone => return Ok(()),
                        };
                    }
                    wait_readable(&capture, POLL_MS);
                    look_at_clock = true;
                }
                Err(e) => {
                    self.read_stats(&mut capture);
                    return Err(LiveError::Read {
                        interface: self.name.clone(),
                        reason: pcap_message(e),
                    });
                }
            }
            if look_at_clock {
                since_clock = 0;
                if stats_at.elapsed() >= Duration::from_secs(1) {
                    stats_at = Instant::now();
                    self.read_stats(&mut capture);
                }
            }
        }
        self.drain(capture, batch)
    }

    /// Reads what the kernel ring still holds, then hands over the last batch.
    fn drain(&mut self, mut capture: Capture<Active>, mut batch: Batch) -> Result<(), LiveError> {
        let deadline = Instant::now() + DRAIN_TIME;
        while Instant::now() < deadline {
            match capture.next_packet() {
                Ok(packet) => {
                    self.add(&mut batch, &packet);
                    if batch.full() {
                        if !self.send_before(batch, deadline) {
                            return Ok(());
                        }
                        batch = self.shared.take(self.linktype);
                    }
                }
                Err(_) => break,
            }
        }
        self.read_stats(&mut capture);
        self.send_before(batch, deadline);
        Ok(())
    }

    fn add(&mut self, batch: &mut Batch, packet: &pcap::Packet<'_>) {
        let start = batch.data.len();
        batch.data.extend_from_slice(packet.data);
        batch.slots.push(Slot {
            ts_ns: timeval_ns(packet.header.ts.tv_sec, packet.header.ts.tv_usec),
            wire_len: packet.header.len.max(packet.header.caplen),
            start: start as u32,
            len: packet.data.len() as u32,
        });
        let ts_ns = batch.slots.last().map_or(0, |s| s.ts_ns);
        batch.first_ts_ns.get_or_insert(ts_ns);
        batch.last_ts_ns = ts_ns;
        self.counters.packets.inc();
        self.counters.bytes.add(packet.data.len() as u64);
    }

    fn hand_over(&self, batch: Batch) -> Handover {
        let size = batch.footprint();
        let queued = self.shared.queued_bytes.load(Ordering::Relaxed);
        if queued + size > self.shared.queue_bytes {
            return Handover::Full(batch);
        }
        self.shared.queued_bytes.fetch_add(size, Ordering::Relaxed);
        match self.tx.try_send(batch) {
            Ok(()) => Handover::Sent,
            Err(TrySendError::Full(b)) => {
                self.shared.queued_bytes.fetch_sub(size, Ordering::Relaxed);
                Handover::Full(b)
            }
            Err(TrySendError::Disconnected(_)) => Handover::Gone,
        }
    }

    /// Hands a batch over, waiting for room until `deadline` (only while stopping); false when it
    /// had to be dropped or the consumer is gone.
    fn send_before(&self, mut batch: Batch, deadline: Instant) -> bool {
        if batch.slots.is_empty() {
            self.shared.give_back(batch);
            return true;
        }
        loop {
            match self.hand_over(batch) {
                Handover::Sent => return true,
                Handover::Gone => return false,
                Handover::Full(b) if Instant::now() >= deadline => {
                    self.counters.queue_drops.add(b.slots.len() as u64);
                    return false;
                }
                Handover::Full(b) => {
                    batch = b;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }

    /// Adds what `pcap_stats` counted since the last call (its counters are 32-bit and wrap).
    fn read_stats(&mut self, capture: &mut Capture<Active>) {
        let Ok(now) = capture.stats() else {
            return;
        };
        let dropped = now.dropped.wrapping_sub(self.last_stats.dropped);
        let if_dropped = now.if_dropped.wrapping_sub(self.last_stats.if_dropped);
        self.counters.kernel_drops.add(u64::from(dropped));
        self.counters.interface_drops.add(u64::from(if_dropped));
        self.last_stats = now;
    }
}

/// Waits until the handle has frames to read, at most `ms` milliseconds.
fn wait_readable(capture: &Capture<Active>, ms: u16) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let mut fds = [PollFd::new(capture.as_fd(), PollFlags::POLLIN)];
    // An interrupted or failed wait only means reading again sooner.
    let _ = poll(&mut fds, PollTimeout::from(ms));
}

/// A libpcap timestamp (seconds, nanoseconds) in ns since the epoch; times before the epoch
/// become 0.
fn timeval_ns(seconds: i64, nanoseconds: i64) -> u64 {
    let ns = i128::from(seconds) * 1_000_000_000 + i128::from(nanoseconds);
    u64::try_from(ns.max(0)).unwrap_or(u64::MAX)
}

/// What [`LiveSource::poll`] found.
#[derive(Debug)]
pub enum Poll<'a> {
    /// The next frame.
    Frame(Frame<'a>),
    /// Nothing arrived within the wait.
    Idle,
    /// Every capture thread has ended and the queue is empty.
    Ended,
}

/// The consumer's side of a live capture: frames in the order the queue got them (per
/// interface, in capture order).
pub struct LiveSource {
    rx: Receiver<Batch>,
    shared: Arc<Shared>,
    current: Option<Batch>,
    pos: usize,
    threads: Vec<std::thread::JoinHandle<Result<(), LiveError>>>,
}

impl LiveSource {
    /// The next frame, waiting at most `wait` for one.
    pub fn poll(&mut self, wait: Duration) -> Poll<'_> {
        let exhausted = self
            .current
            .as_ref()
            .is_none_or(|b| self.pos >= b.slots.len());
        if exhausted {
            if let Some(done) = self.current.take() {
                self.shared.give_back(done);
            }
            match self.rx.recv_timeout(wait) {
                Ok(batch) => {
                    self.shared
                        .queued_bytes
                        .fetch_sub(batch.footprint(), Ordering::Relaxed);
                    self.current = Some(batch);
                    self.pos = 0;
                }
                Err(RecvTimeoutError::Timeout) => return Poll::Idle,
                Err(RecvTimeoutError::Disconnected) => return Poll::Ended,
            }
        }
        let i = self.pos;
        self.pos += 1;
        match self.current.as_ref().and_then(|b| b.frame(i)) {
            Some(frame) => Poll::Frame(frame),
            None => Poll::Idle,
        }
    }

    /// Asks every capture thread to drain the kernel ring and end.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }

    /// A handle that stops the capture from elsewhere (a signal watcher).
    pub fn stopper(&self) -> Stopper {
        Stopper(self.shared.clone())
    }

    /// Bytes of frames waiting in the queue.
    pub fn queued_bytes(&self) -> usize {
        self.shared.queued_bytes.load(Ordering::Relaxed)
    }

    /// Waits for the capture threads (after [`Poll::Ended`]) and returns the first error any of
    /// them ended with.
    pub fn join(&mut self) -> Result<(), LiveError> {
        let mut first = Ok(());
        for t in self.threads.drain(..) {
            let result = t.join().unwrap_or_else(|_| {
                Err(LiveError::Read {
                    interface: "?".into(),
                    reason: "the capture thread panicked".into(),
                })
            });
            if first.is_ok() {
                first = result;
            }
        }
        first
    }
}

impl Drop for LiveSource {
    fn drop(&mut self) {
        self.stop();
    }
}

impl FrameSource for LiveSource {
    /// Blocks until a frame arrives; `None` once the capture has stopped and been drained.
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, super::CaptureError> {
        loop {
            // Polled twice to satisfy the borrow checker: the first poll only waits.
            match self.poll(Duration::from_millis(100)) {
                Poll::Frame(_) => {
                    self.pos -= 1;
                    break;
                }
                Poll::Idle => continue,
                Poll::Ended => return Ok(None),
            }
        }
        Ok(match self.poll(Duration::ZERO) {
            Poll::Frame(f) => Some(f),
            _ => None,
        })
    }
}

/// Stops a live capture from another thread.
#[derive(Clone)]
pub struct Stopper(Arc<Shared>);

impl Stopper {
    /// Asks every capture thread to drain and end.
    pub fn stop(&self) {
        self.0.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_lend_their_frames() {
        let mut b = Batch::new(1);
        b.data.extend_from_slice(b"abcdef");
        b.slots.push(Slot {
            ts_ns: 5,
            wire_len: 4,
            start: 0,
            len: 2,
        });
        b.slots.push(Slot {
            ts_ns: 6,
            wire_len: 9,
            start: 2,
            len: 4,
        });
        let f = b.frame(1).unwrap();
        assert_eq!(
            (f.ts_ns, f.data, f.wire_len, f.linktype),
            (6, &b"cdef"[..], 9, 1)
        );
        assert!(b.frame(2).is_none());
    }

    #[test]
    fn missing_devices_are_bad_input() {
        let e = LiveCapture::open(&LiveConfig {
            interfaces: vec!["reel-nodev0".into()],
            snaplen: 65535,
            buffer_bytes: 1 << 20,
            promisc: false,
            filter: None,
            immediate: false,
            queue_bytes: 1 << 20,
        })
        .err()
        .unwrap();
        // As root the device is missing; as a user, permission is refused first.
        assert!(
            matches!(
                e,
                LiveError::NoSuchDevice { .. } | LiveError::Permission { .. }
            ),
            "{e}"
        );
        assert!(
            e.to_string().starts_with("--interface reel-nodev0: "),
            "{e}"
        );
    }
}
