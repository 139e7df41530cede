//! TCP reassembly throughput on generated traffic: many keep-alive connections with small
//! in-order segments (the common case, zero copy), and a few connections whose segments are
//! heavily reordered and duplicated (the copying path). Reported as segments/s and payload MB/s.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reel::capture::{Segment, TcpFlags};
use reel::tcp::{
    CloseReason, ConnInfo, Dir, GapCause, Interest, Reassembler, StreamHandler, TcpConfig,
};

/// Sums what it gets and keeps nothing, so the bench measures reassembly alone.
#[derive(Default)]
struct Sink {
    bytes: u64,
    gaps: u64,
}

impl StreamHandler for Sink {
    type Conn = u64;

    fn open(&mut self, info: &ConnInfo) -> u64 {
        info.id
    }

    fn data(&mut self, conn: &mut u64, _: &ConnInfo, _: Dir, _: u64, bytes: &[u8]) -> Interest {
        *conn += 1;
        self.bytes += bytes.len() as u64;
        Interest::Continue
    }

    fn gap(&mut self, _: &mut u64, _: &ConnInfo, _: Dir, _: u64, _: u64, _: GapCause) -> Interest {
        self.gaps += 1;
        Interest::Continue
    }

    fn fin(&mut self, _: &mut u64, _: &ConnInfo, _: Dir, _: u64) {}

    fn close(&mut self, conn: u64, _: &ConnInfo, _: u64, _: CloseReason) {
        black_box(conn);
    }

    fn buffered(_: &u64) -> usize {
        0
    }
}

/// A segment to replay: everything but the payload, which is a range of a shared buffer.
struct Spec {
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: Range<usize>,
}

/// Generated traffic.
struct Traffic {
    specs: Vec<Spec>,
    data: Vec<u8>,
    payload_bytes: u64,
}

/// A tiny deterministic generator (no dependency, reproducible runs).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn endpoint(i: u32, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)), port)
}

/// One connection's segments in order: handshake, `exchanges` request/response pairs with the
/// response cut in `mss`-byte segments and an ACK every two of them, then FINs.
fn connection(i: u32, exchanges: u32, resp_len: usize, mss: usize, data_len: usize) -> Vec<Spec> {
    let (c, s) = (
        endpoint(i, 40000 + (i % 20000) as u16),
        endpoint(1_000_000, 80),
    );
    let (mut cseq, mut sseq) = (i.wrapping_mul(2_654_435_761), i.wrapping_mul(40_503));
    let mut out = vec![
        Spec {
            src: c,
            dst: s,
            seq: cseq,
            ack: 0,
            flags: TcpFlags::SYN,
            payload: 0..0,
        },
        Spec {
            src: s,
            dst: c,
            seq: sseq,
            ack: cseq.wrapping_add(1),
            flags: TcpFlags::SYN | TcpFlags::ACK,
            payload: 0..0,
        },
    ];
    cseq = cseq.wrapping_add(1);
    sseq = sseq.wrapping_add(1);
    let ack = TcpFlags::ACK;
    let at = |n: usize| (n * 7919 + i as usize * 131) % (data_len - 2000);
    for x in 0..exchanges {
        let req = 180 + (x as usize % 7) * 10;
        let start = at(x as usize);
        out.push(Spec {
            src: c,
            dst: s,
            seq: cseq,
            ack: sseq,
            flags: ack | TcpFlags::PSH,
            payload: start..start + req,
        });
        cseq = cseq.wrapping_add(req as u32);
        let mut sent = 0;
        let mut n = 0;
        while sent < resp_len {
            let len = mss.min(resp_len - sent);
            let start = at(x as usize + 1 + n);
            out.push(Spec {
                src: s,
                dst: c,
                seq: sseq,
                ack: cseq,
                flags: ack,
                payload: start..start + len,
            });
            sseq = sseq.wrapping_add(len as u32);
            sent += len;
            n += 1;
            if n % 2 == 0 || sent == resp_len {
                out.push(Spec {
                    src: c,
                    dst: s,
                    seq: cseq,
                    ack: sseq,
                    flags: ack,
                    payload: 0..0,
                });
            }
        }
    }
    out.push(Spec {
        src: c,
        dst: s,
        seq: cseq,
        ack: sseq,
        flags: ack | TcpFlags::FIN,
        payload: 0..0,
    });
    out.push(Spec {
        src: s,
        dst: c,
        seq: sseq,
        ack: cseq.wrapping_add(1),
        flags: ack | TcpFlags::FIN,
        payload: 0..0,
    });
    out
}

