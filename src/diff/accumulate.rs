//! Per-request differences → per (endpoint, path) counters, difference signatures, noise
//! evidence and examples, in memory bounded by the number of paths (never by the number of
//! requests); two accumulators of shards merge into exactly the one of the whole.
//!
//! With a baseline, each request brings the candidate's and the baseline's differences from
//! production (C−P, B−P); without, the candidate's alone (C−P) plus noise evidence from repeated
//! identical production requests ([`Repeats`]) or a calibration run ([`NoiseProfile`]).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::Summary;
use super::compare::{DiffKind, Difference, PathDiff, entry_kind};
use super::intern::{Interner, PathId, Remap};
use super::stats::{
    Counts, Evidence, Judgement, Thresholds, Verdict, bonferroni_z, judge_paired, judge_unpaired,
    wilson_lower,
};

/// Bounds and thresholds of an accumulator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// The regression rule.
    pub thresholds: Thresholds,
    /// Distinct difference signatures kept per endpoint (more are counted as overflow).
    pub max_signatures: usize,
    /// Examples kept per (endpoint, path).
    pub examples_per_path: usize,
    /// Bytes of example values kept in all (then examples are counted only).
    pub max_example_bytes: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            thresholds: Thresholds::default(),
            max_signatures: 256,
            examples_per_path: 3,
            max_example_bytes: 16 << 20,
        }
    }
}

/// One request's values at a differing path, side by side (each cut to a few hundred bytes by
/// whoever extracts them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// Orders examples: the smallest keys are kept, so shards merge to the whole's choice.
    pub key: u64,
    /// The request target (`/api/orders/42`).
    pub target: String,
    /// Production's value (absent: the path was missing).
    pub production: Option<String>,
    /// The baseline's value.
    pub baseline: Option<String>,
    /// The candidate's value.
    pub candidate: Option<String>,
}

impl Example {
    fn size(&self) -> usize {
        let len = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        self.target.len() + len(&self.production) + len(&self.baseline) + len(&self.candidate)
    }
}

/// The requests whose candidate differed from the reference on exactly this set of paths.
type Signature = Vec<PathId>;

#[derive(Debug, Clone, Default, PartialEq)]
struct Endpoint {
    compared: u64,
    paths: HashMap<PathId, Counts>,
    evidence: HashMap<PathId, Evidence>,
    profile: HashMap<PathId, Evidence>,
    profile_pairs: u64,
    signatures: HashMap<Signature, u64>,
    overflow: u64,
    overflow_paths: HashMap<PathId, u64>,
    examples: HashMap<PathId, Vec<Example>>,
}

impl Endpoint {
    fn signature(&mut self, sig: Signature, count: u64, max: usize) {
        if sig.is_empty() {
            return;
        }
        if let Some(c) = self.signatures.get_mut(&sig) {
            *c += count;
        } else if self.signatures.len() < max {
            self.signatures.insert(sig, count);
        } else {
            self.overflow += count;
            for p in sig {
                *self.overflow_paths.entry(p).or_default() += count;
            }
        }
    }
}

/// The accumulated differences of one run (or shard).
#[derive(Debug, Clone, PartialEq)]
pub struct Accumulator {
    config: Config,
    baseline: bool,
    endpoints: BTreeMap<String, Endpoint>,
    example_bytes: usize,
    examples_dropped: u64,
    not_comparable: u64,
}

/// A path's place in one request: the candidate's and the baseline's differences there.
fn classify(c: Option<&PathDiff>, b: Option<&PathDiff>, counts: &mut Counts) -> bool {
    match (c, b) {
        (Some(c), None) => {
            counts.n10 += 1;
            counts.kind(c.kind);
            true
        }
        (None, Some(b)) => {
            counts.n01 += 1;
            counts.kind(b.kind.reversed());
            true
        }
        (Some(c), Some(b)) => {
            let kind = match (&b.entry, &c.entry) {
                (Some(be), Some(ce)) => entry_kind(be, ce),
                (None, None) => None,
                (None, Some(_)) => Some(DiffKind::Added),
                (Some(_), None) => Some(DiffKind::Missing),
            };
            match kind {
                None if c.kind == b.kind => {
                    counts.n11s += 1;
                    false
                }
                kind => {
                    counts.n11d += 1;
                    counts.kind(kind.unwrap_or(c.kind));
                    true
                }
            }
        }
        (None, None) => false,
    }
}

