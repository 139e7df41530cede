//! HTTPS on a watched port: connections that begin with a TLS handshake (curl -k against an
//! `openssl s_server` with a certificate made at test time) are counted, said once in the log, and
//! never written as messages; plain HTTP next to them is recorded as usual.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::exchanges::{exchanges, read_log};
use common::{
    Guard, LiveReel, NetPair, Nginx, SERVER_IP, can_use_netns, files_ending, read_logs, sh, which,
};
use nix::sys::signal::Signal;
use reel::exchange::Record;

#[test]
fn tls_connections_are_counted_and_said_once_never_written() {
    if !can_use_netns("tls_connections_are_counted_and_said_once_never_written") {
        return;
    }
    if which("openssl").is_none() {
        assert!(std::env::var_os("CI").is_none(), "openssl is needed in CI");
        eprintln!("skipped: needs openssl");
        return;
    }
    let net = NetPair::new();
    let _nginx = Nginx::start(Some(&net.server), SERVER_IP, 8080);
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    sh(&[
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=reel-test",
        "-days",
        "1",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ]);
    let _tls = Guard::new(
        net.in_server(&[
            "openssl",
            "s_server",
            "-accept",
            &format!("{SERVER_IP}:8443"),
            "-cert",
            cert.to_str().unwrap(),
            "-key",
            key.to_str().unwrap(),
            "-www",
            "-quiet",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let https = format!("https://{SERVER_IP}:8443/");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !net
        .in_client(&["curl", "-skf", "-o", "/dev/null", &https])
        .status()
        .unwrap()
        .success()
    {
        assert!(Instant::now() < deadline, "openssl s_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }

    let pattern = dir.path().join("tls-%H%M%S.reel");
    let json = dir.path().join("tls.json");
    let mut reel = LiveReel::start(
        &net.server,
        &[
            "-i",
            &net.server_if,
            "--port",
            "8080",
            "--port",
            "8443",
            "-o",
            pattern.to_str().unwrap(),
            "--rotate-interval",
            "1s",
            &format!("--json={}", json.display()),
        ],
    );
    let plain = format!("http://{SERVER_IP}:8080/api/users/3");
    let curl = |url: &str| {
        assert!(
            net.in_client(&["curl", "-sk", "-o", "/dev/null", url])
                .status()
                .unwrap()
                .success()
        )
    };
    curl(&plain);
    for _ in 0..3 {
        curl(&https);
    }
    curl(&plain);
    // A rotation after the TLS connections: the next file's metadata says it from its start.
    std::thread::sleep(Duration::from_millis(2300));
    assert_eq!(reel.metric("reel_record_tls_connections_total"), Some(3));
    let status = reel.stop(Signal::SIGTERM, Duration::from_secs(10)).unwrap();
    assert!(status.success(), "{}", reel.stderr());

    let totals: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(totals["tls_connections"], 3);
    assert_eq!(totals["requests"], 2);
    let files = {
        let mut f = files_ending(dir.path(), ".reel");
        f.sort_by_key(|p| match read_log(p).first() {
            Some(Record::Meta(m)) => m.start_ns,
            _ => 0,
        });
        f
    };
    assert!(files.len() >= 2, "{files:?}");
    let said = |r: &Record| matches!(r, Record::Meta(m) if m.notes.iter().any(|n| n.starts_with("TLS connections were seen")));
    // Said once where it was first seen (a later metadata record), and at the start of every file
    // opened after.
    let first_with_note = files
        .iter()
        .position(|f| read_log(f).iter().any(said))
        .unwrap();
    let records = read_log(&files[first_with_note]);
    assert_eq!(records.iter().filter(|r| said(r)).count(), 1);
    assert!(
        !said(&records[0]),
        "a file opened before the TLS connection"
    );
    for f in &files[first_with_note + 1..] {
        let records = read_log(f);
        assert!(said(&records[0]), "{}", f.display());
        assert_eq!(records.iter().filter(|r| said(r)).count(), 1);
    }
    // Never a message of port 8443; the plain requests are there.
    let all = read_logs(&files);
    for r in &all {
        let port = match r {
            Record::Request(m) => m.server.port(),
            Record::Response(x) | Record::Interim(x) | Record::Orphan(x) => x.message.server.port(),
            _ => continue,
        };
        assert_eq!(port, 8080, "{r:?}");
    }
    assert_eq!(exchanges(&all).len(), 2);
    match all.last() {
        Some(Record::Closing(c)) => assert_eq!(c.get("http.tls_conns"), Some(3)),
        other => panic!("{other:?}"),
    }
}
