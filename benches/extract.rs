//! Extraction throughput — decode + TCP reassembly + HTTP framing and pairing, end to end — in
//! packets/s and MB/s of pcap per core, on real traffic: the shipped sample capture (nginx serving
//! an API mix) replicated 64 times with shifted client ports and times, about 41k requests in
//! 52 MB; or the capture named by `REEL_BENCH_PCAP` (e.g. one made by
//! `benches/scripts/extract-vs-tshark.sh`). Frames are loaded into memory first, so the figure is
//! the pipeline's, not the disk's or libpcap's.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reel::capture::{Frame, OfflineSource};
use reel::record::extraction::{Extraction, ExtractionConfig};

struct Owned {
    ts_ns: u64,
    linktype: i32,
    wire_len: u32,
    data: Vec<u8>,
}

fn load(path: &PathBuf) -> Vec<Owned> {
    let mut source = OfflineSource::open(std::slice::from_ref(path), None).expect("open");
    let mut frames = Vec::new();
    while let Some(f) = source.next_frame().expect("read") {
        frames.push(Owned {
            ts_ns: f.ts_ns,
            linktype: f.linktype,
            wire_len: f.wire_len,
            data: f.data.to_vec(),
        });
    }
    frames
}

/// The sample replicated: copy `k` moves every client port by `k·1000 + 7` (mod the ephemeral
/// range) and every timestamp by `k` times the capture's span, so each copy is new connections.
fn replicated(copies: u64) -> Vec<Owned> {
    let base = load(&PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/captures-sample/shop.pcap"
    )));
    let span = base.last().map_or(0, |l| l.ts_ns) - base.first().map_or(0, |f| f.ts_ns) + 1;
    let mut out = Vec::with_capacity(base.len() * copies as usize);
    for k in 0..copies {
        for f in &base {
            let mut data = f.data.clone();
            // Ethernet (14) + IPv4 with a 20-byte header in this capture; ports at 34 and 36.
            for at in [34, 36] {
                let port = u16::from_be_bytes([data[at], data[at + 1]]);
                if port != 8080 {
                    let moved = 32768 + (u32::from(port) - 32768 + k as u32 * 1000 + 7) % 28000;
                    data[at..at + 2].copy_from_slice(&(moved as u16).to_be_bytes());
                }
            }
            out.push(Owned {
                ts_ns: f.ts_ns + k * span,
                linktype: f.linktype,
                wire_len: f.wire_len,
                data,
            });
        }
    }
    out
}

fn run(frames: &[Owned]) -> usize {
    let mut x = Extraction::new(ExtractionConfig::default());
    let mut out = Vec::with_capacity(1024);
    let mut records = 0;
    for f in frames {
        x.push(
            &Frame {
                ts_ns: f.ts_ns,
                linktype: f.linktype,
                data: &f.data,
                wire_len: f.wire_len,
            },
            &mut out,
        );
        records += out.len();
        out.clear();
    }
    x.finish(&mut out);
    records + out.len()
}

fn bench(c: &mut Criterion) {
    let (name, frames) = match std::env::var_os("REEL_BENCH_PCAP") {
        Some(p) => ("REEL_BENCH_PCAP", load(&PathBuf::from(p))),
        None => ("shop.pcap x64", replicated(64)),
    };
    // Bytes of pcap: each frame's record header (16) plus its captured bytes.
    let pcap_bytes: u64 = frames.iter().map(|f| 16 + f.data.len() as u64).sum();
    let records = run(&frames);
    eprintln!(
        "extract bench input {name}: {} frames, {:.1} MB of pcap, {records} records",
        frames.len(),
        pcap_bytes as f64 / 1e6
    );
    let mut group = c.benchmark_group("extract");
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Bytes(pcap_bytes));
    group.bench_function("bytes", |b| b.iter(|| black_box(run(&frames))));
    group.throughput(Throughput::Elements(frames.len() as u64));
    group.bench_function("packets", |b| b.iter(|| black_box(run(&frames))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
