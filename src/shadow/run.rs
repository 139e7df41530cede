//! The shadow pipeline as a library object: the live capture (`record::live`: capture threads →
//! frame queue → extraction thread, with selection and redaction) → the [`Dispatcher`] as its
//! sink (each request to a staging connection the moment it is framed, never waiting) → replay's
//! client on a tokio runtime → the result sink thread (joins staging's answers with production's
//! responses, keeps the statistics, the window, the comparison, `--results`). The calling thread
//! watches signals, `--duration` and the stats lines.
//!
//! [`Shadow::prepare`] resolves the targets, refuses this host on a captured port, and builds
//! the capture filter that leaves reel's own connections to staging out; [`Shadow::run`] runs
//! until a stop and returns the [`ShadowOutcome`].

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::ShadowError;
use super::dispatch::{Dispatcher, DropReason, Figures, Limits};
use super::filter::{check_not_production, exclude_targets};
use super::report::{Report, drops_text};
use super::sink::{self, SinkConfig, SinkShared, StagingFigures, Window, WindowGauges};
use crate::compare::{Comparison, Gate};
use crate::ends::Sink;
use crate::exchange::{Counters, Meta, Record};
use crate::metrics::{Metric, Show, StatsLine};
use crate::record::live::{
    EndCause, InterfaceTotals, LiveOptions, LiveStart, extract_live, live_filter,
};
use crate::record::{CaptureConfig, Recorder};
use crate::replay::client::{ConnCtx, Epoch, Live};
use crate::replay::{PlanConfig, target};
use crate::runtime::{host_name, new_run_id, now_ns, watch};

/// Bytes of each staging answer's body kept in results (after the whole head).
const KEEP_BODY: usize = 1024;
/// Staging outcomes queued for the sink.
const RESULTS_QUEUE: usize = 4096;
/// Production responses queued for the sink.
const EVENTS_QUEUE: usize = 1 << 16;
/// The window the sink rotates by itself when no stats line does.
const METRICS_WINDOW: Duration = Duration::from_secs(10);

/// A shadow run, validated (the flags of `reel shadow`, as the stages take them).
pub struct ShadowConfig {
    /// Targets (not yet resolved), rewrites; its filter is empty (the capture selects).
    pub plan: PlanConfig,
    /// What is held for staging at most, and `--multiply`.
    pub limits: Limits,
    /// What the capture keeps: extraction's limits, selection, `--limit`, redaction.
    pub capture: CaptureConfig,
    /// The live capture; its BPF filter is set by [`Shadow::prepare`].
    pub live: LiveOptions,
    /// `--port`: production's server ports.
    pub ports: Vec<u16>,
    /// `--filter`: more BPF from the user.
    pub filter: Option<String>,
    /// `--allow-production-target`.
    pub allow_production_target: bool,
    /// `--insecure`.
    pub insecure: bool,
    /// `--ca-file`.
    pub ca_file: Option<PathBuf>,
    /// `--connect-timeout`.
    pub connect_timeout: Duration,
    /// `--timeout`, also the grace given at the end to what is in flight.
    pub timeout: Duration,
    /// `--io-threads`.
    pub io_threads: usize,
    /// `--duration`.
    pub duration: Option<Duration>,
    /// `--stats-interval` (0: none).
    pub stats_interval: Duration,
    /// `--results`.
    pub results: Option<PathBuf>,
    /// The comparison kept for gates, the report or `--compare`.
    pub compare: Option<crate::compare::Config>,
    /// `--fail-if`, parsed, with the implicit `--max-error-rate` gate last when there is one.
    pub gates: Vec<Gate>,
    /// How gates are judged: confidence, `--allow-insufficient`, `--min-samples`.
    pub judging: crate::compare::Judging,
}

/// A shadow run ready to start: targets resolved, the capture filter built, TLS configured.
pub struct Shadow {
    config: ShadowConfig,
    tls: Option<Arc<rustls::ClientConfig>>,
}

/// What a finished shadow run returns.
pub struct ShadowOutcome {
    /// Its figures.
    pub report: Report,
    /// The comparison, judged against the gates, when one was kept.
    pub comparison: Option<Comparison>,
    /// The implicit `--max-error-rate` gate judged on the run's own counts, when no comparison
    /// was kept and requests were tried (a daemon stopped before any traffic has none).
    pub implicit: Option<crate::compare::GateResult>,
    /// A target set that answered nothing: the run tested nothing (exit 3).
    pub no_response: Option<crate::replay::ReplayError>,
    /// A gate scope that named no endpoint (exit 2).
    pub unknown_scope: Option<crate::compare::UnknownScope>,
    /// The signal that stopped the run before the `--duration` it was given (a signal is a
    /// daemon's normal stop otherwise, and this is `None`).
    pub cut_short: Option<i32>,
}

