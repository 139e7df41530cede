//! The accumulator: replayed results in, per-endpoint counters and histograms out.
//!
//! It is fed one [`ReplayResult`] at a time and its memory does not grow with their number:
//! counters, HDR histograms ([`Samples`]), at most [`MAX_EXAMPLES`] examples and
//! [`MAX_CODE_PAIRS`] exact status pairs per endpoint and comparison, at most
//! `Config::max_endpoints` endpoints (the rest fold into [`OTHER_ENDPOINT`]), and at most
//! `Config::pair_window` results waiting for their partner from the other target set. Schedule
//! lag and the baseline's ratios to production are kept for the whole run only.
//! Accumulators merge exactly ([`Accumulator::merge`]), so replay shards and several results
//! files combine into the figures one accumulator fed everything would give — as long as no cap
//! was reached (which caps were reached is counted and said in the report).
//!
//! Production figures come from the copies of the production fields in the candidate's results
//! (`role` 0), once per replayed request; the baseline's copies (`role` 1) are the same requests.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::Serialize;

use super::endpoint::Templater;
use super::hist::Samples;
use super::stats::Thresholds;
use super::timeline::Timeline;
use crate::exchange::{ErrorKind, ReplayResult};

/// At most this many example requests are kept per endpoint and comparison.
pub const MAX_EXAMPLES: usize = 5;

/// At most this many distinct (reference code, staging code) pairs are counted per endpoint and
/// comparison; further pairs are only counted in total.
pub const MAX_CODE_PAIRS: usize = 64;

/// The endpoint that collects every template beyond `Config::max_endpoints`.
pub const OTHER_ENDPOINT: &str = "(other endpoints)";

/// Bytes of staging's body kept in an example, before escaping.
const BODY_PREFIX: usize = 120;

/// Characters of a request-target kept in an example.
const TARGET_PREFIX: usize = 160;

/// The status classes, in the order of every `[u64; 6]` count: `none` is no response (errors).
pub const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "none"];

/// Index of `none` in [`CLASSES`].
pub const NONE: usize = 5;

/// The class of a status, an index into [`CLASSES`]. Codes outside 100–499 (a server answering
/// with a nonstandard 6xx–9xx or 0xx code) count as 5xx: the server misbehaved.
pub fn status_class(status: Option<u16>) -> usize {
    match status {
        None => NONE,
        Some(100..=199) => 0,
        Some(200..=299) => 1,
        Some(300..=399) => 2,
        Some(400..=499) => 3,
        Some(_) => 4,
    }
}

fn error_index(kind: ErrorKind) -> usize {
    ErrorKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

/// Which target set answered a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `--target`: the build under test.
    Candidate,
    /// `--baseline-target`: the reference build on identical staging hardware.
    Baseline,
}

/// How results are grouped and read.
#[derive(Debug, Clone)]
pub struct Config {
    /// Turns requests into endpoint templates (with the user's `--endpoint-rule`s).
    pub templater: Templater,
    /// Distinct endpoints kept; further templates fold into [`OTHER_ENDPOINT`]. Each endpoint
    /// with more than [`super::hist::FEW`] requests holds 4 HDR histograms (7 with a baseline) of
    /// 20–60 KB each, so the default of 500 bounds the accumulator near 110 MB (190 MB with a
    /// baseline) in the worst case of 500 busy endpoints with multi-second tails; 50 busy
    /// endpoints take 13 MB.
    pub max_endpoints: usize,
    /// Minimum sample size and the thresholds of the shift verdict.
    pub thresholds: Thresholds,
    /// The replay's `--timeout`: a timeout with no response counts as this latency (from the
    /// send). Without it such timeouts count as errors only, and the report says so.
    pub timeout_ns: Option<u64>,
    /// Results kept waiting for their partner from the other target set (candidate ↔ baseline).
    pub pair_window: usize,
    /// True when baseline results are expected (`--baseline-target`, `--baseline`): candidate
    /// results wait for their partner from the first one on. When false, pairing starts with the
    /// first baseline result seen (candidates before it stay unpaired), so that runs without a
    /// baseline pay nothing for it.
    pub expect_baseline: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            templater: Templater::default(),
            max_endpoints: 500,
            thresholds: Thresholds::default(),
            timeout_ns: None,
            pair_window: 65_536,
            expect_baseline: false,
        }
    }
}

