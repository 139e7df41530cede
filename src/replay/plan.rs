//! From log records to requests ready to send: the production response joined to each request,
//! filters, shards, truncation skips, target choice and rewrites. Runs on its own thread, streaming:
//! memory is bounded by the join window, never by the log's size.
//!
//! **Join.** A request's response always comes after it in the log (within its production
//! latency). Requests wait in a FIFO until their response is seen, and leave it in log order when
//! it is, or when the window runs out: [`JOIN_WINDOW_NS`] of log time after the request, or
//! [`JOIN_MAX_PENDING`] requests waiting. A request that leaves without its response has no
//! production fields. Orphans and 1xx responses are never replayed.
//!
//! **Pipelining.** A request is *pipelined* when it was recorded before the response to the
//! previous request of its connection began: the client sent it without waiting, and replay does
//! the same. It is known when that response arrives (the request is still waiting then); a
//! request whose predecessor's response is not in the log is not pipelined.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;

use bytes::Bytes;
use xxhash_rust::xxh3::xxh3_64;

use crate::exchange::{Message, Record, Truncation};
use crate::filter::Filter;
use crate::http::framing::{BodyKind, Kind, MessageFramer, RequestContext, RequestHead, Version};
use crate::log::LogError;
use crate::log::merge::Merger;

use super::rewrite::Rewrites;
use super::target::Targets;

/// How long (log time) a request waits for its response before it is sent without one.
pub const JOIN_WINDOW_NS: u64 = 30_000_000_000;
/// At most this many requests wait for their responses; then the oldest goes without one.
pub const JOIN_MAX_PENDING: usize = 16_384;

/// How requests are split between replayers (`--shard I/N`, `--shard-by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This replayer's index, from 0.
    pub index: u32,
    /// Number of replayers (1: no sharding).
    pub count: u32,
    /// Split by request (`--shard-by request`) instead of by connection.
    pub by_request: bool,
}

impl Default for Shard {
    fn default() -> Self {
        Shard {
            index: 0,
            count: 1,
            by_request: false,
        }
    }
}

impl Shard {
    /// The shard a request belongs to: xxh3-64 (seed 0) of the connection id's 8 little-endian
    /// bytes — or, by request, of those followed by the index's 4 little-endian bytes — mod N.
    pub fn of(&self, conn: u64, index: u32) -> u32 {
        if self.count <= 1 {
            return 0;
        }
        let hash = if self.by_request {
            let mut key = [0u8; 12];
            key[..8].copy_from_slice(&conn.to_le_bytes());
            key[8..].copy_from_slice(&index.to_le_bytes());
            xxh3_64(&key)
        } else {
            xxh3_64(&conn.to_le_bytes())
        };
        (hash % u64::from(self.count)) as u32
    }

    /// True when this replayer sends the request.
    pub fn keeps(&self, conn: u64, index: u32) -> bool {
        self.of(conn, index) == self.index
    }
}

/// One request, ready for the scheduler.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Recorded connection id.
    pub conn: u64,
    /// Recorded index in the connection.
    pub index: u32,
    /// Iteration of `--loop`, from 0.
    pub iteration: u32,
    /// Recorded time of the first byte, ns since the Unix epoch.
    pub recorded_ts_ns: u64,
    /// Time since the log's first request (plus earlier iterations' spans), ns: what `--speed`
    /// scales.
    pub log_offset_ns: u64,
    /// The bytes to write (after rewrites).
    pub bytes: Bytes,
    /// Recorded method.
    pub method: String,
    /// Recorded request-target.
    pub path: String,
    /// What framing staging's response needs.
    pub context: RequestContext,
    /// Index of the target in [`Targets::list`].
    pub target: usize,
    /// Recorded before the previous response of its connection began.
    pub pipelined: bool,
    /// Sent `Expect: 100-continue` and never sent its body (the server answered first).
    pub expect_unsent: bool,
    /// Production status, when the response was found.
    pub prod_status: Option<u16>,
    /// Production latency, ns.
    pub prod_latency_ns: Option<u64>,
    /// Id from an imported format.
    pub external_id: Option<String>,
    /// Which target set it goes to: 0 the candidate (`--target`), 1 the baseline
    /// (`--baseline-target`); written into its result.
    pub role: u8,
    /// With a baseline target: the bytes for it, when the rewrites make them differ from
    /// `bytes` (`--rewrite-host` writes each target's own Host); `None` sends `bytes`.
    pub baseline_bytes: Option<Bytes>,
}

