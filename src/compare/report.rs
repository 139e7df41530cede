//! The finished comparison: figures per endpoint and overall, shift tests, gate verdicts, notes.
//!
//! [`Accumulator::finish`] turns counters and histograms into a [`Comparison`], which the
//! terminal table ([`super::text`]), the JSON (`Serialize`, keys in `docs/JSON.md`) and the HTML
//! report ([`super::html`]) all read.

use hdrhistogram::Histogram;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::accumulate::{
    Accumulator, AgreementAcc, CLASSES, Counts, EndpointAcc, Example, NONE, SideAcc,
};
use super::gate::{Gate, GateResult, Judging};
use super::hist::{Latency, ms};
use super::stats::{Shift, Thresholds, Verdict};
use super::timeline::TimelineFigures;
use crate::exchange::ErrorKind;

/// The name the overall figures go by.
pub const OVERALL: &str = "overall";

/// Endpoints (worst first) whose histograms are kept for plots, besides the overall ones.
pub const PLOTTED: usize = 5;

/// What staging is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reference {
    /// Production, from the copies of its status and latency in each result.
    Production,
    /// The baseline target set, replayed at the same moments.
    Baseline,
}

impl Reference {
    /// The reference's name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Reference::Production => "production",
            Reference::Baseline => "baseline",
        }
    }
}

/// Counts by status class, written as `{"1xx": n, …, "5xx": n, "none": n}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClassCounts(pub [u64; 6]);

impl Serialize for ClassCounts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(6))?;
        for (name, n) in CLASSES.iter().zip(self.0) {
            map.serialize_entry(name, &n)?;
        }
        map.end()
    }
}

/// Counts by transport error kind, written as `{"connect_refused": n, …}` (every kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ErrorCounts(pub [u64; 7]);

impl Serialize for ErrorCounts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(7))?;
        for (kind, n) in ErrorKind::ALL.iter().zip(self.0) {
            map.serialize_entry(kind.as_str(), &n)?;
        }
        map.end()
    }
}

/// A confusion matrix, rows the reference's class, columns staging's, written as
/// `{"2xx": {"2xx": n, "5xx": n, …}, …}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Matrix(pub [[u64; 6]; 6]);

impl Serialize for Matrix {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(6))?;
        for (name, row) in CLASSES.iter().zip(&self.0) {
            map.serialize_entry(name, &ClassCounts(*row))?;
        }
        map.end()
    }
}

/// One side's figures: production, the candidate ("staging") or the baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideFigures {
    /// Requests (production: exchanges; staging: replayed requests, sent or not).
    pub requests: u64,
    /// Status-class mix; `none` = no response.
    pub status: ClassCounts,
    /// Transport errors by kind (`null` for production, which has none).
    pub errors: Option<ErrorCounts>,
    /// Errors over requests (production: exchanges with no response over exchanges).
    pub error_rate: Option<f64>,
    /// 4xx responses over requests.
    #[serde(rename = "4xx_rate")]
    pub rate_4xx: Option<f64>,
    /// 5xx responses over requests.
    #[serde(rename = "5xx_rate")]
    pub rate_5xx: Option<f64>,
    /// Latency percentiles, ms (staging: from the intended send time).
    pub latency: Option<Latency>,
    /// Values behind `latency`.
    pub latency_samples: u64,
    /// Service time percentiles, ms (staging only).
    pub service: Option<Latency>,
    /// Values behind `service`.
    pub service_samples: u64,
    /// Schedule lag percentiles, ms (staging only).
    pub lag: Option<Latency>,
    /// Timeouts left out of `latency` because the timeout was not known.
    pub timeouts_unmeasured: u64,
    /// Transport errors in total.
    #[serde(skip)]
    pub error_total: u64,
}

