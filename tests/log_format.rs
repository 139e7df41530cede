//! The `.reel` format end to end: round trips, corruption and truncation, the golden file, bad
//! input, and the file rules (`.part`, mode 0600, refusal, append).

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use reel::exchange::{
    Counters, ErrorKind, Gap, Message, Meta, Record, ReplayResult, Response, Truncation,
};
use reel::exit::{Classify, Status};
use reel::log::format::{BLOCK_HEADER_LEN, FILE_HEADER_LEN, FileHeader, parse_block_header};
use reel::log::{self, CreateOptions, LogError, ReadStats, Reader, Writer, WriterConfig};

// ---------------------------------------------------------------- record makers

/// Deterministic bytes (xorshift), so tests need no rand crate.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = (seed << 1) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

fn message(conn: u64, index: u32, ts: u64, head: &[u8], body: &[u8]) -> Message {
    let mut bytes = head.to_vec();
    bytes.extend_from_slice(body);
    Message {
        conn,
        index,
        client: addr("10.1.2.3:40001"),
        server: addr("10.9.9.9:8080"),
        first_ts_ns: ts,
        last_ts_ns: ts + 1_000,
        bytes: Bytes::from(bytes),
        head_len: head.len() as u32,
        body_len: body.len() as u64,
        truncation: None,
        external_id: None,
    }
}

