//! Latency samples kept as HDR histograms (µs, 3 significant figures), merged exactly.
//!
//! A [`Samples`] holds its first values in a plain list and becomes an HDR histogram after
//! [`FEW`] of them, so that the long tail of rarely hit endpoints costs bytes, not the 8–60 KB
//! an HDR histogram takes. Its histogram counts in `u32` (half the memory of `u64`; a bucket
//! saturates at 4,294,967,295 values, more requests than a run sends). Every figure is read
//! through [`Samples::histogram`], so a set of values gives the same figures however it was split
//! and merged.

use hdrhistogram::Histogram;
use serde::ser::{Serialize, SerializeStruct, Serializer};

/// Significant decimal digits every histogram keeps.
pub const SIGFIG: u8 = 3;

/// Values above this (µs, about 12.7 days; or a ratio of 1.1·10⁹ in thousandths) are recorded as
/// this, which bounds a histogram's size whatever a results file claims.
pub const MAX_VALUE: u64 = 1 << 40;

/// How many values a [`Samples`] keeps as a list before it becomes a histogram.
pub const FEW: usize = 256;

/// A new, empty, auto-resizing histogram with µs resolution and [`SIGFIG`] significant figures.
pub fn new_histogram<T: hdrhistogram::Counter>() -> Histogram<T> {
    #[allow(
        clippy::expect_used,
        reason = "a constant argument, checked by every test"
    )]
    Histogram::new(SIGFIG).expect("3 significant figures is a valid histogram precision")
}

/// Values of one measure (latencies in µs, or ratios in thousandths), mergeable exactly.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    few: Vec<u64>,
    hist: Option<Box<Histogram<u32>>>,
}

impl Samples {
    /// Records one value, clamped to [`MAX_VALUE`].
    pub fn record(&mut self, value: u64) {
        let value = value.min(MAX_VALUE);
        if let Some(hist) = &mut self.hist {
            record_into(hist, value);
            return;
        }
        self.few.push(value);
        if self.few.len() > FEW {
            self.promote();
        }
    }

    fn promote(&mut self) -> &mut Histogram<u32> {
        let few = std::mem::take(&mut self.few);
        let hist = self.hist.get_or_insert_with(|| Box::new(new_histogram()));
        for value in few {
            record_into(hist, value);
        }
        hist
    }

    /// Adds every value of `other`: the result is what recording both sets in one would give.
    pub fn merge(&mut self, other: &Samples) {
        match &other.hist {
            Some(theirs) => {
                let mine = self.promote();
                // Never fails: both histograms auto-resize, and values are at most MAX_VALUE.
                let _ = mine.add(theirs.as_ref());
            }
            None => {
                for &value in &other.few {
                    self.record(value);
                }
            }
        }
    }

    /// Number of values recorded.
    pub fn len(&self) -> u64 {
        match &self.hist {
            Some(hist) => hist.len() + self.few.len() as u64,
            None => self.few.len() as u64,
        }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values as an HDR histogram (what every figure is computed from).
    pub fn histogram(&self) -> Histogram<u64> {
        let mut hist = new_histogram::<u64>();
        if let Some(counts) = &self.hist {
            for v in counts.iter_recorded() {
                // Same layout: the bucket's highest value lands in the same bucket.
                let _ = hist.record_n(v.value_iterated_to(), u64::from(v.count_at_value()));
            }
        }
        for &value in &self.few {
            record_into(&mut hist, value);
        }
        hist
    }
}

fn record_into<T: hdrhistogram::Counter>(hist: &mut Histogram<T>, value: u64) {
    // Never fails: the histogram auto-resizes and `value` is at most MAX_VALUE, far below the
    // i64::MAX / 2 limit of resizing.
    let _ = hist.record(value);
}

/// Percentiles of a latency distribution, kept in µs (what gates compare exactly) and written as
/// `{p50, p90, p99, p999, max}` in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Latency {
    /// Median, µs.
    pub p50: u64,
    /// 90th percentile, µs.
    pub p90: u64,
    /// 99th percentile, µs.
    pub p99: u64,
    /// 99.9th percentile, µs.
    pub p999: u64,
    /// Largest value, µs (the highest value equivalent to it at 3 significant figures).
    pub max: u64,
}

impl Latency {
    /// The percentiles of `hist`, or `None` when it is empty.
    pub fn of(hist: &Histogram<u64>) -> Option<Latency> {
        if hist.is_empty() {
            return None;
        }
        Some(Latency {
            p50: hist.value_at_quantile(0.50),
            p90: hist.value_at_quantile(0.90),
            p99: hist.value_at_quantile(0.99),
            p999: hist.value_at_quantile(0.999),
            max: hist.highest_equivalent(hist.max()),
        })
    }

    /// The percentile named by `pct`, µs.
    pub fn get(&self, pct: Percentile) -> u64 {
        match pct {
            Percentile::P50 => self.p50,
            Percentile::P90 => self.p90,
            Percentile::P99 => self.p99,
            Percentile::P999 => self.p999,
            Percentile::Max => self.max,
        }
    }
}

