//! The capture-side extractor: reassembled byte streams in, [`Record`]s out.
//!
//! [`Extractor`] is the [`StreamHandler`] the TCP reassembler drives. Per connection it finds which
//! side is the client, frames each direction with [`MessageFramer`], pairs every response with the
//! oldest unanswered request, and emits requests, final responses, 1xx interim responses, orphans
//! (responses with no request) and gaps, following SPEC "Measures".
//!
//! Invariants of the output, per connection:
//! - a request record comes before every record paired with it (its 1xx and its final response):
//!   a response that completes before its request did (the server answered early) is held until
//!   the request is emitted; once anything is held, later responses and orphans queue behind it,
//!   so responses keep their wire order;
//! - requests come in index order; `index` counts requests (and orphans, which take the next
//!   index so that `(conn, index)` stays unique) from 0;
//! - every request whose head was seen is emitted exactly once (complete, or truncated with the
//!   cause), and every one left without a final response is counted as unanswered.
//!
//! Pairing: a response answers the oldest unanswered request sent before the response began (a
//! request first seen after it cannot be its request: the response is an orphan). Delivery order
//! is not capture order: a request whose segments came out of order is delivered after the
//! responses that answer it. So a response that no delivered request answers, while no request
//! captured after it was seen, waits (at most 16 responses and 64 KiB per connection): the next
//! request head decides it (it answers that request if captured before it, else it was an
//! orphan), as does the end of the client's direction. After a gap on the server side, or
//! server bytes that did not frame, answers may have been lost: on a connection that never
//! pipelined, the next response answers the newest request sent before it; on a pipelining one, a
//! response start lost in a gap costs the oldest request its answer. Times are capture times, not
//! delivery order, so a reassembler that holds segments back does not shift pairing.
//!
//! Resynchronisation (mid-stream pickup, after a gap or bytes that do not frame) looks for a start
//! line at line beginnings and at the first byte of each delivery (a new segment often begins a
//! message). Message framing itself does not depend on how the bytes are split into deliveries.
//!
//! Memory: per direction, at most the current partial head (≤ `max_head`) or the stored part of
//! the current message (head + at most `max_body` body bytes), plus the responses held for the
//! ordering invariant; [`StreamHandler::buffered`] reports them. Bodies are never copied twice:
//! bytes go from the reassembler's slice into the message's buffer, which becomes the record's
//! `Bytes` without another copy.
//!
//! Never panics on any input: all bytes come from the network and are parsed by checked code.

use std::collections::VecDeque;
use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};

use crate::exchange::{Gap, Message, Record, Response, Truncation};
use crate::tcp::{CloseReason, ConnInfo, Dir, GapCause, Interest, StreamHandler};

use super::framing::{
    BodyKind, DEFAULT_MAX_HEAD, FrameError, GapSkip, Head, Kind, MessageFramer, RequestContext,
    Scan, Side, find_message_start, http09_request_line, is_known_method, partial_head,
};

/// How the extractor decides who is who and what it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractConfig {
    /// Server ports (`--port`): the side using one of them is the server. Empty: the side whose
    /// bytes first parse as a request start is the client (a status line marks the server).
    pub server_ports: Vec<u16>,
    /// Most body bytes stored per message (`--max-body`); the rest is framed and counted only.
    pub max_body: Option<u64>,
    /// Largest head accepted; beyond it the bytes are not HTTP (or too large to keep).
    pub max_head: usize,
}

impl Default for ExtractConfig {
    fn default() -> Self {
        ExtractConfig {
            server_ports: Vec::new(),
            max_body: None,
            max_head: DEFAULT_MAX_HEAD,
        }
    }
}

/// What the extractor saw and did, for the run's summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractStats {
    /// Request records emitted.
    pub requests: u64,
    /// Final responses paired with a request.
    pub responses: u64,
    /// 1xx interim responses (never counted as responses).
    pub interim: u64,
    /// Final responses with no request (capture began mid-exchange, or requests were lost).
    pub orphans: u64,
    /// Requests that never got a final response.
    pub unanswered: u64,
    /// Gaps reported by TCP on HTTP connections.
    pub gaps: u64,
    /// Bytes lost in those gaps.
    pub gap_bytes: u64,
    /// Bytes skipped while looking for the next message start (mid-stream pickup, after a gap,
    /// after bytes that did not frame).
    pub resync_skipped_bytes: u64,
    /// Heads or bodies that did not frame once a connection was known to be HTTP.
    pub framing_errors: u64,
    /// Connections given up as not HTTP: another protocol or binary from the client's first
    /// payload on a connection seen from its SYN, no message start within `max_head` bytes
    /// (64 × `max_head` for connections picked up mid-stream, which may be inside a large body),
    /// or none by the close.
    pub non_http_conns: u64,
    /// Connections that started with TLS.
    pub tls_conns: u64,
    /// Connections switched to another protocol (101, CONNECT 2xx).
    pub upgraded_conns: u64,
    /// Messages whose body was cut by `max_body`.
    pub truncated_max_body: u64,
    /// Messages cut by a capture gap.
    pub truncated_gap: u64,
    /// Messages cut by the snaplen.
    pub truncated_snaplen: u64,
    /// Messages in progress when the memory budget gave their connection up.
    pub truncated_memory: u64,
    /// Messages in progress when their connection or the input ended.
    pub truncated_incomplete: u64,
    /// Body bytes a client sent after the server had answered its `Expect: 100-continue` request
    /// with a final status: skipped, not parsed as requests.
    pub expect_body_skipped: u64,
}

impl ExtractStats {
    /// Every counter as `(name, value)`, in a stable order (names as in JSON output).
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("requests", self.requests),
            ("responses", self.responses),
            ("interim", self.interim),
            ("orphans", self.orphans),
            ("unanswered", self.unanswered),
            ("gaps", self.gaps),
            ("gap_bytes", self.gap_bytes),
            ("resync_skipped_bytes", self.resync_skipped_bytes),
            ("framing_errors", self.framing_errors),
            ("non_http_conns", self.non_http_conns),
            ("tls_conns", self.tls_conns),
            ("upgraded_conns", self.upgraded_conns),
            ("truncated_max_body", self.truncated_max_body),
            ("truncated_gap", self.truncated_gap),
            ("truncated_snaplen", self.truncated_snaplen),
            ("truncated_memory", self.truncated_memory),
            ("truncated_incomplete", self.truncated_incomplete),
            ("expect_body_skipped", self.expect_body_skipped),
        ]
        .into_iter()
    }

    fn truncated(&mut self, cause: Truncation) {
        match cause {
            Truncation::MaxBody => self.truncated_max_body += 1,
            Truncation::Gap => self.truncated_gap += 1,
            Truncation::Snaplen => self.truncated_snaplen += 1,
            Truncation::Memory => self.truncated_memory += 1,
            Truncation::Incomplete => self.truncated_incomplete += 1,
        }
    }
}

