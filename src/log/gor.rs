//! GoReplay `.gor` files: reading (plain or gzip), writing, and the mapping to and from `.reel`
//! records (`docs/FORMAT.md`, "GoReplay mapping").
//!
//! A `.gor` record is a header line `TYPE ID TIMESTAMP LATENCY\n`, the raw HTTP message, then the
//! separator `\n🐵🙈🙉\n`. Type 1 is a request, 2 a captured response, 3 a replayed response. Ids
//! written by GoReplay 1.3+ are 24 hex digits: client port, server port, client IPv4, then TCP
//! ack/seq (4+4+8+8); messages whose first 16 digits agree are put on one connection.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, Cursor, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::Path;

use bytes::Bytes;

use super::{LogError, display_name};
use crate::exchange::{Message, Record, ReplayResult, Response};

/// The separator GoReplay writes after every record: newline, 🐵🙈🙉, newline.
pub const SEPARATOR: &[u8] = "\n🐵🙈🙉\n".as_bytes();

/// Largest record a reader accepts (64 MiB); longer ones are skipped as malformed.
pub const MAX_RECORD: usize = 64 << 20;

/// Requests and connections the importer remembers for pairing (oldest forgotten first).
pub const MAX_TRACKED: usize = 65_536;

/// GoReplay payload types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GorKind {
    /// `1`: a request.
    Request,
    /// `2`: the response as captured.
    Response,
    /// `3`: the response the replayer got.
    Replayed,
}

impl GorKind {
    /// The digit in the header line.
    pub fn code(self) -> u8 {
        match self {
            GorKind::Request => 1,
            GorKind::Response => 2,
            GorKind::Replayed => 3,
        }
    }
}

/// One `.gor` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GorRecord {
    /// Payload type.
    pub kind: GorKind,
    /// The id shared by a request and its responses.
    pub id: String,
    /// ns since the epoch.
    pub ts_ns: u64,
    /// The header's latency field, ns (0 when absent).
    pub latency_ns: u64,
    /// The raw HTTP message.
    pub payload: Bytes,
}

/// What a [`GorReader`] has read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GorStats {
    /// Records returned.
    pub records: u64,
    /// Records skipped: bad header line, unknown type, or longer than [`MAX_RECORD`].
    pub malformed: u64,
}

/// Reads `.gor` records one at a time from plain or gzip input (detected by its magic `1f 8b`).
pub struct GorReader {
    read: Box<dyn Read + Send>,
    name: String,
    pending: Vec<u8>,
    /// Start of the unconsumed bytes in `pending`.
    start: usize,
    /// End of the bytes of `pending` already searched for a separator.
    scanned: usize,
    eof: bool,
    /// Inside a record longer than the cap: drop bytes up to the next separator.
    discarding: bool,
    stats: GorStats,
}

impl GorReader {
    /// Opens a `.gor` or `.gor.gz` file.
    pub fn open(path: impl AsRef<Path>) -> Result<GorReader, LogError> {
        let path = path.as_ref();
        let name = display_name(path);
        let file = File::open(path).map_err(|e| LogError::Open {
            path: name.clone(),
            source: e,
        })?;
        GorReader::new(file, name)
    }

    /// Reads from any input; `name` is what messages call it.
    pub fn new(
        read: impl Read + Send + 'static,
        name: impl Into<String>,
    ) -> Result<Self, LogError> {
        let name = name.into();
        let mut read = read;
        let mut magic = Vec::with_capacity(2);
        (&mut read)
            .take(2)
            .read_to_end(&mut magic)
            .map_err(|e| LogError::io(&name, e))?;
        let gzip = magic == [0x1f, 0x8b];
        let whole = Cursor::new(magic).chain(read);
        let read: Box<dyn Read + Send> = if gzip {
            Box::new(flate2::read::MultiGzDecoder::new(whole))
        } else {
            Box::new(whole)
        };
        Ok(GorReader {
            read,
            name,
            pending: Vec::new(),
            start: 0,
            scanned: 0,
            eof: false,
            discarding: false,
            stats: GorStats::default(),
        })
    }

