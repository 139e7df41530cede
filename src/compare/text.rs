//! The terminal table: overall first, then endpoints worst first, then the gates' verdicts.
//! Every line fits in [`WIDTH`] columns.

use std::io::{self, Write};

use super::gate::GateVerdict;
use super::hist::ms;
use super::report::{Comparison, EndpointFigures, Reference};
use super::stats::Verdict;

/// Columns every line fits in.
pub const WIDTH: usize = 100;

/// What the table shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextOptions {
    /// Endpoints listed after the overall line; the rest are summed up in one line.
    pub max_endpoints: usize,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions { max_endpoints: 20 }
    }
}

/// A duration in ms, in at most 6 characters: `812µs`, `1.23ms`, `12.3ms`, `123ms`, `1.23s`.
pub fn duration_ms(value: f64) -> String {
    let us = value * 1000.0;
    if !us.is_finite() {
        return "-".into();
    }
    let sign = if us < 0.0 { "-" } else { "" };
    let us = us.abs();
    let body = if us < 999.5 {
        format!("{us:.0}µs")
    } else if us < 9_995.0 {
        format!("{:.2}ms", us / 1e3)
    } else if us < 99_950.0 {
        format!("{:.1}ms", us / 1e3)
    } else if us < 999_500.0 {
        format!("{:.0}ms", us / 1e3)
    } else if us < 9_995_000.0 {
        format!("{:.2}s", us / 1e6)
    } else if us < 99_950_000.0 {
        format!("{:.1}s", us / 1e6)
    } else {
        format!("{:.0}s", us / 1e6)
    };
    format!("{sign}{body}")
}

/// A fraction as a percentage in at most 6 characters: `0%`, `<0.01%`, `1.23%`, `12.3%`, `100%`.
pub fn percent(fraction: f64) -> String {
    let p = fraction * 100.0;
    if !p.is_finite() {
        "-".into()
    } else if p == 0.0 {
        "0%".into()
    } else if p < 0.005 {
        "<0.01%".into()
    } else if p < 9.995 {
        format!("{p:.2}%")
    } else if p < 99.95 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

/// A count in at most 6 characters: `999999`, `1.23M`, `12.3M`, `123M`, `1.23G`.
pub fn count(n: u64) -> String {
    let f = n as f64;
    if n < 1_000_000 {
        n.to_string()
    } else if f < 9.995e6 {
        format!("{:.2}M", f / 1e6)
    } else if f < 99.95e6 {
        format!("{:.1}M", f / 1e6)
    } else if f < 999.5e6 {
        format!("{:.0}M", f / 1e6)
    } else {
        format!("{:.2}G", f / 1e9)
    }
}

/// A ratio: `0.98x`, `12.3x`, `123x`.
pub fn ratio(r: f64) -> String {
    if r < 9.995 {
        format!("{r:.2}x")
    } else if r < 99.95 {
        format!("{r:.1}x")
    } else {
        format!("{r:.0}x")
    }
}

/// `text` cut to `width` characters, the middle replaced by `…` when it is longer.
fn fit(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n <= width {
        return text.to_string();
    }
    let head = (width - 1) / 2;
    let tail = width - 1 - head;
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(n - tail).collect();
    format!("{start}…{end}")
}

/// `text` cut to `width` characters at the end.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut s: String = text.chars().take(width - 1).collect();
    s.push('…');
    s
}

/// Words of `text` wrapped to lines of at most `width` characters, each starting with `indent`.
fn wrap(text: &str, indent: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let room = width.saturating_sub(indent.chars().count());
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > room {
            lines.push(format!("{indent}{line}"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&cut(word, room));
    }
    if !line.is_empty() {
        lines.push(format!("{indent}{line}"));
    }
    lines
}

fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::NotEnoughData => "too few",
        v => v.as_str(),
    }
}

const ENDPOINT_WIDTH: usize = 30;