/// Frames and pairs HTTP/1.x on every connection the reassembler hands it.
#[derive(Debug)]
pub struct Extractor {
    config: ExtractConfig,
    out: Vec<Record>,
    stats: ExtractStats,
}

impl Extractor {
    /// An extractor with these settings.
    pub fn new(config: ExtractConfig) -> Self {
        Extractor {
            config,
            out: Vec::new(),
            stats: ExtractStats::default(),
        }
    }

    /// The records produced since the last call, in emission order.
    pub fn drain(&mut self) -> impl Iterator<Item = Record> + '_ {
        self.out.drain(..)
    }

    /// Counters so far.
    pub fn stats(&self) -> &ExtractStats {
        &self.stats
    }

    fn cx<'a>(&'a mut self, info: &'a ConnInfo) -> Cx<'a> {
        Cx {
            cfg: &self.config,
            out: &mut self.out,
            stats: &mut self.stats,
            info,
        }
    }
}

/// Bytes without a message start after which a connection is declared not HTTP, as a multiple of
/// `max_head`, for connections picked up mid-stream: a large body in progress must be crossed
/// before the first message start. Connections seen from their SYN get one `max_head`.
const MIDSTREAM_PROBE_HEADS: u64 = 64;

/// The extractor's state for one connection (kept in the reassembler's flow table).
#[derive(Debug)]
pub struct HttpConn {
    /// Index (0 initiator, 1 responder) of the side that sends requests, once known.
    client: Option<usize>,
    /// Payload is no longer wanted (TLS, not HTTP, upgraded).
    skipped: bool,
    /// The first payload of the connection has been looked at.
    first_payload_seen: bool,
    /// A message start was found at least once.
    synced: bool,
    /// Bytes skipped before the first message start.
    probed: u64,
    sides: [Direction; 2],
    /// Requests with a complete head and no final response yet, oldest first.
    pending: VecDeque<Pending>,
    next_index: u32,
    /// Index of the last request emitted (requests are emitted in index order).
    last_emitted: Option<u32>,
    /// Records waiting for their request to be emitted.
    held: VecDeque<Held>,
    held_bytes: usize,
    /// Complete responses that no delivered request answers yet, oldest first: their request may
    /// still come (see [`Pair::Deferred`]).
    deferred: VecDeque<(Msg, Bytes)>,
    deferred_bytes: usize,
    /// Capture time of the newest request head's first byte.
    last_request_ts: Option<u64>,
    /// A gap on the server side since the last response began.
    server_gap: bool,
    /// That gap swallowed the start of a response.
    server_lost_head: bool,
    /// The client was seen sending a request before the previous response was complete.
    pipelined: bool,
    /// Data calls so far.
    events: u64,
    /// A response ended the hold on the client side's bytes (set while framing the server side).
    release_hold: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Looking for a message start.
    Scan,
    /// Framing messages.
    Frame,
    /// Skipping the body of an `Expect: 100-continue` request the server answered first.
    ExpectSkip,
    /// Keeping the client's bytes after a CONNECT or Upgrade request until its response says
    /// whether HTTP goes on.
    Hold,
    /// The direction ended.
    Done,
}

#[derive(Debug)]
struct Direction {
    mode: Mode,
    framer: MessageFramer,
    /// Scan: the start of a candidate line; Frame: the current message (partial head, or head and
    /// stored body); Hold: the held bytes.
    store: BytesMut,
    /// Capture time of the first byte in `store` (Scan and Hold).
    store_ts: u64,
    msg: Option<Msg>,
    /// Bytes delivered or lost on this direction so far.
    offset: u64,
    /// ExpectSkip: the first bytes were looked at (a new request or the skipped body).
    expect_decided: bool,
    /// Hold: bytes were lost (over the limit or in a gap); resynchronise after the hold.
    hold_lost: bool,
}

impl Direction {
    fn new(max_head: usize) -> Self {
        Direction {
            mode: Mode::Scan,
            framer: MessageFramer::with_max_head(Kind::Request, max_head),
            store: BytesMut::new(),
            store_ts: 0,
            msg: None,
            offset: 0,
            expect_decided: false,
            hold_lost: false,
        }
    }
}

/// A message being framed.
#[derive(Debug, Clone)]
struct Msg {
    first_ts: u64,
    last_ts: u64,
    head: Option<Head>,
    body_len: u64,
    /// Body bytes in `store` after the head.
    stored_body: u64,
    /// False once a gap cut the body: later bytes are framed, not stored.
    storing: bool,
    truncation: Option<Truncation>,
    /// Requests: the index, once the head is complete. Responses: unused.
    index: Option<u32>,
    pair: Pair,
    /// A 101 or CONNECT 2xx: HTTP ends after this response.
    tunnel: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pair {
    /// A request, or a response whose head is not complete.
    None,
    /// A 1xx answering this request (index, first byte time), or none.
    Interim(Option<(u32, u64)>),
    /// A final response to this request.
    Final(u32, u64),
    /// A final response with no request; it takes this index.
    Orphan(u32),
    /// A response no delivered request answers, though every request delivered so far was
    /// captured before it: its request may be one reassembly still holds back (its segments came
    /// out of order) or one captured later in the file though earlier in time. Decided when a
    /// request head comes (it answers that request, or was an orphan if the request is newer),
    /// when the client's direction ends, or when too many responses wait.
    Deferred,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    index: u32,
    first_ts: u64,
    ctx: RequestContext,
    expect_continue: bool,
    got_continue: bool,
    upgrade: bool,
}

#[derive(Debug)]
struct Held {
    /// The request that must be emitted first.
    needs: Option<u32>,
    record: Record,
    bytes: usize,
}

/// What one call works with besides the connection.
struct Cx<'a> {
    cfg: &'a ExtractConfig,
    out: &'a mut Vec<Record>,
    stats: &'a mut ExtractStats,
    info: &'a ConnInfo,
}

fn ix(dir: Dir) -> usize {
    match dir {
        Dir::FromInitiator => 0,
        Dir::FromResponder => 1,
    }
}

fn is_tls_record(bytes: &[u8]) -> bool {
    matches!(bytes, [0x14..=0x17, 0x03, 0x00..=0x04, ..])
}

fn gap_truncation(cause: GapCause) -> Truncation {
    match cause {
        GapCause::Snaplen => Truncation::Snaplen,
        GapCause::Loss | GapCause::Overflow => Truncation::Gap,
    }
}

fn close_truncation(reason: CloseReason) -> Truncation {
    match reason {
        CloseReason::Memory => Truncation::Memory,
        _ => Truncation::Incomplete,
    }
}