/// One mismatching request, for reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Example {
    /// Request method.
    pub method: String,
    /// Request-target as recorded (printable, cut at 160 characters).
    pub target: String,
    /// Status the reference answered (`null`: no response).
    pub reference_status: Option<u16>,
    /// Status staging answered (`null`: no response).
    pub status: Option<u16>,
    /// Staging's transport error, if any.
    pub error: Option<&'static str>,
    /// The first bytes of staging's response body, printable (`\xNN` for other bytes).
    pub body: String,
    /// Selection key: the examples kept are the ones with the smallest keys, so the choice does
    /// not depend on the order results arrive in or on how they were split into shards.
    #[serde(skip)]
    pub(crate) key: u64,
}

/// Makes bytes printable: ASCII as is, `\n` `\r` `\t` escaped, others as `\xNN`.
pub fn printable(bytes: &[u8], max_bytes: usize) -> String {
    let mut out = String::new();
    for &b in bytes.iter().take(max_bytes) {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    if bytes.len() > max_bytes {
        out.push('…');
    }
    out
}

/// The body part of a stored response: after the head's empty line (all of it if none).
fn body_of(response: &[u8]) -> &[u8] {
    response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .and_then(|i| response.get(i + 4..))
        .unwrap_or(response)
}

/// The key examples are chosen by: a hash of the request's identity.
fn example_key(r: &ReplayResult) -> u64 {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&r.conn.to_le_bytes());
    id[8..12].copy_from_slice(&r.index.to_le_bytes());
    id[12..].copy_from_slice(&r.iteration.to_le_bytes());
    xxhash_rust::xxh3::xxh3_64(&id)
}

/// Counts and latencies of one side (production, candidate or baseline) of one endpoint.
#[derive(Debug, Clone, Default)]
pub(crate) struct SideAcc {
    /// Requests (production: exchanges; staging: replayed requests, sent or not).
    pub requests: u64,
    /// Status classes, indexed like [`CLASSES`].
    pub classes: [u64; 6],
    /// Transport errors, indexed like `ErrorKind::ALL`.
    pub errors: [u64; 7],
    /// Production latency, or staging's corrected latency (from the intended send time), µs.
    pub latency: Samples,
    /// Staging's service time (first byte written → first byte read), µs.
    pub service: Samples,
    /// Staging's schedule lag (first byte written − intended time), µs: kept for the whole run
    /// only (the scheduler's lateness says nothing about an endpoint).
    pub lag: Samples,
    /// Timeouts left out of the latency because the timeout is not known.
    pub timeouts_unmeasured: u64,
}

impl SideAcc {
    fn add_production(&mut self, r: &ReplayResult) {
        self.requests += 1;
        self.classes[status_class(r.prod_status)] += 1;
        if let Some(ns) = r.prod_latency_ns {
            self.latency.record(ns / 1000);
        }
    }

    fn add_staging(
        &mut self,
        r: &ReplayResult,
        latency_us: Option<u64>,
        timeout_ns: Option<u64>,
        lag: &mut Samples,
    ) {
        self.requests += 1;
        self.classes[status_class(r.status)] += 1;
        if let Some(kind) = r.error {
            self.errors[error_index(kind)] += 1;
        }
        match latency_us {
            Some(us) => self.latency.record(us),
            None if r.error == Some(ErrorKind::Timeout) => self.timeouts_unmeasured += 1,
            None => {}
        }
        if r.sent_ns > 0 {
            if r.first_byte_ns > 0 {
                self.service
                    .record(r.first_byte_ns.saturating_sub(r.sent_ns) / 1000);
            } else if let (Some(ErrorKind::Timeout), Some(t)) = (r.error, timeout_ns) {
                self.service.record(t / 1000);
            }
            lag.record(r.sent_ns.saturating_sub(r.intended_ns) / 1000);
        }
    }

    fn merge(&mut self, other: &SideAcc) {
        self.requests += other.requests;
        for (a, b) in self.classes.iter_mut().zip(other.classes) {
            *a += b;
        }
        for (a, b) in self.errors.iter_mut().zip(other.errors) {
            *a += b;
        }
        self.latency.merge(&other.latency);
        self.service.merge(&other.service);
        self.lag.merge(&other.lag);
        self.timeouts_unmeasured += other.timeouts_unmeasured;
    }
}

