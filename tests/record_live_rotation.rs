//! Rotation and retention of a live capture, with nginx and wrk: files are split by size and by
//! time, none of the access log's requests is lost across a split (a response written to the file
//! after its request's still joins it), names never collide across restarts, and retention deletes
//! the oldest finished files only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::exchanges::{assert_matches_access_log, exchanges, read_log};
use common::{
    LiveReel, NetPair, Nginx, SERVER_IP, answered, can_use_netns, files_ending, full_speed_lock,
    read_access_log, read_logs, which, wrk_api_mix,
};
use nix::sys::signal::Signal;
use reel::exchange::Record;

/// The `file.number` of a finished file's closing record.
fn file_number(path: &std::path::Path) -> u64 {
    match read_log(path).last() {
        Some(Record::Closing(c)) => c.get("file.number").unwrap(),
        other => panic!(
            "{}: no closing record at the end: {other:?}",
            path.display()
        ),
    }
}

#[test]
fn rotated_files_split_by_size_and_time_lose_nothing() {
    if !can_use_netns("rotated_files_split_by_size_and_time_lose_nothing") {
        return;
    }
    let _lock = full_speed_lock();
    let net = NetPair::new();
    let nginx = Nginx::start(Some(&net.server), SERVER_IP, 8080);
    let dir = tempfile::tempdir().unwrap();
    let pattern = dir.path().join("cap-%Y%m%d-%H%M%S.reel");
    let json = dir.path().join("totals.json");
    let mut reel = LiveReel::start(
        &net.server,
        &[
            "-i",
            "any",
            "--port",
            "8080",
            "-o",
            pattern.to_str().unwrap(),
            "--rotate-size",
            "64k",
            "--rotate-interval",
            "1s",
            &format!("--json={}", json.display()),
        ],
    );
    let base = format!("http://{SERVER_IP}:8080");
    if which("wrk").is_some() {
        wrk_api_mix(&net, &base, 4, 3);
    } else {
        for i in 0..300 {
            let url = format!("{base}/api/users/{i}");
            assert!(
                net.in_client(&["curl", "-s", "-o", "/dev/null", &url])
                    .status()
                    .unwrap()
                    .success()
            );
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let status = reel.stop(Signal::SIGTERM, Duration::from_secs(15)).unwrap();
    assert!(status.success(), "{status}: {}", reel.stderr());

    assert!(files_ending(dir.path(), ".part").is_empty());
    let mut files = files_ending(dir.path(), ".reel");
    assert!(files.len() >= 3, "only {} files: {files:?}", files.len());
    let names = regex::Regex::new(r"^cap-\d{8}-\d{6}(\.\d+)?\.reel$").unwrap();
    for f in &files {
        let name = f.file_name().unwrap().to_str().unwrap();
        assert!(names.is_match(name), "{name}");
    }
    // In the order they were written, numbered 1, 2, … with no hole.
    files.sort_by_key(|f| file_number(f));
    let numbers: Vec<u64> = files.iter().map(|f| file_number(f)).collect();
    assert_eq!(numbers, (1..=files.len() as u64).collect::<Vec<_>>());
    let totals: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(totals["files"].as_array().unwrap().len(), files.len());
    assert_eq!(totals["queue_drops"], 0);
    assert_eq!(totals["kernel_drops"], 0);

    let mut split = 0;
    let mut request_file = std::collections::HashMap::new();
    for (i, f) in files.iter().enumerate() {
        let records = read_log(f);
        match records.first() {
            Some(Record::Meta(m)) => assert!(
                m.notes
                    .iter()
                    .any(|n| n.starts_with(&format!("file {} of a run", i + 1))),
                "{:?}",
                m.notes
            ),
            other => panic!("{}: first record {other:?}", f.display()),
        }
        for r in &records {
            match r {
                Record::Request(m) => {
                    request_file.insert((m.conn, m.index), i);
                }
                Record::Response(x)
                    if request_file.get(&(x.message.conn, x.message.index)) != Some(&i) =>
                {
                    split += 1;
                }
                _ => {}
            }
        }
    }
    eprintln!(
        "{} files, {split} exchanges split across files",
        files.len()
    );
    // Read in order, the files join into the exchanges of the access log, none lost or doubled.
    let truth = read_access_log(&nginx.access_log());
    let (truth, xs) = answered(&truth, exchanges(&read_logs(&files)));
    let n = assert_matches_access_log(&xs, &truth);
    assert!(n >= 300, "only {n} requests");
}

#[test]
fn restarts_never_collide_and_retention_keeps_the_newest() {
    if !can_use_netns("restarts_never_collide_and_retention_keeps_the_newest") {
        return;
    }
    let net = NetPair::new();
    let _nginx = Nginx::start(Some(&net.server), SERVER_IP, 8080);
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("ret.reel");
    // Not a log, named like one: never deleted, never overwritten.
    let stranger = dir.path().join("ret.7.reel");
    std::fs::write(&stranger, "notes, not a log\n").unwrap();
    let url = format!("http://{SERVER_IP}:8080/api/users/1");
    let run = |requests: usize, args: &[&str]| {
        let mut full = vec![
            "-i",
            net.server_if.as_str(),
            "--port",
            "8080",
            "-o",
            output.to_str().unwrap(),
            "--rotate-interval",
            "1s",
        ];
        full.extend_from_slice(args);
        let reel = LiveReel::start(&net.server, &full);
        for _ in 0..requests {
            assert!(
                net.in_client(&["curl", "-s", "-o", "/dev/null", &url])
                    .status()
                    .unwrap()
                    .success()
            );
            std::thread::sleep(Duration::from_millis(400));
        }
        reel
    };
    // A first run that ends on its own (--duration), then a restart on the same names.
    let mut first = run(5, &["--duration", "3s"]);
    let status = first
        .stop(Signal::SIGCONT, Duration::from_secs(15))
        .unwrap();
    assert!(status.success(), "{}", first.stderr());
    let before = files_ending(dir.path(), ".reel");
    assert!(before.len() >= 3, "{before:?}");
    let json = dir.path().join("second.json");
    let mut second = run(
        9,
        &["--retain-files", "3", &format!("--json={}", json.display())],
    );
    let status = second
        .stop(Signal::SIGTERM, Duration::from_secs(15))
        .unwrap();
    assert!(status.success(), "{}", second.stderr());

    let after = files_ending(dir.path(), ".reel");
    assert!(after.contains(&stranger), "{after:?}");
    let logs: Vec<PathBuf> = after.into_iter().filter(|p| *p != stranger).collect();
    assert_eq!(logs.len(), 3, "{logs:?}");
    // The kept ones are the second run's newest; the first run's are gone.
    for f in &before {
        assert!(!logs.contains(f), "{} was kept", f.display());
    }
    let totals: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let written: Vec<PathBuf> = totals["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| PathBuf::from(v.as_str().unwrap()))
        .collect();
    assert!(written.len() >= 3);
    assert_eq!(logs, {
        let mut newest = written[written.len() - 3..].to_vec();
        newest.sort();
        newest
    });
    // No name was used twice: the second run's names are all new.
    for f in &written {
        assert!(!before.contains(f), "{} reused", f.display());
    }
    assert!(!totals["deleted_files"].as_array().unwrap().is_empty());
}