fn rate(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

fn side_figures(side: &SideAcc, production: bool) -> (SideFigures, Histogram<u64>) {
    let latency = side.latency.histogram();
    let service = side.service.histogram();
    let lag = side.lag.histogram();
    let error_total: u64 = side.errors.iter().sum();
    let errors_counted = if production {
        side.classes[NONE]
    } else {
        error_total
    };
    let figures = SideFigures {
        requests: side.requests,
        status: ClassCounts(side.classes),
        errors: (!production).then_some(ErrorCounts(side.errors)),
        error_rate: rate(errors_counted, side.requests),
        rate_4xx: rate(side.classes[3], side.requests),
        rate_5xx: rate(side.classes[4], side.requests),
        latency: Latency::of(&latency),
        latency_samples: latency.len(),
        service: Latency::of(&service),
        service_samples: service.len(),
        lag: Latency::of(&lag),
        timeouts_unmeasured: side.timeouts_unmeasured,
        error_total,
    };
    (figures, latency)
}

/// One exact (reference code, staging code) pair; `null` = no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CodeCount {
    /// The reference's status code.
    pub reference: Option<u16>,
    /// Staging's status code.
    pub staging: Option<u16>,
    /// Requests with this pair.
    pub count: u64,
}

/// The distribution of per-request latency ratios staging / reference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RatioFigures {
    /// Requests with both latencies known.
    pub samples: u64,
    /// Median ratio.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest ratio.
    pub max: f64,
    /// Share of requests slower on staging than on the reference (ratio above 1).
    pub slower_share: f64,
}

impl RatioFigures {
    fn of(hist: &Histogram<u64>) -> Option<RatioFigures> {
        let l = Latency::of(hist)?;
        let at_most_one = hist.count_between(0, 1000);
        Some(RatioFigures {
            samples: hist.len(),
            p50: l.p50 as f64 / 1000.0,
            p90: l.p90 as f64 / 1000.0,
            p99: l.p99 as f64 / 1000.0,
            p999: l.p999 as f64 / 1000.0,
            max: l.max as f64 / 1000.0,
            slower_share: (hist.len() - at_most_one.min(hist.len())) as f64 / hist.len() as f64,
        })
    }
}

/// Request-by-request agreement of staging with a reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agreement {
    /// Requests compared (against production: those with a recorded production status).
    pub pairs: u64,
    /// Requests whose status class differs.
    pub mismatched: u64,
    /// `mismatched / pairs`.
    pub mismatch_rate: Option<f64>,
    /// Confusion matrix: reference class → staging class → requests.
    pub matrix: Matrix,
    /// Exact code pairs, most frequent first (at most 64 kept).
    pub codes: Vec<CodeCount>,
    /// Requests whose code pair was beyond the 64 kept.
    pub codes_folded: u64,
    /// Per-request latency ratios staging / reference.
    pub ratio: Option<RatioFigures>,
    /// Up to 5 mismatching requests.
    pub examples: Vec<Example>,
}

/// The agreement's figures. Against production, exchanges whose response the capture did not
/// record (reference class `none`) stay in the matrix but out of `pairs` and `mismatched`: there
/// is no production status to agree with. A baseline with no response did fail, and counts.
fn agreement(acc: &AgreementAcc, against_production: bool) -> (Agreement, Histogram<u64>) {
    let rows = if against_production { NONE } else { 6 };
    let pairs: u64 = acc.matrix.iter().take(rows).flatten().sum();
    let same: u64 = (0..rows).map(|i| acc.matrix[i][i]).sum();
    let mut codes: Vec<CodeCount> = acc
        .codes
        .iter()
        .map(|(&(r, s), &count)| CodeCount {
            reference: (r != 0).then_some(r),
            staging: (s != 0).then_some(s),
            count,
        })
        .collect();
    codes.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(a.reference.cmp(&b.reference))
            .then(a.staging.cmp(&b.staging))
    });
    let ratios = acc.ratios.histogram();
    let figures = Agreement {
        pairs,
        mismatched: pairs - same,
        mismatch_rate: rate(pairs - same, pairs),
        matrix: Matrix(acc.matrix),
        codes,
        codes_folded: acc.codes_folded,
        ratio: RatioFigures::of(&ratios),
        examples: acc.examples.clone(),
    };
    (figures, ratios)
}