impl Planned {
    /// The same request for the baseline target `target` (role 1), at the same intended time.
    pub fn baseline_twin(&self, target: usize) -> Planned {
        let mut twin = self.clone();
        twin.role = 1;
        twin.target = target;
        if let Some(bytes) = twin.baseline_bytes.take() {
            twin.bytes = bytes;
        }
        twin
    }
}

/// Requests left out, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Left out by `--method`, `--path`, `--exclude-path`, `--header`, `--read-only`.
    pub filtered: u64,
    /// Belong to another shard.
    pub other_shard: u64,
    /// Recorded body truncated, by reason (sending them would hang staging on Content-Length).
    pub truncated: Vec<(Truncation, u64)>,
    /// No target for their Host (with `--target-map` and no `--target`).
    pub no_target: u64,
    /// The stored head does not parse as a request.
    pub unparsable: u64,
}

impl Skipped {
    /// All skipped requests.
    pub fn total(&self) -> u64 {
        self.filtered
            + self.other_shard
            + self.no_target
            + self.unparsable
            + self.truncated.iter().map(|(_, n)| n).sum::<u64>()
    }

    fn truncated(&mut self, t: Truncation) {
        match self.truncated.iter_mut().find(|(k, _)| *k == t) {
            Some((_, n)) => *n += 1,
            None => self.truncated.push((t, 1)),
        }
    }
}

/// What the planner saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanStats {
    /// Request records read (every iteration).
    pub requests: u64,
    /// Requests handed to the scheduler.
    pub planned: u64,
    /// Requests left out.
    pub skipped: Skipped,
    /// Planned requests whose production response was found.
    pub joined: u64,
    /// Orphan responses seen (never replayed).
    pub orphans: u64,
    /// Iterations started.
    pub iterations: u32,
    /// What the first pass over the logs skipped as damaged (`--loop` reads the same again).
    pub damage: crate::log::Damage,
    /// The logs were read to their end (not stopped by a limit or by the run stopping):
    /// `planned` is then every request the run was to send.
    pub complete: bool,
}

/// What the planner needs.
#[derive(Debug, Clone)]
pub struct PlanConfig {
    /// Input logs, merged by time.
    pub inputs: Vec<PathBuf>,
    /// Request filter.
    pub filter: Filter,
    /// Rewrites.
    pub rewrites: Rewrites,
    /// Targets.
    pub targets: Targets,
    /// Sharding.
    pub shard: Shard,
    /// Start over at the end (`--loop`).
    pub looping: bool,
    /// Stop after planning this many requests (what `--limit`, or `--rate` with `--duration`,
    /// lets the scheduler send), so that counts stop where sending stops.
    pub max_planned: Option<u64>,
    /// Stop at the first request whose log offset reaches this (`--speed` with `--duration`).
    pub max_log_offset_ns: Option<u64>,
}

struct Pending {
    planned: Planned,
    answered: bool,
}

/// Streams the planned requests of the inputs to `emit` until it returns false, the inputs end
/// (and `looping` is off) or a log cannot be read.
pub fn plan(
    config: &PlanConfig,
    mut emit: impl FnMut(Planned) -> bool,
) -> Result<PlanStats, LogError> {
    let mut stats = PlanStats::default();
    let mut base_offset = 0u64;
    let mut iteration = 0u32;
    loop {
        stats.iterations = iteration + 1;
        let mut readers = Vec::with_capacity(config.inputs.len());
        for p in &config.inputs {
            readers.push(crate::ends::reel_file::open_input(
                &crate::ends::Input::new(p),
            )?);
        }
        let mut merger = Merger::new(readers)?;
        let mut join = Join::new(config, iteration, base_offset);
        let mut go_on = true;
        while let Some(record) = merger.next_record()? {
            if !join.push(record, &mut stats, &mut emit) {
                go_on = false;
                break;
            }
        }
        if go_on {
            go_on = join.flush(&mut stats, &mut emit);
        }
        if iteration == 0 {
            for (name, read) in merger.input_stats() {
                stats.damage += crate::log::Damage::of(&name, &read);
            }
        }
        if !go_on || !config.looping || join.origin.is_none() || stats.planned == 0 {
            stats.complete = go_on && !config.looping;
            return Ok(stats);
        }
        // The next iteration starts one mean inter-arrival after this one's last request.
        let span = join.last_ts.saturating_sub(join.origin.unwrap_or(0));
        let gap = span / join.seen.max(1);
        base_offset = base_offset
            .saturating_add(span)
            .saturating_add(gap.max(1_000_000));
        iteration += 1;
    }
}

