//! The extractor on real captures (through the small pcap driver in `http_support::pcap`): our own
//! captures of nginx and real clients against the servers' access logs (the ground truth), and the
//! public corpus against tshark's counts.

mod http_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use http_support::pcap::extract;
use http_support::summarize;
use reel::exchange::{Record, Truncation};
use reel::http::ExtractConfig;
use reel::http::framing::RequestHead;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// (client port, method, target, status) per request, in order per connection.
type Exchange = (u16, String, String, Option<u16>);

fn exchanges(records: &[Record]) -> Vec<Exchange> {
    let mut by_req: BTreeMap<(u64, u32), Exchange> = BTreeMap::new();
    for r in records {
        match r {
            Record::Request(m) => {
                let head = RequestHead::parse(&m.bytes).expect("stored request head parses");
                by_req.insert(
                    (m.conn, m.index),
                    (
                        m.client.port(),
                        head.method.to_string(),
                        head.target_str().into_owned(),
                        None,
                    ),
                );
            }
            Record::Response(resp) => {
                let key = (resp.message.conn, resp.message.index);
                let entry = by_req.get_mut(&key).expect("response after its request");
                entry.3 = Some(resp.status);
            }
            _ => {}
        }
    }
    let mut out: Vec<_> = by_req.into_values().collect();
    // Sort by client port, keeping each connection's order (the sort is stable).
    out.sort_by_key(|e| e.0);
    out
}

/// The access log (`conn request-number client-port method target status`) in the same shape.
fn access_log(path: &Path) -> Vec<Exchange> {
    let text = std::fs::read_to_string(path).expect("access log");
    let mut rows: Vec<(u16, u32, Exchange)> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let port: u16 = f[2].parse().expect("port");
            let n: u32 = f[1].parse().expect("request number");
            (
                port,
                n,
                (
                    port,
                    f[3].to_string(),
                    f[4].to_string(),
                    Some(f[5].parse().expect("status")),
                ),
            )
        })
        .collect();
    rows.sort_by_key(|r| (r.0, r.1));
    rows.into_iter().map(|r| r.2).collect()
}

fn run(file: &str) -> (Vec<Record>, reel::http::ExtractStats) {
    extract(&repo().join(file), ExtractConfig::default()).expect("capture opens")
}

#[test]
fn pipelined_capture_matches_nginx_access_log() {
    let (records, stats) = run("tests/data/pipelined.pcap");
    assert_eq!(
        exchanges(&records),
        access_log(&repo().join("tests/data/pipelined.access.log"))
    );
    assert_eq!((stats.requests, stats.responses, stats.orphans), (5, 5, 0));
    // All five requests came in one segment: same first byte time, so equal latency bases.
    let firsts: Vec<u64> = records
        .iter()
        .filter_map(|r| match r {
            Record::Request(m) => Some(m.first_ts_ns),
            _ => None,
        })
        .collect();
    assert!(firsts.windows(2).all(|w| w[0] == w[1]), "{firsts:?}");
}

#[test]
fn odd_capture_matches_the_server_log_and_keeps_both_continues() {
    let (records, stats) = run("tests/data/odd.pcap");
    assert_eq!(
        exchanges(&records),
        access_log(&repo().join("tests/data/odd.access.log"))
    );
    assert_eq!(stats.interim, 2, "{:#?}", summarize(&records));
    assert_eq!(
        (stats.responses, stats.orphans, stats.unanswered),
        (7, 0, 0)
    );
    let lines = summarize(&records);
    let interim: Vec<_> = lines.iter().filter(|l| l.starts_with("1xx")).collect();
    assert_eq!(interim.len(), 2);
    // The 204, 304 and HEAD responses carry Content-Length and no body.
    for r in &records {
        if let Record::Response(resp) = r {
            if matches!(resp.status, 204 | 304) {
                assert_eq!(resp.message.body_len, 0);
            }
        }
    }
    let last = records
        .iter()
        .rev()
        .find_map(|r| match r {
            Record::Response(resp) => Some(resp),
            _ => None,
        })
        .expect("a response");
    assert!(last.message.body_len > 0);
    assert_eq!(
        last.message.truncation, None,
        "close-delimited body completes at the FIN"
    );
}

#[test]
fn expect_capture_keeps_the_request_whose_body_was_never_sent() {
    let (records, stats) = run("tests/data/expect.pcap");
    assert_eq!(
        exchanges(&records),
        access_log(&repo().join("tests/data/expect.access.log"))
    );
    let refused = records
        .iter()
        .find_map(|r| match r {
            Record::Request(m) if m.client.port() == 45216 => Some(m),
            _ => None,
        })
        .expect("the refused upload");
    assert_eq!((refused.body_len, refused.truncation), (0, None));
    assert_eq!(stats.truncated_incomplete, 0);
}

#[test]
fn snaplen_capture_counts_truncated_messages_not_merged() {
    // tcpdump -s 200: every response's head is cut after 134 payload bytes (before its
    // Content-Length), so each response is kept with its status line and what was captured,
    // marked snaplen-truncated, and the next exchange is found again.
    let (records, stats) = run("tests/data/snaplen.pcap");
    assert_eq!(
        exchanges(&records),
        access_log(&repo().join("tests/data/snaplen.access.log"))
    );
    for r in &records {
        if let Record::Response(resp) = r {
            assert_eq!(resp.message.truncation, Some(Truncation::Snaplen));
            assert_eq!(resp.message.bytes.len(), 134);
            assert!(resp.message.bytes.starts_with(b"HTTP/1.1 200 OK\r\n"));
        }
    }
    assert_eq!(stats.truncated_snaplen, 2);
    assert_eq!((stats.orphans, stats.unanswered), (0, 0));
}

