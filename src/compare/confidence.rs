//! Exact confidence intervals for gates: Clopper–Pearson for rates, order statistics for
//! percentiles (`docs/GATES.md`, "How a gate is judged").
//!
//! Both rest on one function, the binomial distribution's CDF, computed exactly in floating point
//! (log-space terms summed outwards from the requested count until they vanish) and inverted by
//! bisection. No approximation (normal, Wilson) is used anywhere: a Clopper–Pearson bound is
//! `scipy.stats.beta.ppf` of the same arguments to about 1e-12, and an order-statistic rank is
//! found with `scipy.stats.binom.cdf` exactly.

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, 9 terms: about 15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// `ln P(X = k)` for `X ~ Binomial(n, p)`, `0 < p < 1`.
fn ln_pmf(k: u64, n: u64, p: f64) -> f64 {
    let (k, n) = (k as f64, n as f64);
    ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0)
        + k * p.ln()
        + (n - k) * (-p).ln_1p()
}

/// `P(X ≤ k)` for `X ~ Binomial(n, p)`.
///
/// The tail on the far side of the mode is summed, from `k` outwards, each term from the last by
/// the pmf's ratio, until terms no longer change the sum: a few times √n terms at most.
pub fn binomial_cdf(k: u64, n: u64, p: f64) -> f64 {
    if k >= n || p <= 0.0 {
        return 1.0;
    }
    if p >= 1.0 {
        return 0.0;
    }
    let mode = ((n as f64 + 1.0) * p).floor() as u64;
    let odds = p / (1.0 - p);
    if k < mode {
        // Lower tail, downwards from k: terms shrink as i falls below the mode.
        let mut term = ln_pmf(k, n, p).exp();
        let mut sum = term;
        let mut i = k;
        while i > 0 && term > sum * 1e-17 {
            term *= i as f64 / ((n - i + 1) as f64 * odds);
            sum += term;
            i -= 1;
        }
        sum.min(1.0)
    } else {
        // Upper tail, upwards from k + 1: terms shrink as i rises above the mode.
        let mut i = k + 1;
        let mut term = ln_pmf(i, n, p).exp();
        let mut sum = term;
        while i < n && term > sum * 1e-17 {
            term *= (n - i) as f64 * odds / (i + 1) as f64;
            sum += term;
            i += 1;
        }
        (1.0 - sum).max(0.0)
    }
}

