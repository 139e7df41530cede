//! Operational figures of long-running commands (`record --interface`, and later `replay` and
//! `shadow`): named counters and gauges in a [`Registry`], shown as periodic [`StatsLine`]s on
//! stderr and served in Prometheus' text format by [`serve`] (`GET /metrics`), with `GET /ready`
//! answering 200 once the command says it is ready (a capture handle is open) and 503 before.
//!
//! Figures are plain atomics ([`Metric`]): the threads that own the work add to them or set them,
//! without locks; the registry's lock is taken only to register a series and to render.
//! The HTTP endpoint runs on its own thread with a single-threaded tokio runtime and hyper, so a
//! slow scraper never touches the threads doing the work.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};

/// What a series measures: a counter only grows, a gauge goes up and down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only grows (Prometheus `counter`; names end in `_total`).
    Counter,
    /// The value now (Prometheus `gauge`).
    Gauge,
}

/// One figure, shared between the thread that updates it and the readers (stats lines, /metrics).
#[derive(Debug, Clone, Default)]
pub struct Metric(Arc<AtomicU64>);

impl Metric {
    /// A figure of its own, not registered (for tests and for figures not exported).
    pub fn new() -> Metric {
        Metric::default()
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Sets the value (a gauge, or a counter published from a stage's own count).
    pub fn set(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
    }

    /// Raises the value to `v` if it is lower (a high-water mark).
    pub fn raise(&self, v: u64) {
        self.0.fetch_max(v, Ordering::Relaxed);
    }

    /// The value now.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

struct Family {
    help: &'static str,
    kind: Kind,
    /// Rendered label set (`{a="b"}` or empty) → value.
    series: BTreeMap<String, Metric>,
}

/// Every figure a command exports, by name and labels.
#[derive(Default)]
pub struct Registry {
    families: Mutex<BTreeMap<&'static str, Family>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// The counter `name` (no labels), registered on first use; later calls return the same one.
    pub fn counter(&self, name: &'static str, help: &'static str) -> Metric {
        self.series(name, help, Kind::Counter, &[])
    }

    /// The gauge `name` (no labels).
    pub fn gauge(&self, name: &'static str, help: &'static str) -> Metric {
        self.series(name, help, Kind::Gauge, &[])
    }

    /// The series of `name` with these labels, e.g. `[("interface", "eth0")]`. The kind and help
    /// of the first registration of a name are kept.
    pub fn series(
        &self,
        name: &'static str,
        help: &'static str,
        kind: Kind,
        labels: &[(&str, &str)],
    ) -> Metric {
        let key = render_labels(labels);
        let mut families = self
            .families
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let family = families.entry(name).or_insert_with(|| Family {
            help,
            kind,
            series: BTreeMap::new(),
        });
        family.series.entry(key).or_default().clone()
    }

    /// Every series in Prometheus' text exposition format (version 0.0.4), families sorted by
    /// name, then the process's resident memory and CPU time from `/proc/self`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let families = self
            .families
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (name, family) in families.iter() {
            let kind = match family.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
            };
            let _ = writeln!(out, "# HELP {name} {}", family.help);
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, metric) in &family.series {
                let _ = writeln!(out, "{name}{labels} {}", metric.get());
            }
        }
        drop(families);
        if let Some(process) = ProcessFigures::read() {
            let _ = writeln!(
                out,
                "# HELP process_resident_memory_bytes Resident memory of the process.\n\
                 # TYPE process_resident_memory_bytes gauge\n\
                 process_resident_memory_bytes {}",
                process.rss_bytes
            );
            let _ = writeln!(
                out,
                "# HELP process_cpu_seconds_total CPU time of the process, user and system.\n\
                 # TYPE process_cpu_seconds_total counter\n\
                 process_cpu_seconds_total {:.2}",
                process.cpu_seconds
            );
        }
        out
    }
}

/// `{a="b",c="d"}` with Prometheus' escapes, or the empty string for no labels.
fn render_labels(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let mut out = String::from("{");
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
    out
}

/// Resident memory and CPU time of this process, from `/proc/self` (Linux).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessFigures {
    /// Resident set size in bytes (`/proc/self/statm` × the page size, 4096 assumed).
    pub rss_bytes: u64,
    /// User plus system CPU time in seconds (`/proc/self/stat`, at USER_HZ = 100, the value
    /// Linux exports on every architecture it supports).
    pub cpu_seconds: f64,
}

impl ProcessFigures {
    /// Reads the figures; `None` where `/proc` is not there.
    pub fn read() -> Option<ProcessFigures> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name (which may hold spaces) start after the last ')'.
        let rest = stat.get(stat.rfind(')')? + 1..)?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some(ProcessFigures {
            rss_bytes: pages * 4096,
            cpu_seconds: (utime + stime) as f64 / 100.0,
        })
    }
}

