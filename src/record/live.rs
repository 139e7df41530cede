//! `record --interface`: the capture daemon, and the capture side `shadow` shares with it.
//!
//! Threads (docs/ARCHITECTURE.md, "Live capture"): one capture thread per interface
//! (`capture::live`) → a bounded frame queue → the extraction thread ([`extract_live`]: decode,
//! reassembly, HTTP, selection, `--limit`, redaction) → the sink (for `record`, a
//! [`ThreadedSink`] whose writer thread owns the files). The calling thread watches signals and
//! `--duration` and prints the stats lines; a metrics thread serves `--metrics-addr`.
//!
//! [`LiveStart::open`] does, in this order, what every live run starts with: opens the devices
//! (root), binds the metrics address, drops privileges to `--user`, installs the signal
//! handlers, registers the figures. Files are created only after that, by the sink's opener.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use super::{CaptureConfig, CaptureFigures, RecordError, RecordOutcome, Recorder};
use crate::capture::live::{
    InterfaceCounters, LiveCapture, LiveConfig, LiveError, LiveSource, Poll,
};
use crate::ends::threaded::ThreadedSink;
use crate::ends::{EndError, Sink};
use crate::exchange::{Counters, Meta};
use crate::metrics::{self, Kind, Metric, Ready, Registry, Show, StatsLine};
use crate::runtime::signals::Stop;
use crate::runtime::{now_ns, privileges, watch};

/// How a live capture opens: the devices' settings, `--metrics-addr`, `--user`, and what a
/// second signal prints before exiting at once (status 3).
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// The devices, their ring, snap length, promiscuous and immediate modes, the BPF filter
    /// and the frame queue's bound.
    pub capture: LiveConfig,
    /// `--metrics-addr`: where `/metrics`, `/ready` and `/health` are served.
    pub metrics_addr: Option<String>,
    /// `--user`: the user to switch to once the devices are open.
    pub user: Option<String>,
    /// Printed on stderr when a second SIGINT/SIGTERM ends the run at once.
    pub second_signal: &'static str,
}

/// A live capture, opened: the handles open and filtered, `--metrics-addr` bound and served,
/// privileges dropped to `--user`, SIGINT/SIGTERM watched, the capture figures registered.
/// What `record --interface` and `shadow` both start with.
pub struct LiveStart {
    /// The handles, not yet read.
    pub capture: LiveCapture,
    /// Set by the first SIGINT or SIGTERM.
    pub stop: Stop,
    /// Every figure of the run (/metrics).
    pub registry: Arc<Registry>,
    /// The extraction figures (`reel_record_*`).
    pub figures: CaptureFigures,
    /// The capture figures, by interface.
    pub interfaces: Vec<(String, InterfaceCounters)>,
    /// `/ready`: set once the capture runs.
    pub ready: Ready,
    /// The metrics endpoint, stopped when dropped.
    pub server: Option<metrics::MetricsServer>,
}

impl LiveStart {
    /// Opens the capture of `options`. Everything that needs root happens here, before the
    /// switch to `--user`.
    pub fn open(options: &LiveOptions) -> Result<LiveStart, RecordError> {
        let capture = LiveCapture::open(&options.capture)?;
        let listener = options
            .metrics_addr
            .as_deref()
            .map(metrics::bind)
            .transpose()?;
        if let Some(user) = &options.user {
            privileges::drop_to(user)?;
        } else if nix::unistd::geteuid().is_root() {
            tracing::info!("capturing as root; --user NAME would parse packets without root");
        }
        let stop = Stop::on_signals(options.second_signal)?;
        let registry = Arc::new(Registry::new());
        let figures = CaptureFigures::registered(&registry);
        let interfaces = capture
            .interfaces()
            .into_iter()
            .map(|(name, _)| {
                let c = interface_counters(&registry, &name);
                (name, c)
            })
            .collect();
        let ready = Ready::new();
        let server = listener
            .map(|l| metrics::serve(l, registry.clone(), ready.clone()))
            .transpose()?;
        Ok(LiveStart {
            capture,
            stop,
            registry,
            figures,
            interfaces,
            ready,
            server,
        })
    }
}

/// The capture figures of one interface, registered under its name.
fn interface_counters(registry: &Registry, name: &str) -> InterfaceCounters {
    let labels = [("interface", name)];
    let series = |metric, help| registry.series(metric, help, Kind::Counter, &labels);
    InterfaceCounters {
        packets: series("reel_record_packets_total", "Frames captured."),
        bytes: series(
            "reel_record_captured_bytes_total",
            "Bytes of the frames captured.",
        ),
        kernel_drops: series(
            "reel_record_kernel_drops_total",
            "Frames the kernel dropped because the capture ring was full (pcap_stats).",
        ),
        interface_drops: series(
            "reel_record_interface_drops_total",
            "Frames the interface or its driver dropped (pcap_stats).",
        ),
        queue_drops: series(
            "reel_record_queue_drops_total",
            "Frames dropped because the queue to extraction was full.",
        ),
    }
}

