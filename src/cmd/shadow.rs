//! `reel shadow`: production traffic captured live and sent to staging as it happens.
//!
//! Threads (see docs/ARCHITECTURE.md, "Shadow"): `record --interface`'s capture threads, frame
//! queue and extraction thread, whose output is the [`Dispatcher`] — it hands each request to a
//! staging connection the moment it is framed, never waiting; the connection tasks run on a
//! tokio runtime (`--io-threads`); the sink thread joins staging's answers with production's
//! responses; the main thread watches signals and `--duration` and prints the stats lines; a
//! metrics thread serves `--metrics-addr`.
// The flags' doc comments are clap's help text, shown verbatim: `[:PORT]` and URLs are not links.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::bare_urls)]

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cli::shadow::Args;
use crate::exit::Context;

use crate::capture::live::LiveError;
use crate::cmd::record::{
    Capture, CaptureFlags, InterfaceTotals, LiveStart, Output, Recorder, extract_live, host_name,
    human_bytes, live_filter, new_run_id, now_ns, watch,
};
use crate::compare::endpoint::Templater;
use crate::compare::{TextOptions, Thresholds, parse_gates};
use crate::exchange::{Counters, Meta, Record};
use crate::exit::{Status, usage};
use crate::filter::Filter;
use crate::metrics::{Metric, Show, StatsLine};
use crate::replay::client::{ConnCtx, Epoch, Live};
use crate::replay::stats::{Stats, errors_json, status_json};
use crate::replay::{PlanConfig, Rewrites, Shard, Targets, target};
use crate::shadow::ShadowError;
use crate::shadow::dispatch::{Dispatcher, DropReason, Figures, Limits};
use crate::shadow::filter::{check_not_production, exclude_targets};
use crate::shadow::sink::{
    self, SinkConfig, SinkOutcome, SinkShared, StagingFigures, Window, WindowGauges,
};

/// Bytes of each staging answer's body kept in results (after the whole head).
const KEEP_BODY: usize = 1024;
/// Staging outcomes queued for the sink.
const RESULTS_QUEUE: usize = 4096;
/// Production responses queued for the sink.
const EVENTS_QUEUE: usize = 1 << 16;
/// The window the sink rotates by itself when no stats line does.
const METRICS_WINDOW: Duration = Duration::from_secs(10);

/// The flags, validated.
struct Setup {
    plan: PlanConfig,
    limits: Limits,
    capture: Capture,
    bpf: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    compare: Option<crate::compare::Config>,
}

