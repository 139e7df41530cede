//! Floods fed through the whole extraction pipeline (decode → reassembly → HTTP framing and
//! pairing) as generated Ethernet/IPv4/TCP frames. Shared by `tests/pipeline_floods.rs`, which
//! asserts each flood's counters and memory bound, and `examples/floods.rs`, which runs each flood
//! in its own process to measure resident memory and time.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::OnceLock;

use reel::capture::{Frame, TcpFlags, linktype};
use reel::exchange::{Record, Truncation};
use reel::http::ExtractConfig;
use reel::record::extraction::{Extraction, ExtractionConfig};
use reel::tcp::TcpConfig;

/// The memory limits a flood runs under (what `record`'s flags set).
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// `--max-memory`.
    pub max_memory: usize,
    /// `--max-flow-memory`.
    pub max_flow: usize,
    /// `--max-body`.
    pub max_body: Option<u64>,
    /// The flow table's size.
    pub max_flows: usize,
}

/// `record --read`'s defaults: 48 MiB in all, 16 MiB per connection, bodies kept whole, 100 000
/// connections tracked (`--max-flows`).
pub const READ_DEFAULTS: Budget = Budget {
    max_memory: 48 << 20,
    max_flow: 16 << 20,
    max_body: None,
    max_flows: 100_000,
};

/// A small budget: 1 MiB in all, 256 KiB per connection, `--max-body 64k`.
pub const SMALL: Budget = Budget {
    max_memory: 1 << 20,
    max_flow: 256 << 10,
    max_body: Some(64 << 10),
    max_flows: 100_000,
};

/// The server every flood targets.
pub const SERVER: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
/// Its port.
pub const PORT: u16 = 80;

/// Client number `i` (10.x.y.z, a distinct address per connection, port 40000).
pub fn client(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(0x0a00_0000 | (i & 0x00ff_ffff))
}

/// Client `i`'s initial sequence number (spread, some wrapping past 2^32 early on).
pub fn isn(i: u32) -> u32 {
    i.wrapping_mul(2_654_435_761)
}

/// Maximum segment size used for data.
pub const MSS: usize = 1448;

/// What a flood left behind.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Frames pushed.
    pub packets: u64,
    /// Frame bytes pushed.
    pub bytes: u64,
    /// The pipeline's own peak (`tcp.peak_buffered_bytes`, what `--max-memory` bounds).
    pub peak: u64,
    /// The most `Extraction::buffered_bytes()` seen after any frame (also counts IP fragments).
    pub peak_seen: u64,
    /// Most connections tracked at once.
    pub peak_flows: usize,
    /// Every stage's counters.
    pub counters: BTreeMap<String, u64>,
    /// Records emitted, by kind (`request`, `response`, `interim`, `orphan`, `gap`), and request
    /// records by truncation (`request.max_body`, `request.incomplete`, …).
    pub records: BTreeMap<String, u64>,
}

impl Outcome {
    /// A counter's value; panics on a name no stage has (a typo in a test).
    pub fn get(&self, name: &str) -> u64 {
        match self.counters.get(name) {
            Some(v) => *v,
            None => panic!("no counter {name}"),
        }
    }

    /// Records of one kind.
    pub fn records(&self, kind: &str) -> u64 {
        self.records.get(kind).copied().unwrap_or(0)
    }

    /// The counters of the tcp and http stages that are not zero, except the peak (for exact
    /// whole-picture assertions).
    pub fn nonzero(&self) -> Vec<(&str, u64)> {
        self.counters
            .iter()
            .filter(|(k, v)| {
                **v != 0
                    && (k.starts_with("tcp.") || k.starts_with("http."))
                    && k.as_str() != "tcp.peak_buffered_bytes"
            })
            .map(|(k, v)| (k.as_str(), *v))
            .collect()
    }
}

/// Called once the flood was pushed, before the end of input closes every connection (the example
/// reads the resident memory there: the closes emit the records of every connection at once).
pub static BEFORE_FINISH: OnceLock<fn()> = OnceLock::new();

/// The pipeline under a budget, fed generated frames.
pub struct Flood {
    x: Extraction,
    frame: Vec<u8>,
    out: Vec<Record>,
    ts: u64,
    packets: u64,
    bytes: u64,
    peak_seen: u64,
    peak_flows: usize,
    records: BTreeMap<String, u64>,
}

/// TCP flags for [`Flood::send`].
pub const SYN: u8 = TcpFlags::SYN;
/// PSH (data).
pub const PSH: u8 = TcpFlags::PSH;
/// FIN.
pub const FIN: u8 = TcpFlags::FIN;

impl Flood {
    /// An extraction configured as `record` would be with these budgets (`--port` not given).
    pub fn new(b: Budget) -> Flood {
        let config = ExtractionConfig {
            tcp: TcpConfig {
                max_flow_bytes: b.max_flow,
                max_total_bytes: b.max_memory,
                max_flows: b.max_flows,
                ..TcpConfig::default()
            },
            http: ExtractConfig {
                max_body: b.max_body,
                ..ExtractConfig::default()
            },
            ..ExtractionConfig::default()
        };
        Flood {
            x: Extraction::new(config),
            frame: Vec::with_capacity(2048),
            out: Vec::new(),
            ts: 1_700_000_000_000_000_000,
            packets: 0,
            bytes: 0,
            peak_seen: 0,
            peak_flows: 0,
            records: BTreeMap::new(),
        }
    }

