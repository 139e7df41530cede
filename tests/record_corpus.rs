//! `reel record --read` on every capture of the public corpus (`../shared/captures/public`),
//! compared message by message with tshark's oracle lists: no error and no panic on any file,
//! every request tshark finds is found (as a multiset of method and target), every exchange tshark
//! pairs (request, status) is paired the same way, and every file where reel and tshark differ is
//! listed in [`DIFFERENCES`] with the reason. The table must stay true: a listed file that no
//! longer differs the way it says fails the test too.
//!
//! Run with `--nocapture` to print the table of differences and the corpus totals.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use reel::capture::OfflineSource;
use reel::exchange::Record;
use reel::http::framing::RequestHead;
use reel::record::extraction::{Extraction, ExtractionConfig};
use reel::tcp::TcpConfig;

/// Who is wrong, or why nobody is, when reel and tshark differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    /// tshark's count is wrong (or lower than what the capture holds); reel is right.
    Tshark,
    /// The traffic is out of reel's scope (tunnels, 802.11, HTTP over UDP, CONNECT tunnels).
    Scope,
    /// reel finds less than what is there, by design or as a known limitation.
    Reel,
}

/// How a file differs: reel's and tshark's message counts, and how many of tshark's
/// (method, target) requests reel does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Diff {
    /// Request records.
    reel_requests: u64,
    /// Final responses + 1xx interim responses + orphan responses.
    reel_responses: u64,
    /// `http_requests` of INDEX.tsv.
    tshark_requests: u64,
    /// `http_responses` of INDEX.tsv (1xx and retransmitted duplicates included).
    tshark_responses: u64,
    /// tshark's requests (method, target) missing from reel's, as a multiset.
    missing: u64,
    /// tshark's exchanges (method, target, status of the response it pairs with the request)
    /// missing from reel's.
    unpaired: u64,
    who: Who,
    why: &'static str,
}

const fn d(
    reel: (u64, u64),
    tshark: (u64, u64),
    (missing, unpaired): (u64, u64),
    who: Who,
    why: &'static str,
) -> Diff {
    Diff {
        reel_requests: reel.0,
        reel_responses: reel.1,
        tshark_requests: tshark.0,
        tshark_responses: tshark.1,
        missing,
        unpaired,
        who,
        why,
    }
}

use Who::{Reel, Scope, Tshark};