fn row(ep: &EndpointFigures) -> String {
    let reference = ep.reference_side();
    let lat = |side: &super::report::SideFigures, p99: bool| {
        side.latency.map_or("-".to_string(), |l| {
            duration_ms(ms(if p99 { l.p99 } else { l.p50 }))
        })
    };
    let name = if ep.gate_failures > 0 {
        format!("! {}", ep.endpoint)
    } else {
        ep.endpoint.clone()
    };
    let ratio_text = ep
        .reference_agreement()
        .ratio
        .map_or("-".to_string(), |r| ratio(r.p50));
    format!(
        "{:<ew$} {:>7} {:>6} {:>6} {:>6} {:>6} {:>6}  {:<7} {:>6} {:>6}",
        fit(&name, ENDPOINT_WIDTH),
        count(ep.staging.requests),
        lat(reference, false),
        lat(reference, true),
        lat(&ep.staging, false),
        lat(&ep.staging, true),
        ratio_text,
        verdict_text(ep.shift.verdict),
        ep.status_mismatch.map_or("-".to_string(), percent),
        ep.staging.error_rate.map_or("-".to_string(), percent),
        ew = ENDPOINT_WIDTH,
    )
}

impl Comparison {
    /// Writes the table, the gates and the notes; every line fits in [`WIDTH`] columns.
    pub fn write_text(&self, out: &mut dyn Write, options: &TextOptions) -> io::Result<()> {
        let reference = self.reference.as_str();
        let endpoints = self.endpoints.len();
        writeln!(
            out,
            "{}",
            cut(
                &format!(
                    "comparison: {} requests, {} endpoint{}, staging against {reference}",
                    self.overall.staging.requests,
                    endpoints,
                    if endpoints == 1 { "" } else { "s" },
                ),
                WIDTH
            )
        )?;
        if let (Some(noise), Some(agreement)) = (
            &self.overall.baseline_shift,
            &self.overall.baseline_vs_production,
        ) {
            let line = format!(
                "baseline against production (the environment's own noise): {}, effect size {}, \
                 status mismatch {}",
                verdict_text(noise.verdict),
                noise
                    .effect_size
                    .map_or("-".to_string(), |e| format!("{e:.2}")),
                agreement.mismatch_rate.map_or("-".to_string(), percent),
            );
            for l in wrap(&line, "", WIDTH) {
                writeln!(out, "{l}")?;
            }
        }
        writeln!(out)?;
        let group = match self.reference {
            Reference::Production => "─ production ─",
            Reference::Baseline => "── baseline ──",
        };
        writeln!(
            out,
            "{:<ew$} {:>7} {group} ── staging ───",
            "",
            "",
            ew = ENDPOINT_WIDTH
        )?;
        writeln!(
            out,
            "{:<ew$} {:>7} {:>6} {:>6} {:>6} {:>6} {:>6}  {:<7} {:>6} {:>6}",
            "endpoint",
            "reqs",
            "p50",
            "p99",
            "p50",
            "p99",
            "ratio",
            "latency",
            "status",
            "errors",
            ew = ENDPOINT_WIDTH
        )?;
        writeln!(out, "{}", row(&self.overall))?;
        for ep in self.endpoints.iter().take(options.max_endpoints) {
            writeln!(out, "{}", row(ep))?;
        }
        if endpoints > options.max_endpoints {
            let rest = &self.endpoints[options.max_endpoints..];
            let requests: u64 = rest.iter().map(|e| e.staging.requests).sum();
            writeln!(
                out,
                "… {} more endpoints with {} requests (all of them in --json and --report)",
                rest.len(),
                requests
            )?;
        }
        writeln!(
            out,
            "{}",
            cut(
                "ratio: median staging/reference per request · status: share in another status class · \
                 !: gate failed",
                WIDTH
            )
        )?;
        if !self.gates.is_empty() {
            writeln!(out)?;
            let failed = self.failed_gates().count();
            let unsure = self
                .gates
                .iter()
                .filter(|g| g.verdict == GateVerdict::NotEnoughData && !g.failed)
                .count();
            writeln!(out, "gates:")?;
            for gate in &self.gates {
                for (i, line) in wrap(&gate.to_string(), "", WIDTH - 6).iter().enumerate() {
                    let indent = if i == 0 { "  " } else { "      " };
                    writeln!(out, "{indent}{line}")?;
                }
            }
            let n = self.gates.len();
            let gates = |n: usize| if n == 1 { "gate" } else { "gates" };
            let summary = if failed > 0 {
                format!("FAILED: {failed} of {n} {} failed", gates(n))
            } else if unsure > 0 {
                format!(
                    "PASSED: {} {} hold, {unsure} could not be judged (let pass by \
                     --allow-insufficient)",
                    n - unsure,
                    gates(n - unsure)
                )
            } else if n == 1 {
                "PASSED: the gate holds".to_string()
            } else {
                format!("PASSED: all {n} gates hold")
            };
            // A run stopped before its end never reads as a pass.
            let summary = match (&self.cut_short, summary.strip_prefix("PASSED: ")) {
                (Some(line), Some(rest)) => {
                    format!("{line}: not a pass ({rest}, on the part that ran)")
                }
                _ => summary,
            };
            writeln!(out, "{summary}")?;
        }
        for note in &self.notes {
            for line in wrap(&format!("note: {note}"), "", WIDTH) {
                writeln!(out, "{line}")?;
            }
        }
        Ok(())
    }

