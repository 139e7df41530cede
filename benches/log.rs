//! `.reel` write and read throughput (MB/s of message bytes) and compression ratio (file bytes /
//! message bytes) on a deterministic mix of API traffic: varied paths with ids, typical headers,
//! small JSON bodies, and some repeated larger bodies.
//!
//! Run: `cargo bench --bench log`. The ratios are printed before the timings.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reel::exchange::{Message, Record, Response};
use reel::log::{Reader, Writer, WriterConfig};

/// A small deterministic generator (xorshift64*), so the mix is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize]))
            .collect()
    }
}

fn message(conn: u64, index: u32, ts: u64, head: String, body: &[u8]) -> Message {
    let head_len = head.len() as u32;
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    let client: SocketAddr = format!(
        "10.0.{}.{}:{}",
        conn % 7,
        conn % 200 + 1,
        30_000 + conn % 30_000
    )
    .parse()
    .expect("address");
    Message {
        conn,
        index,
        client,
        server: "10.1.0.10:8080".parse().expect("address"),
        first_ts_ns: ts,
        last_ts_ns: ts + 20_000,
        bytes: Bytes::from(bytes),
        head_len,
        body_len: body.len() as u64,
        truncation: None,
        external_id: None,
    }
}

/// About 20 000 exchanges on 500 keep-alive connections.
fn api_mix() -> Vec<Record> {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let catalogs: Vec<Vec<u8>> = (0..3)
        .map(|c| {
            let mut b = b"{\"products\":[".to_vec();
            for i in 0..150 {
                b.extend_from_slice(
                    format!(
                        "{{\"id\":{},\"sku\":\"SKU-{c}-{i:05}\",\"name\":\"Product {i}\",\"price\":{}.{:02},\"tags\":[\"a\",\"b\"]}},",
                        c * 1000 + i,
                        rng.below(500),
                        rng.below(100)
                    )
                    .as_bytes(),
                );
            }
            b.extend_from_slice(b"{}]}");
            b
        })
        .collect();
    let tokens: Vec<String> = (0..20).map(|_| rng.hex(40)).collect();
    let agents = [
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
        "okhttp/4.12.0",
        "python-requests/2.31.0",
        "Go-http-client/1.1",
    ];
    let mut out = Vec::new();
    let mut ts = 1_767_225_600_000_000_000u64;
    let mut next_index = vec![0u32; 500];
    for _ in 0..20_000 {
        let conn = rng.below(500);
        let index = next_index[conn as usize];
        next_index[conn as usize] += 1;
        ts += 50_000 + rng.below(200_000);
        let user = rng.below(100_000);
        let (method, path, req_body) = match rng.below(10) {
            0..=3 => ("GET", format!("/api/v1/users/{user}"), Vec::new()),
            4 | 5 => ("GET", format!("/api/v1/users/{user}/orders?page={}&limit=20", rng.below(9)), Vec::new()),
            6 => ("GET", "/api/v1/catalog".to_owned(), Vec::new()),
            7 | 8 => (
                "POST",
                "/api/v1/orders".to_owned(),
                format!("{{\"user\":{user},\"items\":[{{\"sku\":\"SKU-0-{:05}\",\"qty\":{}}}],\"coupon\":null}}", rng.below(150), 1 + rng.below(4)).into_bytes(),
            ),
            _ => ("DELETE", format!("/api/v1/sessions/{}", rng.hex(32)), Vec::new()),
        };
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: {}\r\nAccept: application/json\r\nAccept-Encoding: gzip, deflate, br\r\nAuthorization: Bearer {}\r\nX-Request-Id: {}-{}-{}\r\n",
            agents[rng.below(4) as usize],
            tokens[rng.below(20) as usize],
            rng.hex(8),
            rng.hex(4),
            rng.hex(12)
        );
        if !req_body.is_empty() {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                req_body.len()
            ));
        }
        head.push_str("\r\n");
        out.push(Record::Request(message(conn, index, ts, head, &req_body)));

        let (status, body): (u16, Vec<u8>) = if path == "/api/v1/catalog" {
            (200, catalogs[rng.below(3) as usize].clone())
        } else if rng.below(20) == 0 {
            (404, b"{\"error\":\"not found\"}".to_vec())
        } else if method == "POST" {
            (
                201,
                format!(
                    "{{\"order\":{},\"status\":\"created\",\"total\":{}.{:02}}}",
                    rng.below(1_000_000),
                    rng.below(900),
                    rng.below(100)
                )
                .into_bytes(),
            )
        } else if method == "DELETE" {
            (204, Vec::new())
        } else {
            (200, format!(
                "{{\"id\":{user},\"name\":\"user{user}\",\"email\":\"user{user}@example.com\",\"active\":{},\"created\":\"2025-{:02}-{:02}T10:00:00Z\",\"orders\":{}}}",
                rng.below(2) == 0, 1 + rng.below(12), 1 + rng.below(28), rng.below(300)
            ).into_bytes())
        };
        let latency = 200_000 + rng.below(5_000_000);
        let head = format!(
            "HTTP/1.1 {status} {}\r\nServer: nginx/1.24.0\r\nDate: Thu, 01 Jan 2026 00:{:02}:{:02} GMT\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: keep-alive\r\nETag: \"{}\"\r\nX-Request-Id: {}\r\n\r\n",
            if status == 200 {
                "OK"
            } else if status == 201 {
                "Created"
            } else if status == 204 {
                "No Content"
            } else {
                "Not Found"
            },
            (ts / 60_000_000_000) % 60,
            (ts / 1_000_000_000) % 60,
            body.len(),
            rng.hex(16),
            rng.hex(24)
        );
        out.push(Record::Response(Response {
            message: message(conn, index, ts + latency, head, &body),
            status,
            latency_ns: Some(latency),
            latency_last_ns: Some(latency + 30_000),
        }));
    }
    out
}

fn write_log(records: &[Record], config: WriterConfig) -> (Vec<u8>, u64) {
    let mut out = Vec::new();
    let mut w = Writer::new(&mut out, "bench.reel", config).expect("writer");
    for r in records {
        w.write(r).expect("write");
    }
    let stats = w.close().expect("close");
    (out, stats.message_bytes)
}

fn config(level: i32, dedup: bool) -> WriterConfig {
    WriterConfig {
        zstd_level: level,
        dedup,
        block_age: Duration::from_secs(3_600),
        ..WriterConfig::default()
    }
}

fn bench(c: &mut Criterion) {
    let records = api_mix();
    let (file, message_bytes) = write_log(&records, config(3, true));
    for (level, dedup) in [(3, true), (3, false), (1, true), (9, true)] {
        let (f, m) = write_log(&records, config(level, dedup));
        println!(
            "compression ratio (file / message bytes), zstd {level}, dedup {dedup}: {:.4} ({} / {} bytes, {} records)",
            f.len() as f64 / m as f64,
            f.len(),
            m,
            records.len()
        );
    }
    let mut group = c.benchmark_group("log");
    group.throughput(Throughput::Bytes(message_bytes));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("write", |b| {
        b.iter(|| black_box(write_log(black_box(&records), config(3, true))))
    });
    group.bench_function("read", |b| {
        b.iter(|| {
            let mut reader = Reader::new(black_box(&file[..]), "bench.reel").expect("header");
            let mut n = 0u64;
            while let Some(r) = reader.next_record().expect("record") {
                n += black_box(&r).ts_ns() & 1;
            }
            black_box(n)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
