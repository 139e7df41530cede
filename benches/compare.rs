//! Compare over 1M replayed results across 50 endpoints: accumulate one at a time, then finish
//! (figures, shift tests, gates). Target (SPEC "Performance"): ≤ 2 s and ≤ 100 MiB.
//!
//! Before criterion's samples, one pass is timed on its own and the process's peak RSS (VmHWM
//! from /proc/self/status) is printed, since criterion measures time only.

use std::time::Instant;

use bytes::Bytes;
use criterion::Criterion;
use reel::compare::{Accumulator, Comparison, Config, parse_gates};
use reel::exchange::{ErrorKind, ReplayResult};

const RESULTS: u64 = 1_000_000;
const ENDPOINTS: u64 = 50;

/// splitmix64.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A latency in µs: a per-endpoint base times a long-tailed factor (1 to ~20).
fn latency_us(state: &mut u64, base: u64) -> u64 {
    let u = (next(state) >> 11) as f64 / (1u64 << 53) as f64;
    (base as f64 * (1.0 + 0.05 / (1.0 - u).max(0.0025))) as u64
}

/// `n` results; with `baseline`, every request is answered by both target sets (n/2 requests).
fn run(n: u64, baseline: bool) -> Comparison {
    let gates = parse_gates(&[
        "p99 > 1.25x",
        "error-rate > 0.5%",
        "GET /api/e7/{id}::p50 > +5ms",
    ])
    .expect("the bench's gates parse");
    let mut acc = Accumulator::new(Config {
        expect_baseline: baseline,
        ..Config::default()
    });
    let mut state = 42;
    let mut r = ReplayResult {
        conn: 0,
        index: 0,
        target: "http://staging:8080".into(),
        method: "GET".into(),
        path: String::with_capacity(64),
        prod_status: Some(200),
        prod_latency_ns: None,
        recorded_ts_ns: 0,
        intended_ns: 0,
        sent_ns: 0,
        first_byte_ns: 0,
        last_byte_ns: 0,
        status: Some(200),
        request_bytes: 200,
        response_bytes: 800,
        response: Bytes::from_static(
            b"HTTP/1.1 500 Internal Server Error\r\n\r\n{\"error\":\"boom\"}",
        ),
        external_id: None,
        error: None,
        shard: 0,
        shards: 1,
        iteration: 0,
        warmup: false,
        role: 0,
    };
    let step = if baseline { 2 } else { 1 };
    for i in (0..n).step_by(step) {
        let x = next(&mut state);
        let endpoint = x % ENDPOINTS;
        let id = (x >> 8) % 1_000_000;
        r.conn = i / 8;
        r.index = (i % 8) as u32;
        r.path.clear();
        use std::fmt::Write;
        let _ = write!(r.path, "/api/e{endpoint}/{id}?page={}", x >> 40 & 7);
        let base = 500 + endpoint * 400;
        let slow = if endpoint == 7 { 13 } else { 10 };
        r.prod_latency_ns = Some(latency_us(&mut state, base) * 1000);
        r.intended_ns = 1_700_000_000_000_000_000 + i * 100_000;
        r.sent_ns = r.intended_ns + next(&mut state) % 100_000;
        let staging = latency_us(&mut state, base * slow / 10) * 1000;
        let roll = next(&mut state) % 1000;
        (r.status, r.error, r.first_byte_ns) = match roll {
            0 => (None, Some(ErrorKind::Reset), 0),
            1..=4 => (Some(503), None, r.sent_ns + staging),
            _ => (Some(200), None, r.sent_ns + staging),
        };
        r.last_byte_ns = r.first_byte_ns;
        r.role = 0;
        acc.add(&r);
        if baseline {
            let staging = latency_us(&mut state, base) * 1000;
            (r.status, r.error, r.first_byte_ns) = (Some(200), None, r.sent_ns + staging);
            r.role = 1;
            acc.add(&r);
        }
    }
    acc.finish(&gates, &reel::compare::Judging::default())
}

/// Peak resident set size of this process, from /proc/self/status.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn main() {
    for baseline in [false, true] {
        let start = Instant::now();
        let comparison = run(RESULTS, baseline);
        let elapsed = start.elapsed();
        println!(
            "compare: {RESULTS} results{}, {} endpoints: accumulate + finish in {elapsed:.2?}, \
             peak RSS so far (VmHWM) {}; passed: {}",
            if baseline {
                " (half of them baseline)"
            } else {
                ""
            },
            comparison.endpoints.len(),
            peak_rss(),
            comparison.passed
        );
    }
    let mut c = Criterion::default().configure_from_args().sample_size(10);
    c.bench_function("compare 1M results, 50 endpoints", |b| {
        b.iter(|| run(RESULTS, false))
    });
    c.bench_function("compare 1M results, 50 endpoints, with a baseline", |b| {
        b.iter(|| run(RESULTS, true))
    });
    c.final_summary();
}
