//! Latency and throughput over time: the run cut into buckets by each request's intended send
//! time, so that a report shows *when* staging went wrong, not only that it did.
//!
//! **Buckets.** A bucket is `width` seconds of Unix time, aligned to multiples of `width` (1 s to
//! begin with), and holds, for production, the candidate and the baseline: requests, transport
//! errors (production: exchanges with no recorded response), 5xx answers, and the latencies in a
//! small HDR histogram (2 significant figures, `u32` counts: about 8 KB for latencies up to a
//! second, allocated only for a side that has one). Alignment to absolute time (not to the first
//! request) is what lets shards and several results files merge exactly: a second is the same
//! second in every file.
//!
//! **Bounded.** At most [`MAX_BUCKETS`] buckets span the run from its first to its last bucket.
//! When a run is longer, the width doubles and neighbouring buckets merge (2 s, 4 s, 8 s, …), so
//! an hour-long run ends with 8 s buckets and the memory stays below about
//! `MAX_BUCKETS × 3 × 8 KB` (12 MB) whatever the run's length. The width is the smallest power of
//! two that fits the run's span, whichever order results came in or were merged in, so merges stay
//! exact.
//!
//! **Honest ends.** The first and the last buckets are usually cut by the run's start and end:
//! each bucket says how many seconds of the run it covers (`covered_s`) and whether it is
//! `partial`.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::accumulate::{Role, status_class};
use crate::exchange::ReplayResult;

/// Buckets the run's span may take before their width doubles.
pub const MAX_BUCKETS: u64 = 512;

/// Significant figures of each bucket's latency histogram: 1% is plenty for a chart and keeps a
/// bucket small.
const SIGFIG: u8 = 2;

/// Latencies above this (µs) are recorded as this, bounding each histogram's size.
const MAX_LATENCY_US: u64 = 1 << 40;

const NS: u64 = 1_000_000_000;

/// What one side counted in one bucket.
#[derive(Debug, Clone, Default)]
struct SideBucket {
    requests: u64,
    errors: u64,
    status_5xx: u64,
    /// µs; `None` until a latency is recorded.
    latency: Option<Box<Histogram<u32>>>,
}

impl SideBucket {
    fn add(&mut self, error: bool, status: Option<u16>, latency_us: Option<u64>) {
        self.requests += 1;
        self.errors += u64::from(error);
        self.status_5xx += u64::from(status_class(status) == 4);
        if let Some(us) = latency_us {
            let Some(hist) = self.hist() else {
                return;
            };
            // Never fails: the histogram auto-resizes and the value is capped.
            let _ = hist.record(us.min(MAX_LATENCY_US));
        }
    }

    fn hist(&mut self) -> Option<&mut Histogram<u32>> {
        if self.latency.is_none() {
            self.latency = Some(Box::new(Histogram::new(SIGFIG).ok()?));
        }
        self.latency.as_deref_mut()
    }

    fn merge(&mut self, other: &SideBucket) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.status_5xx += other.status_5xx;
        if let Some(theirs) = &other.latency {
            if let Some(mine) = self.hist() {
                // Never fails: same precision, both auto-resize.
                let _ = mine.add(theirs.as_ref());
            }
        }
    }

    fn figures(&self) -> SideSecond {
        let quantile = |q: f64| {
            self.latency
                .as_ref()
                .filter(|h| !h.is_empty())
                .map(|h| h.value_at_quantile(q) as f64 / 1000.0)
        };
        SideSecond {
            requests: self.requests,
            errors: self.errors,
            status_5xx: self.status_5xx,
            p50: quantile(0.50),
            p99: quantile(0.99),
        }
    }
}

/// The three sides of one bucket.
#[derive(Debug, Clone, Default)]
struct Bucket {
    production: SideBucket,
    candidate: SideBucket,
    baseline: SideBucket,
}

impl Bucket {
    fn merge(&mut self, other: &Bucket) {
        self.production.merge(&other.production);
        self.candidate.merge(&other.candidate);
        self.baseline.merge(&other.baseline);
    }
}

/// Per-bucket counts and latency sketches of a run; see the module documentation.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// Bucket width, s (a power of two).
    width: u64,
    /// Buckets by index: Unix second / `width`.
    buckets: BTreeMap<u64, Bucket>,
    /// Earliest and latest intended send time seen, ns since the Unix epoch.
    span: Option<(u64, u64)>,
    /// Results with no intended send time (0), left out.
    untimed: u64,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            width: 1,
            buckets: BTreeMap::new(),
            span: None,
            untimed: 0,
        }
    }
}