fn request(conn: u64, index: u32, ts: u64, body: &[u8]) -> Record {
    let head = format!(
        "POST /api/items/{conn}/{index} HTTP/1.1\r\nHost: api\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    Record::Request(message(conn, index, ts, head.as_bytes(), body))
}

fn response(conn: u64, index: u32, ts: u64, body: &[u8]) -> Record {
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
    Record::Response(Response {
        message: message(conn, index, ts, head.as_bytes(), body),
        status: 200,
        latency_ns: Some(5_000),
        latency_last_ns: Some(9_000),
    })
}

fn meta() -> Meta {
    Meta {
        host: "node-1".into(),
        sources: vec!["eth0".into()],
        filter: "tcp port 80".into(),
        tool_version: "0.1.0".into(),
        start_ns: 1_700_000_000_000_000_000,
        redaction_key_id: "k1".into(),
        command: "record".into(),
        notes: vec!["TLS connections seen on port 443 were skipped".into()],
        run_id: 0x5eed_cafe_f00d_0001,
    }
}

fn result(conn: u64, index: u32, ts: u64) -> ReplayResult {
    ReplayResult {
        conn,
        index,
        target: "http://staging:8080".into(),
        method: "GET".into(),
        path: "/api/users/42?x=1".into(),
        prod_status: Some(200),
        prod_latency_ns: Some(1_234_567),
        recorded_ts_ns: ts - 10,
        intended_ns: ts,
        sent_ns: ts + 3,
        first_byte_ns: ts + 900_000,
        last_byte_ns: ts + 950_000,
        status: Some(503),
        request_bytes: 321,
        response_bytes: 4_567,
        response: Bytes::from_static(b"HTTP/1.1 503 Service Unavailable\r\n\r\n"),
        external_id: Some("9b1a00500a4f0002c7eaff49".into()),
        error: Some(ErrorKind::Reset),
        shard: 2,
        shards: 4,
        iteration: 1,
        warmup: true,
        role: 1,
    }
}

/// Every record kind, odd corners included.
fn every_kind() -> Vec<Record> {
    let t = 1_700_000_000_000_000_000u64;
    let mut v6 = message(7, 0, t + 5, b"GET / HTTP/1.1\r\n\r\n", b"");
    v6.client = addr("[2001:db8::1%3]:50000");
    if let SocketAddr::V6(a) = &mut v6.client {
        a.set_flowinfo(0xABCDE);
    }
    v6.server = addr("[::1]:443");
    v6.external_id = Some("ext-1".into());
    let mut cut = message(8, 3, t + 6, b"HTTP/1.1 200 OK\r\n\r\n", b"partial");
    cut.truncation = Some(Truncation::MaxBody);
    cut.body_len = 1 << 40;
    let mut weird = message(9, u32::MAX, 0, b"", b"");
    weird.first_ts_ns = u64::MAX - 3;
    weird.last_ts_ns = 2; // earlier than first: kept as is
    weird.head_len = 99; // beyond the bytes
    weird.truncation = Some(Truncation::Incomplete);
    let mut results = Vec::new();
    for (i, e) in [None]
        .into_iter()
        .chain(ErrorKind::ALL.map(Some))
        .enumerate()
    {
        let mut r = result(10, i as u32, t + 100 + i as u64);
        r.error = e;
        if i == 1 {
            r.status = None;
            r.prod_status = None;
            r.prod_latency_ns = None;
            r.external_id = None;
            r.response = Bytes::new();
        }
        results.push(Record::Result(r));
    }
    let mut out = vec![
        Record::Meta(meta()),
        Record::Meta(Meta::default()),
        request(1, 0, t + 1, b""),
        Record::Request(v6),
        Record::Interim(Response {
            message: message(1, 0, t + 2, b"HTTP/1.1 100 Continue\r\n\r\n", b""),
            status: 100,
            latency_ns: Some(1),
            latency_last_ns: Some(2),
        }),
        response(1, 0, t + 3, b"{\"ok\":true}"),
        Record::Orphan(Response {
            message: cut,
            status: 200,
            latency_ns: None,
            latency_last_ns: None,
        }),
        Record::Request(weird),
        Record::Gap(Gap {
            conn: 1,
            client: addr("10.1.2.3:40001"),
            server: addr("[::2]:80"),
            from_client: true,
            ts_ns: t + 4,
            len: 1460,
        }),
        Record::Gap(Gap {
            conn: u64::MAX,
            client: addr("0.0.0.0:0"),
            server: addr("0.0.0.0:0"),
            from_client: false,
            ts_ns: 0,
            len: 0,
        }),
    ];
    for tr in [
        Truncation::Gap,
        Truncation::Memory,
        Truncation::Snaplen,
        Truncation::MaxBody,
    ] {
        let mut m = message(11, 0, t + 7, b"GET /t HTTP/1.1\r\n\r\n", b"abc");
        m.truncation = Some(tr);
        out.push(Record::Request(m));
    }
    out.extend(results);
    out.push(Record::Closing(Counters {
        end_ns: t + 1_000_000,
        values: vec![("requests".into(), 3), ("drops".into(), 0)],
    }));
    out
}

/// Messages from 0 B to several MiB, with repeated bodies (dedup hits) and random ones.
fn sizes_mix() -> Vec<Record> {
    let t = 1_700_000_000_000_000_000u64;
    let shared = noise(1, 2_000);
    let big_shared = noise(2, 3 << 20);
    let mut out = vec![Record::Meta(meta())];
    let sizes = [
        0usize,
        1,
        511,
        512,
        513,
        4_096,
        100_000,
        1 << 20,
        (5 << 20) + 7,
    ];
    for (i, &len) in sizes.iter().enumerate() {
        let i = i as u32;
        out.push(request(
            1,
            i,
            t + u64::from(i) * 10,
            &noise(100 + u64::from(i), len),
        ));
        out.push(response(1, i, t + u64::from(i) * 10 + 5, &shared));
    }
    for i in 0..4u32 {
        out.push(request(2, i, t + 1_000 + u64::from(i), &big_shared));
        out.push(response(2, i, t + 1_000 + u64::from(i), &shared));
    }
    out.push(Record::Closing(Counters::default()));
    out
}

fn write_all(records: &[Record], config: WriterConfig) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = Writer::new(&mut out, "test.reel", config).expect("writer");
    for r in records {
        w.write(r).expect("write");
    }
    w.close().expect("close");
    out
}

fn read_all(bytes: &[u8]) -> (Vec<Record>, ReadStats) {
    let mut r = Reader::new(bytes, "test.reel").expect("header");
    let mut out = Vec::new();
    while let Some(rec) = r.next_record().expect("no I/O error on a slice") {
        out.push(rec);
    }
    (out, r.stats())
}

fn small_blocks() -> WriterConfig {
    WriterConfig {
        block_bytes: 4_096,
        block_age: Duration::from_secs(3_600),
        ..WriterConfig::default()
    }
}

// ---------------------------------------------------------------- round trips