/// The histograms behind an endpoint's figures, for plots.
#[derive(Debug, Clone)]
pub struct Hists {
    /// Production latency, µs.
    pub production: Histogram<u64>,
    /// Staging (candidate) latency, µs.
    pub staging: Histogram<u64>,
    /// Baseline latency, µs, when there is a baseline.
    pub baseline: Option<Histogram<u64>>,
    /// Per-request ratios staging / reference, in thousandths.
    pub ratio: Histogram<u64>,
}

/// Everything reported about one endpoint (or overall).
#[derive(Debug, Clone, Serialize)]
pub struct EndpointFigures {
    /// The endpoint template, or `overall`.
    pub endpoint: String,
    /// Production, from the candidate results' copies.
    pub production: SideFigures,
    /// The candidate target set.
    pub staging: SideFigures,
    /// The baseline target set (`null` without one).
    pub baseline: Option<SideFigures>,
    /// Latency shift of staging against the reference.
    pub shift: Shift,
    /// Latency shift of the baseline against production: the environment's own noise.
    pub baseline_shift: Option<Shift>,
    /// Share of requests whose status class differs from the reference's.
    pub status_mismatch: Option<f64>,
    /// Staging against production, request by request.
    pub vs_production: Agreement,
    /// Staging against the baseline, for paired requests.
    pub vs_baseline: Option<Agreement>,
    /// The baseline against production.
    pub baseline_vs_production: Option<Agreement>,
    /// Gates scoped to this endpoint that failed.
    pub gate_failures: u64,
    /// The histograms, for plots: kept for the overall figures and the [`PLOTTED`] worst
    /// endpoints only.
    #[serde(skip)]
    pub hists: Option<Hists>,
}

impl EndpointFigures {
    /// The agreement with the reference (baseline when there is one, else production).
    pub fn reference_agreement(&self) -> &Agreement {
        self.vs_baseline.as_ref().unwrap_or(&self.vs_production)
    }

    /// The reference side's figures.
    pub fn reference_side(&self) -> &SideFigures {
        self.baseline.as_ref().unwrap_or(&self.production)
    }

    /// How bad it looks, 0 to 1, after gate failures: the largest of the slowdown's effect
    /// (2·(CLES − 0.5) when the verdict is "slower"), the status mismatch and the error rate.
    pub fn severity(&self) -> f64 {
        let slowdown = match (self.shift.verdict, self.shift.effect_size) {
            (Verdict::Slower, Some(e)) => 2.0 * (e - 0.5),
            _ => 0.0,
        };
        slowdown
            .max(self.status_mismatch.unwrap_or(0.0))
            .max(self.staging.error_rate.unwrap_or(0.0))
    }
}

fn endpoint_figures(
    name: &str,
    acc: &EndpointAcc,
    reference: Reference,
    thresholds: &Thresholds,
    keep_hists: bool,
) -> EndpointFigures {
    let (production, production_hist) = side_figures(&acc.production, true);
    let (staging, staging_hist) = side_figures(&acc.candidate, false);
    let (vs_production, ratio_production) = agreement(&acc.candidate_vs_production, true);
    let with_baseline = reference == Reference::Baseline;
    let (baseline, baseline_hist, vs_baseline, baseline_vs_production, ratio) = if with_baseline {
        let (b, bh) = side_figures(&acc.baseline, false);
        let (vb, ratio) = agreement(&acc.candidate_vs_baseline, false);
        let (bvp, _) = agreement(&acc.baseline_vs_production, true);
        (Some(b), Some(bh), Some(vb), Some(bvp), ratio)
    } else {
        (None, None, None, None, ratio_production)
    };
    let reference_hist = baseline_hist.as_ref().unwrap_or(&production_hist);
    let shift = Shift::test(&staging_hist, reference_hist, thresholds);
    let baseline_shift = baseline_hist
        .as_ref()
        .map(|b| Shift::test(b, &production_hist, thresholds));
    let status_mismatch = vs_baseline.as_ref().unwrap_or(&vs_production).mismatch_rate;
    EndpointFigures {
        endpoint: name.to_string(),
        production,
        staging,
        baseline,
        shift,
        baseline_shift,
        status_mismatch,
        vs_production,
        vs_baseline,
        baseline_vs_production,
        gate_failures: 0,
        hists: keep_hists.then_some(Hists {
            production: production_hist,
            staging: staging_hist,
            baseline: baseline_hist,
            ratio,
        }),
    }
}

