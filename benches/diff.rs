//! Response-diff cost per replayed request: normalizing a 2 KiB JSON API response (plain, and
//! chunked + gzip as captured), comparing two summaries, and one request through the paired
//! accumulator. Replay at 100k req/s with a baseline normalizes two responses per request on
//! its worker threads; the budget is a few µs per response.
//!
//! Run with `cargo bench --bench diff`.

use std::hint::black_box;
use std::io::Write;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reel::diff::accumulate::Config;
use reel::diff::{Accumulator, Interner, Normalizer, Options, Response, difference};

/// A 2 KiB order: nested objects, an array of line items, numbers, strings with escapes.
fn body(seed: u64) -> Vec<u8> {
    let mut items = Vec::new();
    for k in 0..22 {
        items.push(format!(
            "{{\"sku\":\"SKU-{k:04}\",\"name\":\"Item \\u00e9 {k}\",\"qty\":{},\"price\":{}.99,\"tags\":[\"a\",\"b\"]}}",
            k % 3 + 1,
            10 + k
        ));
    }
    format!(
        "{{\"id\":{seed},\"status\":\"shipped\",\"generated_at\":\"2026-12-08T00:00:{:02}.123Z\",\
         \"request_id\":\"{seed:032x}\",\"customer\":{{\"id\":77,\"name\":\"Ann\",\"tier\":\"gold\"}},\
         \"items\":[{}],\"total\":{{\"amount\":\"123.45\",\"currency\":\"EUR\"}},\"shipping\":{{\"carrier\":\"ups\",\"eta_days\":3}}}}",
        seed % 60,
        items.join(",")
    )
    .into_bytes()
}

const HEAD: &str = "HTTP/1.1 200 OK\r\nServer: web-a1\r\nDate: Tue, 08 Dec 2026 00:00:00 GMT\r\n\
                    Content-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\n\
                    X-Request-Id: 0123456789abcdef\r\n";

fn chunked_gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip to memory");
    let gz = e.finish().expect("gzip to memory");
    let mut out = Vec::new();
    for c in gz.chunks(512) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fn bench(c: &mut Criterion) {
    let plain = body(1);
    assert!((1900..2600).contains(&plain.len()), "{}", plain.len());
    let plain_head = format!("{HEAD}Content-Length: {}\r\n\r\n", plain.len());
    let wire = chunked_gzip(&plain);
    let wire_head = format!("{HEAD}Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n");
    let response = |head: &'static str, body: &'static [u8]| Response {
        head: head.as_bytes(),
        body,
        complete: true,
        request_host: None,
        endpoint: None,
    };
    let plain_head: &'static str = Box::leak(plain_head.into_boxed_str());
    let plain: &'static [u8] = Box::leak(plain.into_boxed_slice());
    let wire_head: &'static str = Box::leak(wire_head.into_boxed_str());
    let wire: &'static [u8] = Box::leak(wire.into_boxed_slice());

    let mut group = c.benchmark_group("diff");
    group.throughput(Throughput::Elements(1));
    let mut interner = Interner::new();
    let mut normalizer = Normalizer::new(Options::default());
    group.bench_function("normalize 2 KiB JSON", |b| {
        b.iter(|| black_box(normalizer.summarize(&response(plain_head, plain), &mut interner)))
    });
    // A yardstick on the same machine: building serde_json's tree of the same body.
    group.bench_function("reference: serde_json::Value of the body", |b| {
        b.iter(|| black_box(serde_json::from_slice::<serde_json::Value>(plain).ok()))
    });
    group.bench_function("normalize 2 KiB JSON, chunked gzip", |b| {
        b.iter(|| black_box(normalizer.summarize(&response(wire_head, wire), &mut interner)))
    });
    let p = normalizer.summarize(&response(plain_head, plain), &mut interner);
    let other = body(2);
    let other_head = format!("{HEAD}Content-Length: {}\r\n\r\n", other.len());
    let c_sum = normalizer.summarize(
        &Response {
            head: other_head.as_bytes(),
            body: &other,
            complete: true,
            request_host: None,
            endpoint: None,
        },
        &mut interner,
    );
    group.bench_function("difference of two summaries", |b| {
        b.iter(|| black_box(difference(&p, &c_sum)))
    });
    let dc = difference(&p, &c_sum);
    let db = difference(&p, &p);
    let mut acc = Accumulator::new(Config::default(), true);
    group.bench_function("accumulate one paired request", |b| {
        b.iter(|| black_box(acc.add("GET /api/orders/{id}", dc.as_ref(), db.as_ref())))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
