//! The HTTP/1.1 client: our own, on tokio, because replay must write the recorded bytes as they
//! are (header order and case, repeated fields, odd targets, chunked bodies, pipelining), which
//! hyper's client normalises or refuses. It writes bytes and frames staging's responses with
//! [`crate::http::framing`], the code the capture side frames production's with.
//!
//! One task per connection ([`run_connection`]), fed jobs by the scheduler: in mirror mode its own
//! queue (one recorded connection), in pool mode a queue shared by `--concurrency` tasks. A job is
//! written when the connection is idle or, when it was pipelined in production, at once behind the
//! requests still waiting for their responses. 1xx interim responses are read, counted and
//! skipped; responses to HEAD have no body; bodies delimited by the close end with it. Errors are
//! classified into [`ErrorKind`] and become results; nothing here stops the run.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc};
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use crate::exchange::{ErrorKind, ReplayResult};
use crate::http::framing::{BodyKind, Head, Kind, MessageFramer, Version};
use crate::runtime::now_ns;

use super::schedule::Job;
use super::target::Target;

/// Maps monotonic instants to ns since the Unix epoch, from one reading of both clocks.
#[derive(Debug, Clone, Copy)]
pub struct Epoch {
    at: Instant,
    unix_ns: u64,
}

impl Epoch {
    /// Reads both clocks now.
    pub fn now() -> Epoch {
        Epoch {
            at: Instant::now(),
            unix_ns: now_ns(),
        }
    }

    /// `t` in ns since the Unix epoch.
    pub fn ns(&self, t: Instant) -> u64 {
        if t >= self.at {
            self.unix_ns.saturating_add((t - self.at).as_nanos() as u64)
        } else {
            self.unix_ns.saturating_sub((self.at - t).as_nanos() as u64)
        }
    }

    /// The instant of `ns` since the Unix epoch (the inverse of [`Epoch::ns`]).
    pub fn instant(&self, ns: u64) -> Instant {
        if ns >= self.unix_ns {
            self.at + Duration::from_nanos(ns - self.unix_ns)
        } else {
            self.at
                .checked_sub(Duration::from_nanos(self.unix_ns - ns))
                .unwrap_or(self.at)
        }
    }
}

/// What a connection task reports for one job.
#[derive(Debug)]
pub struct Outcome {
    /// The result record.
    pub result: ReplayResult,
    /// 1xx interim responses read before the final one.
    pub interim: u32,
    /// An `Expect: 100-continue` request whose body was never recorded got a 100 from staging:
    /// it could not be completed and its connection was closed.
    pub incomplete: bool,
}

/// Counters the progress display reads while the run goes.
#[derive(Debug, Default)]
pub struct Live {
    /// Requests whose first byte was written.
    pub sent: AtomicU64,
    /// Jobs finished (any outcome).
    pub finished: AtomicU64,
    /// Finished with a final response.
    pub ok: AtomicU64,
    /// Finished with an error.
    pub errors: AtomicU64,
    /// Connections opened.
    pub connects: AtomicU64,
    /// Largest lag (µs) since the progress display last took it.
    pub lag_max_us: AtomicU64,
}

/// What every connection task shares.
pub struct ConnCtx {
    /// The targets, by index.
    pub targets: Arc<Vec<Target>>,
    /// TLS, when a target is https.
    pub tls: Option<TlsConnector>,
    /// `--connect-timeout` (TCP connect plus TLS handshake).
    pub connect_timeout: Duration,
    /// `--timeout`: from the first byte written to the end of the response.
    pub timeout: Duration,
    /// Where outcomes go.
    pub results: mpsc::Sender<Outcome>,
    /// Progress counters.
    pub live: Arc<Live>,
    /// Bytes of each response body kept in the result (the head is always kept); `None` keeps
    /// no head and no names either (no `--results` and no comparison reads them).
    pub keep_body: Option<usize>,
    /// Clock mapping.
    pub epoch: Epoch,
    /// `(I, N)` of `--shard I/N`.
    pub shard: (u32, u32),
}

/// Where a connection task takes its jobs.
pub enum JobSource {
    /// Its own queue (mirror mode): it may take the next job while responses are awaited, to
    /// write it at once when it was pipelined.
    Own(mpsc::Receiver<Job>),
    /// The pool's shared queue: a job is taken only when the connection is idle.
    Shared(Arc<Mutex<mpsc::Receiver<Job>>>),
}

