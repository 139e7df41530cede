//! `reel record --interface` against real programs: nginx in a network namespace, curl and wrk as
//! clients, reel capturing on the server's veth and, in another test, on the loopback inside the
//! namespace. Every request of nginx's access log must be in the log with the same method, target
//! and status, in per-connection order; SIGTERM ends the capture with exit 0 and a complete file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::exchanges::{assert_matches_access_log, exchanges, read_log};
use common::{
    LiveReel, NetPair, Nginx, SERVER_IP, answered, can_use_netns, full_speed_lock, netns_command,
    read_access_log, which, wrk_api_mix,
};
use nix::sys::signal::Signal;

/// curl one-shots: a query with percent-encoding, a POST, a HEAD, a 404, two requests on one
/// connection.
fn curl_mix(run: impl Fn(&[&str]), base: &str) {
    let search = format!("{base}/api/search?q=caf%C3%A9&page=2");
    let orders = format!("{base}/api/orders");
    let app = format!("{base}/static/app.js");
    let missing = format!("{base}/api/missing/12");
    let user5 = format!("{base}/api/users/5");
    let user6 = format!("{base}/api/users/6/orders");
    for args in [
        vec!["-s", search.as_str()],
        vec!["-s", "-X", "POST", "-d", r#"{"user":7}"#, orders.as_str()],
        vec!["-s", "-I", app.as_str()],
        vec!["-s", missing.as_str()],
        vec!["-s", user5.as_str(), user6.as_str()],
    ] {
        let mut full = vec!["curl", "-o", "/dev/null"];
        full.extend(args);
        run(&full);
    }
}

fn json_of(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn veth_capture_matches_the_access_log_and_stops_cleanly_on_sigterm() {
    if !can_use_netns("veth_capture_matches_the_access_log_and_stops_cleanly_on_sigterm") {
        return;
    }
    let have_wrk = which("wrk").is_some();
    assert!(
        have_wrk || std::env::var_os("CI").is_none(),
        "wrk is needed in CI (scripts/setup installs it)"
    );
    let _lock = full_speed_lock();
    let net = NetPair::new();
    let nginx = Nginx::start(Some(&net.server), SERVER_IP, 8080);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("live.reel");
    let json = dir.path().join("live.json");
    let mut reel = LiveReel::start(
        &net.server,
        &[
            "--interface",
            &net.server_if,
            "--port",
            "8080",
            "-o",
            log.to_str().unwrap(),
            &format!("--json={}", json.display()),
            "--stats-interval",
            "1s",
        ],
    );
    let base = format!("http://{SERVER_IP}:8080");
    curl_mix(
        |args| assert!(net.in_client(args).status().unwrap().success()),
        &base,
    );
    if have_wrk {
        wrk_api_mix(&net, &base, 4, 2);
    }
    // The figures are served while capturing.
    std::thread::sleep(Duration::from_millis(500));
    assert!(reel.metric("reel_record_requests_total").unwrap() > 5);
    assert_eq!(reel.metric("reel_record_kernel_drops_total"), Some(0));

    let status = reel
        .stop(Signal::SIGTERM, Duration::from_secs(15))
        .expect("reel did not exit after SIGTERM");
    assert!(status.success(), "{status}: {}", reel.stderr());
    assert!(
        reel.stderr().contains(" stats: packets "),
        "no stats line: {}",
        reel.stderr()
    );
    assert!(!dir.path().join("live.reel.part").exists());

    let records = read_log(&log);
    assert!(
        matches!(records.first(), Some(reel::exchange::Record::Meta(m)) if m.sources == [net.server_if.clone()] && m.filter == "tcp and (port 8080)")
    );
    let closing = match records.last() {
        Some(reel::exchange::Record::Closing(c)) => c.clone(),
        other => panic!("the log does not end with a closing record: {other:?}"),
    };
    let totals = json_of(&json);
    eprintln!("{}", reel.stderr());
    for key in [
        "packets",
        "kernel_drops",
        "interface_drops",
        "queue_drops",
        "requests",
        "responses",
        "tls_connections",
        "bytes_written",
    ] {
        assert!(totals.get(key).is_some(), "--json lacks {key}: {totals}");
    }
    assert_eq!(totals["kernel_drops"], 0);
    assert_eq!(totals["queue_drops"], 0);
    assert_eq!(totals["tls_connections"], 0);
    assert_eq!(
        totals["bytes_written"].as_u64().unwrap(),
        std::fs::metadata(&log).unwrap().len()
    );
    assert_eq!(closing.get("kernel_drops"), Some(0));
    assert_eq!(closing.get("http.requests"), totals["requests"].as_u64());
    let truth = read_access_log(&nginx.access_log());
    let (truth, xs) = answered(&truth, exchanges(&records));
    let n = assert_matches_access_log(&xs, &truth);
    assert!(n > if have_wrk { 500 } else { 5 }, "only {n} requests");
}

#[test]
fn loopback_capture_inside_the_namespace_matches_the_access_log() {
    if !can_use_netns("loopback_capture_inside_the_namespace_matches_the_access_log") {
        return;
    }
    let _lock = full_speed_lock();
    let net = NetPair::new();
    let nginx = Nginx::start(Some(&net.server), "127.0.0.1", 8080);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("lo.reel");
    let mut reel = LiveReel::start(
        &net.server,
        &[
            "-i",
            "lo",
            "--port",
            "8080",
            "-o",
            log.to_str().unwrap(),
            "--stats-interval",
            "0",
        ],
    );
    curl_mix(
        |args| assert!(netns_command(&net.server, args).status().unwrap().success()),
        "http://127.0.0.1:8080",
    );
    if which("wrk").is_some() {
        let script = common::repo().join("benches/scripts/api-mix.lua");
        let out = netns_command(
            &net.server,
            &[
                "wrk",
                "-t",
                "1",
                "-c",
                "2",
                "-d",
                "1s",
                "-s",
                script.to_str().unwrap(),
                "http://127.0.0.1:8080",
            ],
        )
        .output()
        .unwrap();
        assert!(out.status.success());
    }
    std::thread::sleep(Duration::from_millis(300));
    let status = reel
        .stop(Signal::SIGINT, Duration::from_secs(15))
        .expect("reel did not exit after SIGINT");
    assert!(status.success(), "{status}: {}", reel.stderr());
    let truth = read_access_log(&nginx.access_log());
    let (truth, xs) = answered(&truth, exchanges(&read_log(&log)));
    let n = assert_matches_access_log(&xs, &truth);
    assert!(n >= 6, "only {n} requests");
}