/// Capture figures summed over the interfaces (for stats lines and totals).
pub struct InterfaceTotals {
    /// Frames captured.
    pub packets: Metric,
    /// Their bytes.
    pub bytes: Metric,
    /// Dropped by the kernel (ring full).
    pub kernel_drops: Metric,
    /// Dropped by the interface.
    pub interface_drops: Metric,
    /// Dropped at the queue to extraction.
    pub queue_drops: Metric,
}

impl InterfaceTotals {
    /// The totals of `interfaces` now.
    pub fn new(interfaces: &[(String, InterfaceCounters)]) -> InterfaceTotals {
        let t = InterfaceTotals {
            packets: Metric::new(),
            bytes: Metric::new(),
            kernel_drops: Metric::new(),
            interface_drops: Metric::new(),
            queue_drops: Metric::new(),
        };
        t.update(interfaces);
        t
    }

    /// Sums the interfaces' figures again.
    pub fn update(&self, interfaces: &[(String, InterfaceCounters)]) {
        let sum = |f: fn(&InterfaceCounters) -> &Metric| {
            interfaces.iter().map(|(_, c)| f(c).get()).sum::<u64>()
        };
        self.packets.set(sum(|c| &c.packets));
        self.bytes.set(sum(|c| &c.bytes));
        self.kernel_drops.set(sum(|c| &c.kernel_drops));
        self.interface_drops.set(sum(|c| &c.interface_drops));
        self.queue_drops.set(sum(|c| &c.queue_drops));
    }
}

/// Combines `--port` and `--filter` into the capture's BPF filter.
pub fn live_filter(ports: &[u16], filter: Option<&str>) -> String {
    let tcp = if ports.is_empty() {
        "tcp".to_string()
    } else {
        let list: Vec<String> = ports.iter().map(|p| format!("port {p}")).collect();
        format!("tcp and ({})", list.join(" or "))
    };
    match filter {
        Some(f) if !f.trim().is_empty() => format!("({tcp}) and ({f})"),
        _ => tcp,
    }
}

/// Why the extraction thread stopped the capture by itself (what the calling thread reads).
#[derive(Debug, Default)]
pub struct EndCause(AtomicU8);

impl EndCause {
    const LIMIT: u8 = 1;
    const SINK: u8 = 2;

    /// `--limit` was reached.
    pub fn limit(&self) -> bool {
        self.0.load(Ordering::Relaxed) == Self::LIMIT
    }

    /// The sink failed (a writer that stopped on an error).
    pub fn sink(&self) -> bool {
        self.0.load(Ordering::Relaxed) == Self::SINK
    }
}

/// The extraction thread's loop: frames from `source` through `recorder` until the capture has
/// stopped and drained (or the sink failed, or `--limit` is reached: then the capture is asked to
/// stop, and `cause` says which), then every connection is finished. Returns the capture
/// threads' outcome.
pub fn extract_live<S: Sink>(
    source: &mut LiveSource,
    recorder: &mut Recorder<S>,
    cause: &EndCause,
) -> Result<(), LiveError> {
    let mut stopping = false;
    let mut polls = 0u64;
    loop {
        let mut idle = false;
        let now = match source.poll(Duration::from_millis(100)) {
            // A failed sink is reported by whoever finishes it.
            Poll::Frame(frame) => {
                let ts = frame.ts_ns;
                recorder.push(&frame).then_some(ts)
            }
            Poll::Idle => {
                idle = true;
                let now = now_ns();
                recorder.idle(now);
                recorder.alive().then_some(now)
            }
            Poll::Ended => break,
        };
        let limit = now.is_some_and(|t| recorder.limit_done(t));
        if !stopping && (now.is_none() || limit) {
            stopping = true;
            let why = if limit {
                EndCause::LIMIT
            } else {
                EndCause::SINK
            };
            cause.0.store(why, Ordering::Relaxed);
            source.stop();
        }
        // The clock is read every 1024 frames (and when idle), not per frame.
        polls += 1;
        if polls % 1024 == 0 || idle {
            recorder.publish_if_due(source.queued_bytes());
        }
    }
    let captured = source.join();
    recorder.finish_input();
    captured
}

/// What a live recording is: its devices and filter, and when it stops.
#[derive(Debug, Clone)]
pub struct LiveInput {
    /// How the capture opens.
    pub options: LiveOptions,
    /// `--duration`: stop after this much wall time.
    pub duration: Option<Duration>,
    /// `--stats-interval`: a line of figures on stderr this often (never when 0).
    pub stats_interval: Duration,
}