    /// One frame from `src` to `dst` (1 µs after the previous one), without an ACK.
    pub fn send(
        &mut self,
        (src, sport): (Ipv4Addr, u16),
        (dst, dport): (Ipv4Addr, u16),
        seq: u32,
        flags: u8,
        payload: &[u8],
    ) {
        let mut tcp = etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4(src.octets(), dst.octets(), 64)
            .tcp(sport, dport, seq, 65535);
        if flags & SYN != 0 {
            tcp = tcp.syn();
        }
        if flags & FIN != 0 {
            tcp = tcp.fin();
        }
        if flags & PSH != 0 {
            tcp = tcp.psh();
        }
        self.frame.clear();
        if let Err(e) = tcp.write(&mut self.frame, payload) {
            panic!("building a frame: {e}");
        }
        self.ts += 1000;
        let frame = Frame {
            ts_ns: self.ts,
            linktype: linktype::EN10MB,
            data: &self.frame,
            wire_len: self.frame.len() as u32,
        };
        self.x.push(&frame, &mut self.out);
        self.packets += 1;
        self.bytes += self.frame.len() as u64;
        self.peak_seen = self.peak_seen.max(self.x.buffered_bytes() as u64);
        self.peak_flows = self.peak_flows.max(self.x.open_flows());
        self.count_records();
    }

    /// Client `i`'s SYN.
    pub fn syn(&mut self, i: u32) {
        self.send((client(i), 40000), (SERVER, PORT), isn(i), SYN, b"");
    }

    /// Client `i`'s bytes at `offset` in its stream (after the SYN).
    pub fn client_data(&mut self, i: u32, offset: u64, bytes: &[u8]) {
        let seq = isn(i).wrapping_add(1).wrapping_add(offset as u32);
        self.send((client(i), 40000), (SERVER, PORT), seq, PSH, bytes);
    }

    /// Server bytes to client `i` at sequence number `seq`.
    pub fn server_data(&mut self, i: u32, seq: u32, bytes: &[u8]) {
        self.send((SERVER, PORT), (client(i), 40000), seq, PSH, bytes);
    }

    /// Bytes buffered now (reassembly, framing, fragments).
    pub fn buffered(&self) -> usize {
        self.x.buffered_bytes()
    }

    fn count_records(&mut self) {
        for r in self.out.drain(..) {
            let kind = match &r {
                Record::Request(m) => {
                    let cut = match m.truncation {
                        None => "request.whole",
                        Some(Truncation::MaxBody) => "request.max_body",
                        Some(Truncation::Gap) => "request.gap",
                        Some(Truncation::Memory) => "request.memory",
                        Some(Truncation::Snaplen) => "request.snaplen",
                        Some(Truncation::Incomplete) => "request.incomplete",
                    };
                    *self.records.entry(cut.to_string()).or_default() += 1;
                    "request"
                }
                Record::Response(_) => "response",
                Record::Interim(_) => "interim",
                Record::Orphan(_) => "orphan",
                Record::Gap(_) => "gap",
                _ => "other",
            };
            *self.records.entry(kind.to_string()).or_default() += 1;
        }
    }

    /// End of input: closes everything and returns what the flood left.
    pub fn finish(mut self) -> Outcome {
        if let Some(hook) = BEFORE_FINISH.get() {
            hook();
        }
        self.x.finish(&mut self.out);
        self.count_records();
        let counters: BTreeMap<String, u64> = self.x.counters().into_iter().collect();
        Outcome {
            packets: self.packets,
            bytes: self.bytes,
            peak: counters
                .get("tcp.peak_buffered_bytes")
                .copied()
                .unwrap_or(0),
            peak_seen: self.peak_seen,
            peak_flows: self.peak_flows,
            counters,
            records: self.records,
        }
    }
}

/// Bytes of a generated stream, produced lazily and cut into segments of at most `MSS` bytes.
pub struct Segmenter {
    pending: Vec<u8>,
    /// Bytes handed out so far.
    pub offset: u64,
}

impl Segmenter {
    /// Starts with `prefix` pending.
    pub fn new(prefix: &[u8]) -> Segmenter {
        Segmenter {
            pending: prefix.to_vec(),
            offset: 0,
        }
    }

    /// Appends bytes to what is pending.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    /// Bytes pending.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Sends pending bytes as client `i`'s full segments (and the last partial one if `all`).
    pub fn flush(&mut self, f: &mut Flood, i: u32, all: bool) {
        let mut start = 0;
        while self.pending.len() - start >= MSS || (all && start < self.pending.len()) {
            let end = (start + MSS).min(self.pending.len());
            f.client_data(i, self.offset, &self.pending[start..end]);
            self.offset += (end - start) as u64;
            start = end;
        }
        self.pending.drain(..start);
    }
}

// ----- the floods -----