/// Validates the flags (errors name the flag, exit 2) and resolves the targets.
fn setup(args: &Args) -> crate::exit::Result<Setup> {
    let mut targets = Targets::new(args.targets.target.as_deref(), &args.targets.target_map)
        .map_err(|(flag, problem)| usage(flag, problem))?;
    if let Some(url) = &args.targets.baseline_target {
        targets
            .set_baseline(url)
            .map_err(|(flag, problem)| usage(flag, problem))?;
    }
    if let Some(report) = &args.judge.report {
        crate::cmd::replay::check_report_path(report)?;
    }
    for (flag, n) in [
        ("--multiply", args.multiply as usize),
        ("--max-connections", args.max_connections),
        ("--max-inflight", args.max_inflight),
        ("--max-pending", args.max_pending),
        ("--io-threads", args.io_threads),
    ] {
        if n == 0 {
            return Err(usage(flag, "must be at least 1"));
        }
    }
    if args.multiply > 1000 {
        return Err(usage("--multiply", "at most 1000"));
    }
    if args.limit == Some(0) {
        return Err(usage("--limit", "must be at least 1"));
    }
    for (flag, d) in [
        ("--timeout", args.timeout),
        ("--connect-timeout", args.connect_timeout),
    ] {
        if d.is_zero() {
            return Err(usage(flag, "must be more than 0"));
        }
    }
    if args.targets.ca_file.is_some() && args.targets.insecure {
        return Err(usage("--ca-file", "has no use with --insecure"));
    }
    let rewrites = Rewrites::new(
        args.targets.rewrite_host,
        &args.targets.set_header,
        &args.targets.remove_header,
        &args.targets.rewrite_url,
    )?;
    let capture = Capture::new(
        &CaptureFlags {
            ports: &args.ports,
            buffers: &args.buffers,
            sample: args.sample,
            select: &args.select,
            redact: &args.redact,
        },
        true,
    )?;
    for t in &mut targets.list {
        t.resolve()?;
    }
    let addrs: Vec<(String, std::net::SocketAddr)> = targets
        .list
        .iter()
        .flat_map(|t| t.addrs.iter().map(|a| (t.url.clone(), *a)))
        .collect();
    if !args.allow_production_target {
        check_not_production(&addrs, &args.ports)?;
    }
    let endpoints: Vec<_> = addrs.iter().map(|(_, a)| *a).collect();
    let bpf = exclude_targets(
        &live_filter(&args.ports, args.filter.as_deref()),
        &endpoints,
    );
    let tls = if targets.list.iter().any(|t| t.tls) {
        Some(Arc::new(target::tls_config(
            args.targets.insecure,
            args.targets.ca_file.as_deref(),
        )?))
    } else {
        None
    };
    let compare = args.compares().then(|| crate::compare::Config {
        templater: Templater::new(args.judge.endpoint_rules.clone()),
        thresholds: Thresholds {
            min_samples: args.judge.min_samples,
            ..Thresholds::default()
        },
        timeout_ns: Some(u64::try_from(args.timeout.as_nanos()).unwrap_or(u64::MAX)),
        expect_baseline: args.targets.baseline_target.is_some(),
        ..crate::compare::Config::default()
    });
    Ok(Setup {
        plan: PlanConfig {
            inputs: Vec::new(),
            // The capture selected already (its filter counts what it left out).
            filter: Filter::default(),
            rewrites,
            targets,
            shard: Shard::default(),
            looping: false,
            max_planned: None,
            max_log_offset_ns: None,
        },
        limits: Limits {
            multiply: args.multiply,
            max_pending: args.max_pending,
            pending_memory: usize::try_from(args.pending_memory).unwrap_or(usize::MAX),
            max_inflight: args.max_inflight,
            max_connections: args.max_connections,
        },
        capture,
        bpf,
        tls,
        compare,
    })
}

/// Shadow's output of the capture: requests and production's responses to the dispatcher.
struct ShadowOut(Dispatcher);

impl Output for ShadowOut {
    fn record(&mut self, record: Record) {
        match record {
            Record::Request(m) => self.0.request(m),
            Record::Response(r) => self.0.response(&r),
            _ => {}
        }
    }

    fn flush(&mut self) {
        self.0.sweep();
    }
}

