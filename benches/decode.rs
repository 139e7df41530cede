//! Decode throughput: frames/s and bytes/s of `capture::Decoder`, on the largest public capture
//! (Linux cooked v2, 2.6 MB, loaded into memory first so only decoding is timed) and on a
//! synthetic Ethernet/IPv4/TCP stream; plus reading the same capture file through
//! `OfflineSource` (libpcap, from the page cache) and decoding it.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use etherparse::PacketBuilder;
use reel::capture::{DecodeConfig, Decoder, Frame, OfflineSource, linktype};

/// A frame held in memory.
struct Owned {
    ts_ns: u64,
    linktype: i32,
    wire_len: u32,
    data: Vec<u8>,
}

fn largest_capture() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = ["../shared/captures/public", "../../shared/captures/public"]
        .iter()
        .map(|rel| {
            manifest
                .join(rel)
                .join("suricata-verify/decode-sll2-02/input.pcap")
        })
        .find(|path| path.is_file());
    if found.is_none() {
        eprintln!("skipped: ../shared/captures not found");
    }
    found
}

fn load(path: &Path) -> Vec<Owned> {
    let mut source = OfflineSource::open(&[path.to_owned()], None).expect("open");
    let mut frames = Vec::new();
    while let Some(frame) = source.next_frame().expect("read") {
        frames.push(Owned {
            ts_ns: frame.ts_ns,
            linktype: frame.linktype,
            wire_len: frame.wire_len,
            data: frame.data.to_vec(),
        });
    }
    frames
}

/// A keep-alive HTTP conversation: requests of ~200 bytes, responses in full 1448-byte segments
/// and a shorter last one, ACKs in between; Ethernet/IPv4/TCP.
fn synthetic() -> Vec<Owned> {
    let mut frames = Vec::new();
    let mut push = |from_client: bool, seq: u32, payload: &[u8]| {
        let (src, dst, sport, dport) = if from_client {
            ([10, 0, 0, 1], [10, 0, 0, 2], 40000, 80)
        } else {
            ([10, 0, 0, 2], [10, 0, 0, 1], 80, 40000)
        };
        let mut data = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(src, dst, 64)
            .tcp(sport, dport, seq, 65535)
            .ack(1)
            .write(&mut data, payload)
            .expect("build");
        frames.push(Owned {
            ts_ns: frames.len() as u64 * 1000,
            linktype: linktype::EN10MB,
            wire_len: data.len() as u32,
            data,
        });
    };
    let request = [b'q'; 200];
    let segment = [b'r'; 1448];
    let (mut client_seq, mut server_seq) = (1u32, 1u32);
    for _ in 0..1000 {
        push(true, client_seq, &request);
        client_seq = client_seq.wrapping_add(200);
        for _ in 0..6 {
            push(false, server_seq, &segment);
            server_seq = server_seq.wrapping_add(1448);
        }
        push(false, server_seq, &segment[..700]);
        server_seq = server_seq.wrapping_add(700);
        push(true, client_seq, &[]);
    }
    frames
}

fn decode_all(decoder: &mut Decoder, frames: &[Owned]) -> usize {
    let mut payload = 0;
    for owned in frames {
        let frame = Frame {
            ts_ns: owned.ts_ns,
            linktype: owned.linktype,
            data: &owned.data,
            wire_len: owned.wire_len,
        };
        if let Some(segment) = decoder.decode(&frame) {
            payload += segment.payload.len();
        }
    }
    payload
}

fn bench_frames(c: &mut Criterion, name: &str, frames: &[Owned]) {
    let bytes: u64 = frames.iter().map(|f| f.data.len() as u64).sum();
    let mut group = c.benchmark_group(name);
    group.measurement_time(Duration::from_secs(3));
    group.sample_size(30);
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("decode bytes", |b| {
        let mut decoder = Decoder::new(DecodeConfig::default());
        b.iter(|| black_box(decode_all(&mut decoder, black_box(frames))));
    });
    group.throughput(Throughput::Elements(frames.len() as u64));
    group.bench_function("decode frames", |b| {
        let mut decoder = Decoder::new(DecodeConfig::default());
        b.iter(|| black_box(decode_all(&mut decoder, black_box(frames))));
    });
    group.finish();
}

fn decode(c: &mut Criterion) {
    if let Some(path) = largest_capture() {
        let frames = load(&path);
        bench_frames(c, "sll2-02", &frames);

        let file_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let mut group = c.benchmark_group("sll2-02 file");
        group.measurement_time(Duration::from_secs(3));
        group.sample_size(30);
        group.throughput(Throughput::Bytes(file_bytes));
        group.bench_function("read+decode", |b| {
            b.iter(|| {
                let mut source =
                    OfflineSource::open(std::slice::from_ref(&path), None).expect("open");
                let mut decoder = Decoder::new(DecodeConfig::default());
                let mut payload = 0;
                while let Some(frame) = source.next_frame().expect("read") {
                    if let Some(segment) = decoder.decode(&frame) {
                        payload += segment.payload.len();
                    }
                }
                black_box(payload)
            });
        });
        group.finish();
    }
    bench_frames(c, "synthetic ethernet-ipv4-tcp", &synthetic());
}

criterion_group!(benches, decode);
criterion_main!(benches);
