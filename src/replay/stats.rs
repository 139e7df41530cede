//! The run's own figures: counts, status mixes and HDR histograms (µs, 3 significant digits) of
//! staging latency (from the intended time), service time (from the first byte written),
//! scheduler lag, and production latency; and the `--json` summary built from them
//! (`docs/JSON.md`, section "replay").

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::exchange::ErrorKind;

use super::client::Outcome;
use super::plan::PlanStats;

/// Highest value a histogram holds, µs (one hour); larger values are clamped to it.
const MAX_US: u64 = 3_600_000_000;

/// A latency histogram in µs.
#[derive(Debug, Clone)]
pub struct LatencyHistogram(Histogram<u64>);

impl Default for LatencyHistogram {
    fn default() -> Self {
        // Bounds are constants known to be valid.
        #[allow(clippy::unwrap_used)]
        LatencyHistogram(Histogram::new_with_bounds(1, MAX_US, 3).unwrap())
    }
}

impl LatencyHistogram {
    /// Records a duration in ns.
    pub fn record_ns(&mut self, ns: u64) {
        let us = (ns / 1_000).clamp(1, MAX_US);
        let _ = self.0.record(us);
    }

    /// Adds another histogram (shards, workers): exact.
    pub fn add(&mut self, other: &LatencyHistogram) {
        let _ = self.0.add(&other.0);
    }

    /// Values recorded.
    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value at quantile `q` (0–1), ms.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.value_at_quantile(q) as f64 / 1_000.0
    }

    /// `p50 0.31 ms, p99 2.10 ms, max 9.80 ms`, or `-` when empty.
    pub fn describe(&self) -> String {
        if self.is_empty() {
            return "-".to_owned();
        }
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.quantile_ms(0.5),
            self.quantile_ms(0.99),
            self.quantile_ms(1.0)
        )
    }

    /// `{p50, p90, p99, p999, max}` in ms (`null` when empty).
    pub fn to_json(&self) -> Value {
        if self.0.is_empty() {
            return Value::Null;
        }
        json!({
            "p50": self.quantile_ms(0.50),
            "p90": self.quantile_ms(0.90),
            "p99": self.quantile_ms(0.99),
            "p999": self.quantile_ms(0.999),
            "max": self.0.max() as f64 / 1_000.0,
        })
    }
}

/// Everything counted over a run (warmup requests only in `warmup`).
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Requests whose first byte was written (warmup excluded).
    pub sent: u64,
    /// Requests that got a final response (warmup excluded).
    pub completed: u64,
    /// Requests that failed, by kind (warmup excluded).
    pub errors: BTreeMap<ErrorKind, u64>,
    /// `Expect: 100-continue` requests staging asked the never-recorded body of.
    pub incomplete: u64,
    /// 1xx interim responses read.
    pub interim: u64,
    /// Requests sent during `--warmup`.
    pub warmup: u64,
    /// Staging status counts.
    pub staging_status: BTreeMap<u16, u64>,
    /// Production status counts (of the requests replayed, warmup excluded).
    pub production_status: BTreeMap<u16, u64>,
    /// Staging latency from the intended send time (timeouts count as the timeout).
    pub latency: LatencyHistogram,
    /// Staging service time from the first byte written.
    pub service: LatencyHistogram,
    /// Scheduler lag: first byte written − intended.
    pub lag: LatencyHistogram,
    /// Production latency of the requests replayed.
    pub production: LatencyHistogram,
    /// First byte written of the first request, ns since the epoch.
    pub first_sent_ns: u64,
    /// First byte written of the last request, ns since the epoch.
    pub last_sent_ns: u64,
    /// The `--timeout`, for timeouts.
    pub timeout: Duration,
}

impl Stats {
    /// A fresh set with the run's timeout.
    pub fn new(timeout: Duration) -> Stats {
        Stats {
            timeout,
            ..Stats::default()
        }
    }