impl JobSource {
    async fn next(&mut self) -> Option<Job> {
        match self {
            JobSource::Own(rx) => rx.recv().await,
            JobSource::Shared(rx) => rx.lock().await.recv().await,
        }
    }

    fn prefetch(&self) -> bool {
        matches!(self, JobSource::Own(_))
    }
}

/// A plain or TLS connection.
enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The kind of a failed read or write.
fn classify_io(e: &io::Error) -> ErrorKind {
    use io::ErrorKind as K;
    match e.kind() {
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            ErrorKind::Reset
        }
        K::TimedOut => ErrorKind::Timeout,
        K::InvalidData => ErrorKind::Tls,
        _ => ErrorKind::Io,
    }
}

/// Opens a connection to `target` within the connect timeout: TCP, then TLS when https.
async fn connect(ctx: &ConnCtx, target: &Target) -> Result<Stream, ErrorKind> {
    let mut last = ErrorKind::ConnectRefused;
    for addr in &target.addrs {
        let tcp = match tokio::time::timeout(ctx.connect_timeout, TcpStream::connect(addr)).await {
            Err(_) => {
                last = ErrorKind::ConnectTimeout;
                continue;
            }
            Ok(Err(e)) => {
                last = match e.kind() {
                    io::ErrorKind::TimedOut => ErrorKind::ConnectTimeout,
                    io::ErrorKind::ConnectionRefused => ErrorKind::ConnectRefused,
                    _ => ErrorKind::Io,
                };
                continue;
            }
            Ok(Ok(tcp)) => tcp,
        };
        let _ = tcp.set_nodelay(true);
        ctx.live.connects.fetch_add(1, Ordering::Relaxed);
        if !target.tls {
            return Ok(Stream::Plain(tcp));
        }
        let (Some(tls), Ok(name)) = (&ctx.tls, target.server_name()) else {
            return Err(ErrorKind::Tls);
        };
        return match tokio::time::timeout(ctx.connect_timeout, tls.connect(name, tcp)).await {
            Err(_) => Err(ErrorKind::ConnectTimeout),
            Ok(Err(e)) => {
                tracing::debug!("TLS handshake with {}: {e}", target.url);
                Err(ErrorKind::Tls)
            }
            Ok(Ok(s)) => Ok(Stream::Tls(Box::new(s))),
        };
    }
    Err(last)
}

/// A written request waiting for its response.
struct Inflight {
    job: Job,
    intended: Instant,
    sent: Instant,
    request_bytes: u64,
    first_byte: Option<Instant>,
    status: Option<u16>,
    interim: u32,
    response_bytes: u64,
    kept: Vec<u8>,
    keep_left: usize,
    close_after: bool,
}

/// One connection's state.
struct Conn {
    ctx: Arc<ConnCtx>,
    stream: Option<(Stream, usize)>,
    inflight: VecDeque<Inflight>,
    framer: MessageFramer,
    buf: BytesMut,
}

/// Runs one connection until its job source ends and every response is in (or failed).
/// `preconnect`: open a connection to this target before the first job (a failure is only
/// reported when a job needs the connection).
pub async fn run_connection(ctx: Arc<ConnCtx>, mut source: JobSource, preconnect: Option<usize>) {
    let mut c = Conn {
        ctx,
        stream: None,
        inflight: VecDeque::new(),
        framer: MessageFramer::new(Kind::Response(Default::default())),
        buf: BytesMut::with_capacity(16 * 1024),
    };
    if let Some(t) = preconnect.and_then(|i| c.ctx.targets.get(i).map(|t| (i, t))) {
        if let Ok(s) = connect(&c.ctx, t.1).await {
            c.stream = Some((s, t.0));
        }
    }
    let mut next: Option<Job> = None;
    let mut source_done = false;
    loop {
        if next.is_none() && !source_done && c.inflight.is_empty() {
            next = c.idle_wait(&mut source).await;
            source_done = next.is_none();
        }
        if c.inflight.is_empty() && next.is_none() {
            if source_done {
                break;
            }
            continue;
        }
        if let Some(job) = next.take() {
            let same_target = c
                .stream
                .as_ref()
                .is_some_and(|(_, t)| *t == job.planned.target);
            if c.inflight.is_empty() || (job.planned.pipelined && same_target) {
                c.write(job).await;
                continue;
            }
            next = Some(job);
        }
        // Responses are awaited.
        let Some(front) = c.inflight.front() else {
            continue;
        };
        let deadline = front.sent + c.ctx.timeout;
        let Some((stream, _)) = c.stream.as_mut() else {
            c.fail_all(ErrorKind::Reset).await;
            continue;
        };
        let may_take = next.is_none() && !source_done && source.prefetch();
        c.buf.reserve(16 * 1024);
        tokio::select! {
            r = stream.read_buf(&mut c.buf) => {
                let now = Instant::now();
                match r {
                    Ok(0) => c.eof(now).await,
                    Ok(_) => c.process(now).await,
                    Err(e) => {
                        c.close();
                        c.fail_all(classify_io(&e)).await;
                    }
                }
            }
            j = source.next(), if may_take => {
                source_done = j.is_none();
                next = j;
            }
            () = tokio::time::sleep_until(deadline) => {
                c.close();
                c.fail_all(ErrorKind::Timeout).await;
            }
        }
    }
    if let Some((mut s, _)) = c.stream.take() {
        let _ = tokio::time::timeout(Duration::from_millis(100), s.shutdown()).await;
    }
}

