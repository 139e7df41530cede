//! Properties of `.reel` logs against simple models: any records written read back as the same
//! records (every kind, any field values, with and without body dedup, blocks of any size), and
//! `--shard I/N` partitions any log: every planned request goes to exactly one of N replayers,
//! for N in 1..=16, by connection and by request.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use reel::exchange::{
    Counters, ErrorKind, Gap, Message, Meta, Record, ReplayResult, Response, Truncation,
};
use reel::log::{Reader, Writer, WriterConfig};
use reel::replay::plan::plan;
use reel::replay::{PlanConfig, Rewrites, Shard, Targets};

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,12}"
}

fn truncation() -> impl Strategy<Value = Option<Truncation>> {
    proptest::option::of(proptest::sample::select(vec![
        Truncation::MaxBody,
        Truncation::Gap,
        Truncation::Memory,
        Truncation::Snaplen,
        Truncation::Incomplete,
    ]))
}

/// Bodies: small ones of any bytes, or one of a few large ones repeated (so dedup stores them
/// once and later records refer to the definition).
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        (0u8..3, 1024usize..3000).prop_map(|(k, n)| vec![b'a' + k; n]),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    (
        (any::<u64>(), any::<u32>()),
        (any::<SocketAddr>(), any::<SocketAddr>()),
        (any::<u64>(), any::<u64>()),
        (proptest::collection::vec(any::<u8>(), 0..80), body()),
        any::<u64>(),
        truncation(),
        proptest::option::of(text()),
    )
        .prop_map(
            |((conn, index), (client, server), (first, last), (head, body), body_len, t, ext)| {
                let head_len = head.len() as u32;
                let mut bytes = head;
                bytes.extend_from_slice(&body);
                Message {
                    conn,
                    index,
                    client,
                    server,
                    first_ts_ns: first,
                    last_ts_ns: last,
                    bytes: Bytes::from(bytes),
                    head_len,
                    body_len,
                    truncation: t,
                    external_id: ext,
                }
            },
        )
}

fn response() -> impl Strategy<Value = Response> {
    (
        message(),
        any::<u16>(),
        any::<Option<u64>>(),
        any::<Option<u64>>(),
    )
        .prop_map(|(message, status, latency_ns, latency_last_ns)| Response {
            message,
            status,
            latency_ns,
            latency_last_ns,
        })
}

fn result() -> impl Strategy<Value = ReplayResult> {
    (
        (any::<u64>(), any::<u32>(), text(), text(), text()),
        (any::<Option<u16>>(), any::<Option<u64>>(), any::<u64>()),
        (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()),
        (any::<Option<u16>>(), any::<u64>(), any::<u64>(), body()),
        (
            proptest::option::of(text()),
            proptest::option::of(proptest::sample::select(ErrorKind::ALL.to_vec())),
        ),
        (
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<bool>(),
            any::<u8>(),
        ),
    )
        .prop_map(
            |(
                (conn, index, target, method, path),
                (prod_status, prod_latency_ns, recorded_ts_ns),
                (intended_ns, sent_ns, first_byte_ns, last_byte_ns),
                (status, request_bytes, response_bytes, response),
                (external_id, error),
                (shard, shards, iteration, warmup, role),
            )| ReplayResult {
                conn,
                index,
                target,
                method,
                path,
                prod_status,
                prod_latency_ns,
                recorded_ts_ns,
                intended_ns,
                sent_ns,
                first_byte_ns,
                last_byte_ns,
                status,
                request_bytes,
                response_bytes,
                response: Bytes::from(response),
                external_id,
                error,
                shard,
                shards,
                iteration,
                warmup,
                role,
            },
        )
}

fn record() -> impl Strategy<Value = Record> {
    prop_oneof![
        4 => message().prop_map(Record::Request),
        3 => response().prop_map(Record::Response),
        1 => response().prop_map(Record::Interim),
        1 => response().prop_map(Record::Orphan),
        1 => (any::<u64>(), any::<SocketAddr>(), any::<SocketAddr>(), any::<bool>(), any::<u64>(), any::<u64>())
            .prop_map(|(conn, client, server, from_client, ts_ns, len)| {
                Record::Gap(Gap { conn, client, server, from_client, ts_ns, len })
            }),
        1 => result().prop_map(Record::Result),
        1 => (
            (text(), proptest::collection::vec(text(), 0..3), text(), text()),
            (any::<u64>(), text(), text(), proptest::collection::vec(text(), 0..3), any::<u64>()),
        )
            .prop_map(|((host, sources, filter, tool_version), (start_ns, redaction_key_id, command, notes, run_id))| {
                Record::Meta(Meta { host, sources, filter, tool_version, start_ns, redaction_key_id, command, notes, run_id })
            }),
        1 => (any::<u64>(), proptest::collection::vec((text(), any::<u64>()), 0..4))
            .prop_map(|(end_ns, values)| Record::Closing(Counters { end_ns, values })),
    ]
}