impl Msg {
    fn new(ts: u64) -> Self {
        Msg {
            first_ts: ts,
            last_ts: ts,
            head: None,
            body_len: 0,
            stored_body: 0,
            storing: true,
            truncation: None,
            index: None,
            pair: Pair::None,
            tunnel: false,
        }
    }
}

/// Appends body bytes to the store within `max_body`; marks the truncation when bytes are dropped.
/// Most bytes reserved ahead for one body: larger bodies grow the buffer as they arrive.
const RESERVE_MAX: u64 = 8 << 20;

/// Reserves room for a body whose length the head gives, so storing it copies each byte once
/// instead of regrowing the buffer (`extra` is what will be stored before the body, e.g. the head).
fn reserve_body(store: &mut BytesMut, head: &Head, extra: usize, max_body: Option<u64>) {
    if let BodyKind::Length(n) = head.body {
        let body = n.min(max_body.unwrap_or(u64::MAX)).min(RESERVE_MAX) as usize;
        store.reserve(extra + body);
    }
}

fn store_body(store: &mut BytesMut, msg: &mut Msg, body: &[u8], max_body: Option<u64>) {
    msg.body_len += body.len() as u64;
    if !msg.storing {
        return;
    }
    let room = max_body.map_or(u64::MAX, |m| m.saturating_sub(msg.stored_body));
    let keep = (body.len() as u64).min(room) as usize;
    store.extend_from_slice(&body[..keep]);
    msg.stored_body += keep as u64;
    if keep < body.len() {
        msg.truncation.get_or_insert(Truncation::MaxBody);
    }
}

impl HttpConn {
    fn new(info: &ConnInfo, cfg: &ExtractConfig) -> Self {
        let is_server = |a: SocketAddr| cfg.server_ports.contains(&a.port());
        let client = match (is_server(info.initiator), is_server(info.responder)) {
            (false, true) => Some(0),
            (true, false) => Some(1),
            _ => None,
        };
        HttpConn {
            client,
            skipped: false,
            first_payload_seen: false,
            synced: false,
            probed: 0,
            sides: [Direction::new(cfg.max_head), Direction::new(cfg.max_head)],
            pending: VecDeque::new(),
            next_index: 0,
            last_emitted: None,
            held: VecDeque::new(),
            held_bytes: 0,
            deferred: VecDeque::new(),
            deferred_bytes: 0,
            last_request_ts: None,
            server_gap: false,
            server_lost_head: false,
            pipelined: false,
            events: 0,
            release_hold: false,
        }
    }

    /// What side `d` sends, once the client is known.
    fn role(&self, d: usize) -> Option<Side> {
        self.client.map(|c| {
            if c == d {
                Side::Request
            } else {
                Side::Response
            }
        })
    }

    /// (client, server) addresses; the initiator is taken as the client while unknown.
    fn addrs(&self, info: &ConnInfo) -> (SocketAddr, SocketAddr) {
        match self.client {
            Some(1) => (info.responder, info.initiator),
            _ => (info.initiator, info.responder),
        }
    }

    fn emitted(&self, index: u32) -> bool {
        self.last_emitted.is_some_and(|last| last >= index)
    }

    // ----- entry points -----

    fn on_data(&mut self, cx: &mut Cx<'_>, d: usize, ts: u64, bytes: &[u8]) -> Interest {
        if self.skipped {
            return Interest::Skip;
        }
        if bytes.is_empty() {
            return Interest::Continue;
        }
        self.events += 1;
        if !self.first_payload_seen {
            self.first_payload_seen = true;
            if is_tls_record(bytes) {
                cx.stats.tls_conns += 1;
                self.give_up();
                return Interest::Skip;
            }
        }
        // From the SYN on, the client's first bytes must begin HTTP. A responder that speaks
        // first is scanned like a stream picked up midway (bounded by the probe limit): in a
        // capture whose file order is not time order, an answer can come before its request.
        let from_initiator = d == ix(Dir::FromInitiator);
        if cx.info.handshake_seen
            && from_initiator
            && self.sides[d].offset == 0
            && !self.starts_like_http(cx, d, bytes)
        {
            cx.stats.non_http_conns += 1;
            self.give_up();
            return Interest::Skip;
        }
        self.sides[d].offset += bytes.len() as u64;
        self.process(cx, d, ts, bytes);
        if self.skipped {
            Interest::Skip
        } else {
            Interest::Continue
        }
    }

    fn on_gap(
        &mut self,
        cx: &mut Cx<'_>,
        d: usize,
        ts: u64,
        len: u64,
        cause: GapCause,
    ) -> Interest {
        if self.skipped {
            return Interest::Skip;
        }
        cx.stats.gaps += 1;
        cx.stats.gap_bytes += len;
        self.first_payload_seen = true;
        if self.role(d) == Some(Side::Response) {
            self.server_gap = true;
        }
        let trunc = gap_truncation(cause);
        let server = self.role(d) == Some(Side::Response);
        let side = &mut self.sides[d];
        side.offset = side.offset.saturating_add(len);
        let mut dropped = 0;
        match side.mode {
            Mode::Scan => {
                dropped = side.store.len() as u64;
                side.store.clear();
            }
            Mode::Hold => side.hold_lost = true,
            Mode::ExpectSkip => match side.framer.skip_gap(len) {
                GapSkip::Inside => {}
                GapSkip::Ended { after: 0 } => side.mode = Mode::Frame,
                GapSkip::Ended { .. } | GapSkip::Lost => self.resync(d),
            },
            Mode::Frame => {
                let in_body = side.msg.as_ref().is_some_and(|m| m.head.is_some());
                if side.msg.is_none() {
                    // Between messages: the gap begins with the next one's start.
                    self.server_lost_head |= server;
                    self.resync(d);
                } else if !in_body {
                    // Inside a head: kept if its status line is there, else lost with the gap.
                    self.server_lost_head |=
                        server && partial_head(&side.store, Side::Response).is_none();
                    self.abandon(cx, d, trunc);
                    self.resync(d);
                } else {
                    match side.framer.skip_gap(len) {
                        GapSkip::Inside => {
                            if let Some(msg) = side.msg.as_mut() {
                                msg.truncation.get_or_insert(trunc);
                                msg.storing = false;
                                msg.body_len += len;
                            }
                        }
                        GapSkip::Ended { after } => {
                            if let Some(msg) = side.msg.as_mut() {
                                msg.truncation.get_or_insert(trunc);
                                msg.body_len += len - after;
                            }
                            self.complete(cx, d);
                            if after > 0 {
                                self.server_lost_head |= server;
                                self.resync(d);
                            }
                        }
                        GapSkip::Lost => {
                            self.abandon(cx, d, trunc);
                            self.resync(d);
                        }
                    }
                }
            }
            Mode::Done => {}
        }
        self.count_skipped(cx, dropped);
        // After the messages the gap cut, so that they read in wire order.
        let (client, server) = self.addrs(cx.info);
        cx.out.push(Record::Gap(Gap {
            conn: cx.info.id,
            client,
            server,
            from_client: self.client.map_or(d == 0, |c| c == d),
            ts_ns: ts,
            len,
        }));
        self.after_step(cx);
        if self.skipped {
            Interest::Skip
        } else {
            Interest::Continue
        }
    }

