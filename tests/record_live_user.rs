//! `--user`: once the capture handle is open (`/ready`), the recorder runs as that user and its
//! group only, and still captures; its files belong to that user.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Duration;

use common::exchanges::{assert_matches_access_log, exchanges, read_log};
use common::{LiveReel, NetPair, Nginx, SERVER_IP, can_use_netns, read_access_log};
use nix::sys::signal::Signal;

/// The four ids of a `Uid:` or `Gid:` line of /proc/PID/status, and the `Groups:` line.
fn ids(pid: i32, field: &str) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect()
}

#[test]
fn user_drop_after_the_handle_is_open() {
    if !can_use_netns("user_drop_after_the_handle_is_open") {
        return;
    }
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let net = NetPair::new();
    let nginx = Nginx::start(Some(&net.server), SERVER_IP, 8080);
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let log = dir.path().join("nobody.reel");
    let mut reel = LiveReel::start(
        &net.server,
        &[
            "-i",
            &net.server_if,
            "--port",
            "8080",
            "-o",
            log.to_str().unwrap(),
            "--user",
            "nobody",
        ],
    );
    let pid = reel.pid();
    let uid = nobody.uid.as_raw();
    let gid = nobody.gid.as_raw();
    assert_eq!(ids(pid, "Uid"), [uid; 4], "real, effective, saved, fs uid");
    assert_eq!(ids(pid, "Gid"), [gid; 4], "real, effective, saved, fs gid");
    assert_eq!(ids(pid, "Groups"), [gid]);
    // No capability left.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    for cap in ["CapPrm", "CapEff"] {
        let line = status.lines().find(|l| l.starts_with(cap)).unwrap();
        assert!(line.ends_with("0000000000000000"), "{line}");
    }
    for i in 0..10 {
        let url = format!("http://{SERVER_IP}:8080/api/users/{i}");
        assert!(
            net.in_client(&["curl", "-s", "-o", "/dev/null", &url])
                .status()
                .unwrap()
                .success()
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    let exit = reel.stop(Signal::SIGTERM, Duration::from_secs(10)).unwrap();
    assert!(exit.success(), "{exit}: {}", reel.stderr());
    let meta = std::fs::metadata(&log).unwrap();
    assert_eq!(meta.uid(), uid);
    assert_eq!(meta.mode() & 0o777, 0o600);
    let truth = read_access_log(&nginx.access_log());
    assert_eq!(
        assert_matches_access_log(&exchanges(&read_log(&log)), &truth),
        10
    );
}

#[test]
fn an_unknown_user_is_a_usage_error() {
    if !can_use_netns("an_unknown_user_is_a_usage_error") {
        return;
    }
    let net = NetPair::new();
    let dir = tempfile::tempdir().unwrap();
    let out = common::netns_command(
        &net.server,
        &[
            env!("CARGO_BIN_EXE_reel"),
            "record",
            "-i",
            &net.server_if,
            "-o",
            dir.path().join("x.reel").to_str().unwrap(),
            "--user",
            "no-such-user-reel",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--user: no such user: no-such-user-reel"),
        "{err}"
    );
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}