struct Join<'a> {
    config: &'a PlanConfig,
    iteration: u32,
    base_offset: u64,
    origin: Option<u64>,
    last_ts: u64,
    seen: u64,
    queue: VecDeque<Pending>,
    /// Sequence number of `queue[0]`.
    front_seq: u64,
    waiting: HashMap<(u64, u32), u64>,
}

impl<'a> Join<'a> {
    fn new(config: &'a PlanConfig, iteration: u32, base_offset: u64) -> Self {
        Join {
            config,
            iteration,
            base_offset,
            origin: None,
            last_ts: 0,
            seen: 0,
            queue: VecDeque::new(),
            front_seq: 0,
            waiting: HashMap::new(),
        }
    }

    fn push(
        &mut self,
        record: Record,
        stats: &mut PlanStats,
        emit: &mut impl FnMut(Planned) -> bool,
    ) -> bool {
        let now_ts = record.ts_ns();
        match record {
            Record::Request(m) => {
                stats.requests += 1;
                self.seen += 1;
                let origin = *self.origin.get_or_insert(m.first_ts_ns);
                self.last_ts = self.last_ts.max(m.first_ts_ns);
                if let Some(planned) = self.prepare(m, origin, stats) {
                    let seq = self.front_seq + self.queue.len() as u64;
                    self.waiting.insert((planned.conn, planned.index), seq);
                    self.queue.push_back(Pending {
                        planned,
                        answered: false,
                    });
                }
            }
            Record::Response(r) => {
                let key = (r.message.conn, r.message.index);
                // The next request of the connection, sent before this response began?
                if let Some(next) = key
                    .1
                    .checked_add(1)
                    .and_then(|i| self.waiting.get(&(key.0, i)))
                    .and_then(|seq| seq.checked_sub(self.front_seq))
                    .and_then(|i| self.queue.get_mut(i as usize))
                {
                    if next.planned.recorded_ts_ns < r.message.first_ts_ns {
                        next.planned.pipelined = true;
                    }
                }
                if let Some(seq) = self.waiting.remove(&key) {
                    if let Some(p) = seq
                        .checked_sub(self.front_seq)
                        .and_then(|i| self.queue.get_mut(i as usize))
                    {
                        p.planned.prod_status = Some(r.status);
                        p.planned.prod_latency_ns = r.latency_ns;
                        p.answered = true;
                    }
                }
            }
            Record::Orphan(_) => stats.orphans += 1,
            _ => {}
        }
        self.release(now_ts, false, stats, emit)
    }

    fn flush(&mut self, stats: &mut PlanStats, emit: &mut impl FnMut(Planned) -> bool) -> bool {
        self.release(u64::MAX, true, stats, emit)
    }

    /// Emits the requests at the front that are answered or out of time.
    fn release(
        &mut self,
        now_ts: u64,
        all: bool,
        stats: &mut PlanStats,
        emit: &mut impl FnMut(Planned) -> bool,
    ) -> bool {
        while let Some(front) = self.queue.front() {
            let expired = now_ts.saturating_sub(front.planned.recorded_ts_ns) > JOIN_WINDOW_NS
                || self.queue.len() > JOIN_MAX_PENDING;
            if !(all || front.answered || expired) {
                break;
            }
            let Some(p) = self.queue.pop_front() else {
                break;
            };
            self.front_seq += 1;
            if !p.answered {
                self.waiting.remove(&(p.planned.conn, p.planned.index));
            }
            if self
                .config
                .max_log_offset_ns
                .is_some_and(|m| p.planned.log_offset_ns >= m)
            {
                return false;
            }
            if p.answered {
                stats.joined += 1;
            }
            stats.planned += 1;
            if !emit(p.planned) {
                return false;
            }
            if self.config.max_planned.is_some_and(|m| stats.planned >= m) {
                return false;
            }
        }
        true
    }