impl Accumulator {
    /// An empty accumulator; `baseline` says whether requests bring a baseline's differences.
    pub fn new(config: Config, baseline: bool) -> Accumulator {
        Accumulator {
            config,
            baseline,
            endpoints: BTreeMap::new(),
            example_bytes: 0,
            examples_dropped: 0,
            not_comparable: 0,
        }
    }

    /// True in baseline mode.
    pub fn has_baseline(&self) -> bool {
        self.baseline
    }

    /// Counts one request of `endpoint`: the candidate's difference from production and, in
    /// baseline mode, the baseline's (`None` for a response that could not be compared: the
    /// request is counted as not comparable). Returns the paths where the candidate differs
    /// from the reference (B with a baseline, P without), for the caller's examples.
    pub fn add(
        &mut self,
        endpoint: &str,
        candidate: Option<&Difference>,
        baseline: Option<&Difference>,
    ) -> Vec<PathId> {
        let Some(candidate) = candidate else {
            self.not_comparable += 1;
            return Vec::new();
        };
        if self.baseline && baseline.is_none() {
            self.not_comparable += 1;
            return Vec::new();
        }
        let max = self.config.max_signatures;
        let ep = self.endpoint(endpoint);
        ep.compared += 1;
        let mut sig = Vec::new();
        match baseline {
            None => {
                for d in &candidate.paths {
                    let counts = ep.paths.entry(d.path).or_default();
                    counts.n10 += 1;
                    counts.kind(d.kind);
                    sig.push(d.path);
                }
            }
            Some(base) => {
                let (c, b) = (&candidate.paths, &base.paths);
                let (mut i, mut j) = (0, 0);
                while i < c.len() || j < b.len() {
                    let (path, cd, bd) = match (c.get(i), b.get(j)) {
                        (Some(x), Some(y)) if x.path == y.path => {
                            i += 1;
                            j += 1;
                            (x.path, Some(x), Some(y))
                        }
                        (Some(x), y) if y.is_none_or(|y| x.path < y.path) => {
                            i += 1;
                            (x.path, Some(x), None)
                        }
                        (_, Some(y)) => {
                            j += 1;
                            (y.path, None, Some(y))
                        }
                        (_, None) => break,
                    };
                    if classify(cd, bd, ep.paths.entry(path).or_default()) {
                        sig.push(path);
                    }
                }
            }
        }
        ep.signature(sig.clone(), 1, max);
        sig
    }