#[test]
fn every_kind_round_trips() {
    let records = every_kind();
    for config in [WriterConfig::default(), small_blocks()] {
        let bytes = write_all(&records, config);
        let (got, stats) = read_all(&bytes);
        assert_eq!(got, records);
        assert_eq!(stats.records, records.len() as u64);
        assert_eq!(stats.skipped_blocks, 0);
        assert_eq!(stats.file_bytes, bytes.len() as u64);
    }
}

#[test]
fn sizes_round_trip_across_blocks_with_and_without_dedup() {
    let records = sizes_mix();
    let message_bytes: u64 = records
        .iter()
        .map(|r| match r {
            Record::Request(m) => m.bytes.len() as u64,
            Record::Response(r) => r.message.bytes.len() as u64,
            _ => 0,
        })
        .sum();
    let mut sizes = Vec::new();
    for dedup in [true, false] {
        let config = WriterConfig {
            dedup,
            ..small_blocks()
        };
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out, "t.reel", config).unwrap();
        for r in &records {
            w.write(r).unwrap();
        }
        let ws = w.close().unwrap();
        assert_eq!(ws.records, records.len() as u64);
        assert_eq!(ws.message_bytes, message_bytes);
        assert_eq!(ws.file_bytes, out.len() as u64);
        // 9 + 4 responses share one body, 4 requests another: 13 - 1 + 4 - 1 hits.
        assert_eq!(ws.dedup_hits, if dedup { 15 } else { 0 });
        let (got, stats) = read_all(&out);
        assert_eq!(got.len(), records.len());
        for (i, (a, b)) in got.iter().zip(&records).enumerate() {
            assert!(a == b, "record {i} differs");
        }
        assert_eq!(stats.blocks, ws.blocks);
        assert!(stats.blocks >= 6, "blocks: {}", stats.blocks);
        assert_eq!(stats.message_bytes, message_bytes);
        sizes.push(out.len());
    }
    assert!(
        sizes[0] + (8 << 20) < sizes[1],
        "dedup saves the repeated 3 MiB body: {sizes:?}"
    );
}

#[test]
fn dedup_window_evicts_and_redefines() {
    // 40 distinct 1 MiB bodies overflow the 32 MiB window; the first comes back at the end and
    // must be defined again (the reader would otherwise miss it).
    let t = 1_000u64;
    let bodies: Vec<Vec<u8>> = (0..40).map(|i| noise(500 + i, 1 << 20)).collect();
    let mut records: Vec<Record> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| request(1, i as u32, t + i as u64, b))
        .collect();
    records.push(request(1, 40, t + 40, &bodies[0]));
    records.push(request(1, 41, t + 41, &bodies[39]));
    let mut out = Vec::new();
    let mut w = Writer::new(&mut out, "t.reel", WriterConfig::default()).unwrap();
    for r in &records {
        w.write(r).unwrap();
    }
    let ws = w.close().unwrap();
    assert_eq!(
        ws.dedup_hits, 1,
        "only the last body is still in the window"
    );
    let (got, stats) = read_all(&out);
    assert_eq!(got, records);
    assert_eq!(stats.missing_bodies, 0);
}

#[test]
fn block_age_closes_blocks_when_the_next_record_arrives() {
    let config = WriterConfig {
        block_age: Duration::ZERO,
        ..WriterConfig::default()
    };
    let mut out = Vec::new();
    let mut w = Writer::new(&mut out, "t.reel", config).unwrap();
    for i in 0..3 {
        w.write(&request(1, i, 100 + u64::from(i), b"x")).unwrap();
        assert_eq!(w.stats().blocks, u64::from(i));
    }
    w.flush_block().unwrap();
    assert_eq!(w.stats().blocks, 3);
    w.flush_block().unwrap();
    assert_eq!(w.stats().blocks, 3, "an empty block is not written");
    let stats = w.close().unwrap();
    assert_eq!(stats.blocks, 3);
    assert_eq!(read_all(&out).0.len(), 3);
}

#[test]
fn block_headers_state_counts_and_time_range() {
    let records = vec![
        request(1, 0, 500, b"a"),
        request(1, 1, 300, b"b"),
        request(1, 2, 900, b"c"),
    ];
    let bytes = write_all(&records, WriterConfig::default());
    let h = parse_block_header(&bytes[FILE_HEADER_LEN..]).unwrap();
    assert_eq!((h.frames, h.min_ts_ns, h.max_ts_ns), (3, 300, 900));
    assert_eq!(
        FILE_HEADER_LEN + BLOCK_HEADER_LEN + h.payload_len as usize,
        bytes.len()
    );
}

