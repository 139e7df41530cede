//! What reel writes on stderr, read by a pipe as CI and log shippers read it: no ANSI escape
//! bytes when stderr is not a terminal (even with `NO_COLOR` unset), and with `--log-format json`
//! every stderr line one JSON object — tracing's warnings, the error line, summaries and the human
//! text `--json` moves to stderr — while stdout stays what it was.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn reel(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reel"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

/// A log of the shipped sample, and a copy cut inside its first block (reading it warns).
fn logs(dir: &Path) -> (PathBuf, PathBuf) {
    let sample = common::repo().join("captures-sample/shop.pcap");
    let whole = dir.join("shop.reel");
    let out = reel(
        &[
            "record",
            "--read",
            sample.to_str().unwrap(),
            "-o",
            "shop.reel",
        ],
        dir,
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let bytes = std::fs::read(&whole).unwrap();
    let cut = dir.join("cut.reel");
    std::fs::write(&cut, &bytes[..bytes.len().min(30_000)]).unwrap();
    (whole, cut)
}

/// Every line of `stderr` as JSON, with the keys every log line has.
fn json_lines(stderr: &[u8]) -> Vec<Value> {
    let text = String::from_utf8(stderr.to_vec()).unwrap();
    assert!(
        !text.is_empty(),
        "nothing on stderr: the check would test nothing"
    );
    text.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}"));
            for key in ["ts", "level", "message"] {
                assert!(v.get(key).is_some(), "no {key} in {line}");
            }
            v
        })
        .collect()
}

#[test]
fn a_piped_stderr_gets_no_escape_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cut) = logs(dir.path());
    // A damaged log: reel warns (through tracing, which colours by default) whatever else it does.
    let out = reel(&["inspect", cut.to_str().unwrap()], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("corrupt block"), "{stderr}");
    assert!(
        !out.stderr.contains(&0x1b),
        "escape bytes on a pipe: {stderr:?}"
    );
    // An error line, and --verbose's causes: plain too.
    let out = reel(&["inspect", "--verbose", "missing.reel"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(!out.stderr.contains(&0x1b), "{stderr:?}");
}

#[test]
fn log_format_json_makes_every_stderr_line_an_object() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, cut) = logs(dir.path());

    // tracing's warning about the damaged block.
    let out = reel(
        &["inspect", cut.to_str().unwrap(), "--log-format", "json"],
        dir.path(),
    );
    let lines = json_lines(&out.stderr);
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "warn"
                && l["message"].as_str().unwrap().contains("corrupt block")),
        "{lines:?}"
    );
    // stdout keeps its human summary.
    assert!(String::from_utf8_lossy(&out.stdout).contains("requests"));

    // The error line.
    let out = reel(
        &["inspect", "missing.reel", "--log-format=json"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let lines = json_lines(&out.stderr);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["level"], "error");
    assert!(lines[0]["message"].as_str().unwrap().starts_with("error: "));

    // record's summary lines.
    let sample = common::repo().join("captures-sample/shop.pcap");
    let out = reel(
        &[
            "--log-format",
            "json",
            "record",
            "--read",
            sample.to_str().unwrap(),
            "-o",
            "again.reel",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    let lines = json_lines(&out.stderr);
    assert!(lines.len() >= 3, "{lines:?}");
    assert!(lines.iter().all(|l| l["level"] == "info"));

    // A replay against a closed port with --json: the JSON document alone on stdout, the human
    // summary moved to stderr as JSON lines (and whatever the run says about the closed port).
    let out = reel(
        &[
            "replay",
            whole.to_str().unwrap(),
            "--target",
            "http://127.0.0.1:1",
            "--rate",
            "max",
            "--limit",
            "20",
            "--json",
            "--log-format",
            "json",
        ],
        dir.path(),
    );
    let lines = json_lines(&out.stderr);
    assert!(
        lines
            .iter()
            .any(|l| l["message"].as_str().unwrap().contains("connect_refused")),
        "{lines:?}"
    );
    let stdout: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(stdout.get("sent").is_some(), "{stdout}");
}

#[test]
fn a_log_format_that_does_not_exist_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = reel(&["inspect", "x.reel", "--log-format", "xml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--log-format"));
}