/// Every file where reel and tshark differ: `d((reel requests, responses), (tshark requests,
/// responses), (missing requests, missing exchanges), who, why)`. Responses are final + 1xx +
/// orphans for reel, every response message for tshark.
const DIFFERENCES: &[(&str, Diff)] = &[
    // --- tshark misses messages that never complete (capture loss, end of capture, one side) ---
    (
        "zeek/http/content-range-gap.pcap",
        d((1, 1), (1, 0), (0, 0), Tshark, GAP),
    ),
    (
        "zeek/http/entity_gap.pcap",
        d((1, 1), (1, 0), (0, 0), Tshark, GAP),
    ),
    (
        "zeek/http/bro.org.pcap",
        d((31, 31), (31, 30), (0, 0), Tshark, GAP),
    ),
    (
        "zeek/spicy/gap-recovery.pcap",
        d((10, 10), (10, 9), (0, 0), Tshark, GAP),
    ),
    (
        "suricata-verify/http-gap-simple/input.pcap",
        d((3, 3), (3, 2), (0, 0), Tshark, GAP),
    ),
    (
        "suricata-verify/http-gap-double/input.pcap",
        d((3, 3), (3, 2), (0, 0), Tshark, GAP),
    ),
    (
        "suricata-verify/http-gap-whole-body/input.pcap",
        d((3, 3), (3, 2), (0, 0), Tshark, GAP),
    ),
    (
        "suricata-verify/http-range-file/input.pcap",
        d((15, 15), (15, 14), (0, 0), Tshark, OOO),
    ),
    (
        "chrissanders-packets/http_espn.pcapng",
        d((61, 61), (61, 60), (0, 0), Tshark, GAP),
    ),
    (
        "pcapplusplus/unidirectional_tcp_stream_with_missing_packet.pcap",
        d(
            (2, 0),
            (1, 0),
            (0, 0),
            Tshark,
            "a POST body with a lost segment never completes in tshark; reel keeps the request, \
             cut by the gap",
        ),
    ),
    (
        "zeek/http/putty-upload.pcap",
        d(
            (2, 2),
            (1, 2),
            (0, 0),
            Tshark,
            "the 1.6 MB upload is answered early and reset after 80 KB: tshark never completes \
             the POST; reel keeps it, cut (incomplete), paired with its 200",
        ),
    ),
    (
        "pcapplusplus/raw_ip.pcap",
        d((19, 7), (19, 6), (0, 0), Tshark, ENDS),
    ),
    (
        "arkime/no-syn-ack.pcap",
        d((1, 1), (1, 0), (0, 0), Tshark, ENDS),
    ),
    (
        "tcpflow/tests/test1-part1.pcap",
        d((1, 1), (1, 0), (0, 0), Tshark, ENDS),
    ),
    (
        "pcapplusplus/TwoHttpResponses.pcap",
        d(
            (0, 2),
            (0, 0),
            (0, 0),
            Tshark,
            "two first segments of responses: tshark completes neither; reel keeps both as \
             orphans, cut",
        ),
    ),
    (
        "suricata-verify/http-close-headers/input.pcap",
        d(
            (1, 1),
            (1, 0),
            (0, 0),
            Tshark,
            "the server closes inside the response head: tshark drops the response; reel keeps \
             its status line, cut",
        ),
    ),
    (
        "suricata-verify/http-evader/http-evader-026/input.pcap",
        d(
            (1, 1),
            (1, 0),
            (0, 0),
            Tshark,
            "the last chunk line ends in a bare LF: tshark never completes the response; reel \
             keeps it, cut at the close",
        ),
    ),
    (
        "pcapplusplus/4KHttpRequests.pcap",
        d(
            (381, 0),
            (139, 0),
            (0, 0),
            Tshark,
            "only request-start packets were kept: tshark completes 139 (POST bodies missing; \
             381 per packet); reel keeps all 381 heads, cut by the gaps",
        ),
    ),
    (
        "pcapplusplus/650HttpResponses.pcap",
        d(
            (0, 676),
            (0, 365),
            (0, 0),
            Tshark,
            "only response-start packets were kept: tshark completes 365 (677 per packet); reel \
             keeps 676 orphans: one start packet sits at the sequence number of the previous \
             302's 689-byte body, so TCP makes it that body",
        ),
    ),
    // --- tshark misses what it does not reassemble or parse ---
    (
        "peafowl/tcp_resegment/http_out_of_order_1.pcap",
        d((2, 2), (0, 2), (0, 0), Tshark, OOO),
    ),
    (
        "peafowl/tcp_resegment/http_out_of_order_2.pcap",
        d((2, 2), (1, 1), (0, 0), Tshark, OOO),
    ),
    (
        "peafowl/tcp_resegment/http_seq_num_wrapping_out_of_order.pcap",
        d((2, 2), (2, 1), (0, 0), Tshark, OOO),
    ),
    (
        "arkime/wireshark-retrans.pcap",
        d(
            (4, 4),
            (4, 6),
            (0, 0),
            Tshark,
            "tshark counts two retransmitted responses twice; 4 exchanges",
        ),
    ),
    (
        "zeek/tcp-http-with-padding.pcap",
        d(
            (1, 1),
            (0, 1),
            (0, 0),
            Tshark,
            "the request comes one byte per segment on port 27272: tshark misses it, reel (and \
             zeek) find it",
        ),
    ),
    (
        "zeek/postgresql/http-on-port-5432.pcap",
        d(
            (1, 1),
            (0, 0),
            (0, 0),
            Tshark,
            "HTTP on the PostgreSQL port: tshark decodes pgsql; reel finds the request by its \
             bytes",
        ),
    ),
    (
        "zeek/http/http_09.pcap",
        d((2, 2), (0, 0), (0, 0), Tshark, HTTP09),
    ),
    (
        "suricata-verify/http-data-after-09/input.pcap",
        d((1, 1), (0, 1), (0, 0), Tshark, HTTP09),
    ),
    (
        "zeek/ipv6-http-atomic-frag.pcap",
        d(
            (4, 3),
            (0, 0),
            (0, 0),
            Tshark,
            "four HTTP/0.9 GETs behind IPv6 extension headers (destination options, atomic \
             fragment, hop-by-hop, routing): tshark finds none; reel finds the 4 requests and 3 \
             answers (the first answer is stored before its request, and a bare HTTP/0.9 \
             document cannot be recognised alone)",
        ),
    ),
    (
        "suricata-verify/http-uri-spaces/input.pcap",
        d(
            (1, 1),
            (1, 1),
            (1, 1),
            Tshark,
            "the client sent `GET /uri afterspace HTTP/1.1`: reel keeps the target as sent \
             (`/uri afterspace`), tshark cuts it at the space",
        ),
    ),
    (
        "suricata-verify/http-multiple-cl/input.pcap",
        d(
            (1, 1),
            (2, 1),
            (1, 0),
            Tshark,
            "conflicting Content-Length (11, 93) make the framing invalid (RFC 9112 6.3); the \
             server answered once (501) and closed. reel keeps that request, cut; tshark picks \
             one length and finds /bad.php inside a body",
        ),
    ),
    // --- out of scope: other encapsulations, HTTP over UDP, CONNECT tunnels ---
    (
        "arkime/80211http.pcap",
        d(
            (0, 0),
            (7, 7),
            (7, 7),
            Scope,
            "802.11 radiotap: counted as unsupported encapsulation",
        ),
    ),
    (
        "pcapplusplus/one_http_stream_rst.pcap",
        d(
            (0, 0),
            (1, 1),
            (1, 1),
            Scope,
            "VLAN + PPPoE: counted as unsupported encapsulation",
        ),
    ),
    (
        "suricata-verify/bug-4810/pppoe-session-http.pcap",
        d(
            (0, 0),
            (1, 1),
            (1, 1),
            Scope,
            "PPPoE: counted as unsupported encapsulation",
        ),
    ),
    (
        "dpkt/nb6-http.pcap",
        d(
            (1, 1),
            (3, 3),
            (2, 2),
            Scope,
            "two of the three exchanges travel in PPPoE and L2TP: counted as unsupported \
             encapsulation",
        ),
    ),
    (
        "suricata-verify/http-request-invalid/input.pcap",
        d((4, 6), (8, 6), (4, 0), Scope, SSDP),
    ),
    (
        "httpreplay/invalidtcppacketorder.pcap",
        d((1, 1), (13, 1), (12, 0), Scope, SSDP),
    ),
    (
        "suricata-verify/http-connect/http-connect-simple/input.pcap",
        d(
            (1, 1),
            (2, 1),
            (1, 0),
            Scope,
            "a GET inside a CONNECT tunnel: reel records up to the CONNECT's 2xx and skips the \
             tunnel (SPEC)",
        ),
    ),
    // --- reel finds less, by design ---
    (
        "zeek/http/methods.pcap",
        d(
            (25, 25),
            (27, 49),
            (2, 2),
            Reel,
            "malformed request lines, one per connection: tshark also takes `CCM_POST \
             /HTTP/1.1` (unknown method, no version) and a bare `OPTIONS` line as requests; \
             reel accepts a request line without a version only for known methods and never \
             without a target, so 24 connections are not HTTP (tshark counts their 400 answers)",
        ),
    ),
];

