//! Chaos staging for `reel replay`: real sockets on loopback, one misbehaving server per
//! behaviour (reset after the request, stall forever, close mid-body, garbage, endless 1xx,
//! one byte a second, never read). For each, a log of several connections is replayed with a
//! short `--timeout`, and the run must end within `requests per connection × timeout` plus
//! slack, classify every request exactly, and lose no result: results log == requests in the
//! log == sent + skipped, and the JSON and the results log's closing counters agree. Also: a
//! 1xx flood with no pause (the timer must win over reads that are always ready), pipelined
//! pairs failing together, and a mixed run sending four behaviours and a healthy server through
//! `--target-map`, mirrored and pooled.
//!
//! Each test prints a figures row (`| case | requests | outcomes | wall | exit |`) on stderr;
//! `cargo test --release --test replay_chaos -- --nocapture 2>&1 | grep '^| '` collects them.
//!
//! The wall-time bound is deliberately generous (seconds of slack): it proves the run ends, it
//! does not measure speed.
#![allow(clippy::unwrap_used)]

mod replay_support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reel::exchange::{Record, ReplayResult};
use replay_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const MS: u64 = 1_000_000;
const T0: u64 = 1_750_000_000_000_000_000;

/// How a chaos server misbehaves once it has a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chaos {
    /// Reads the request, then closes with SO_LINGER 0: an RST.
    Reset,
    /// Reads the request and never answers (keeps reading until the client leaves).
    Stall,
    /// Announces `Content-Length: 1000`, sends 300 bytes of it, closes (FIN).
    MidBody,
    /// Answers bytes that are not an HTTP/1.x response (four kinds, by connection).
    Garbage,
    /// Answers `100 Continue` and `103 Early Hints`, alternately, every 5 ms, forever.
    EndlessInterim,
    /// Answers `100 Continue` as fast as the socket takes them (blocks of 512), forever.
    InterimFlood,
    /// Sends a complete response one byte a second.
    Trickle,
    /// Accepts the connection and never reads it (its receive buffer is 4 KiB).
    NoRead,
}

/// Four kinds of garbage: binary bytes, a status that is not a number, a chunk size that is not
/// hex, a negative Content-Length. (A header line without a colon is not one: the framer skips
/// such lines, as it must on the capture side, and frames the rest.)
const GARBAGE: [&[u8]; 4] = [
    b"\x00\xff\x16\x03\x01\x02\x00garbage\r\n\r\n",
    b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nbody\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
];

/// What the trickle server sends, one byte at a time.
const TRICKLED: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/// What a chaos server counted.
#[derive(Debug, Default)]
struct Counts {
    /// Connections accepted.
    accepted: AtomicU64,
    /// Request heads read in full.
    heads: AtomicU64,
    /// Interim responses or trickled bytes written.
    written: AtomicU64,
}

/// A chaos server on 127.0.0.1 (ephemeral port), on a detached thread until the test process
/// ends.
struct ChaosServer {
    addr: SocketAddr,
    counts: Arc<Counts>,
}

impl ChaosServer {
    fn start(chaos: Chaos) -> ChaosServer {
        let counts = Arc::new(Counts::default());
        let shared = counts.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let socket = TcpSocket::new_v4().unwrap();
                if chaos == Chaos::NoRead {
                    // Accepted connections inherit it: the client's write blocks sooner.
                    socket.set_recv_buffer_size(4096).unwrap();
                }
                socket.bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
                let listener = socket.listen(1024).unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let nth = shared.accepted.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(serve(chaos, tcp, shared.clone(), nth));
                }
            });
        });
        ChaosServer {
            addr: rx.recv().unwrap(),
            counts,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn accepted(&self) -> u64 {
        self.counts.accepted.load(Ordering::SeqCst)
    }

    fn heads(&self) -> u64 {
        self.counts.heads.load(Ordering::SeqCst)
    }

    fn written(&self) -> u64 {
        self.counts.written.load(Ordering::SeqCst)
    }
}

/// Reads one request head (the logs here hold bodiless GETs); false when the client left first.
async fn read_head(tcp: &mut TcpStream) -> bool {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match tcp.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    true
}

/// Reads until the client closes, so that the server never closes first unless it means to.
async fn drain(tcp: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    while matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {}
}