    fn on_fin(&mut self, cx: &mut Cx<'_>, d: usize) {
        if self.skipped {
            return;
        }
        self.end_direction(cx, d, Truncation::Incomplete, true);
        self.after_step(cx);
    }

    fn on_close(&mut self, cx: &mut Cx<'_>, reason: CloseReason) {
        if !self.skipped && !self.synced && self.events > 0 {
            // Payload came, and none of it was HTTP.
            cx.stats.non_http_conns += 1;
        }
        if !self.skipped {
            let trunc = close_truncation(reason);
            let fin = reason == CloseReason::Fin;
            // The client side first, so that requests precede their responses.
            let order = match self.client {
                Some(1) => [1, 0],
                _ => [0, 1],
            };
            for d in order {
                self.end_direction(cx, d, trunc, fin);
            }
        }
        self.decide_deferred(cx, true);
        self.flush_held(cx);
        cx.stats.unanswered += self.pending.len() as u64;
        self.pending.clear();
    }

    fn buffered(&self) -> usize {
        self.sides.iter().map(|s| s.store.len()).sum::<usize>()
            + self.held_bytes
            + self.deferred_bytes
    }

    // ----- the per-direction loop -----

    fn process(&mut self, cx: &mut Cx<'_>, d: usize, ts: u64, bytes: &[u8]) {
        let mut rest = bytes;
        let mut stalls = 0;
        while !rest.is_empty() && !self.skipped {
            let (before, mode) = (rest.len(), self.sides[d].mode);
            rest = match mode {
                Mode::Scan => self.scan(cx, d, ts, rest),
                Mode::Frame => self.frame(cx, d, ts, rest),
                Mode::ExpectSkip => self.expect_skip(cx, d, ts, rest),
                Mode::Hold => self.hold(cx, d, ts, rest),
                Mode::Done => &[],
            };
            self.after_step(cx);
            if rest.len() == before && self.sides[d].mode == mode {
                // Defensive: every step consumes or changes mode; never spin on a bug.
                stalls += 1;
                if stalls > 2 {
                    cx.stats.resync_skipped_bytes += rest.len() as u64;
                    break;
                }
            } else {
                stalls = 0;
            }
        }
    }

    /// Work a step of the other direction asked for.
    fn after_step(&mut self, cx: &mut Cx<'_>) {
        if self.release_hold {
            self.release_hold = false;
            self.end_hold(cx);
        }
    }

    /// Scan mode: skips to the next message start; returns the bytes from it.
    fn scan<'b>(&mut self, cx: &mut Cx<'_>, d: usize, ts: u64, rest: &'b [u8]) -> &'b [u8] {
        let want = self.role(d);
        let max = cx.cfg.max_head;
        let headless = want == Some(Side::Response)
            && self.sides[d].offset == rest.len() as u64
            && self
                .pending
                .front()
                .is_some_and(|p| p.ctx.version == super::framing::Version::Http09);
        if headless {
            // The answer to an HTTP/0.9 request is the document alone.
            self.sides[d].mode = Mode::Frame;
            return rest;
        }
        let side = &mut self.sides[d];
        let mut rest = rest;
        // The first byte of each delivery is a candidate too: after a gap or bytes that did not
        // frame, the next message most often begins a segment.
        let mut at_line_start = true;
        let mut skipped = 0u64;
        let mut found: Option<Side> = None;
        if !side.store.is_empty() {
            // Complete the candidate line kept from the last call, then judge it.
            let take = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
            let room = (max + 1).saturating_sub(side.store.len()).max(1);
            let take = take.min(room);
            side.store.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            let from_start = side.offset == side.store.len() as u64 + rest.len() as u64
                && want != Some(Side::Response);
            match scan_candidate(&side.store, want, max, from_start) {
                Scan::Found { side: s, .. } => found = Some(s),
                Scan::Partial { .. } if side.store.len() <= max => return &[],
                _ => {
                    skipped += side.store.len() as u64;
                    at_line_start = side.store.last() == Some(&b'\n');
                    side.store.clear();
                }
            }
        }
        let mut from_held = false;
        if found.is_some() {
            from_held = true;
        } else if !rest.is_empty() {
            let from_start = side.offset == rest.len() as u64 && want != Some(Side::Response);
            match scan_buffer(rest, want, at_line_start, max, from_start) {
                Scan::Found { offset, side: s } => {
                    skipped += offset as u64;
                    rest = &rest[offset..];
                    found = Some(s);
                }
                Scan::Partial { offset } => {
                    skipped += offset as u64;
                    side.store.extend_from_slice(&rest[offset..]);
                    side.store_ts = ts;
                    rest = &[];
                }
                Scan::Nothing => {
                    skipped += rest.len() as u64;
                    rest = &[];
                }
            }
        }
        if skipped > 0 && want == Some(Side::Response) {
            // Bytes that did not frame may have held answers: pair the next response as after
            // a gap.
            self.server_gap = true;
        }
        self.count_skipped(cx, skipped);
        if self.skipped {
            return &[];
        }
        let Some(kind) = found else {
            return rest;
        };
        if self.client.is_none() {
            self.client = Some(if kind == Side::Request { d } else { 1 - d });
        }
        if !self.synced {
            self.synced = true;
            cx.stats.resync_skipped_bytes += self.probed;
        }
        let side = &mut self.sides[d];
        side.mode = Mode::Frame;
        side.msg = None;
        if from_held {
            // The kept line begins the message: frame it now, in case no more bytes come.
            let _ = self.frame(cx, d, ts, &[]);
        } else {
            side.store_ts = ts;
        }
        rest
    }

    fn count_skipped(&mut self, cx: &mut Cx<'_>, skipped: u64) {
        if skipped == 0 {
            return;
        }
        if self.synced {
            cx.stats.resync_skipped_bytes += skipped;
            return;
        }
        self.probed += skipped;
        let heads = if cx.info.handshake_seen {
            1
        } else {
            MIDSTREAM_PROBE_HEADS
        };
        if self.probed > heads * cx.cfg.max_head as u64 {
            cx.stats.non_http_conns += 1;
            self.give_up();
        }
    }

