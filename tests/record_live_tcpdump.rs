//! Real programs end to end, made at test time: nginx in a network namespace, wrk and curl in
//! another, tcpdump on the server's veth; `reel record --read` of that capture must hold every
//! request of nginx's access log, with the same method, target and status, in per-connection order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use assert_cmd::Command;
use common::exchanges::{assert_matches_access_log, exchanges, read_log};
use common::{NetPair, Nginx, SERVER_IP, Tcpdump, can_use_netns, read_access_log, repo, which};

#[test]
fn wrk_and_curl_traffic_matches_the_access_log() {
    if !can_use_netns("wrk_and_curl_traffic_matches_the_access_log") {
        return;
    }
    let have_wrk = which("wrk").is_some();
    assert!(
        have_wrk || std::env::var_os("CI").is_none(),
        "wrk is needed in CI (scripts/setup installs it)"
    );
    let net = NetPair::new();
    let nginx = Nginx::start(Some(&net.server), SERVER_IP, 8080);
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("live.pcap");
    let dump = Tcpdump::start(&net.server, &net.server_if, "tcp port 8080", &pcap);

    let base = format!("http://{SERVER_IP}:8080");
    // One-shot connections with curl: a query with percent-encoding, a POST, a HEAD, a 404.
    for args in [
        vec![
            "-s".to_string(),
            format!("{base}/api/search?q=caf%C3%A9&page=2"),
        ],
        vec![
            "-s".into(),
            "-X".into(),
            "POST".into(),
            "-d".into(),
            r#"{"user":7}"#.into(),
            format!("{base}/api/orders"),
        ],
        vec!["-s".into(), "-I".into(), format!("{base}/static/app.js")],
        vec!["-s".into(), format!("{base}/api/missing/12")],
        vec![
            "-s".into(),
            format!("{base}/api/users/5"),
            format!("{base}/api/users/6/orders"),
        ],
    ] {
        let mut full = vec!["curl".to_string(), "-o".into(), "/dev/null".into()];
        full.extend(args);
        let refs: Vec<&str> = full.iter().map(String::as_str).collect();
        assert!(net.in_client(&refs).status().unwrap().success());
    }
    // Keep-alive load: wrk with an API mix, bounded in time and connections.
    if have_wrk {
        let script = repo().join("benches/scripts/api-mix.lua");
        let out = net
            .in_client(&[
                "wrk",
                "-t",
                "1",
                "-c",
                "4",
                "-d",
                "1s",
                "-s",
                script.to_str().unwrap(),
                &base,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let pcap = dump.finish();
    if let Some(keep) = std::env::var_os("REEL_KEEP_PCAP") {
        std::fs::copy(&pcap, keep).unwrap();
        std::fs::copy(nginx.access_log(), "/tmp/live.access.log").unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));

    let log = dir.path().join("live.reel");
    Command::cargo_bin("reel")
        .unwrap()
        .args(["record", "--port", "8080", "--read"])
        .arg(&pcap)
        .arg("-o")
        .arg(&log)
        .assert()
        .success();
    let truth = read_access_log(&nginx.access_log());
    let xs = exchanges(&read_log(&log));
    // wrk stops mid-request when its time is up: nginx logs what it answered, and a request
    // whose response was cut by wrk's close is logged with status 499 — compare answered ones.
    let answered: Vec<_> = truth.iter().filter(|e| e.status != 499).cloned().collect();
    let unanswered_ports: Vec<u16> = truth
        .iter()
        .filter(|e| e.status == 499)
        .map(|e| e.port)
        .collect();
    let xs: Vec<_> = xs
        .into_iter()
        .filter(|x| x.status().is_some() || !unanswered_ports.contains(&x.request.client.port()))
        .collect();
    let n = assert_matches_access_log(&xs, &answered);
    assert!(n > if have_wrk { 1000 } else { 5 }, "only {n} requests");
}