/// The settings the figures were read with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// Minimum values per side for a verdict.
    pub min_samples: u64,
    /// CLES must be beyond 0.5 ± this for "slower"/"faster".
    pub effect_size_margin: f64,
    /// Minimum Hodges–Lehmann shift, ms …
    pub min_shift_ms: f64,
    /// … and minimum shift as a fraction of the reference median.
    pub min_shift_relative: f64,
    /// True when "not enough data" fails a gate (the default; false with
    /// `--allow-insufficient`).
    pub strict: bool,
    /// Two-sided confidence of the gates' intervals.
    pub confidence: f64,
    /// Values from which a gate whose interval overlaps its limit reads its point estimate.
    pub point_estimate_from: u64,
    /// Endpoints kept before folding into "(other endpoints)".
    pub max_endpoints: usize,
    /// The replay's timeout, when known, ms.
    pub timeout_ms: Option<f64>,
}

/// A gate scope that names no endpoint of the results: exit 2, with the closest names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--fail-if '{expr}': no endpoint {scope:?} in these results{}", hint(.closest))]
pub struct UnknownScope {
    /// The expression as typed.
    pub expr: String,
    /// Its scope.
    pub scope: String,
    /// The closest endpoint names, closest first (at most 3).
    pub closest: Vec<String>,
}

fn hint(closest: &[String]) -> String {
    match closest {
        [] => String::new(),
        [one] => format!("; did you mean {one}?"),
        [rest @ .., last] => format!("; did you mean {} or {last}?", rest.join(", ")),
    }
}

impl UnknownScope {
    /// The error for `gate`'s `scope`, the closest of `names` by edit distance (Damerau–
    /// Levenshtein, normalised, case-folded) named: those within 0.5 of it, else the closest
    /// one.
    fn new<'a>(gate: &Gate, scope: &str, names: impl Iterator<Item = &'a str>) -> UnknownScope {
        let wanted = scope.to_lowercase();
        let mut scored: Vec<(f64, &str)> = names
            .map(|n| {
                (
                    strsim::normalized_damerau_levenshtein(&wanted, &n.to_lowercase()),
                    n,
                )
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        let close: Vec<String> = scored
            .iter()
            .filter(|(s, _)| *s >= 0.5)
            .take(3)
            .map(|(_, n)| (*n).to_string())
            .collect();
        let closest = if close.is_empty() {
            scored
                .first()
                .map(|(_, n)| (*n).to_string())
                .into_iter()
                .collect()
        } else {
            close
        };
        UnknownScope {
            expr: gate.expr.clone(),
            scope: scope.to_string(),
            closest,
        }
    }
}

/// A typo in a gate: the user's to fix.
impl crate::exit::Classify for UnknownScope {
    fn status(&self) -> crate::exit::Status {
        crate::exit::Status::BadInput
    }
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// True when no gate failed.
    pub passed: bool,
    /// What staging was compared with.
    pub reference: Reference,
    /// Every gate, in the order given.
    pub gates: Vec<GateResult>,
    /// All endpoints together.
    pub overall: EndpointFigures,
    /// Per endpoint, worst first: gate failures, then [`EndpointFigures::severity`].
    pub endpoints: Vec<EndpointFigures>,
    /// Results counted outside the per-endpoint figures.
    pub counts: Counts,
    /// The settings used.
    pub settings: Settings,
    /// Things the reader should know (caps reached, results left out).
    pub notes: Vec<String>,
    /// The run over time: per-second (or coarser, for long runs) buckets of intended send time
    /// (`null` when no result had one).
    pub timeline: Option<TimelineFigures>,
    /// Set by [`Comparison::cut_short`]: the line saying the run was stopped before its end, so
    /// the verdict covers only the part that ran and is never a pass.
    #[serde(skip)]
    pub cut_short: Option<String>,
}

impl Comparison {
    /// Marks a run stopped before its end (a signal): `line` says so; the verdict covers the part
    /// that ran, is never a pass, and its text line says why.
    pub fn cut_short(&mut self, line: String) {
        self.passed = false;
        self.notes.push(format!(
            "{line}: the figures and gates cover the part that ran; the run did not pass"
        ));
        self.cut_short = Some(line);
    }

    /// The comparison as JSON (keys documented in `docs/JSON.md`).
    pub fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self)
    }

    /// When a target set answered none of its requests: whether it is the baseline, and the
    /// causes, most frequent first (`connection refused × 640`).
    pub fn no_response(&self) -> Option<(bool, String)> {
        let none = |side: &SideFigures| {
            let errors = side.errors?;
            (side.requests > 0 && side.status.0[NONE] == side.requests && side.error_total > 0)
                .then(|| crate::exchange::causes(&errors.0))
        };
        none(&self.overall.staging)
            .map(|c| (false, c))
            .or_else(|| Some((true, none(self.overall.baseline.as_ref()?)?)))
    }

    /// Gates that failed.
    pub fn failed_gates(&self) -> impl Iterator<Item = &GateResult> {
        self.gates.iter().filter(|g| g.failed)
    }
}

