//! The output group (`-o`, `--append`, `--force`) is one set of flags with one meaning for
//! `record`, `import` and `merge`: the real binary on real files, each rule seen to hold and
//! seen to fail where it should.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::repo;

fn reel(args: &[&str]) -> Output {
    Command::new(assert_cmd::cargo::cargo_bin("reel"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> Output {
    let out = reel(args);
    assert!(
        out.status.success(),
        "reel {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `requests` as `inspect --json` counts them.
fn requests(log: &Path) -> u64 {
    let out = ok(&["inspect", log.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["requests"].as_u64().unwrap()
}

fn refused(args: &[&str], flag: &str) {
    let out = reel(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "reel {args:?}: {err}");
    assert!(
        err.contains(flag),
        "reel {args:?} should name {flag}: {err}"
    );
}

#[test]
fn import_and_merge_append_to_a_log_and_refuse_to_overwrite_it() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = repo().join("captures-sample/shop.pcap");
    let a = dir.path().join("a.reel");
    ok(&[
        "record",
        "--read",
        pcap.to_str().unwrap(),
        "-o",
        a.to_str().unwrap(),
    ]);
    let one = requests(&a);
    assert!(one > 0);
    let gor = dir.path().join("a.gor");
    std::fs::write(
        &gor,
        ok(&["cat", "--format", "gor", a.to_str().unwrap()]).stdout,
    )
    .unwrap();

    // import: a second run onto the same name is refused, appended with --append.
    let imported = dir.path().join("imported.reel");
    let (g, i) = (gor.to_str().unwrap(), imported.to_str().unwrap());
    ok(&["import", g, "-o", i]);
    assert_eq!(requests(&imported), one);
    let again = reel(&["import", g, "-o", i]);
    assert_eq!(again.status.code(), Some(2), "an existing log is kept");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(requests(&imported), one, "the refused run left it alone");
    ok(&["import", g, "-o", i, "--append"]);
    assert_eq!(requests(&imported), 2 * one);
    ok(&["import", g, "-o", i, "--force"]);
    assert_eq!(requests(&imported), one);

    // merge: the same rules.
    let merged = dir.path().join("merged.reel");
    let (a, m) = (a.to_str().unwrap(), merged.to_str().unwrap());
    ok(&["merge", a, "-o", m]);
    assert_eq!(requests(&merged), one);
    ok(&["merge", a, "-o", m, "--append"]);
    assert_eq!(requests(&merged), 2 * one);
    ok(&["merge", a, "-o", m, "--force"]);
    assert_eq!(requests(&merged), one);
}

#[test]
fn file_flags_with_stdout_are_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = repo().join("captures-sample/shop.pcap");
    let pcap = pcap.to_str().unwrap();
    let a = dir.path().join("a.reel");
    ok(&["record", "--read", pcap, "-o", a.to_str().unwrap()]);
    let a = a.to_str().unwrap();
    refused(&["merge", a, "-o", "-", "--force"], "--force");
    refused(&["merge", a, "-o", "-", "--append"], "--append");
    refused(&["import", "x.gor", "-o", "-", "--force"], "--force");
    refused(
        &["record", "--read", pcap, "-o", "-", "--append"],
        "--append",
    );
    refused(
        &["record", "--read", pcap, "-o", "-", "--rotate-size", "1M"],
        "--rotate-size",
    );
    refused(&["merge", a, "-o", "-", "--json"], "--json");
    refused(&["import", "x.gor", "-o", "-", "--json"], "--json");
    refused(&["record", "--read", pcap, "-o", "-", "--json"], "--json");
}