    /// Counts one outcome.
    pub fn record(&mut self, o: &Outcome) {
        let r = &o.result;
        self.interim += u64::from(o.interim);
        if r.warmup {
            self.warmup += 1;
            return;
        }
        if r.sent_ns != 0 {
            self.sent += 1;
            if self.first_sent_ns == 0 || r.sent_ns < self.first_sent_ns {
                self.first_sent_ns = r.sent_ns;
            }
            self.last_sent_ns = self.last_sent_ns.max(r.sent_ns);
            self.lag.record_ns(r.sent_ns.saturating_sub(r.intended_ns));
        }
        if let Some(s) = r.prod_status {
            *self.production_status.entry(s).or_default() += 1;
        }
        if let Some(l) = r.prod_latency_ns {
            self.production.record_ns(l);
        }
        if o.incomplete {
            self.incomplete += 1;
        }
        if let Some(kind) = r.error {
            *self.errors.entry(kind).or_default() += 1;
            if kind == ErrorKind::Timeout {
                let t = self.timeout.as_nanos() as u64;
                self.latency.record_ns(t);
                self.service.record_ns(t);
            }
            return;
        }
        if let Some(status) = r.status {
            self.completed += 1;
            *self.staging_status.entry(status).or_default() += 1;
            if r.first_byte_ns != 0 {
                self.latency
                    .record_ns(r.first_byte_ns.saturating_sub(r.intended_ns));
                self.service
                    .record_ns(r.first_byte_ns.saturating_sub(r.sent_ns));
            }
        }
    }

    /// Requests per second over the sending window (first to last first byte written).
    pub fn achieved_rate(&self) -> f64 {
        if self.sent < 2 || self.last_sent_ns <= self.first_sent_ns {
            return 0.0;
        }
        (self.sent - 1) as f64 / ((self.last_sent_ns - self.first_sent_ns) as f64 / 1e9)
    }

    /// From the first request's first byte written to the last one's.
    pub fn send_window(&self) -> Duration {
        Duration::from_nanos(self.last_sent_ns.saturating_sub(self.first_sent_ns))
    }

    /// Errors of every kind.
    pub fn error_total(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Errors by kind, indexed like [`ErrorKind::ALL`].
    pub fn error_counts(&self) -> [u64; 7] {
        ErrorKind::ALL.map(|k| self.errors.get(&k).copied().unwrap_or(0))
    }

    /// Requests that were tried (answered or failed; warmup excluded).
    pub fn attempted(&self) -> u64 {
        self.completed + self.error_total()
    }

    /// When requests were tried and not one got a response: the causes, most frequent first
    /// (`connection refused × 640`). `None` when something answered or nothing was tried.
    pub fn no_response(&self) -> Option<String> {
        (self.completed == 0 && self.error_total() > 0)
            .then(|| crate::exchange::causes(&self.error_counts()))
    }
}

/// What a replay did, for the summary line and `--json`.
#[derive(Debug, Clone)]
pub struct ReplaySummary {
    /// Results counted: the candidate's (`--target`), the only ones without a baseline.
    pub stats: Stats,
    /// The baseline's results (`--baseline-target`; its production copies are not counted: the
    /// candidate's are the same requests).
    pub baseline: Option<Stats>,
    /// The comparison's accumulator, fed every result of both target sets as it completed
    /// (when [`super::ReplayConfig::compare`] asked for it); `finish` it with the gates.
    pub comparison: Option<crate::compare::Accumulator>,
    /// What the planner saw and skipped.
    pub plan: PlanStats,
    /// Requests the scheduler released.
    pub released: u64,
    /// Wall time of the run, start to last response.
    pub duration: Duration,
    /// Connections opened to staging.
    pub connections: u64,
    /// `(I, N)` of `--shard`.
    pub shard: (u32, u32),
    /// Target URLs.
    pub targets: Vec<String>,
    /// The results log written, if any.
    pub results: Option<String>,
    /// The signal that interrupted the run (SIGINT 2, SIGTERM 15), if one did.
    pub interrupted: Option<i32>,
}

/// `{"200": n, …}`: status counts by code.
pub fn status_json(m: &BTreeMap<u16, u64>) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect(),
    )
}