impl Accumulator {
    /// The first gate whose scope names no endpoint of these results, with the closest names:
    /// a typo the user must fix (`docs/GATES.md`, "Scope").
    pub fn check_scopes(&self, gates: &[Gate]) -> Result<(), UnknownScope> {
        for gate in gates {
            let Some(scope) = &gate.scope else {
                continue;
            };
            if self.find_endpoint(scope).is_none() {
                return Err(UnknownScope::new(
                    gate,
                    scope,
                    self.endpoints.iter().map(|(name, _)| name.as_str()),
                ));
            }
        }
        Ok(())
    }

    /// The endpoint a scope names: exactly, or once templated (`GET /users/42`).
    fn find_endpoint(&self, scope: &str) -> Option<usize> {
        if let Some(i) = self.endpoints.iter().position(|(e, _)| e == scope) {
            return Some(i);
        }
        let (method, path) = scope.split_once(' ')?;
        let templated = self.config.templater.template(method, path.trim());
        self.endpoints.iter().position(|(e, _)| *e == templated)
    }

    /// Finishes the comparison: figures, shift tests, the gates' verdicts (judged as `judging`
    /// says; `docs/GATES.md`) and notes. Results still waiting for a partner from the other
    /// target set count as unpaired.
    pub fn finish(mut self, gates: &[Gate], judging: &Judging) -> Comparison {
        self.close_pairing();
        let reference = if self.counts.baseline > 0 {
            Reference::Baseline
        } else {
            Reference::Production
        };
        let thresholds = self.config.thresholds;
        let mut all = EndpointAcc::default();
        for (_, ep) in &self.endpoints {
            all.merge(ep);
        }
        all.candidate.lag = std::mem::take(&mut self.run_wide.candidate_lag);
        all.baseline.lag = std::mem::take(&mut self.run_wide.baseline_lag);
        all.baseline_vs_production.ratios = std::mem::take(&mut self.run_wide.baseline_ratios);
        let mut overall = endpoint_figures(OVERALL, &all, reference, &thresholds, true);
        let mut endpoints: Vec<EndpointFigures> = self
            .endpoints
            .iter()
            .map(|(name, acc)| endpoint_figures(name, acc, reference, &thresholds, false))
            .collect();

        let mut results = Vec::with_capacity(gates.len());
        for gate in gates {
            // None: overall; Some(None): a scope that matched no endpoint. `endpoints` is still
            // in the order of `self.endpoints`.
            let scope = gate.scope.as_ref().map(|s| self.find_endpoint(s));
            let figures = match scope {
                None => Some((&overall, &all)),
                Some(i) => i.and_then(|i| Some((endpoints.get(i)?, &self.endpoints.get(i)?.1))),
            };
            let result = match figures {
                Some((figures, acc)) => gate.evaluate(figures, Some(acc), reference, judging),
                None => gate.unmatched(judging),
            };
            if result.failed {
                match scope {
                    None => overall.gate_failures += 1,
                    Some(i) => {
                        if let Some(e) = i.and_then(|i| endpoints.get_mut(i)) {
                            e.gate_failures += 1;
                        }
                    }
                }
            }
            results.push(result);
        }
        drop(all);
        endpoints.sort_by(|a, b| {
            b.gate_failures
                .cmp(&a.gate_failures)
                .then(b.severity().total_cmp(&a.severity()))
                .then(b.staging.requests.cmp(&a.staging.requests))
                .then(a.endpoint.cmp(&b.endpoint))
        });
        for figures in endpoints.iter_mut().take(PLOTTED) {
            let acc = self
                .endpoints
                .iter()
                .find(|(name, _)| *name == figures.endpoint);
            if let Some((name, acc)) = acc {
                figures.hists = endpoint_figures(name, acc, reference, &thresholds, true).hists;
            }
        }

        let notes = self.notes(&overall, reference);
        let timeline = self.timeline.figures(reference == Reference::Baseline);
        Comparison {
            passed: !results.iter().any(|r| r.failed),
            reference,
            gates: results,
            overall,
            endpoints,
            counts: self.counts,
            settings: Settings {
                min_samples: thresholds.min_samples,
                effect_size_margin: thresholds.effect_size_margin,
                min_shift_ms: ms(thresholds.min_shift_us),
                min_shift_relative: thresholds.min_shift_relative,
                strict: !judging.allow_insufficient,
                confidence: judging.confidence,
                point_estimate_from: judging.point_estimate_from,
                max_endpoints: self.config.max_endpoints,
                timeout_ms: self.config.timeout_ns.map(|ns| ns as f64 / 1e6),
            },
            notes,
            timeline,
            cut_short: None,
        }
    }

