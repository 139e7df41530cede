//! Where staging's answers end: joined with production's responses from the capture, counted in
//! the run's statistics, the rolling window and the comparison, and written to `--results`.
//!
//! One thread. It polls two queues — staging's [`Outcome`]s from the connection tasks, and
//! production's responses ([`ProdAnswer`]) from the extraction thread — every millisecond when
//! both are empty, so that neither side pays a cross-thread wakeup per message.
//!
//! **Join.** A shadow request is sent the moment its request is framed, so its production
//! response and staging's answer arrive in either order. [`Join`] keeps whichever came first
//! under `(connection, index)`: staging's answers wait for production's response (which fills in
//! their production status and latency), and a production response waits for the answers of the
//! shadow requests that were handed to connections for it (the dispatcher says how many). Nothing
//! waits longer than the join window or beyond [`MAX_WAITING`] exchanges: an answer whose
//! production response never came is counted without it.
//!
//! **Window.** Each side is also counted, as it arrives, in the current [`Window`] (status class
//! mix and an HDR histogram of latency): production's latency as captured, staging's from the
//! moment the request was framed. The stats line and the `reel_shadow_window_*` gauges show the
//! window and start the next one.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::compare::Accumulator;
use crate::compare::accumulate::{CLASSES, status_class};
use crate::exchange::{ErrorKind, Record};
use crate::log::{LogError, Writer};
use crate::metrics::{Kind, Metric, Registry};
use crate::replay::client::{Live, Outcome};
use crate::replay::stats::{LatencyHistogram as Latency, Stats};

use super::dispatch::{DropReason, Figures};

/// Exchanges waiting in the join at most; beyond it the oldest is counted as it is.
pub const MAX_WAITING: usize = 1 << 16;
/// Outcomes taken from one queue before looking at the other.
const BATCH: usize = 1024;
/// How often the sink publishes the connection tasks' counters.
const PUBLISH_EVERY: Duration = Duration::from_millis(200);

/// A production response, as the capture saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProdAnswer {
    /// Connection id.
    pub conn: u64,
    /// Index of the exchange in its connection.
    pub index: u32,
    /// Production's status.
    pub status: u16,
    /// Production's latency (request's first byte to response's first byte), ns.
    pub latency_ns: Option<u64>,
    /// Shadow requests handed to connections for its request; `None` when not known (the
    /// request was captured before the run, or forgotten).
    pub expected: Option<u32>,
}

/// One exchange waiting in the join.
struct Slot {
    prod: Option<(u16, Option<u64>)>,
    expected: Option<u32>,
    seen: u32,
    waiting: Vec<Outcome>,
    deadline: Instant,
}

/// Staging's answers and production's responses, joined by `(connection, index)`.
pub struct Join {
    slots: HashMap<(u64, u32), Slot>,
    order: VecDeque<((u64, u32), Instant)>,
    window: Duration,
}

fn fill(mut o: Outcome, prod: Option<(u16, Option<u64>)>) -> Outcome {
    if let Some((status, latency)) = prod {
        o.result.prod_status = Some(status);
        o.result.prod_latency_ns = latency;
    }
    o
}

impl Join {
    /// An empty join whose exchanges wait at most `window`.
    pub fn new(window: Duration) -> Join {
        Join {
            slots: HashMap::new(),
            order: VecDeque::new(),
            window,
        }
    }

