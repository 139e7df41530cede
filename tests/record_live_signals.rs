//! Stopping a live capture: SIGTERM under load drains, flushes and exits 0 with a complete file
//! that agrees with nginx's access log; a second signal exits at once; kill -9 leaves a readable
//! `.part` that lost nothing written more than a block age before.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::exchanges::{assert_matches_access_log, exchanges, read_log};
use common::{
    LiveReel, NetPair, Nginx, SERVER_IP, can_use_netns, full_speed_lock, read_access_log, repo,
    which,
};
use nix::sys::signal::Signal;
use reel::exchange::Record;

#[test]
fn sigterm_under_load_drains_and_flushes() {
    if !can_use_netns("sigterm_under_load_drains_and_flushes") {
        return;
    }
    if which("wrk").is_none() {
        assert!(std::env::var_os("CI").is_none(), "wrk is needed in CI");
        eprintln!("skipped: needs wrk");
        return;
    }
    let _lock = full_speed_lock();
    let net = NetPair::new();
    let nginx = Nginx::start(Some(&net.server), SERVER_IP, 8080);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("term.reel");
    let mut reel = LiveReel::start(
        &net.server,
        &[
            "-i",
            &net.server_if,
            "--port",
            "8080",
            "-o",
            log.to_str().unwrap(),
        ],
    );
    let script = repo().join("benches/scripts/api-mix.lua");
    let mut load = common::Guard::new(
        net.in_client(&[
            "wrk",
            "-t",
            "1",
            "-c",
            "8",
            "-d",
            "4s",
            "-s",
            script.to_str().unwrap(),
            &format!("http://{SERVER_IP}:8080"),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(1500));
    let status = reel
        .stop(Signal::SIGTERM, Duration::from_secs(10))
        .expect("reel did not exit within 10 s of SIGTERM under load");
    assert!(status.success(), "{status}: {}", reel.stderr());
    let _ = load.child.as_mut().unwrap().wait();
    assert!(!dir.path().join("term.reel.part").exists());
    let records = read_log(&log);
    assert!(matches!(records.last(), Some(Record::Closing(_))));

    // The capture stopped mid-load: per connection, what was written is the beginning of what
    // nginx logged, in order (the last request may be there without its response).
    let truth = read_access_log(&nginx.access_log());
    let mut want: BTreeMap<u16, Vec<(String, String, u16)>> = BTreeMap::new();
    for e in &truth {
        want.entry(e.port)
            .or_default()
            .push((e.method.clone(), e.target.clone(), e.status));
    }
    let mut got: BTreeMap<u16, Vec<(String, String, Option<u16>)>> = BTreeMap::new();
    for x in exchanges(&records) {
        got.entry(x.request.client.port())
            .or_default()
            .push((x.method(), x.target(), x.status()));
    }
    let mut written = 0;
    for (port, seen) in &got {
        let w = &want[port];
        assert!(seen.len() <= w.len(), "port {port}: more than nginx logged");
        for (i, (s, t)) in seen.iter().zip(w).enumerate() {
            assert_eq!((&s.0, &s.1), (&t.0, &t.1), "port {port} #{i}");
            match s.2 {
                Some(status) => assert_eq!(status, t.2, "port {port} #{i}"),
                None => assert_eq!(i + 1, seen.len(), "port {port}: unanswered #{i} not last"),
            }
        }
        written += seen.len();
    }
    assert!(written > 500, "only {written} requests written");
    assert!(
        written < truth.len(),
        "the load went on after the stop, yet everything was written"
    );
}

#[test]
fn a_second_signal_exits_at_once_leaving_a_readable_part() {
    if !can_use_netns("a_second_signal_exits_at_once_leaving_a_readable_part") {
        return;
    }
    let net = NetPair::new();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("twice.reel");
    let mut reel = LiveReel::start(
        &net.server,
        &["-i", &net.server_if, "-o", log.to_str().unwrap()],
    );
    let pid = nix::unistd::Pid::from_raw(reel.pid());
    // Both signals must arrive before the first one's drain can finish (with no traffic it takes
    // milliseconds): stop the process, queue SIGINT and SIGTERM, and let it go on.
    nix::sys::signal::kill(pid, Signal::SIGSTOP).unwrap();
    nix::sys::signal::kill(pid, Signal::SIGINT).unwrap();
    nix::sys::signal::kill(pid, Signal::SIGTERM).unwrap();
    let status = reel.stop(Signal::SIGCONT, Duration::from_secs(5)).unwrap();
    assert_eq!(status.code(), Some(3), "{}", reel.stderr());
    let part = dir.path().join("twice.reel.part");
    assert!(part.exists() && !log.exists());
    // Readable: a file header and whatever blocks were written.
    let reader = reel::log::open(&part).unwrap();
    assert!(reader.collect::<Result<Vec<_>, _>>().is_ok());
}

#[test]
fn kill_9_loses_at_most_the_open_block() {
    if !can_use_netns("kill_9_loses_at_most_the_open_block") {
        return;
    }
    let net = NetPair::new();
    let nginx = Nginx::start(Some(&net.server), SERVER_IP, 8080);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("crash.reel");
    let mut reel = LiveReel::start(
        &net.server,
        &[
            "-i",
            &net.server_if,
            "--port",
            "8080",
            "-o",
            log.to_str().unwrap(),
        ],
    );
    for i in 0..40 {
        let url = format!("http://{SERVER_IP}:8080/api/users/{i}");
        assert!(
            net.in_client(&["curl", "-s", "-o", "/dev/null", &url])
                .status()
                .unwrap()
                .success()
        );
    }
    // Longer than the block age (1 s) and the writer's timer: every block is on disk.
    std::thread::sleep(Duration::from_millis(2500));
    reel.stop(Signal::SIGKILL, Duration::from_secs(5)).unwrap();
    let part = dir.path().join("crash.reel.part");
    assert!(part.exists() && !log.exists());
    let records = read_log(&part);
    assert!(matches!(records.first(), Some(Record::Meta(_))));
    let truth = read_access_log(&nginx.access_log());
    assert_eq!(truth.len(), 40);
    assert_matches_access_log(&exchanges(&records), &truth);
    // The tools read it too.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_reel"))
        .args(["cat", "--format", "jsonl"])
        .arg(&part)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 40);
}

/// A signal is a daemon's normal stop (exit 0), but not before a `--duration` or `--limit` the
/// user asked for: then the run says it was cut short and exits 128 + the signal, with a valid log.
#[test]
fn a_signal_before_the_asked_duration_or_limit_is_an_interruption() {
    if !can_use_netns("a_signal_before_the_asked_duration_or_limit_is_an_interruption") {
        return;
    }
    let net = NetPair::new();
    let dir = tempfile::tempdir().unwrap();
    for (bound, signal, code) in [
        (["--duration", "10m"], Signal::SIGINT, 130),
        (["--limit", "1000000"], Signal::SIGTERM, 143),
    ] {
        let log = dir.path().join(format!("cut-{code}.reel"));
        let mut args = vec![
            "-i",
            &net.server_if,
            "--port",
            "8080",
            "-o",
            log.to_str().unwrap(),
        ];
        args.extend_from_slice(&bound);
        let mut reel = LiveReel::start(&net.server, &args);
        std::thread::sleep(Duration::from_millis(500));
        let status = reel
            .stop(signal, Duration::from_secs(10))
            .expect("reel did not exit within 10 s of the signal");
        let stderr = reel.stderr();
        assert_eq!(status.code(), Some(code), "{bound:?}: {stderr}");
        assert!(
            stderr.contains(&format!("before {} was reached", bound[0])),
            "{stderr}"
        );
        assert!(matches!(read_log(&log).last(), Some(Record::Closing(_))));
    }
    // Without a bound the same signal is the normal stop.
    let log = dir.path().join("daemon.reel");
    let mut reel = LiveReel::start(
        &net.server,
        &[
            "-i",
            &net.server_if,
            "--port",
            "8080",
            "-o",
            log.to_str().unwrap(),
        ],
    );
    std::thread::sleep(Duration::from_millis(500));
    let status = reel.stop(Signal::SIGINT, Duration::from_secs(10)).unwrap();
    assert_eq!(status.code(), Some(0), "{}", reel.stderr());
}
