//! The regression rule: per (endpoint, path) counters → a verdict, with confidence bounds
//! corrected for the number of paths tested (Bonferroni: z = Φ⁻¹(1 − α/T)).
//!
//! With a baseline (B, a second draw of the release at the same moment, P the anchor) the test is
//! a paired sign test on the discordant requests: n10 = #(C≠P ∧ B=P) against n01 = #(C=P ∧ B≠P).
//! Without a regression C and B are exchangeable, so n10 ≈ n01; the excess
//! (n10 − n01)/N = r(C≠P) − r(B≠P) has the lower bound e_L = (2π_L − 1)·d/N, π_L the Wilson lower
//! bound of n10/d, d = n10 + n01. Without a baseline only paths proven stable (never varied over
//! enough repeated identical production requests) are tested, on #(C≠P)/N.

use serde::{Deserialize, Serialize};

use super::compare::DiffKind;

/// What a path's counts say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Verdict {
    /// The candidate differs more often than chance allows: a gate counts it.
    Regression,
    /// The path varies on its own (both releases differ from production about equally, or it
    /// varied between repeated identical production requests).
    Noise,
    /// Staging differs from production, and the candidate agrees with the baseline.
    Environment,
    /// Both releases differ from production and from each other (random per response); reported,
    /// not gated (a noise probe would be needed to test it).
    Masked,
    /// The candidate differs, but there is too little evidence to call it either way.
    Unexplained,
    /// Never varied on its own; the candidate differs too rarely to be a regression.
    Stable,
}

impl Verdict {
    /// The name reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Regression => "regression",
            Verdict::Noise => "noise",
            Verdict::Environment => "environment",
            Verdict::Masked => "masked",
            Verdict::Unexplained => "unexplained",
            Verdict::Stable => "stable",
        }
    }

    /// True when a request differing on this path counts in diff-rate.
    pub fn counts_in_rate(self) -> bool {
        matches!(
            self,
            Verdict::Regression | Verdict::Unexplained | Verdict::Stable
        )
    }
}

/// The knobs of the rule (`--diff-confidence`, `--diff-min-rate`, `--diff-min-requests`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Family-wise error rate over the paths tested in a run.
    pub alpha: f64,
    /// δ: the smallest excess rate worth a regression.
    pub min_rate: f64,
    /// m: the fewest candidate-only differences for a regression.
    pub min_requests: u64,
    /// Repeated-request pairs that prove a path stable (no baseline).
    pub min_pairs: u64,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            alpha: 0.001,
            min_rate: 0.005,
            min_requests: 5,
            min_pairs: 20,
        }
    }
}

/// The counters of one (endpoint, path) over the requests where all responses were comparable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Candidate differs from production, baseline does not (without a baseline: C≠P).
    pub n10: u64,
    /// Baseline differs from production, candidate does not.
    pub n01: u64,
    /// Both differ from production, the same way.
    pub n11s: u64,
    /// Both differ from production, and from each other.
    pub n11d: u64,
    /// How the candidate differs from the reference there, by [`DiffKind::ALL`] order.
    pub kinds: [u64; 6],
}

impl Counts {
    /// Adds another shard's counts.
    pub fn add(&mut self, other: &Counts) {
        self.n10 += other.n10;
        self.n01 += other.n01;
        self.n11s += other.n11s;
        self.n11d += other.n11d;
        for (a, b) in self.kinds.iter_mut().zip(other.kinds) {
            *a += b;
        }
    }

    /// Counts one difference of `kind`.
    pub fn kind(&mut self, kind: DiffKind) {
        if let Some(i) = DiffKind::ALL.iter().position(|k| *k == kind) {
            self.kinds[i] += 1;
        }
    }

    /// True when this path enters the multiplicity count (it has a discordance to test).
    pub fn tested(&self) -> bool {
        self.n10 + self.n01 > 0
    }
}

