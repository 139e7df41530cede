//! `reel record --read` on reel's own captures of real programs (tests/data, captures-sample): every
//! request in the server's access log is in the log, with the same method, target and status, in the
//! same order per connection; and the cases GoReplay is known to get wrong come out right.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use common::exchanges::{Exchange, assert_matches_access_log, exchanges, read_log};
use common::{read_access_log, repo};
use reel::exchange::{Record, Truncation};

/// Runs `reel record --read CAPTURE` into a temp dir and returns the log's records.
fn record(capture: &Path) -> (tempfile::TempDir, Vec<Record>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.reel");
    Command::cargo_bin("reel")
        .unwrap()
        .args(["record", "--read"])
        .arg(capture)
        .arg("--output")
        .arg(&out)
        .assert()
        .success();
    let records = read_log(&out);
    (dir, records)
}

fn data(name: &str) -> PathBuf {
    repo().join("tests/data").join(name)
}

fn check_against_access_log(capture: PathBuf, access_log: PathBuf) -> Vec<Exchange> {
    let (_dir, records) = record(&capture);
    let xs = exchanges(&records);
    let n = assert_matches_access_log(&xs, &read_access_log(&access_log));
    assert!(n > 0);
    xs
}

#[test]
fn shop_sample_matches_nginx_access_log() {
    let xs = check_against_access_log(
        repo().join("captures-sample/shop.pcap"),
        repo().join("captures-sample/shop.access.log"),
    );
    assert_eq!(xs.len(), 640);
    assert!(xs.iter().all(|x| x.request.truncation.is_none()));
    assert!(xs.iter().all(|x| {
        x.response
            .as_ref()
            .is_some_and(|r| r.message.truncation.is_none())
    }));
}

/// A table of two connections: the idlest is closed for each new one (counted), and since the
/// sample's connections are sequential keep-alive ones, every exchange is still whole.
#[test]
fn max_flows_evicts_the_idlest_and_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.reel");
    let assert = Command::cargo_bin("reel")
        .unwrap()
        .args(["record", "--json", "--max-flows", "2", "--read"])
        .arg(repo().join("captures-sample/shop.pcap"))
        .arg("--output")
        .arg(&out)
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    // 559 connections, at most 2 open: all but the last ones opened were evicted or closed.
    assert_eq!(json["flows"], 559);
    assert_eq!(json["evicted_flows"], 395);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("395 evicted (--max-flows)"), "{stderr}");
    let xs = exchanges(&read_log(&out));
    assert_matches_access_log(
        &xs,
        &read_access_log(&repo().join("captures-sample/shop.access.log")),
    );
    Command::cargo_bin("reel")
        .unwrap()
        .args(["record", "--max-flows", "0", "--read"])
        .arg(repo().join("captures-sample/shop.pcap"))
        .arg("--output")
        .arg(dir.path().join("never.reel"))
        .assert()
        .code(2);
}

#[test]
fn pipelined_requests_sharing_one_segment_pair_in_order() {
    let xs = check_against_access_log(data("pipelined.pcap"), data("pipelined.access.log"));
    assert_eq!(xs.len(), 5);
    // All five requests came in one segment: the same first-byte time.
    let t0 = xs[0].request.first_ts_ns;
    assert!(xs.iter().all(|x| x.request.first_ts_ns == t0));
    // Latency is per exchange: request first byte → that exchange's response first byte, so it
    // grows along the pipeline and equals the response's own first-byte time minus t0.
    for x in &xs {
        let r = x.response.as_ref().unwrap();
        assert_eq!(r.latency_ns, Some(r.message.first_ts_ns - t0));
        assert_eq!(r.latency_last_ns, Some(r.message.last_ts_ns - t0));
    }
    let latencies: Vec<u64> = xs
        .iter()
        .map(|x| x.response.as_ref().unwrap().latency_ns.unwrap())
        .collect();
    assert!(latencies.windows(2).all(|w| w[0] <= w[1]), "{latencies:?}");
    // The HEAD response carries Content-Length and no body; the POST after it still pairs.
    let head = &xs[2];
    assert_eq!(head.method(), "HEAD");
    let resp = head.response.as_ref().unwrap();
    assert!(resp.message.body().is_empty());
    assert!(
        String::from_utf8_lossy(resp.message.head())
            .to_ascii_lowercase()
            .contains("content-length: ")
    );
    assert_eq!(xs[3].status(), Some(201));
}

