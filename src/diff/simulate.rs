//! Seeded simulations of the whole stage (normalize → compare → accumulate → verdicts) on JSON
//! responses with every kind of noise a real API has: noise never becomes a regression, a small
//! planted change does, and shards merge into exactly the whole.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::accumulate::{Accumulator, Config, Example, Report};
use super::compare::difference;
use super::intern::Interner;
use super::normalize::{Normalizer, Options, Response};
use super::stats::Verdict;
use super::{Repeats, Summary};

const NODES: [&str; 9] = [
    "web-a1", "web-a2", "web-a3", "web-b1", "web-b2", "web-b3", "web-c1", "web-c2", "web-c3",
];
const ENDPOINTS: [&str; 2] = ["GET /api/orders/{id}", "GET /api/users/{id}"];

/// One side's response to request `i`: `moment` is when it was answered (ms), `planted` swaps the
/// currency.
fn response(rng: &mut StdRng, i: u64, moment: u64, planted: bool) -> (String, String) {
    let node = NODES[rng.random_range(0..NODES.len())];
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nServer: {node}\r\nX-Request-Id: {:016x}\r\nDate: {moment}\r\n\r\n",
        rng.random::<u64>()
    );
    let currency = if planted { "USD" } else { "EUR" };
    // Keys in a random order: order never matters.
    let mut fields = [
        format!("\"id\":{i}"),
        format!(
            "\"generated_at\":\"{}.{:03}\"",
            moment / 1000,
            moment % 1000
        ),
        format!("\"request_id\":\"{:032x}\"", rng.random::<u128>()),
        format!("\"shard\":{}", rng.random_range(1..=4)),
        format!("\"node\":\"{node}\""),
        format!("\"currency\":\"{currency}\""),
        format!(
            "\"items\":[{{\"sku\":\"s{}\",\"qty\":{}}},{{\"sku\":\"t\",\"qty\":1}}]",
            i % 7,
            i % 3 + 1
        ),
        "\"total\":\"19.90\"".to_owned(),
    ];
    let shift = rng.random_range(0..fields.len());
    fields.rotate_left(shift);
    (head, format!("{{{}}}", fields.join(",")))
}

fn summarize(
    n: &mut Normalizer,
    interner: &mut Interner,
    (head, body): &(String, String),
) -> Summary {
    n.summarize(
        &Response {
            head: head.as_bytes(),
            body: body.as_bytes(),
            complete: true,
            request_host: None,
            endpoint: None,
        },
        interner,
    )
}

/// A shard of a run: its own interner and accumulator.
struct Shard {
    normalizer: Normalizer,
    interner: Interner,
    acc: Accumulator,
}

impl Shard {
    fn new(baseline: bool) -> Shard {
        Shard {
            normalizer: Normalizer::new(Options::default()),
            interner: Interner::new(),
            acc: Accumulator::new(Config::default(), baseline),
        }
    }

    /// Request `i` with a baseline: P at capture, B and C at the same replay moment (a few ms
    /// apart); `planted` changes the candidate.
    fn paired(&mut self, rng: &mut StdRng, i: u64, planted: bool) {
        let endpoint = ENDPOINTS[(i % 2) as usize];
        let p = response(rng, i, 1_000_000 + i * 250, false);
        let replay = 9_000_000 + i * 100;
        let (jb, jc) = (rng.random_range(0..3), rng.random_range(0..3));
        let b = response(rng, i, replay + jb, false);
        let c = response(rng, i, replay + jc, planted);
        let sp = summarize(&mut self.normalizer, &mut self.interner, &p);
        let sb = summarize(&mut self.normalizer, &mut self.interner, &b);
        let sc = summarize(&mut self.normalizer, &mut self.interner, &c);
        let dc = difference(&sp, &sc);
        let db = difference(&sp, &sb);
        let differing = self.acc.add(endpoint, dc.as_ref(), db.as_ref());
        for path in differing {
            if self.acc.wants_example(endpoint, path, i) {
                self.acc.add_example(
                    endpoint,
                    path,
                    Example {
                        key: i,
                        target: format!("/api/x/{i}"),
                        production: Some(p.1.clone()),
                        baseline: Some(b.1.clone()),
                        candidate: Some(c.1.clone()),
                    },
                );
            }
        }
    }

    /// Request `i` without a baseline; every third production request is answered twice in a
    /// row (an identical repeat), which is where noise is learned.
    fn unpaired(&mut self, rng: &mut StdRng, repeats: &mut Repeats, i: u64, planted: bool) {
        let endpoint = ENDPOINTS[(i % 2) as usize];
        let p = response(rng, i, 1_000_000 + i * 250, false);
        let sp = summarize(&mut self.normalizer, &mut self.interner, &p);
        if i % 3 == 0 {
            let again = response(rng, i, 1_000_000 + i * 250 + 40, false);
            let sa = summarize(&mut self.normalizer, &mut self.interner, &again);
            if let Some(previous) = repeats.observe(i, &sp) {
                self.acc.add_repeat(endpoint, &previous, &sp);
            }
            if let Some(previous) = repeats.observe(i, &sa) {
                self.acc.add_repeat(endpoint, &previous, &sa);
            }
        }
        let c = response(rng, i, 9_000_000 + i * 100, planted);
        let sc = summarize(&mut self.normalizer, &mut self.interner, &c);
        self.acc.add(endpoint, difference(&sp, &sc).as_ref(), None);
    }

    fn report(&self) -> Report {
        self.acc.report(&self.interner)
    }
}