    /// What has been read so far.
    pub fn stats(&self) -> GorStats {
        self.stats
    }

    /// The next well-formed record, `Ok(None)` at the end. Malformed records are skipped and
    /// counted; a corrupt gzip stream is an error. Never panics on any input.
    pub fn next_record(&mut self) -> Result<Option<GorRecord>, LogError> {
        while let Some(chunk) = self.next_chunk()? {
            match parse_record(&chunk) {
                Some(rec) => {
                    self.stats.records += 1;
                    return Ok(Some(rec));
                }
                None if chunk.is_empty() => {}
                None => {
                    tracing::debug!("{}: skipped a malformed GoReplay record", self.name);
                    self.stats.malformed += 1;
                }
            }
        }
        Ok(None)
    }

    /// The bytes up to the next separator (or the end of the input), `None` at the end.
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, LogError> {
        loop {
            // Search from where the last search stopped, less a possible partial separator.
            let from = self
                .scanned
                .saturating_sub(SEPARATOR.len() - 1)
                .max(self.start);
            if let Some(at) = find(self.pending.get(from..).unwrap_or_default(), SEPARATOR) {
                let at = from + at;
                let chunk = self
                    .pending
                    .get(self.start..at)
                    .unwrap_or_default()
                    .to_vec();
                self.start = at + SEPARATOR.len();
                self.scanned = self.start;
                if std::mem::take(&mut self.discarding) {
                    continue;
                }
                return Ok(Some(chunk));
            }
            self.scanned = self.pending.len();
            if self.eof {
                let chunk = self.pending.get(self.start..).unwrap_or_default().to_vec();
                self.pending.clear();
                self.start = 0;
                self.scanned = 0;
                if std::mem::take(&mut self.discarding) || chunk.is_empty() {
                    return Ok(None);
                }
                return Ok(Some(chunk));
            }
            // Drop what was consumed before reading more (one move per read, not per record).
            self.pending.drain(..self.start);
            self.scanned -= self.start;
            self.start = 0;
            if self.pending.len() > MAX_RECORD {
                if !self.discarding {
                    self.stats.malformed += 1;
                    tracing::warn!(
                        "{}: skipped a GoReplay record longer than {MAX_RECORD} bytes",
                        self.name
                    );
                }
                self.discarding = true;
                let keep = SEPARATOR.len() - 1;
                self.pending.drain(..self.pending.len() - keep);
                self.scanned = self.pending.len();
            }
            self.read_more()?;
        }
    }

