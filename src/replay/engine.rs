//! Wiring a run: threads, runtimes, channels and their bounds.
//!
//! ```text
//! plan thread ──Planned ×64 (16)──► pace thread ──Job──► connection tasks ──Outcome (4096)──► sink thread
//! (read, join, filter,            (one scheduler,     (tokio runtime,       (histograms, results log)
//!  shard, rewrite)                 precise clock)      mirror: 64 per conn; pool: --concurrency)
//! ```
//!
//! Every channel is bounded, so memory does not grow with the log: a slow staging fills the job
//! queues, the pacer waits on them (and lag shows it), the planner waits on the pacer.

use std::collections::{HashMap, VecDeque};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, SystemTime};

use tokio::runtime::Handle;
use tokio::sync::{Mutex, mpsc};
use tokio::time::Instant;

use crate::exchange::{Counters, Meta, Record};
use crate::log::CreateOptions;
use crate::runtime::unix_ns;

use super::ReplayError;
use super::client::{ConnCtx, Epoch, JobSource, Live, Outcome, run_connection};
use super::plan::{PlanConfig, PlanStats, plan};
use super::schedule::{
    Clock, Dispatch, Job, PaceRules, Pacing, PreciseClock, TokioClock, pace, tighten_timer_slack,
};
use super::stats::{ReplaySummary, Stats};

/// How requests are spread over connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnMode {
    /// Each recorded connection over one keep-alive connection, requests in recorded order.
    Mirror,
    /// A shared pool of `--concurrency` connections.
    Pool,
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Nothing.
    Quiet,
    /// An indicatif bar (stderr is a terminal).
    Bar,
    /// A plain line every few seconds on stderr.
    Lines,
}

impl Progress {
    /// A bar on a terminal, plain lines otherwise.
    pub fn auto() -> Progress {
        if std::io::stderr().is_terminal() && !crate::logline::is_json() {
            Progress::Bar
        } else {
            Progress::Lines
        }
    }
}

/// A validated replay configuration.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// What to send.
    pub plan: PlanConfig,
    /// How fast.
    pub pacing: Pacing,
    /// Over which connections.
    pub mode: ConnMode,
    /// Pool size (`--concurrency`).
    pub concurrency: usize,
    /// Mirror mode: at most this many connections open at once (the least recently used is closed).
    pub max_connections: usize,
    /// Stop rules.
    pub rules: PaceRules,
    /// `--connect-timeout`.
    pub connect_timeout: Duration,
    /// `--timeout`.
    pub timeout: Duration,
    /// TLS client configuration when a target is https.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// `--results FILE.reel`.
    pub results: Option<PathBuf>,
    /// Bytes of each response body kept in results (and for the comparison's examples).
    pub keep_body: usize,
    /// Per-endpoint comparison: results are fed, as they complete, to a
    /// [`crate::compare::Accumulator`] made with this (returned in [`ReplaySummary::comparison`]).
    pub compare: Option<crate::compare::Config>,
    /// `--start-at`: the shared clock's zero.
    pub start_at: Option<SystemTime>,
    /// Progress display.
    pub progress: Progress,
    /// tokio worker threads for connections.
    pub io_threads: usize,
    /// Counters shared with a `/metrics` endpoint; a fresh set when `None`.
    pub live: Option<Arc<Live>>,
}

/// Connections queued per mirrored connection before the scheduler waits.
const MIRROR_QUEUE: usize = 64;
/// Outcomes queued for the sink.
const RESULTS_QUEUE: usize = 4096;
/// Batches of planned requests queued between the planner and the scheduler.
const PLAN_QUEUE: usize = 16;
/// Planned requests per batch.
const PLAN_BATCH: usize = 64;

/// Mirror mode: one task per recorded connection (and `--loop` iteration), the least recently
/// used closed beyond `max`.
struct Mirror {
    handle: Handle,
    ctx: Arc<ConnCtx>,
    conns: HashMap<(u64, u32), (mpsc::Sender<Job>, u64)>,
    lru: VecDeque<((u64, u32), u64)>,
    stamp: u64,
    max: usize,
}