    /// Counts a pair of responses to identical production requests (or of a calibration run):
    /// every path either has is a pair, every path whose value differs a varied pair.
    pub fn add_repeat(&mut self, endpoint: &str, first: &Summary, second: &Summary) {
        if !first.comparable() || !second.comparable() {
            return;
        }
        let ep = self.endpoint(endpoint);
        let (a, b) = (&first.entries, &second.entries);
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            let (path, varied) = match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) if x.0 == y.0 => {
                    i += 1;
                    j += 1;
                    (x.0, entry_kind(&x.1, &y.1).is_some())
                }
                (Some(x), y) if y.is_none_or(|y| x.0 < y.0) => {
                    i += 1;
                    (x.0, true)
                }
                (_, Some(y)) => {
                    j += 1;
                    (y.0, true)
                }
                (_, None) => break,
            };
            let e = ep.evidence.entry(path).or_default();
            e.pairs += 1;
            e.varied += u64::from(varied);
        }
    }

    /// Adds the evidence of a noise profile (paths named by string, interned here): a listed
    /// path varied as listed, every other path held still over the profile's requests.
    pub fn add_profile(&mut self, profile: &NoiseProfile, interner: &mut Interner) {
        for (endpoint, noise) in &profile.endpoints {
            let ep = self.endpoint(endpoint);
            ep.profile_pairs += noise.compared;
            for (path, evidence) in &noise.paths {
                ep.profile
                    .entry(interner.intern(path))
                    .or_default()
                    .add(evidence);
            }
        }
    }

    /// True when an example for (endpoint, path) with this key would be kept: callers extract
    /// values only then.
    pub fn wants_example(&self, endpoint: &str, path: PathId, key: u64) -> bool {
        if self.example_bytes >= self.config.max_example_bytes {
            return false;
        }
        let Some(list) = self
            .endpoints
            .get(endpoint)
            .and_then(|e| e.examples.get(&path))
        else {
            return true;
        };
        list.len() < self.config.examples_per_path || list.last().is_some_and(|l| key < l.key)
    }

    /// Keeps `example` for (endpoint, path) if it is among the smallest keys and fits the caps.
    pub fn add_example(&mut self, endpoint: &str, path: PathId, example: Example) {
        let per_path = self.config.examples_per_path;
        let size = example.size();
        if self.example_bytes + size > self.config.max_example_bytes {
            self.examples_dropped += 1;
            return;
        }
        let ep = self.endpoint(endpoint);
        let list = ep.examples.entry(path).or_default();
        if list.iter().any(|e| e.key == example.key) {
            return;
        }
        let at = list.partition_point(|e| e.key < example.key);
        if at >= per_path {
            return;
        }
        list.insert(at, example);
        let mut freed = 0;
        while list.len() > per_path {
            freed += list.pop().map_or(0, |e| e.size());
        }
        self.example_bytes = self.example_bytes + size - freed;
    }

    /// Adds a shard's accumulator; `remap` maps its path ids into this one's interner.
    pub fn merge(&mut self, other: &Accumulator, remap: &Remap) {
        self.not_comparable += other.not_comparable;
        self.examples_dropped += other.examples_dropped;
        let max = self.config.max_signatures;
        for (name, theirs) in &other.endpoints {
            let ours = self.endpoints.entry(name.clone()).or_default();
            ours.compared += theirs.compared;
            for (p, c) in &theirs.paths {
                ours.paths.entry(remap.get(*p)).or_default().add(c);
            }
            for (p, e) in &theirs.evidence {
                ours.evidence.entry(remap.get(*p)).or_default().add(e);
            }
            for (p, e) in &theirs.profile {
                ours.profile.entry(remap.get(*p)).or_default().add(e);
            }
            ours.profile_pairs += theirs.profile_pairs;
            for (p, n) in &theirs.overflow_paths {
                *ours.overflow_paths.entry(remap.get(*p)).or_default() += n;
            }
            ours.overflow += theirs.overflow;
            // Biggest first, so the ones that spill are the rare ones.
            let mut sigs: Vec<(&Signature, &u64)> = theirs.signatures.iter().collect();
            sigs.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
            for (sig, n) in sigs {
                let mut mapped: Signature = sig.iter().map(|p| remap.get(*p)).collect();
                mapped.sort_unstable();
                ours.signature(mapped, *n, max);
            }
        }
        for (name, theirs) in &other.endpoints {
            for (p, list) in &theirs.examples {
                for e in list {
                    self.add_example(name, remap.get(*p), e.clone());
                }
            }
        }
    }

    /// The noise profile of this run, for `--write-noise-profile`: run as a calibration (the
    /// release replayed against itself), every path where the candidate differed from its
    /// reference varied that often; every other path held still.
    pub fn noise_profile(&self, interner: &Interner) -> NoiseProfile {
        let mut endpoints = BTreeMap::new();
        for (name, ep) in &self.endpoints {
            let paths = ep
                .paths
                .iter()
                .map(|(p, c)| {
                    let varied = c.n10 + c.n01 + c.n11d;
                    (
                        interner.path(*p).to_owned(),
                        Evidence {
                            pairs: ep.compared,
                            varied,
                        },
                    )
                })
                .filter(|(_, e)| e.varied > 0)
                .collect();
            endpoints.insert(
                name.clone(),
                EndpointNoise {
                    compared: ep.compared,
                    paths,
                },
            );
        }
        NoiseProfile {
            version: NoiseProfile::VERSION,
            endpoints,
        }
    }

    /// The noise evidence of one path: repeats, plus the profiles (unlisted = held still).
    fn evidence(ep: &Endpoint, p: PathId) -> Evidence {
        let mut e = ep.evidence.get(&p).copied().unwrap_or_default();
        e.add(&ep.profile.get(&p).copied().unwrap_or(Evidence {
            pairs: ep.profile_pairs,
            varied: 0,
        }));
        e
    }

    /// Judges every path of every endpoint and computes diff-rates.
    pub fn report(&self, interner: &Interner) -> Report {
        let t = &self.config.thresholds;
        let tested: Vec<(u64, u64)> = self
            .endpoints
            .values()
            .flat_map(|e| e.paths.values().map(|c| (c, e.compared)))
            .filter(|(c, _)| c.tested())
            .map(|(c, n)| (c.n10 + c.n01, n))
            .collect();
        let (tests, z) = if self.baseline {
            tarone(&tested, t)
        } else {
            (tested.len(), bonferroni_z(t.alpha, tested.len()))
        };
        let mut endpoints = Vec::new();
        let (mut compared, mut low, mut high) = (0, 0, 0);
        for (name, ep) in &self.endpoints {
            let mut judged: HashMap<PathId, Judgement> = HashMap::new();
            for (p, c) in &ep.paths {
                let j = if self.baseline {
                    judge_paired(c, ep.compared, z, t)
                } else {
                    let ev = Accumulator::evidence(ep, *p);
                    judge_unpaired(c, ep.compared, ev, z, t)
                };
                judged.insert(*p, j);
            }
            let counted = |p: &PathId| judged.get(p).is_some_and(|j| j.verdict.counts_in_rate());
            let exact: u64 = ep
                .signatures
                .iter()
                .filter(|(sig, _)| sig.iter().any(counted))
                .map(|(_, n)| *n)
                .sum();
            let spilled: Vec<u64> = ep
                .overflow_paths
                .iter()
                .filter(|(p, _)| counted(p))
                .map(|(_, n)| *n)
                .collect();
            let over_low = spilled.iter().copied().max().unwrap_or(0);
            let over_high = spilled.iter().sum::<u64>().min(ep.overflow);
            let rate = Rate {
                compared: ep.compared,
                differing_low: exact + over_low,
                differing_high: exact + over_high,
            };
            compared += rate.compared;
            low += rate.differing_low;
            high += rate.differing_high;

            let mut paths: Vec<PathReport> = ep
                .paths
                .iter()
                .map(|(p, c)| {
                    let j = judged.get(p).copied().unwrap_or(Judgement {
                        verdict: Verdict::Unexplained,
                        excess: 0.0,
                        excess_low: 0.0,
                    });
                    let differing = if self.baseline {
                        c.n10 + c.n01 + c.n11d
                    } else {
                        c.n10
                    };
                    PathReport {
                        path: interner.path(*p).to_owned(),
                        verdict: j.verdict,
                        counts: *c,
                        evidence: (!self.baseline).then(|| Accumulator::evidence(ep, *p)),
                        share: differing as f64 / ep.compared.max(1) as f64,
                        excess: j.excess,
                        excess_low: j.excess_low,
                        kinds: DiffKind::ALL
                            .iter()
                            .zip(c.kinds)
                            .filter(|(_, n)| *n > 0)
                            .map(|(k, n)| (*k, n))
                            .collect(),
                        examples: ep.examples.get(p).cloned().unwrap_or_default(),
                    }
                })
                .collect();
            paths.sort_by(|a, b| a.verdict.cmp(&b.verdict).then_with(|| a.path.cmp(&b.path)));
            endpoints.push(EndpointReport {
                endpoint: name.clone(),
                rate,
                signature_overflow: ep.overflow,
                paths,
            });
        }
        Report {
            baseline: self.baseline,
            tests,
            z,
            overall: Rate {
                compared,
                differing_low: low,
                differing_high: high,
            },
            not_comparable: self.not_comparable,
            examples_dropped: self.examples_dropped,
            endpoints,
        }
    }

    fn endpoint(&mut self, name: &str) -> &mut Endpoint {
        if !self.endpoints.contains_key(name) {
            self.endpoints.insert(name.to_owned(), Endpoint::default());
        }
        self.endpoints.entry(name.to_owned()).or_default()
    }
}

