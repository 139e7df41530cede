//! The scheduler: one loop over one enum of pacing modes gives every request its *intended* send
//! time and releases it then (open loop: a slow staging never delays the schedule, it makes
//! requests late, and the lateness is measured).
//!
//! - `--speed F`: intended = start + (recorded time − the log's first request) ÷ F;
//! - `--rate N/s`: the k-th request released (from 0) is intended at start + k ÷ N;
//! - `--rate max`: no intended time from the schedule; a request is intended when a pool worker
//!   takes it (closed loop, as fast as `--concurrency` allows).
//!
//! Waiting is the [`Clock`]'s job. The real clock ([`PreciseClock`]) runs on a thread of its own:
//! tokio's timer has a 1 ms granularity, so it sleeps with the OS timer to [`SPIN`] before the
//! time, then yields in a loop until it. [`TokioClock`] uses tokio's timer: `--rate max` (nothing to
//! wait for) runs on it inside the I/O runtime, and the arithmetic is tested on tokio's paused clock.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::plan::Planned;

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// Recorded inter-arrival times divided by the factor (`--speed 2x`: twice as fast).
    Speed(f64),
    /// A constant rate, requests per second.
    Rate(f64),
    /// As fast as the connections allow.
    Max,
}

impl Pacing {
    /// Parses `--speed` (`1x`, `2`, `0.5x`).
    pub fn parse_speed(text: &str) -> Result<Pacing, String> {
        let t = text.trim();
        let n = t.strip_suffix(['x', 'X']).unwrap_or(t);
        match n.parse::<f64>() {
            Ok(f) if f.is_finite() && f > 0.0 => Ok(Pacing::Speed(f)),
            _ => Err(format!(
                "expected a factor like 1x, 2x or 0.5x, got {text:?}"
            )),
        }
    }

    /// Parses `--rate` (`500/s`, `500`, `30000/m`, `max`).
    pub fn parse_rate(text: &str) -> Result<Pacing, String> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("max") {
            return Ok(Pacing::Max);
        }
        let (n, per) = match t.split_once('/') {
            Some((n, "s")) => (n, 1.0),
            Some((n, "m")) => (n, 60.0),
            Some((n, "h")) => (n, 3600.0),
            Some(_) => return Err(format!("expected N/s, N/m, N/h or max, got {text:?}")),
            None => (t, 1.0),
        };
        match n.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => Ok(Pacing::Rate(v / per)),
            _ => Err(format!("expected N/s, N/m, N/h or max, got {text:?}")),
        }
    }
}

/// The pacing arithmetic: the offset from the start at which a request is intended.
#[derive(Debug, Clone)]
pub struct Schedule {
    pacing: Pacing,
    released: u64,
}

impl Schedule {
    /// A schedule with nothing released yet.
    pub fn new(pacing: Pacing) -> Schedule {
        Schedule {
            pacing,
            released: 0,
        }
    }

    /// The intended offset of the next request (`None` for `--rate max`); counts it as released.
    pub fn next_offset(&mut self, planned: &Planned) -> Option<Duration> {
        let k = self.released;
        self.released += 1;
        match self.pacing {
            Pacing::Speed(f) => Some(Duration::from_nanos(
                (planned.log_offset_ns as f64 / f).min(u64::MAX as f64) as u64,
            )),
            Pacing::Rate(r) => Some(Duration::from_nanos(
                (k as f64 * 1e9 / r).min(u64::MAX as f64) as u64,
            )),
            Pacing::Max => None,
        }
    }
}

/// A request released by the scheduler.
#[derive(Debug)]
pub struct Job {
    /// The request.
    pub planned: Planned,
    /// When it is meant to be sent (`None` with `--rate max`: the worker that takes it sets it).
    pub intended: Option<Instant>,
    /// Sent during `--warmup`: kept out of statistics.
    pub warmup: bool,
    /// Dropped when the job is done with (answered, failed, or dropped unsent with its
    /// connection): `reel shadow` counts the requests queued and in flight with it. `None` in
    /// replay.
    pub hold: Option<Box<dyn std::any::Any + Send>>,
}

/// Waits for instants.
pub trait Clock {
    /// The current instant.
    fn now(&self) -> Instant;
    /// Returns at `at` or soon after (early when `stop` is set).
    fn wait_until(&self, at: Instant, stop: &AtomicBool) -> impl Future<Output = ()>;
}