impl Conn {
    /// Waits for the next job while the connection is idle, noticing when staging closes it.
    async fn idle_wait(&mut self, source: &mut JobSource) -> Option<Job> {
        loop {
            let Some((stream, _)) = self.stream.as_mut() else {
                return source.next().await;
            };
            self.buf.clear();
            self.buf.reserve(4096);
            tokio::select! {
                j = source.next() => return j,
                r = stream.read_buf(&mut self.buf) => {
                    // Staging closed an idle connection (or sent bytes nobody asked for).
                    if !matches!(r, Ok(n) if n > 0) {
                        self.stream = None;
                    }
                    self.buf.clear();
                }
            }
        }
    }

    fn close(&mut self) {
        self.stream = None;
        self.buf.clear();
    }

    /// Writes a job's bytes, connecting first when needed.
    async fn write(&mut self, mut job: Job) {
        let ctx = self.ctx.clone();
        let intended = *job.intended.get_or_insert_with(Instant::now);
        let target = job.planned.target;
        if self.stream.as_ref().is_some_and(|(_, t)| *t != target) {
            self.close();
        }
        if self.stream.is_none() {
            let Some(t) = ctx.targets.get(target) else {
                self.emit_unsent(job, intended, ErrorKind::Io).await;
                return;
            };
            match connect(&ctx, t).await {
                Ok(s) => self.stream = Some((s, target)),
                Err(kind) => {
                    self.emit_unsent(job, intended, kind).await;
                    return;
                }
            }
        }
        if self.inflight.is_empty() {
            self.buf.clear();
            self.framer.reset(Kind::Response(job.planned.context));
        }
        let Some((stream, _)) = self.stream.as_mut() else {
            return;
        };
        let bytes: Bytes = job.planned.bytes.clone();
        let sent = Instant::now();
        ctx.live.sent.fetch_add(1, Ordering::Relaxed);
        ctx.live.lag_max_us.fetch_max(
            sent.saturating_duration_since(intended).as_micros() as u64,
            Ordering::Relaxed,
        );
        let written = tokio::time::timeout(ctx.timeout, async {
            stream.write_all(&bytes).await?;
            stream.flush().await
        })
        .await;
        let keep = ctx.keep_body;
        self.inflight.push_back(Inflight {
            job,
            intended,
            sent,
            request_bytes: bytes.len() as u64,
            first_byte: None,
            status: None,
            interim: 0,
            response_bytes: 0,
            kept: Vec::new(),
            keep_left: keep.unwrap_or(0),
            close_after: false,
        });
        let error = match written {
            Ok(Ok(())) => return,
            Ok(Err(e)) => classify_io(&e),
            Err(_) => ErrorKind::Timeout,
        };
        self.close();
        self.fail_all(error).await;
    }

    /// The connection ended: a body delimited by the close is complete; anything else failed.
    async fn eof(&mut self, now: Instant) {
        self.stream = None;
        if self.framer.until_close() && self.framer.finish().is_ok() {
            if let Some(front) = self.inflight.pop_front() {
                self.emit(front, Some(now), None, false).await;
            }
        }
        self.buf.clear();
        self.fail_all(ErrorKind::Reset).await;
    }