// Reasons shared by several files.
const GAP: &str =
    "a capture gap cuts a response body: tshark never completes it; reel keeps it, cut by the gap";
const ENDS: &str =
    "the capture ends inside the last response's body: tshark drops it; reel keeps it, cut";
const OOO: &str = "segments out of order: tshark misses the messages they complete \
    (tcp.reassemble_out_of_order off); reel reassembles and pairs them";
const HTTP09: &str = "HTTP/0.9 requests (no version): tshark does not parse them";
const SSDP: &str = "tshark counts SSDP M-SEARCH (HTTP over UDP) as requests; reel reads TCP only";

/// One line of INDEX.tsv.
struct Row {
    path: String,
    requests: u64,
    responses: u64,
}

fn index(public: &Path) -> Vec<Row> {
    std::fs::read_to_string(public.join("INDEX.tsv"))
        .expect("INDEX.tsv")
        .lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            Row {
                path: cols[0].to_owned(),
                requests: cols[4].parse().expect("http_requests"),
                responses: cols[5].parse().expect("http_responses"),
            }
        })
        .collect()
}

type Multiset = BTreeMap<(String, String), u64>;

/// tshark's requests as (method, target): one line per frame, several messages comma-joined.
/// A target may hold commas itself; when the split does not give one target per method, the
/// targets are matched against reel's (`ours`) before falling back to the whole field.
fn oracle_requests(public: &Path, path: &str, ours: &Multiset) -> Multiset {
    let file = public.join("oracle").join(format!("{path}.requests.tsv"));
    let bytes = std::fs::read(&file).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let mut out = Multiset::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(methods), Some(uris)) = (cols.get(4), cols.get(5)) else {
            continue;
        };
        if methods.is_empty() {
            continue;
        }
        let methods: Vec<&str> = methods.split(',').collect();
        let targets = split_targets(&methods, uris, ours);
        for (m, t) in methods.iter().zip(targets) {
            *out.entry((m.to_string(), t)).or_default() += 1;
        }
    }
    out
}