/// The figures of a finished live recording.
#[derive(Debug, Clone, Default)]
pub struct LiveOutcome {
    /// The recording's figures (`packets`, `bytes`: what libpcap delivered).
    pub record: RecordOutcome,
    /// The devices captured on.
    pub interfaces: Vec<String>,
    /// Frames dropped by the kernel (ring full).
    pub kernel_drops: u64,
    /// Frames dropped by the interfaces.
    pub interface_drops: u64,
    /// Frames dropped at the queue to extraction.
    pub queue_drops: u64,
    /// A signal that stopped the run before the `--duration` or `--limit` it was given was
    /// reached (`--limit 1000` cut short is not the recording asked for): the signal and the
    /// flag. A signal is a daemon's normal stop otherwise, and this is `None`.
    pub cut_short: Option<(i32, &'static str)>,
}

/// Records live with `config`: opens the capture ([`LiveStart::open`]), then the sink `open`
/// makes from the run's metadata and figures (after the switch to `--user`, so files belong to
/// it), on a writer thread of its own; extracts on a thread of its own until a signal,
/// `--duration`, `--limit`, the sink's failure or the capture's end; then drains, finishes the
/// sink and returns the figures.
pub fn record_live(
    input: &LiveInput,
    config: CaptureConfig,
    open: impl FnOnce(Meta, &CaptureFigures) -> Result<Box<dyn Sink + Send>, EndError>,
) -> Result<LiveOutcome, RecordError> {
    let started = Instant::now();
    let LiveStart {
        capture,
        stop,
        registry: _registry,
        figures,
        interfaces,
        ready,
        server,
    } = LiveStart::open(&input.options)?;
    let devices = input.options.capture.interfaces.clone();
    let bpf = input.options.capture.filter.clone().unwrap_or_default();
    let meta = config.run_meta("record", devices.clone(), bpf);
    let sink = ThreadedSink::spawn(open(meta, &figures)?, "reel-writer")?;

    let mut source = capture.start(interfaces.iter().map(|(_, c)| c.clone()).collect())?;
    let stopper = source.stopper();
    let selection_active = config.selection_active();
    let redacting = config.redactor.is_some();
    let bounded_by = match (input.duration, config.limit) {
        (Some(_), _) => Some("--duration"),
        (None, Some(_)) => Some("--limit"),
        (None, None) => None,
    };
    let mut recorder = Recorder::new(config, sink, figures.clone())
        .with_progress()
        .with_interfaces(interfaces.clone());
    let cause = Arc::new(EndCause::default());
    let thread_cause = cause.clone();
    let extraction_thread = std::thread::Builder::new()
        .name("reel-extract".into())
        .spawn(move || {
            let captured = extract_live(&mut source, &mut recorder, &thread_cause);
            let counters = Counters {
                end_ns: now_ns(),
                values: recorder.counter_values(),
            };
            let written = recorder.sink_mut().finish(counters);
            (recorder, captured, written)
        })
        .map_err(|e| RecordError::Thread("extraction", e))?;
    ready.set();
    tracing::info!("capturing on {}", devices.join(", "));

    let totals = InterfaceTotals::new(&interfaces);
    let mut stats = StatsLine::new(vec![
        ("packets", totals.packets.clone(), Show::Rate),
        ("kernel drops", totals.kernel_drops.clone(), Show::Value),
        (
            "interface drops",
            totals.interface_drops.clone(),
            Show::Value,
        ),
        ("queue drops", totals.queue_drops.clone(), Show::Value),
        ("flows open", figures.flows_open.clone(), Show::Value),
        ("requests", figures.requests.clone(), Show::Rate),
        ("responses", figures.responses.clone(), Show::Value),
        (
            "TLS connections",
            figures.tls_connections.clone(),
            Show::Value,
        ),
        ("written", figures.bytes_written.clone(), Show::Bytes),
        ("memory", figures.memory_bytes.clone(), Show::Bytes),
        ("queue", figures.queue_bytes.clone(), Show::Bytes),
    ]);
    let stop_reason = watch::watch(
        &stop,
        started,
        input.duration,
        input.stats_interval,
        || {
            extraction_thread.is_finished().then(|| {
                if cause.limit() {
                    "--limit"
                } else if cause.sink() {
                    "the writer stopped"
                } else {
                    "the capture ended"
                }
            })
        },
        || {
            totals.update(&interfaces);
            stats.line()
        },
    );
    tracing::info!("stopping ({}): draining the capture", stop_reason.as_str());
    let cut_short = match (stop_reason, stop.signal(), bounded_by) {
        (watch::StopReason::Signal, Some(signal), Some(flag)) => Some((signal, flag)),
        _ => None,
    };
    stopper.stop();
    let (recorder, captured, written) = extraction_thread
        .join()
        .map_err(|_| RecordError::Panicked("extraction"))?;
    let written = written?;
    drop(server);
    captured?;
    totals.update(&interfaces);
    Ok(LiveOutcome {
        record: RecordOutcome {
            packets: totals.packets.get(),
            bytes: totals.bytes.get(),
            extracted_packets: recorder.frames().0,
            counts: recorder.totals(),
            written,
            selection_active,
            redacting,
        },
        interfaces: devices,
        kernel_drops: totals.kernel_drops.get(),
        interface_drops: totals.interface_drops.get(),
        queue_drops: totals.queue_drops.get(),
        cut_short,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_filters_combine_ports_and_the_users() {
        assert_eq!(live_filter(&[], None), "tcp");
        assert_eq!(
            live_filter(&[80, 8080], None),
            "tcp and (port 80 or port 8080)"
        );
        assert_eq!(
            live_filter(&[80], Some("host 10.0.0.5")),
            "(tcp and (port 80)) and (host 10.0.0.5)"
        );
    }
}