/// A partial request head, the same length for every client.
pub fn partial_head(i: u32) -> Vec<u8> {
    format!("GET /flood/{i:06} HTTP/1.1\r\nHost: example.com\r\n").into_bytes()
}

/// Case 1: `n` connections that send a SYN and, if `head`, the start of a request head, then
/// nothing more.
pub fn half_open(n: u32, head: bool, b: Budget) -> Outcome {
    let mut f = Flood::new(b);
    for i in 0..n {
        f.syn(i);
        if head {
            f.client_data(i, 0, &partial_head(i));
        }
    }
    f.finish()
}

/// The request head every slow client trickles: a request line, then header lines forever.
pub fn slow_head_bytes(len: usize) -> Vec<u8> {
    let mut v = b"GET /slow HTTP/1.1\r\nHost: example.com\r\n".to_vec();
    while v.len() < len {
        v.extend_from_slice(b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    v.truncate(len);
    v
}

/// Case 2: `conns` connections, each sending a request head `piece` bytes at a time, round after
/// round (`rounds` of them), never finishing it.
pub fn slow_heads(conns: u32, rounds: usize, piece: usize, b: Budget) -> Outcome {
    let head = slow_head_bytes(rounds * piece);
    let mut f = Flood::new(b);
    for i in 0..conns {
        f.syn(i);
    }
    for (r, bytes) in head.chunks(piece).enumerate() {
        for i in 0..conns {
            f.client_data(i, (r * piece) as u64, bytes);
        }
    }
    f.finish()
}

/// The head of the endless upload.
pub const CHUNKED_HEAD: &[u8] =
    b"POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n";

/// Case 3: one request whose chunked body goes on for `total` bytes of 4 KiB chunks, in full
/// segments, and never gets its last chunk.
pub fn endless_chunked(total: u64, b: Budget) -> Outcome {
    let mut chunk = b"1000\r\n".to_vec();
    chunk.extend((0..4096u32).map(|k| b'a' + (k % 26) as u8));
    chunk.extend_from_slice(b"\r\n");
    let mut f = Flood::new(b);
    f.syn(0);
    let mut s = Segmenter::new(CHUNKED_HEAD);
    let mut body = 0u64;
    while body < total {
        s.extend(&chunk);
        body += 4096;
        s.flush(&mut f, 0, false);
    }
    s.flush(&mut f, 0, true);
    f.finish()
}

/// A request that follows the oversized one on the same connection (framing must pick it up).
pub const AFTER: &[u8] = b"GET /after HTTP/1.1\r\nHost: example.com\r\n\r\n";

/// Case 4: one request head with `count` header lines `a:b`, then [`AFTER`].
pub fn tiny_headers(count: usize, b: Budget) -> Outcome {
    let mut f = Flood::new(b);
    f.syn(0);
    let mut s = Segmenter::new(b"GET /many HTTP/1.1\r\n");
    for _ in 0..count {
        s.extend(b"a:b\r\n");
        s.flush(&mut f, 0, false);
    }
    s.extend(b"\r\n");
    s.extend(AFTER);
    s.flush(&mut f, 0, true);
    f.finish()
}

/// Case 5: one request whose header line `X-Big:` holds `len` bytes, then [`AFTER`].
pub fn big_header_line(len: usize, b: Budget) -> Outcome {
    let mut f = Flood::new(b);
    f.syn(0);
    let mut s = Segmenter::new(b"GET /big HTTP/1.1\r\nX-Big: ");
    let block = [b'a'; 4096];
    let mut left = len;
    while left > 0 {
        let n = left.min(block.len());
        s.extend(&block[..n]);
        left -= n;
        s.flush(&mut f, 0, false);
    }
    s.extend(b"\r\n\r\n");
    s.extend(AFTER);
    s.flush(&mut f, 0, true);
    f.finish()
}

/// A complete response with a 5-byte body.
pub const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

/// Case 6: `conns` connections picked up mid-stream (no SYN) on which only the server speaks:
/// `per_conn` complete responses each, one a segment, the connections taking turns.
pub fn orphans(conns: u32, per_conn: u32, b: Budget) -> Outcome {
    let mut f = Flood::new(b);
    for r in 0..per_conn {
        for i in 0..conns {
            let seq = isn(i).wrapping_add(r * RESPONSE.len() as u32);
            f.server_data(i, seq, RESPONSE);
        }
    }
    f.finish()
}

/// Case 4, trickled: the same request head with `count` header lines `a:b`, each in a segment of
/// its own (the head is looked at again after every one), then [`AFTER`].
pub fn tiny_headers_trickled(count: usize, b: Budget) -> Outcome {
    let mut f = Flood::new(b);
    f.syn(0);
    let line: &[u8] = b"GET /many HTTP/1.1\r\n";
    f.client_data(0, 0, line);
    let mut offset = line.len() as u64;
    for _ in 0..count {
        f.client_data(0, offset, b"a:b\r\n");
        offset += 5;
    }
    let mut tail = b"\r\n".to_vec();
    tail.extend_from_slice(AFTER);
    f.client_data(0, offset, &tail);
    f.finish()
}