    /// Exchanges waiting.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn open(&mut self, key: (u64, u32), slot: Slot) {
        self.order.push_back((key, slot.deadline));
        self.slots.insert(key, slot);
    }

    /// Staging's answer: released into `out` with production's fields when its response is in,
    /// else kept waiting.
    pub fn outcome(&mut self, o: Outcome, now: Instant, out: &mut Vec<Outcome>) {
        let key = (o.result.conn, o.result.index);
        let Some(slot) = self.slots.get_mut(&key) else {
            let deadline = now + self.window;
            let slot = Slot {
                prod: None,
                expected: None,
                seen: 0,
                waiting: vec![o],
                deadline,
            };
            self.open(key, slot);
            return;
        };
        if slot.prod.is_none() {
            slot.waiting.push(o);
            return;
        }
        out.push(fill(o, slot.prod));
        slot.seen += 1;
        if slot.expected.is_some_and(|e| slot.seen >= e) {
            self.slots.remove(&key);
        }
    }

    /// Production's response: the answers waiting for it are released into `out`; it waits for
    /// the others it expects.
    pub fn production(&mut self, a: ProdAnswer, now: Instant, out: &mut Vec<Outcome>) {
        let key = (a.conn, a.index);
        let prod = Some((a.status, a.latency_ns));
        let Some(slot) = self.slots.get_mut(&key) else {
            if a.expected != Some(0) {
                let deadline = now + self.window;
                let slot = Slot {
                    prod,
                    expected: a.expected,
                    seen: 0,
                    waiting: Vec::new(),
                    deadline,
                };
                self.open(key, slot);
            }
            return;
        };
        slot.prod = prod;
        slot.expected = a.expected;
        for o in slot.waiting.drain(..) {
            out.push(fill(o, prod));
            slot.seen += 1;
        }
        if slot.expected.is_some_and(|e| slot.seen >= e) {
            self.slots.remove(&key);
        }
    }

    /// Releases the exchanges whose time is up (or the oldest beyond [`MAX_WAITING`]), their
    /// answers without production's fields when its response never came.
    pub fn expire(&mut self, now: Instant, out: &mut Vec<Outcome>) {
        while let Some(&(key, deadline)) = self.order.front() {
            if deadline > now && self.slots.len() <= MAX_WAITING {
                break;
            }
            self.order.pop_front();
            if self.slots.get(&key).is_some_and(|s| s.deadline == deadline) {
                if let Some(slot) = self.slots.remove(&key) {
                    out.extend(slot.waiting.into_iter().map(|o| fill(o, slot.prod)));
                }
            }
        }
    }

    /// The end: every answer still waiting is released.
    pub fn finish(&mut self, out: &mut Vec<Outcome>) {
        self.order.clear();
        for (_, slot) in self.slots.drain() {
            out.extend(slot.waiting.into_iter().map(|o| fill(o, slot.prod)));
        }
    }
}

/// One side of a window: how many, by status class, and the latency.
#[derive(Debug, Clone, Default)]
pub struct Side {
    /// Counts by class, in the order of [`CLASSES`] (`none`: no response, an error).
    pub classes: [u64; 6],
    /// Latency, µs histogram.
    pub latency: Latency,
}

impl Side {
    /// Exchanges counted.
    pub fn count(&self) -> u64 {
        self.classes.iter().sum()
    }

    fn add(&mut self, status: Option<u16>, latency_ns: Option<u64>) {
        self.classes[status_class(status)] += 1;
        if let Some(ns) = latency_ns {
            self.latency.record_ns(ns);
        }
    }

    /// `2xx 99.1% 4xx 0.9%, p50 0.31 ms p99 2.10 ms` (classes seen only).
    pub fn describe(&self) -> String {
        let n = self.count();
        if n == 0 {
            return "none".to_string();
        }
        let mix: Vec<String> = CLASSES
            .iter()
            .zip(self.classes)
            .filter(|(_, c)| *c > 0)
            .map(|(name, c)| format!("{name} {:.1}%", c as f64 * 100.0 / n as f64))
            .collect();
        let mut text = format!("{n}: {}", mix.join(" "));
        if !self.latency.is_empty() {
            text.push_str(&format!(
                ", p50 {:.2} ms p99 {:.2} ms",
                self.latency.quantile_ms(0.5),
                self.latency.quantile_ms(0.99)
            ));
        }
        text
    }
}