    /// [`prepare`], placed in this iteration at its offset from the log's first request.
    fn prepare(&self, m: Message, origin: u64, stats: &mut PlanStats) -> Option<Planned> {
        let mut p = prepare(self.config, m, &mut stats.skipped)?;
        p.iteration = self.iteration;
        p.log_offset_ns = self
            .base_offset
            .saturating_add(p.recorded_ts_ns.saturating_sub(origin));
        Some(p)
    }
}

/// Applies shard, truncation, filter, target and rewrites to one recorded request; `None` when
/// it is left out (counted in `skipped`). The request is of iteration 0 at log offset 0, not
/// pipelined and without production fields: the caller sets those (the planner from the log,
/// `reel shadow` from the live capture).
pub fn prepare(config: &PlanConfig, m: Message, skipped: &mut Skipped) -> Option<Planned> {
    if !config.shard.keeps(m.conn, m.index) {
        skipped.other_shard += 1;
        return None;
    }
    if let Some(t) = m.truncation {
        skipped.truncated(t);
        return None;
    }
    let Ok(head) = RequestHead::parse(&m.bytes) else {
        skipped.unparsable += 1;
        return None;
    };
    if !config.filter.keeps(&head) {
        skipped.filtered += 1;
        return None;
    }
    let Some(target) = config.targets.choose(head.header("host")) else {
        skipped.no_target += 1;
        return None;
    };
    let authority = config
        .targets
        .list
        .get(target)
        .map_or("", |t| t.authority.as_str());
    let expect_unsent = expect_unsent(&m, &head);
    let context = RequestContext {
        method: crate::http::framing::Method::from_token(head.method.as_bytes()),
        version: head.version,
    };
    let method = head.method.to_owned();
    let path = head.target_str().into_owned();
    let bytes = config.rewrites.apply(&m.bytes, head.len, authority);
    // The baseline's copy differs only when the Host is rewritten to each target's own.
    let baseline_bytes = config
        .targets
        .baseline
        .and_then(|b| config.targets.list.get(b))
        .filter(|_| config.rewrites.host)
        .map(|b| config.rewrites.apply(&m.bytes, head.len, &b.authority));
    Some(Planned {
        conn: m.conn,
        index: m.index,
        iteration: 0,
        recorded_ts_ns: m.first_ts_ns,
        log_offset_ns: 0,
        bytes,
        method,
        path,
        context,
        target,
        pipelined: false,
        expect_unsent,
        prod_status: None,
        prod_latency_ns: None,
        external_id: m.external_id,
        role: 0,
        baseline_bytes,
    })
}

