//! GoReplay import/export on the shared sample, and merging logs by time.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use reel::exchange::{Counters, Gap, Message, Meta, Record, Response};
use reel::log::gor::{self, GorImporter, GorKind, GorReader, GorRecord};
use reel::log::merge::Merger;
use reel::log::{LogError, Reader, Writer, WriterConfig};

/// `../shared` beside the checkout (`../../shared` from a worktree under `wt/`).
const GOR_DIRS: [&str; 2] = [
    concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/captures/gor"),
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/captures/gor"),
];

fn shared(name: &str) -> Option<std::path::PathBuf> {
    let found = GOR_DIRS
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists());
    if found.is_none() {
        println!("skipped: ../shared/captures not found");
    }
    found
}

fn gor_records(path: &Path) -> Vec<GorRecord> {
    let mut r = GorReader::open(path).unwrap();
    let mut out = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        out.push(rec);
    }
    assert_eq!(r.stats().malformed, 0);
    out
}

/// import → .reel bytes → read → export, as `reel import` and `reel cat --format gor` do.
fn import_export(path: &Path) -> (Vec<Record>, Vec<u8>) {
    let mut reader = GorReader::open(path).unwrap();
    let mut importer = GorImporter::new();
    let mut log = Vec::new();
    let mut w = Writer::new(&mut log, "imported.reel", WriterConfig::default()).unwrap();
    while let Some(rec) = reader.next_record().unwrap() {
        w.write(&importer.convert(&rec)).unwrap();
    }
    w.close().unwrap();
    let records: Vec<Record> = Reader::new(&log[..], "imported.reel")
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut gor_out = Vec::new();
    for r in &records {
        if let Some(g) = gor::export_record(r) {
            gor::write_gor(&mut gor_out, &g).unwrap();
        }
    }
    (records, gor_out)
}

