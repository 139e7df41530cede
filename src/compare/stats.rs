//! The latency-shift test: Mann–Whitney U with its effect size, from two HDR histograms.
//!
//! Every value in one histogram bucket is treated as tied with the others in it (within 0.1% at
//! 3 significant figures, exact below 2048 µs), so ranks come from a single walk over the two
//! bucket lists and the test scales to millions of requests. The p-value is the one of
//! `scipy.stats.mannwhitneyu(x, y, alternative='two-sided', method='asymptotic',
//! use_continuity=True)`: the tie-corrected normal approximation with continuity correction.
//!
//! At large sample sizes every p is tiny, so the verdict comes from the effect size instead: the
//! common-language effect size (CLES, the probability that a staging request is slower than a
//! reference one, ties counting half; Vargha and Delaney's A) together with the Hodges–Lehmann
//! shift (the median of all pairwise differences staging − reference).

use hdrhistogram::Histogram;
use serde::Serialize;

/// One bucket of a histogram: its value (the highest equivalent value, µs) and its count.
type Bucket = (u64, u64);

fn buckets(hist: &Histogram<u64>) -> Vec<Bucket> {
    hist.iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect()
}

/// The outcome of a Mann–Whitney U test of `x` (staging) against `y` (the reference).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// Number of values in `x`.
    pub n_x: u64,
    /// Number of values in `y`.
    pub n_y: u64,
    /// Twice U of `x` (the number of pairs with x > y, ties counting half), exact.
    pub u_twice: u128,
    /// Two-sided p-value (normal approximation, tie and continuity corrected).
    pub p: f64,
}

impl MannWhitney {
    /// U of `x`, as scipy reports it.
    pub fn u(&self) -> f64 {
        self.u_twice as f64 / 2.0
    }

    /// The common-language effect size: P(x > y) + P(x = y) / 2, i.e. U / (n_x · n_y).
    pub fn effect_size(&self) -> f64 {
        self.u_twice as f64 / (2.0 * self.n_x as f64 * self.n_y as f64)
    }
}