/// `{"total": n, "connect_refused": n, …}`: every error kind, 0 included.
pub fn errors_json(s: &Stats) -> Value {
    let mut errors = serde_json::Map::new();
    errors.insert("total".into(), s.error_total().into());
    for kind in ErrorKind::ALL {
        errors.insert(
            kind.as_str().into(),
            s.errors.get(&kind).copied().unwrap_or(0).into(),
        );
    }
    Value::Object(errors)
}

impl ReplaySummary {
    /// Requests sent over the whole run's wall time (connecting, waiting for the last
    /// responses and `--start-at` included): the rate a user would compute from the summary.
    pub fn run_rate(&self) -> f64 {
        let secs = self.duration.as_secs_f64();
        if secs <= 0.0 {
            return 0.0;
        }
        self.stats.sent as f64 / secs
    }

    /// `INTERRUPTED by SIGINT after N of M requests (X s)` when a signal stopped the run: N the
    /// requests the scheduler had released (sent, or failed to connect), M every request the run
    /// was to send (known when the planner had read the whole log; else the line says so).
    pub fn interruption(&self) -> Option<String> {
        let signal = self.interrupted?;
        let name = crate::runtime::signals::signal_name(signal);
        let sent = self.released;
        let secs = self.duration.as_secs_f64();
        Some(if self.plan.complete {
            format!(
                "INTERRUPTED by {name} after {sent} of {} requests ({secs:.1} s)",
                self.plan.planned
            )
        } else {
            format!(
                "INTERRUPTED by {name} after {sent} requests, before the end of the log ({secs:.1} s)"
            )
        })
    }

    /// The `--json` object (keys documented in `docs/JSON.md`).
    pub fn to_json(&self) -> Value {
        let s = &self.stats;
        let errors = errors_json(s);
        let sk = &self.plan.skipped;
        let truncated: serde_json::Map<String, Value> = sk
            .truncated
            .iter()
            .map(|(t, n)| (t.as_str().to_owned(), Value::from(*n)))
            .collect();
        json!({
            "sent": s.sent,
            "completed": s.completed,
            "skipped": {
                "total": sk.total(),
                "filtered": sk.filtered,
                "other_shard": sk.other_shard,
                "truncated": truncated,
                "no_target": sk.no_target,
                "unparsable": sk.unparsable,
            },
            "errors": errors,
            "incomplete": s.incomplete,
            "interim": s.interim,
            "warmup": s.warmup,
            "requests_read": self.plan.requests,
            "damaged": self.plan.damage.to_json(),
            "iterations": self.plan.iterations,
            "connections": self.connections,
            "duration_s": self.duration.as_secs_f64(),
            "achieved_rate": s.achieved_rate(),
            "run_rate": self.run_rate(),
            "send_window_s": s.send_window().as_secs_f64(),
            "interrupted": self.interrupted.is_some(),
            "signal": self.interrupted.map(crate::runtime::signals::signal_name),
            "schedule_lag_ms": s.lag.to_json(),
            "production": {
                "status": status_json(&s.production_status),
                "latency_ms": s.production.to_json(),
            },
            "staging": {
                "status": status_json(&s.staging_status),
                "latency_ms": s.latency.to_json(),
                "service_ms": s.service.to_json(),
            },
            "baseline": self.baseline.as_ref().map(|b| json!({
                "sent": b.sent,
                "completed": b.completed,
                "errors": errors_json(b),
                "status": status_json(&b.staging_status),
                "latency_ms": b.latency.to_json(),
                "service_ms": b.service.to_json(),
                "schedule_lag_ms": b.lag.to_json(),
            })),
            "shard": {"index": self.shard.0, "count": self.shard.1},
            "targets": self.targets,
            "results": self.results,
        })
    }