/// The figures of the current interval.
#[derive(Debug, Clone)]
pub struct Window {
    /// Production's responses (to the requests selected for shadowing) as captured.
    pub production: Side,
    /// Staging's answers to the candidate's shadow requests (`--target`), latency from the moment
    /// the request was framed; errors count as `none`, a timeout as a latency of `--timeout`.
    pub staging: Side,
    /// When the window began.
    pub since: Instant,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            production: Side::default(),
            staging: Side::default(),
            since: Instant::now(),
        }
    }
}

impl Window {
    /// The window so far; a new one begins now.
    pub fn take(&mut self) -> Window {
        std::mem::take(self)
    }

    /// `last 10.0s: production …; staging …`.
    pub fn line(&self) -> String {
        format!(
            "last {:.1}s: production {}; staging {}",
            self.since.elapsed().as_secs_f64(),
            self.production.describe(),
            self.staging.describe()
        )
    }
}

/// The window as shared between the sink (which adds to it) and whoever shows it.
pub type SharedWindow = Arc<Mutex<Window>>;

/// Takes the window (a new one begins) and sets the window gauges from it.
pub fn rotate(window: &SharedWindow, gauges: &WindowGauges) -> Window {
    let w = window.lock().unwrap_or_else(PoisonError::into_inner).take();
    gauges.set(&w);
    w
}

/// Quantiles the window gauges show, with their labels.
const QUANTILES: [(f64, &str); 5] = [
    (0.5, "0.5"),
    (0.9, "0.9"),
    (0.99, "0.99"),
    (0.999, "0.999"),
    (1.0, "1"),
];

/// `/metrics` gauges of the last finished window, per side.
#[derive(Debug, Clone)]
pub struct WindowGauges {
    sides: [(Vec<Metric>, Vec<Metric>); 2],
}

impl WindowGauges {
    /// Registers `reel_shadow_window_exchanges{side,class}` and
    /// `reel_shadow_window_latency_microseconds{side,quantile}`.
    pub fn registered(r: &Registry) -> WindowGauges {
        let side = |name: &str| {
            let classes = CLASSES
                .iter()
                .map(|class| {
                    r.series(
                        "reel_shadow_window_exchanges",
                        "Exchanges in the last stats interval, by side and status class.",
                        Kind::Gauge,
                        &[("side", name), ("class", class)],
                    )
                })
                .collect();
            let quantiles = QUANTILES
                .iter()
                .map(|(_, q)| {
                    r.series(
                        "reel_shadow_window_latency_microseconds",
                        "Latency quantiles over the last stats interval, by side.",
                        Kind::Gauge,
                        &[("side", name), ("quantile", q)],
                    )
                })
                .collect();
            (classes, quantiles)
        };
        WindowGauges {
            sides: [side("production"), side("staging")],
        }
    }

    fn set(&self, w: &Window) {
        for ((classes, quantiles), side) in self.sides.iter().zip([&w.production, &w.staging]) {
            for (m, c) in classes.iter().zip(side.classes) {
                m.set(c);
            }
            for (m, (q, _)) in quantiles.iter().zip(QUANTILES) {
                m.set((side.latency.quantile_ms(q) * 1000.0).round() as u64);
            }
        }
    }
}

/// Cumulative `/metrics` counters of staging's side.
#[derive(Debug, Clone)]
pub struct StagingFigures {
    /// Shadow requests whose first byte was written.
    pub sent: Metric,
    /// Answered with a final response.
    pub answered: Metric,
    /// Ended in an error (connect failures included).
    pub errors: Metric,
    /// Connections opened to staging.
    pub connects: Metric,
    /// Largest lag (first byte written minus framed) since the last look, µs.
    pub lag_max_us: Metric,
}