#[test]
fn writer_and_reader_are_send() {
    fn is_send<T: Send>() {}
    is_send::<Writer<fs::File>>();
    is_send::<Writer<Vec<u8>>>();
    is_send::<Reader<fs::File>>();
    is_send::<log::merge::Merger<fs::File>>();
}

#[test]
fn record_over_the_block_cap_is_refused() {
    let big = vec![0u8; log::MAX_RAW_LEN + 1];
    let mut out = Vec::new();
    let mut w = Writer::new(&mut out, "big.reel", WriterConfig::default()).unwrap();
    let err = w.write(&request(1, 0, 1, &big)).unwrap_err();
    assert!(matches!(err, LogError::RecordTooLarge { .. }), "{err}");
    assert!(
        err.to_string().starts_with("big.reel: a record of "),
        "{err}"
    );
    // The writer is still usable.
    w.write(&request(1, 1, 2, b"ok")).unwrap();
    w.close().unwrap();
    assert_eq!(read_all(&out).0.len(), 1);
}

// ---------------------------------------------------------------- corruption

/// Blocks of a log: (start offset, end offset), found by walking the headers.
fn block_spans(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut at = FILE_HEADER_LEN;
    let mut spans = Vec::new();
    while at < bytes.len() {
        let h = parse_block_header(&bytes[at..]).expect("intact block");
        let end = at + BLOCK_HEADER_LEN + h.payload_len as usize;
        spans.push((at, end));
        at = end;
    }
    spans
}

/// A log of `blocks` blocks of `per` records each (no dedup), and the records per block.
fn blocked_log(blocks: u32, per: u32) -> (Vec<u8>, Vec<Vec<Record>>) {
    let mut out = Vec::new();
    let mut groups = Vec::new();
    let config = WriterConfig {
        dedup: false,
        block_bytes: 1 << 30,
        block_age: Duration::from_secs(3_600),
        ..WriterConfig::default()
    };
    let mut w = Writer::new(&mut out, "t.reel", config).unwrap();
    for b in 0..blocks {
        let mut group = Vec::new();
        for i in 0..per {
            let r = request(
                u64::from(b),
                i,
                u64::from(b * 100 + i),
                &noise(u64::from(b * 7 + i), 300),
            );
            w.write(&r).unwrap();
            group.push(r);
        }
        w.flush_block().unwrap();
        groups.push(group);
    }
    w.close().unwrap();
    (out, groups)
}

#[test]
fn truncation_at_every_offset_of_the_last_two_blocks() {
    let (bytes, groups) = blocked_log(4, 3);
    let spans = block_spans(&bytes);
    assert_eq!(spans.len(), 4);
    let from = spans[2].0;
    for cut in from..=bytes.len() {
        let (got, stats) = read_all(&bytes[..cut]);
        let complete = spans.iter().filter(|(_, end)| *end <= cut).count();
        let expected: Vec<Record> = groups[..complete].concat();
        assert_eq!(got, expected, "cut at {cut}");
        let partial = spans.iter().any(|(start, end)| *start < cut && cut < *end);
        assert_eq!(stats.skipped_blocks, u64::from(partial), "cut at {cut}");
        assert_eq!(stats.blocks, complete as u64);
        assert_eq!(stats.file_bytes, cut as u64);
    }
}

#[test]
fn flipped_bytes_lose_only_their_block() {
    let (bytes, groups) = blocked_log(5, 4);
    let spans = block_spans(&bytes);
    for (k, &(start, end)) in spans.iter().enumerate() {
        // Marker, length, count, time, payload crc, header crc, then payload bytes.
        let mut offsets: Vec<usize> = [0, 3, 8, 13, 17, 25, 33, 41, 46]
            .iter()
            .map(|o| start + o)
            .collect();
        offsets.extend((start + BLOCK_HEADER_LEN..end).step_by(37));
        offsets.push(end - 1);
        for at in offsets {
            let mut bad = bytes.clone();
            bad[at] ^= 0x5A;
            let (got, stats) = read_all(&bad);
            let expected: Vec<Record> = groups
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != k)
                .flat_map(|(_, g)| g.clone())
                .collect();
            assert_eq!(got, expected, "block {k}, byte {at}");
            assert_eq!(stats.skipped_blocks, 1, "block {k}, byte {at}");
            assert_eq!(
                stats.skipped_bytes,
                (end - start) as u64,
                "block {k}, byte {at}"
            );
        }
    }
}