impl Shadow {
    /// Resolves the targets, refuses one that is this host on a captured port (unless
    /// allowed), builds the capture filter leaving out reel's own connections to every target,
    /// and the TLS configuration when a target is https.
    pub fn prepare(mut config: ShadowConfig) -> Result<Shadow, ShadowError> {
        for t in &mut config.plan.targets.list {
            t.resolve()?;
        }
        let addrs: Vec<(String, std::net::SocketAddr)> = config
            .plan
            .targets
            .list
            .iter()
            .flat_map(|t| t.addrs.iter().map(|a| (t.url.clone(), *a)))
            .collect();
        if !config.allow_production_target {
            check_not_production(&addrs, &config.ports)?;
        }
        let endpoints: Vec<_> = addrs.iter().map(|(_, a)| *a).collect();
        let bpf = exclude_targets(
            &live_filter(&config.ports, config.filter.as_deref()),
            &endpoints,
        );
        config.live.capture.filter = Some(bpf);
        let tls = if config.plan.targets.list.iter().any(|t| t.tls) {
            Some(Arc::new(target::tls_config(
                config.insecure,
                config.ca_file.as_deref(),
            )?))
        } else {
            None
        };
        Ok(Shadow { config, tls })
    }

    /// The capture's BPF filter.
    pub fn bpf(&self) -> &str {
        self.config
            .live
            .capture
            .filter
            .as_deref()
            .unwrap_or_default()
    }

    /// The run's configuration, as prepared.
    pub fn config(&self) -> &ShadowConfig {
        &self.config
    }