impl StagingFigures {
    /// Registers the `reel_shadow_*` counters of the connection tasks.
    pub fn registered(r: &Registry) -> StagingFigures {
        StagingFigures {
            sent: r.counter(
                "reel_shadow_sent_total",
                "Shadow requests whose first byte was written.",
            ),
            answered: r.counter(
                "reel_shadow_answered_total",
                "Shadow requests answered with a final response.",
            ),
            errors: r.counter(
                "reel_shadow_errors_total",
                "Shadow requests that ended in an error (connect failures included).",
            ),
            connects: r.counter(
                "reel_shadow_connections_total",
                "Connections opened to staging.",
            ),
            lag_max_us: r.gauge(
                "reel_shadow_lag_max_microseconds",
                "Largest lag (first byte written minus the moment the request was framed) lately.",
            ),
        }
    }

    /// Copies the connection tasks' counters.
    pub fn update(&self, live: &Live) {
        use std::sync::atomic::Ordering::Relaxed;
        self.sent.set(live.sent.load(Relaxed));
        self.answered.set(live.ok.load(Relaxed));
        self.errors.set(live.errors.load(Relaxed));
        self.connects.set(live.connects.load(Relaxed));
        self.lag_max_us.set(live.lag_max_us.swap(0, Relaxed));
    }
}

/// What the sink is given.
pub struct SinkConfig {
    /// `--timeout`: a timeout counts as this latency.
    pub timeout: Duration,
    /// How long an exchange waits in the join.
    pub join_window: Duration,
    /// True with a `--baseline-target` (its answers are counted apart).
    pub with_baseline: bool,
    /// The comparison the gates read at the end, when one is kept.
    pub comparison: Option<Accumulator>,
    /// `--results`, open.
    pub results: Option<Writer>,
    /// Take the window by itself this often (when no stats line does).
    pub rotate_every: Option<Duration>,
}

/// What the sink hands back at the end.
pub struct SinkOutcome {
    /// The candidate's figures over the whole run.
    pub stats: Stats,
    /// The baseline's, with a `--baseline-target`.
    pub baseline: Option<Stats>,
    /// The comparison, fed every joined answer.
    pub comparison: Option<Accumulator>,
    /// Staging outcomes received (answers, errors and connect failures).
    pub outcomes: u64,
    /// Of those, joined with production's response.
    pub joined: u64,
    /// The results log, to be finished.
    pub results: Option<Writer>,
    /// The first error writing it: the sink ends there, which stops the run (exit 3).
    pub failure: Option<LogError>,
}

/// What the sink thread shares with the others.
pub struct SinkShared {
    /// The window it adds to.
    pub window: SharedWindow,
    /// Its gauges.
    pub gauges: WindowGauges,
    /// The dispatcher's figures (the sink counts `connect` drops).
    pub figures: Figures,
    /// The connection tasks' counters.
    pub live: Arc<Live>,
    /// Where it publishes them.
    pub staging: StagingFigures,
}

struct Sink {
    config: SinkConfig,
    shared: SinkShared,
    stats: Stats,
    baseline: Option<Stats>,
    join: Join,
    outcomes: u64,
    joined: u64,
    failure: Option<LogError>,
    released: Vec<Outcome>,
}

impl Sink {
    fn on_outcome(&mut self, o: Outcome, window: &mut Window, now: Instant) {
        let r = &o.result;
        self.outcomes += 1;
        if r.sent_ns == 0 && r.error.is_some() {
            self.shared.figures.dropped(DropReason::Connect).inc();
        }
        if r.role == 0 {
            let latency = if r.first_byte_ns > 0 {
                Some(r.first_byte_ns.saturating_sub(r.intended_ns))
            } else if r.error == Some(ErrorKind::Timeout) {
                Some(self.config.timeout.as_nanos() as u64)
            } else {
                None
            };
            let status = if r.error.is_some() { None } else { r.status };
            window.staging.add(status, latency);
        }
        self.join.outcome(o, now, &mut self.released);
    }