fn split_targets(methods: &[&str], uris: &str, ours: &Multiset) -> Vec<String> {
    if methods.len() == 1 {
        return vec![uris.to_owned()];
    }
    let parts: Vec<&str> = uris.split(',').collect();
    if parts.len() == methods.len() {
        return parts.into_iter().map(str::to_owned).collect();
    }
    // Rejoin consecutive parts into targets reel knows, in order.
    let mut targets = Vec::new();
    let mut i = 0;
    for (n, m) in methods.iter().enumerate() {
        let left = methods.len() - n - 1;
        let mut end = parts.len() - left;
        while end > i + 1 && !ours.contains_key(&(m.to_string(), parts[i..end].join(","))) {
            end -= 1;
        }
        targets.push(parts[i..end].join(","));
        i = end;
    }
    targets
}

type Exchanges = BTreeMap<(String, String, u16), u64>;

/// tshark's exchanges: each response it pairs with a request (`http.request_in`), as the
/// request's method and target with the response's status; frames that hold one message only.
fn oracle_exchanges(public: &Path, path: &str) -> Exchanges {
    let read = |kind: &str| {
        let file = public.join("oracle").join(format!("{path}.{kind}.tsv"));
        String::from_utf8_lossy(&std::fs::read(&file).unwrap_or_default()).into_owned()
    };
    let requests = read("requests");
    let by_frame: BTreeMap<&str, (&str, &str)> = requests
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            match cols.as_slice() {
                [frame, _, _, _, method, uri, ..] if !method.contains(',') => {
                    Some((*frame, (*method, *uri)))
                }
                _ => None,
            }
        })
        .collect();
    let mut out = Exchanges::new();
    for line in read("responses").lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(code), Some(request_in)) = (cols.get(4), cols.get(9)) else {
            continue;
        };
        let (Ok(status), Some((method, uri))) = (code.parse::<u16>(), by_frame.get(request_in))
        else {
            continue;
        };
        *out.entry((method.to_string(), uri.to_string(), status))
            .or_default() += 1;
    }
    out
}

/// Method and target of a stored request (a cut head still has its request line).
fn method_target(head: &[u8]) -> (String, String) {
    if let Ok(h) = RequestHead::parse(head) {
        return (h.method.to_owned(), h.target_str().into_owned());
    }
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let line = line.trim_end();
    let (method, rest) = line.split_once(' ').unwrap_or((line, ""));
    let target = match rest.rsplit_once(' ') {
        Some((t, v)) if v.starts_with("HTTP/") => t,
        _ => rest,
    };
    (method.to_owned(), target.trim().to_owned())
}

/// What reel found in one file.
#[derive(Default)]
struct Found {
    requests: u64,
    responses: u64,
    targets: Multiset,
    exchanges: Exchanges,
}