/// Staging's corrected latency in µs: first byte − intended send time; a timeout with no response
/// counts as the time it waited (lag + the timeout) when the timeout is known.
fn staging_latency_us(r: &ReplayResult, timeout_ns: Option<u64>) -> Option<u64> {
    if r.first_byte_ns > 0 {
        return Some(r.first_byte_ns.saturating_sub(r.intended_ns) / 1000);
    }
    if r.error == Some(ErrorKind::Timeout) {
        let lag = r.sent_ns.saturating_sub(r.intended_ns);
        return timeout_ns.map(|t| lag.saturating_add(t) / 1000);
    }
    None
}

/// Per-request agreement of one side with its reference: statuses, latency ratios, examples.
#[derive(Debug, Clone, Default)]
pub(crate) struct AgreementAcc {
    /// `[reference class][side class]` counts.
    pub matrix: [[u64; 6]; 6],
    /// Exact (reference code, side code) counts, 0 for no response; at most [`MAX_CODE_PAIRS`].
    pub codes: BTreeMap<(u16, u16), u64>,
    /// Requests whose code pair did not fit in `codes`.
    pub codes_folded: u64,
    /// Side latency / reference latency, in thousandths, for requests where both are known.
    pub ratios: Samples,
    /// Requests whose status class differs from the reference's, smallest keys first.
    pub examples: Vec<Example>,
}

/// One side of a request as the agreement needs it.
#[derive(Debug, Clone, Copy)]
struct Answer {
    status: Option<u16>,
    latency_us: Option<u64>,
}

impl AgreementAcc {
    /// Counts one request; its latency ratio goes to `ratios` when given (a run-wide one), else
    /// to the agreement's own.
    ///
    /// Against production (`production`), a request with no recorded production response has no
    /// status to agree with: it is counted in the matrix but never an example of a mismatch.
    fn add(
        &mut self,
        reference: Answer,
        side: Answer,
        production: bool,
        key: u64,
        ratios: Option<&mut Samples>,
        example: impl FnOnce() -> Example,
    ) {
        let (rc, sc) = (status_class(reference.status), status_class(side.status));
        self.matrix[rc][sc] += 1;
        self.count_codes((reference.status.unwrap_or(0), side.status.unwrap_or(0)), 1);
        if let (Some(s), Some(r)) = (side.latency_us, reference.latency_us) {
            let r = u128::from(r.max(1));
            let ratio = u64::try_from((u128::from(s) * 1000 + r / 2) / r).unwrap_or(u64::MAX);
            ratios.unwrap_or(&mut self.ratios).record(ratio);
        }
        if rc != sc && !(production && rc == NONE) {
            offer_example(&mut self.examples, key, example);
        }
    }

    fn count_codes(&mut self, pair: (u16, u16), n: u64) {
        if let Some(count) = self.codes.get_mut(&pair) {
            *count += n;
        } else if self.codes.len() < MAX_CODE_PAIRS {
            self.codes.insert(pair, n);
        } else {
            self.codes_folded += n;
        }
    }

    fn merge(&mut self, other: &AgreementAcc) {
        for (row, theirs) in self.matrix.iter_mut().zip(&other.matrix) {
            for (a, b) in row.iter_mut().zip(theirs) {
                *a += b;
            }
        }
        for (&pair, &n) in &other.codes {
            self.count_codes(pair, n);
        }
        self.codes_folded += other.codes_folded;
        self.ratios.merge(&other.ratios);
        for example in &other.examples {
            offer_example(&mut self.examples, example.key, || example.clone());
        }
    }
}

/// Keeps the [`MAX_EXAMPLES`] examples with the smallest keys; builds one only when it is kept.
fn offer_example(examples: &mut Vec<Example>, key: u64, make: impl FnOnce() -> Example) {
    if examples.len() >= MAX_EXAMPLES && examples.last().is_some_and(|e| e.key <= key) {
        return;
    }
    let mut example = make();
    example.key = key;
    let at = examples.partition_point(|e| e.key <= key);
    examples.insert(at, example);
    examples.truncate(MAX_EXAMPLES);
}