/// Below this much time left, [`PreciseClock`] stops sleeping and yields in a loop: more than
/// the OS sleep's overshoot once [`tighten_timer_slack`] ran (tens of µs), less than tokio's tick.
pub const SPIN: Duration = Duration::from_micros(80);

/// Asks Linux to wake this thread's sleeps with 1 ns of slack instead of the default 50 µs, so
/// the pacer can sleep closer to each intended time and spin less. Best effort.
pub fn tighten_timer_slack() {
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_timerslack(1) {
        tracing::debug!("cannot lower the pacer's timer slack: {e}");
    }
}

/// The real clock, for a thread of its own (see [`tighten_timer_slack`]): OS sleep to [`SPIN`]
/// before, then yield-spin.
#[derive(Debug, Default, Clone, Copy)]
pub struct PreciseClock;

impl Clock for PreciseClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    #[allow(clippy::manual_async_fn)]
    fn wait_until(&self, at: Instant, stop: &AtomicBool) -> impl Future<Output = ()> {
        async move {
            loop {
                let now = Instant::now();
                if now >= at || stop.load(Ordering::Relaxed) {
                    return;
                }
                let left = at - now;
                if left > SPIN {
                    std::thread::sleep((left - SPIN).min(Duration::from_millis(50)));
                } else {
                    std::thread::yield_now();
                }
            }
        }
    }
}

/// tokio's timer (1 ms granularity; exact on a paused clock): for `--rate max`, which never
/// waits and runs inside the I/O runtime, and for tests on tokio's paused clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    #[allow(clippy::manual_async_fn)]
    fn wait_until(&self, at: Instant, _stop: &AtomicBool) -> impl Future<Output = ()> {
        async move { tokio::time::sleep_until(at).await }
    }
}

/// Where released requests go (a mirrored connection's queue, or the pool's).
pub trait Dispatch {
    /// Hands the job over, waiting while the queue is full; false when nobody takes jobs any more.
    fn dispatch(&mut self, job: Job) -> impl Future<Output = bool>;
}

/// When the scheduler stops releasing.
#[derive(Debug, Clone, Copy, Default)]
pub struct PaceRules {
    /// `--limit`: at most this many requests.
    pub limit: Option<u64>,
    /// `--duration`: nothing intended (or, with `--rate max`, released) this long after the start.
    pub duration: Option<Duration>,
    /// `--warmup`: requests intended within this much of the start are marked warmup.
    pub warmup: Duration,
}

/// What the pacer says of the next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Send it: at `offset` from the start (`None` with `--rate max`: when a worker takes it).
    Send {
        /// The intended offset from the schedule's start.
        offset: Option<Duration>,
        /// Within `--warmup` of the start: kept out of statistics.
        warmup: bool,
    },
    /// A rule says stop (`--limit` reached, or the request falls past `--duration`).
    Stop,
}

/// The one pacer every connection mode and `--dry-run` share: the schedule's arithmetic and the
/// stop rules, as a sequence of [`Step`]s, one per planned request, in order. It holds no clock:
/// [`pace`] waits for the offsets it gives, `--dry-run` prints them.
#[derive(Debug, Clone)]
pub struct Pacer {
    schedule: Schedule,
    rules: PaceRules,
    released: u64,
}

impl Pacer {
    /// A pacer with nothing released yet.
    pub fn new(pacing: Pacing, rules: PaceRules) -> Pacer {
        Pacer {
            schedule: Schedule::new(pacing),
            rules,
            released: 0,
        }
    }

    /// The step for the next planned request; `elapsed` reads the time since the start, asked
    /// only with `--rate max` (where the schedule itself has no time). A `Send` counts as released.
    pub fn step(&mut self, planned: &Planned, elapsed: impl FnOnce() -> Duration) -> Step {
        if self.rules.limit.is_some_and(|l| self.released >= l) {
            return Step::Stop;
        }
        let (offset, since_start) = match self.schedule.next_offset(planned) {
            Some(offset) => (Some(offset), offset),
            None => (None, elapsed()),
        };
        if self.rules.duration.is_some_and(|d| since_start >= d) {
            return Step::Stop;
        }
        self.released += 1;
        Step::Send {
            offset,
            warmup: since_start < self.rules.warmup,
        }
    }
}