/// Noise evidence of one path without a baseline: pairs of comparable responses to identical
/// production requests (or calibration requests) that both had the path, and how many varied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Pairs seen.
    pub pairs: u64,
    /// Pairs whose values differed.
    pub varied: u64,
}

impl Evidence {
    /// Adds another source's evidence.
    pub fn add(&mut self, other: &Evidence) {
        self.pairs += other.pairs;
        self.varied += other.varied;
    }
}

/// A verdict with the figures behind it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    /// The verdict.
    pub verdict: Verdict,
    /// The excess rate: (n10 − n01)/N with a baseline, n10/N without.
    pub excess: f64,
    /// Its lower confidence bound.
    pub excess_low: f64,
}

/// Φ⁻¹(p), the standard normal quantile, to about 1e-9 (Acklam's rational approximation with one
/// Halley step on the crate's own erfc would be finer than any count here needs).
pub fn normal_quantile(p: f64) -> f64 {
    if p.is_nan() || p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let low = 0.02425;
    if p < low {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -normal_quantile(1.0 - p)
    }
}

/// The one-sided z for `tests` simultaneous tests at family-wise level `alpha`.
pub fn bonferroni_z(alpha: f64, tests: usize) -> f64 {
    normal_quantile(1.0 - alpha / tests.max(1) as f64)
}

/// The Wilson score lower bound of the proportion `k/n` (0 when n = 0).
pub fn wilson_lower(k: u64, n: u64, z: f64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    let p = k as f64 / n;
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let spread = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - spread) / (1.0 + z2 / n)).max(0.0)
}

/// The verdict of a path with a baseline, over `n` compared requests.
pub fn judge_paired(c: &Counts, n: u64, z: f64, t: &Thresholds) -> Judgement {
    let d = c.n10 + c.n01;
    let nf = n.max(1) as f64;
    let excess = (c.n10 as f64 - c.n01 as f64) / nf;
    let pi_low = wilson_lower(c.n10, d, z);
    let excess_low = if d == 0 {
        0.0
    } else {
        (2.0 * pi_low - 1.0) * d as f64 / nf
    };
    let verdict = if excess_low > t.min_rate && c.n10 >= t.min_requests {
        Verdict::Regression
    } else if c.n11s > d && c.n11s >= c.n11d {
        Verdict::Environment
    } else if c.n11d > d {
        Verdict::Masked
    } else if c.n10 > 0 && (c.n01 == 0 || pi_low > 0.5) {
        // Only the candidate differs (or it clearly does more often), below δ or m.
        Verdict::Unexplained
    } else if d > 0 {
        Verdict::Noise
    } else if c.n11s >= c.n11d {
        Verdict::Environment
    } else {
        Verdict::Masked
    };
    Judgement {
        verdict,
        excess,
        excess_low,
    }
}

