//! HTTP stage throughput: the extractor on a realistic keep-alive stream of API requests and
//! responses delivered in 1448-byte pieces (MSS-sized segments), and the framer alone on the
//! response stream the way the replay client reads it.
//!
//! Run with `cargo bench --bench framing`. Throughput is in payload bytes; a pcap of the same
//! traffic is about 6% larger (Ethernet/IP/TCP headers and pcap record headers per segment).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reel::http::drive::conn_info;
use reel::http::framing::{Kind, MessageFramer, RequestContext};
use reel::http::{ExtractConfig, Extractor};
use reel::tcp::{CloseReason, Dir, StreamHandler};

const MSS: usize = 1448;

/// A small deterministic generator, so the stream is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn json_body(rng: &mut Lcg, len: usize) -> Vec<u8> {
    let mut body = b"{\"items\":[".to_vec();
    while body.len() + 60 < len {
        let id = rng.below(1_000_000);
        body.extend_from_slice(
            format!(
                "{{\"id\":{id},\"name\":\"item-{id}\",\"price\":{}.99}},",
                id % 500
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(b"{}]}");
    body
}

/// (client bytes, server bytes) per exchange.
fn exchanges(n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut rng = Lcg(42);
    (0..n)
        .map(|i| {
            let id = rng.below(100_000);
            let post = i % 5 == 4;
            let req_body = if post { json_body(&mut rng, 300) } else { Vec::new() };
            let mut req = format!(
                "{} /api/v1/users/{id}/orders?page={}&limit=20 HTTP/1.1\r\n\
                 Host: api.shop.internal\r\n\
                 User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n\
                 Accept: application/json\r\n\
                 Accept-Encoding: gzip, deflate, br\r\n\
                 Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEyMzQ1Njc4OTAiLCJpYXQiOjE3MDAwMDAwMDB9.c2lnbmF0dXJl\r\n\
                 X-Request-Id: 7f3c{i:08x}-4e1b-9a2d-000000000000\r\n\
                 Cookie: session=s%3A{id:012}.abcdefghijklmnop; theme=dark\r\n",
                if post { "POST" } else { "GET" },
                rng.below(10),
            )
            .into_bytes();
            if post {
                req.extend_from_slice(
                    format!("Content-Type: application/json\r\nContent-Length: {}\r\n", req_body.len())
                        .as_bytes(),
                );
            }
            req.extend_from_slice(b"\r\n");
            req.extend_from_slice(&req_body);

            let len = 200 + rng.below(4000) as usize;
            let body = json_body(&mut rng, len);
            let chunked = i % 7 == 3;
            let mut resp = format!(
                "HTTP/1.1 200 OK\r\n\
                 Server: nginx/1.22.1\r\n\
                 Date: Sun, 29 Nov 2026 19:35:08 GMT\r\n\
                 Content-Type: application/json; charset=utf-8\r\n\
                 Connection: keep-alive\r\n\
                 Cache-Control: private, max-age=0\r\n\
                 ETag: \"{id:x}-{i:x}\"\r\n\
                 X-Request-Id: 7f3c{i:08x}-4e1b-9a2d-000000000000\r\n"
            )
            .into_bytes();
            if chunked {
                resp.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                for part in body.chunks(1000) {
                    resp.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
                    resp.extend_from_slice(part);
                    resp.extend_from_slice(b"\r\n");
                }
                resp.extend_from_slice(b"0\r\n\r\n");
            } else {
                resp.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
                resp.extend_from_slice(&body);
            }
            (req, resp)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let xs = exchanges(2000);
    let total: usize = xs.iter().map(|(a, b)| a.len() + b.len()).sum();
    let info = conn_info(1, "10.0.0.1:40000", "10.0.0.2:80", true);

    let mut group = c.benchmark_group("http");
    group.throughput(Throughput::Bytes(total as u64));
    group.bench_function("extractor_keepalive_1448", |b| {
        b.iter(|| {
            let mut ex = Extractor::new(ExtractConfig::default());
            let mut conn = ex.open(&info);
            let mut ts = 1_000_000_000u64;
            let mut records = 0usize;
            for (req, resp) in &xs {
                for (dir, bytes) in [(Dir::FromInitiator, req), (Dir::FromResponder, resp)] {
                    for piece in bytes.chunks(MSS) {
                        ts += 10_000;
                        ex.data(&mut conn, &info, dir, ts, piece);
                        for r in ex.drain() {
                            black_box(&r);
                            records += 1;
                        }
                    }
                }
            }
            ex.close(conn, &info, ts, CloseReason::Fin);
            records += ex.drain().count();
            assert_eq!(records, 4000);
        })
    });

    let responses: Vec<u8> = xs.iter().flat_map(|(_, r)| r.iter().copied()).collect();
    group.throughput(Throughput::Bytes(responses.len() as u64));
    group.bench_function("framer_responses_socket_buffer", |b| {
        b.iter(|| {
            let kind = Kind::Response(RequestContext::default());
            let mut framer = MessageFramer::new(kind);
            let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
            let mut messages = 0;
            for piece in responses.chunks(16 * 1024) {
                buf.extend_from_slice(piece);
                let mut at = 0;
                loop {
                    let f = framer.push(&buf[at..]).expect("frames");
                    at += f.skipped + f.consumed;
                    if f.done {
                        messages += 1;
                        framer.reset(kind);
                    } else {
                        break;
                    }
                }
                buf.drain(..at);
            }
            assert_eq!(messages, 2000);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