/// The multiplicity of the paired tests, after Tarone: a path whose d discordant requests could
/// not make a regression even if all went the candidate's way cannot be a false alarm, so it is
/// not counted. T is the smallest k such that at most k paths could reach significance at
/// z = Φ⁻¹(1 − α/k); the family-wise error rate stays at most α. `tested` holds (d, N) per path.
fn tarone(tested: &[(u64, u64)], t: &Thresholds) -> (usize, f64) {
    let possible = |z: f64| {
        tested
            .iter()
            .filter(|&&(d, n)| {
                d >= t.min_requests
                    && (2.0 * wilson_lower(d, d, z) - 1.0) * d as f64 / n.max(1) as f64 > t.min_rate
            })
            .count()
    };
    let mut k = 1;
    loop {
        let z = bonferroni_z(t.alpha, k);
        if possible(z) <= k || k >= tested.len() {
            return (k.min(tested.len()).max(usize::from(!tested.is_empty())), z);
        }
        k += 1;
    }
}

/// A diff-rate: requests whose candidate differs on a counted path, exact when no signature
/// overflowed (then `differing_low == differing_high`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    /// Requests compared.
    pub compared: u64,
    /// Differing requests, at least.
    pub differing_low: u64,
    /// Differing requests, at most.
    pub differing_high: u64,
}

