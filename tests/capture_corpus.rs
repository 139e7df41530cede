//! Every capture of the public corpus opens and decodes: no error, no panic, and TCP payload in
//! every file where tshark finds HTTP (except the tunnels and 802.11 that are out of scope).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use reel::capture::{DecodeConfig, DecodeStats, Decoder, OfflineSource};

/// `../shared/captures` next to the checkout (or next to the worktree folder).
fn captures() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = ["../shared/captures", "../../shared/captures"]
        .iter()
        .map(|rel| manifest.join(rel))
        .find(|dir| dir.join("public/INDEX.tsv").is_file());
    if found.is_none() {
        eprintln!("skipped: ../shared/captures not found");
    }
    found
}

struct Row {
    path: String,
    link_type: String,
    http_requests: u64,
    notes: String,
}

fn index(public: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(public.join("INDEX.tsv")).expect("INDEX.tsv");
    text.lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            Row {
                path: cols[0].to_owned(),
                link_type: cols[2].to_owned(),
                http_requests: cols[4].parse().expect("http_requests"),
                notes: cols.get(6).copied().unwrap_or("").to_owned(),
            }
        })
        .collect()
}

/// Files whose HTTP travels only inside encapsulations that are out of scope for now.
fn out_of_scope(row: &Row) -> bool {
    let auto = row.notes.split("Auto:").nth(1).unwrap_or("");
    let auto = auto.split(';').next().unwrap_or("");
    row.link_type.contains("radiotap")
        || ["PPPoE", "L2TP", "GRE", "VXLAN"]
            .iter()
            .any(|tunnel| auto.contains(tunnel))
}

struct Outcome {
    stats: DecodeStats,
    payload_segments: u64,
    linktypes: Vec<i32>,
    truncated: bool,
    fallback: bool,
}

fn decode_files(paths: &[PathBuf]) -> Outcome {
    let mut source = OfflineSource::open(paths, None)
        .unwrap_or_else(|e| panic!("{}: open failed: {e}", paths[0].display()));
    let mut decoder = Decoder::new(DecodeConfig::default());
    let mut payload_segments = 0;
    while let Some(frame) = source
        .next_frame()
        .unwrap_or_else(|e| panic!("{}: read failed: {e}", paths[0].display()))
    {
        if let Some(segment) = decoder.decode(&frame) {
            if !segment.payload.is_empty() {
                payload_segments += 1;
            }
        }
    }
    decoder.finish();
    let files = source.file_stats();
    Outcome {
        stats: decoder.stats().clone(),
        payload_segments,
        linktypes: files.iter().flat_map(|f| f.linktypes.clone()).collect(),
        truncated: files.iter().any(|f| f.truncated),
        fallback: files.iter().any(|f| f.pcapng_fallback),
    }
}

#[test]
fn every_public_capture_decodes() {
    let Some(captures) = captures() else { return };
    let public = captures.join("public");
    let rows = index(&public);
    assert_eq!(rows.len(), 150, "INDEX.tsv rows");

    let mut failures = Vec::new();
    let mut totals = DecodeStats::default();
    let mut by_linktype: BTreeMap<i32, u64> = BTreeMap::new();
    println!(
        "{:<75} {:>6} {:>6} {:>6} {:>5} {:>5} {:>5} {:>5} {:>5} {:>4} {:>4}  linktypes",
        "file", "frames", "tcp", "data", "!ip", "!tcp", "unsup", "malf", "cut", "frag", "rasm"
    );
    for row in &rows {
        let outcome = decode_files(&[public.join(&row.path)]);
        let s = &outcome.stats;
        println!(
            "{:<75} {:>6} {:>6} {:>6} {:>5} {:>5} {:>5} {:>5} {:>5} {:>4} {:>4}  {:?}{}{}",
            row.path,
            s.frames,
            s.tcp_segments,
            outcome.payload_segments,
            s.not_ip,
            s.not_tcp,
            s.unsupported_encapsulation,
            s.malformed,
            s.snaplen_cut,
            s.fragments,
            s.datagrams_reassembled,
            outcome.linktypes,
            if outcome.truncated { " truncated" } else { "" },
            if outcome.fallback {
                " pcapng-fallback"
            } else {
                ""
            },
        );
        for (name, value) in s.counters() {
            let total = totals_field(&mut totals, name);
            *total += value;
        }
        for linktype in &outcome.linktypes {
            *by_linktype.entry(*linktype).or_default() += 1;
        }
        if s.unknown_linktype > 0 {
            failures.push(format!(
                "{}: {} frames of unknown link type",
                row.path, s.unknown_linktype
            ));
        }
        if row.http_requests > 0 && !out_of_scope(row) && outcome.payload_segments == 0 {
            failures.push(format!(
                "{}: tshark finds {} requests, reel decodes no TCP payload",
                row.path, row.http_requests
            ));
        }
        if out_of_scope(row) && s.unsupported_encapsulation == 0 {
            failures.push(format!(
                "{}: out of scope but no unsupported encapsulation counted",
                row.path
            ));
        }
    }
    println!("totals: {:?}", totals.counters());
    println!("files per link type: {by_linktype:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every link type of the corpus is seen (DLT values as libpcap reports them).
    for linktype in [0, 1, 12, 113, 127, 228, 239, 276] {
        assert!(
            by_linktype.contains_key(&linktype),
            "no file of link type {linktype}"
        );
    }
}

fn totals_field<'a>(totals: &'a mut DecodeStats, name: &str) -> &'a mut u64 {
    match name {
        "frames" => &mut totals.frames,
        "bytes" => &mut totals.bytes,
        "tcp_segments" => &mut totals.tcp_segments,
        "not_ip" => &mut totals.not_ip,
        "not_tcp" => &mut totals.not_tcp,
        "unsupported_encapsulation" => &mut totals.unsupported_encapsulation,
        "unknown_linktype" => &mut totals.unknown_linktype,
        "malformed" => &mut totals.malformed,
        "snaplen_cut" => &mut totals.snaplen_cut,
        "fragments" => &mut totals.fragments,
        "datagrams_reassembled" => &mut totals.datagrams_reassembled,
        "fragments_dropped" => &mut totals.fragments_dropped,
        other => panic!("unknown counter {other}"),
    }
}

#[test]
fn files_given_together_are_merged_by_time() {
    let Some(captures) = captures() else { return };
    let dir = captures.join("public/tcpflow/tests");
    let parts = [dir.join("test1-part1.pcap"), dir.join("test1-part2.pcap")];
    let singles: Vec<u64> = parts
        .iter()
        .map(|p| decode_files(std::slice::from_ref(p)).stats.frames)
        .collect();

    // Given in reverse order, the merge still yields time order.
    let reversed = [parts[1].clone(), parts[0].clone()];
    let mut source = OfflineSource::open(&reversed, None).expect("open");
    let mut last = 0u64;
    let mut frames = 0u64;
    let mut from_first_part_after_second = false;
    let mut seen_second = false;
    while let Some(frame) = source.next_frame().expect("read") {
        assert!(
            frame.ts_ns >= last,
            "frame {frames}: {} < {last}",
            frame.ts_ns
        );
        last = frame.ts_ns;
        frames += 1;
        // part1's frames come before part2's in time.
        if frames > singles[0] {
            seen_second = true;
        } else if seen_second {
            from_first_part_after_second = true;
        }
    }
    assert!(!from_first_part_after_second);
    assert_eq!(frames, singles[0] + singles[1]);
    let stats = source.file_stats();
    assert_eq!(stats[0].frames, singles[1]);
    assert_eq!(stats[1].frames, singles[0]);
}