/// Releases the planned requests from `rx` (in batches) at the [`Pacer`]'s intended times,
/// counted from `start` — or, when `None`, from the moment the first request is ready (reading
/// the log ahead of the first request is then not counted as lateness) until the input ends, a
/// rule says stop, `stop` is set, or the dispatcher refuses. Returns how many were released.
pub async fn pace<C: Clock, D: Dispatch>(
    clock: &C,
    start: Option<Instant>,
    pacing: Pacing,
    rules: PaceRules,
    stop: &AtomicBool,
    rx: &mut mpsc::Receiver<Vec<Planned>>,
    dispatch: &mut D,
) -> u64 {
    let mut pacer = Pacer::new(pacing, rules);
    let mut released = 0u64;
    let mut started: Option<Instant> = None;
    let mut batch = Vec::new().into_iter();
    loop {
        let planned = match batch.next() {
            Some(p) => p,
            None => match rx.recv().await {
                Some(b) => {
                    batch = b.into_iter();
                    continue;
                }
                None => break,
            },
        };
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let start = *started.get_or_insert_with(|| start.unwrap_or_else(|| clock.now()));
        let elapsed = || clock.now().saturating_duration_since(start);
        let Step::Send { offset, warmup } = pacer.step(&planned, elapsed) else {
            break;
        };
        let intended = offset.map(|o| start + o);
        if let Some(at) = intended {
            clock.wait_until(at, stop).await;
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
        let job = Job {
            planned,
            intended,
            warmup,
            hold: None,
        };
        if !dispatch.dispatch(job).await {
            break;
        }
        released += 1;
    }
    released
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::framing::RequestContext;
    use bytes::Bytes;

    fn planned(i: u64, log_offset_ns: u64) -> Planned {
        Planned {
            conn: i,
            index: 0,
            iteration: 0,
            recorded_ts_ns: 1_700_000_000_000_000_000 + log_offset_ns,
            log_offset_ns,
            bytes: Bytes::new(),
            method: "GET".into(),
            path: "/".into(),
            context: RequestContext::default(),
            target: 0,
            pipelined: false,
            expect_unsent: false,
            prod_status: None,
            prod_latency_ns: None,
            external_id: None,
            role: 0,
            baseline_bytes: None,
        }
    }

    /// Records, for every job, its intended offset and the (paused) clock's offset when released.
    struct Recorder {
        start: Instant,
        seen: Vec<(u64, Option<Duration>, Duration, bool)>,
    }

    impl Dispatch for Recorder {
        async fn dispatch(&mut self, job: Job) -> bool {
            self.seen.push((
                job.planned.conn,
                job.intended.map(|i| i - self.start),
                Instant::now() - self.start,
                job.warmup,
            ));
            true
        }
    }

    async fn run(
        pacing: Pacing,
        rules: PaceRules,
        offsets: &[u64],
    ) -> Vec<(u64, Option<Duration>, Duration, bool)> {
        let (tx, mut rx) = mpsc::channel(4);
        let offsets = offsets.to_vec();
        tokio::spawn(async move {
            for (i, o) in offsets.into_iter().enumerate() {
                if tx.send(vec![planned(i as u64, o)]).await.is_err() {
                    break;
                }
            }
        });
        let start = Instant::now();
        let mut rec = Recorder {
            start,
            seen: Vec::new(),
        };
        let stop = AtomicBool::new(false);
        pace(
            &TokioClock,
            Some(start),
            pacing,
            rules,
            &stop,
            &mut rx,
            &mut rec,
        )
        .await;
        rec.seen
    }

    const MS: u64 = 1_000_000;

    #[tokio::test(start_paused = true)]
    async fn speed_scales_recorded_gaps_and_releases_on_time() {
        let seen = run(
            Pacing::Speed(2.0),
            PaceRules::default(),
            &[0, 10 * MS, 11 * MS, 1_000 * MS],
        )
        .await;
        let expect = [0u64, 5 * MS, 5_500_000, 500 * MS].map(Duration::from_nanos);
        for (i, (conn, intended, at, warm)) in seen.iter().enumerate() {
            assert_eq!(*conn, i as u64);
            assert_eq!(*intended, Some(expect[i]));
            // tokio's timer rounds up to its 1 ms tick, even on a paused clock.
            assert!(
                *at >= expect[i] && *at - expect[i] < Duration::from_millis(1),
                "{at:?}"
            );
            assert!(!warm);
        }
        assert_eq!(seen.len(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn rate_ignores_recorded_times_and_spaces_evenly() {
        let seen = run(
            Pacing::Rate(400.0),
            PaceRules::default(),
            &[0, 0, 0, 9_999 * MS, 1],
        )
        .await;
        let got: Vec<_> = seen.iter().map(|s| s.1.unwrap()).collect();
        assert_eq!(
            got,
            [0, 2_500_000, 5_000_000, 7_500_000, 10_000_000].map(Duration::from_nanos)
        );
        assert!(seen.iter().all(|s| {
            s.1.is_some_and(|i| s.2 >= i && s.2 - i < Duration::from_millis(1))
        }));
    }

    #[tokio::test(start_paused = true)]
    async fn limit_duration_and_warmup() {
        let rules = PaceRules {
            limit: Some(3),
            duration: None,
            warmup: Duration::from_millis(5),
        };
        let seen = run(Pacing::Rate(200.0), rules, &[0; 10]).await;
        assert_eq!(
            seen.iter().map(|s| s.3).collect::<Vec<_>>(),
            [true, false, false]
        );
        let rules = PaceRules {
            limit: None,
            duration: Some(Duration::from_millis(20)),
            warmup: Duration::ZERO,
        };
        // 200/s for 20 ms: offsets 0, 5, 10, 15 ms — the one at 20 ms is past the end.
        assert_eq!(run(Pacing::Rate(200.0), rules, &[0; 10]).await.len(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn max_has_no_intended_time_and_does_not_wait() {
        let seen = run(Pacing::Max, PaceRules::default(), &[0, 5_000 * MS]).await;
        assert_eq!(
            seen.iter().map(|s| (s.1, s.2)).collect::<Vec<_>>(),
            [(None, Duration::ZERO); 2]
        );
    }

    #[test]
    fn pacer_stops_at_the_limit_and_past_the_duration() {
        let rules = PaceRules {
            limit: Some(2),
            duration: None,
            warmup: Duration::ZERO,
        };
        let mut p = Pacer::new(Pacing::Rate(10.0), rules);
        let steps: Vec<_> = (0..4)
            .map(|i| p.step(&planned(i, 0), || unreachable!()))
            .collect();
        assert_eq!(
            steps,
            [
                Step::Send {
                    offset: Some(Duration::ZERO),
                    warmup: false
                },
                Step::Send {
                    offset: Some(Duration::from_millis(100)),
                    warmup: false
                },
                Step::Stop,
                Step::Stop,
            ]
        );
        let rules = PaceRules {
            limit: None,
            duration: Some(Duration::from_millis(10)),
            warmup: Duration::from_millis(5),
        };
        let mut p = Pacer::new(Pacing::Speed(1.0), rules);
        let step = |p: &mut Pacer, off: u64| p.step(&planned(0, off), || unreachable!());
        assert_eq!(
            step(&mut p, 4 * MS),
            Step::Send {
                offset: Some(Duration::from_millis(4)),
                warmup: true
            }
        );
        assert_eq!(
            step(&mut p, 5 * MS),
            Step::Send {
                offset: Some(Duration::from_millis(5)),
                warmup: false
            }
        );
        assert_eq!(step(&mut p, 10 * MS), Step::Stop);
    }

    #[test]
    fn pacer_at_max_reads_the_clock_for_duration_and_warmup() {
        let rules = PaceRules {
            limit: None,
            duration: Some(Duration::from_secs(2)),
            warmup: Duration::from_secs(1),
        };
        let mut p = Pacer::new(Pacing::Max, rules);
        let at =
            |p: &mut Pacer, secs: f64| p.step(&planned(0, 0), || Duration::from_secs_f64(secs));
        assert_eq!(
            at(&mut p, 0.5),
            Step::Send {
                offset: None,
                warmup: true
            }
        );
        assert_eq!(
            at(&mut p, 1.5),
            Step::Send {
                offset: None,
                warmup: false
            }
        );
        assert_eq!(at(&mut p, 2.0), Step::Stop);
    }

    #[test]
    fn flags_parse() {
        assert_eq!(Pacing::parse_speed("2x"), Ok(Pacing::Speed(2.0)));
        assert_eq!(Pacing::parse_speed("0.5"), Ok(Pacing::Speed(0.5)));
        assert!(Pacing::parse_speed("0x").is_err());
        assert!(Pacing::parse_speed("fast").is_err());
        assert_eq!(Pacing::parse_rate("500/s"), Ok(Pacing::Rate(500.0)));
        assert_eq!(Pacing::parse_rate("600/m"), Ok(Pacing::Rate(10.0)));
        assert_eq!(Pacing::parse_rate("MAX"), Ok(Pacing::Max));
        assert_eq!(Pacing::parse_rate("250"), Ok(Pacing::Rate(250.0)));
        assert!(Pacing::parse_rate("5/d").is_err());
        assert!(Pacing::parse_rate("-1/s").is_err());
    }
}