    /// Whether a side's first payload can begin HTTP (from the SYN on, the client's must at once).
    fn starts_like_http(&self, cx: &Cx<'_>, d: usize, bytes: &[u8]) -> bool {
        let start = bytes
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(bytes.len());
        let bytes = &bytes[start..];
        if bytes.is_empty() {
            return true;
        }
        let want = self.role(d);
        matches!(
            scan_buffer(
                bytes,
                want,
                true,
                cx.cfg.max_head,
                want != Some(Side::Response)
            ),
            Scan::Found { offset: 0, .. } | Scan::Partial { offset: 0 }
        )
    }

    /// Frame mode: frames as much of `rest` as belongs to the current message; returns the rest.
    fn frame<'b>(&mut self, cx: &mut Cx<'_>, d: usize, ts: u64, rest: &'b [u8]) -> &'b [u8] {
        let Some(role) = self.role(d) else {
            self.sides[d].mode = Mode::Scan;
            return rest;
        };
        let mut rest = rest;
        if self.sides[d].msg.is_none() {
            let headless = role == Side::Response
                && self
                    .pending
                    .front()
                    .is_some_and(|p| p.ctx.version == super::framing::Version::Http09);
            let side = &mut self.sides[d];
            if side.store.is_empty() && !headless {
                // Blank lines between messages are not part of either.
                let n = rest
                    .iter()
                    .position(|&b| b != b'\r' && b != b'\n')
                    .unwrap_or(rest.len());
                rest = &rest[n..];
                if rest.is_empty() {
                    return rest;
                }
            }
            self.start_message(cx, d, role, ts);
        }
        let max_body = cx.cfg.max_body;
        let max_head = cx.cfg.max_head;
        let side = &mut self.sides[d];
        let Some(msg) = side.msg.as_mut() else {
            return &[];
        };
        // The latest capture time of any of its bytes: with reordered segments, bytes delivered
        // later may have been captured earlier, and the message is whole only when all were seen.
        msg.last_ts = msg.last_ts.max(ts);
        let mut head_done: Option<Head> = None;
        let done;
        if side.framer.in_head() {
            if side.store.is_empty() {
                let f = match side.framer.push(rest) {
                    Ok(f) => f,
                    Err(e) => return self.head_error(cx, d, rest, None, e),
                };
                let Some(head) = f.head else {
                    side.store.extend_from_slice(&rest[f.skipped..]);
                    return &[];
                };
                let from = f.skipped;
                reserve_body(&mut side.store, &head, head.len, max_body);
                side.store.extend_from_slice(&rest[from..from + head.len]);
                let body = &rest[from + head.len..from + f.consumed];
                store_body(&mut side.store, msg, body, max_body);
                rest = &rest[from + f.consumed..];
                head_done = Some(head);
                done = f.done;
            } else {
                let before = side.store.len();
                let room = (max_head + 1).saturating_sub(before).max(1);
                let take = rest.len().min(room);
                side.store.extend_from_slice(&rest[..take]);
                let f = match side.framer.push(&side.store) {
                    Ok(f) => f,
                    Err(e) => return self.head_error(cx, d, rest, Some(before), e),
                };
                let Some(head) = f.head else {
                    return &rest[take..];
                };
                // The head ended inside the new bytes; the store may hold bytes past it.
                let end = f.skipped + f.consumed;
                let body_start = f.skipped + head.len;
                let body_in_store = side.store.split_off(body_start);
                reserve_body(&mut side.store, &head, 0, max_body);
                let body = &body_in_store[..end - body_start];
                store_body(&mut side.store, msg, body, max_body);
                rest = &rest[end.saturating_sub(before).min(rest.len())..];
                head_done = Some(head);
                done = f.done;
            }
        } else {
            match side.framer.push(rest) {
                Ok(f) => {
                    store_body(&mut side.store, msg, &rest[..f.consumed], max_body);
                    rest = &rest[f.consumed..];
                    done = f.done;
                }
                Err(_) => {
                    cx.stats.framing_errors += 1;
                    self.abandon(cx, d, Truncation::Incomplete);
                    self.resync(d);
                    return rest;
                }
            }
        }
        if let Some(head) = head_done {
            if let Some(msg) = self.sides[d].msg.as_mut() {
                msg.head = Some(head);
            }
            self.on_head(cx, d, role, head);
        }
        if done && self.sides[d].msg.is_some() {
            self.complete(cx, d);
        }
        rest
    }

    /// A head that does not frame. One that is complete but whose body cannot be delimited
    /// (conflicting Content-Length, a request Transfer-Encoding not ending in chunked) is kept,
    /// cut, so that its answer still pairs with it; otherwise its first line is skipped. Then the
    /// next message start is looked for. `before` is how many of the head's bytes were in the
    /// store before this call's (`None`: the head began in `rest`).
    fn head_error<'b>(
        &mut self,
        cx: &mut Cx<'_>,
        d: usize,
        rest: &'b [u8],
        before: Option<usize>,
        err: FrameError,
    ) -> &'b [u8] {
        cx.stats.framing_errors += 1;
        let side = &mut self.sides[d];
        if let Some(head_len) = err.head_len() {
            let after = match before {
                None => {
                    let n = head_len.min(rest.len());
                    side.store.extend_from_slice(&rest[..n]);
                    n
                }
                Some(before) => {
                    side.store.truncate(head_len);
                    head_len.saturating_sub(before).min(rest.len())
                }
            };
            self.abandon(cx, d, Truncation::Incomplete);
            self.resync(d);
            return &rest[after..];
        }
        side.msg = None;
        let skip = match before {
            Some(before) => {
                side.store.truncate(before);
                0
            }
            None => memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1),
        };
        let dropped = side.store.len() + skip;
        side.store.clear();
        side.mode = Mode::Scan;
        cx.stats.resync_skipped_bytes += dropped as u64;
        &rest[skip..]
    }

    fn start_message(&mut self, cx: &mut Cx<'_>, d: usize, role: Side, ts: u64) {
        let side = &self.sides[d];
        let first_ts = if side.store.is_empty() {
            ts
        } else {
            side.store_ts
        };
        let kind = match role {
            Side::Request => Kind::Request,
            Side::Response => {
                if self.server_gap {
                    self.after_server_gap(cx, first_ts);
                }
                Kind::Response(self.answerable(first_ts).map(|p| p.ctx).unwrap_or_default())
            }
        };
        let side = &mut self.sides[d];
        side.framer.reset(kind);
        side.msg = Some(Msg::new(first_ts));
    }

    /// The request a response beginning at `ts` answers: the oldest unanswered one, unless it was
    /// sent after that (then the response's request was never seen: an orphan).
    fn answerable(&self, ts: u64) -> Option<&Pending> {
        self.pending.front().filter(|p| p.first_ts <= ts)
    }

    /// The first response after a gap on the server side, beginning at `ts`: responses may have
    /// been lost in the gap, and their requests must not take the next response's status and
    /// latency. On a connection that never pipelined, the client sent each request after the
    /// previous response, so the response answers the newest request sent before it began.
    /// Otherwise, when the gap swallowed a response's start, the oldest request lost its answer.
    fn after_server_gap(&mut self, cx: &mut Cx<'_>, ts: u64) {
        self.server_gap = false;
        let lost = if !self.pipelined {
            let sent_before = self.pending.iter().take_while(|p| p.first_ts <= ts).count();
            sent_before.saturating_sub(1)
        } else {
            usize::from(self.server_lost_head).min(self.pending.len())
        };
        self.server_lost_head = false;
        self.pending.drain(..lost);
        cx.stats.unanswered += lost as u64;
    }
}