    /// The human summary, a few lines.
    pub fn human(&self) -> String {
        let s = &self.stats;
        let lat = LatencyHistogram::describe;
        let mut out = String::new();
        if let Some(line) = self.interruption() {
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str(&format!(
            "replay: sent {} in {:.1} s ({:.1} req/s over the run; send window {:.1} s at {:.1} req/s), completed {}, errors {}, skipped {}\n",
            s.sent,
            self.duration.as_secs_f64(),
            self.run_rate(),
            s.send_window().as_secs_f64(),
            s.achieved_rate(),
            s.completed,
            s.error_total(),
            self.plan.skipped.total()
        ));
        if s.error_total() > 0 {
            let kinds: Vec<String> = s
                .errors
                .iter()
                .map(|(k, n)| format!("{} {n}", k.as_str()))
                .collect();
            out.push_str(&format!("  errors: {}\n", kinds.join(", ")));
        }
        out.push_str(&format!("  staging latency: {}\n", lat(&s.latency)));
        out.push_str(&format!("  service time:    {}\n", lat(&s.service)));
        out.push_str(&format!("  schedule lag:    {}\n", lat(&s.lag)));
        if let Some(b) = &self.baseline {
            out.push_str(&format!(
                "  baseline:        {} (sent {}, completed {}, errors {})\n",
                lat(&b.latency),
                b.sent,
                b.completed,
                b.error_total()
            ));
        }
        out.push_str(&format!("  production:      {}\n", lat(&s.production)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::ReplayResult;
    use bytes::Bytes;

    fn outcome(
        intended: u64,
        sent: u64,
        first: u64,
        status: Option<u16>,
        error: Option<ErrorKind>,
    ) -> Outcome {
        Outcome {
            result: ReplayResult {
                conn: 1,
                index: 0,
                target: "http://s".into(),
                method: "GET".into(),
                path: "/".into(),
                prod_status: Some(200),
                prod_latency_ns: Some(2_000_000),
                recorded_ts_ns: 0,
                intended_ns: intended,
                sent_ns: sent,
                first_byte_ns: first,
                last_byte_ns: first,
                status,
                request_bytes: 10,
                response_bytes: 10,
                response: Bytes::new(),
                external_id: None,
                error,
                shard: 0,
                shards: 1,
                iteration: 0,
                warmup: false,
                role: 0,
            },
            interim: 0,
            incomplete: false,
        }
    }

    #[test]
    fn latency_is_from_intended_service_from_sent() {
        let mut s = Stats::new(Duration::from_secs(5));
        s.record(&outcome(
            1_000_000_000,
            1_003_000_000,
            1_010_000_000,
            Some(200),
            None,
        ));
        s.record(&outcome(
            2_000_000_000,
            2_000_000_000,
            0,
            None,
            Some(ErrorKind::Timeout),
        ));
        s.record(&outcome(
            3_000_000_000,
            0,
            0,
            None,
            Some(ErrorKind::ConnectRefused),
        ));
        assert_eq!((s.sent, s.completed, s.error_total()), (2, 1, 2));
        assert_eq!(s.latency.len(), 2);
        // HDR at 3 significant digits: within 0.1%.
        let near = |a: f64, b: f64| (a - b).abs() <= b / 1000.0;
        assert!(near(s.latency.quantile_ms(0.0), 10.0));
        assert!(near(s.service.quantile_ms(0.0), 7.0));
        assert!((s.latency.quantile_ms(1.0) - 5_000.0).abs() < 5.0);
        assert!(near(s.lag.quantile_ms(1.0), 3.0));
        assert_eq!(s.production_status.get(&200), Some(&3));
        assert_eq!(s.achieved_rate(), 1.0 / 0.997);
    }

    #[test]
    fn json_has_the_documented_keys() {
        let summary = ReplaySummary {
            stats: Stats::new(Duration::from_secs(1)),
            plan: PlanStats::default(),
            released: 0,
            duration: Duration::from_secs(1),
            connections: 0,
            shard: (0, 1),
            targets: vec!["http://s:1".into()],
            results: None,
            baseline: None,
            comparison: None,
            interrupted: None,
        };
        let v = summary.to_json();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        for k in [
            "sent",
            "completed",
            "skipped",
            "errors",
            "duration_s",
            "achieved_rate",
            "schedule_lag_ms",
            "production",
            "staging",
        ] {
            assert!(keys.contains(&k), "{k} missing from {keys:?}");
        }
        assert!(v["staging"].get("service_ms").is_some());
        assert_eq!(v["baseline"], Value::Null);
        assert!(v["errors"].get("connect_refused").is_some());
    }
}