    fn read_more(&mut self) -> Result<(), LogError> {
        let old = self.pending.len();
        self.pending.resize(old + (64 << 10), 0);
        loop {
            match self.read.read(&mut self.pending[old..]) {
                Ok(n) => {
                    self.pending.truncate(old + n);
                    if n == 0 {
                        self.eof = true;
                    }
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.pending.truncate(old);
                    return Err(match e.kind() {
                        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput => {
                            LogError::CorruptGzip {
                                path: self.name.clone(),
                                source: e,
                            }
                        }
                        _ => LogError::io(&self.name, e),
                    });
                }
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Parses one record (header line and payload). `None` when malformed. Never panics.
pub fn parse_record(chunk: &[u8]) -> Option<GorRecord> {
    let nl = chunk.iter().position(|&b| b == b'\n')?;
    let header = std::str::from_utf8(chunk.get(..nl)?).ok()?;
    let payload = chunk.get(nl + 1..)?;
    let mut fields = header.split(' ');
    let kind = match fields.next()? {
        "1" => GorKind::Request,
        "2" => GorKind::Response,
        "3" => GorKind::Replayed,
        _ => return None,
    };
    let id = fields.next().filter(|id| !id.is_empty())?;
    let ts_ns = fields.next()?.parse().ok()?;
    let latency_ns = match fields.next() {
        None => 0,
        Some(l) => l.parse().ok()?,
    };
    Some(GorRecord {
        kind,
        id: id.to_owned(),
        ts_ns,
        latency_ns,
        payload: Bytes::copy_from_slice(payload),
    })
}

/// Writes one record in GoReplay's layout: header line, payload, separator.
pub fn write_gor(out: &mut impl Write, rec: &GorRecord) -> io::Result<()> {
    let header = format!(
        "{} {} {} {}\n",
        rec.kind.code(),
        rec.id,
        rec.ts_ns,
        rec.latency_ns
    );
    out.write_all(header.as_bytes())?;
    out.write_all(&rec.payload)?;
    out.write_all(SEPARATOR)
}

/// Client and server addresses encoded in a GoReplay 1.3+ id; `0.0.0.0:0` for both when the id
/// does not decode (the server's address is not in the id: `0.0.0.0` with its port).
pub fn addrs_from_id(id: &str) -> (SocketAddr, SocketAddr) {
    let unknown = SocketAddr::from(([0, 0, 0, 0], 0));
    let hex = |range: std::ops::Range<usize>| {
        id.get(range)
            .filter(|s| s.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|s| u32::from_str_radix(s, 16).ok())
    };
    if id.len() != 24 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return (unknown, unknown);
    }
    match (hex(0..4), hex(4..8), hex(8..16)) {
        (Some(cport), Some(sport), Some(ip)) => (
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), cport as u16)),
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, sport as u16)),
        ),
        _ => (unknown, unknown),
    }
}

/// What the importer knows about a request, for pairing its responses.
#[derive(Debug, Clone)]
struct SeenRequest {
    conn: u64,
    index: u32,
    ts_ns: u64,
    method: String,
    path: String,
    len: u64,
    prod_status: Option<u16>,
    prod_latency_ns: Option<u64>,
}

/// A map that forgets its oldest entries beyond [`MAX_TRACKED`], so memory stays bounded.
struct Bounded<V> {
    map: HashMap<String, V>,
    order: VecDeque<String>,
}