impl Rate {
    /// The share of compared requests that differ (the upper figure: a gate must not pass on
    /// what overflow hid).
    pub fn share(&self) -> f64 {
        self.differing_high as f64 / self.compared.max(1) as f64
    }

    /// True when the figure is exact.
    pub fn exact(&self) -> bool {
        self.differing_low == self.differing_high
    }
}

/// One path's verdict with everything behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathReport {
    /// The path.
    pub path: String,
    /// The verdict.
    pub verdict: Verdict,
    /// The counters.
    pub counts: Counts,
    /// Noise evidence (without a baseline).
    pub evidence: Option<Evidence>,
    /// Share of the endpoint's compared requests where the candidate differs from the reference
    /// there.
    pub share: f64,
    /// The excess rate.
    pub excess: f64,
    /// Its lower bound.
    pub excess_low: f64,
    /// Kinds of the candidate's differences, with counts.
    pub kinds: Vec<(DiffKind, u64)>,
    /// Examples, smallest keys first.
    pub examples: Vec<Example>,
}

/// One endpoint's diff figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointReport {
    /// The endpoint template.
    pub endpoint: String,
    /// Its diff-rate.
    pub rate: Rate,
    /// Requests whose signature did not fit the table.
    pub signature_overflow: u64,
    /// Every path that differed, regressions first.
    pub paths: Vec<PathReport>,
}

impl EndpointReport {
    /// The regression paths.
    pub fn regressions(&self) -> impl Iterator<Item = &PathReport> {
        self.paths
            .iter()
            .filter(|p| p.verdict == Verdict::Regression)
    }
}