fn write_log(records: &[Record], config: WriterConfig) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = Writer::new(&mut out, "prop.reel", config).unwrap();
    for r in records {
        w.write(r).unwrap();
    }
    w.close().unwrap();
    out
}

fn read_log(bytes: &[u8]) -> Vec<Record> {
    let mut r = Reader::new(bytes, "prop.reel").unwrap();
    let mut out = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        out.push(rec);
    }
    out
}

/// A log of requests on `conns` connections (each with its number of requests), answered or not.
fn request_log(conns: &BTreeMap<u64, (u32, bool)>) -> Vec<Record> {
    let client: SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let server: SocketAddr = "10.0.0.2:80".parse().unwrap();
    let mut out = Vec::new();
    let mut ts = 1_700_000_000_000_000_000u64;
    for (&conn, &(requests, answered)) in conns {
        for index in 0..requests {
            ts += 1_000;
            let head = format!("GET /c/{conn}/{index} HTTP/1.1\r\nHost: shop\r\n\r\n");
            let m = |bytes: Vec<u8>| Message {
                conn,
                index,
                client,
                server,
                first_ts_ns: ts,
                last_ts_ns: ts,
                head_len: bytes.len() as u32,
                bytes: Bytes::from(bytes),
                body_len: 0,
                truncation: None,
                external_id: None,
            };
            out.push(Record::Request(m(head.into_bytes())));
            if answered {
                out.push(Record::Response(Response {
                    message: m(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec()),
                    status: 200,
                    latency_ns: Some(500),
                    latency_last_ns: Some(500),
                }));
            }
        }
    }
    out
}

/// The (connection, index) of every request `shard` plans from the log at `path`.
fn planned(path: &std::path::Path, shard: Shard) -> Vec<(u64, u32)> {
    let config = PlanConfig {
        inputs: vec![path.to_path_buf()],
        filter: Default::default(),
        rewrites: Rewrites::default(),
        targets: Targets::new(Some("http://staging:8080"), &[]).unwrap(),
        shard,
        looping: false,
        max_planned: None,
        max_log_offset_ns: None,
    };
    let mut out = Vec::new();
    plan(&config, |p| {
        out.push((p.conn, p.index));
        true
    })
    .unwrap();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_records_read_back_as_written(
        records in proptest::collection::vec(record(), 0..40),
        dedup in any::<bool>(),
        block_bytes in 64usize..20_000,
    ) {
        let config = WriterConfig {
            dedup,
            block_bytes,
            block_age: Duration::from_secs(3_600),
            ..WriterConfig::default()
        };
        let bytes = write_log(&records, config);
        prop_assert_eq!(read_log(&bytes), records);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn shards_partition_any_log(
        conns in proptest::collection::btree_map(any::<u64>(), (1u32..6, any::<bool>()), 1..40),
        count in 1u32..=16,
        by_request in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shards.reel");
        std::fs::write(&path, write_log(&request_log(&conns), WriterConfig::default())).unwrap();
        let mut all = planned(&path, Shard::default());
        all.sort_unstable();
        let total: u32 = conns.values().map(|&(n, _)| n).sum();
        prop_assert_eq!(all.len(), total as usize);
        let mut union = Vec::new();
        for index in 0..count {
            let mine = planned(&path, Shard { index, count, by_request });
            if !by_request {
                // By connection, a connection's requests all go to the same replayer.
                for (conn, _) in &mine {
                    prop_assert_eq!(Shard { index, count, by_request }.of(*conn, 0), index);
                }
            }
            union.extend(mine);
        }
        union.sort_unstable();
        // Every request in exactly one shard: the shards' plans together are the whole plan,
        // with no request twice.
        prop_assert_eq!(union, all);
    }
}