fn extract(paths: &[PathBuf]) -> Result<Found, String> {
    let mut source = OfflineSource::open(paths, None).map_err(|e| format!("open: {e}"))?;
    // As `reel record --read` with its defaults (its --idle-timeout is 5 minutes).
    let mut extraction = Extraction::new(ExtractionConfig {
        tcp: TcpConfig {
            idle_timeout_ns: 300_000_000_000,
            ..TcpConfig::default()
        },
        ..ExtractionConfig::default()
    });
    let mut records = Vec::new();
    while let Some(frame) = source.next_frame().map_err(|e| format!("read: {e}"))? {
        extraction.push(&frame, &mut records);
    }
    extraction.finish(&mut records);
    let mut found = Found::default();
    let mut requests = BTreeMap::new();
    for record in &records {
        match record {
            Record::Request(m) => {
                found.requests += 1;
                let key = method_target(m.head());
                *found.targets.entry(key.clone()).or_default() += 1;
                requests.insert((m.conn, m.index), key);
            }
            Record::Response(r) => {
                found.responses += 1;
                if let Some((method, target)) = requests.get(&(r.message.conn, r.message.index)) {
                    *found
                        .exchanges
                        .entry((method.clone(), target.clone(), r.status))
                        .or_default() += 1;
                }
            }
            Record::Interim(_) | Record::Orphan(_) => found.responses += 1,
            _ => {}
        }
    }
    Ok(found)
}

fn missing<K: Ord>(theirs: &BTreeMap<K, u64>, ours: &BTreeMap<K, u64>) -> u64 {
    theirs
        .iter()
        .map(|(k, n)| n.saturating_sub(ours.get(k).copied().unwrap_or(0)))
        .sum()
}