    /// Frames what was read, completing responses in order.
    async fn process(&mut self, now: Instant) {
        let keep_heads = self.ctx.keep_body.is_some();
        while !self.buf.is_empty() {
            let Some(front) = self.inflight.front_mut() else {
                // Bytes nobody asked for: drop them.
                self.buf.clear();
                return;
            };
            let framed = match self.framer.push(&self.buf) {
                Ok(f) => f,
                Err(_) => {
                    self.close();
                    self.fail_all(ErrorKind::Malformed).await;
                    return;
                }
            };
            if front.first_byte.is_none() && (framed.consumed > 0 || self.framer.started()) {
                front.first_byte = Some(now);
            }
            let used = framed.skipped + framed.consumed;
            let mut body_from = framed.skipped;
            if let Some(head) = framed.head {
                let status = head.status().unwrap_or(0);
                if is_interim(status) {
                    // Saturating: a flood of 1xx (millions a second) ends only with --timeout.
                    front.interim = front.interim.saturating_add(1);
                    front.response_bytes += used as u64;
                    self.buf.advance(used);
                    if front.job.planned.expect_unsent && status == 100 {
                        // Staging wants the body the client never sent: give up this connection.
                        if let Some(f) = self.inflight.pop_front() {
                            self.emit(f, None, None, true).await;
                        }
                        self.close();
                        self.fail_all(ErrorKind::Reset).await;
                        return;
                    }
                    front.first_byte = None;
                    self.framer.reset(Kind::Response(front.job.planned.context));
                    continue;
                }
                front.status = Some(status);
                front.close_after = closes_after(&head);
                if keep_heads {
                    let end = (framed.skipped + head.len).min(self.buf.len());
                    front
                        .kept
                        .extend_from_slice(self.buf.get(framed.skipped..end).unwrap_or_default());
                }
                body_from = framed.skipped + head.len;
            }
            if front.keep_left > 0 {
                let body = self.buf.get(body_from..used).unwrap_or_default();
                let n = body.len().min(front.keep_left);
                front.kept.extend_from_slice(&body[..n]);
                front.keep_left -= n;
            }
            front.response_bytes += used as u64;
            self.buf.advance(used);
            if framed.done {
                let close = front.close_after;
                if let Some(f) = self.inflight.pop_front() {
                    self.emit(f, Some(now), None, false).await;
                }
                if close {
                    self.close();
                    self.fail_all(ErrorKind::Reset).await;
                    return;
                }
                if let Some(n) = self.inflight.front() {
                    self.framer.reset(Kind::Response(n.job.planned.context));
                }
            } else if used == 0 {
                return;
            }
        }
    }

    /// Every request still waiting gets `kind` (the connection is gone).
    async fn fail_all(&mut self, kind: ErrorKind) {
        self.close();
        while let Some(f) = self.inflight.pop_front() {
            self.emit(f, None, Some(kind), false).await;
        }
    }

    async fn emit_unsent(&mut self, job: Job, intended: Instant, kind: ErrorKind) {
        let ctx = &self.ctx;
        let mut result = base_result(ctx, &job, intended);
        result.error = Some(kind);
        ctx.live.finished.fetch_add(1, Ordering::Relaxed);
        ctx.live.errors.fetch_add(1, Ordering::Relaxed);
        let _ = ctx
            .results
            .send(Outcome {
                result,
                interim: 0,
                incomplete: false,
            })
            .await;
    }

    async fn emit(
        &mut self,
        f: Inflight,
        done: Option<Instant>,
        error: Option<ErrorKind>,
        incomplete: bool,
    ) {
        let ctx = &self.ctx;
        let mut result = base_result(ctx, &f.job, f.intended);
        result.sent_ns = ctx.epoch.ns(f.sent);
        result.request_bytes = f.request_bytes;
        result.response_bytes = f.response_bytes;
        result.error = error;
        if error.is_none() && !incomplete {
            result.status = f.status;
            result.first_byte_ns = f.first_byte.map_or(0, |t| ctx.epoch.ns(t));
            result.last_byte_ns = done.map_or(0, |t| ctx.epoch.ns(t));
        }
        if ctx.keep_body.is_some() {
            result.response = Bytes::from(f.kept);
        }
        ctx.live.finished.fetch_add(1, Ordering::Relaxed);
        if error.is_some() {
            ctx.live.errors.fetch_add(1, Ordering::Relaxed);
        } else if result.status.is_some() {
            ctx.live.ok.fetch_add(1, Ordering::Relaxed);
        }
        let _ = ctx
            .results
            .send(Outcome {
                result,
                interim: f.interim,
                incomplete,
            })
            .await;
    }
}