impl Dispatch for Mirror {
    async fn dispatch(&mut self, job: Job) -> bool {
        let key = (job.planned.conn, job.planned.iteration);
        self.stamp += 1;
        let stamp = self.stamp;
        if !self.conns.contains_key(&key) {
            while self.conns.len() >= self.max {
                let Some((old, s)) = self.lru.pop_front() else {
                    break;
                };
                if self.conns.get(&old).is_some_and(|(_, cur)| *cur == s) {
                    self.conns.remove(&old);
                }
            }
            let (tx, rx) = mpsc::channel(MIRROR_QUEUE);
            self.handle
                .spawn(run_connection(self.ctx.clone(), JobSource::Own(rx), None));
            self.conns.insert(key, (tx, stamp));
        }
        let Some((tx, s)) = self.conns.get_mut(&key) else {
            return true;
        };
        *s = stamp;
        let tx = tx.clone();
        self.lru.push_back((key, stamp));
        if self.lru.len() > 4 * self.conns.len() + 64 {
            let conns = &self.conns;
            self.lru
                .retain(|(k, s)| conns.get(k).is_some_and(|(_, cur)| cur == s));
        }
        // A task that ended (it never does before its queue closes) only loses this job.
        let _ = tx.send(job).await;
        true
    }
}

impl Mirror {
    fn new(handle: Handle, ctx: Arc<ConnCtx>, max: usize) -> Mirror {
        Mirror {
            handle,
            ctx,
            conns: HashMap::new(),
            lru: VecDeque::new(),
            stamp: 0,
            max,
        }
    }
}

/// Every job to the candidate's dispatcher and, with a `--baseline-target`, its twin (role 1,
/// the baseline's target and bytes) to the baseline's own dispatcher — its own connections —
/// with the same intended time. Which side is handed its job first alternates, so that
/// neither is always a few microseconds later than the other.
struct Twin<D> {
    candidate: D,
    /// The baseline's dispatcher and its target index.
    baseline: Option<(D, usize)>,
    baseline_first: bool,
}

impl<D: Dispatch> Twin<D> {
    fn new(candidate: D, baseline: Option<(D, usize)>) -> Twin<D> {
        Twin {
            candidate,
            baseline,
            baseline_first: false,
        }
    }
}

impl<D: Dispatch> Dispatch for Twin<D> {
    async fn dispatch(&mut self, mut job: Job) -> bool {
        let Some((baseline, target)) = self.baseline.as_mut() else {
            return self.candidate.dispatch(job).await;
        };
        let twin = Job {
            planned: job.planned.baseline_twin(*target),
            intended: job.intended,
            warmup: job.warmup,
            hold: None,
        };
        job.planned.baseline_bytes = None;
        self.baseline_first = !self.baseline_first;
        let (first, first_job, second, second_job) = if self.baseline_first {
            (baseline, twin, &mut self.candidate, job)
        } else {
            (&mut self.candidate, job, baseline, twin)
        };
        first.dispatch(first_job).await && second.dispatch(second_job).await
    }
}

/// Pool mode: one shared queue.
struct Pool(mpsc::Sender<Job>);

impl Dispatch for Pool {
    async fn dispatch(&mut self, job: Job) -> bool {
        self.0.send(job).await.is_ok()
    }
}