    fn notes(&self, overall: &EndpointFigures, reference: Reference) -> Vec<String> {
        let c = &self.counts;
        let mut notes = Vec::new();
        if c.folded > 0 {
            notes.push(format!(
                "{} results of endpoints beyond the first {} are counted under \"{}\"",
                c.folded,
                self.config.max_endpoints,
                super::accumulate::OTHER_ENDPOINT
            ));
        }
        if c.warmup > 0 {
            notes.push(format!(
                "{} warmup results are left out of every figure",
                c.warmup
            ));
        }
        let unmeasured = overall.staging.timeouts_unmeasured
            + overall
                .baseline
                .as_ref()
                .map_or(0, |b| b.timeouts_unmeasured);
        if unmeasured > 0 {
            notes.push(format!(
                "{unmeasured} timeouts are counted as errors but left out of latency: the timeout \
                 is not known (pass --timeout)"
            ));
        }
        if reference == Reference::Baseline && (c.unpaired_candidate + c.unpaired_baseline) > 0 {
            notes.push(format!(
                "{} candidate and {} baseline results had no partner from the other target set \
                 and are left out of the request-by-request comparison",
                c.unpaired_candidate, c.unpaired_baseline
            ));
            if c.pair_evicted > 0 {
                notes.push(format!(
                    "{} of them waited longer than the pairing window of {} results",
                    c.pair_evicted, self.config.pair_window
                ));
            }
        }
        if c.unknown_role > 0 {
            notes.push(format!(
                "{} results with an unknown role (neither candidate nor baseline) are ignored",
                c.unknown_role
            ));
        }
        if c.candidate == 0 {
            notes.push("no candidate results: nothing to compare".into());
        }
        notes
    }
}