#[test]
fn unusual_but_legal_responses_frame_right() {
    let xs = check_against_access_log(data("odd.pcap"), data("odd.access.log"));
    let by_target = |t: &str| xs.iter().find(|x| x.target() == t).unwrap();
    // 204 and 304 with Content-Length: no body, and the next response still pairs.
    for t in ["/no-content-cl", "/not-modified-cl", "/head"] {
        let r = by_target(t).response.as_ref().unwrap();
        assert!(
            r.message.body().is_empty(),
            "{t}: body {:?}",
            r.message.body()
        );
        assert_eq!(r.message.body_len, 0, "{t}");
    }
    // Chunked with extensions and a trailer: the whole wire form is kept.
    let chunked = by_target("/chunked-trailers").response.as_ref().unwrap();
    assert!(
        chunked
            .message
            .body()
            .ends_with(b"0;last\r\nX-Checksum: 42\r\n\r\n")
    );
    // Two 100s with unusual reason phrases, then the final response.
    let two = by_target("/two-100");
    let interim: Vec<u16> = two.interim.iter().map(|r| r.status).collect();
    assert_eq!(interim, vec![100, 100]);
    assert!(
        two.interim[0]
            .message
            .head()
            .starts_with(b"HTTP/1.1 100 Go Ahead Please")
    );
    assert_eq!(two.status(), Some(200));
    assert_eq!(two.request.body(), b"hello world");
    // A chunked request with chunk extensions.
    let upload = by_target("/chunked-upload");
    assert!(
        upload
            .request
            .body()
            .starts_with(b"7;part=one\r\nchunk-1\r\n")
    );
    // The last response is delimited by the connection close, and complete.
    let close = by_target("/close-delimited").response.as_ref().unwrap();
    assert_eq!(close.message.truncation, None);
    assert_eq!(close.message.body().len(), 30 * 200);
}

#[test]
fn expect_100_continue_with_and_without_the_body() {
    let xs = check_against_access_log(data("expect.pcap"), data("expect.access.log"));
    assert_eq!(xs.len(), 3);
    // Accepted: 100 then 201, the body follows the 100.
    assert_eq!(xs[0].interim.len(), 1);
    assert_eq!(xs[0].request.body().len(), 3000);
    // Refused at once (413, no 100): the client never sent the body. Complete, not truncated.
    assert!(xs[1].interim.is_empty());
    assert_eq!(xs[1].status(), Some(413));
    assert_eq!(xs[1].request.truncation, None);
    assert!(xs[1].request.body().is_empty());
    // A chunked upload.
    assert_eq!(xs[2].status(), Some(201));
}

#[test]
fn a_body_cut_by_the_snaplen_is_truncated_not_merged() {
    let (_dir, records) = record(&data("snaplen.pcap"));
    let xs = exchanges(&records);
    let truth = read_access_log(&data("snaplen.access.log"));
    assert_eq!(xs.len(), truth.len());
    let big = xs[0].response.as_ref().unwrap();
    assert_eq!(xs[0].target(), "/static/big.bin");
    assert_eq!(big.status, 200);
    assert_eq!(big.message.truncation, Some(Truncation::Snaplen));
    let head = String::from_utf8_lossy(big.message.head()).to_ascii_lowercase();
    assert!(head.contains("content-length: 120000"), "{head}");
    assert_eq!(big.message.body_len, 120_000);
    assert!(big.message.body().len() < 120_000);
    // The next exchange on the connection is found at its own start, not glued to the body.
    assert_eq!(xs[1].target(), "/health");
    assert_eq!(xs[1].status(), Some(200));
}
