//! A run that read less than its input held never looks whole: every command that reads logs
//! (`inspect`, `cat`, `merge`, `replay`, `compare`) exits 3 on a log cut at any byte (inside a
//! block, right at a block boundary, inside the file header's successor), says where and how
//! much was lost, and with `--allow-damaged` goes on with a warning and `damaged` in its JSON. The
//! logs are real: the shipped sample recorded by the binary, results of a real replay against a
//! hyper server of this test's own. Blocks close every second of capture time, offline too, so a
//! cut loses at most the block it falls in.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod replay_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use reel::log::format::{BLOCK_HEADER_LEN, FILE_HEADER_LEN, SYNC_MARKER};
use replay_support::{TestServer, tempdir};
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn reel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reel"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Records the shipped sample (8.5 s of traffic) into `dir/NAME` with the extra flags.
fn record_shop(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let pcap = repo().join("captures-sample/shop.pcap");
    let mut args = vec!["record", "--read", s(&pcap), "-o", s(&out)];
    args.extend_from_slice(extra);
    let run = reel(&args);
    assert_eq!(code(&run), 0, "{}", stderr(&run));
    out
}

/// The byte offsets where the file's blocks start, walked by their headers; the file's length last.
fn block_starts(bytes: &[u8]) -> Vec<usize> {
    let mut at = FILE_HEADER_LEN;
    let mut starts = Vec::new();
    while at + BLOCK_HEADER_LEN <= bytes.len() {
        assert_eq!(bytes[at..at + 8], SYNC_MARKER, "a block starts at {at}");
        starts.push(at);
        let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        at += BLOCK_HEADER_LEN + len;
    }
    assert_eq!(at, bytes.len(), "the blocks end where the file ends");
    starts.push(at);
    starts
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// Cut offsets: every block boundary, a few bytes either side of it, and seeded random ones.
fn cuts(starts: &[usize]) -> Vec<usize> {
    let len = *starts.last().unwrap();
    let mut cuts = Vec::new();
    for &b in starts {
        for d in [-5i64, -1, 0, 1, 3, 9] {
            let at = b as i64 + d;
            if at >= FILE_HEADER_LEN as i64 && at < len as i64 {
                cuts.push(at as usize);
            }
        }
    }
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..12 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        cuts.push(FILE_HEADER_LEN + (x % (len - FILE_HEADER_LEN) as u64) as usize);
    }
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

#[test]
fn an_offline_recording_closes_a_block_per_second_of_capture_time() {
    let dir = tempdir();
    let log = record_shop(dir.path(), "shop.reel", &[]);
    let bytes = std::fs::read(&log).unwrap();
    let blocks = block_starts(&bytes).len() - 1;
    // 8.5 s of traffic: at least one block per second (plus the closing record's).
    assert!(blocks >= 8, "{blocks} blocks");
    // The flag is wired: 10 s blocks make one block of the traffic (and the closing one).
    let long = record_shop(dir.path(), "long.reel", &["--flush-interval", "10s"]);
    let long_blocks = block_starts(&std::fs::read(&long).unwrap()).len() - 1;
    assert!(
        long_blocks <= 2,
        "{long_blocks} blocks with --flush-interval 10s"
    );
    let zero = reel(&[
        "record",
        "--read",
        "x.pcap",
        "-o",
        "y.reel",
        "--flush-interval",
        "0",
    ]);
    assert_eq!(code(&zero), 2, "{}", stderr(&zero));
    assert!(
        stderr(&zero).contains("--flush-interval"),
        "{}",
        stderr(&zero)
    );
}

#[test]
fn a_cut_log_loses_at_most_the_block_the_cut_falls_in() {
    let dir = tempdir();
    let log = record_shop(dir.path(), "shop.reel", &[]);
    let bytes = std::fs::read(&log).unwrap();
    let starts = block_starts(&bytes);
    for at in cuts(&starts) {
        let cut = dir.path().join(format!("cut-{at}.reel"));
        std::fs::write(&cut, &bytes[..at]).unwrap();
        let out = reel(&["inspect", s(&cut), "--allow-damaged", "--json"]);
        assert_eq!(code(&out), 0, "cut at {at}: {}", stderr(&out));
        let j = json_of(&out);
        let whole = starts.iter().skip(1).filter(|&&end| end <= at).count() as u64;
        assert_eq!(j["files"][0]["blocks"], whole, "cut at {at}");
        let partial = !starts.contains(&at);
        assert_eq!(j["skipped_blocks"], u64::from(partial), "cut at {at}");
        assert!(!j["damaged"].is_null(), "cut at {at}: {j}");
    }
}

/// Runs `args` on the cut log, expecting exit 3 with a line naming it, the loss and the offset.
fn refused(args: &[&str], cut: &Path, at: usize) -> String {
    let out = reel(args);
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "{args:?} on a cut at {at}: {err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("{args:?}: no error line: {err}"));
    assert!(line.contains(s(cut)), "{line}");
    assert!(line.contains("damaged"), "{line}");
    assert!(line.contains("--allow-damaged"), "{line}");
    line.to_owned()
}

#[test]
fn every_command_refuses_a_log_cut_anywhere_unless_allowed() {
    let dir = tempdir();
    let server = TestServer::start();
    let url = server.url();
    let log = record_shop(dir.path(), "shop.reel", &[]);
    let bytes = std::fs::read(&log).unwrap();
    let starts = block_starts(&bytes);

    // The intact log passes every command.
    let merged = dir.path().join("merged.reel");
    for args in [
        vec!["inspect", s(&log)],
        vec!["cat", s(&log)],
        vec!["merge", s(&log), "-o", s(&merged)],
        vec![
            "replay",
            s(&log),
            "--target",
            &url,
            "--rate",
            "max",
            "--limit",
            "20",
        ],
    ] {
        let out = reel(&args);
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("damaged"),
            "{args:?}: {}",
            stderr(&out)
        );
    }

    for at in cuts(&starts) {
        let cut = dir.path().join(format!("cut-{at}.reel"));
        std::fs::write(&cut, &bytes[..at]).unwrap();
        let out_log = dir.path().join(format!("merged-{at}.reel"));
        let line = refused(&["inspect", s(&cut)], &cut, at);
        if !starts.contains(&at) {
            // Inside a block: the offset of the block the cut fell in is named.
            let block = starts.iter().rev().find(|&&b| b <= at).unwrap();
            assert!(line.contains(&format!("at byte {block}")), "{line}");
        } else {
            assert!(line.contains("without its closing record"), "{line}");
        }
        refused(&["cat", s(&cut)], &cut, at);
        refused(&["merge", s(&cut), "-o", s(&out_log)], &cut, at);
        assert!(!out_log.exists(), "merge left {} behind", out_log.display());
        let part = PathBuf::from(format!("{}.part", out_log.display()));
        assert!(!part.exists(), "merge left {} behind", part.display());
        refused(
            &["replay", s(&cut), "--target", &url, "--rate", "max"],
            &cut,
            at,
        );
    }

    // Allowed: exit 0, a warning line, `damaged` in the JSON.
    let at = (starts[starts.len() / 2] + starts[starts.len() / 2 + 1]) / 2;
    let cut = dir.path().join("allowed.reel");
    std::fs::write(&cut, &bytes[..at]).unwrap();
    let allowed_out = dir.path().join("allowed-merged.reel");
    let json = dir.path().join("replay.json");
    let json_arg = format!("--json={}", s(&json));
    for args in [
        vec!["inspect", s(&cut), "--allow-damaged"],
        vec!["cat", s(&cut), "--allow-damaged"],
        vec!["merge", s(&cut), "-o", s(&allowed_out), "--allow-damaged"],
        vec![
            "replay",
            s(&cut),
            "--target",
            &url,
            "--rate",
            "max",
            "--allow-damaged",
            &json_arg,
        ],
    ] {
        let out = reel(&args);
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out)
                .lines()
                .any(|l| l.starts_with("warning: ") && l.contains("damaged")),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let j: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(j["damaged"]["blocks"], 1, "{j}");
    assert!(j["damaged"]["bytes"].as_u64().unwrap() > 0, "{j}");
    assert!(j["sent"].as_u64().unwrap() > 0, "{j}");
}

