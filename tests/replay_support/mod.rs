//! Test parts for replay: logs written with the log writer from realistic request bytes, an
//! in-process hyper server that records the raw bytes it read (and when it wrote) per connection,
//! with controlled behaviour by path, and a runner for `reel replay` in-process.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use reel::exchange::{Counters, Message, Record, ReplayResult, Response as ProdResponse};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

/// A request message of a test log.
pub fn request(conn: u64, index: u32, ts_ns: u64, bytes: &[u8]) -> Record {
    let head_len = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(bytes.len(), |p| p + 4) as u32;
    Record::Request(Message {
        conn,
        index,
        client: SocketAddr::from(([10, 9, 0, 2], 40000 + (conn % 20000) as u16)),
        server: SocketAddr::from(([10, 9, 0, 1], 80)),
        first_ts_ns: ts_ns,
        last_ts_ns: ts_ns,
        bytes: Bytes::copy_from_slice(bytes),
        head_len,
        body_len: (bytes.len() as u64).saturating_sub(u64::from(head_len)),
        truncation: None,
        external_id: None,
    })
}

/// The production response to `(conn, index)`.
pub fn response(conn: u64, index: u32, ts_ns: u64, status: u16, latency_ns: u64) -> Record {
    let bytes = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
    let Record::Request(mut m) = request(conn, index, ts_ns, bytes.as_bytes()) else {
        unreachable!()
    };
    m.client = SocketAddr::from(([10, 9, 0, 2], 40000 + (conn % 20000) as u16));
    Record::Response(ProdResponse {
        message: m,
        status,
        latency_ns: Some(latency_ns),
        latency_last_ns: Some(latency_ns),
    })
}

/// Writes records (sorted by time, stable) to a new log.
pub fn write_log(path: &Path, mut records: Vec<Record>) {
    records.sort_by_key(Record::ts_ns);
    let mut w = reel::log::create(path, Default::default()).unwrap();
    for r in &records {
        w.write(r).unwrap();
    }
    w.finish(Counters::default()).unwrap();
}

/// Reads the result records of a results log.
pub fn read_results(path: &Path) -> Vec<ReplayResult> {
    reel::log::open(path)
        .unwrap()
        .filter_map(|r| match r.unwrap() {
            Record::Result(r) => Some(r),
            _ => None,
        })
        .collect()
}

/// Runs `reel replay ARGS… --json=PATH` in-process; returns the exit status code and the JSON.
pub fn replay(dir: &Path, args: &[&str]) -> (u8, serde_json::Value) {
    let json = dir.join(format!(
        "summary-{}.json",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let mut argv: Vec<String> = vec!["reel".into(), "replay".into()];
    argv.extend(args.iter().map(|s| s.to_string()));
    argv.push(format!("--json={}", json.display()));
    let cli = reel::cli::Cli::try_parse_from(&argv).unwrap();
    let code = match reel::cmd::dispatch(cli) {
        Ok(status) => status.code(),
        Err(e) => {
            eprintln!("error: {e:#}");
            reel::exit::classify(&e).code()
        }
    };
    let value = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    (code, value)
}

/// What a server connection saw: reads (time, bytes) and writes (time).
#[derive(Debug, Clone)]
pub enum Event {
    /// Bytes read from the client.
    Read(Instant, Vec<u8>),
    /// A write of the response.
    Write(Instant),
}

/// All connections a server accepted, in accept order.
pub type Seen = Arc<Mutex<Vec<Arc<Mutex<Vec<Event>>>>>>;

/// The bytes a connection read, concatenated.
pub fn read_bytes(events: &[Event]) -> Vec<u8> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Read(_, b) => Some(b.clone()),
            Event::Write(_) => None,
        })
        .flatten()
        .collect()
}

struct Recording<S> {
    inner: S,
    events: Arc<Mutex<Vec<Event>>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Recording<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let new = buf.filled()[before..].to_vec();
            if !new.is_empty() {
                self.events
                    .lock()
                    .unwrap()
                    .push(Event::Read(Instant::now(), new));
            }
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recording<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            if n > 0 {
                self.events
                    .lock()
                    .unwrap()
                    .push(Event::Write(Instant::now()));
            }
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Behaviour by path: `/slow/MS` answers after MS ms; `/status/CODE`; `/reset` closes the
/// connection without answering; `/never` never answers; `/read-body` reads the body first
/// (so hyper sends `100 Continue` to `Expect`); anything else 200 "ok".
async fn handle(
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let path = req.uri().path().to_owned();
    let reply = |code: u16, body: &'static str| {
        let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
        *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
        Ok(r)
    };
    if let Some(ms) = path.strip_prefix("/slow/") {
        let ms: u64 = ms.parse().unwrap_or(10);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        return reply(200, "slow");
    }
    if let Some(code) = path.strip_prefix("/status/") {
        return reply(code.parse().unwrap_or(500), "status");
    }
    match path.as_str() {
        "/reset" => Err(std::io::Error::other("reset on purpose")),
        "/never" => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            reply(200, "late")
        }
        "/read-body" => {
            let _ = req.into_body().collect().await;
            reply(200, "read")
        }
        _ => reply(200, "ok"),
    }
}

/// A hyper HTTP/1.1 server on 127.0.0.1 (port 0), on its own runtime; stopped on drop.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What every connection read.
    pub seen: Seen,
    runtime: Option<tokio::runtime::Runtime>,
}

impl TestServer {
    /// Starts a plain HTTP server.
    pub fn start() -> TestServer {
        Self::start_with(None)
    }

    /// Starts a server, over TLS when an acceptor is given.
    pub fn start_with(tls: Option<tokio_rustls::TlsAcceptor>) -> TestServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Seen = Arc::default();
        let all = seen.clone();
        runtime.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let events = Arc::new(Mutex::new(Vec::new()));
                all.lock().unwrap().push(events.clone());
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(handle);
                    let builder = hyper::server::conn::http1::Builder::new();
                    match tls {
                        None => {
                            let io = hyper_util::rt::TokioIo::new(Recording { inner: tcp, events });
                            let _ = builder.serve_connection(io, service).await;
                        }
                        Some(acceptor) => {
                            let Ok(stream) = acceptor.accept(tcp).await else {
                                return;
                            };
                            let io = hyper_util::rt::TokioIo::new(Recording {
                                inner: stream,
                                events,
                            });
                            let _ = builder.serve_connection(io, service).await;
                        }
                    }
                });
            }
        });
        TestServer {
            addr,
            seen,
            runtime: Some(runtime),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Each connection's events, in accept order.
    pub fn connections(&self) -> Vec<Vec<Event>> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|c| c.lock().unwrap().clone())
            .collect()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// A server that answers every read with bytes that are not HTTP, keeping the connection open;
/// it runs on a detached thread until the test process ends.
pub struct GarbageServer {
    /// Where it listens.
    pub addr: SocketAddr,
}

impl GarbageServer {
    /// Starts it on 127.0.0.1 (port 0).
    pub fn start() -> GarbageServer {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            runtime.block_on(async move {
                loop {
                    let Ok((mut tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    tokio::spawn(async move {
                        use tokio::io::AsyncReadExt;
                        let mut buf = [0u8; 4096];
                        while let Ok(n) = tcp.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                            let _ = tcp.write_all(b"SSH-2.0-OpenSSH_9.2\r\n\r\n").await;
                        }
                    });
                }
            })
        });
        GarbageServer { addr }
    }
}

/// A port nothing listens on.
pub fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A temp dir for a test's files.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("reel-replay")
        .tempdir()
        .unwrap()
}

/// `dir/name` as a string.
pub fn path(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}
