//! What a finished shadow run says: its figures (capture, dispatch and drops, staging's and
//! production's latency and status), as the human summary, the `--json` document, the closing
//! counters of `--results` and the parameters of the HTML report.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::ShadowConfig;
use super::dispatch::{Dispatcher, DropReason, Figures};
use super::sink::SinkOutcome;
use crate::metrics::human_bytes;
use crate::record::Recorder;
use crate::record::live::InterfaceTotals;
use crate::replay::stats::{Stats, errors_json, status_json};

/// The figures of a finished shadow run: capture, dispatch, staging's and production's side.
pub struct Report {
    interfaces: Vec<String>,
    ports: Vec<u16>,
    timeout: Duration,
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
    /// The report of a run that captured with `recorder`, dispatched with `figures` and ended
    /// with the sink's `outcome`.
    pub(crate) fn new(
        config: &ShadowConfig,
        recorder: &Recorder<Dispatcher>,
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
            interfaces: config.live.capture.interfaces.clone(),
            ports: config.ports.clone(),
            timeout: config.timeout,
            targets: config
                .plan
                .targets
                .list
                .iter()
                .map(|t| t.url.clone())
                .collect(),
            results: config.results.as_ref().map(|p| p.display().to_string()),
            secs: started.elapsed().as_secs_f64(),
            capture,
            skipped: recorder.sink().skipped().clone(),
            multiply: config.limits.multiply,
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
    pub fn counters(&self) -> Vec<(String, u64)> {
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

    /// The human summary, lines ending in newlines.
    pub fn human(&self) -> String {
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

    /// The `--json` document (the comparison's keys are added by the caller).
    pub fn json(&self) -> serde_json::Value {
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

    /// Staging's figures (the candidate target set).
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

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

    /// The target set that answered nothing, candidate first, with the counted causes.
    pub fn no_response(&self) -> Option<crate::replay::ReplayError> {
        let (targets, causes) = self
            .stats
            .no_response()
            .map(|causes| (self.candidate_targets(), causes))
            .or_else(|| {
                let causes = self.baseline.as_ref()?.no_response()?;
                Some((self.targets.last().cloned().unwrap_or_default(), causes))
            })?;
        Some(crate::replay::ReplayError::NoResponse { targets, causes })
    }

    /// The report's title: the command that made it, `reel shadow eth0 → http://staging:8080`.
    pub fn title(&self) -> String {
        format!(
            "reel shadow {} → {}",
            self.interfaces.join(", "),
            self.targets.join(", ")
        )
    }

    /// The run's parameters as the HTML report shows them; `fail_if` are the gates as typed.
    pub fn parameters(&self, fail_if: &[String]) -> BTreeMap<String, String> {
        let mut p = BTreeMap::new();
        p.insert(
            "capture".into(),
            format!(
                "{} port {}",
                self.interfaces.join(", "),
                self.ports
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
            humantime::format_duration(self.timeout).to_string(),
        );
        if !fail_if.is_empty() {
            p.insert("gates".into(), fail_if.join("   "));
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

/// `queue_full 0, connection_busy 3, …` with the total first.
pub fn drops_text(figures: &Figures) -> String {
    let parts: Vec<String> = DropReason::ALL
        .iter()
        .map(|r| format!("{} {}", r.as_str(), figures.dropped(*r).get()))
        .collect();
    format!("{} ({})", figures.dropped_total(), parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