/// The diff figures of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Whether a baseline was the reference.
    pub baseline: bool,
    /// T: paths tested (the multiplicity correction).
    pub tests: usize,
    /// The z used.
    pub z: f64,
    /// All endpoints together.
    pub overall: Rate,
    /// Requests not compared (a side not comparable).
    pub not_comparable: u64,
    /// Examples not kept for the global cap.
    pub examples_dropped: u64,
    /// Per endpoint, by name.
    pub endpoints: Vec<EndpointReport>,
}

impl Report {
    /// The number of regression paths over all endpoints (`diff-paths`).
    pub fn regression_paths(&self) -> usize {
        self.endpoints.iter().map(|e| e.regressions().count()).sum()
    }

    /// One endpoint's figures.
    pub fn endpoint(&self, name: &str) -> Option<&EndpointReport> {
        self.endpoints.iter().find(|e| e.endpoint == name)
    }
}

/// Noise evidence by endpoint and path string, written by a calibration run and read by later
/// runs without a baseline (`--noise-profile`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoiseProfile {
    /// Format version ([`NoiseProfile::VERSION`]).
    pub version: u32,
    /// Endpoint → its evidence.
    pub endpoints: BTreeMap<String, EndpointNoise>,
}

/// One endpoint's part of a noise profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointNoise {
    /// Requests compared in the calibration run: each path not listed held still over them.
    pub compared: u64,
    /// Paths that varied, with their evidence.
    pub paths: BTreeMap<String, Evidence>,
}

impl NoiseProfile {
    /// The version this build writes.
    pub const VERSION: u32 = 1;
}

/// The last summaries of recent production requests, by request key (method, target, body hash,
/// Accept-Encoding: the caller's hash), least recently used evicted past a byte budget.
#[derive(Debug, Clone)]
pub struct Repeats {
    max_bytes: usize,
    bytes: usize,
    tick: u64,
    last: HashMap<u64, (Summary, u64)>,
    order: BTreeMap<u64, u64>,
}

impl Repeats {
    /// An empty window of at most `max_bytes` (estimated) of summaries.
    pub fn new(max_bytes: usize) -> Repeats {
        Repeats {
            max_bytes,
            bytes: 0,
            tick: 0,
            last: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    fn cost(s: &Summary) -> usize {
        64 + s.entries.len() * std::mem::size_of::<(PathId, super::Entry)>()
    }

    /// Remembers `summary` under `key`; returns the previous summary of that key, if any.
    pub fn observe(&mut self, key: u64, summary: &Summary) -> Option<Summary> {
        self.tick += 1;
        let previous = self.last.remove(&key).map(|(s, tick)| {
            self.order.remove(&tick);
            self.bytes -= Repeats::cost(&s);
            s
        });
        self.bytes += Repeats::cost(summary);
        self.last.insert(key, (summary.clone(), self.tick));
        self.order.insert(self.tick, key);
        while self.bytes > self.max_bytes {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some((s, _)) = self.last.remove(&oldest) {
                self.bytes -= Repeats::cost(&s);
            }
        }
        previous
    }

    /// Summaries held.
    pub fn len(&self) -> usize {
        self.last.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_could_never_be_significant_do_not_widen_the_bound() {
        let t = Thresholds::default();
        // 100 paths with 2 discordant requests each, one with 20, of 400.
        let mut tested = vec![(2, 400); 100];
        tested.push((20, 400));
        let (k, z) = tarone(&tested, &t);
        assert_eq!(k, 1);
        assert!((z - bonferroni_z(t.alpha, 1)).abs() < 1e-12);
        // Plain Bonferroni over all 101 would miss 20 of 400; the count of the possible does not.
        let plain = bonferroni_z(t.alpha, tested.len());
        let e = |z: f64| (2.0 * wilson_lower(20, 20, z) - 1.0) * 20.0 / 400.0;
        assert!(e(plain) < t.min_rate && e(z) > t.min_rate);
        // When every path could be significant, it is Bonferroni over all of them.
        let all = vec![(50, 400); 7];
        assert_eq!(tarone(&all, &t).0, 7);
        assert_eq!(tarone(&[], &t).0, 0);
    }
}