/// Whether the command is ready (for `GET /ready`); cloned freely, set once.
#[derive(Debug, Clone, Default)]
pub struct Ready(Arc<AtomicBool>);

impl Ready {
    /// Not ready yet.
    pub fn new() -> Ready {
        Ready::default()
    }

    /// From now on `/ready` answers 200.
    pub fn set(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// True once [`Ready::set`] was called.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// How a figure is shown in a stats line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// The value: `drops 0`.
    Value,
    /// The value and its rate since the previous line: `requests 1200 (120/s)`.
    Rate,
    /// The value as a byte size: `written 1.2 MB`.
    Bytes,
}

/// One line of figures every `--stats-interval`: `label value` pairs, with rates per second
/// since the previous line where asked.
pub struct StatsLine {
    items: Vec<(&'static str, Metric, Show)>,
    previous: Vec<u64>,
    at: Instant,
}

impl StatsLine {
    /// A line of these figures, in this order; rates count from now.
    pub fn new(items: Vec<(&'static str, Metric, Show)>) -> StatsLine {
        let previous = items.iter().map(|(_, m, _)| m.get()).collect();
        StatsLine {
            items,
            previous,
            at: Instant::now(),
        }
    }

    /// The line now, e.g. `packets 52031 (5203/s), kernel drops 0, written 1.2 MB`.
    pub fn line(&mut self) -> String {
        let now = Instant::now();
        let secs = now.duration_since(self.at).as_secs_f64().max(1e-3);
        self.at = now;
        let mut parts = Vec::with_capacity(self.items.len());
        for ((label, metric, show), previous) in self.items.iter().zip(self.previous.iter_mut()) {
            let value = metric.get();
            parts.push(match show {
                Show::Value => format!("{label} {value}"),
                Show::Rate => format!(
                    "{label} {value} ({}/s)",
                    human_count(value.saturating_sub(*previous) as f64 / secs)
                ),
                Show::Bytes => format!("{label} {}", human_bytes(value)),
            });
            *previous = value;
        }
        parts.join(", ")
    }
}

/// A count per second as people read it: `950`, `12.3k`, `1.20M`.
pub fn human_count(n: f64) -> String {
    if n < 1e3 {
        format!("{n:.0}")
    } else if n < 1e6 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{:.2}M", n / 1e6)
    }
}

/// Bytes in B, kB, MB, GB (powers of 1000, as `ls -lh --si` and network tools print them).
pub fn human_bytes(n: u64) -> String {
    let n = n as f64;
    if n < 1e3 {
        format!("{n} B")
    } else if n < 1e6 {
        format!("{:.1} kB", n / 1e3)
    } else if n < 1e9 {
        format!("{:.1} MB", n / 1e6)
    } else {
        format!("{:.2} GB", n / 1e9)
    }
}

/// Binds the address of `--metrics-addr` (before privileges are dropped, so that a port below
/// 1024 works); errors name the flag.
pub fn bind(addr: &str) -> Result<TcpListener, MetricsError> {
    let listener = TcpListener::bind(addr).map_err(|source| MetricsError::Bind {
        addr: addr.to_owned(),
        source,
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| MetricsError::Bind {
            addr: addr.to_owned(),
            source,
        })?;
    Ok(listener)
}

/// Why the metrics endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The address is taken, not local, or not an address.
    #[error("--metrics-addr {addr}: cannot listen: {source}")]
    Bind {
        /// The address as given.
        addr: String,
        /// What the system said.
        source: io::Error,
    },
    /// The endpoint's thread or runtime could not start.
    #[error("--metrics-addr: cannot start the endpoint: {0}")]
    Start(io::Error),
}

impl crate::exit::Classify for MetricsError {
    fn status(&self) -> crate::exit::Status {
        match self {
            MetricsError::Bind { source, .. } if source.kind() == io::ErrorKind::InvalidInput => {
                crate::exit::Status::BadInput
            }
            _ => crate::exit::Status::Runtime,
        }
    }
}

/// The running endpoint; stopped when dropped.
pub struct MetricsServer {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MetricsServer {
    /// The address it listens on (the port chosen by the system when `:0` was given).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves `GET /metrics` (the registry, Prometheus text format), `GET /ready` (200 once `ready`
/// is set, else 503) and `GET /health` (200 while the process runs) on `listener`, from a thread
/// of its own, until the returned server is dropped.
pub fn serve(
    listener: TcpListener,
    registry: Arc<Registry>,
    ready: Ready,
) -> Result<MetricsServer, MetricsError> {
    let addr = listener.local_addr().map_err(MetricsError::Start)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(MetricsError::Start)?;
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("reel-metrics".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!("--metrics-addr: cannot serve: {e}");
                        return;
                    }
                };
                loop {
                    let accepted = tokio::select! {
                        _ = &mut rx => return,
                        accepted = listener.accept() => accepted,
                    };
                    let Ok((stream, _)) = accepted else {
                        continue;
                    };
                    let registry = registry.clone();
                    let ready = ready.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            let response = answer(&req, &registry, &ready);
                            async move { Ok::<_, std::convert::Infallible>(response) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        })
        .map_err(MetricsError::Start)?;
    Ok(MetricsServer {
        addr,
        shutdown: Some(tx),
        thread: Some(thread),
    })
}

fn answer<B>(req: &Request<B>, registry: &Registry, ready: &Ready) -> Response<Full<Bytes>> {
    let text = |status: StatusCode, content_type: &str, body: String| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
            response
                .headers_mut()
                .insert(hyper::header::CONTENT_TYPE, value);
        }
        response
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".into(),
        );
    }
    match req.uri().path() {
        "/metrics" => text(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            registry.render(),
        ),
        "/ready" if ready.is_set() => text(StatusCode::OK, "text/plain", "ready\n".into()),
        "/ready" => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "starting\n".into(),
        ),
        "/health" => text(StatusCode::OK, "text/plain", "ok\n".into()),
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain",
            "see /metrics, /ready, /health\n".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn renders_families_sorted_with_labels_escaped() {
        let r = Registry::new();
        let drops = r.series(
            "reel_kernel_drops_total",
            "Frames the kernel dropped.",
            Kind::Counter,
            &[("interface", "eth\"0")],
        );
        let flows = r.gauge("reel_flows_open", "Connections tracked.");
        drops.add(3);
        flows.set(7);
        // Registering again returns the same series.
        r.gauge("reel_flows_open", "ignored").inc();
        let text = r.render();
        let ours: Vec<&str> = text
            .lines()
            .take_while(|l| !l.contains("process_"))
            .collect();
        assert_eq!(
            ours,
            [
                "# HELP reel_flows_open Connections tracked.",
                "# TYPE reel_flows_open gauge",
                "reel_flows_open 8",
                "# HELP reel_kernel_drops_total Frames the kernel dropped.",
                "# TYPE reel_kernel_drops_total counter",
                "reel_kernel_drops_total{interface=\"eth\\\"0\"} 3",
            ]
        );
        assert!(text.contains("\nprocess_resident_memory_bytes "));
    }