fn regressions(report: &Report) -> Vec<String> {
    report
        .endpoints
        .iter()
        .flat_map(|e| {
            e.regressions()
                .map(move |p| format!("{}: {}", e.endpoint, p.path))
        })
        .collect()
}

#[test]
fn noise_is_never_a_regression_over_1000_seeds_with_a_baseline() {
    let mut flagged = Vec::new();
    for seed in 0..1000 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut shard = Shard::new(true);
        for i in 0..200 {
            shard.paired(&mut rng, i, false);
        }
        let report = shard.report();
        assert_eq!(report.overall.compared, 200);
        // Noise fields were seen and judged.
        let orders = report.endpoint(ENDPOINTS[0]);
        let verdict = |path: &str| {
            orders
                .and_then(|e| e.paths.iter().find(|p| p.path == path))
                .map(|p| p.verdict)
        };
        assert_eq!(
            verdict("$.request_id"),
            Some(Verdict::Masked),
            "seed {seed}"
        );
        assert!(verdict("$.shard").is_some(), "seed {seed}");
        assert!(verdict("header.server").is_some(), "seed {seed}");
        assert_eq!(verdict("$.currency"), None, "seed {seed}: never differed");
        for e in &report.endpoints {
            assert_eq!(e.rate.differing_high, 0, "seed {seed}: {e:?}");
        }
        flagged.extend(
            regressions(&report)
                .into_iter()
                .map(|r| format!("seed {seed}: {r}")),
        );
    }
    assert!(flagged.is_empty(), "{flagged:#?}");
}

#[test]
fn noise_is_never_a_regression_over_1000_seeds_without_a_baseline() {
    let mut flagged = Vec::new();
    for seed in 0..1000 {
        let mut rng = StdRng::seed_from_u64(seed ^ 0xabcd);
        let mut shard = Shard::new(false);
        let mut repeats = Repeats::new(1 << 20);
        for i in 0..200 {
            shard.unpaired(&mut rng, &mut repeats, i, false);
        }
        let report = shard.report();
        for e in &report.endpoints {
            for p in &e.paths {
                assert_eq!(p.verdict, Verdict::Noise, "seed {seed}: {p:?}");
            }
            assert_eq!(e.rate.differing_high, 0, "seed {seed}");
        }
        flagged.extend(
            regressions(&report)
                .into_iter()
                .map(|r| format!("seed {seed}: {r}")),
        );
    }
    assert!(flagged.is_empty(), "{flagged:#?}");
}

/// 400 requests to each endpoint; on one, 5 % of them (20) get another currency.
fn planted(seed: u64, baseline: bool) -> Report {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut shard = Shard::new(baseline);
    let mut repeats = Repeats::new(1 << 20);
    for i in 0..800 {
        let change = i % 40 == 0;
        if baseline {
            shard.paired(&mut rng, i, change);
        } else {
            shard.unpaired(&mut rng, &mut repeats, i, change);
        }
    }
    shard.report()
}

#[test]
fn a_five_percent_planted_change_is_flagged_and_nothing_else() {
    for baseline in [true, false] {
        for seed in 0..20 {
            let report = planted(seed, baseline);
            assert_eq!(
                regressions(&report),
                [format!("{}: $.currency", ENDPOINTS[0])],
                "seed {seed} baseline {baseline}"
            );
            let orders = report.endpoint(ENDPOINTS[0]).map(|e| e.rate);
            // 20 of the endpoint's 400 requests differ on a counted path: 5 %.
            assert_eq!(
                orders.map(|r| (r.differing_low, r.differing_high, r.compared)),
                Some((20, 20, 400))
            );
            let users = report.endpoint(ENDPOINTS[1]).map(|e| e.rate.differing_high);
            assert_eq!(users, Some(0));
            let path = report
                .endpoint(ENDPOINTS[0])
                .and_then(|e| e.regressions().next().cloned());
            let path = path.unwrap_or_else(|| panic!("seed {seed}: no regression"));
            assert!((path.share - 0.05).abs() < 1e-9, "{}", path.share);
            assert!(path.excess_low > 0.005);
            if baseline {
                assert_eq!(path.examples.len(), 3);
                assert_eq!(path.examples[0].key, 0);
                assert!(
                    path.examples[0]
                        .candidate
                        .as_deref()
                        .is_some_and(|c| c.contains("USD"))
                );
            }
        }
    }
}

#[test]
fn two_merged_halves_equal_the_whole() {
    for baseline in [true, false] {
        let run = |range: std::ops::Range<u64>, shard: &mut Shard, rng: &mut StdRng| {
            let mut repeats = Repeats::new(1 << 20);
            for i in range {
                let change = i % 20 == 0;
                if baseline {
                    shard.paired(rng, i, change);
                } else {
                    shard.unpaired(rng, &mut repeats, i, change);
                }
            }
        };
        let mut whole = Shard::new(baseline);
        run(0..400, &mut whole, &mut StdRng::seed_from_u64(7));
        // The same draws, split: the first half's rng state continues into the second.
        let mut rng = StdRng::seed_from_u64(7);
        let mut left = Shard::new(baseline);
        run(0..200, &mut left, &mut rng);
        let mut right = Shard::new(baseline);
        // The right shard interns in another order: its ids differ from the left's.
        right.interner.intern("$.not.in.the.left");
        run(200..400, &mut right, &mut rng);
        let remap = left.interner.absorb(&right.interner);
        left.acc.merge(&right.acc, &remap);
        let (a, b) = (whole.report(), left.report());
        assert_eq!(a, b, "baseline {baseline}");
        assert!(a.regression_paths() > 0);
    }
}