#[test]
fn compare_refuses_a_cut_results_log_and_a_part_file_says_so() {
    let dir = tempdir();
    let server = TestServer::start();
    let log = record_shop(dir.path(), "shop.reel", &[]);
    let results = dir.path().join("results.reel");
    let run = reel(&[
        "replay",
        s(&log),
        "--target",
        &server.url(),
        "--results",
        s(&results),
    ]);
    assert_eq!(code(&run), 0, "{}", stderr(&run));
    let intact = reel(&["compare", s(&results)]);
    assert_eq!(code(&intact), 0, "{}", stderr(&intact));

    let bytes = std::fs::read(&results).unwrap();
    let starts = block_starts(&bytes);
    assert!(
        starts.len() >= 3,
        "a results log of 8.5 s has several blocks"
    );
    for at in [starts[1], starts[1] + 7, *starts.last().unwrap() - 1] {
        let cut = dir.path().join(format!("results-{at}.reel"));
        std::fs::write(&cut, &bytes[..at]).unwrap();
        refused(&["compare", s(&cut)], &cut, at);
        let out = reel(&["compare", s(&cut), "--allow-damaged", "--json"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert!(!json_of(&out)["damaged"].is_null());
    }

    // A `.part` left by a run that did not finish (no closing record): read as it is, with a
    // line saying what it is.
    let part = dir.path().join("left.reel.part");
    std::fs::write(&part, &bytes[..starts[2]]).unwrap();
    let out = reel(&["inspect", s(&part)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains(".part file"), "{}", stderr(&out));
    // Cut inside a block, a `.part` is damaged like any other log.
    std::fs::write(&part, &bytes[..starts[2] + 5]).unwrap();
    refused(&["inspect", s(&part)], &part, starts[2] + 5);
}

/// A log of `n` requests to `/slow/MS`, one every 50 ms, each on its own connection, answered
/// 200 in production after 5 ms.
fn slow_log(dir: &Path, n: u64, ms: u64) -> PathBuf {
    let t0 = 1_700_000_000_000_000_000u64;
    let mut records = Vec::new();
    for i in 0..n {
        let ts = t0 + i * 50_000_000;
        let req = format!("GET /slow/{ms} HTTP/1.1\r\nHost: shop.test\r\n\r\n");
        records.push(replay_support::request(i + 1, 0, ts, req.as_bytes()));
        records.push(replay_support::response(
            i + 1,
            0,
            ts + 5_000_000,
            200,
            5_000_000,
        ));
    }
    let path = dir.join("slow.reel");
    replay_support::write_log(&path, records);
    path
}

/// Starts `reel ARGS` with piped output; returns the child.
fn spawn(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_reel"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for the child at most `within`, killing it (and failing) after.
fn wait_bounded(mut child: std::process::Child, within: std::time::Duration) -> Output {
    let deadline = std::time::Instant::now() + within;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("did not exit within {within:?}: {}", stderr(&out));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn interrupted_replay(signal: nix::sys::signal::Signal, expect: i32) {
    let dir = tempdir();
    let server = TestServer::start();
    let log = slow_log(dir.path(), 200, 300);
    let results = dir.path().join("results.reel");
    let json = dir.path().join("summary.json");
    let json_arg = format!("--json={}", s(&json));
    let child = spawn(&[
        "replay",
        s(&log),
        "--target",
        &server.url(),
        "--results",
        s(&results),
        "--fail-if",
        "p99 > 1000x",
        &json_arg,
    ]);
    // Mid-run: the log spans 10 s at its recorded pace, each answer takes 300 ms.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, signal).unwrap();
    let out = wait_bounded(child, std::time::Duration::from_secs(20));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(code(&out), expect, "{text}\n{}", stderr(&out));
    let name = format!("{signal:?}");
    let head = text.lines().next().unwrap_or_default();
    assert!(
        head.starts_with(&format!("INTERRUPTED by {name} after "))
            && head.contains(" of 200 requests ("),
        "{text}"
    );
    // The gates are still printed, and nothing reads as a pass.
    assert!(text.contains("gates:"), "{text}");
    assert!(!text.contains("PASSED"), "{text}");
    let j: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(j["interrupted"], true, "{j}");
    assert_eq!(j["signal"], name.as_str(), "{j}");
    assert_eq!(j["passed"], false, "{j}");
    let sent = j["sent"].as_u64().unwrap();
    assert!(sent > 5 && sent < 200, "sent {sent}");
    // The results log is closed valid: finished (no .part), nothing damaged, every result in it.
    let inspect = reel(&["inspect", s(&results), "--json"]);
    assert_eq!(code(&inspect), 0, "{}", stderr(&inspect));
    let ij = json_of(&inspect);
    assert_eq!(ij["files"][0]["complete"], true, "{ij}");
    assert_eq!(ij["results"], j["sent"], "{ij}");
}

#[test]
fn sigint_during_a_replay_prints_the_summary_and_gates_and_exits_130() {
    interrupted_replay(nix::sys::signal::Signal::SIGINT, 130);
}

#[test]
fn sigterm_during_a_replay_prints_the_summary_and_gates_and_exits_143() {
    interrupted_replay(nix::sys::signal::Signal::SIGTERM, 143);
}

#[test]
fn a_second_signal_ends_a_replay_at_once() {
    let dir = tempdir();
    let server = TestServer::start();
    // Each answer takes 20 s: the first signal's wait for them would be long.
    let log = slow_log(dir.path(), 50, 20_000);
    let child = spawn(&["replay", s(&log), "--target", &server.url()]);
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = wait_bounded(child, std::time::Duration::from_secs(5));
    assert_eq!(code(&out), 143, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("second signal (SIGTERM): exiting now"),
        "{}",
        stderr(&out)
    );
}

/// Runs `args`, expecting exit 2 with an error line that names `flag` (and no clap `-- -5` tip).
fn refused_flag(args: &[&str], flag: &str) {
    let out = reel(args);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{args:?}: {err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_default();
    assert!(line.contains(flag), "{args:?}: {err}");
    assert!(
        !err.contains("-- -"),
        "{args:?}: clap's tip instead of a message: {err}"
    );
}

#[test]
fn arguments_that_cannot_mean_what_was_meant_are_refused_before_anything_is_sent() {
    let dir = tempdir();
    let server = TestServer::start();
    let url = server.url();
    let log = record_shop(dir.path(), "shop.reel", &[]);
    let missing = dir.path().join("no-such-dir");
    let in_missing = |name: &str| s(&missing.join(name)).to_owned();
    let results = in_missing("r.reel");
    let report = in_missing("r.html");
    let json = format!("--json={}", in_missing("r.json"));
    let a_dir = s(dir.path()).to_owned();
    for (extra, flag) in [
        (vec!["--start-at", "2020-01-01T00:00:00Z"], "--start-at"),
        (vec!["--limit", "0"], "--limit"),
        (vec!["--limit", "-5"], "--limit"),
        (vec!["--duration", "0s"], "--duration"),
        (vec!["--concurrency", "-1"], "--concurrency"),
        (vec!["--results", &results], "--results"),
        (vec!["--results", &a_dir], "--results"),
        (vec!["--report", &report], "--report"),
        (vec![&json], "--json"),
    ] {
        let mut args = vec!["replay", s(&log), "--target", &url];
        args.extend(extra);
        refused_flag(&args, flag);
    }
    assert!(
        server.connections().is_empty(),
        "a refused run sent nothing"
    );

    let pcap = repo().join("captures-sample/shop.pcap");
    let out = dir.path().join("x.reel");
    refused_flag(
        &["record", "-o", s(&out)],
        "--read or --interface is required",
    );
    refused_flag(
        &["record", "--read", s(&pcap), "-o", s(&out), "--limit", "-3"],
        "--limit",
    );
    refused_flag(
        &[
            "record",
            "--read",
            s(&pcap),
            "-o",
            s(&out),
            "--duration",
            "0",
        ],
        "--duration",
    );
    refused_flag(
        &["record", "--read", s(&pcap), "-o", s(&out), &json],
        "--json",
    );
    refused_flag(&["compare", s(&log), "--report", &report], "--report");
    refused_flag(&["inspect", s(&log), &json], "--json");
    assert!(!out.exists());

    // A file that is not GoReplay's is refused, and no log is left claiming to be its import.
    let not_gor = dir.path().join("notes.gor");
    std::fs::write(&not_gor, "these are my notes\nnothing to see\n").unwrap();
    let imported = dir.path().join("imported.reel");
    let run = reel(&["import", s(&not_gor), "-o", s(&imported)]);
    assert_eq!(code(&run), 2, "{}", stderr(&run));
    assert!(
        stderr(&run).contains("not a GoReplay file"),
        "{}",
        stderr(&run)
    );
    assert!(!imported.exists() && !dir.path().join("imported.reel.part").exists());
}

#[test]
fn a_pool_opens_connections_as_requests_come() {
    let dir = tempdir();
    let server = TestServer::start();
    let log = record_shop(dir.path(), "shop.reel", &[]);
    let json = dir.path().join("r.json");
    let json_arg = format!("--json={}", s(&json));
    let run = reel(&[
        "replay",
        s(&log),
        "--target",
        &server.url(),
        "--rate",
        "max",
        "--limit",
        "2",
        &json_arg,
    ]);
    assert_eq!(code(&run), 0, "{}", stderr(&run));
    let j: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(j["sent"], 2, "{j}");
    let opened = server.connections().len();
    assert!(
        (1..=2).contains(&opened),
        "2 requests opened {opened} connections (--concurrency 32)"
    );
    assert!(j["connections"].as_u64().unwrap() <= 2, "{j}");
}

#[test]
fn the_production_guard_knows_loopback_and_localhost_are_one_host() {
    let dir = tempdir();
    let server = TestServer::start();
    let port = server.addr.port();
    // A log recorded on this host's loopback, at the server's own port.
    let mut records = Vec::new();
    for i in 0..3u64 {
        let ts = 1_700_000_000_000_000_000 + i * 1_000_000;
        let mut req =
            replay_support::request(i + 1, 0, ts, b"GET / HTTP/1.1\r\nHost: shop.test\r\n\r\n");
        if let reel::exchange::Record::Request(m) = &mut req {
            m.server = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        }
        records.push(req);
    }
    let log = dir.path().join("loopback.reel");
    replay_support::write_log(&log, records);
    for target in [
        format!("http://127.0.0.1:{port}"),
        format!("http://[::1]:{port}"),
        format!("http://localhost:{port}"),
    ] {
        let run = reel(&["replay", s(&log), "--target", &target]);
        assert_eq!(code(&run), 2, "{target}: {}", stderr(&run));
        assert!(
            stderr(&run).contains("production server"),
            "{target}: {}",
            stderr(&run)
        );
    }
    assert!(server.connections().is_empty());
    let run = reel(&[
        "replay",
        s(&log),
        "--target",
        &server.url(),
        "--allow-production-target",
    ]);
    assert_eq!(code(&run), 0, "{}", stderr(&run));
}