async fn serve(chaos: Chaos, mut tcp: TcpStream, counts: Arc<Counts>, nth: u64) {
    if chaos == Chaos::NoRead {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(tcp);
        return;
    }
    if !read_head(&mut tcp).await {
        return;
    }
    counts.heads.fetch_add(1, Ordering::SeqCst);
    match chaos {
        Chaos::Reset => {
            tcp.set_zero_linger().unwrap();
            drop(tcp);
        }
        Chaos::Stall => drain(&mut tcp).await,
        Chaos::MidBody => {
            let mut bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec();
            bytes.extend_from_slice(&[b'b'; 300]);
            if tcp.write_all(&bytes).await.is_ok() && tcp.shutdown().await.is_ok() {
                drain(&mut tcp).await;
            }
        }
        Chaos::Garbage => {
            let garbage = GARBAGE[(nth % GARBAGE.len() as u64) as usize];
            if tcp.write_all(garbage).await.is_ok() {
                drain(&mut tcp).await;
            }
        }
        Chaos::EndlessInterim => {
            for i in 0u64.. {
                let interim: &[u8] = if i % 2 == 0 {
                    b"HTTP/1.1 100 Continue\r\n\r\n"
                } else {
                    b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n"
                };
                if tcp.write_all(interim).await.is_err() {
                    return;
                }
                counts.written.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        Chaos::InterimFlood => {
            let block = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(512);
            while tcp.write_all(&block).await.is_ok() {
                counts.written.fetch_add(512, Ordering::SeqCst);
            }
        }
        Chaos::Trickle => {
            for b in TRICKLED {
                if tcp.write_all(&[*b]).await.is_err() {
                    return;
                }
                counts.written.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            drain(&mut tcp).await;
        }
        Chaos::NoRead => {}
    }
}

/// A log of `conns` recorded connections of `per_conn` requests each; request `k` of
/// connection `c` goes to `hosts[(c + k) % hosts.len()]`. `body`: a POST with a body this long
/// instead of a GET.
fn chaos_log(path: &Path, hosts: &[&str], conns: u64, per_conn: u32, body: Option<usize>) {
    let mut records = Vec::new();
    for c in 0..conns {
        for k in 0..per_conn {
            let host = hosts[(c as usize + k as usize) % hosts.len()];
            let bytes = match body {
                None => format!("GET /chaos/{c}/{k} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes(),
                Some(len) => {
                    let mut b = format!(
                        "POST /chaos/{c}/{k} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len}\r\n\r\n"
                    )
                    .into_bytes();
                    b.resize(b.len() + len, b'x');
                    b
                }
            };
            let ts = T0 + c * MS + u64::from(k) * 10 * MS;
            records.push(request(c + 1, k, ts, &bytes));
        }
    }
    write_log(path, records);
}

/// How a result ended: its error kind, or its status.
fn outcome(r: &ReplayResult) -> String {
    match (r.error, r.status) {
        (Some(e), _) => e.as_str().to_owned(),
        (None, Some(s)) => s.to_string(),
        (None, None) => "none".to_owned(),
    }
}

/// What one replay run gave.
struct Run {
    code: u8,
    json: serde_json::Value,
    results: Vec<ReplayResult>,
    /// The results log's closing counters.
    closing: BTreeMap<String, u64>,
    wall: Duration,
}

/// Replays `log` with `args` (plus `--results` and `--connect-timeout 2s`), timing the run.
fn run(dir: &Path, log: &Path, args: &[&str]) -> Run {
    let results: PathBuf = dir.join(format!(
        "results-{}.reel",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let mut argv = vec![
        log.to_str().unwrap(),
        "--results",
        results.to_str().unwrap(),
        "--connect-timeout",
        "2s",
    ];
    argv.extend_from_slice(args);
    let started = Instant::now();
    let (code, json) = replay(dir, &argv);
    let wall = started.elapsed();
    let mut closing = BTreeMap::new();
    for record in reel::log::open(&results).unwrap() {
        if let Record::Closing(c) = record.unwrap() {
            closing.extend(c.values);
        }
    }
    Run {
        code,
        json,
        results: read_results(&results),
        closing,
        wall,
    }
}

/// The checks every case makes: exit 0, the run ended within `bound`, every request of the log
/// (`conns × per_conn`) has exactly one result, all were sent and none skipped, the outcomes
/// are exactly `expected`, and the JSON counts agree. Prints the figures row.
fn check(
    case: &str,
    r: &Run,
    conns: u64,
    per_conn: u32,
    expected: &[(&str, usize)],
    bound: Duration,
) {
    let n = conns as usize * per_conn as usize;
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for res in &r.results {
        *tally.entry(outcome(res)).or_default() += 1;
    }
    let shown = tally
        .iter()
        .map(|(k, v)| format!("{k} ×{v}"))
        .collect::<Vec<_>>()
        .join(", ");
    eprintln!(
        "| {case} | {n} ({conns} conns × {per_conn}) | {shown} | {:.2} s | {} |",
        r.wall.as_secs_f64(),
        r.code
    );
    let json = &r.json;
    // The run always finishes; its exit status is the verdict (changed on purpose, issue 12):
    // 3 when not one request got a response, 1 when more than 5% failed (the implicit
    // --max-error-rate gate), else 0.
    let failed = r.results.iter().filter(|x| x.error.is_some()).count();
    let answered = r
        .results
        .iter()
        .filter(|x| x.error.is_none() && x.status.is_some())
        .count();
    let verdict = if answered == 0 && failed > 0 {
        3
    } else if failed * 100 > 5 * r.results.len() {
        1
    } else {
        0
    };
    assert_eq!(r.code, verdict, "{case}: {json}");
    if verdict == 3 {
        assert!(
            json["no_response"]
                .as_str()
                .is_some_and(|l| l.starts_with("no response from http://127.0.0.1:")),
            "{case}: {json}"
        );
    }
    assert!(
        r.wall < bound,
        "{case}: the run took {:?}, more than {bound:?}",
        r.wall
    );
    // No result lost, none doubled.
    let keys: BTreeSet<(u64, u32)> = r.results.iter().map(|x| (x.conn, x.index)).collect();
    let want: BTreeSet<(u64, u32)> = (1..=conns)
        .flat_map(|c| (0..per_conn).map(move |k| (c, k)))
        .collect();
    assert_eq!(r.results.len(), n, "{case}: results log");
    assert_eq!(keys, want, "{case}: one result per request");
    assert_eq!(json["requests_read"], n, "{case}: {json}");
    assert_eq!(json["sent"], n, "{case}: {json}");
    assert_eq!(json["skipped"]["total"], 0, "{case}: {json}");
    assert!(r.results.iter().all(|x| x.sent_ns != 0), "{case}: all sent");
    // Classified exactly.
    let want: BTreeMap<String, usize> = expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), *v))
        .collect();
    assert_eq!(tally, want, "{case}: outcomes");
    let mut errors = 0;
    for (kind, count) in &tally {
        if kind.parse::<u16>().is_ok() {
            continue;
        }
        errors += count;
        assert_eq!(json["errors"][kind.as_str()], *count, "{case}: {json}");
    }
    assert_eq!(json["errors"]["total"], errors, "{case}: {json}");
    assert_eq!(json["completed"], n - errors, "{case}: {json}");
    // The results log's own closing counters agree.
    let closing = |k: &str| r.closing.get(k).copied();
    assert_eq!(
        [
            closing("sent"),
            closing("completed"),
            closing("errors"),
            closing("skipped")
        ],
        [
            Some(n as u64),
            Some((n - errors) as u64),
            Some(errors as u64),
            Some(0)
        ],
        "{case}: closing counters {:?}",
        r.closing
    );
}

/// Generous slack on top of the timeouts a run must wait out (startup, scheduling, a loaded
/// machine): proves the run ends, measures nothing.
const SLACK: Duration = Duration::from_secs(6);

/// One behaviour, one server, `--target` at it, `conns × per_conn` requests.
fn single(
    chaos: Chaos,
    conns: u64,
    per_conn: u32,
    timeout: &str,
    body: Option<usize>,
) -> (Run, ChaosServer) {
    let dir = tempdir();
    let log = dir.path().join("chaos.reel");
    chaos_log(&log, &["staging.chaos"], conns, per_conn, body);
    let server = ChaosServer::start(chaos);
    let r = run(
        dir.path(),
        &log,
        &["--target", &server.url(), "--timeout", timeout],
    );
    (r, server)
}

#[test]
fn reset_after_the_request_is_reset_and_ends_at_once() {
    let (r, server) = single(Chaos::Reset, 4, 3, "1s", None);
    // No timeout to wait out: only slack.
    check(
        "reset (RST after request)",
        &r,
        4,
        3,
        &[("reset", 12)],
        SLACK,
    );
    // Each request reached staging once: no retry, one connection each.
    assert_eq!((server.heads(), server.accepted()), (12, 12));
}

#[test]
fn stall_forever_times_out_each_request() {
    let (r, server) = single(Chaos::Stall, 4, 3, "1s", None);
    check(
        "stall (reads, never answers)",
        &r,
        4,
        3,
        &[("timeout", 12)],
        3 * Duration::from_secs(1) + SLACK,
    );
    assert_eq!((server.heads(), server.accepted()), (12, 12));
    // A timeout counts as a latency equal to the timeout.
    let max = r.json["staging"]["latency_ms"]["max"].as_f64().unwrap();
    assert!(max >= 999.0, "{}", r.json);
}

#[test]
fn close_mid_body_is_reset() {
    let (r, server) = single(Chaos::MidBody, 4, 3, "1s", None);
    check(
        "close mid-body (300 of 1000 bytes, FIN)",
        &r,
        4,
        3,
        &[("reset", 12)],
        SLACK,
    );
    assert_eq!((server.heads(), server.accepted()), (12, 12));
    // The 300 bytes read are not a response: no status, no last byte.
    assert!(
        r.results
            .iter()
            .all(|x| x.status.is_none() && x.last_byte_ns == 0)
    );
}

#[test]
fn garbage_of_four_kinds_is_malformed() {
    let (r, server) = single(Chaos::Garbage, 4, 3, "1s", None);
    check(
        "garbage (binary, bad status, bad chunk size, negative length)",
        &r,
        4,
        3,
        &[("malformed", 12)],
        SLACK,
    );
    // Each malformed response closes its connection: every kind of garbage was met 3 times.
    assert_eq!((server.heads(), server.accepted()), (12, 12));
}

#[test]
fn endless_interim_responses_end_with_the_timeout() {
    let (r, server) = single(Chaos::EndlessInterim, 4, 3, "1s", None);
    check(
        "endless 1xx (100/103 every 5 ms)",
        &r,
        4,
        3,
        &[("timeout", 12)],
        3 * Duration::from_secs(1) + SLACK,
    );
    assert_eq!((server.heads(), server.accepted()), (12, 12));
    // The interim responses were read and counted (every 5 ms for about a second, 12 times).
    let interim = r.json["interim"].as_u64().unwrap();
    eprintln!(
        "  endless 1xx: {interim} interim responses read, {} written",
        server.written()
    );
    assert!(interim >= 12, "{}", r.json);
    assert!(interim <= server.written(), "{}", r.json);
}

#[test]
fn a_flood_of_interim_responses_ends_with_the_timeout() {
    // Reads are always ready here: the timer must still win.
    let (r, server) = single(Chaos::InterimFlood, 1, 2, "1s", None);
    check(
        "1xx flood (100 Continue, no pause)",
        &r,
        1,
        2,
        &[("timeout", 2)],
        2 * Duration::from_secs(1) + SLACK,
    );
    assert_eq!((server.heads(), server.accepted()), (2, 2));
    let interim = r.json["interim"].as_u64().unwrap();
    eprintln!(
        "  1xx flood: {interim} interim responses read in 2 requests, {} written",
        server.written()
    );
    assert!(interim > 0 && interim <= server.written(), "{}", r.json);
}

#[test]
fn one_byte_a_second_times_out_on_the_whole_response() {
    // The gap between bytes (1 s) is well under --timeout (2.5 s): only a timeout on the whole
    // response ends these.
    let (r, server) = single(Chaos::Trickle, 3, 2, "2500ms", None);
    check(
        "trickle (1 byte/s, --timeout 2.5s)",
        &r,
        3,
        2,
        &[("timeout", 6)],
        2 * Duration::from_millis(2500) + SLACK,
    );
    assert_eq!((server.heads(), server.accepted()), (6, 6));
    // At least the bytes at 0 s and 1 s went out on each connection before it timed out.
    eprintln!("  trickle: {} bytes trickled in all", server.written());
    assert!(server.written() >= 2 * 6, "{}", server.written());
}

#[test]
fn a_server_that_never_reads_times_out_the_write() {
    // 8 MiB bodies: more than the client's largest send buffer (4 MiB here) and the server's
    // 4 KiB receive buffer, so the write blocks.
    let (r, server) = single(Chaos::NoRead, 2, 2, "1s", Some(8 << 20));
    check(
        "never reads (8 MiB POST, write blocks)",
        &r,
        2,
        2,
        &[("timeout", 4)],
        2 * Duration::from_secs(1) + SLACK,
    );
    assert_eq!(server.accepted(), 4);
}

/// The mixed log: five hosts, each connection's requests going round them, so every connection
/// meets every behaviour (and changes target, hence connection, at each request).
fn mixed(case: &str, extra: &[&str], bound: Duration) {
    let dir = tempdir();
    let log = dir.path().join("mixed.reel");
    let hosts = [
        "reset.chaos",
        "stall.chaos",
        "midbody.chaos",
        "interim.chaos",
        "ok.chaos",
    ];
    chaos_log(&log, &hosts, 5, 5, None);
    let reset = ChaosServer::start(Chaos::Reset);
    let stall = ChaosServer::start(Chaos::Stall);
    let mid = ChaosServer::start(Chaos::MidBody);
    let interim = ChaosServer::start(Chaos::EndlessInterim);
    let ok = TestServer::start();
    let maps: Vec<String> = [
        (hosts[0], reset.url()),
        (hosts[1], stall.url()),
        (hosts[2], mid.url()),
        (hosts[3], interim.url()),
        (hosts[4], ok.url()),
    ]
    .iter()
    .map(|(h, u)| format!("{h}={u}"))
    .collect();
    let mut args: Vec<&str> = Vec::new();
    for m in &maps {
        args.extend(["--target-map", m.as_str()]);
    }
    args.extend(["--timeout", "1s"]);
    args.extend_from_slice(extra);
    let r = run(dir.path(), &log, &args);
    check(
        case,
        &r,
        5,
        5,
        &[("200", 5), ("reset", 10), ("timeout", 10)],
        bound,
    );
    // Each server saw exactly its five requests.
    for s in [&reset, &stall, &mid, &interim] {
        assert_eq!(s.heads(), 5);
    }
    assert_eq!(ok.connections().len(), 5);
    // Results name the target each request went to.
    let mut by_target: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for x in &r.results {
        by_target
            .entry(x.target.clone())
            .or_default()
            .insert(outcome(x));
    }
    let set = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
    assert_eq!(by_target[&reset.url()], set(&["reset"]));
    assert_eq!(by_target[&stall.url()], set(&["timeout"]));
    assert_eq!(by_target[&mid.url()], set(&["reset"]));
    assert_eq!(by_target[&interim.url()], set(&["timeout"]));
    assert_eq!(by_target[&ok.url()], set(&["200"]));
}

#[test]
fn mixed_behaviours_mirrored_all_finish() {
    // Two timeouts per mirrored connection, the connections in parallel.
    mixed(
        "mixed, mirrored (5 hosts via --target-map)",
        &[],
        2 * Duration::from_secs(1) + SLACK,
    );
}

#[test]
fn mixed_behaviours_pooled_all_finish() {
    // Ten timeouts shared by four pooled connections: at most three each.
    mixed(
        "mixed, pool of 4 (5 hosts via --target-map)",
        &["--connections", "pool", "--concurrency", "4"],
        3 * Duration::from_secs(1) + SLACK,
    );
}

#[test]
fn pipelined_pairs_fail_together_and_none_is_lost() {
    // Each recorded connection sent its second request before the first response began: replay
    // writes both at once, and when the connection fails both requests get its error.
    let dir = tempdir();
    let log = dir.path().join("pipelined.reel");
    let hosts = [
        "reset.chaos",
        "stall.chaos",
        "midbody.chaos",
        "garbage.chaos",
    ];
    let mut records = Vec::new();
    for c in 0..8u64 {
        let host = hosts[c as usize % hosts.len()];
        let ts = T0 + c * MS;
        for k in 0..2u32 {
            let req = format!("GET /pipelined/{c}/{k} HTTP/1.1\r\nHost: {host}\r\n\r\n");
            records.push(request(c + 1, k, ts + u64::from(k) * 1000, req.as_bytes()));
            records.push(response(c + 1, k, ts + MS + u64::from(k) * 1000, 200, MS));
        }
    }
    write_log(&log, records);
    let servers = [
        ChaosServer::start(Chaos::Reset),
        ChaosServer::start(Chaos::Stall),
        ChaosServer::start(Chaos::MidBody),
        ChaosServer::start(Chaos::Garbage),
    ];
    let maps: Vec<String> = hosts
        .iter()
        .zip(&servers)
        .map(|(h, s)| format!("{h}={}", s.url()))
        .collect();
    let mut args: Vec<&str> = Vec::new();
    for m in &maps {
        args.extend(["--target-map", m.as_str()]);
    }
    args.extend(["--timeout", "1s"]);
    let r = run(dir.path(), &log, &args);
    check(
        "pipelined pairs (reset, stall, mid-body, garbage)",
        &r,
        8,
        2,
        &[("malformed", 4), ("reset", 8), ("timeout", 4)],
        Duration::from_secs(1) + SLACK,
    );
    // The stalled pairs went out together on one connection each. Where staging fails at once,
    // the first may fail before the second is due (1 µs later): it then goes on a new connection
    // and meets the same behaviour.
    assert_eq!(servers[1].accepted(), 2);
    for s in &servers {
        assert!((2..=4).contains(&s.accepted()), "{}", s.accepted());
    }
    // Either way, both requests of a pair end the same way.
    let mut by_conn: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for x in &r.results {
        by_conn.entry(x.conn).or_default().push(outcome(x));
    }
    for (conn, outcomes) in &by_conn {
        assert_eq!(outcomes.len(), 2);
        assert_eq!(outcomes[0], outcomes[1], "conn {conn}");
    }
}