impl Timeline {
    /// Counts one result of `role` whose staging latency (from the intended send time) is
    /// `latency_us`; production's copy is counted with the candidate's result.
    pub fn add(&mut self, r: &ReplayResult, role: Role, latency_us: Option<u64>) {
        if r.intended_ns == 0 {
            self.untimed += 1;
            return;
        }
        let t = r.intended_ns;
        self.span = Some(match self.span {
            Some((lo, hi)) => (lo.min(t), hi.max(t)),
            None => (t, t),
        });
        let key = t / NS / self.width;
        let bucket = self.buckets.entry(key).or_default();
        match role {
            Role::Candidate => {
                bucket.production.add(
                    r.prod_status.is_none(),
                    r.prod_status,
                    r.prod_latency_ns.map(|ns| ns / 1000),
                );
                bucket
                    .candidate
                    .add(r.error.is_some(), r.status, latency_us);
            }
            Role::Baseline => bucket.baseline.add(r.error.is_some(), r.status, latency_us),
        }
        self.fit();
    }

    /// Adds everything `other` counted: the result is what one timeline fed both would hold.
    pub fn merge(&mut self, other: &Timeline) {
        self.untimed += other.untimed;
        let Some((lo, hi)) = other.span else {
            return;
        };
        self.span = Some(match self.span {
            Some((a, b)) => (a.min(lo), b.max(hi)),
            None => (lo, hi),
        });
        while self.width < other.width {
            self.coarsen();
        }
        let factor = self.width / other.width;
        for (&key, bucket) in &other.buckets {
            self.buckets.entry(key / factor).or_default().merge(bucket);
        }
        self.fit();
    }

    /// Doubles the width until the run's span fits in [`MAX_BUCKETS`] buckets.
    fn fit(&mut self) {
        let Some((lo, hi)) = self.span else {
            return;
        };
        while (hi / NS / self.width) - (lo / NS / self.width) + 1 > MAX_BUCKETS {
            self.coarsen();
        }
    }

    /// Merges neighbouring buckets pairwise: the width doubles.
    fn coarsen(&mut self) {
        let old = std::mem::take(&mut self.buckets);
        for (key, bucket) in old {
            match self.buckets.entry(key / 2) {
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(bucket);
                }
                std::collections::btree_map::Entry::Occupied(mut e) => e.get_mut().merge(&bucket),
            }
        }
        self.width *= 2;
    }

    /// The figures, every bucket from the first to the last (empty ones included), or `None`
    /// when no result had a send time. `baseline`: whether the baseline's figures are wanted.
    pub fn figures(&self, baseline: bool) -> Option<TimelineFigures> {
        let (lo, hi) = self.span?;
        let first = lo / NS / self.width;
        let last = hi / NS / self.width;
        let width_ns = self.width * NS;
        let empty = Bucket::default();
        let buckets = (first..=last)
            .map(|key| {
                let bucket = self.buckets.get(&key).unwrap_or(&empty);
                let start = key * width_ns;
                // The run covers [lo, hi]: the first bucket from the first send, the last up to
                // the last send (at least 1 ns, so that one request alone covers something).
                let from = start.max(lo);
                let covered = if key == last {
                    (hi - from).max(1)
                } else {
                    start + width_ns - from
                };
                BucketFigures {
                    t_s: (key - first) * self.width,
                    covered_s: covered as f64 / NS as f64,
                    partial: covered < width_ns,
                    production: bucket.production.figures(),
                    staging: bucket.candidate.figures(),
                    baseline: baseline.then(|| bucket.baseline.figures()),
                }
            })
            .collect();
        Some(TimelineFigures {
            bucket_s: self.width,
            start_ns: first * width_ns,
            first_send_ns: lo,
            last_send_ns: hi,
            untimed: self.untimed,
            buckets,
        })
    }
}

/// One side in one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SideSecond {
    /// Requests intended to be sent in the bucket.
    pub requests: u64,
    /// Transport errors (production: exchanges with no recorded response).
    pub errors: u64,
    /// Answers with a 5xx status (or a code outside 100–499).
    #[serde(rename = "5xx")]
    pub status_5xx: u64,
    /// Median latency, ms (`null`: no latency in the bucket).
    pub p50: Option<f64>,
    /// 99th percentile latency, ms.
    pub p99: Option<f64>,
}