/// A 1xx other than 101: read, counted and skipped; the final response to the request follows.
fn is_interim(status: u16) -> bool {
    (100..200).contains(&status) && status != 101
}

/// True when the connection cannot carry another exchange after this response (the client
/// closes it and fails what was pipelined behind it).
fn closes_after(head: &Head) -> bool {
    head.close
        || head.version != Version::Http11
        || matches!(head.body, BodyKind::Tunnel | BodyKind::UntilClose)
}

/// One response as the client's read loop completed it, for [`fuzz_response_framing`].
#[cfg(feature = "testing")]
#[derive(Debug, PartialEq, Eq)]
struct Completed {
    status: u16,
    interim: u32,
    head_len: usize,
    body_len: usize,
    wire_len: usize,
}

/// How a simulated connection ended, for [`fuzz_response_framing`].
#[cfg(feature = "testing")]
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    /// Every read was framed; this many requests still wait (the client fails them at the close).
    Eof { waiting: usize },
    /// A response could not be framed (`ErrorKind::Malformed`).
    Malformed,
    /// A response ended the connection (close, HTTP/1.0, tunnel, body until the close).
    Closed,
}

/// The client's read loop ([`Conn::process`] and [`Conn::eof`]) without the socket: frames
/// `reads` as staging's responses to requests of `contexts` (pipelined), checking each step's
/// invariants. Returns the completed responses, how the connection ended and the bytes framed.
#[cfg(feature = "testing")]
fn frame_reads<'a>(
    contexts: &[crate::http::framing::RequestContext],
    reads: impl Iterator<Item = &'a [u8]>,
) -> (Vec<Completed>, Ending, usize) {
    use crate::http::framing::StartLine;
    let mut waiting = contexts.iter().copied();
    let mut front = waiting.next();
    let mut framer = MessageFramer::new(Kind::Response(front.unwrap_or_default()));
    let mut buf = BytesMut::new();
    let mut done = Vec::new();
    let mut framed_total = 0usize;
    let (mut interim, mut head_len, mut status, mut body_len, mut wire_len) = (0, 0, 0, 0, 0);
    let mut body_kind = None;
    for read in reads {
        buf.extend_from_slice(read);
        while !buf.is_empty() {
            let Some(context) = front else {
                buf.clear();
                break;
            };
            let Ok(f) = framer.push(&buf) else {
                return (done, Ending::Malformed, framed_total);
            };
            let used = f.skipped + f.consumed;
            assert!(
                used <= buf.len(),
                "framer used {used} of {} bytes",
                buf.len()
            );
            framed_total += used;
            let mut body = f.consumed;
            if let Some(head) = f.head {
                assert!(
                    head.len <= f.consumed,
                    "head of {} in {}",
                    head.len,
                    f.consumed
                );
                let s = head.status().unwrap_or(0);
                assert!(matches!(head.start, StartLine::Response { .. }));
                if is_interim(s) {
                    assert!(f.done && head.body == BodyKind::None, "1xx with a body");
                    interim += 1;
                    wire_len += used;
                    buf.advance(used);
                    framer.reset(Kind::Response(context));
                    continue;
                }
                // What the request's method and the status decide, whatever the fields say.
                let connect = context.method == crate::http::framing::Method::Connect;
                if s == 101 || (connect && (200..300).contains(&s)) {
                    assert_eq!(head.body, BodyKind::Tunnel, "status {s} to {context:?}");
                } else if context.method == crate::http::framing::Method::Head
                    || s == 204
                    || s == 304
                {
                    assert_eq!(head.body, BodyKind::None, "status {s} to {context:?}");
                }
                status = s;
                head_len = head.len;
                body = f.consumed - head.len;
                body_kind = Some((head.body, closes_after(&head)));
            }
            body_len += body;
            wire_len += used;
            buf.advance(used);
            if f.done {
                let Some((kind, close)) = body_kind.take() else {
                    panic!("a response completed without a head");
                };
                match kind {
                    BodyKind::None | BodyKind::Tunnel => assert_eq!(body_len, 0),
                    BodyKind::Length(n) => assert_eq!(body_len as u64, n),
                    // The shortest: `0\n\n` (bare line feeds are accepted).
                    BodyKind::Chunked => assert!(body_len >= 3, "chunked body of {body_len}"),
                    BodyKind::UntilClose => panic!("a body until the close ended early"),
                }
                done.push(Completed {
                    status,
                    interim: std::mem::take(&mut interim),
                    head_len,
                    body_len: std::mem::take(&mut body_len),
                    wire_len: std::mem::take(&mut wire_len),
                });
                if close {
                    return (done, Ending::Closed, framed_total);
                }
                front = waiting.next();
                if let Some(next) = front {
                    framer.reset(Kind::Response(next));
                }
            } else if used == 0 {
                break;
            }
        }
    }
    if front.is_some() && framer.until_close() && framer.finish().is_ok() {
        done.push(Completed {
            status,
            interim,
            head_len,
            body_len,
            wire_len,
        });
        return (done, Ending::Closed, framed_total);
    }
    let waiting = usize::from(front.is_some()) + waiting.count();
    (done, Ending::Eof { waiting }, framed_total)
}