/// Everything counted for one endpoint.
#[derive(Debug, Clone, Default)]
pub(crate) struct EndpointAcc {
    /// Production, from the candidate results' copies.
    pub production: SideAcc,
    /// The candidate (`--target`).
    pub candidate: SideAcc,
    /// The baseline (`--baseline-target`), empty without one.
    pub baseline: SideAcc,
    /// Candidate against production, request by request.
    pub candidate_vs_production: AgreementAcc,
    /// Baseline against production (the environment's own noise).
    pub baseline_vs_production: AgreementAcc,
    /// Candidate against baseline, for requests whose two results were paired.
    pub candidate_vs_baseline: AgreementAcc,
}

impl EndpointAcc {
    pub(crate) fn merge(&mut self, other: &EndpointAcc) {
        self.production.merge(&other.production);
        self.candidate.merge(&other.candidate);
        self.baseline.merge(&other.baseline);
        self.candidate_vs_production
            .merge(&other.candidate_vs_production);
        self.baseline_vs_production
            .merge(&other.baseline_vs_production);
        self.candidate_vs_baseline
            .merge(&other.candidate_vs_baseline);
    }
}

/// Results counted outside the per-endpoint figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Candidate results counted (warmup excluded).
    pub candidate: u64,
    /// Baseline results counted (warmup excluded).
    pub baseline: u64,
    /// Results sent during `--warmup`, left out of every figure.
    pub warmup: u64,
    /// Results whose endpoint was folded into [`OTHER_ENDPOINT`] because of the endpoint cap.
    pub folded: u64,
    /// Results with a `role` other than 0 or 1, ignored.
    pub unknown_role: u64,
    /// Candidate results whose baseline partner never came (only said when a baseline exists).
    pub unpaired_candidate: u64,
    /// Baseline results whose candidate partner never came.
    pub unpaired_baseline: u64,
    /// Results given up while waiting for their partner because the pairing window was full.
    pub pair_evicted: u64,
}

impl Counts {
    fn merge(&mut self, other: &Counts) {
        self.candidate += other.candidate;
        self.baseline += other.baseline;
        self.warmup += other.warmup;
        self.folded += other.folded;
        self.unknown_role += other.unknown_role;
        self.unpaired_candidate += other.unpaired_candidate;
        self.unpaired_baseline += other.unpaired_baseline;
        self.pair_evicted += other.pair_evicted;
    }
}

/// Identifies a replayed request across the two target sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct PairKey {
    conn: u64,
    index: u32,
    iteration: u32,
}

/// A result waiting for its partner from the other target set.
#[derive(Debug, Clone)]
struct Pending {
    role: Role,
    endpoint: usize,
    answer: Answer,
    error: Option<ErrorKind>,
    /// What an example needs, kept only for answers outside 2xx: a status mismatch needs one
    /// of the two answers outside 2xx, so every mismatching pair has the request, while the
    /// common case (2xx) allocates nothing. The rule depends on the result alone, so pairs made
    /// while merging shards give the same examples as pairs made while adding.
    detail: Option<Box<Detail>>,
    example_key: u64,
}

/// The request and answer of a waiting result, printable, for examples.
#[derive(Debug, Clone)]
struct Detail {
    method: String,
    target: String,
    /// The first bytes of the body: the candidate's; empty for baseline results.
    body: String,
}

/// Turns a stream of replayed results into per-endpoint figures; see the module documentation.
#[derive(Debug, Clone)]
pub struct Accumulator {
    pub(crate) config: Config,
    index: HashMap<String, usize>,
    pub(crate) endpoints: Vec<(String, EndpointAcc)>,
    other: Option<usize>,
    pub(crate) counts: Counts,
    /// Kept for the whole run only: schedule lag of the candidate and of the baseline, and the
    /// baseline's latency ratios to production.
    pub(crate) run_wide: RunWide,
    /// The run over time, per second of intended send time (see [`super::timeline`]).
    pub(crate) timeline: Timeline,
    pending: HashMap<PairKey, Pending>,
    order: VecDeque<PairKey>,
}

/// Figures kept for the whole run only, not per endpoint.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunWide {
    pub candidate_lag: Samples,
    pub baseline_lag: Samples,
    pub baseline_ratios: Samples,
}