#[test]
fn corrupt_length_is_recovered_by_the_sync_marker() {
    let (bytes, groups) = blocked_log(3, 2);
    let spans = block_spans(&bytes);
    let (start, _) = spans[0];
    // A length that is wrong but whose header checksum was recomputed (as by a buggy writer):
    // the payload check fails and the reader scans to the next marker.
    for wrong in [1u32, 5_000, 1 << 20] {
        let mut bad = bytes.clone();
        let mut h = parse_block_header(&bad[start..]).unwrap();
        h.payload_len = wrong;
        bad[start..start + BLOCK_HEADER_LEN].copy_from_slice(&h.encode());
        let (got, stats) = read_all(&bad);
        assert_eq!(
            got,
            [groups[1].clone(), groups[2].clone()].concat(),
            "len {wrong}"
        );
        assert_eq!(stats.skipped_blocks, 1);
    }
    // Garbage between blocks and before the first one is skipped too.
    let mut padded = bytes[..spans[1].0].to_vec();
    padded.extend_from_slice(&noise(9, 3_000));
    padded.extend_from_slice(&bytes[spans[1].0..]);
    let (got, stats) = read_all(&padded);
    assert_eq!(got, groups.concat());
    assert_eq!((stats.skipped_blocks, stats.skipped_bytes), (1, 3_000));
}

#[test]
fn missing_body_definition_gives_a_gap_not_a_panic() {
    let body = noise(3, 5_000);
    let records = [request(1, 0, 1, &body), request(1, 1, 2, &body)];
    let mut out = Vec::new();
    let mut w = Writer::new(&mut out, "t.reel", WriterConfig::default()).unwrap();
    w.write(&records[0]).unwrap();
    w.flush_block().unwrap();
    w.write(&records[1]).unwrap();
    w.close().unwrap();
    let spans = block_spans(&out);
    out[spans[0].0 + BLOCK_HEADER_LEN + 5] ^= 1;
    let (got, stats) = read_all(&out);
    assert_eq!(stats.missing_bodies, 1);
    assert_eq!(got.len(), 1);
    let Record::Request(m) = &got[0] else {
        panic!("expected the request")
    };
    let Record::Request(orig) = &records[1] else {
        unreachable!()
    };
    assert_eq!(m.truncation, Some(Truncation::Gap));
    assert_eq!(&m.bytes[..], orig.head());
    assert_eq!(m.body_len, 5_000);
}

// ---------------------------------------------------------------- golden file

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden-v1.reel");

/// The golden file's records: two blocks, every kind, one dedup hit.
fn golden_records() -> Vec<Vec<Record>> {
    let t = 1_767_225_600_000_000_000u64; // 2026-01-01T00:00:00Z
    let body = {
        let mut b = b"{\"items\":[".to_vec();
        for i in 0..40 {
            b.extend_from_slice(format!("{{\"id\":{i},\"name\":\"item-{i}\"}},").as_bytes());
        }
        b.extend_from_slice(b"{}]}");
        b
    };
    let mut get = message(
        1,
        0,
        t + 1_000,
        b"GET /api/items HTTP/1.1\r\nHost: api\r\n\r\n",
        b"",
    );
    get.last_ts_ns = get.first_ts_ns;
    let ok = |index, ts| {
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        Record::Response(Response {
            message: message(1, index, ts, head.as_bytes(), &body),
            status: 200,
            latency_ns: Some(250_000),
            latency_last_ns: Some(300_000),
        })
    };
    let mut meta = meta();
    meta.start_ns = t;
    let mut get2 = get.clone();
    get2.index = 1;
    get2.first_ts_ns = t + 2_000_000;
    get2.last_ts_ns = get2.first_ts_ns;
    let mut res = result(1, 0, t + 5_000_000);
    res.error = None;
    vec![
        vec![
            Record::Meta(meta),
            Record::Request(get),
            Record::Interim(Response {
                message: message(1, 0, t + 1_500, b"HTTP/1.1 100 Continue\r\n\r\n", b""),
                status: 100,
                latency_ns: Some(500),
                latency_last_ns: Some(500),
            }),
            ok(0, t + 251_000),
        ],
        vec![
            Record::Request(get2),
            ok(1, t + 2_250_000),
            Record::Orphan(Response {
                message: message(2, 0, t + 3_000_000, b"HTTP/1.1 204 No Content\r\n\r\n", b""),
                status: 204,
                latency_ns: None,
                latency_last_ns: None,
            }),
            Record::Gap(Gap {
                conn: 2,
                client: addr("10.1.2.3:40001"),
                server: addr("10.9.9.9:8080"),
                from_client: false,
                ts_ns: t + 3_500_000,
                len: 2_896,
            }),
            Record::Result(res),
            Record::Closing(Counters {
                end_ns: t + 9_000_000,
                values: vec![("requests".into(), 2), ("responses".into(), 3)],
            }),
        ],
    ]
}