impl<V> Bounded<V> {
    fn new() -> Self {
        Bounded {
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    fn insert(&mut self, key: &str, value: V) {
        if self.map.insert(key.to_owned(), value).is_none() {
            self.order.push_back(key.to_owned());
            while self.order.len() > MAX_TRACKED {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }
}

/// Converts `.gor` records to `.reel` records in file order, pairing responses with requests by
/// id and grouping ids into connections.
pub struct GorImporter {
    /// First 16 id digits → (connection id, requests seen on it).
    conns: Bounded<(u64, u32)>,
    next_conn: u64,
    requests: Bounded<SeenRequest>,
}

impl Default for GorImporter {
    fn default() -> Self {
        GorImporter::new()
    }
}

impl GorImporter {
    /// An importer that has seen nothing; connection ids start at 1.
    pub fn new() -> Self {
        GorImporter {
            conns: Bounded::new(),
            next_conn: 1,
            requests: Bounded::new(),
        }
    }

    /// The connection of an id (assigned in order of first sight) and its request count.
    fn conn(&mut self, id: &str) -> &mut (u64, u32) {
        let key = id.get(..16).unwrap_or(id);
        if !self.conns.map.contains_key(key) {
            let conn = self.next_conn;
            self.next_conn += 1;
            self.conns.insert(key, (conn, 0));
        }
        // Just inserted when missing (a fresh insert is never the one evicted).
        self.conns.map.entry(key.to_owned()).or_insert((0, 0))
    }

    /// The `.reel` record for a `.gor` record: type 1 → Request, type 2 → Response (Interim when
    /// 1xx, Orphan when no request with that id was seen), type 3 → Result. The id is kept in
    /// `external_id`.
    pub fn convert(&mut self, rec: &GorRecord) -> Record {
        let (client, server) = addrs_from_id(&rec.id);
        match rec.kind {
            GorKind::Request => {
                let conn = self.conn(&rec.id);
                let (conn_id, index) = (conn.0, conn.1);
                conn.1 = conn.1.saturating_add(1);
                let (method, path) = request_line(&rec.payload);
                self.requests.insert(
                    &rec.id,
                    SeenRequest {
                        conn: conn_id,
                        index,
                        ts_ns: rec.ts_ns,
                        method,
                        path,
                        len: rec.payload.len() as u64,
                        prod_status: None,
                        prod_latency_ns: None,
                    },
                );
                Record::Request(message(rec, conn_id, index, client, server))
            }
            GorKind::Response => {
                let status = status_of(&rec.payload).unwrap_or(0);
                let interim = (100..200).contains(&status);
                match self.requests.map.get_mut(&rec.id) {
                    Some(req) => {
                        let latency = rec.ts_ns.saturating_sub(req.ts_ns);
                        if !interim {
                            req.prod_status = Some(status);
                            req.prod_latency_ns = Some(latency);
                        }
                        let response = Response {
                            message: message(rec, req.conn, req.index, client, server),
                            status,
                            latency_ns: Some(latency),
                            latency_last_ns: Some(latency),
                        };
                        if interim {
                            Record::Interim(response)
                        } else {
                            Record::Response(response)
                        }
                    }
                    None => {
                        let &mut (conn, index) = self.conn(&rec.id);
                        Record::Orphan(Response {
                            message: message(rec, conn, index, client, server),
                            status,
                            latency_ns: None,
                            latency_last_ns: None,
                        })
                    }
                }
            }
            GorKind::Replayed => {
                let seen = match self.requests.map.get(&rec.id) {
                    Some(req) => req.clone(),
                    None => {
                        let &mut (conn, index) = self.conn(&rec.id);
                        SeenRequest {
                            conn,
                            index,
                            ts_ns: rec.ts_ns,
                            method: String::new(),
                            path: String::new(),
                            len: 0,
                            prod_status: None,
                            prod_latency_ns: None,
                        }
                    }
                };
                let answered = rec.ts_ns.saturating_add(rec.latency_ns);
                Record::Result(ReplayResult {
                    conn: seen.conn,
                    index: seen.index,
                    target: String::new(),
                    method: seen.method,
                    path: seen.path,
                    prod_status: seen.prod_status,
                    prod_latency_ns: seen.prod_latency_ns,
                    recorded_ts_ns: seen.ts_ns,
                    intended_ns: rec.ts_ns,
                    sent_ns: rec.ts_ns,
                    first_byte_ns: answered,
                    last_byte_ns: answered,
                    status: status_of(&rec.payload),
                    request_bytes: seen.len,
                    response_bytes: rec.payload.len() as u64,
                    response: rec.payload.clone(),
                    external_id: Some(rec.id.clone()),
                    error: None,
                    shard: 0,
                    shards: 1,
                    iteration: 0,
                    warmup: false,
                    role: 0,
                })
            }
        }
    }
}

fn message(
    rec: &GorRecord,
    conn: u64,
    index: u32,
    client: SocketAddr,
    server: SocketAddr,
) -> Message {
    let head_len = head_len(&rec.payload);
    Message {
        conn,
        index,
        client,
        server,
        first_ts_ns: rec.ts_ns,
        last_ts_ns: rec.ts_ns,
        bytes: rec.payload.clone(),
        head_len: u32::try_from(head_len).unwrap_or(u32::MAX),
        body_len: (rec.payload.len() - head_len) as u64,
        truncation: None,
        external_id: Some(rec.id.clone()),
    }
}

/// Length of the head: through the first empty line (CRLF or bare LF), or everything.
fn head_len(payload: &[u8]) -> usize {
    let crlf = payload
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4);
    let lf = payload.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(payload.len()),
    }
}

/// Status code from a status line `HTTP/x.y NNN ...`.
fn status_of(payload: &[u8]) -> Option<u16> {
    let line = payload.split(|&b| b == b'\n').next()?;
    let mut parts = line.split(|&b| b == b' ');
    if !parts.next()?.starts_with(b"HTTP/") {
        return None;
    }
    let code = parts.next()?;
    let code = code.strip_suffix(b"\r").unwrap_or(code);
    if code.len() != 3 {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// Method and request-target from a request line (empty when it does not parse).
fn request_line(payload: &[u8]) -> (String, String) {
    let line = payload.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.split(|&b| b == b' ');
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    (
        String::from_utf8_lossy(method).into_owned(),
        String::from_utf8_lossy(target).into_owned(),
    )
}

/// An id in GoReplay's layout (24 hex digits) for a reel-native message: client port, server
/// port, client IPv4 (0 for IPv6), then the exchange number in the place of ack/seq: the low 16 bits
/// of the connection id, then the low 16 bits of the index.
pub fn make_id(client: SocketAddr, server: SocketAddr, conn: u64, index: u32) -> String {
    let ip = match client {
        SocketAddr::V4(a) => u32::from(*a.ip()),
        SocketAddr::V6(_) => 0,
    };
    format!(
        "{:04x}{:04x}{:08x}{:04x}{:04x}",
        client.port(),
        server.port(),
        ip,
        conn as u16,
        index as u16
    )
}

/// The `.gor` record for a `.reel` record: requests → 1, responses, interim and orphans → 2
/// (latency 0, as GoReplay writes them), results → 3 (timestamp = sent, latency = first byte −
/// sent); other kinds have no `.gor` form. The imported id is reused, else one is made
/// ([`make_id`]; results without one use zero ports and address).
pub fn export_record(record: &Record) -> Option<GorRecord> {
    let from_message = |kind, m: &Message| GorRecord {
        kind,
        id: m
            .external_id
            .clone()
            .unwrap_or_else(|| make_id(m.client, m.server, m.conn, m.index)),
        ts_ns: m.first_ts_ns,
        latency_ns: 0,
        payload: m.bytes.clone(),
    };
    match record {
        Record::Request(m) => Some(from_message(GorKind::Request, m)),
        Record::Response(r) | Record::Interim(r) | Record::Orphan(r) => {
            Some(from_message(GorKind::Response, &r.message))
        }
        Record::Result(r) => {
            let sent = if r.sent_ns != 0 {
                r.sent_ns
            } else {
                r.intended_ns
            };
            let unknown = SocketAddr::from(([0, 0, 0, 0], 0));
            Some(GorRecord {
                kind: GorKind::Replayed,
                id: r
                    .external_id
                    .clone()
                    .unwrap_or_else(|| make_id(unknown, unknown, r.conn, r.index)),
                ts_ns: sent,
                latency_ns: r.first_byte_ns.saturating_sub(sent),
                payload: r.response.clone(),
            })
        }
        Record::Meta(_) | Record::Gap(_) | Record::Closing(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(data: &[u8]) -> (Vec<GorRecord>, GorStats) {
        let mut r = GorReader::new(Cursor::new(data.to_vec()), "t.gor").unwrap();
        let mut out = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            out.push(rec);
        }
        (out, r.stats())
    }

    #[test]
    fn separator_bytes() {
        assert_eq!(
            SEPARATOR,
            [
                0x0A, 0xF0, 0x9F, 0x90, 0xB5, 0xF0, 0x9F, 0x99, 0x88, 0xF0, 0x9F, 0x99, 0x89, 0x0A
            ]
        );
    }

    #[test]
    fn reads_records_and_skips_malformed() {
        let mut data = Vec::new();
        data.extend_from_slice(b"1 aaaa 100 0\nGET / HTTP/1.1\r\n\r\n");
        data.extend_from_slice(SEPARATOR);
        data.extend_from_slice(b"garbage without header fields");
        data.extend_from_slice(SEPARATOR);
        data.extend_from_slice(b"9 aaaa 100 0\nunknown type\n");
        data.extend_from_slice(SEPARATOR);
        data.extend_from_slice(b"2 aaaa 250\nHTTP/1.1 204 No Content\r\n\r\n");
        let (recs, stats) = read_all(&data);
        assert_eq!(
            stats,
            GorStats {
                records: 2,
                malformed: 2
            }
        );
        assert_eq!(recs[0].kind, GorKind::Request);
        assert_eq!(recs[0].payload, &b"GET / HTTP/1.1\r\n\r\n"[..]);
        assert_eq!(recs[1].kind, GorKind::Response);
        assert_eq!(recs[1].ts_ns, 250);
        assert_eq!(recs[1].latency_ns, 0);
        assert_eq!(recs[1].payload, &b"HTTP/1.1 204 No Content\r\n\r\n"[..]);
    }

    #[test]
    fn separators_split_across_reads() {
        /// Hands out at most 5 bytes a read.
        struct Dribble(Vec<u8>, usize);
        impl Read for Dribble {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let rest = self.0.get(self.1..).unwrap_or_default();
                let n = rest.len().min(5).min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                self.1 += n;
                Ok(n)
            }
        }
        let mut data = Vec::new();
        let mut expected = Vec::new();
        for i in 0..50u64 {
            let rec = GorRecord {
                kind: GorKind::Request,
                id: format!("{i:024x}"),
                ts_ns: i,
                latency_ns: 0,
                payload: Bytes::from(format!("GET /{i} HTTP/1.1\r\n\r\n")),
            };
            write_gor(&mut data, &rec).unwrap();
            expected.push(rec);
        }
        let mut r = GorReader::new(Dribble(data, 0), "d.gor").unwrap();
        let mut got = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            got.push(rec);
        }
        assert_eq!(got, expected);
        assert_eq!(r.stats().malformed, 0);
    }

    #[test]
    fn write_then_read_is_identity() {
        let rec = GorRecord {
            kind: GorKind::Replayed,
            id: "9b1a00500a4f0002c7eaff49".into(),
            ts_ns: 1_795_978_473_304_010_645,
            latency_ns: 1234,
            payload: Bytes::from_static(b"HTTP/1.1 200 OK\r\n\r\nbody\n"),
        };
        let mut out = Vec::new();
        write_gor(&mut out, &rec).unwrap();
        let (recs, _) = read_all(&out);
        assert_eq!(recs, vec![rec]);
    }

    #[test]
    fn ids_decode_to_addresses() {
        let (c, s) = addrs_from_id("9b1a00500a4f0002c7eaff49");
        assert_eq!(c, "10.79.0.2:39706".parse::<SocketAddr>().unwrap());
        assert_eq!(s, "0.0.0.0:80".parse::<SocketAddr>().unwrap());
        let zero = "0.0.0.0:0".parse::<SocketAddr>().unwrap();
        assert_eq!(addrs_from_id("not-hex-at-all-not-hex-!"), (zero, zero));
        assert_eq!(addrs_from_id("9b1a"), (zero, zero));
        assert_eq!(
            make_id(c, "10.79.0.1:80".parse().unwrap(), 0x1_0000_0005, 7),
            "9b1a00500a4f000200050007"
        );
        let v6 = "[::1]:40000".parse().unwrap();
        assert_eq!(make_id(v6, s, 1, 0), "9c4000500000000000010000");
    }

    #[test]
    fn pairing_orphans_and_interim() {
        let mut imp = GorImporter::new();
        let rec = |kind, id: &str, ts, payload: &'static [u8]| GorRecord {
            kind,
            id: id.into(),
            ts_ns: ts,
            latency_ns: 0,
            payload: Bytes::from_static(payload),
        };
        let a1 = "9b1a00500a4f000200000001";
        let a2 = "9b1a00500a4f000200000002";
        let b1 = "9b2000500a4f000200000009";
        let r = imp.convert(&rec(GorKind::Request, a1, 100, b"GET /a HTTP/1.1\r\n\r\n"));
        assert!(
            matches!(&r, Record::Request(m) if m.conn == 1 && m.index == 0 && m.head_len == 19)
        );
        let r = imp.convert(&rec(
            GorKind::Response,
            a1,
            150,
            b"HTTP/1.1 100 Continue\r\n\r\n",
        ));
        assert!(matches!(&r, Record::Interim(x) if x.status == 100 && x.latency_ns == Some(50)));
        let r = imp.convert(&rec(
            GorKind::Response,
            a1,
            180,
            b"HTTP/1.1 200 OK\r\n\r\nhi",
        ));
        match &r {
            Record::Response(x) => {
                assert_eq!(
                    (x.status, x.latency_ns, x.message.conn, x.message.index),
                    (200, Some(80), 1, 0)
                );
                assert_eq!((x.message.head_len, x.message.body_len), (19, 2));
            }
            other => panic!("{other:?}"),
        }
        let r = imp.convert(&rec(GorKind::Request, a2, 200, b"GET /b HTTP/1.1\r\n\r\n"));
        assert!(matches!(&r, Record::Request(m) if m.conn == 1 && m.index == 1));
        let r = imp.convert(&rec(
            GorKind::Response,
            b1,
            300,
            b"HTTP/1.1 201 Created\r\n\r\n",
        ));
        assert!(
            matches!(&r, Record::Orphan(x) if x.message.conn == 2 && x.message.index == 0 && x.latency_ns.is_none())
        );
        let mut replayed = rec(GorKind::Replayed, a1, 1000, b"HTTP/1.1 500 Oops\r\n\r\n");
        replayed.latency_ns = 70;
        match imp.convert(&replayed) {
            Record::Result(x) => {
                assert_eq!(
                    (x.conn, x.index, x.status, x.prod_status),
                    (1, 0, Some(500), Some(200))
                );
                assert_eq!((x.method.as_str(), x.path.as_str()), ("GET", "/a"));
                assert_eq!(
                    (x.sent_ns, x.first_byte_ns, x.recorded_ts_ns),
                    (1000, 1070, 100)
                );
                let back = export_record(&Record::Result(x)).unwrap();
                assert_eq!(back, replayed);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn gzip_input_is_detected() {
        let mut plain = Vec::new();
        write_gor(
            &mut plain,
            &GorRecord {
                kind: GorKind::Request,
                id: "x".into(),
                ts_ns: 1,
                latency_ns: 0,
                payload: Bytes::from_static(b"GET / HTTP/1.1\r\n\r\n"),
            },
        )
        .unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(read_all(&gz).0, read_all(&plain).0);
        assert_eq!(read_all(&gz).0.len(), 1);
        let mut broken = gz.clone();
        broken.truncate(12);
        broken.extend_from_slice(&[0xFF; 40]);
        let mut r = GorReader::new(Cursor::new(broken), "b.gor.gz").unwrap();
        let err = loop {
            match r.next_record() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("a corrupt gzip stream must be an error"),
                Err(e) => break e,
            }
        };
        assert!(
            err.to_string().starts_with("b.gor.gz: corrupt gzip stream"),
            "{err}"
        );
    }

    #[test]
    fn oversized_records_are_skipped() {
        let mut data = vec![b'x'; MAX_RECORD + 10];
        data[0] = b'1';
        data.extend_from_slice(SEPARATOR);
        data.extend_from_slice(b"1 id 5 0\nGET / HTTP/1.1\r\n\r\n");
        data.extend_from_slice(SEPARATOR);
        let (recs, stats) = read_all(&data);
        assert_eq!(
            stats,
            GorStats {
                records: 1,
                malformed: 1
            }
        );
        assert_eq!(recs[0].ts_ns, 5);
    }
}