/// The `x` in `[0, 1]` where the monotone `f` crosses `target` (`rising`: f grows with x).
fn bisect(target: f64, rising: bool, f: impl Fn(f64) -> f64) -> f64 {
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if (f(mid) < target) == rising {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The exact (Clopper–Pearson) two-sided interval of a proportion seen as `k` of `n`, at
/// `confidence` (e.g. 0.95): `(low, high)` with each tail at most `(1 − confidence) / 2`. Equal to
/// `scipy.stats.binomtest(k, n).proportion_ci(confidence, method='exact')`. `n = 0` gives `(0, 1)`.
pub fn clopper_pearson(k: u64, n: u64, confidence: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let k = k.min(n);
    let tail = (1.0 - confidence) / 2.0;
    let low = if k == 0 {
        0.0
    } else {
        // P(X ≥ k | p) = tail.
        bisect(tail, true, |p| 1.0 - binomial_cdf(k - 1, n, p))
    };
    let high = if k == n {
        1.0
    } else {
        // P(X ≤ k | p) = tail.
        bisect(tail, false, |p| binomial_cdf(k, n, p))
    };
    (low, high)
}

/// The ranks (1-based, in sorted order) of the distribution-free interval of the quantile `q` of
/// `n` values at `confidence`: `x(low) ≤ ξq ≤ x(high)` with each side's miss probability at most
/// `(1 − confidence) / 2`. `None` when no rank in 1..=n is far enough out on that side: the
/// sample cannot bound the quantile there (a p99 of 48 values has no upper bound).
///
/// With `B ~ Binomial(n, q)` the number of values below `ξq`: `low` is the largest `j` with
/// `P(B ≤ j − 1) ≤ α/2`, `high` the smallest `j` with `P(B ≥ j) ≤ α/2`.
pub fn quantile_ranks(n: u64, q: f64, confidence: f64) -> (Option<u64>, Option<u64>) {
    if n == 0 {
        return (None, None);
    }
    let tail = (1.0 - confidence) / 2.0;
    // cdf(j − 1) rises with j: the largest j in 1..=n with cdf(j − 1) ≤ tail.
    let below = |j: u64| binomial_cdf(j - 1, n, q);
    let low = if below(1) > tail {
        None
    } else {
        let (mut good, mut bad) = (1u64, n + 1);
        while bad - good > 1 {
            let mid = good + (bad - good) / 2;
            if below(mid) <= tail {
                good = mid;
            } else {
                bad = mid;
            }
        }
        Some(good)
    };
    // P(B ≥ j) = 1 − cdf(j − 1) falls with j: the smallest j in 1..=n with it ≤ tail.
    let above = |j: u64| 1.0 - binomial_cdf(j - 1, n, q);
    let high = if above(n) > tail {
        None
    } else {
        let (mut bad, mut good) = (0u64, n);
        while good - bad > 1 {
            let mid = bad + (good - bad) / 2;
            if above(mid) <= tail {
                good = mid;
            } else {
                bad = mid;
            }
        }
        Some(good)
    };
    (low, high)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        let mut f = 1.0_f64;
        for n in 1..30u32 {
            f *= f64::from(n);
            let got = ln_gamma(f64::from(n) + 1.0);
            assert!(close(got, f.ln(), 1e-10 * f.ln().max(1.0)), "{n}: {got}");
        }
        assert!(close(
            ln_gamma(0.5),
            std::f64::consts::PI.sqrt().ln(),
            1e-13
        ));
    }

    // Values computed once with scipy 1.17.1:
    //   from scipy.stats import binom; binom.cdf(k, n, p)
    #[test]
    fn binomial_cdf_matches_scipy() {
        for (k, n, p, want) in [
            (0, 48, 0.01, 0.617_290_140_942_288_2),
            (45, 48, 0.99, 0.012_373_563_910_211_128),
            (5, 100, 0.1, 0.057_576_886_487_033_96),
            (10, 100, 0.1, 0.583_155_512_266_491_8),
            (520, 1000, 0.5, 0.902_616_835_769_117_4),
            (9_900, 10_000, 0.99, 0.513_499_271_716_758_4),
            (1, 5, 0.5, 0.1875),
        ] {
            let got = binomial_cdf(k, n, p);
            assert!(
                close(got, want, 1e-11),
                "cdf({k}, {n}, {p}) = {got}, want {want}"
            );
        }
        assert_eq!(binomial_cdf(48, 48, 0.3), 1.0);
        assert_eq!(binomial_cdf(3, 48, 0.0), 1.0);
        assert_eq!(binomial_cdf(3, 48, 1.0), 0.0);
    }

    // Values computed once with scipy 1.17.1:
    //   from scipy.stats import binomtest
    //   binomtest(k, n).proportion_ci(confidence_level=c, method='exact')
    #[test]
    fn clopper_pearson_matches_scipy() {
        for (k, n, c, low, high) in [
            (48, 48, 0.95, 0.926_027_214_652_719_8, 1.0),
            (0, 48, 0.95, 0.0, 0.073_972_785_347_280_29),
            (0, 400, 0.95, 0.0, 0.009_179_804_583_673_406),
            (0, 2560, 0.95, 0.0, 0.001_439_930_840_213_464_4),
            (
                3,
                48,
                0.95,
                0.013_079_244_409_552_646,
                0.171_959_930_790_570_5,
            ),
            (
                64,
                640,
                0.95,
                0.077_865_856_164_325_63,
                0.125_901_504_414_183_2,
            ),
            (
                15,
                256,
                0.95,
                0.033_161_832_026_714_896,
                0.094_800_858_455_578_15,
            ),
            (
                1,
                2,
                0.99,
                0.002_503_132_836_999_851_3,
                0.997_496_867_163_000_1,
            ),
            (
                20,
                200,
                0.9,
                0.067_261_401_100_222_93,
                0.141_989_251_590_888_38,
            ),
            (
                20,
                200,
                0.95,
                0.062_159_366_254_066_095,
                0.150_212_787_867_755_85,
            ),
        ] {
            let (lo, hi) = clopper_pearson(k, n, c);
            assert!(close(lo, low, 1e-9), "{k}/{n} at {c}: low {lo}, want {low}");
            assert!(
                close(hi, high, 1e-9),
                "{k}/{n} at {c}: high {hi}, want {high}"
            );
        }
        assert_eq!(clopper_pearson(0, 0, 0.95), (0.0, 1.0));
    }

    // Ranks computed once with scipy 1.17.1, from their definition:
    //   from scipy.stats import binom
    //   low  = max(j for j in range(1, n+1) if binom.cdf(j-1, n, q) <= a/2)
    //   high = min(j for j in range(1, n+1) if binom.sf(j-1, n, q) <= a/2)
    #[test]
    fn quantile_ranks_match_scipy() {
        for (n, q, c, want) in [
            (48, 0.5, 0.95, (Some(17), Some(32))),
            (48, 0.99, 0.95, (Some(46), None)),
            (48, 1.0, 0.95, (Some(48), None)),
            (1000, 0.99, 0.95, (Some(983), Some(997))),
            (1000, 0.5, 0.95, (Some(469), Some(532))),
            (5, 0.5, 0.95, (None, None)),
            (100, 0.9, 0.99, (Some(82), Some(98))),
        ] {
            assert_eq!(quantile_ranks(n, q, c), want, "n {n}, q {q}, c {c}");
        }
        assert_eq!(quantile_ranks(0, 0.5, 0.95), (None, None));
    }
}