#[test]
fn shop_sample_matches_nginx_access_log() {
    let (records, stats) = run("captures-sample/shop.pcap");
    let got = exchanges(&records);
    let want = access_log(&repo().join("captures-sample/shop.access.log"));
    assert_eq!(got.len(), 640);
    assert_eq!(got, want);
    assert_eq!((stats.orphans, stats.unanswered, stats.gaps), (0, 0, 0));
    if let Err(problem) = reel::http::drive::check_records(&records) {
        panic!("{problem}");
    }
}

/// Files where reel (through this test's simple driver) finds fewer requests than tshark, and why.
const FEWER_THAN_TSHARK: &[(&str, &str)] = &[
    (
        "zeek/http/methods.pcap",
        "25 of 27: tshark also counts `CCM_POST /HTTP/1.1` (an unknown method without a version) \
         and a bare `OPTIONS` line; reel takes those connections as not HTTP",
    ),
    (
        "suricata-verify/http-connect/http-connect-simple/input.pcap",
        "the second request is inside the CONNECT tunnel: a CONNECT 2xx ends HTTP (SPEC Measures)",
    ),
    (
        "suricata-verify/http-multiple-cl/input.pcap",
        "smuggling test: the first request's Content-Length values conflict, so its body has no \
         length; the next request starts mid-line inside it and reel does not guess",
    ),
    (
        "suricata-verify/http-request-invalid/input.pcap",
        "4 of tshark's 8 are SSDP over UDP; over TCP both find 4",
    ),
    (
        "httpreplay/invalidtcppacketorder.pcap",
        "12 of tshark's 13 are SSDP over UDP; over TCP both find 1",
    ),
    (
        "zeek/nflog-http.pcap",
        "NFLOG link type: decoded by the capture stage, not this driver",
    ),
    (
        "pcapplusplus/frag_http_req.pcap",
        "IPv4 fragments: not reassembled by this driver",
    ),
    (
        "peafowl/tcp_resegment/http_ip_fragmented.pcap",
        "IPv4 fragments: not reassembled by this driver",
    ),
    (
        "peafowl/tcp_resegment/http_ip_fragmented_out_of_order.pcap",
        "IPv4 fragments: not reassembled by this driver",
    ),
    (
        "pcapplusplus/one_http_stream_rst.pcap",
        "PPPoE: an unsupported encapsulation (issue 3)",
    ),
    (
        "suricata-verify/bug-4810/pppoe-session-http.pcap",
        "PPPoE: an unsupported encapsulation",
    ),
    (
        "dpkt/nb6-http.pcap",
        "two of three requests are inside PPPoE and L2TP: unsupported",
    ),
    (
        "arkime/80211http.pcap",
        "802.11 radiotap: an unsupported encapsulation",
    ),
];

#[test]
fn lost_response_among_a_thousand_does_not_shift_pairing() {
    let Some(dir) = public_dir() else {
        return;
    };
    let path = dir.join("zeek/http/1000-requests-one-dropped-response.pcap");
    let (records, stats) = extract(&path, ExtractConfig::default()).expect("opens");
    assert_eq!(
        (
            stats.requests,
            stats.responses,
            stats.unanswered,
            stats.orphans
        ),
        (1000, 999, 1, 0)
    );
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

/// `../shared/captures/public` from the main checkout, or `../../shared/…` from a worktree.
fn public_dir() -> Option<PathBuf> {
    let found = ["../shared/captures/public", "../../shared/captures/public"]
        .iter()
        .map(|p| repo().join(p))
        .find(|d| d.join("INDEX.tsv").is_file());
    if found.is_none() {
        eprintln!("skipped: ../shared/captures not found");
    }
    found
}

#[test]
fn public_corpus_no_panic_and_recall_at_least_tsharks() {
    let Some(dir) = public_dir() else {
        return;
    };
    let index = std::fs::read_to_string(dir.join("INDEX.tsv")).expect("INDEX.tsv");
    let mut fewer = Vec::new();
    let mut table = String::new();
    let (mut ours, mut theirs) = (0u64, 0u64);
    for line in index.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let (path, tshark_req): (&str, u64) = (f[0], f[4].parse().unwrap_or(0));
        let Some((records, stats)) = extract(&dir.join(path), ExtractConfig::default()) else {
            table.push_str(&format!("{path}: libpcap cannot open\n"));
            continue;
        };
        if let Err(problem) = reel::http::drive::check_records(&records) {
            panic!("{path}: {problem}");
        }
        ours += stats.requests;
        theirs += tshark_req;
        if stats.requests != tshark_req {
            table.push_str(&format!(
                "{path}: reel {} tshark {tshark_req} (responses {} interim {} orphans {} gaps {} non-http {} tls {})\n",
                stats.requests, stats.responses, stats.interim, stats.orphans, stats.gaps,
                stats.non_http_conns, stats.tls_conns
            ));
        }
        if stats.requests < tshark_req && !FEWER_THAN_TSHARK.iter().any(|(p, _)| *p == path) {
            fewer.push(path.to_string());
        }
    }
    eprintln!("requests: reel {ours}, tshark {theirs}\n{table}");
    assert!(
        fewer.is_empty(),
        "fewer requests than tshark in {fewer:?}\n{table}"
    );
}