impl RunWide {
    fn merge(&mut self, other: &RunWide) {
        self.candidate_lag.merge(&other.candidate_lag);
        self.baseline_lag.merge(&other.baseline_lag);
        self.baseline_ratios.merge(&other.baseline_ratios);
    }
}

impl Accumulator {
    /// An empty accumulator.
    pub fn new(config: Config) -> Self {
        Accumulator {
            config,
            index: HashMap::new(),
            endpoints: Vec::new(),
            other: None,
            counts: Counts::default(),
            run_wide: RunWide::default(),
            timeline: Timeline::default(),
            pending: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// The configuration it was made with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Results counted so far, outside the per-endpoint figures.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Counts one result, as its `role` says (0 candidate, 1 baseline; others are ignored).
    pub fn add(&mut self, r: &ReplayResult) {
        match r.role {
            0 => self.add_as(r, Role::Candidate),
            1 => self.add_as(r, Role::Baseline),
            _ => self.counts.unknown_role += 1,
        }
    }

    /// Counts one result as coming from `role`, whatever its `role` field says (`reel compare
    /// --baseline` reads a second staging run as the baseline).
    pub fn add_as(&mut self, r: &ReplayResult, role: Role) {
        if r.warmup {
            self.counts.warmup += 1;
            return;
        }
        let name = self.config.templater.template(&r.method, &r.path);
        let idx = self.endpoint_index(name, 1);
        let timeout = self.config.timeout_ns;
        let latency_us = staging_latency_us(r, timeout);
        self.timeline.add(r, role, latency_us);
        let key = example_key(r);
        let prod = Answer {
            status: r.prod_status,
            latency_us: r.prod_latency_ns.map(|ns| ns / 1000),
        };
        let staging = Answer {
            status: r.status,
            latency_us,
        };
        let Some((_, ep)) = self.endpoints.get_mut(idx) else {
            return;
        };
        let example = || Example {
            method: printable(r.method.as_bytes(), 16),
            target: printable(r.path.as_bytes(), TARGET_PREFIX),
            reference_status: r.prod_status,
            status: r.status,
            error: r.error.map(ErrorKind::as_str),
            body: printable(body_of(&r.response), BODY_PREFIX),
            key,
        };
        match role {
            Role::Candidate => {
                self.counts.candidate += 1;
                ep.production.add_production(r);
                let lag = &mut self.run_wide.candidate_lag;
                ep.candidate.add_staging(r, latency_us, timeout, lag);
                ep.candidate_vs_production
                    .add(prod, staging, true, key, None, example);
            }
            Role::Baseline => {
                self.counts.baseline += 1;
                let lag = &mut self.run_wide.baseline_lag;
                ep.baseline.add_staging(r, latency_us, timeout, lag);
                let ratios = Some(&mut self.run_wide.baseline_ratios);
                ep.baseline_vs_production
                    .add(prod, staging, true, key, ratios, example);
            }
        }
        let pairing = self.config.expect_baseline || self.counts.baseline > 0;
        if pairing && self.config.pair_window > 0 {
            let pending = Pending {
                role,
                endpoint: idx,
                answer: staging,
                error: r.error,
                detail: (status_class(r.status) != 1).then(|| {
                    Box::new(Detail {
                        method: printable(r.method.as_bytes(), 16),
                        target: printable(r.path.as_bytes(), TARGET_PREFIX),
                        body: match role {
                            Role::Candidate => printable(body_of(&r.response), BODY_PREFIX),
                            Role::Baseline => String::new(),
                        },
                    })
                }),
                example_key: key,
            };
            let pair_key = PairKey {
                conn: r.conn,
                index: r.index,
                iteration: r.iteration,
            };
            self.offer_pair(pair_key, pending);
        }
    }

    /// The index of endpoint `name`, created if there is room, else the shared "other" one
    /// (`results` results are then counted as folded).
    fn endpoint_index(&mut self, name: String, results: u64) -> usize {
        if let Some(&i) = self.index.get(&name) {
            return i;
        }
        let real = self.endpoints.len() - usize::from(self.other.is_some());
        if real < self.config.max_endpoints {
            let i = self.endpoints.len();
            self.index.insert(name.clone(), i);
            self.endpoints.push((name, EndpointAcc::default()));
            return i;
        }
        self.counts.folded += results;
        if let Some(i) = self.other {
            return i;
        }
        let i = self.endpoints.len();
        self.endpoints
            .push((OTHER_ENDPOINT.to_string(), EndpointAcc::default()));
        self.index.insert(OTHER_ENDPOINT.to_string(), i);
        self.other = Some(i);
        i
    }

    /// Pairs `pending` with its partner if it is waiting, else keeps it waiting.
    fn offer_pair(&mut self, key: PairKey, pending: Pending) {
        match self.pending.entry(key) {
            Entry::Occupied(entry) if entry.get().role != pending.role => {
                let partner = entry.remove();
                let (candidate, baseline) = match pending.role {
                    Role::Candidate => (pending, partner),
                    Role::Baseline => (partner, pending),
                };
                self.record_pair(&candidate, &baseline);
            }
            Entry::Occupied(mut entry) => {
                // The same request twice from one side: keep the later one; the earlier is unpaired.
                let earlier = entry.insert(pending);
                self.count_unpaired(earlier.role, 1);
            }
            Entry::Vacant(entry) => {
                entry.insert(pending);
                self.order.push_back(key);
                self.evict();
            }
        }
    }

    fn count_unpaired(&mut self, role: Role, n: u64) {
        match role {
            Role::Candidate => self.counts.unpaired_candidate += n,
            Role::Baseline => self.counts.unpaired_baseline += n,
        }
    }

    /// Gives up the oldest waiting results while more than `pair_window` wait.
    fn evict(&mut self) {
        while self.pending.len() > self.config.pair_window {
            let Some(key) = self.order.pop_front() else {
                break;
            };
            if let Some(gone) = self.pending.remove(&key) {
                self.counts.pair_evicted += 1;
                self.count_unpaired(gone.role, 1);
            }
        }
        if self.order.len() > 2 * self.config.pair_window + 64 {
            let pending = &self.pending;
            self.order.retain(|k| pending.contains_key(k));
        }
    }

    fn record_pair(&mut self, candidate: &Pending, baseline: &Pending) {
        let Some((_, ep)) = self.endpoints.get_mut(candidate.endpoint) else {
            return;
        };
        let request = candidate.detail.as_ref().or(baseline.detail.as_ref());
        let example = || Example {
            method: request.map(|d| d.method.clone()).unwrap_or_default(),
            target: request.map(|d| d.target.clone()).unwrap_or_default(),
            reference_status: baseline.answer.status,
            status: candidate.answer.status,
            error: candidate.error.map(ErrorKind::as_str),
            body: candidate
                .detail
                .as_ref()
                .map(|d| d.body.clone())
                .unwrap_or_default(),
            key: candidate.example_key,
        };
        ep.candidate_vs_baseline.add(
            baseline.answer,
            candidate.answer,
            false,
            candidate.example_key,
            None,
            example,
        );
    }

    /// Adds everything `other` counted, exactly: shards and several results files combine into
    /// what one accumulator fed all their results would hold (given the same configuration, and
    /// as long as no cap was reached). Results waiting for a partner pair across the two.
    pub fn merge(&mut self, other: Accumulator) {
        self.counts.merge(&other.counts);
        self.run_wide.merge(&other.run_wide);
        self.timeline.merge(&other.timeline);
        let mut moved = Vec::with_capacity(other.endpoints.len());
        for (name, acc) in other.endpoints {
            let results = acc.candidate.requests + acc.baseline.requests;
            let i = self.endpoint_index(name, results);
            if let Some((_, mine)) = self.endpoints.get_mut(i) {
                mine.merge(&acc);
            }
            moved.push(i);
        }
        let mut pending = other.pending;
        for key in other.order {
            let Some(mut waiting) = pending.remove(&key) else {
                continue;
            };
            waiting.endpoint = moved.get(waiting.endpoint).copied().unwrap_or(0);
            self.offer_pair(key, waiting);
        }
    }

    /// Results still waiting for their partner: counted as unpaired from now on.
    pub(crate) fn close_pairing(&mut self) {
        let waiting: Vec<Role> = self.pending.drain().map(|(_, p)| p.role).collect();
        self.order.clear();
        for role in waiting {
            self.count_unpaired(role, 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    pub(crate) fn result(
        path: &str,
        prod: (u16, u64),
        staging: (Option<u16>, u64),
    ) -> ReplayResult {
        ReplayResult {
            conn: 1,
            index: 0,
            target: "http://staging:8080".into(),
            method: "GET".into(),
            path: path.into(),
            prod_status: Some(prod.0),
            prod_latency_ns: Some(prod.1 * 1000),
            recorded_ts_ns: 1,
            intended_ns: 1_000_000,
            sent_ns: 1_000_100,
            first_byte_ns: 1_000_000 + staging.1 * 1000,
            last_byte_ns: 1_000_000 + staging.1 * 1000 + 10,
            status: staging.0,
            request_bytes: 100,
            response_bytes: 200,
            response: Bytes::from_static(
                b"HTTP/1.1 500 Oops\r\nA: b\r\n\r\n{\"error\":\"db\"}\n\x01",
            ),
            external_id: None,
            error: None,
            shard: 0,
            shards: 1,
            iteration: 0,
            warmup: false,
            role: 0,
        }
    }

    #[test]
    fn classes_cover_every_code() {
        assert_eq!(status_class(None), NONE);
        assert_eq!(status_class(Some(101)), 0);
        assert_eq!(status_class(Some(204)), 1);
        assert_eq!(status_class(Some(399)), 2);
        assert_eq!(status_class(Some(404)), 3);
        assert_eq!(status_class(Some(503)), 4);
        assert_eq!(status_class(Some(799)), 4);
        assert_eq!(status_class(Some(42)), 4);
    }

    #[test]
    fn one_result_fills_production_staging_and_agreement() {
        let mut acc = Accumulator::new(Config::default());
        acc.add(&result("/u/12", (200, 1500), (Some(500), 3000)));
        let (name, ep) = &acc.endpoints[0];
        assert_eq!(name, "GET /u/{id}");
        assert_eq!(ep.production.classes, [0, 1, 0, 0, 0, 0]);
        assert_eq!(ep.candidate.classes, [0, 0, 0, 0, 1, 0]);
        assert_eq!(ep.production.latency.histogram().max(), 1500);
        // Above 2048 µs buckets are 2 µs wide: 3000 reads as 3001, 2999 as 2999.
        assert_eq!(ep.candidate.latency.histogram().max(), 3001);
        assert_eq!(ep.candidate.service.histogram().max(), 2999);
        assert_eq!(ep.candidate.lag.len(), 0);
        assert_eq!(acc.run_wide.candidate_lag.histogram().max(), 0);
        assert_eq!(ep.candidate_vs_production.matrix[1][4], 1);
        assert_eq!(
            ep.candidate_vs_production.codes,
            BTreeMap::from([((200, 500), 1)])
        );
        assert_eq!(ep.candidate_vs_production.ratios.histogram().max(), 2000);
        let ex = &ep.candidate_vs_production.examples[0];
        assert_eq!(ex.target, "/u/12");
        assert_eq!(ex.body, "{\"error\":\"db\"}\\n\\x01");
        assert_eq!((ex.reference_status, ex.status), (Some(200), Some(500)));
    }

    #[test]
    fn timeouts_count_as_the_timeout_when_known() {
        let mut r = result("/t", (200, 1000), (None, 0));
        r.first_byte_ns = 0;
        r.last_byte_ns = 0;
        r.error = Some(ErrorKind::Timeout);
        let mut acc = Accumulator::new(Config::default());
        acc.add(&r);
        let side = &acc.endpoints[0].1.candidate;
        assert_eq!((side.latency.len(), side.timeouts_unmeasured), (0, 1));
        assert_eq!(side.errors[error_index(ErrorKind::Timeout)], 1);
        let mut acc = Accumulator::new(Config {
            timeout_ns: Some(5_000_000_000),
            ..Config::default()
        });
        acc.add(&r);
        let side = &acc.endpoints[0].1.candidate;
        // 100 ns of lag + 5 s, in a bucket 4096 µs wide at 3 significant figures.
        let h = side.latency.histogram();
        assert!(h.equivalent(h.max(), 5_000_000));
        assert_eq!(h.len(), 1);
        assert_eq!(side.timeouts_unmeasured, 0);
    }

    #[test]
    fn warmup_and_unknown_roles_stay_out() {
        let mut acc = Accumulator::new(Config::default());
        let mut r = result("/a", (200, 1), (Some(200), 1));
        r.warmup = true;
        acc.add(&r);
        r.warmup = false;
        r.role = 7;
        acc.add(&r);
        assert!(acc.endpoints.is_empty());
        assert_eq!((acc.counts.warmup, acc.counts.unknown_role), (1, 1));
    }

    #[test]
    fn endpoints_beyond_the_cap_fold_into_other() {
        let mut acc = Accumulator::new(Config {
            max_endpoints: 2,
            ..Config::default()
        });
        for path in ["/a", "/b", "/c", "/d", "/a", "/c"] {
            acc.add(&result(path, (200, 1), (Some(200), 1)));
        }
        let names: Vec<&str> = acc.endpoints.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["GET /a", "GET /b", OTHER_ENDPOINT]);
        assert_eq!(acc.endpoints[2].1.candidate.requests, 3);
        assert_eq!(acc.counts.folded, 3);
    }

    #[test]
    fn candidate_and_baseline_pair_by_request() {
        let mut acc = Accumulator::new(Config {
            expect_baseline: true,
            ..Config::default()
        });
        let mut c = result("/p", (200, 1000), (Some(500), 4000));
        let mut b = result("/p", (200, 1000), (Some(200), 2000));
        b.role = 1;
        c.conn = 9;
        b.conn = 9;
        acc.add(&c);
        let mut lone = c.clone();
        lone.conn = 10;
        acc.add(&lone);
        acc.add(&b);
        let ep = &acc.endpoints[0].1;
        assert_eq!(ep.candidate_vs_baseline.matrix[1][4], 1);
        assert_eq!(ep.candidate_vs_baseline.ratios.histogram().max(), 2000);
        assert_eq!(
            ep.candidate_vs_baseline.examples[0].reference_status,
            Some(200)
        );
        assert_eq!(ep.production.requests, 2);
        acc.close_pairing();
        assert_eq!(
            (acc.counts.unpaired_candidate, acc.counts.unpaired_baseline),
            (1, 0)
        );
    }

    #[test]
    fn a_full_pairing_window_gives_up_the_oldest() {
        let mut acc = Accumulator::new(Config {
            pair_window: 2,
            expect_baseline: true,
            ..Config::default()
        });
        for conn in 0..5 {
            let mut r = result("/w", (200, 1), (Some(200), 1));
            r.conn = conn;
            acc.add(&r);
        }
        assert_eq!(acc.counts.pair_evicted, 3);
        let mut b = result("/w", (200, 1), (Some(200), 1));
        b.role = 1;
        b.conn = 4;
        acc.add(&b);
        assert_eq!(acc.endpoints[0].1.candidate_vs_baseline.matrix[1][1], 1);
    }

    #[test]
    fn without_expecting_a_baseline_pairing_starts_at_the_first_one() {
        let mut acc = Accumulator::new(Config::default());
        let mut early = result("/p", (200, 1000), (Some(200), 1000));
        early.conn = 1;
        acc.add(&early);
        assert!(acc.pending.is_empty());
        for conn in [2, 1, 2] {
            let mut r = result("/p", (200, 1000), (Some(200), 1000));
            r.conn = conn;
            r.role = u8::from(conn == 2 && acc.counts.baseline == 0);
            acc.add(&r);
        }
        // conn 2 paired (baseline first, then candidate); conn 1 never got its baseline.
        assert_eq!(acc.endpoints[0].1.candidate_vs_baseline.matrix[1][1], 1);
        acc.close_pairing();
        assert_eq!(
            (acc.counts.unpaired_candidate, acc.counts.unpaired_baseline),
            (1, 0)
        );
    }

    #[test]
    fn printable_escapes_and_cuts() {
        assert_eq!(
            printable(b"ok\r\n\x00\xff\\", 100),
            "ok\\r\\n\\x00\\xff\\\\"
        );
        assert_eq!(printable(b"abcdef", 3), "abc…");
        assert_eq!(body_of(b"HTTP/1.1 200 OK\r\n\r\nhi"), b"hi");
        assert_eq!(body_of(b"HTTP/1.1 200 OK\r\n"), b"HTTP/1.1 200 OK\r\n");
    }
}