/// Opens `--results` and writes its metadata record.
fn open_results(
    path: &std::path::Path,
    args: &Args,
    setup: &Setup,
) -> crate::exit::Result<crate::log::Writer> {
    let mut w = crate::log::create(path, crate::log::CreateOptions::default())?;
    let mut notes = setup.capture.notes.clone();
    notes.push(format!(
        "shadow of {} to {}{}",
        args.interfaces.join(", "),
        setup
            .plan
            .targets
            .list
            .iter()
            .map(|t| t.url.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        if args.multiply > 1 {
            format!(", each request sent {} times", args.multiply)
        } else {
            String::new()
        }
    ));
    w.write(&Record::Meta(Meta {
        host: host_name(),
        sources: args.interfaces.clone(),
        filter: setup.bpf.clone(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        start_ns: now_ns(),
        redaction_key_id: setup.capture.redaction_key_id(),
        command: "shadow".into(),
        notes,
        run_id: new_run_id(),
    }))?;
    Ok(w)
}

/// Runs `reel shadow`.
pub fn run(args: Args) -> crate::exit::Result<Status> {
    let started = Instant::now();
    let mut gates = parse_gates(&args.judge.fail_if)?;
    let (_, implicit) = crate::cmd::judging(&args.judge.verdicts, args.judge.min_samples)?;
    gates.extend(implicit);
    let setup = setup(&args)?;
    let LiveStart {
        capture,
        term,
        registry,
        figures: capture_figures,
        interfaces,
        ready,
        server,
    } = LiveStart::open(
        &args.interfaces,
        &args.live,
        &setup.bpf,
        "reel shadow: second signal, exiting now (shadow requests in flight are abandoned)",
    )?;
    // Files are created after privileges are dropped.
    let results = args
        .results
        .as_deref()
        .map(|p| open_results(p, &args, &setup))
        .transpose()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.io_threads)
        .thread_name("reel-shadow-io")
        .enable_all()
        .build()
        .map_err(ShadowError::Start)?;
    let (results_tx, results_rx) = tokio::sync::mpsc::channel(RESULTS_QUEUE);
    let (events_tx, events_rx) = std::sync::mpsc::sync_channel(EVENTS_QUEUE);
    let live = Arc::new(Live::default());
    let ctx = Arc::new(ConnCtx {
        targets: Arc::new(setup.plan.targets.list.clone()),
        tls: setup.tls.clone().map(tokio_rustls::TlsConnector::from),
        connect_timeout: args.connect_timeout,
        timeout: args.timeout,
        results: results_tx,
        live: live.clone(),
        keep_body: (args.results.is_some() || setup.compare.is_some()).then_some(KEEP_BODY),
        epoch: Epoch::now(),
        shard: (0, 1),
    });
    let figures = Figures::registered(&registry);
    let staging = StagingFigures::registered(&registry);
    let gauges = WindowGauges::registered(&registry);
    let window = Arc::new(Mutex::new(Window::default()));
    let sink = sink::spawn(
        SinkConfig {
            timeout: args.timeout,
            join_window: 2 * args.timeout + args.connect_timeout,
            with_baseline: setup.plan.targets.baseline.is_some(),
            comparison: setup.compare.clone().map(crate::compare::Accumulator::new),
            results,
            rotate_every: args.stats_interval.is_zero().then_some(METRICS_WINDOW),
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
        setup.plan.clone(),
        setup.limits,
        runtime.handle().clone(),
        ctx,
        events_tx,
        figures.clone(),
    );
    let pending = dispatcher.pending();

    let mut source = capture.start(interfaces.iter().map(|(_, c)| c.clone()).collect())?;
    let stopper = source.stopper();
    let mut recorder = Recorder::new(
        setup.capture,
        args.limit,
        ShadowOut(dispatcher),
        capture_figures.clone(),
    );
    let limit_hit = Arc::new(AtomicBool::new(false));
    let limit_flag = limit_hit.clone();
    let extraction_thread = std::thread::Builder::new()
        .name("reel-extract".into())
        .spawn(move || -> (Recorder<ShadowOut>, Result<(), LiveError>) {
            let captured = extract_live(&mut source, &mut recorder, &limit_flag);
            recorder.out.0.close();
            (recorder, captured)
        })
        .context("cannot start the extraction thread")?;
    ready.set();
    tracing::info!(
        "shadowing {} to {}",
        args.interfaces.join(", "),
        setup
            .plan
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
    let stop_reason = watch(
        &term,
        started,
        args.duration,
        args.stats_interval,
        || {
            if extraction_thread.is_finished() {
                Some(if limit_hit.load(Ordering::Relaxed) {
                    "--limit"
                } else {
                    "the capture ended"
                })
            } else if sink.is_finished() {
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
    tracing::info!("stopping ({stop_reason}): draining the capture");
    stopper.stop();
    let (recorder, captured) = extraction_thread
        .join()
        .map_err(|_| ShadowError::Panicked("extraction"))?;
    // What is queued or in flight gets --timeout to finish.
    let grace_end = Instant::now() + args.timeout;
    while pending.count() > 0 && Instant::now() < grace_end {
        std::thread::sleep(Duration::from_millis(10));
    }
    runtime.shutdown_timeout(Duration::from_millis(100));
    let outcome = sink.join().map_err(|_| ShadowError::Panicked("sink"))?;
    drop(server);
    captured?;
    let stopped = figures.dispatched.get().saturating_sub(outcome.outcomes);
    figures.dropped(DropReason::Stopped).add(stopped);
    totals.update(&interfaces);
    finish(
        &args,
        &gates,
        &setup.plan,
        recorder,
        outcome,
        &figures,
        &totals,
        started,
    )
}

/// `queue_full 0, connection_busy 3, …` with the total first.
fn drops_text(figures: &Figures) -> String {
    let parts: Vec<String> = DropReason::ALL
        .iter()
        .map(|r| format!("{} {}", r.as_str(), figures.dropped(*r).get()))
        .collect();
    format!("{} ({})", figures.dropped_total(), parts.join(", "))
}

/// Closes the results log, judges the gates, prints and writes the figures.
#[allow(clippy::too_many_arguments)]
fn finish(
    args: &Args,
    gates: &[crate::compare::Gate],
    plan: &PlanConfig,
    recorder: Recorder<ShadowOut>,
    mut outcome: SinkOutcome,
    figures: &Figures,
    totals: &InterfaceTotals,
    started: Instant,
) -> crate::exit::Result<Status> {
    if let Some(e) = outcome.failure.take() {
        return Err(e.into());
    }
    let report = Report::new(args, plan, &recorder, &outcome, figures, totals, started);
    if let Some(w) = outcome.results.take() {
        w.finish(Counters {
            end_ns: now_ns(),
            values: report.counters(),
        })?;
    }
    let (judging, _) = crate::cmd::judging(&args.judge.verdicts, args.judge.min_samples)?;
    let judging = &judging;
    let (user_gates, implicit): (Vec<_>, Vec<_>) = gates.iter().cloned().partition(|g| !g.implicit);
    let mut unknown_scope = None;
    let comparison = outcome.comparison.take().map(|acc| {
        unknown_scope = acc.check_scopes(&user_gates).err();
        acc.finish(gates, judging)
    });
    // Without a comparison the implicit gate reads the run's own counts; a daemon stopped before
    // any traffic came has none, and stops as it always did (exit 0).
    let tried = report.stats.attempted() > 0;
    let implicit = implicit
        .first()
        .filter(|_| comparison.is_none() && tried)
        .map(|g| {
            g.evaluate_counts(
                report.stats.error_total(),
                report.stats.attempted(),
                judging,
            )
        });
    let no_response = report
        .stats
        .no_response()
        .map(|causes| (report.candidate_targets(), causes))
        .or_else(|| {
            let causes = report.baseline.as_ref()?.no_response()?;
            Some((report.targets.last().cloned().unwrap_or_default(), causes))
        })
        .map(|(targets, causes)| crate::replay::ReplayError::NoResponse { targets, causes });
    let mut human = args.json.human();
    human
        .write_all(report.human().as_bytes())
        .context("stdout")?;
    if let Some(c) = &comparison {
        writeln!(human).context("stdout")?;
        c.write_text(
            &mut human,
            &TextOptions {
                max_endpoints: args.judge.top,
            },
        )
        .context("stdout")?;
        crate::compare::text::warn_insufficient(&c.gates);
    }
    if let Some(g) = &implicit {
        writeln!(human, "gates:\n  {g}").context("stdout")?;
        crate::compare::text::warn_insufficient(std::slice::from_ref(g));
    }
    human.flush().context("stdout")?;
    let mut json = report.json();
    if let Some(out) = json.as_object_mut() {
        out.insert(
            "no_response".into(),
            no_response.as_ref().map(ToString::to_string).into(),
        );
        if let Some(g) = &implicit {
            out.insert("passed".into(), (!g.failed).into());
            out.insert(
                "gates".into(),
                serde_json::to_value([g]).context("--json: encoding")?,
            );
        }
    }
    if let Some(c) = &comparison {
        if let (Some(out), serde_json::Value::Object(keys)) = (
            json.as_object_mut(),
            c.to_json().context("--json: encoding")?,
        ) {
            out.extend(keys);
            out.insert(
                "report".into(),
                args.judge
                    .report
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .into(),
            );
        }
    }
    args.json.emit(&json)?;
    if let (Some(path), Some(c)) = (&args.judge.report, &comparison) {
        crate::compare::write_report(path, c, &report.parameters(args))?;
        writeln!(human, "report: {}", path.display()).context("stdout")?;
        human.flush().context("stdout")?;
    }
    if let Some(e) = no_response {
        return Err(e.into());
    }
    if let Some(e) = unknown_scope {
        return Err(e.into());
    }
    Ok(match &comparison {
        Some(c) if !c.passed => Status::GateFailed,
        _ if implicit.is_some_and(|g| g.failed) => Status::GateFailed,
        _ => Status::Success,
    })
}

/// The figures of a finished run.
struct Report {
    interfaces: Vec<String>,
    targets: Vec<String>,
    results: Option<String>,
    secs: f64,
    capture: Vec<(&'static str, u64)>,
    skipped: crate::replay::plan::Skipped,
    multiply: u32,
    wanted: u64,
    dispatched: u64,
    dropped: Vec<(&'static str, u64)>,
    outcomes: u64,
    joined: u64,
    stats: Stats,
    baseline: Option<Stats>,
}

impl Report {
    /// The candidate targets (the baseline, when there is one, is the last target).
    fn candidate_targets(&self) -> String {
        let n = self.targets.len() - usize::from(self.baseline.is_some());
        self.targets
            .iter()
            .take(n)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn new(
        args: &Args,
        plan: &PlanConfig,
        recorder: &Recorder<ShadowOut>,
        outcome: &SinkOutcome,
        figures: &Figures,
        totals: &InterfaceTotals,
        started: Instant,
    ) -> Report {
        let x = recorder.extraction();
        let (http, tcp) = (x.http_stats(), x.tcp_stats());
        let mut capture = vec![
            ("packets", totals.packets.get()),
            ("bytes", totals.bytes.get()),
            ("kernel_drops", totals.kernel_drops.get()),
            ("interface_drops", totals.interface_drops.get()),
            ("queue_drops", totals.queue_drops.get()),
            ("requests", http.requests),
            ("responses", http.responses),
            ("flows", tcp.flows_opened),
            ("gaps", tcp.gaps),
            ("tls_connections", http.tls_conns),
            ("non_http_flows", http.non_http_conns),
            ("memory_give_ups", tcp.given_up_flows),
            ("evicted_flows", tcp.evicted_flows),
            ("peak_memory_bytes", tcp.peak_buffered_bytes),
            ("selected", recorder.requests_kept()),
        ];
        capture.extend(recorder.selection_counters());
        capture.push(("redacted_values", recorder.redacted_values()));
        capture.push(("production_lost", figures.production_lost.get()));
        Report {
            interfaces: args.interfaces.clone(),
            targets: plan.targets.list.iter().map(|t| t.url.clone()).collect(),
            results: args.results.as_ref().map(|p| p.display().to_string()),
            secs: started.elapsed().as_secs_f64(),
            capture,
            skipped: recorder.out.0.skipped().clone(),
            multiply: args.multiply,
            wanted: figures.wanted.get(),
            dispatched: figures.dispatched.get(),
            dropped: DropReason::ALL
                .iter()
                .map(|r| (r.as_str(), figures.dropped(*r).get()))
                .collect(),
            outcomes: outcome.outcomes,
            joined: outcome.joined,
            stats: outcome.stats.clone(),
            baseline: outcome.baseline.clone(),
        }
    }

    fn get(&self, key: &str) -> u64 {
        self.capture
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(0, |(_, v)| *v)
    }

    fn sent(&self) -> u64 {
        self.stats.sent + self.baseline.as_ref().map_or(0, |b| b.sent)
    }

    fn dropped_total(&self) -> u64 {
        self.dropped.iter().map(|(_, n)| n).sum()
    }

    /// Shadow requests sent, as a percentage of those wanted (100 when none were).
    fn shadowed_pct(&self) -> f64 {
        if self.wanted == 0 {
            100.0
        } else {
            self.sent() as f64 * 100.0 / self.wanted as f64
        }
    }

    /// The closing counters of the results log.
    fn counters(&self) -> Vec<(String, u64)> {
        let mut values: Vec<(String, u64)> = self
            .capture
            .iter()
            .map(|(k, v)| ((*k).to_string(), *v))
            .collect();
        values.extend([
            ("skipped".to_string(), self.skipped.total()),
            ("shadow_requests".to_string(), self.wanted),
            ("dispatched".to_string(), self.dispatched),
            ("sent".to_string(), self.sent()),
            ("completed".to_string(), self.stats.completed),
            ("errors".to_string(), self.stats.error_total()),
            ("joined".to_string(), self.joined),
        ]);
        values.extend(
            self.dropped
                .iter()
                .map(|(k, v)| (format!("dropped.{k}"), *v)),
        );
        values
    }

    fn human(&self) -> String {
        let s = &self.stats;
        let mut out = format!(
            "shadow: captured {} packets ({}) on {} in {:.1} s; drops: {} kernel, {} interface, {} queue\n",
            self.get("packets"),
            human_bytes(self.get("bytes")),
            self.interfaces.join(", "),
            self.secs,
            self.get("kernel_drops"),
            self.get("interface_drops"),
            self.get("queue_drops"),
        );
        out.push_str(&format!(
            "requests: {} captured, {} selected, {} not shadowed (truncated, unparsable or no target); {} TLS connections\n",
            self.get("requests"),
            self.get("selected"),
            self.skipped.total(),
            self.get("tls_connections"),
        ));
        let kinds: Vec<String> = s
            .errors
            .iter()
            .map(|(k, n)| format!("{} {n}", k.as_str()))
            .collect();
        out.push_str(&format!(
            "shadowed {} of {} shadow requests ({:.2}%{}): completed {}, errors {}{}\n",
            self.sent(),
            self.wanted,
            self.shadowed_pct(),
            if self.multiply > 1 {
                format!(", each request x{}", self.multiply)
            } else {
                String::new()
            },
            s.completed,
            s.error_total(),
            if kinds.is_empty() {
                String::new()
            } else {
                format!(" ({})", kinds.join(", "))
            }
        ));
        let parts: Vec<String> = self
            .dropped
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        out.push_str(&format!(
            "dropped {}: {}\n",
            self.dropped_total(),
            parts.join(", ")
        ));
        out.push_str(&format!(
            "  staging latency: {} (from the moment each request was framed)\n",
            s.latency.describe()
        ));
        out.push_str(&format!("  service time:    {}\n", s.service.describe()));
        out.push_str(&format!("  lag:             {}\n", s.lag.describe()));
        if let Some(b) = &self.baseline {
            out.push_str(&format!(
                "  baseline:        {} (sent {}, completed {}, errors {})\n",
                b.latency.describe(),
                b.sent,
                b.completed,
                b.error_total()
            ));
        }
        out.push_str(&format!(
            "  production:      {} ({} of {} answers joined with production's response)\n",
            s.production.describe(),
            self.joined,
            self.outcomes
        ));
        out
    }

    fn json(&self) -> serde_json::Value {
        let s = &self.stats;
        let mut json = serde_json::Map::new();
        json.insert("interfaces".into(), self.interfaces.clone().into());
        json.insert("targets".into(), self.targets.clone().into());
        json.insert("duration_s".into(), self.secs.into());
        for (k, v) in &self.capture {
            json.insert((*k).into(), (*v).into());
        }
        let truncated: serde_json::Map<String, serde_json::Value> = self
            .skipped
            .truncated
            .iter()
            .map(|(t, n)| (t.as_str().to_owned(), (*n).into()))
            .collect();
        json.insert(
            "skipped".into(),
            serde_json::json!({
                "total": self.skipped.total(),
                "truncated": truncated,
                "unparsable": self.skipped.unparsable,
                "no_target": self.skipped.no_target,
            }),
        );
        json.insert("multiply".into(), self.multiply.into());
        json.insert("shadow_requests".into(), self.wanted.into());
        json.insert("dispatched".into(), self.dispatched.into());
        json.insert("sent".into(), self.sent().into());
        json.insert("completed".into(), s.completed.into());
        json.insert("shadowed_pct".into(), self.shadowed_pct().into());
        let mut dropped = serde_json::Map::new();
        dropped.insert("total".into(), self.dropped_total().into());
        for (k, v) in &self.dropped {
            dropped.insert((*k).into(), (*v).into());
        }
        json.insert("dropped".into(), dropped.into());
        json.insert("errors".into(), errors_json(s));
        json.insert("joined".into(), self.joined.into());
        json.insert("schedule_lag_ms".into(), s.lag.to_json());
        json.insert(
            "production".into(),
            serde_json::json!({
                "status": status_json(&s.production_status),
                "latency_ms": s.production.to_json(),
            }),
        );
        json.insert("staging".into(), side_json(s));
        json.insert(
            "baseline".into(),
            self.baseline.as_ref().map(side_json).into(),
        );
        json.insert("results".into(), self.results.clone().into());
        serde_json::Value::Object(json)
    }

    /// The run's parameters as the report shows them.
    fn parameters(&self, args: &Args) -> BTreeMap<String, String> {
        let mut p = BTreeMap::new();
        p.insert(
            "capture".into(),
            format!(
                "{} port {}",
                self.interfaces.join(", "),
                args.ports
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        p.insert("target".into(), self.targets.join(", "));
        p.insert("pace".into(), "live (each request as it was framed)".into());
        p.insert(
            "timeout".into(),
            humantime::format_duration(args.timeout).to_string(),
        );
        if !args.judge.fail_if.is_empty() {
            p.insert("gates".into(), args.judge.fail_if.join("   "));
        }
        if let Some(r) = &self.results {
            p.insert("results".into(), r.clone());
        }
        p.insert(
            "run".into(),
            format!(
                "shadowed {} of {} ({:.2}%) in {:.1} s, {} dropped, {} errors; reel {}",
                self.sent(),
                self.wanted,
                self.shadowed_pct(),
                self.secs,
                self.dropped_total(),
                self.stats.error_total(),
                env!("CARGO_PKG_VERSION")
            ),
        );
        p
    }
}

/// A target set's figures: sent, completed, errors, status, latency, service time.
fn side_json(s: &Stats) -> serde_json::Value {
    serde_json::json!({
        "sent": s.sent,
        "completed": s.completed,
        "errors": errors_json(s),
        "status": status_json(&s.staging_status),
        "latency_ms": s.latency.to_json(),
        "service_ms": s.service.to_json(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::flag_of;
    use clap::Parser;

    fn parse(extra: &[&str]) -> crate::exit::Result<Setup> {
        let mut argv = vec!["reel", "shadow", "-i", "lo", "--port", "8080"];
        argv.extend_from_slice(extra);
        let cli = crate::cli::Cli::try_parse_from(argv).map_err(crate::exit::Error::from)?;
        match cli.command {
            crate::cli::Command::Shadow(a) => setup(&a),
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_capture_filter_leaves_out_every_target() {
        let s = parse(&[
            "--target",
            "http://192.0.2.7:8080",
            "--target-map",
            "api.example=http://192.0.2.8:9000",
            "--baseline-target",
            "http://192.0.2.9:8080",
            "--filter",
            "not host 10.1.1.1",
        ])
        .unwrap();
        assert_eq!(
            s.bpf,
            "((tcp and (port 8080)) and (not host 10.1.1.1)) and not (\
             (src host 192.0.2.7 and src port 8080) or (dst host 192.0.2.7 and dst port 8080) or \
             (src host 192.0.2.8 and src port 9000) or (dst host 192.0.2.8 and dst port 9000) or \
             (src host 192.0.2.9 and src port 8080) or (dst host 192.0.2.9 and dst port 8080))"
        );
        assert_eq!(s.limits.multiply, 1);
        assert!(s.plan.filter.is_empty());
    }

    #[test]
    fn bad_values_name_their_flag() {
        for (args, flag) in [
            (vec!["--multiply", "0"], "--multiply"),
            (vec!["--max-inflight", "0"], "--max-inflight"),
            (vec!["--timeout", "0s"], "--timeout"),
            (vec!["--rewrite-url", "nope"], "--rewrite-url"),
            (vec!["--path", "("], "--path"),
        ] {
            let mut a = vec!["--target", "http://192.0.2.7:8080"];
            a.extend(args);
            let e = parse(&a).err().unwrap();
            assert_eq!(flag_of(&e), flag, "{e:#}");
            assert_eq!(crate::exit::classify(&e), Status::BadInput);
        }
        let e = parse(&[]).err().unwrap();
        assert_eq!(flag_of(&e), "--target");
    }

    #[test]
    fn this_host_on_a_captured_port_is_refused() {
        let e = parse(&["--target", "http://127.0.0.1:8080"]).err().unwrap();
        assert_eq!(crate::exit::classify(&e), Status::BadInput);
        assert!(
            format!("{e:#}").contains("--allow-production-target"),
            "{e:#}"
        );
        assert!(
            parse(&[
                "--target",
                "http://127.0.0.1:8080",
                "--allow-production-target"
            ])
            .is_ok()
        );
        assert!(parse(&["--target", "http://127.0.0.1:9090"]).is_ok());
    }

    #[test]
    fn drops_read_in_the_order_of_their_reasons() {
        let f = Figures::default();
        f.dropped(DropReason::ConnectionBusy).add(3);
        f.dropped(DropReason::Stopped).add(1);
        assert_eq!(
            drops_text(&f),
            "4 (queue_full 0, connection_busy 3, max_connections 0, connect 0, stopped 1)"
        );
    }

    #[test]
    fn flags_of_flattened_groups_stay_apart() {
        use clap::CommandFactory;
        crate::cli::Cli::command().debug_assert();
    }
}