fn golden_bytes() -> Vec<u8> {
    let config = WriterConfig {
        zstd_level: 3,
        block_bytes: 1 << 20,
        block_age: Duration::from_secs(3_600),
        dedup: true,
    };
    let mut out = Vec::new();
    let mut w = Writer::new(&mut out, "golden-v1.reel", config).unwrap();
    for block in golden_records() {
        for r in &block {
            w.write(r).unwrap();
        }
        w.flush_block().unwrap();
    }
    let stats = w.close().unwrap();
    assert_eq!((stats.blocks, stats.dedup_hits), (2, 1));
    out
}

#[test]
fn golden_file_is_reproduced_byte_for_byte() {
    let bytes = golden_bytes();
    if std::env::var_os("REEL_BLESS_GOLDEN").is_some() {
        fs::write(GOLDEN, &bytes).unwrap();
    }
    let golden =
        fs::read(GOLDEN).expect("tests/data/golden-v1.reel (REEL_BLESS_GOLDEN=1 writes it)");
    assert!(
        golden == bytes,
        "the writer no longer produces tests/data/golden-v1.reel: a format change must update \
         docs/FORMAT.md and the golden file together (REEL_BLESS_GOLDEN=1 rewrites it)"
    );
}

#[test]
fn golden_file_reads_back_its_records() {
    let reader = log::open(GOLDEN).unwrap();
    assert_eq!(reader.header(), FileHeader::current());
    let mut reader = reader;
    let mut got = Vec::new();
    while let Some(r) = reader.next_record().unwrap() {
        got.push(r);
    }
    assert_eq!(got, golden_records().concat());
    let stats = reader.stats();
    assert_eq!(
        (stats.blocks, stats.skipped_blocks, stats.records),
        (2, 0, 10)
    );
    assert_eq!(stats.file_bytes, fs::metadata(GOLDEN).unwrap().len());
}

// ---------------------------------------------------------------- bad input

fn open_err(path: &Path) -> LogError {
    match log::open(path) {
        Ok(_) => panic!("{} opened", path.display()),
        Err(e) => e,
    }
}