    #[test]
    fn stats_line_shows_values_rates_and_bytes() {
        let a = Metric::new();
        let b = Metric::new();
        let c = Metric::new();
        let mut line = StatsLine::new(vec![
            ("drops", a.clone(), Show::Value),
            ("requests", b.clone(), Show::Rate),
            ("written", c.clone(), Show::Bytes),
        ]);
        a.set(2);
        c.set(1_200_000);
        let text = line.line();
        assert!(
            text.starts_with("drops 2, requests 0 (0/s), written 1.2 MB"),
            "{text}"
        );
    }

    #[test]
    fn metric_raise_keeps_the_highest() {
        let m = Metric::new();
        m.raise(5);
        m.raise(3);
        assert_eq!(m.get(), 5);
    }

    fn get(addr: SocketAddr, path: &str) -> String {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn endpoint_serves_metrics_and_readiness() {
        let registry = Arc::new(Registry::new());
        registry.counter("reel_x_total", "X.").add(42);
        let ready = Ready::new();
        let server = serve(bind("127.0.0.1:0").unwrap(), registry, ready.clone()).unwrap();
        let addr = server.local_addr();
        assert!(get(addr, "/ready").starts_with("HTTP/1.1 503"));
        ready.set();
        assert!(get(addr, "/ready").starts_with("HTTP/1.1 200"));
        let metrics = get(addr, "/metrics");
        assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
        assert!(
            metrics.contains("\r\n\r\n# HELP reel_x_total X.\n"),
            "{metrics}"
        );
        assert!(metrics.contains("\nreel_x_total 42\n"), "{metrics}");
        assert!(get(addr, "/nope").starts_with("HTTP/1.1 404"));
        drop(server);
        assert!(std::net::TcpStream::connect(addr).is_err());
    }

    #[test]
    fn bind_errors_name_the_flag() {
        let e = bind("not an address").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--metrics-addr not an address: cannot listen")
        );
    }
}
