//! `replay --metrics-addr`: the replay's live counters (sent, finished, answered, errors,
//! connections, the largest schedule lag) published into a registry every 200 ms by a thread of
//! their own, and served at `/metrics` until the export is dropped.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::metrics::MetricsError;

/// `--metrics-addr`: replay's live counters published into a registry every 200 ms and served;
/// stops (and stops serving) when dropped.
pub struct MetricsExport {
    done: Arc<AtomicBool>,
    publisher: Option<std::thread::JoinHandle<()>>,
    _server: crate::metrics::MetricsServer,
}

impl MetricsExport {
    /// Binds `addr`, serves the registry there and starts the thread publishing `live` into it.
    pub fn start(
        addr: &str,
        live: Arc<crate::replay::client::Live>,
    ) -> Result<MetricsExport, MetricsError> {
        use crate::metrics::{Kind, Ready, Registry};
        use std::sync::atomic::Ordering;
        let listener = crate::metrics::bind(addr)?;
        let registry = Arc::new(Registry::new());
        let counter = |name, help| registry.series(name, help, Kind::Counter, &[]);
        let sent = counter(
            "reel_replay_sent_total",
            "Requests whose first byte was written.",
        );
        let finished = counter(
            "reel_replay_finished_total",
            "Requests finished, any outcome.",
        );
        let ok = counter(
            "reel_replay_ok_total",
            "Requests answered with a final response.",
        );
        let errors = counter(
            "reel_replay_errors_total",
            "Requests that ended in an error.",
        );
        let connects = counter("reel_replay_connections_total", "Connections opened.");
        let lag = registry.series(
            "reel_replay_lag_max_microseconds",
            "Largest schedule lag (first byte written minus intended time) in the last interval.",
            Kind::Gauge,
            &[],
        );
        let ready = Ready::new();
        let server = crate::metrics::serve(listener, registry, ready.clone())?;
        let done = Arc::new(AtomicBool::new(false));
        let stop = done.clone();
        let publisher = std::thread::Builder::new()
            .name("reel-replay-metrics".into())
            .spawn(move || {
                ready.set();
                loop {
                    sent.set(live.sent.load(Ordering::Relaxed));
                    finished.set(live.finished.load(Ordering::Relaxed));
                    ok.set(live.ok.load(Ordering::Relaxed));
                    errors.set(live.errors.load(Ordering::Relaxed));
                    connects.set(live.connects.load(Ordering::Relaxed));
                    lag.set(live.lag_max_us.load(Ordering::Relaxed));
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            })
            .map_err(MetricsError::Start)?;
        Ok(MetricsExport {
            done,
            publisher: Some(publisher),
            _server: server,
        })
    }
}

impl Drop for MetricsExport {
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.publisher.take() {
            let _ = t.join();
        }
    }
}