// ----- heads, completion, emission -----

impl HttpConn {
    /// A head completed on direction `d`: index requests, pair responses.
    fn on_head(&mut self, cx: &mut Cx<'_>, d: usize, role: Side, head: Head) {
        match role {
            Side::Request => {
                let Some(first_ts) = self.sides[d].msg.as_ref().map(|m| m.first_ts) else {
                    return;
                };
                self.last_request_ts =
                    Some(self.last_request_ts.map_or(first_ts, |t| t.max(first_ts)));
                // Waiting responses captured before this request were orphans: they take their
                // indexes before it.
                self.decide_deferred(cx, false);
                let index = self.next_index;
                self.next_index = self.next_index.saturating_add(1);
                if let Some(msg) = self.sides[d].msg.as_mut() {
                    msg.index = Some(index);
                }
                let expects_body = !matches!(head.body, BodyKind::None | BodyKind::Length(0));
                self.pending.push_back(Pending {
                    index,
                    first_ts,
                    ctx: head.request_context(),
                    expect_continue: head.expect_continue && expects_body,
                    got_continue: false,
                    upgrade: head.upgrade,
                });
                // The rest answer this request, or still wait.
                self.decide_deferred(cx, false);
            }
            Side::Response => {
                let status = head.status().unwrap_or(0);
                let tunnel = head.body == BodyKind::Tunnel;
                let first_ts = self.sides[d].msg.as_ref().map_or(0, |m| m.first_ts);
                let pair = if tunnel {
                    // HTTP ends here: nothing may wait past it.
                    self.decide_deferred(cx, true);
                    self.pair_response(cx, status, tunnel, first_ts)
                } else if self.may_defer(first_ts) {
                    Pair::Deferred
                } else {
                    self.pair_response(cx, status, tunnel, first_ts)
                };
                if let Some(msg) = self.sides[d].msg.as_mut() {
                    msg.pair = pair;
                    msg.tunnel = tunnel;
                }
            }
        }
    }

    /// The request a response with `status` beginning at `first_ts` answers, now: the oldest
    /// unanswered one sent before it, else none (an orphan, or a 1xx to nothing).
    fn pair_response(&mut self, cx: &mut Cx<'_>, status: u16, tunnel: bool, first_ts: u64) -> Pair {
        let answers = self.answerable(first_ts).is_some();
        if status / 100 == 1 && !tunnel {
            return match self.pending.front_mut().filter(|_| answers) {
                Some(target) => {
                    target.got_continue |= status == 100;
                    Pair::Interim(Some((target.index, target.first_ts)))
                }
                None => Pair::Interim(None),
            };
        }
        let target = if answers {
            self.pending.pop_front()
        } else {
            None
        };
        match target {
            Some(target) => {
                if target.expect_continue && !target.got_continue {
                    self.expect_cut(cx, target.index);
                }
                if target.upgrade && !tunnel {
                    self.release_hold = true;
                }
                Pair::Final(target.index, target.first_ts)
            }
            None => {
                let index = self.next_index;
                self.next_index = self.next_index.saturating_add(1);
                Pair::Orphan(index)
            }
        }
    }

    /// Whether a response beginning at `first_ts` waits for its request: no delivered request
    /// answers it, none was captured after it, and the client can still send; or responses
    /// already wait (they are decided in wire order).
    fn may_defer(&self, first_ts: u64) -> bool {
        let client_open = self
            .client
            .is_some_and(|c| self.sides[c].mode != Mode::Done);
        client_open && (!self.deferred.is_empty() || self.undecided(first_ts))
    }

    /// No delivered request answers a response beginning at `first_ts`, and none came after it.
    fn undecided(&self, first_ts: u64) -> bool {
        self.answerable(first_ts).is_none() && self.last_request_ts.is_none_or(|t| t <= first_ts)
    }

    /// Decides the waiting responses that can be decided (all of them with `force`), oldest
    /// first, then the response in progress if it waits.
    fn decide_deferred(&mut self, cx: &mut Cx<'_>, force: bool) {
        while let Some((msg, _)) = self.deferred.front() {
            if !force && self.undecided(msg.first_ts) {
                return;
            }
            self.decide_oldest(cx);
        }
        let Some(server) = self.client.map(|c| 1 - c) else {
            return;
        };
        let waiting = self.sides[server]
            .msg
            .as_ref()
            .filter(|m| m.pair == Pair::Deferred)
            .map(|m| (m.first_ts, m.head.and_then(|h| h.status()).unwrap_or(0)));
        if let Some((first_ts, status)) = waiting {
            if force || !self.undecided(first_ts) {
                let pair = self.pair_response(cx, status, false, first_ts);
                if let Some(msg) = self.sides[server].msg.as_mut() {
                    msg.pair = pair;
                }
            }
        }
    }

    /// Pairs the oldest waiting response as things stand (with a request, or as an orphan) and
    /// emits it.
    fn decide_oldest(&mut self, cx: &mut Cx<'_>) {
        let Some((mut msg, bytes)) = self.deferred.pop_front() else {
            return;
        };
        self.deferred_bytes = self.deferred_bytes.saturating_sub(bytes.len());
        let status = msg.head.and_then(|h| h.status()).unwrap_or(0);
        msg.pair = self.pair_response(cx, status, false, msg.first_ts);
        self.emit_response(cx, &msg, bytes);
    }

    /// The server gave a final status to an `Expect: 100-continue` request before any body byte
    /// came: the request is complete without its body (SPEC "Measures"); body bytes the client
    /// sends anyway are skipped.
    fn expect_cut(&mut self, cx: &mut Cx<'_>, index: u32) {
        let Some(c) = self.client else {
            return;
        };
        let side = &self.sides[c];
        let cut = side.mode == Mode::Frame
            && !side.framer.is_done()
            && side
                .msg
                .as_ref()
                .is_some_and(|m| m.index == Some(index) && m.head.is_some() && m.body_len == 0);
        if cut {
            self.complete(cx, c);
            let side = &mut self.sides[c];
            side.mode = Mode::ExpectSkip;
            side.expect_decided = false;
        }
    }