    fn release(&mut self) {
        for o in self.released.drain(..) {
            self.joined += u64::from(o.result.prod_status.is_some());
            match (o.result.role, self.baseline.as_mut()) {
                (1, Some(b)) => b.record(&o),
                _ => self.stats.record(&o),
            }
            if let Some(acc) = self.config.comparison.as_mut() {
                acc.add(&o.result);
            }
            if self.failure.is_none() {
                if let Some(w) = self.config.results.as_mut() {
                    if let Err(e) = w.write(&Record::Result(o.result)) {
                        self.failure = Some(e);
                    }
                }
            }
        }
    }

    fn run(mut self, mut results: mpsc::Receiver<Outcome>, events: Receiver<ProdAnswer>) -> Self {
        let (mut results_done, mut events_done) = (false, false);
        let mut published = Instant::now();
        let mut rotated = Instant::now();
        loop {
            let mut got = 0usize;
            let now = Instant::now();
            {
                let window = self.shared.window.clone();
                let mut window = window.lock().unwrap_or_else(PoisonError::into_inner);
                while !results_done && got < BATCH {
                    match results.try_recv() {
                        Ok(o) => {
                            got += 1;
                            self.on_outcome(o, &mut window, now);
                        }
                        Err(mpsc::error::TryRecvError::Empty) => break,
                        Err(mpsc::error::TryRecvError::Disconnected) => results_done = true,
                    }
                }
                for _ in 0..BATCH {
                    if events_done {
                        break;
                    }
                    match events.try_recv() {
                        Ok(a) => {
                            got += 1;
                            window.production.add(Some(a.status), a.latency_ns);
                            self.join.production(a, now, &mut self.released);
                        }
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => events_done = true,
                    }
                }
            }
            self.join.expire(now, &mut self.released);
            self.release();
            if now.duration_since(published) >= PUBLISH_EVERY {
                published = now;
                self.shared.staging.update(&self.shared.live);
            }
            if let Some(every) = self.config.rotate_every {
                if now.duration_since(rotated) >= every {
                    rotated = now;
                    rotate(&self.shared.window, &self.shared.gauges);
                }
            }
            if results_done && events_done {
                break;
            }
            if let Some(e) = &self.failure {
                // The run stops (the main thread sees the sink end) rather than shadow on unrecorded.
                tracing::warn!("{e}: stopping the shadow");
                return self;
            }
            if got == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        self.join.finish(&mut self.released);
        self.release();
        self.shared.staging.update(&self.shared.live);
        self
    }
}

/// Starts the sink thread; it ends once both queues are closed and drained.
pub fn spawn(
    config: SinkConfig,
    shared: SinkShared,
    results: mpsc::Receiver<Outcome>,
    events: Receiver<ProdAnswer>,
) -> std::io::Result<std::thread::JoinHandle<SinkOutcome>> {
    let sink = Sink {
        stats: Stats::new(config.timeout),
        baseline: config.with_baseline.then(|| Stats::new(config.timeout)),
        join: Join::new(config.join_window),
        config,
        shared,
        outcomes: 0,
        joined: 0,
        failure: None,
        released: Vec::new(),
    };
    std::thread::Builder::new()
        .name("reel-shadow-sink".into())
        .spawn(move || {
            let mut s = sink.run(results, events);
            SinkOutcome {
                stats: s.stats,
                baseline: s.baseline,
                comparison: s.config.comparison.take(),
                outcomes: s.outcomes,
                joined: s.joined,
                results: s.config.results.take(),
                failure: s.failure,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::ReplayResult;
    use bytes::Bytes;

    fn outcome(conn: u64, index: u32, iteration: u32) -> Outcome {
        Outcome {
            result: ReplayResult {
                conn,
                index,
                target: String::new(),
                method: "GET".into(),
                path: "/".into(),
                prod_status: None,
                prod_latency_ns: None,
                recorded_ts_ns: 1,
                intended_ns: 10,
                sent_ns: 11,
                first_byte_ns: 20,
                last_byte_ns: 21,
                status: Some(200),
                request_bytes: 1,
                response_bytes: 1,
                response: Bytes::new(),
                external_id: None,
                error: None,
                shard: 0,
                shards: 1,
                iteration,
                warmup: false,
                role: 0,
            },
            interim: 0,
            incomplete: false,
        }
    }

    fn prod(conn: u64, index: u32, expected: Option<u32>) -> ProdAnswer {
        ProdAnswer {
            conn,
            index,
            status: 503,
            latency_ns: Some(7_000),
            expected,
        }
    }

    fn keys(out: &[Outcome]) -> Vec<(u64, u32, u32, Option<u16>)> {
        out.iter()
            .map(|o| {
                let r = &o.result;
                (r.conn, r.index, r.iteration, r.prod_status)
            })
            .collect()
    }

    #[test]
    fn answers_and_responses_join_in_either_order() {
        let t = Instant::now();
        let mut j = Join::new(Duration::from_secs(10));
        let mut out = Vec::new();
        // Production first, two copies expected.
        j.production(prod(1, 0, Some(2)), t, &mut out);
        j.outcome(outcome(1, 0, 0), t, &mut out);
        assert_eq!(j.len(), 1);
        j.outcome(outcome(1, 0, 1), t, &mut out);
        assert!(j.is_empty());
        // Staging first.
        j.outcome(outcome(2, 3, 0), t, &mut out);
        assert_eq!(out.len(), 2);
        j.production(prod(2, 3, Some(1)), t, &mut out);
        assert!(j.is_empty());
        assert_eq!(
            keys(&out),
            [
                (1, 0, 0, Some(503)),
                (1, 0, 1, Some(503)),
                (2, 3, 0, Some(503))
            ]
        );
        assert_eq!(out[2].result.prod_latency_ns, Some(7_000));
        // A response whose request was not shadowed is not kept.
        j.production(prod(3, 0, Some(0)), t, &mut out);
        assert!(j.is_empty());
    }

    #[test]
    fn what_waits_too_long_goes_without_the_other_side() {
        let t = Instant::now();
        let mut j = Join::new(Duration::from_secs(10));
        let mut out = Vec::new();
        j.outcome(outcome(1, 0, 0), t, &mut out);
        j.production(prod(2, 0, Some(1)), t, &mut out);
        j.production(prod(3, 0, None), t + Duration::from_secs(1), &mut out);
        j.expire(t + Duration::from_secs(9), &mut out);
        assert_eq!((out.len(), j.len()), (0, 3));
        j.expire(t + Duration::from_secs(10), &mut out);
        assert_eq!(keys(&out), [(1, 0, 0, None)]);
        assert_eq!(j.len(), 1);
        // An answer for an unknown count still joins while its response waits.
        j.outcome(outcome(3, 0, 0), t + Duration::from_secs(2), &mut out);
        assert_eq!(keys(&out)[1], (3, 0, 0, Some(503)));
        j.finish(&mut out);
        assert!(j.is_empty());
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn the_join_stays_bounded() {
        let t = Instant::now();
        let mut j = Join::new(Duration::from_secs(3600));
        let mut out = Vec::new();
        for i in 0..(MAX_WAITING as u64 + 10) {
            j.outcome(outcome(i, 0, 0), t, &mut out);
        }
        j.expire(t, &mut out);
        assert_eq!(j.len(), MAX_WAITING);
        assert_eq!(keys(&out)[..2], [(0, 0, 0, None), (1, 0, 0, None)]);
    }

    #[test]
    fn windows_describe_their_mix_and_latency() {
        let mut w = Window::default();
        for _ in 0..99 {
            w.production.add(Some(200), Some(1_000_000));
        }
        w.production.add(Some(404), Some(1_000_000));
        let text = w.production.describe();
        assert_eq!(text, "100: 2xx 99.0% 4xx 1.0%, p50 1.00 ms p99 1.00 ms");
        assert_eq!(w.staging.describe(), "none");
        let old = w.take();
        assert_eq!((old.production.count(), w.production.count()), (100, 0));
    }
}