/// Mann–Whitney U of `x` against `y`; `None` when either is empty.
pub fn mann_whitney(x: &Histogram<u64>, y: &Histogram<u64>) -> Option<MannWhitney> {
    let (xs, ys) = (buckets(x), buckets(y));
    let n_x: u64 = xs.iter().map(|b| b.1).sum();
    let n_y: u64 = ys.iter().map(|b| b.1).sum();
    if n_x == 0 || n_y == 0 {
        return None;
    }
    // Walk both bucket lists in value order: each value is one tie group of t = cx + cy values,
    // whose average rank is below + (t + 1) / 2. Sums are kept doubled so they stay integers.
    let (mut i, mut j) = (0, 0);
    let mut below: u128 = 0;
    let mut rank_sum_x_twice: u128 = 0;
    let mut tie_term = 0.0_f64;
    while i < xs.len() || j < ys.len() {
        let vx = xs.get(i).map_or(u64::MAX, |b| b.0);
        let vy = ys.get(j).map_or(u64::MAX, |b| b.0);
        let value = vx.min(vy);
        let mut cx = 0;
        let mut cy = 0;
        if vx == value {
            cx = xs[i].1;
            i += 1;
        }
        if vy == value {
            cy = ys[j].1;
            j += 1;
        }
        let t = u128::from(cx) + u128::from(cy);
        rank_sum_x_twice += u128::from(cx) * (2 * below + t + 1);
        let tf = t as f64;
        tie_term += tf * tf * tf - tf;
        below += t;
    }
    let n1 = u128::from(n_x);
    let u_twice = rank_sum_x_twice - n1 * (n1 + 1);

    let (n1f, n2f) = (n_x as f64, n_y as f64);
    let n = n1f + n2f;
    let u1 = u_twice as f64 / 2.0;
    let u = u1.max(n1f * n2f - u1);
    let mu = n1f * n2f / 2.0;
    let s = (n1f * n2f / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
    let z = (u - mu - 0.5) / s;
    // p = 2·Φ(−z) = erfc(z / √2), clipped to [0, 1] as scipy does.
    let p = erfc(z / std::f64::consts::SQRT_2);
    let p = if p.is_nan() { 1.0 } else { p.clamp(0.0, 1.0) };
    Some(MannWhitney {
        n_x,
        n_y,
        u_twice,
        p,
    })
}

/// The Hodges–Lehmann shift: the median of all pairwise differences x − y, in the histograms'
/// unit; `None` when either is empty. Found by bisection on the difference, counting the pairs
/// at or below it in one walk, so it costs O((buckets) · log(range)), never O(n_x · n_y).
pub fn hodges_lehmann(x: &Histogram<u64>, y: &Histogram<u64>) -> Option<f64> {
    let (xs, ys) = (buckets(x), buckets(y));
    let n_x: u128 = xs.iter().map(|b| u128::from(b.1)).sum();
    let n_y: u128 = ys.iter().map(|b| u128::from(b.1)).sum();
    if n_x == 0 || n_y == 0 {
        return None;
    }
    let pairs = n_x * n_y;
    let kth = |k: u128| kth_difference(&xs, &ys, n_y, k);
    if pairs % 2 == 1 {
        Some(kth(pairs / 2 + 1) as f64)
    } else {
        Some((kth(pairs / 2) as f64 + kth(pairs / 2 + 1) as f64) / 2.0)
    }
}

/// The k-th smallest (from 1) of the differences x − y over all pairs.
fn kth_difference(xs: &[Bucket], ys: &[Bucket], n_y: u128, k: u128) -> i128 {
    let first = |b: &[Bucket]| b.first().map_or(0, |b| i128::from(b.0));
    let last = |b: &[Bucket]| b.last().map_or(0, |b| i128::from(b.0));
    let (mut lo, mut hi) = (first(xs) - last(ys), last(xs) - first(ys));
    // Invariant: the answer lies in [lo, hi]; count_at_most(hi) >= k.
    while lo < hi {
        let mid = lo + (hi - lo).div_euclid(2);
        if count_at_most(xs, ys, n_y, mid) >= k {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// Number of pairs with x − y ≤ d, i.e. for each x the y values ≥ x − d.
fn count_at_most(xs: &[Bucket], ys: &[Bucket], n_y: u128, d: i128) -> u128 {
    let mut j = 0;
    let mut y_below: u128 = 0;
    let mut count: u128 = 0;
    for &(x, cx) in xs {
        let threshold = i128::from(x) - d;
        while let Some(&(y, cy)) = ys.get(j) {
            if i128::from(y) >= threshold {
                break;
            }
            y_below += u128::from(cy);
            j += 1;
        }
        count += u128::from(cx) * (n_y - y_below);
    }
    count
}

/// The complementary error function, to a relative error near 1e-14 over [0, 27] (well within
/// what a p-value needs): 1 − the positive-term series of erf below 2, a continued fraction above.
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.0 {
        // erf(x) = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)): no cancellation.
        let x2 = x * x;
        let (mut term, mut sum, mut n) = (x, x, 0.0);
        while term > sum * 1e-17 {
            n += 1.0;
            term *= 2.0 * x2 / (2.0 * n + 1.0);
            sum += term;
        }
        return 1.0 - 2.0 / std::f64::consts::PI.sqrt() * (-x2).exp() * sum;
    }
    if x > 27.3 {
        return 0.0;
    }
    // erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), evaluated from the tail.
    let mut f = x;
    for k in (1..=160).rev() {
        f = x + (f64::from(k) / 2.0) / f;
    }
    (-x * x).exp() / (std::f64::consts::PI.sqrt() * f)
}

/// How the verdict reads the effect size; see `docs/GATES.md`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// Fewer values than this on either side: "not enough data".
    pub min_samples: u64,
    /// CLES must be beyond 0.5 ± this margin (0.06: Vargha and Delaney's "small" effect, 0.56).
    pub effect_size_margin: f64,
    /// The Hodges–Lehmann shift must also be at least this, in µs …
    pub min_shift_us: u64,
    /// … and at least this fraction of the reference median.
    pub min_shift_relative: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            min_samples: 50,
            effect_size_margin: 0.06,
            min_shift_us: 100,
            min_shift_relative: 0.05,
        }
    }
}

/// What the shift test says about staging against the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// Staging is slower by a practically meaningful amount.
    #[serde(rename = "slower")]
    Slower,
    /// Staging is faster by a practically meaningful amount.
    #[serde(rename = "faster")]
    Faster,
    /// No practically meaningful shift.
    #[serde(rename = "same")]
    Same,
    /// Fewer than the minimum sample size on either side.
    #[serde(rename = "not enough data")]
    NotEnoughData,
}

impl Verdict {
    /// The verdict as written in JSON and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Slower => "slower",
            Verdict::Faster => "faster",
            Verdict::Same => "same",
            Verdict::NotEnoughData => "not enough data",
        }
    }
}

/// The latency-shift test of one endpoint: staging against its reference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Shift {
    /// The verdict, from the effect size and the shift.
    pub verdict: Verdict,
    /// Latency samples on the staging side.
    pub n_staging: u64,
    /// Latency samples on the reference side.
    pub n_reference: u64,
    /// Mann–Whitney U of staging (`null` when a side is empty).
    pub u: Option<f64>,
    /// Two-sided p-value.
    pub p: Option<f64>,
    /// Common-language effect size: P(staging slower) + P(tie) / 2.
    pub effect_size: Option<f64>,
    /// Hodges–Lehmann shift, staging − reference, ms.
    pub hl_shift_ms: Option<f64>,
    /// Twice U, exact, for gates.
    #[serde(skip)]
    pub u_twice: Option<u128>,
}