#[test]
fn bad_input_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);

    let e = open_err(&p("missing.reel"));
    assert!(matches!(e, LogError::Open { .. }), "{e}");
    assert_eq!(e.status(), Status::BadInput);
    assert!(e.to_string().contains("missing.reel: cannot open"), "{e}");

    fs::write(p("text.reel"), b"GET / HTTP/1.1\r\n\r\nnot a log").unwrap();
    let e = open_err(&p("text.reel"));
    assert!(matches!(e, LogError::NotReel { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!("{}: not a .reel file (bad magic)", p("text.reel").display())
    );
    assert_eq!(e.status(), Status::BadInput);

    let newer = FileHeader {
        major: 2,
        minor: 0,
        flags: 0,
    }
    .encode();
    fs::write(p("newer.reel"), newer).unwrap();
    let e = open_err(&p("newer.reel"));
    assert!(
        matches!(
            e,
            LogError::NewerVersion {
                major: 2,
                minor: 0,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.status(), Status::BadInput);

    let mut corrupt = write_all(&every_kind(), WriterConfig::default());
    corrupt[9] ^= 0xFF;
    fs::write(p("corrupt.reel"), &corrupt).unwrap();
    let e = open_err(&p("corrupt.reel"));
    assert!(matches!(e, LogError::CorruptHeader { .. }), "{e}");
    assert!(e.to_string().contains("header checksum mismatch"), "{e}");
    assert_eq!(e.status(), Status::BadInput);

    fs::write(p("short.reel"), &FileHeader::current().encode()[..12]).unwrap();
    let e = open_err(&p("short.reel"));
    assert!(e.to_string().contains("file is 12 bytes"), "{e}");
    assert_eq!(e.status(), Status::BadInput);

    fs::write(p("empty.reel"), b"").unwrap();
    let e = open_err(&p("empty.reel"));
    assert!(e.to_string().ends_with("empty file)"), "{e}");

    let e = open_err(dir.path());
    assert_eq!(e.status(), Status::BadInput, "{e}");
}

// ---------------------------------------------------------------- file rules

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn read_file(path: &Path) -> (Vec<Record>, ReadStats) {
    let mut r = log::open(path).unwrap();
    let mut out = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        out.push(rec);
    }
    (out, r.stats())
}

#[test]
fn new_file_is_part_then_renamed_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.reel");
    let part = dir.path().join("out.reel.part");
    let mut w = log::create(&path, CreateOptions::default()).unwrap();
    assert!(part.exists() && !path.exists());
    assert_eq!(mode(&part), 0o600);
    w.write(&Record::Meta(meta())).unwrap();
    w.write(&request(1, 0, 5, b"hi")).unwrap();
    let closing = Counters {
        end_ns: 9,
        values: vec![("requests".into(), 1)],
    };
    let stats = w.finish(closing.clone()).unwrap();
    assert!(path.exists() && !part.exists());
    assert_eq!(mode(&path), 0o600);
    assert_eq!(stats.file_bytes, fs::metadata(&path).unwrap().len());
    let (got, _) = read_file(&path);
    assert_eq!(
        got,
        vec![
            Record::Meta(meta()),
            request(1, 0, 5, b"hi"),
            Record::Closing(closing)
        ]
    );
}

#[test]
fn existing_name_is_refused_without_append() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prod.reel");
    fs::write(&path, b"precious").unwrap();
    let err = log::create(&path, CreateOptions::default())
        .err()
        .expect("refused");
    assert!(matches!(err, LogError::Exists { .. }));
    assert_eq!(err.status(), Status::BadInput);
    assert!(
        err.to_string()
            .starts_with(&format!("{}: already exists", path.display()))
    );
    assert_eq!(fs::read(&path).unwrap(), b"precious");
    assert!(!dir.path().join("prod.reel.part").exists());

    // Appending to something that is not a log is refused too, and leaves it alone.
    let err = log::create(
        &path,
        CreateOptions {
            append: true,
            ..CreateOptions::default()
        },
    )
    .err()
    .expect("refused");
    assert!(matches!(err, LogError::NotReel { .. }), "{err}");
    assert_eq!(fs::read(&path).unwrap(), b"precious");

    // A leftover .part is not overwritten.
    let other = dir.path().join("other.reel");
    fs::write(dir.path().join("other.reel.part"), b"crashed run").unwrap();
    let err = log::create(&other, CreateOptions::default())
        .err()
        .expect("refused");
    assert!(matches!(err, LogError::PartExists { .. }), "{err}");
    assert_eq!(
        fs::read(dir.path().join("other.reel.part")).unwrap(),
        b"crashed run"
    );
}