fn data(len: usize) -> Vec<u8> {
    let mut rng = Lcg(7);
    (0..len).map(|_| rng.next(256) as u8).collect()
}

/// 2000 keep-alive connections, 20 exchanges each (200-byte requests, 1200-byte responses in
/// 400-byte segments), their segments interleaved round-robin, as on a busy API server.
fn keepalive() -> Traffic {
    let data = data(1 << 16);
    let conns: Vec<Vec<Spec>> = (0..2000)
        .map(|i| connection(i, 20, 1200, 400, data.len()))
        .collect();
    let mut iters: Vec<_> = conns.into_iter().map(|c| c.into_iter()).collect();
    let mut specs = Vec::new();
    loop {
        let before = specs.len();
        for it in &mut iters {
            specs.extend(it.next());
        }
        if specs.len() == before {
            break;
        }
    }
    finish(specs, data)
}

/// 20 connections with 64 KB responses in 1448-byte segments, each connection's segments
/// shuffled within windows of 16 and 3% sent twice, then interleaved.
fn reordered() -> Traffic {
    let data = data(1 << 18);
    let mut rng = Lcg(11);
    let mut specs = Vec::new();
    for i in 0..20 {
        // Without ACKs: a shuffled capture where acknowledgements overtake the data they
        // acknowledge would (rightly) read as capture loss.
        let mut conn: Vec<Spec> = connection(i, 40, 65536, 1448, data.len())
            .into_iter()
            .enumerate()
            .filter(|(k, s)| *k < 2 || s.flags & TcpFlags::FIN != 0 || !s.payload.is_empty())
            .map(|(k, mut s)| {
                if k >= 2 {
                    s.flags &= !TcpFlags::ACK;
                }
                s
            })
            .collect();
        let body = conn.len() - 2;
        for window in conn[2..body].chunks_mut(16) {
            for k in (1..window.len()).rev() {
                window.swap(k, rng.next(k as u64 + 1) as usize);
            }
        }
        let mut with_dups = Vec::new();
        for spec in conn {
            if rng.next(100) < 3 {
                with_dups.push(Spec {
                    payload: spec.payload.clone(),
                    ..spec
                });
            }
            with_dups.push(spec);
        }
        specs.push(with_dups);
    }
    let mut iters: Vec<_> = specs.into_iter().map(|c| c.into_iter()).collect();
    let mut all = Vec::new();
    loop {
        let before = all.len();
        for it in &mut iters {
            all.extend(it.next());
        }
        if all.len() == before {
            break;
        }
    }
    finish(all, data)
}

fn finish(specs: Vec<Spec>, data: Vec<u8>) -> Traffic {
    let payload_bytes = specs.iter().map(|s| s.payload.len() as u64).sum();
    Traffic {
        specs,
        data,
        payload_bytes,
    }
}

fn replay(t: &Traffic) -> u64 {
    let mut r = Reassembler::new(TcpConfig::default());
    let mut h = Sink::default();
    for (n, spec) in t.specs.iter().enumerate() {
        let seg = Segment {
            ts_ns: 1_000_000_000 + n as u64 * 1000,
            src: spec.src,
            dst: spec.dst,
            seq: spec.seq,
            ack: spec.ack,
            flags: TcpFlags(spec.flags),
            window: 512,
            payload: t.data.get(spec.payload.clone()).unwrap_or_default(),
            missing: 0,
        };
        r.segment(&seg, &mut h);
    }
    r.finish(&mut h);
    assert_eq!(h.gaps, 0);
    h.bytes
}

fn bench(c: &mut Criterion) {
    for (name, traffic) in [("keepalive", keepalive()), ("reordered", reordered())] {
        let delivered = replay(&traffic);
        assert!(delivered > 0 && delivered < traffic.payload_bytes + 1);
        eprintln!(
            "{name}: {} segments, {} payload bytes ({} bytes/segment), {} delivered",
            traffic.specs.len(),
            traffic.payload_bytes,
            traffic.payload_bytes / traffic.specs.len() as u64,
            delivered
        );
        let mut group = c.benchmark_group(format!("reassembly/{name}"));
        group.throughput(Throughput::Elements(traffic.specs.len() as u64));
        group.bench_function("segments", |b| b.iter(|| black_box(replay(&traffic))));
        group.throughput(Throughput::Bytes(traffic.payload_bytes));
        group.bench_function("payload", |b| b.iter(|| black_box(replay(&traffic))));
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