/// Runs a replay to the end (or until `stop` is set) and returns its summary.
pub fn run(config: ReplayConfig, stop: Arc<AtomicBool>) -> Result<ReplaySummary, ReplayError> {
    let run_start = std::time::Instant::now();
    let mut writer = match &config.results {
        Some(path) => {
            let mut w = crate::log::create(path, CreateOptions::default())?;
            w.write(&Record::Meta(Meta {
                host: hostname(),
                sources: config
                    .plan
                    .inputs
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect(),
                tool_version: env!("CARGO_PKG_VERSION").into(),
                start_ns: Epoch::now().ns(Instant::now()),
                command: "replay".into(),
                ..Meta::default()
            }))?;
            Some(w)
        }
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.io_threads.max(1))
        .thread_name("reel-replay-io")
        .enable_all()
        .build()
        .map_err(ReplayError::Runtime)?;
    let epoch = Epoch::now();
    let start = config.start_at.map(|at| epoch.instant(unix_ns(at)));
    let live = config.live.clone().unwrap_or_default();
    let (results_tx, mut results_rx) = mpsc::channel::<Outcome>(RESULTS_QUEUE);
    let shard = (config.plan.shard.index, config.plan.shard.count);
    let targets: Vec<_> = config.plan.targets.list.clone();
    let ctx = Arc::new(ConnCtx {
        targets: Arc::new(targets.clone()),
        tls: config.tls.clone().map(tokio_rustls::TlsConnector::from),
        connect_timeout: config.connect_timeout,
        timeout: config.timeout,
        results: results_tx,
        live: live.clone(),
        keep_body: (config.results.is_some() || config.compare.is_some())
            .then_some(config.keep_body),
        epoch,
        shard,
    });

    // SIGINT or SIGTERM stops the schedule; what is in flight finishes (bounded by --timeout)
    // and the run's summary says it was interrupted. A second signal exits at once.
    let interrupted = Arc::new(AtomicI32::new(0));
    watch_signals(&runtime, &stop, &interrupted)?;

    // Sink: statistics, the comparison and the results log.
    let timeout = config.timeout;
    let with_baseline = config.plan.targets.baseline.is_some();
    let compare = config.compare.clone();
    let sink_stop = stop.clone();
    let sink = std::thread::Builder::new()
        .name("reel-replay-sink".into())
        .spawn(move || {
            let mut sides = Sides {
                candidate: Stats::new(timeout),
                baseline: with_baseline.then(|| Stats::new(timeout)),
                comparison: compare.map(crate::compare::Accumulator::new),
            };
            let mut failure = None;
            // Polled, not parked: senders then never pay a cross-thread wakeup per result.
            loop {
                let o = match results_rx.try_recv() {
                    Ok(o) => o,
                    Err(mpsc::error::TryRecvError::Empty) => {
                        std::thread::sleep(Duration::from_millis(1));
                        continue;
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                };
                match (o.result.role, sides.baseline.as_mut()) {
                    (1, Some(b)) => b.record(&o),
                    _ => sides.candidate.record(&o),
                }
                if let Some(acc) = sides.comparison.as_mut() {
                    acc.add(&o.result);
                }
                if failure.is_none() {
                    if let Some(w) = writer.as_mut() {
                        if let Err(e) = w.write(&Record::Result(o.result)) {
                            // Results can no longer be kept (a full disk): stop sending.
                            tracing::warn!("{e}: stopping the replay");
                            sink_stop.store(true, Ordering::Relaxed);
                            failure = Some(e);
                        }
                    }
                }
            }
            (sides, writer, failure)
        })
        .map_err(ReplayError::Runtime)?;

    // Planner.
    let (plan_tx, plan_rx) = mpsc::channel(PLAN_QUEUE);
    let plan_config = config.plan.clone();
    let planner = std::thread::Builder::new()
        .name("reel-replay-plan".into())
        .spawn(move || {
            // Batches: one wakeup of the scheduler per PLAN_BATCH requests, not per request.
            let mut batch = Vec::with_capacity(PLAN_BATCH);
            let stats = plan(&plan_config, |p| {
                batch.push(p);
                batch.len() < PLAN_BATCH
                    || plan_tx
                        .blocking_send(std::mem::replace(
                            &mut batch,
                            Vec::with_capacity(PLAN_BATCH),
                        ))
                        .is_ok()
            });
            if !batch.is_empty() {
                let _ = plan_tx.blocking_send(batch);
            }
            stats
        })
        .map_err(ReplayError::Runtime)?;

    // Scheduler: on a thread of its own with its precise clock when it paces; inside the I/O
    // runtime with --rate max (nothing to wait for, and jobs reach workers without a thread hop).
    let handle = runtime.handle().clone();
    let rules = config.rules;
    let pacing = config.pacing;
    let concurrency = config.concurrency.max(1);
    let max_connections = config.max_connections.max(1);
    // Pool connections open lazily, as their first request comes: two requests open two
    // connections, not --concurrency of them (nor as many TLS handshakes).
    let baseline = config.plan.targets.baseline;
    // One dispatcher type for every mode; `--rate max` always uses the pool.
    let mode = if pacing == Pacing::Max {
        ConnMode::Pool
    } else {
        config.mode
    };
    let lanes = |preconnect: Option<usize>| match mode {
        ConnMode::Mirror => {
            Lanes::Mirror(Mirror::new(handle.clone(), ctx.clone(), max_connections))
        }
        ConnMode::Pool => Lanes::Pool(pool(&handle, &ctx, concurrency, preconnect)),
    };
    let dispatch = Twin::new(lanes(None), baseline.map(|b| (lanes(None), b)));
    drop(ctx);
    let inputs = PaceInputs {
        start,
        pacing,
        rules,
        stop: stop.clone(),
        plan: plan_rx,
        dispatch,
    };
    let pacer = if pacing == Pacing::Max {
        PacerHandle::Task(runtime.spawn(inputs.run(TokioClock)))
    } else {
        let thread = std::thread::Builder::new()
            .name("reel-replay-pace".into())
            .spawn(move || -> Result<u64, std::io::Error> {
                tighten_timer_slack();
                let local = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()?;
                Ok(local.block_on(inputs.run(PreciseClock)))
            })
            .map_err(ReplayError::Runtime)?;
        PacerHandle::Thread(thread)
    };

    show_progress(&config, &live, &|| {
        pacer.is_finished() && sink.is_finished()
    });
    let released = match pacer {
        PacerHandle::Task(task) => runtime
            .block_on(task)
            .map_err(|_| ReplayError::Panicked("scheduler"))?,
        PacerHandle::Thread(thread) => thread
            .join()
            .map_err(|_| ReplayError::Panicked("scheduler"))?
            .map_err(ReplayError::Runtime)?,
    };
    finish(
        config,
        runtime,
        run_start,
        live,
        planner,
        sink,
        released,
        shard,
        &targets,
        &interrupted,
    )
}

/// Where released jobs go, whatever the connection mode: one type, so one pacer serves all.
enum Lanes {
    Mirror(Mirror),
    Pool(Pool),
}

impl Dispatch for Lanes {
    async fn dispatch(&mut self, job: Job) -> bool {
        match self {
            Lanes::Mirror(m) => m.dispatch(job).await,
            Lanes::Pool(p) => p.dispatch(job).await,
        }
    }
}

/// Everything the pacer takes, so that the one [`pace`] call runs on whichever clock fits.
struct PaceInputs {
    start: Option<Instant>,
    pacing: Pacing,
    rules: PaceRules,
    stop: Arc<AtomicBool>,
    plan: mpsc::Receiver<Vec<super::plan::Planned>>,
    dispatch: Twin<Lanes>,
}

impl PaceInputs {
    /// Paces every planned request out to the dispatcher; returns how many were released.
    async fn run<C: Clock>(mut self, clock: C) -> u64 {
        pace(
            &clock,
            self.start,
            self.pacing,
            self.rules,
            &self.stop,
            &mut self.plan,
            &mut self.dispatch,
        )
        .await
    }
}

/// The pacer's task (`--rate max`: inside the I/O runtime) or thread (a precise clock).
enum PacerHandle {
    Task(tokio::task::JoinHandle<u64>),
    Thread(std::thread::JoinHandle<Result<u64, std::io::Error>>),
}

impl PacerHandle {
    fn is_finished(&self) -> bool {
        match self {
            PacerHandle::Task(t) => t.is_finished(),
            PacerHandle::Thread(t) => t.is_finished(),
        }
    }
}

/// Listens for SIGINT and SIGTERM on the run's runtime (registered now, before anything is sent):
/// the first sets `stop` and keeps its number in `interrupted`; a second exits at once with
/// 128 + its number (the results log left as `NAME.part`, readable).
fn watch_signals(
    runtime: &tokio::runtime::Runtime,
    stop: &Arc<AtomicBool>,
    interrupted: &Arc<AtomicI32>,
) -> Result<(), ReplayError> {
    use tokio::signal::unix::{SignalKind, signal};
    let _entered = runtime.enter();
    let mut int = signal(SignalKind::interrupt()).map_err(ReplayError::Runtime)?;
    let mut term = signal(SignalKind::terminate()).map_err(ReplayError::Runtime)?;
    let stop = stop.clone();
    let interrupted = interrupted.clone();
    runtime.spawn(async move {
        loop {
            let signal = tokio::select! {
                Some(()) = int.recv() => signal_hook::consts::SIGINT,
                Some(()) = term.recv() => signal_hook::consts::SIGTERM,
                else => return,
            };
            let name = crate::runtime::signals::signal_name(signal);
            if interrupted
                .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                crate::logline::error(&format!(
                    "reel replay: second signal ({name}): exiting now (a results log stays .part)"
                ));
                std::process::exit(128 + signal);
            }
            stop.store(true, Ordering::SeqCst);
            crate::logline::info(&format!(
                "reel replay: {name}: stopping; the requests in flight finish (up to --timeout), \
                 a second signal quits at once"
            ));
        }
    });
    Ok(())
}

