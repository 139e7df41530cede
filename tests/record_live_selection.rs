//! Record-time selection, live: `--sample` keeps whole connections (exactly those the documented
//! hash picks), `--exclude-path` leaves requests out with their responses, and both are counted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::exchanges::{assert_matches_access_log, exchanges, read_log};
use common::{CLIENT_IP, LiveReel, NetPair, Nginx, SERVER_IP, can_use_netns, read_access_log};
use nix::sys::signal::Signal;
use reel::record::sample_keeps;

#[test]
fn sample_keeps_whole_connections_and_filters_drop_responses_too() {
    if !can_use_netns("sample_keeps_whole_connections_and_filters_drop_responses_too") {
        return;
    }
    let net = NetPair::new();
    let nginx = Nginx::start(Some(&net.server), SERVER_IP, 8080);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("sel.reel");
    let json = dir.path().join("sel.json");
    let mut reel = LiveReel::start(
        &net.server,
        &[
            "-i",
            &net.server_if,
            "--port",
            "8080",
            "-o",
            log.to_str().unwrap(),
            "--sample",
            "50%",
            "--exclude-path",
            "^/health",
            &format!("--json={}", json.display()),
        ],
    );
    let base = format!("http://{SERVER_IP}:8080");
    for i in 0..40 {
        // One connection each: a health check, then two API requests.
        let health = format!("{base}/health");
        let user = format!("{base}/api/users/{i}");
        let orders = format!("{base}/api/users/{i}/orders");
        assert!(
            net.in_client(&["curl", "-s", "-o", "/dev/null", &health, &user, &orders])
                .status()
                .unwrap()
                .success()
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    let status = reel.stop(Signal::SIGTERM, Duration::from_secs(10)).unwrap();
    assert!(status.success(), "{}", reel.stderr());

    let server: SocketAddr = format!("{SERVER_IP}:8080").parse().unwrap();
    let truth = read_access_log(&nginx.access_log());
    assert_eq!(truth.len(), 120);
    let kept_conn = |port: u16| {
        let client: SocketAddr = format!("{CLIENT_IP}:{port}").parse().unwrap();
        sample_keeps(client, server, 500_000)
    };
    let want: Vec<_> = truth
        .iter()
        .filter(|e| kept_conn(e.port) && e.target != "/health")
        .cloned()
        .collect();
    let kept_conns = truth
        .iter()
        .filter(|e| e.target == "/health" && kept_conn(e.port))
        .count();
    assert!(
        (5..=35).contains(&kept_conns),
        "{kept_conns} of 40 connections kept"
    );
    let records = read_log(&log);
    let xs = exchanges(&records);
    assert!(xs.iter().all(|x| x.target() != "/health"));
    assert_eq!(assert_matches_access_log(&xs, &want), 2 * kept_conns);
    // No response of a health check slipped through either.
    let responses = records
        .iter()
        .filter(|r| matches!(r, reel::exchange::Record::Response(_)))
        .count();
    assert_eq!(responses, 2 * kept_conns);

    let totals: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(totals["requests"], 120);
    assert_eq!(totals["requests_written"], 2 * kept_conns as u64);
    assert_eq!(totals["sampled_out_requests"], 3 * (40 - kept_conns) as u64);
    assert_eq!(totals["filtered_requests"], kept_conns as u64);
    assert_eq!(totals["filtered_responses"], kept_conns as u64);
    match records.first() {
        Some(reel::exchange::Record::Meta(m)) => {
            assert!(m.notes.iter().any(|n| n.starts_with("--sample 50")));
            assert!(
                m.notes
                    .iter()
                    .any(|n| n.starts_with("requests selected by --exclude-path"))
            );
        }
        other => panic!("{other:?}"),
    }
}