/// Fuzz entry point (`fuzz/fuzz_targets/replay_response.rs`; `tests/fuzz_corpus_replay.rs` runs
/// its seeds in CI): staging's bytes framed the way the client's read loop frames them, for up to
/// four pipelined requests. Byte 0 picks each request's method (two bits each: GET, HEAD,
/// CONNECT, HTTP/0.9 GET), byte 1 how many of the next bytes give read sizes (1..=256); the
/// rest is what staging sends. Checks: bytes used never exceed those read; a completed
/// response's body length is what its framing says (HEAD, 204, 304 and 1xx: none; 2xx to
/// CONNECT: a tunnel); reading in pieces completes the same responses as one read. Panics only
/// when one of those fails (a bug), never on the input itself. Fuzz-only.
#[cfg(feature = "testing")]
pub fn fuzz_response_framing(data: &[u8]) {
    use crate::http::framing::{Method, RequestContext};
    let [methods, cuts, rest @ ..] = data else {
        return;
    };
    let contexts: Vec<RequestContext> = (0..4)
        .map(|i| {
            let (method, version) = match (methods >> (2 * i)) & 3 {
                0 => (Method::Get, Version::Http11),
                1 => (Method::Head, Version::Http11),
                2 => (Method::Connect, Version::Http11),
                _ => (Method::Get, Version::Http09),
            };
            RequestContext { method, version }
        })
        .collect();
    let n = usize::from(cuts & 15).min(rest.len());
    let (sizes, stream) = rest.split_at(n);
    let mut pieces = Vec::new();
    let mut left = stream;
    for &size in sizes {
        let (piece, tail) = left.split_at((usize::from(size) + 1).min(left.len()));
        pieces.push(piece);
        left = tail;
    }
    pieces.push(left);
    let (whole, whole_end, whole_used) = frame_reads(&contexts, std::iter::once(stream));
    let (split, split_end, split_used) = frame_reads(&contexts, pieces.into_iter());
    assert!(whole_used <= stream.len() && split_used <= stream.len());
    let completed: usize = whole.iter().map(|c| c.wire_len).sum();
    assert!(
        completed <= whole_used,
        "{completed} bytes in responses, {whole_used} framed"
    );
    assert_eq!(whole, split, "responses differ when read in pieces");
    assert_eq!(
        whole_end, split_end,
        "the connection ends differently in pieces"
    );
}

/// The result of a job, times and outcome unset. The names (target, method, path, external id)
/// are filled only when a results log or the comparison keeps them: statistics do not read them.
fn base_result(ctx: &ConnCtx, job: &Job, intended: Instant) -> ReplayResult {
    let p = &job.planned;
    let names = ctx.keep_body.is_some();
    let name = |s: &String| if names { s.clone() } else { String::new() };
    ReplayResult {
        conn: p.conn,
        index: p.index,
        target: match ctx.targets.get(p.target) {
            Some(t) if names => t.url.clone(),
            _ => String::new(),
        },
        method: name(&p.method),
        path: name(&p.path),
        prod_status: p.prod_status,
        prod_latency_ns: p.prod_latency_ns,
        recorded_ts_ns: p.recorded_ts_ns,
        intended_ns: ctx.epoch.ns(intended),
        sent_ns: 0,
        first_byte_ns: 0,
        last_byte_ns: 0,
        status: None,
        request_bytes: 0,
        response_bytes: 0,
        response: Bytes::new(),
        external_id: if names { p.external_id.clone() } else { None },
        error: None,
        shard: ctx.shard.0,
        shards: ctx.shard.1,
        iteration: p.iteration,
        warmup: job.warmup,
        role: p.role,
    }
}