/// A complete request that announced a body with `Expect: 100-continue` and never sent it (or
/// not all of it): the server answered with a final status first.
fn expect_unsent(m: &Message, head: &RequestHead<'_>) -> bool {
    if m.truncation.is_some() || head.version != Version::Http11 {
        return false;
    }
    let expects = head.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("expect") && h.value.eq_ignore_ascii_case(b"100-continue")
    });
    if !expects {
        return false;
    }
    let mut framer = MessageFramer::new(Kind::Request);
    let Ok(framed) = framer.push(&m.bytes) else {
        return false;
    };
    match framed.head.map(|h| h.body) {
        Some(BodyKind::Length(n)) => (m.body().len() as u64) < n,
        Some(BodyKind::Chunked) => !framed.done,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::Response;
    use std::net::SocketAddr;

    fn msg(conn: u64, index: u32, ts: u64, bytes: &[u8]) -> Message {
        let head_len = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(bytes.len(), |p| p + 4) as u32;
        Message {
            conn,
            index,
            client: SocketAddr::from(([10, 0, 0, 2], 40000)),
            server: SocketAddr::from(([10, 0, 0, 1], 80)),
            first_ts_ns: ts,
            last_ts_ns: ts,
            bytes: Bytes::copy_from_slice(bytes),
            head_len,
            body_len: (bytes.len() as u32 - head_len) as u64,
            truncation: None,
            external_id: None,
        }
    }

    fn resp(conn: u64, index: u32, ts: u64, status: u16, latency: u64) -> Record {
        Record::Response(Response {
            message: msg(conn, index, ts, b"HTTP/1.1 200 OK\r\n\r\n"),
            status,
            latency_ns: Some(latency),
            latency_last_ns: Some(latency),
        })
    }

    fn config() -> PlanConfig {
        PlanConfig {
            inputs: vec![],
            filter: Filter::default(),
            rewrites: Rewrites::default(),
            targets: Targets::new(Some("http://staging:8080"), &[]).unwrap(),
            shard: Shard::default(),
            looping: false,
            max_planned: None,
            max_log_offset_ns: None,
        }
    }

    fn run(config: &PlanConfig, records: Vec<Record>) -> (Vec<Planned>, PlanStats) {
        let mut out = Vec::new();
        let mut stats = PlanStats::default();
        let mut join = Join::new(config, 0, 0);
        for r in records {
            assert!(join.push(r, &mut stats, &mut |p| {
                out.push(p);
                true
            }));
        }
        join.flush(&mut stats, &mut |p| {
            out.push(p);
            true
        });
        (out, stats)
    }

    const GET: &[u8] = b"GET /a HTTP/1.1\r\nHost: prod\r\n\r\n";

    #[test]
    fn responses_join_and_order_is_kept() {
        let (out, stats) = run(
            &config(),
            vec![
                Record::Request(msg(1, 0, 1_000, GET)),
                Record::Request(msg(2, 0, 2_000, GET)),
                resp(2, 0, 2_500, 404, 500),
                resp(1, 0, 3_000, 200, 2_000),
                Record::Request(msg(1, 1, 4_000, GET)),
            ],
        );
        let got: Vec<_> = out
            .iter()
            .map(|p| {
                (
                    p.conn,
                    p.index,
                    p.prod_status,
                    p.prod_latency_ns,
                    p.log_offset_ns,
                    p.pipelined,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (1, 0, Some(200), Some(2_000), 0, false),
                (2, 0, Some(404), Some(500), 1_000, false),
                (1, 1, None, None, 3_000, false),
            ]
        );
        assert_eq!((stats.requests, stats.planned, stats.joined), (3, 3, 2));
    }

    #[test]
    fn a_request_past_the_window_goes_without_its_response() {
        let (out, _) = run(
            &config(),
            vec![
                Record::Request(msg(1, 0, 1_000, GET)),
                Record::Request(msg(2, 0, 1_000 + JOIN_WINDOW_NS + 1, GET)),
                resp(1, 0, 1_000 + JOIN_WINDOW_NS + 2, 200, 5),
            ],
        );
        assert_eq!(out[0].prod_status, None);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn without_responses_nothing_is_pipelined() {
        let (out, _) = run(
            &config(),
            vec![
                Record::Request(msg(1, 0, 1_000, GET)),
                Record::Request(msg(1, 1, 2_000, GET)),
            ],
        );
        assert_eq!(
            out.iter().map(|p| p.pipelined).collect::<Vec<_>>(),
            [false, false]
        );
    }

    #[test]
    fn pipelined_requests_are_marked() {
        let (out, _) = run(
            &config(),
            vec![
                Record::Request(msg(1, 0, 1_000, GET)),
                Record::Request(msg(1, 1, 1_001, GET)),
                resp(1, 0, 2_000, 200, 1_000),
                resp(1, 1, 2_100, 200, 1_099),
                Record::Request(msg(1, 2, 3_000, GET)),
            ],
        );
        assert_eq!(
            out.iter().map(|p| p.pipelined).collect::<Vec<_>>(),
            [false, true, false]
        );
    }

    #[test]
    fn baseline_twin_has_its_own_target_role_and_host() {
        let mut c = config();
        c.targets.set_baseline("http://baseline:9090").unwrap();
        let (out, _) = run(&c, vec![Record::Request(msg(1, 0, 1_000, GET))]);
        // Without --rewrite-host both sides send the recorded bytes (no copy).
        assert!(out[0].baseline_bytes.is_none());
        let twin = out[0].baseline_twin(1);
        assert_eq!((twin.role, twin.target, twin.bytes.as_ref()), (1, 1, GET));
        assert_eq!((out[0].role, out[0].target), (0, 0));

        c.rewrites.host = true;
        let (out, _) = run(&c, vec![Record::Request(msg(1, 0, 1_000, GET))]);
        assert_eq!(
            out[0].bytes.as_ref(),
            b"GET /a HTTP/1.1\r\nHost: staging:8080\r\n\r\n"
        );
        let twin = out[0].baseline_twin(1);
        assert_eq!(
            twin.bytes.as_ref(),
            b"GET /a HTTP/1.1\r\nHost: baseline:9090\r\n\r\n"
        );
        assert!(twin.baseline_bytes.is_none());
    }

    #[test]
    fn truncated_unparsable_and_filtered_are_counted() {
        let mut c = config();
        c.filter = crate::filter::FilterArgs {
            methods: vec!["GET".into()],
            ..Default::default()
        }
        .build()
        .unwrap();
        let mut cut = msg(1, 0, 1, GET);
        cut.truncation = Some(Truncation::Gap);
        let mut cut2 = msg(1, 1, 2, GET);
        cut2.truncation = Some(Truncation::MaxBody);
        let (out, stats) = run(
            &c,
            vec![
                Record::Request(cut),
                Record::Request(cut2),
                Record::Request(msg(2, 0, 3, b"garbage\r\n\r\n")),
                Record::Request(msg(3, 0, 4, b"POST /x HTTP/1.1\r\nHost: a\r\n\r\n")),
                Record::Request(msg(4, 0, 5, GET)),
            ],
        );
        assert_eq!(out.len(), 1);
        assert_eq!(
            stats.skipped,
            Skipped {
                filtered: 1,
                other_shard: 0,
                truncated: vec![(Truncation::Gap, 1), (Truncation::MaxBody, 1)],
                no_target: 0,
                unparsable: 1,
            }
        );
        assert_eq!(stats.skipped.total(), 4);
    }

    #[test]
    fn expect_continue_without_body_is_replayed_and_marked() {
        let (out, _) = run(
            &config(),
            vec![
                Record::Request(msg(
                    1,
                    0,
                    1,
                    b"POST /up HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 100000\r\n\r\n",
                )),
                Record::Request(msg(
                    2,
                    0,
                    2,
                    b"POST /up HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
                )),
            ],
        );
        assert_eq!(
            out.iter().map(|p| p.expect_unsent).collect::<Vec<_>>(),
            [true, false]
        );
    }

    #[test]
    fn shard_hash_is_fixed() {
        // Pinned values: the hash is part of the documented contract (shards of different
        // versions must agree).
        let s = Shard {
            index: 0,
            count: 4,
            by_request: false,
        };
        assert_eq!(xxh3_64(&1u64.to_le_bytes()) % 4, u64::from(s.of(1, 9)));
        assert_eq!(
            (0..8).map(|c| s.of(c, 0)).collect::<Vec<_>>(),
            (0..8u64)
                .map(|c| (xxh3_64(&c.to_le_bytes()) % 4) as u32)
                .collect::<Vec<_>>()
        );
        let r = Shard {
            by_request: true,
            ..s
        };
        let mut key = 7u64.to_le_bytes().to_vec();
        key.extend_from_slice(&3u32.to_le_bytes());
        assert_eq!(u64::from(r.of(7, 3)), xxh3_64(&key) % 4);
    }

    proptest::proptest! {
        #[test]
        fn shards_partition(conns in proptest::collection::vec((0u64..1_000_000, 0u32..50), 1..200), n in 1u32..9, by_request: bool) {
            for (conn, index) in conns {
                let owners = (0..n).filter(|&i| Shard { index: i, count: n, by_request }.keeps(conn, index)).count();
                proptest::prop_assert_eq!(owners, 1);
            }
        }
    }
}