    /// The message on direction `d` is over (complete, or cut with its truncation set): emit it.
    fn complete(&mut self, cx: &mut Cx<'_>, d: usize) {
        let side = &mut self.sides[d];
        let Some(msg) = side.msg.take() else {
            return;
        };
        let bytes = side.store.split().freeze();
        match self.role(d) {
            Some(Side::Request) => self.emit_request(cx, d, &msg, bytes),
            Some(Side::Response) => self.emit_response(cx, &msg, bytes),
            None => {}
        }
    }

    fn message(&self, cx: &Cx<'_>, msg: &Msg, index: u32, bytes: Bytes) -> Message {
        let (client, server) = self.addrs(cx.info);
        let head_len = msg.head.map_or(bytes.len(), |h| h.len).min(bytes.len());
        Message {
            conn: cx.info.id,
            index,
            client,
            server,
            first_ts_ns: msg.first_ts,
            last_ts_ns: msg.last_ts,
            head_len: u32::try_from(head_len).unwrap_or(u32::MAX),
            bytes,
            body_len: msg.body_len,
            truncation: msg.truncation,
            external_id: None,
        }
    }

    fn emit_request(&mut self, cx: &mut Cx<'_>, d: usize, msg: &Msg, bytes: Bytes) {
        let Some(index) = msg.index else {
            return;
        };
        let message = self.message(cx, msg, index, bytes);
        if let Some(cause) = msg.truncation {
            cx.stats.truncated(cause);
        }
        cx.stats.requests += 1;
        cx.out.push(Record::Request(message));
        self.last_emitted = Some(index);
        self.release_held(cx);
        // After a CONNECT or Upgrade request, what the client sends next may be another protocol:
        // keep it until the answer says.
        let awaiting = msg.head.is_some_and(|h| h.upgrade)
            && msg.truncation.is_none()
            && self.pending.iter().any(|p| p.index == index);
        if awaiting {
            let side = &mut self.sides[d];
            side.mode = Mode::Hold;
            side.hold_lost = false;
        }
    }

    fn emit_response(&mut self, cx: &mut Cx<'_>, msg: &Msg, bytes: Bytes) {
        if msg.pair == Pair::Deferred {
            self.deferred_bytes += bytes.len();
            self.deferred.push_back((msg.clone(), bytes));
            while self.deferred.len() > MAX_DEFERRED
                || (self.deferred_bytes > MAX_DEFERRED_BYTES && !self.deferred.is_empty())
            {
                self.decide_oldest(cx);
            }
            return;
        }
        let (index, request, interim) = match msg.pair {
            Pair::Interim(Some((i, t))) => (i, Some((i, t)), true),
            Pair::Interim(None) => (self.next_index, None, true),
            Pair::Final(i, t) => (i, Some((i, t)), false),
            Pair::Orphan(i) => (i, None, false),
            Pair::None | Pair::Deferred => return,
        };
        if let Pair::Final(..) = msg.pair {
            // The next request went out before this response was over: the client pipelines.
            if self
                .pending
                .front()
                .is_some_and(|next| next.first_ts < msg.last_ts)
            {
                self.pipelined = true;
            }
        }
        let response = Response {
            status: msg.head.and_then(|h| h.status()).unwrap_or(0),
            latency_ns: request.map(|(_, t)| msg.first_ts.saturating_sub(t)),
            latency_last_ns: request.map(|(_, t)| msg.last_ts.saturating_sub(t)),
            message: self.message(cx, msg, index, bytes),
        };
        if let Some(cause) = msg.truncation {
            cx.stats.truncated(cause);
        }
        let record = if interim {
            cx.stats.interim += 1;
            Record::Interim(response)
        } else if request.is_some() {
            cx.stats.responses += 1;
            Record::Response(response)
        } else {
            cx.stats.orphans += 1;
            Record::Orphan(response)
        };
        let needs = request.map(|(i, _)| i);
        if self.held.is_empty() && needs.is_none_or(|i| self.emitted(i)) {
            cx.out.push(record);
        } else {
            let bytes = match &record {
                Record::Interim(r) | Record::Response(r) | Record::Orphan(r) => {
                    r.message.bytes.len()
                }
                _ => 0,
            };
            self.held_bytes += bytes;
            self.held.push_back(Held {
                needs,
                record,
                bytes,
            });
        }
        if msg.tunnel {
            self.upgrade(cx);
        }
    }

    fn release_held(&mut self, cx: &mut Cx<'_>) {
        while let Some(front) = self.held.front() {
            if !front.needs.is_none_or(|i| self.emitted(i)) {
                break;
            }
            if let Some(held) = self.held.pop_front() {
                self.held_bytes -= held.bytes;
                cx.out.push(held.record);
            }
        }
    }

    fn flush_held(&mut self, cx: &mut Cx<'_>) {
        self.held_bytes = 0;
        cx.out.extend(self.held.drain(..).map(|h| h.record));
    }

    /// 101 or CONNECT 2xx: HTTP is over on this connection.
    fn upgrade(&mut self, cx: &mut Cx<'_>) {
        cx.stats.upgraded_conns += 1;
        if let Some(c) = self.client {
            self.end_direction(cx, c, Truncation::Incomplete, false);
        }
        self.flush_held(cx);
        self.give_up();
    }

    /// Stops looking at the connection's payload.
    fn give_up(&mut self) {
        self.skipped = true;
        for side in &mut self.sides {
            side.store = BytesMut::new();
            side.msg = None;
            side.mode = Mode::Done;
        }
    }

    /// Emits the message in progress on `d`, cut: a partial head is kept when its start line is
    /// complete (so its response still pairs with it), else dropped and counted as skipped.
    fn abandon(&mut self, cx: &mut Cx<'_>, d: usize, cause: Truncation) {
        let Some(role) = self.role(d) else {
            return;
        };
        let side = &mut self.sides[d];
        let Some(msg) = side.msg.as_mut() else {
            cx.stats.resync_skipped_bytes += side.store.len() as u64;
            side.store.clear();
            return;
        };
        msg.truncation.get_or_insert(cause);
        if msg.head.is_some() {
            self.complete(cx, d);
            return;
        }
        match partial_head(&side.store, role) {
            Some(head) => {
                let head = Head {
                    len: side.store.len(),
                    ..head
                };
                msg.head = Some(head);
                self.on_head(cx, d, role, head);
                self.complete(cx, d);
            }
            None => {
                cx.stats.resync_skipped_bytes += side.store.len() as u64;
                side.store.clear();
                side.msg = None;
            }
        }
    }