/// One bucket of the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BucketFigures {
    /// Start of the bucket, s after the start of the first one.
    pub t_s: u64,
    /// Seconds of the run the bucket covers: less than the width for the first and the last.
    pub covered_s: f64,
    /// True when the run covers only part of the bucket (the first and last, usually).
    pub partial: bool,
    /// Production, from the copies in the candidate's results.
    pub production: SideSecond,
    /// The candidate (staging).
    pub staging: SideSecond,
    /// The baseline (`null` without one).
    pub baseline: Option<SideSecond>,
}

/// The run over time, as the JSON's `timeline` and the report's charts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineFigures {
    /// Width of each bucket, s: 1, or a power of two for long runs (at most 512 buckets).
    pub bucket_s: u64,
    /// Start of the first bucket, ns since the Unix epoch (buckets align to multiples of the width).
    pub start_ns: u64,
    /// The earliest intended send time, ns since the Unix epoch.
    pub first_send_ns: u64,
    /// The latest intended send time, ns since the Unix epoch.
    pub last_send_ns: u64,
    /// Results with no send time, left out of the timeline.
    pub untimed: u64,
    /// Every bucket from the first to the last, in order, empty ones included.
    pub buckets: Vec<BucketFigures>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn result(at_ms: u64, staging_us: u64, status: Option<u16>) -> ReplayResult {
        let intended = 1_700_000_000 * NS + at_ms * 1_000_000;
        ReplayResult {
            conn: at_ms,
            index: 0,
            target: "http://s".into(),
            method: "GET".into(),
            path: "/".into(),
            prod_status: Some(200),
            prod_latency_ns: Some(1_000_000),
            recorded_ts_ns: 1,
            intended_ns: intended,
            sent_ns: intended,
            first_byte_ns: intended + staging_us * 1000,
            last_byte_ns: intended + staging_us * 1000,
            status,
            request_bytes: 1,
            response_bytes: 1,
            response: Bytes::new(),
            external_id: None,
            error: None,
            shard: 0,
            shards: 1,
            iteration: 0,
            warmup: false,
            role: 0,
        }
    }

    fn feed(results: &[ReplayResult]) -> Timeline {
        let mut t = Timeline::default();
        for r in results {
            let lat = (r.first_byte_ns - r.intended_ns) / 1000;
            t.add(r, Role::Candidate, Some(lat));
        }
        t
    }

    #[test]
    fn seconds_hold_their_requests_latencies_and_5xx() {
        // 0.0–0.9 s: 10 requests at 1 ms; 1.0–1.9 s: 10 at 100 ms, 3 of them 503; 3.5 s: one.
        let mut rs: Vec<ReplayResult> = (0..10).map(|i| result(i * 100, 1000, Some(200))).collect();
        rs.extend(
            (0..10).map(|i| result(1000 + i * 100, 100_000, Some(if i < 3 { 503 } else { 200 }))),
        );
        rs.push(result(3500, 5000, Some(200)));
        let f = feed(&rs).figures(false).unwrap();
        assert_eq!(f.bucket_s, 1);
        assert_eq!(f.start_ns, 1_700_000_000 * NS);
        let count: Vec<u64> = f.buckets.iter().map(|b| b.staging.requests).collect();
        assert_eq!(count, [10, 10, 0, 1]);
        let fives: Vec<u64> = f.buckets.iter().map(|b| b.staging.status_5xx).collect();
        assert_eq!(fives, [0, 3, 0, 0]);
        // Two significant figures: within 1%.
        let near = |v: Option<f64>, want: f64| v.is_some_and(|v| (v - want).abs() <= want * 0.01);
        assert!(
            near(f.buckets[0].staging.p50, 1.0),
            "{:?}",
            f.buckets[0].staging
        );
        assert!(
            near(f.buckets[1].staging.p99, 100.0),
            "{:?}",
            f.buckets[1].staging
        );
        assert!(near(f.buckets[3].staging.p50, 5.0));
        assert_eq!(f.buckets[2].staging.p50, None);
        assert!(near(f.buckets[0].production.p50, 1.0));
        assert!(f.buckets[0].baseline.is_none());
        // Full seconds in the middle; the last one covers 0.5 s of the run, and says so.
        assert!(!f.buckets[1].partial && !f.buckets[2].partial);
        assert_eq!(f.buckets[1].covered_s, 1.0);
        assert!(f.buckets[3].partial);
        assert!((f.buckets[3].covered_s - 0.5).abs() < 1e-9);
        let ts: Vec<u64> = f.buckets.iter().map(|b| b.t_s).collect();
        assert_eq!(ts, [0, 1, 2, 3]);
    }

    #[test]
    fn a_first_second_begun_late_is_partial() {
        let rs = [result(400, 1000, Some(200)), result(1200, 1000, Some(200))];
        let f = feed(&rs).figures(false).unwrap();
        assert!(f.buckets[0].partial);
        assert!((f.buckets[0].covered_s - 0.6).abs() < 1e-9);
        assert!((f.buckets[1].covered_s - 0.2).abs() < 1e-9);
    }

    #[test]
    fn a_long_run_doubles_the_width_and_stays_bounded() {
        // One request every 3 s for 2 hours: 7200 s → 16 s buckets (450 of them).
        let rs: Vec<ReplayResult> = (0..2400).map(|i| result(i * 3000, 1000, None)).collect();
        let t = feed(&rs);
        let f = t.figures(false).unwrap();
        assert_eq!(f.bucket_s, 16);
        assert!(f.buckets.len() as u64 <= MAX_BUCKETS);
        assert!(t.buckets.len() as u64 <= MAX_BUCKETS);
        let total: u64 = f.buckets.iter().map(|b| b.staging.requests).sum();
        assert_eq!(total, 2400);
        // Errors and 5xx: `None` status with no error is not 5xx; production answered.
        assert_eq!(
            f.buckets.iter().map(|b| b.staging.status_5xx).sum::<u64>(),
            0
        );
        assert_eq!(
            f.buckets.iter().map(|b| b.production.errors).sum::<u64>(),
            0
        );
    }

    #[test]
    fn merges_are_exact_in_any_order_and_split() {
        // A short shard and a long one: the merge must coarsen the short one to the long one's
        // width, and give what one timeline fed everything gives.
        let mut rs: Vec<ReplayResult> = (0..3000)
            .map(|i| {
                result(
                    i * 997,
                    100 + i % 5000,
                    Some(if i % 7 == 0 { 500 } else { 200 }),
                )
            })
            .collect();
        rs[5].error = Some(crate::exchange::ErrorKind::Reset);
        let whole = feed(&rs).figures(true).unwrap();
        assert!(whole.bucket_s > 1);
        for split in [1, 10, 1500, 2999] {
            let (a, b) = rs.split_at(split);
            let (mut ta, mut tb) = (feed(a), feed(b));
            let tb2 = tb.clone();
            tb.merge(&ta);
            assert_eq!(tb.figures(true).unwrap(), whole, "split at {split}");
            ta.merge(&tb2);
            assert_eq!(
                ta.figures(true).unwrap(),
                whole,
                "split at {split}, reversed"
            );
        }
        // Round robin over 3.
        let mut parts = [
            Timeline::default(),
            Timeline::default(),
            Timeline::default(),
        ];
        for (i, r) in rs.iter().enumerate() {
            let lat = (r.first_byte_ns - r.intended_ns) / 1000;
            parts[i % 3].add(r, Role::Candidate, Some(lat));
        }
        let mut merged = Timeline::default();
        for p in parts.iter().rev() {
            merged.merge(p);
        }
        assert_eq!(merged.figures(true).unwrap(), whole);
        assert_eq!(
            whole.buckets.iter().map(|b| b.staging.errors).sum::<u64>(),
            1
        );
    }

    #[test]
    fn untimed_results_are_counted_apart() {
        let mut r = result(0, 1000, Some(200));
        r.intended_ns = 0;
        let mut t = Timeline::default();
        t.add(&r, Role::Candidate, Some(1));
        assert!(t.figures(false).is_none());
        t.add(&result(10, 1000, Some(200)), Role::Baseline, Some(1000));
        let f = t.figures(true).unwrap();
        assert_eq!(f.untimed, 1);
        assert_eq!(f.buckets[0].staging.requests, 0);
        assert_eq!(f.buckets[0].baseline.unwrap().requests, 1);
    }
}