impl Shift {
    /// Tests `staging` against `reference` (both in µs) and reads the verdict with `thresholds`.
    pub fn test(
        staging: &Histogram<u64>,
        reference: &Histogram<u64>,
        thresholds: &Thresholds,
    ) -> Shift {
        let mw = mann_whitney(staging, reference);
        let hl = hodges_lehmann(staging, reference);
        let (n_staging, n_reference) = (staging.len(), reference.len());
        let verdict = match (mw, hl) {
            _ if n_staging < thresholds.min_samples.max(1)
                || n_reference < thresholds.min_samples.max(1) =>
            {
                Verdict::NotEnoughData
            }
            (Some(mw), Some(hl)) => {
                let cles = mw.effect_size();
                let median = reference.value_at_quantile(0.5) as f64;
                let min_shift =
                    (thresholds.min_shift_us as f64).max(thresholds.min_shift_relative * median);
                if cles >= 0.5 + thresholds.effect_size_margin && hl >= min_shift {
                    Verdict::Slower
                } else if cles <= 0.5 - thresholds.effect_size_margin && hl <= -min_shift {
                    Verdict::Faster
                } else {
                    Verdict::Same
                }
            }
            _ => Verdict::NotEnoughData,
        };
        Shift {
            verdict,
            n_staging,
            n_reference,
            u: mw.map(|m| m.u()),
            p: mw.map(|m| m.p),
            effect_size: mw.map(|m| m.effect_size()),
            hl_shift_ms: hl.map(|us| us / 1000.0),
            u_twice: mw.map(|m| m.u_twice),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::hist::new_histogram;

    fn hist(values: &[u64]) -> Histogram<u64> {
        let mut h = new_histogram::<u64>();
        for &v in values {
            h.record(v).unwrap();
        }
        h
    }

    fn spread(n: u64, step: u64, modulus: u64, base: u64) -> Vec<u64> {
        (0..n).map(|i| base + (i * step) % modulus).collect()
    }

    fn close(a: f64, b: f64, rel: f64) -> bool {
        a == b || (a - b).abs() <= rel * b.abs().max(f64::MIN_POSITIVE)
    }

    /// Each case pinned once with scipy 1.17.1:
    /// `r = scipy.stats.mannwhitneyu(x, y, alternative='two-sided', method='asymptotic',
    /// use_continuity=True)`; CLES and HL by brute force over all pairs with numpy:
    /// `((X[:,None]>Y).sum() + 0.5*(X[:,None]==Y).sum())/(n1*n2)`, `np.median(X[:,None]-Y)`.
    #[test]
    fn mann_whitney_matches_scipy() {
        #[rustfmt::skip]
        type Case = (&'static str, Vec<u64>, Vec<u64>, f64, f64, f64, f64);
        let cases: Vec<Case> = vec![
            // name, x, y, U, p, CLES, HL
            (
                "ties, unequal sizes",
                vec![3, 5, 5, 7, 9, 9, 9, 12, 14, 15],
                vec![1, 3, 4, 5, 6, 6, 8, 8, 10, 2, 3, 5],
                93.0,
                0.031146935260798248,
                0.775,
                4.0,
            ),
            (
                "identical samples",
                vec![10, 20, 20, 30, 40],
                vec![10, 20, 20, 30, 40],
                12.5,
                1.0,
                0.5,
                0.0,
            ),
            (
                "all values equal",
                vec![5, 5, 5],
                vec![5, 5],
                3.0,
                1.0,
                0.5,
                0.0,
            ),
            // x = [130 + (i*37) % 91 for i in range(60)], y = [100 + (i*53) % 97 for i in range(75)]
            (
                "shifted",
                spread(60, 37, 91, 130),
                spread(75, 53, 97, 100),
                3389.5,
                4.5639531873144243e-07,
                0.7532222222222222,
                28.0,
            ),
            // x = [(i*7)%5*100+200 for i in range(200)], y = [(i*3)%6*100+200 for i in range(150)]
            (
                "many ties",
                (0..200).map(|i| (i * 7) % 5 * 100 + 200).collect(),
                (0..150).map(|i| (i * 3) % 6 * 100 + 200).collect(),
                18000.0,
                0.0008682758574178125,
                0.6,
                50.0,
            ),
            (
                "disjoint",
                (1000..1030).collect(),
                (1..41).collect(),
                1200.0,
                1.1211096163915445e-12,
                1.0,
                994.0,
            ),
            (
                "tiny",
                vec![3, 4, 5],
                vec![1, 2],
                6.0,
                0.14891467317876572,
                1.0,
                2.5,
            ),
            (
                "tiny with ties",
                vec![1, 2, 2, 4],
                vec![2, 3],
                3.0,
                0.8057327908484386,
                0.375,
                -0.5,
            ),
        ];
        for (name, x, y, u, p, cles, hl) in cases {
            let (hx, hy) = (hist(&x), hist(&y));
            let mw = mann_whitney(&hx, &hy).unwrap();
            assert_eq!(mw.u(), u, "{name}: U");
            assert!(close(mw.p, p, 1e-9), "{name}: p {} vs scipy {p}", mw.p);
            assert_eq!(mw.effect_size(), cles, "{name}: CLES");
            assert_eq!(hodges_lehmann(&hx, &hy), Some(hl), "{name}: HL");
        }
    }

    #[test]
    fn cles_and_hl_by_hand() {
        // x = [3, 4, 5], y = [1, 2]: every x is above every y → CLES 1; differences
        // 1 2 2 3 3 4 → median (2 + 3) / 2 = 2.5.
        let (x, y) = (hist(&[3, 4, 5]), hist(&[1, 2]));
        assert_eq!(mann_whitney(&x, &y).unwrap().effect_size(), 1.0);
        assert_eq!(hodges_lehmann(&x, &y), Some(2.5));
        // Swapped: CLES 0, HL −2.5.
        assert_eq!(mann_whitney(&y, &x).unwrap().effect_size(), 0.0);
        assert_eq!(hodges_lehmann(&y, &x), Some(-2.5));
        // x = [1, 2, 2, 4], y = [2, 3]: wins 4>2, 4>3; ties 2=2 twice → U = 2 + 1 = 3 of 8 pairs.
        // Differences −2 −1 −1 −1 0 0 1 2 → median −0.5.
        let (x, y) = (hist(&[1, 2, 2, 4]), hist(&[2, 3]));
        assert_eq!(mann_whitney(&x, &y).unwrap().u_twice, 6);
        assert_eq!(hodges_lehmann(&x, &y), Some(-0.5));
        // An odd number of pairs: x = [10], y = [1, 2, 7] → differences 3 8 9 → 8.
        assert_eq!(hodges_lehmann(&hist(&[10]), &hist(&[1, 2, 7])), Some(8.0));
        assert_eq!(mann_whitney(&new_histogram::<u64>(), &y), None);
        assert_eq!(hodges_lehmann(&x, &new_histogram::<u64>()), None);
    }

    #[test]
    fn erfc_matches_scipy() {
        // scipy.special.erfc(v)
        let pinned = [
            (0.1, 0.8875370839817152),
            (0.5, 0.4795001221869535),
            (1.0, 0.15729920705028516),
            (1.5, 0.03389485352468927),
            (2.0, 0.004677734981047266),
            (2.5, 0.00040695201744495886),
            (3.0, 2.2090496998585445e-05),
            (4.0, 1.541725790028002e-08),
            (5.0, 1.5374597944280347e-12),
            (8.0, 1.1224297172982928e-29),
            (12.0, 1.3562611692059047e-64),
            (20.0, 5.395865611607901e-176),
            (26.0, 5.663192408856145e-296),
        ];
        for (x, want) in pinned {
            assert!(
                close(erfc(x), want, 1e-12),
                "erfc({x}) = {} vs {want}",
                erfc(x)
            );
            assert!(close(erfc(-x), 2.0 - want, 1e-15), "erfc(-{x})");
        }
        assert_eq!(erfc(0.0), 1.0);
        assert_eq!(erfc(40.0), 0.0);
    }

    #[test]
    fn verdicts_read_the_effect_size_and_the_shift() {
        let t = Thresholds::default();
        let reference: Vec<u64> = (0..200).map(|i| 10_000 + i * 10).collect();
        let slower: Vec<u64> = reference.iter().map(|v| v * 13 / 10).collect();
        let faster: Vec<u64> = reference.iter().map(|v| v * 7 / 10).collect();
        let test = |s: &[u64], r: &[u64]| Shift::test(&hist(s), &hist(r), &t).verdict;
        assert_eq!(test(&slower, &reference), Verdict::Slower);
        assert_eq!(test(&faster, &reference), Verdict::Faster);
        assert_eq!(test(&reference, &reference), Verdict::Same);
        // Consistently slower, but by 40 µs on an 11 ms median: below both minimum shifts.
        let tiny: Vec<u64> = reference.iter().map(|v| v + 40).collect();
        assert_eq!(test(&tiny, &reference), Verdict::Same);
        assert_eq!(test(&slower[..49], &reference), Verdict::NotEnoughData);
        assert_eq!(test(&slower[..50], &reference[..50]), Verdict::Slower);
    }
}