#[test]
fn append_adds_blocks_and_keeps_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.reel");
    let body = noise(4, 4_000);
    let mut w = log::create(&path, CreateOptions::default()).unwrap();
    w.write(&request(1, 0, 1, &body)).unwrap();
    w.finish(Counters::default()).unwrap();
    let append = CreateOptions {
        append: true,
        ..CreateOptions::default()
    };
    let mut w = log::create(&path, append.clone()).unwrap();
    assert!(!dir.path().join("a.reel.part").exists());
    // The same body again: a new session defines it again under a reused id.
    let other = noise(5, 4_000);
    w.write(&request(2, 0, 2, &other)).unwrap();
    w.write(&request(2, 1, 3, &body)).unwrap();
    w.write(&request(2, 2, 4, &other)).unwrap();
    w.finish(Counters::default()).unwrap();
    let (got, stats) = read_file(&path);
    assert_eq!(
        got,
        vec![
            request(1, 0, 1, &body),
            Record::Closing(Counters::default()),
            request(2, 0, 2, &other),
            request(2, 1, 3, &body),
            request(2, 2, 4, &other),
            Record::Closing(Counters::default()),
        ]
    );
    assert_eq!(stats.missing_bodies, 0);
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn crash_leaves_a_readable_part_and_append_after_a_torn_block_works() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.reel");
    let part = dir.path().join("c.reel.part");
    let mut w = log::create(&path, CreateOptions::default()).unwrap();
    w.write(&request(1, 0, 1, b"kept")).unwrap();
    w.flush_block().unwrap();
    w.write(&request(1, 1, 2, b"lost in the open block"))
        .unwrap();
    std::mem::forget(w); // as if killed: the open block never reaches the file
    let (got, stats) = read_file(&part);
    assert_eq!(got, vec![request(1, 0, 1, b"kept")]);
    assert_eq!(stats.skipped_blocks, 0);

    // A torn final block, then an append to the (renamed) file: the appended block is found.
    let mut torn = fs::read(&part).unwrap();
    let tail = write_all(
        &[request(1, 2, 3, &noise(6, 2_000))],
        WriterConfig::default(),
    );
    torn.extend_from_slice(&tail[FILE_HEADER_LEN..tail.len() - 100]);
    fs::write(&path, &torn).unwrap();
    let mut w = log::create(
        &path,
        CreateOptions {
            append: true,
            ..CreateOptions::default()
        },
    )
    .unwrap();
    w.write(&request(3, 0, 4, b"after the crash")).unwrap();
    w.close().unwrap();
    let (got, stats) = read_file(&path);
    assert_eq!(
        got,
        vec![
            request(1, 0, 1, b"kept"),
            request(3, 0, 4, b"after the crash")
        ]
    );
    assert_eq!(stats.skipped_blocks, 1);
}

#[test]
fn abort_removes_the_part_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.reel");
    let mut w = log::create(&path, CreateOptions::default()).unwrap();
    w.write(&request(1, 0, 1, b"x")).unwrap();
    w.abort().unwrap();
    assert!(!path.exists());
    assert!(!dir.path().join("x.reel.part").exists());
}

// ---------------------------------------------------------------- forward compatibility

#[test]
fn unknown_kinds_and_trailing_fields_are_skipped() {
    use reel::log::format::{BlockHeader, crc32c, put_varint};
    let original = request(1, 0, 42, b"body");
    let bytes = write_all(std::slice::from_ref(&original), WriterConfig::default());
    let h = parse_block_header(&bytes[FILE_HEADER_LEN..]).unwrap();
    let payload = &bytes[FILE_HEADER_LEN + BLOCK_HEADER_LEN..];
    let raw = zstd::bulk::Decompressor::new()
        .unwrap()
        .decompress(payload, h.raw_len as usize)
        .unwrap();
    // raw = kind 2, varint length, body (the length fits one byte here).
    assert_eq!(raw[0], 2);
    let body = &raw[2..];
    assert_eq!(usize::from(raw[1]), body.len());
    let mut future = Vec::new();
    future.extend_from_slice(&[200, 3, 1, 2, 3]); // a kind from a later version
    future.push(2); // a request with fields appended by a later version
    put_varint(&mut future, body.len() as u64 + 4);
    future.extend_from_slice(body);
    future.extend_from_slice(&[9, 9, 9, 9]);
    future.extend_from_slice(&raw);
    let compressed = zstd::bulk::compress(&future, 3).unwrap();
    let header = BlockHeader {
        payload_len: compressed.len() as u32,
        raw_len: future.len() as u32,
        frames: 3,
        flags: 0,
        min_ts_ns: 42,
        max_ts_ns: 42,
        payload_crc: crc32c(&compressed),
    };
    let mut file = FileHeader {
        minor: 7,
        ..FileHeader::current()
    }
    .encode()
    .to_vec();
    file.extend_from_slice(&header.encode());
    file.extend_from_slice(&compressed);
    let (got, stats) = read_all(&file);
    assert_eq!(got, vec![original.clone(), original]);
    assert_eq!((stats.unknown_records, stats.undecodable_records), (1, 0));
}