#[test]
fn every_public_capture_matches_tshark_or_is_explained() {
    let Some(captures) = common::shared_captures() else {
        return;
    };
    let public = captures.join("public");
    let rows = index(&public);
    assert_eq!(rows.len(), 150, "INDEX.tsv lists 150 captures");
    let table: BTreeMap<&str, &Diff> = DIFFERENCES.iter().map(|(p, d)| (*p, d)).collect();
    assert_eq!(table.len(), DIFFERENCES.len(), "a file listed twice");
    for path in table.keys() {
        assert!(
            rows.iter().any(|r| r.path == *path),
            "{path}: listed in DIFFERENCES, not in INDEX.tsv"
        );
    }

    let mut failures = Vec::new();
    let mut shown = Vec::new();
    let (mut reel_total, mut tshark_total) = ((0, 0), (0, 0));
    for row in &rows {
        let found = match extract(&[public.join(&row.path)]) {
            Ok(found) => found,
            Err(e) => {
                failures.push(format!("{}: {e}", row.path));
                continue;
            }
        };
        let theirs = oracle_requests(&public, &row.path, &found.targets);
        assert_eq!(
            theirs.values().sum::<u64>(),
            row.requests,
            "{}: the oracle list and INDEX.tsv disagree",
            row.path
        );
        reel_total.0 += found.requests;
        reel_total.1 += found.responses;
        tshark_total.0 += row.requests;
        tshark_total.1 += row.responses;
        let actual = Diff {
            reel_requests: found.requests,
            reel_responses: found.responses,
            tshark_requests: row.requests,
            tshark_responses: row.responses,
            missing: missing(&theirs, &found.targets),
            unpaired: missing(&oracle_exchanges(&public, &row.path), &found.exchanges),
            who: Tshark,
            why: "",
        };
        let differs = actual.missing > 0
            || actual.unpaired > 0
            || actual.reel_requests != actual.tshark_requests
            || actual.reel_responses != actual.tshark_responses;
        let counts = |x: &Diff| {
            (
                x.reel_requests,
                x.reel_responses,
                x.tshark_requests,
                x.tshark_responses,
                x.missing,
                x.unpaired,
            )
        };
        match (differs, table.get(row.path.as_str())) {
            (false, None) => {}
            (true, None) => failures.push(format!(
                "{}: differs and is not in DIFFERENCES: {}",
                row.path,
                entry(&row.path, &actual)
            )),
            (_, Some(listed)) if counts(listed) != counts(&actual) => failures.push(format!(
                "{}: DIFFERENCES says {:?}, now {:?} (reel q, r; tshark q, r; missing, \
                 unpaired): {}",
                row.path,
                counts(listed),
                counts(&actual),
                entry(&row.path, &actual)
            )),
            (_, Some(listed)) => shown.push((row.path.clone(), **listed)),
        }
        if differs {
            let lacking: Vec<String> = theirs
                .iter()
                .filter(|(k, n)| found.targets.get(*k).copied().unwrap_or(0) < **n)
                .take(3)
                .map(|((m, t), _)| format!("{m} {}", t.chars().take(60).collect::<String>()))
                .collect();
            if !lacking.is_empty() {
                println!("  {}: tshark has, reel not: {lacking:?}", row.path);
            }
        }
    }

    println!(
        "\n{:<64} {:>11} {:>11} {:>9}  who     why",
        "file", "reel q/r", "tshark q/r", "miss q/x"
    );
    for (path, x) in &shown {
        println!(
            "{:<64} {:>5}/{:<5} {:>5}/{:<5} {:>4}/{:<4}  {:<7} {}",
            path,
            x.reel_requests,
            x.reel_responses,
            x.tshark_requests,
            x.tshark_responses,
            x.missing,
            x.unpaired,
            format!("{:?}", x.who),
            x.why
        );
    }
    let by_who = |w: Who| shown.iter().filter(|(_, x)| x.who == w).count();
    println!(
        "\n{} files differ of {}: tshark wrong {}, out of scope {}, reel limitation {}",
        shown.len(),
        rows.len(),
        by_who(Tshark),
        by_who(Scope),
        by_who(Reel)
    );
    println!(
        "corpus total: reel {} requests / {} responses (final + 1xx + orphans), tshark {} / {}",
        reel_total.0, reel_total.1, tshark_total.0, tshark_total.1
    );
    assert!(
        failures.is_empty(),
        "{} problem(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A table line for a file, ready to paste into [`DIFFERENCES`].
fn entry(path: &str, x: &Diff) -> String {
    format!(
        "(\"{path}\", d(({}, {}), ({}, {}), ({}, {}), Tshark, \"…\")),",
        x.reel_requests,
        x.reel_responses,
        x.tshark_requests,
        x.tshark_responses,
        x.missing,
        x.unpaired
    )
}

/// Exchanges (method, target, status, latency in µs) as `reel record --read` pairs them.
fn exchanges_of(path: &Path) -> Vec<(String, String, Option<u16>, Option<u64>)> {
    let mut source = OfflineSource::open(&[path.to_path_buf()], None).unwrap();
    let mut extraction = Extraction::new(ExtractionConfig::default());
    let mut records = Vec::new();
    while let Some(frame) = source.next_frame().unwrap() {
        extraction.push(&frame, &mut records);
    }
    extraction.finish(&mut records);
    let mut out = BTreeMap::new();
    for record in &records {
        match record {
            Record::Request(m) => {
                let (method, target) = method_target(m.head());
                out.insert((m.conn, m.index), (method, target, None, None));
            }
            Record::Response(r) => {
                let x = out.get_mut(&(r.message.conn, r.message.index)).unwrap();
                x.2 = Some(r.status);
                x.3 = r.latency_ns.map(|l| l / 1000);
            }
            _ => {}
        }
    }
    out.into_values().collect()
}

#[test]
fn requests_reassembled_out_of_order_pair_with_their_responses() {
    // Each request was captured before its response, but its segments come out of order, so
    // reassembly delivers it after the response (regression: both responses were orphans).
    let Some(captures) = common::shared_captures() else {
        return;
    };
    let dir = captures.join("public/peafowl/tcp_resegment");
    for name in ["http_out_of_order_1.pcap", "http_out_of_order_2.pcap"] {
        let digest = "/Security/Digest/".to_string();
        assert_eq!(
            exchanges_of(&dir.join(name)),
            [
                ("GET".to_string(), digest.clone(), Some(401), Some(267_104)),
                ("GET".to_string(), digest, Some(200), Some(104_906)),
            ],
            "{name}"
        );
    }
}

#[test]
fn lost_response_among_a_thousand_does_not_shift_pairing() {
    let Some(shared) = common::shared_captures() else {
        return;
    };
    let p = common::pcapfile::read(
        &shared.join("public/zeek/http/1000-requests-one-dropped-response.pcap"),
    );
    let records = common::pcapfile::extract(p.linktype, &p.frames, ExtractionConfig::default());
    let count = |f: fn(&Record) -> bool| records.iter().filter(|r| f(r)).count();
    assert_eq!(count(|r| matches!(r, Record::Request(_))), 1000);
    assert_eq!(count(|r| matches!(r, Record::Orphan(_))), 0);
    // The answer to request 0 was lost; every other response pairs with its own request.
    let paired: Vec<u32> = records
        .iter()
        .filter_map(|r| match r {
            Record::Response(resp) => Some(resp.message.index),
            _ => None,
        })
        .collect();
    assert_eq!(paired, (1..1000).collect::<Vec<u32>>());
}