    /// Looks for the next message start on `d`.
    fn resync(&mut self, d: usize) {
        let side = &mut self.sides[d];
        side.mode = Mode::Scan;
        side.msg = None;
        side.store.clear();
    }

    /// Direction `d` ends (FIN, or the connection closes): a body delimited by the close is
    /// complete on a FIN; anything else in progress is cut with `cause`.
    fn end_direction(&mut self, cx: &mut Cx<'_>, d: usize, cause: Truncation, fin: bool) {
        match self.sides[d].mode {
            Mode::Frame if self.sides[d].msg.is_some() => {
                if fin && self.sides[d].framer.until_close() {
                    let _ = self.sides[d].framer.finish();
                    self.complete(cx, d);
                } else {
                    self.abandon(cx, d, cause);
                }
            }
            Mode::Hold | Mode::Scan | Mode::ExpectSkip if self.synced => {
                cx.stats.resync_skipped_bytes += self.sides[d].store.len() as u64;
            }
            _ => {}
        }
        let side = &mut self.sides[d];
        side.store.clear();
        side.msg = None;
        side.mode = Mode::Done;
        if self.client == Some(d) {
            // No request can come any more: the responses waiting for one are orphans.
            self.decide_deferred(cx, true);
        }
    }

    /// ExpectSkip mode: the client's next bytes are either a new request or the body the server
    /// did not ask for; the body is framed and counted, not parsed.
    fn expect_skip<'b>(&mut self, cx: &mut Cx<'_>, d: usize, ts: u64, rest: &'b [u8]) -> &'b [u8] {
        let side = &mut self.sides[d];
        if side.framer.is_done() {
            side.mode = Mode::Frame;
            return rest;
        }
        if !side.expect_decided {
            // Judge by the first word, once it is there (however the bytes were split): a known
            // method and a space start a new request, anything else is the body.
            if side.store.is_empty() {
                side.store_ts = ts;
            }
            let want = METHOD_WORD.saturating_sub(side.store.len());
            let take = memchr::memchr(b' ', &rest[..want.min(rest.len())])
                .map_or(want.min(rest.len()), |i| i + 1);
            side.store.extend_from_slice(&rest[..take]);
            if side.store.last() != Some(&b' ') && side.store.len() < METHOD_WORD {
                return &rest[take..];
            }
            side.expect_decided = true;
            let first = side.store.split().freeze();
            let first_ts = side.store_ts;
            if first.len() > 1 && is_known_method(&first[..first.len() - 1]) {
                side.mode = Mode::Frame;
            }
            self.process(cx, d, first_ts, &first);
            return &rest[take..];
        }
        match side.framer.push(rest) {
            Ok(f) => {
                cx.stats.expect_body_skipped += f.consumed as u64;
                if f.done {
                    side.mode = Mode::Frame;
                }
                &rest[f.consumed..]
            }
            Err(_) => {
                cx.stats.framing_errors += 1;
                self.resync(d);
                rest
            }
        }
    }

    /// Hold mode: keeps the client's bytes (up to `max_head`) until the upgrade is answered.
    fn hold<'b>(&mut self, cx: &mut Cx<'_>, d: usize, ts: u64, rest: &'b [u8]) -> &'b [u8] {
        let side = &mut self.sides[d];
        if side.store.is_empty() {
            side.store_ts = ts;
        }
        let keep = rest
            .len()
            .min(cx.cfg.max_head.saturating_sub(side.store.len()));
        side.store.extend_from_slice(&rest[..keep]);
        if keep < rest.len() {
            side.hold_lost = true;
            cx.stats.resync_skipped_bytes += (rest.len() - keep) as u64;
        }
        &[]
    }

    /// The upgrade was refused (an ordinary final response): HTTP goes on with the held bytes.
    fn end_hold(&mut self, cx: &mut Cx<'_>) {
        let Some(c) = self.client else {
            return;
        };
        let side = &mut self.sides[c];
        if side.mode != Mode::Hold {
            return;
        }
        let held = side.store.split().freeze();
        let ts = side.store_ts;
        let lost = std::mem::take(&mut side.hold_lost);
        side.mode = if lost { Mode::Scan } else { Mode::Frame };
        side.msg = None;
        self.process(cx, c, ts, &held);
    }
}

/// Most complete responses that wait for their request on one connection (see
/// [`Pair::Deferred`]); beyond it the oldest is decided as things stand.
const MAX_DEFERRED: usize = 16;

/// Most bytes of complete responses waiting for their request on one connection; beyond it the
/// oldest is decided as things stand, so a one-sided capture holds little.
const MAX_DEFERRED_BYTES: usize = 64 * 1024;

/// Longest known method and its space: how many bytes decide whether the bytes after an
/// `Expect: 100-continue` request answered early are a new request or the unasked-for body.
const METHOD_WORD: usize = 11;

/// The scanner, plus HTTP/0.9 request lines at the very start of a stream.
fn scan_buffer(
    buf: &[u8],
    want: Option<Side>,
    at_line_start: bool,
    max: usize,
    from_start: bool,
) -> Scan {
    if from_start && at_line_start && http09_request_line(buf) {
        return Scan::Found {
            offset: 0,
            side: Side::Request,
        };
    }
    find_message_start(buf, want, at_line_start, max)
}

fn scan_candidate(line: &[u8], want: Option<Side>, max: usize, from_start: bool) -> Scan {
    scan_buffer(line, want, true, max, from_start)
}

impl StreamHandler for Extractor {
    type Conn = HttpConn;

    fn open(&mut self, info: &ConnInfo) -> HttpConn {
        HttpConn::new(info, &self.config)
    }

    fn data(
        &mut self,
        conn: &mut HttpConn,
        info: &ConnInfo,
        dir: Dir,
        ts_ns: u64,
        bytes: &[u8],
    ) -> Interest {
        let mut cx = self.cx(info);
        conn.on_data(&mut cx, ix(dir), ts_ns, bytes)
    }

    fn gap(
        &mut self,
        conn: &mut HttpConn,
        info: &ConnInfo,
        dir: Dir,
        ts_ns: u64,
        len: u64,
        cause: GapCause,
    ) -> Interest {
        let mut cx = self.cx(info);
        conn.on_gap(&mut cx, ix(dir), ts_ns, len, cause)
    }

    fn fin(&mut self, conn: &mut HttpConn, info: &ConnInfo, dir: Dir, _ts_ns: u64) {
        let mut cx = self.cx(info);
        conn.on_fin(&mut cx, ix(dir));
    }

    fn close(&mut self, mut conn: HttpConn, info: &ConnInfo, _ts_ns: u64, reason: CloseReason) {
        let mut cx = self.cx(info);
        conn.on_close(&mut cx, reason);
    }

    fn buffered(conn: &HttpConn) -> usize {
        conn.buffered()
    }
}