#[test]
fn nginx_sample_round_trips_plain_and_gzip() {
    let (Some(plain), Some(gz)) = (shared("nginx-sample.gor"), shared("nginx-sample.gor.gz"))
    else {
        return;
    };
    let original = fs::read(&plain).unwrap();
    let originals = gor_records(&plain);
    assert_eq!(originals, gor_records(&gz), "gzip reads the same records");
    assert_eq!(originals.len(), 28);
    for path in [&plain, &gz] {
        let (records, exported) = import_export(path);
        // Same type, id, timestamp and payload, in order — here byte for byte, since GoReplay
        // wrote latency 0 everywhere.
        assert!(
            exported == original,
            "{} exports differently",
            path.display()
        );
        let back = {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("back.gor");
            fs::write(&p, &exported).unwrap();
            gor_records(&p)
        };
        assert_eq!(back, originals);

        let mut kinds = BTreeMap::new();
        for r in &records {
            let k = match r {
                Record::Request(_) => "request",
                Record::Response(_) => "response",
                Record::Orphan(_) => "orphan",
                Record::Interim(_) => "interim",
                _ => "other",
            };
            *kinds.entry(k).or_insert(0) += 1;
        }
        assert_eq!(
            kinds,
            BTreeMap::from([("orphan", 1), ("request", 14), ("response", 13)])
        );
        let conns: BTreeSet<u64> = records.iter().filter_map(Record::conn).collect();
        assert_eq!(conns, (1..=11).collect());
        // The keep-alive connection (first id prefix) carries five requests, indexes 0..4.
        let first: Vec<(u32, String)> = records
            .iter()
            .filter_map(|r| match r {
                Record::Request(m) if m.conn == 1 => {
                    Some((m.index, m.client.to_string() + " " + &m.server.to_string()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            first,
            (0..5)
                .map(|i| (i, "10.79.0.2:39706 0.0.0.0:80".to_owned()))
                .collect::<Vec<_>>()
        );
        let orphan = records
            .iter()
            .find_map(|r| match r {
                Record::Orphan(o) => Some(o),
                _ => None,
            })
            .unwrap();
        assert_eq!(orphan.status, 201);
        assert_eq!(
            orphan.message.external_id.as_deref(),
            Some("9b2800500a4f00023499ca89")
        );
        let paired = records
            .iter()
            .find_map(|r| match r {
                Record::Response(x) => Some(x),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            paired.latency_ns,
            Some(1_795_978_473_304_355_683 - 1_795_978_473_304_010_645)
        );
    }
}

#[test]
fn native_records_export_with_made_up_ids() {
    let msg = |index, ts| Message {
        conn: 7,
        index,
        client: "192.168.1.10:51000".parse().unwrap(),
        server: "192.168.1.1:8080".parse().unwrap(),
        first_ts_ns: ts,
        last_ts_ns: ts + 5,
        bytes: Bytes::from_static(b"GET / HTTP/1.1\r\n\r\n"),
        head_len: 18,
        body_len: 0,
        truncation: None,
        external_id: None,
    };
    let req = gor::export_record(&Record::Request(msg(3, 100))).unwrap();
    let resp = gor::export_record(&Record::Response(Response {
        message: msg(3, 200),
        status: 200,
        latency_ns: Some(100),
        latency_last_ns: Some(105),
    }))
    .unwrap();
    assert_eq!(req.id, "c7381f90c0a8010a00070003");
    assert_eq!(resp.id, req.id, "a request and its response share the id");
    assert_eq!(
        (req.kind, req.ts_ns, req.latency_ns),
        (GorKind::Request, 100, 0)
    );
    assert_eq!(
        (resp.kind, resp.ts_ns, resp.latency_ns),
        (GorKind::Response, 200, 0)
    );
    let gap = Record::Gap(Gap {
        conn: 7,
        client: "192.168.1.10:51000".parse().unwrap(),
        server: "192.168.1.1:8080".parse().unwrap(),
        from_client: true,
        ts_ns: 1,
        len: 10,
    });
    assert_eq!(gor::export_record(&gap), None);
}

// ---------------------------------------------------------------- merge

fn req(conn: u64, index: u32, ts: u64) -> Record {
    Record::Request(Message {
        conn,
        index,
        client: "10.0.0.1:1000".parse().unwrap(),
        server: "10.0.0.2:80".parse().unwrap(),
        first_ts_ns: ts,
        last_ts_ns: ts,
        bytes: Bytes::from(format!("GET /{conn}/{index}/{ts} HTTP/1.1\r\n\r\n")),
        head_len: 0,
        body_len: 0,
        truncation: None,
        external_id: None,
    })
}

fn log_of(host: &str, start: u64, records: &[Record], closing: &[(&str, u64)]) -> Vec<u8> {
    let mut out = Vec::new();
    let config = WriterConfig {
        block_bytes: 200,
        block_age: Duration::from_secs(3_600),
        ..WriterConfig::default()
    };
    let mut w = Writer::new(&mut out, host, config).unwrap();
    w.write(&Record::Meta(Meta {
        host: host.into(),
        sources: vec!["eth0".into()],
        start_ns: start,
        command: "record".into(),
        notes: vec![format!("note from {host}")],
        ..Meta::default()
    }))
    .unwrap();
    for r in records {
        w.write(r).unwrap();
    }
    w.finish(Counters {
        end_ns: start + 1_000,
        values: closing.iter().map(|(n, v)| ((*n).to_owned(), *v)).collect(),
    })
    .unwrap();
    out
}

#[test]
fn merge_orders_by_time_and_keeps_ids_unique() {
    let a = log_of(
        "a",
        50,
        &[
            req(1, 0, 100),
            req(2, 0, 150),
            req(1, 1, 300),
            req(1, 2, 300),
        ],
        &[("requests", 4), ("drops", 1)],
    );
    let b = log_of(
        "b",
        40,
        &[req(1, 0, 100), req(1, 1, 200), req(3, 0, 400)],
        &[("requests", 3)],
    );
    let c = log_of("c", 60, &[req(2, 0, 300)], &[("requests", 1), ("gaps", 2)]);
    let readers = vec![
        Reader::new(&a[..], "a.reel").unwrap(),
        Reader::new(&b[..], "b.reel").unwrap(),
        Reader::new(&c[..], "c.reel").unwrap(),
    ];
    let merged: Vec<Record> = Merger::new(readers).unwrap().map(Result::unwrap).collect();
    let Some(Record::Meta(meta)) = merged.first() else {
        panic!("merge starts with a Meta")
    };
    assert_eq!(meta.host, "a");
    assert_eq!(meta.sources, vec!["a.reel", "b.reel", "c.reel"]);
    assert_eq!(meta.command, "merge");
    assert_eq!(meta.start_ns, 40);
    assert_eq!(
        meta.notes,
        vec!["note from a", "note from b", "note from c"]
    );
    let Some(Record::Closing(closing)) = merged.last() else {
        panic!("merge ends with a Closing")
    };
    assert_eq!(closing.end_ns, 1_060);
    assert_eq!(
        closing.values,
        vec![
            ("requests".into(), 8),
            ("drops".into(), 1),
            ("gaps".into(), 2)
        ]
    );
    let metas = merged
        .iter()
        .filter(|r| matches!(r, Record::Meta(_)))
        .count();
    let closings = merged
        .iter()
        .filter(|r| matches!(r, Record::Closing(_)))
        .count();
    assert_eq!((metas, closings), (1, 1));
    // Body: by time, ties in input order, conn c of input i → c * 3 + i.
    let body: Vec<(u64, u64, u32)> = merged[1..merged.len() - 1]
        .iter()
        .map(|r| match r {
            Record::Request(m) => (m.first_ts_ns, m.conn, m.index),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        body,
        vec![
            (100, 3, 0),  // a: conn 1
            (100, 4, 0),  // b: conn 1
            (150, 6, 0),  // a: conn 2
            (200, 4, 1),  // b: conn 1
            (300, 3, 1),  // a: conn 1
            (300, 3, 2),  // a: conn 1
            (300, 8, 0),  // c: conn 2
            (400, 10, 0), // b: conn 3
        ]
    );
}

#[test]
fn merge_of_one_input_keeps_ids() {
    let a = log_of("a", 1, &[req(5, 0, 10), req(6, 0, 20)], &[]);
    let merged: Vec<Record> = Merger::new(vec![Reader::new(&a[..], "a.reel").unwrap()])
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(merged.len(), 4);
    assert_eq!(merged[1], req(5, 0, 10));
    assert_eq!(merged[2], req(6, 0, 20));
}

#[test]
fn merge_refuses_conn_ids_that_would_overflow() {
    let a = log_of("a", 1, &[req(1, 0, 10)], &[]);
    let b = log_of("b", 1, &[req(u64::MAX / 2 + 1, 0, 10)], &[]);
    let readers = vec![
        Reader::new(&a[..], "a.reel").unwrap(),
        Reader::new(&b[..], "b.reel").unwrap(),
    ];
    let err = Merger::new(readers).err().expect("overflow refused");
    assert!(
        matches!(err, LogError::ConnOverflow { inputs: 2, .. }),
        "{err}"
    );
    assert!(
        err.to_string().starts_with("b.reel: connection id"),
        "{err}"
    );
}

/// A log like `log_of`'s, written by run `run_id`.
fn log_of_run(host: &str, run_id: u64, records: &[Record]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = Writer::new(&mut out, host, WriterConfig::default()).unwrap();
    w.write(&Record::Meta(Meta {
        host: host.into(),
        command: "record".into(),
        run_id,
        ..Meta::default()
    }))
    .unwrap();
    for r in records {
        w.write(r).unwrap();
    }
    w.finish(Counters::default()).unwrap();
    out
}

#[test]
fn merge_keeps_the_ids_of_files_from_one_run_and_separates_runs() {
    // Two rotated files of run 7 (connection 1 spans both), and a file of run 9.
    let first = log_of_run("a", 7, &[req(1, 0, 100), req(2, 0, 150)]);
    let second = log_of_run("a", 7, &[req(1, 1, 300), req(3, 0, 310)]);
    let other = log_of_run("b", 9, &[req(1, 0, 200)]);
    let readers = vec![
        Reader::new(&first[..], "a-1.reel").unwrap(),
        Reader::new(&second[..], "a-2.reel").unwrap(),
        Reader::new(&other[..], "b.reel").unwrap(),
    ];
    let merged: Vec<Record> = Merger::new(readers).unwrap().map(Result::unwrap).collect();
    let conns: Vec<(u64, u64)> = merged
        .iter()
        .filter_map(|r| match r {
            Record::Request(m) => Some((m.first_ts_ns, m.conn)),
            _ => None,
        })
        .collect();
    // Two runs: run 7's connection c becomes 2c, run 9's becomes 2c + 1.
    assert_eq!(
        conns,
        vec![(100, 2), (150, 4), (200, 3), (300, 2), (310, 6)]
    );
    let Some(Record::Meta(meta)) = merged.first() else {
        panic!("merge starts with a Meta")
    };
    assert_ne!(meta.run_id, 0);
    assert_ne!(meta.run_id, 7);
    // The files of one run alone keep their ids and their run id.
    let readers = vec![
        Reader::new(&first[..], "a-1.reel").unwrap(),
        Reader::new(&second[..], "a-2.reel").unwrap(),
    ];
    let merged: Vec<Record> = Merger::new(readers).unwrap().map(Result::unwrap).collect();
    assert!(matches!(merged.first(), Some(Record::Meta(m)) if m.run_id == 7));
    let ids: Vec<u64> = merged.iter().filter_map(Record::conn).collect();
    assert_eq!(ids, vec![1, 2, 1, 3]);
}