/// `concurrency` connection tasks sharing one queue; with `preconnect` they connect to that
/// target at once, else each when its first request comes.
fn pool(
    handle: &Handle,
    ctx: &Arc<ConnCtx>,
    concurrency: usize,
    preconnect: Option<usize>,
) -> Pool {
    let (tx, rx) = mpsc::channel(concurrency);
    let rx = Arc::new(Mutex::new(rx));
    for _ in 0..concurrency {
        handle.spawn(run_connection(
            ctx.clone(),
            JobSource::Shared(rx.clone()),
            preconnect,
        ));
    }
    Pool(tx)
}

/// What the sink keeps: each target set's figures, and the comparison.
struct Sides {
    candidate: Stats,
    baseline: Option<Stats>,
    comparison: Option<crate::compare::Accumulator>,
}

type SinkOut = (
    Sides,
    Option<crate::log::Writer>,
    Option<crate::log::LogError>,
);

/// Waits for the planner and the sink, closes the results log, builds the summary.
#[allow(clippy::too_many_arguments)]
fn finish(
    config: ReplayConfig,
    runtime: tokio::runtime::Runtime,
    run_start: std::time::Instant,
    live: Arc<Live>,
    planner: std::thread::JoinHandle<Result<PlanStats, crate::log::LogError>>,
    sink: std::thread::JoinHandle<SinkOut>,
    released: u64,
    shard: (u32, u32),
    targets: &[super::target::Target],
    interrupted: &AtomicI32,
) -> Result<ReplaySummary, ReplayError> {
    let plan_stats: PlanStats = planner
        .join()
        .map_err(|_| ReplayError::Panicked("planner"))??;
    let (sides, writer, failure) = sink.join().map_err(|_| ReplayError::Panicked("sink"))?;
    runtime.shutdown_timeout(Duration::from_millis(100));
    if let Some(e) = failure {
        return Err(e.into());
    }
    let duration = run_start.elapsed();
    let summary = ReplaySummary {
        released,
        plan: plan_stats,
        duration,
        connections: live.connects.load(Ordering::Relaxed),
        shard,
        targets: targets.iter().map(|t| t.url.clone()).collect(),
        results: config.results.as_ref().map(|p| p.display().to_string()),
        stats: sides.candidate,
        baseline: sides.baseline,
        comparison: sides.comparison,
        interrupted: match interrupted.load(Ordering::SeqCst) {
            0 => None,
            n => Some(n),
        },
    };
    if let Some(w) = writer {
        let s = &summary.stats;
        let mut values: Vec<(String, u64)> = vec![
            ("sent".into(), s.sent),
            ("completed".into(), s.completed),
            ("errors".into(), s.error_total()),
            ("skipped".into(), summary.plan.skipped.total()),
            ("warmup".into(), s.warmup),
        ];
        if let Some(b) = &summary.baseline {
            values.extend([
                ("baseline.sent".into(), b.sent),
                ("baseline.completed".into(), b.completed),
                ("baseline.errors".into(), b.error_total()),
            ]);
        }
        w.finish(Counters {
            end_ns: Epoch::now().ns(Instant::now()),
            values,
        })?;
    }
    Ok(summary)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// Shows progress until the scheduler and the sink are done.
fn show_progress(config: &ReplayConfig, live: &Live, done: &dyn Fn() -> bool) {
    let started = std::time::Instant::now();
    let bar = (config.progress == Progress::Bar).then(|| {
        // Known ends: --limit (by requests) or --duration (by seconds); else a spinner.
        let (bar, template) = match (config.rules.limit, config.rules.duration) {
            (Some(n), _) => (
                indicatif::ProgressBar::new(n),
                "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} ETA {eta} {msg}",
            ),
            (None, Some(d)) => (
                indicatif::ProgressBar::new(d.as_secs().max(1)),
                "{spinner} {elapsed_precise} [{bar:30}] ETA {eta} {msg}",
            ),
            (None, None) => (
                indicatif::ProgressBar::new_spinner(),
                "{spinner} {elapsed_precise} {msg}",
            ),
        };
        if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        bar
    });
    // With a baseline every request is sent twice: counts and rate are of both target sets, the
    // bar's position of requests.
    let (sides, both) = match config.plan.targets.baseline {
        Some(_) => (2, " for both targets"),
        None => (1, ""),
    };
    let mut last_line = std::time::Instant::now();
    let mut last_sent = 0u64;
    let mut last_at = std::time::Instant::now();
    while !done() {
        std::thread::sleep(Duration::from_millis(100));
        let sent = live.sent.load(Ordering::Relaxed);
        let ok = live.ok.load(Ordering::Relaxed);
        let errors = live.errors.load(Ordering::Relaxed);
        let now = std::time::Instant::now();
        match (&bar, config.progress) {
            (Some(bar), _) => {
                let rate = (sent - last_sent) as f64 / (now - last_at).as_secs_f64().max(1e-3);
                if now - last_at >= Duration::from_secs(1) {
                    last_sent = sent;
                    last_at = now;
                }
                bar.set_position(match config.rules.limit {
                    Some(_) => sent / sides,
                    None => (now - started).as_secs(),
                });
                let lag = live.lag_max_us.swap(0, Ordering::Relaxed) as f64 / 1000.0;
                bar.set_message(format!(
                    "sent {sent}  ok {ok}  errors {errors}  {rate:.0} req/s{both}  lag max {lag:.2} ms"
                ));
            }
            (None, Progress::Lines) if now - last_line >= Duration::from_secs(5) => {
                let rate = (sent - last_sent) as f64 / (now - last_line).as_secs_f64();
                let lag = live.lag_max_us.swap(0, Ordering::Relaxed) as f64 / 1000.0;
                crate::logline::info(&format!(
                    "replay: {:.0}s sent {sent} ok {ok} errors {errors} ({rate:.0} req/s{both}, lag max {lag:.2} ms)",
                    (now - started).as_secs_f64()
                ));
                last_sent = sent;
                last_line = now;
            }
            _ => {}
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}