/// The verdict of a path without a baseline: `c.n10` = #(C≠P) over `n` compared requests, with the
/// noise evidence gathered for it.
pub fn judge_unpaired(c: &Counts, n: u64, evidence: Evidence, z: f64, t: &Thresholds) -> Judgement {
    let excess = c.n10 as f64 / n.max(1) as f64;
    let excess_low = wilson_lower(c.n10, n, z);
    let verdict = if evidence.varied > 0 {
        Verdict::Noise
    } else if evidence.pairs >= t.min_pairs {
        if excess_low > t.min_rate && c.n10 >= t.min_requests {
            Verdict::Regression
        } else {
            Verdict::Stable
        }
    } else {
        Verdict::Unexplained
    };
    Judgement {
        verdict,
        excess,
        excess_low,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(n10: u64, n01: u64, n11s: u64, n11d: u64) -> Counts {
        Counts {
            n10,
            n01,
            n11s,
            n11d,
            kinds: [0; 6],
        }
    }

    #[test]
    fn the_normal_quantile_matches_tables() {
        for (p, z) in [
            (0.5, 0.0),
            (0.975, 1.959_964),
            (0.995, 2.575_829),
            (0.999, 3.090_232),
            (0.01, -2.326_348),
            (1e-6, -4.753_424),
        ] {
            assert!(
                (normal_quantile(p) - z).abs() < 1e-5,
                "{p}: {}",
                normal_quantile(p)
            );
        }
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
        assert_eq!(normal_quantile(1.0), f64::INFINITY);
    }

    #[test]
    fn the_designs_worked_example() {
        // T = 7 paths tested at α = 1 %: z = 2.98.
        let z = bonferroni_z(0.01, 7);
        assert!((z - 2.98).abs() < 0.005, "{z}");
        let t = Thresholds {
            alpha: 0.01,
            ..Thresholds::default()
        };
        // n10 = 20, n01 = 0 of N = 200: e_L = 3.8 %, flagged.
        let j = judge_paired(&counts(20, 0, 0, 0), 200, z, &t);
        assert_eq!(j.verdict, Verdict::Regression);
        assert!((j.excess_low - 0.038).abs() < 0.001, "{}", j.excess_low);
        assert!((j.excess - 0.10).abs() < 1e-12);
        // A noisy path, n10 = 8, n01 = 6: e_L < 0.
        let j = judge_paired(&counts(8, 6, 0, 0), 200, z, &t);
        assert!(j.excess_low < 0.0);
        assert_eq!(j.verdict, Verdict::Noise);
    }

    #[test]
    fn wilson_bounds() {
        assert_eq!(wilson_lower(0, 0, 2.0), 0.0);
        assert_eq!(wilson_lower(0, 10, 2.0), 0.0);
        let all = wilson_lower(20, 20, 1.96);
        assert!((all - 0.8389).abs() < 1e-3, "{all}");
        let half = wilson_lower(50, 100, 1.96);
        assert!((half - 0.4038).abs() < 1e-3, "{half}");
    }

    #[test]
    fn verdicts_by_where_the_differences_fall() {
        let t = Thresholds::default();
        let z = 3.0;
        let v = |c: Counts| judge_paired(&c, 400, z, &t).verdict;
        assert_eq!(v(counts(40, 0, 0, 0)), Verdict::Regression);
        assert_eq!(v(counts(4, 0, 0, 0)), Verdict::Unexplained, "below m");
        assert_eq!(v(counts(3, 0, 0, 0)), Verdict::Unexplained);
        assert_eq!(v(counts(50, 48, 0, 0)), Verdict::Noise);
        assert_eq!(v(counts(0, 3, 0, 0)), Verdict::Noise);
        assert_eq!(v(counts(1, 0, 390, 2)), Verdict::Environment);
        assert_eq!(v(counts(20, 22, 40, 300)), Verdict::Masked);
        // A real excess still wins over a path's environment share.
        assert_eq!(v(counts(60, 0, 200, 0)), Verdict::Regression);
        // Below δ: 20 of 40 000 is not worth a regression even when certain.
        assert_eq!(
            judge_paired(&counts(20, 0, 0, 0), 40_000, z, &t).verdict,
            Verdict::Unexplained
        );
    }

    #[test]
    fn without_a_baseline_only_proven_stable_paths_are_tested() {
        let t = Thresholds::default();
        let ev = |pairs, varied| Evidence { pairs, varied };
        let v = |n10, e| judge_unpaired(&counts(n10, 0, 0, 0), 400, e, 3.0, &t).verdict;
        assert_eq!(v(40, ev(30, 0)), Verdict::Regression);
        assert_eq!(v(40, ev(30, 1)), Verdict::Noise);
        assert_eq!(v(40, ev(19, 0)), Verdict::Unexplained);
        assert_eq!(v(1, ev(30, 0)), Verdict::Stable);
        assert!(Verdict::Stable.counts_in_rate());
        assert!(!Verdict::Noise.counts_in_rate());
        assert!(!Verdict::Masked.counts_in_rate());
        assert!(!Verdict::Environment.counts_in_rate());
    }
}