    /// The table as a string (see [`Comparison::write_text`]).
    pub fn text(&self, options: &TextOptions) -> String {
        let mut out = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = self.write_text(&mut out, options);
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// One warning line on stderr per gate that could not be judged and was let pass
/// (`--allow-insufficient`): never a silent pass.
pub fn warn_insufficient(gates: &[super::GateResult]) {
    for g in gates
        .iter()
        .filter(|g| g.verdict == GateVerdict::NotEnoughData && !g.failed)
    {
        crate::logline::warn(&format!(
            "warning: gate '{}' could not be judged ({}): passing because of --allow-insufficient",
            g.expr,
            g.note.as_deref().unwrap_or("not enough data")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_fit_their_columns() {
        assert_eq!(duration_ms(0.8124), "812µs");
        assert_eq!(duration_ms(0.9996), "1.00ms");
        assert_eq!(duration_ms(1.234), "1.23ms");
        assert_eq!(duration_ms(9.996), "10.0ms");
        assert_eq!(duration_ms(12.34), "12.3ms");
        assert_eq!(duration_ms(99.96), "100ms");
        assert_eq!(duration_ms(999.6), "1.00s");
        assert_eq!(duration_ms(12_345.0), "12.3s");
        assert_eq!(duration_ms(-2.5), "-2.50ms");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(0.00004), "<0.01%");
        assert_eq!(percent(0.01234), "1.23%");
        assert_eq!(percent(0.1234), "12.3%");
        assert_eq!(percent(1.0), "100%");
        assert_eq!(count(999_999), "999999");
        assert_eq!(count(1_000_000), "1.00M");
        assert_eq!(count(12_345_678), "12.3M");
        assert_eq!(ratio(1.2345), "1.23x");
        assert_eq!(ratio(123.0), "123x");
    }

    #[test]
    fn long_names_lose_their_middle() {
        assert_eq!(fit("GET /short", 30), "GET /short");
        let long = "GET /api/v1/organisations/{id}/projects/{id}/members";
        let f = fit(long, 30);
        assert_eq!(f.chars().count(), 30);
        assert_eq!(f, "GET /api/v1/or…ts/{id}/members");
        assert_eq!(wrap("aaa bbb ccc", "  ", 9), ["  aaa bbb", "  ccc"]);
    }
}