impl Serialize for Latency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Latency", 5)?;
        s.serialize_field("p50", &ms(self.p50))?;
        s.serialize_field("p90", &ms(self.p90))?;
        s.serialize_field("p99", &ms(self.p99))?;
        s.serialize_field("p999", &ms(self.p999))?;
        s.serialize_field("max", &ms(self.max))?;
        s.end()
    }
}

/// A point of a latency distribution that gates and tables name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Percentile {
    /// 50th percentile.
    P50,
    /// 90th percentile.
    P90,
    /// 99th percentile.
    P99,
    /// 99.9th percentile.
    P999,
    /// The largest value.
    Max,
}

impl Percentile {
    /// Every percentile, in the order reports list them.
    pub const ALL: [Percentile; 5] = [
        Percentile::P50,
        Percentile::P90,
        Percentile::P99,
        Percentile::P999,
        Percentile::Max,
    ];

    /// The name used in JSON keys and gate expressions.
    pub fn as_str(self) -> &'static str {
        match self {
            Percentile::P50 => "p50",
            Percentile::P90 => "p90",
            Percentile::P99 => "p99",
            Percentile::P999 => "p999",
            Percentile::Max => "max",
        }
    }

    /// The fraction of values at or below it (1.0 for `max`).
    pub fn quantile(self) -> f64 {
        match self {
            Percentile::P50 => 0.50,
            Percentile::P90 => 0.90,
            Percentile::P99 => 0.99,
            Percentile::P999 => 0.999,
            Percentile::Max => 1.0,
        }
    }
}

/// The `rank`-th smallest value (1-based) of `hist`, as the highest value equivalent to it (the
/// convention of `value_at_quantile`, which the percentiles use); `None` beyond its length.
pub fn value_at_rank(hist: &Histogram<u64>, rank: u64) -> Option<u64> {
    if rank == 0 {
        return None;
    }
    let mut seen = 0u64;
    for v in hist.iter_recorded() {
        seen += v.count_at_value();
        if seen >= rank {
            return Some(hist.highest_equivalent(v.value_iterated_to()));
        }
    }
    None
}

/// µs to ms.
pub fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(values: impl IntoIterator<Item = u64>) -> Samples {
        let mut s = Samples::default();
        for v in values {
            s.record(v);
        }
        s
    }

    #[test]
    fn few_values_stay_a_list_then_become_a_histogram() {
        let s = samples(1..=FEW as u64);
        assert!(s.hist.is_none());
        assert_eq!(s.len(), FEW as u64);
        let s = samples(1..=FEW as u64 + 1);
        assert!(s.hist.is_some());
        assert!(s.few.is_empty());
        assert_eq!(s.len(), FEW as u64 + 1);
    }

    #[test]
    fn merging_lists_and_histograms_equals_recording_all() {
        let all: Vec<u64> = (0..500).map(|i| (i * 7919) % 100_000 + 3).collect();
        let whole = samples(all.iter().copied()).histogram();
        for split in [0, 1, 10, 64, 65, 200, 499, 500] {
            let mut a = samples(all[..split].iter().copied());
            let b = samples(all[split..].iter().copied());
            a.merge(&b);
            assert_eq!(a.histogram(), whole, "split at {split}");
            let mut b = samples(all[split..].iter().copied());
            b.merge(&samples(all[..split].iter().copied()));
            assert_eq!(b.histogram(), whole, "split at {split}, other way");
        }
    }

    #[test]
    fn ranks_read_the_sorted_values() {
        let h = samples([5, 1, 3, 3, 9]).histogram();
        let ranked: Vec<Option<u64>> = (0..=6).map(|r| value_at_rank(&h, r)).collect();
        assert_eq!(
            ranked,
            [None, Some(1), Some(3), Some(3), Some(5), Some(9), None]
        );
        let l = Latency::of(&samples(1..=1000).histogram()).unwrap();
        let h = samples(1..=1000).histogram();
        assert_eq!(
            value_at_rank(&h, 990),
            Some(l.p99),
            "same convention as the percentiles"
        );
    }

    #[test]
    fn huge_values_are_clamped() {
        let s = samples([u64::MAX, 5]);
        let h = s.histogram();
        assert_eq!(h.len(), 2);
        assert!(h.equivalent(h.max(), MAX_VALUE));
    }

    #[test]
    fn percentiles_are_exact_below_2048us() {
        let h = samples(1..=1000).histogram();
        let l = Latency::of(&h).unwrap();
        assert_eq!(
            l,
            Latency {
                p50: 500,
                p90: 900,
                p99: 990,
                p999: 999,
                max: 1000
            }
        );
        assert_eq!(
            serde_json::to_value(l).unwrap(),
            serde_json::json!({"p50": 0.5, "p90": 0.9, "p99": 0.99, "p999": 0.999, "max": 1.0})
        );
        assert_eq!(Latency::of(&new_histogram::<u64>()), None);
    }
}