    /// Opens `--results` and writes its metadata record.
    fn open_results(&self, path: &std::path::Path) -> Result<crate::log::Writer, ShadowError> {
        let c = &self.config;
        let mut w = crate::log::create(path, crate::log::CreateOptions::default())?;
        let mut notes = c.capture.notes.clone();
        notes.push(format!(
            "shadow of {} to {}{}",
            c.live.capture.interfaces.join(", "),
            c.plan
                .targets
                .list
                .iter()
                .map(|t| t.url.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if c.limits.multiply > 1 {
                format!(", each request sent {} times", c.limits.multiply)
            } else {
                String::new()
            }
        ));
        w.write(&Record::Meta(Meta {
            host: host_name(),
            sources: c.live.capture.interfaces.clone(),
            filter: self.bpf().to_string(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            start_ns: now_ns(),
            redaction_key_id: c.capture.redaction_key_id(),
            command: "shadow".into(),
            notes,
            run_id: new_run_id(),
        }))?;
        Ok(w)
    }

    /// Runs until a signal, `--duration`, `--limit` or the end of the capture; then gives what
    /// is queued or in flight `--timeout` to finish, closes `--results` and judges the gates.
    pub fn run(mut self) -> Result<ShadowOutcome, ShadowError> {
        let started = Instant::now();
        let LiveStart {
            capture,
            stop,
            registry,
            figures: capture_figures,
            interfaces,
            ready,
            server,
        } = LiveStart::open(&self.config.live)?;
        // Files are created after privileges are dropped.
        let results = self
            .config
            .results
            .as_deref()
            .map(|p| self.open_results(p))
            .transpose()?;
        let capture_config = std::mem::take(&mut self.config.capture);
        let c = &self.config;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(c.io_threads)
            .thread_name("reel-shadow-io")
            .enable_all()
            .build()
            .map_err(ShadowError::Start)?;
        let (results_tx, results_rx) = tokio::sync::mpsc::channel(RESULTS_QUEUE);
        let (events_tx, events_rx) = std::sync::mpsc::sync_channel(EVENTS_QUEUE);
        let live = Arc::new(Live::default());
        let ctx = Arc::new(ConnCtx {
            targets: Arc::new(c.plan.targets.list.clone()),
            tls: self.tls.clone().map(tokio_rustls::TlsConnector::from),
            connect_timeout: c.connect_timeout,
            timeout: c.timeout,
            results: results_tx,
            live: live.clone(),
            keep_body: (c.results.is_some() || c.compare.is_some()).then_some(KEEP_BODY),
            epoch: Epoch::now(),
            shard: (0, 1),
        });
        let figures = Figures::registered(&registry);
        let staging = StagingFigures::registered(&registry);
        let gauges = WindowGauges::registered(&registry);
        let window = Arc::new(Mutex::new(Window::default()));
        let result_sink = sink::spawn(
            SinkConfig {
                timeout: c.timeout,
                join_window: 2 * c.timeout + c.connect_timeout,
                with_baseline: c.plan.targets.baseline.is_some(),
                comparison: c.compare.clone().map(crate::compare::Accumulator::new),
                results,
                rotate_every: c.stats_interval.is_zero().then_some(METRICS_WINDOW),
            },
            SinkShared {
                window: window.clone(),
                gauges: gauges.clone(),
                figures: figures.clone(),
                live: live.clone(),
                staging: staging.clone(),
            },
            results_rx,
            events_rx,
        )
        .map_err(ShadowError::Start)?;
        let dispatcher = Dispatcher::new(
            c.plan.clone(),
            c.limits,
            runtime.handle().clone(),
            ctx,
            events_tx,
            figures.clone(),
        );
        let pending = dispatcher.pending();

        let mut source = capture.start(interfaces.iter().map(|(_, c)| c.clone()).collect())?;
        let stopper = source.stopper();
        let mut recorder = Recorder::new(capture_config, dispatcher, capture_figures.clone());
        let cause = Arc::new(EndCause::default());
        let thread_cause = cause.clone();
        let extraction_thread = std::thread::Builder::new()
            .name("reel-extract".into())
            .spawn(move || {
                let captured = extract_live(&mut source, &mut recorder, &thread_cause);
                let _ = recorder.sink_mut().finish(Counters::default());
                (recorder, captured)
            })
            .map_err(ShadowError::Start)?;
        ready.set();
        tracing::info!(
            "shadowing {} to {}",
            c.live.capture.interfaces.join(", "),
            c.plan
                .targets
                .list
                .iter()
                .map(|t| t.url.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );

        let totals = InterfaceTotals::new(&interfaces);
        let pending_now = Metric::new();
        let mut line = StatsLine::new(vec![
            ("packets", totals.packets.clone(), Show::Rate),
            ("kernel drops", totals.kernel_drops.clone(), Show::Value),
            ("queue drops", totals.queue_drops.clone(), Show::Value),
            ("requests", figures.requests.clone(), Show::Rate),
            ("shadowed", staging.sent.clone(), Show::Rate),
            ("errors", staging.errors.clone(), Show::Value),
            ("pending", pending_now.clone(), Show::Value),
            (
                "TLS connections",
                capture_figures.tls_connections.clone(),
                Show::Value,
            ),
        ]);
        let stop_reason = watch::watch(
            &stop,
            started,
            c.duration,
            c.stats_interval,
            || {
                if extraction_thread.is_finished() {
                    Some(if cause.limit() {
                        "--limit"
                    } else {
                        "the capture ended"
                    })
                } else if result_sink.is_finished() {
                    Some("the sink ended")
                } else {
                    None
                }
            },
            || {
                totals.update(&interfaces);
                pending_now.set(pending.count() as u64);
                let w = sink::rotate(&window, &gauges);
                format!(
                    "{}, dropped {}; {}",
                    line.line(),
                    drops_text(&figures),
                    w.line()
                )
            },
        );
        tracing::info!("stopping ({}): draining the capture", stop_reason.as_str());
        let cut_short = stop
            .signal()
            .filter(|_| stop_reason == watch::StopReason::Signal && c.duration.is_some());
        stopper.stop();
        let (recorder, captured) = extraction_thread
            .join()
            .map_err(|_| ShadowError::Panicked("extraction"))?;
        // What is queued or in flight gets --timeout to finish.
        let grace_end = Instant::now() + c.timeout;
        while pending.count() > 0 && Instant::now() < grace_end {
            std::thread::sleep(Duration::from_millis(10));
        }
        runtime.shutdown_timeout(Duration::from_millis(100));
        let mut outcome = result_sink
            .join()
            .map_err(|_| ShadowError::Panicked("sink"))?;
        drop(server);
        captured?;
        let stopped = figures.dispatched.get().saturating_sub(outcome.outcomes);
        figures.dropped(DropReason::Stopped).add(stopped);
        totals.update(&interfaces);
        if let Some(e) = outcome.failure.take() {
            return Err(e.into());
        }
        let report = Report::new(c, &recorder, &outcome, &figures, &totals, started);
        if let Some(w) = outcome.results.take() {
            w.finish(Counters {
                end_ns: now_ns(),
                values: report.counters(),
            })?;
        }
        let (user_gates, implicit): (Vec<_>, Vec<_>) =
            c.gates.iter().cloned().partition(|g| !g.implicit);
        let mut unknown_scope = None;
        let comparison = outcome.comparison.take().map(|acc| {
            unknown_scope = acc.check_scopes(&user_gates).err();
            acc.finish(&c.gates, &c.judging)
        });
        // Without a comparison the implicit gate reads the run's own counts; a daemon stopped
        // before any traffic came has none, and stops as it always did (exit 0).
        let tried = report.stats().attempted() > 0;
        let implicit = implicit
            .first()
            .filter(|_| comparison.is_none() && tried)
            .map(|g| {
                g.evaluate_counts(
                    report.stats().error_total(),
                    report.stats().attempted(),
                    &c.judging,
                )
            });
        let no_response = report.no_response();
        let mut comparison = comparison;
        if let (Some(c), Some(signal)) = (comparison.as_mut(), cut_short) {
            c.cut_short(format!(
                "INTERRUPTED by {} before --duration was reached",
                crate::runtime::signals::signal_name(signal)
            ));
        }
        Ok(ShadowOutcome {
            report,
            comparison,
            implicit,
            no_response,
            unknown_scope,
            cut_short,
        })
    }
}
