//! `-` for stdin and stdout, end to end through real pipes between two `reel` processes: what
//! comes through a pipe is what a file gives, streamed (a pipe cannot seek).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::repo;

fn reel() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("reel"))
}

/// Runs `reel` with `args` and returns its stdout; fails the test unless it exits 0.
fn output(args: &[&str]) -> Vec<u8> {
    let out = reel().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "reel {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `reel FIRST | reel SECOND`, a real pipe between them; both must exit 0. Returns the second's
/// stdout and both stderrs.
fn pipe(first: &[&str], second: &[&str]) -> (Vec<u8>, String, String) {
    let mut a = reel()
        .args(first)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let b = reel()
        .args(second)
        .stdin(Stdio::from(a.stdout.take().unwrap()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let b = b.wait_with_output().unwrap();
    let a = a.wait_with_output().unwrap();
    let (ea, eb) = (
        String::from_utf8_lossy(&a.stderr).into_owned(),
        String::from_utf8_lossy(&b.stderr).into_owned(),
    );
    assert!(a.status.success(), "reel {first:?}: {ea}");
    assert!(b.status.success(), "reel {second:?}: {eb}");
    (b.stdout, ea, eb)
}

fn record(pcap: &str, out: &Path) -> PathBuf {
    let pcap = repo().join(pcap);
    output(&[
        "record",
        "--read",
        pcap.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    out.to_path_buf()
}

#[test]
fn merge_to_stdout_piped_into_cat_and_inspect_gives_what_the_file_gives() {
    let dir = tempfile::tempdir().unwrap();
    let a = record("captures-sample/shop.pcap", &dir.path().join("a.reel"));
    let b = record("tests/data/pipelined.pcap", &dir.path().join("b.reel"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let file = dir.path().join("all.reel");
    let file = file.to_str().unwrap();
    output(&["merge", a, b, "-o", file]);

    let expected = output(&["cat", file]);
    assert!(expected.len() > 1000, "the log has exchanges");
    let (piped, merge_err, _) = pipe(&["merge", a, b, "-o", "-"], &["cat", "-"]);
    assert_eq!(piped, expected);
    assert!(
        merge_err.contains("merged 2 logs into stdout"),
        "{merge_err}"
    );

    let expected = output(&["cat", "--format", "http", file]);
    let (piped, _, _) = pipe(
        &["merge", a, b, "-o", "-"],
        &["cat", "--format", "http", "-"],
    );
    assert_eq!(piped, expected);

    let json = |bytes: &[u8]| -> serde_json::Value { serde_json::from_slice(bytes).unwrap() };
    let from_file = json(&output(&["inspect", file, "--json"]));
    let (piped, _, _) = pipe(&["merge", a, b, "-o", "-"], &["inspect", "-", "--json"]);
    let piped = json(&piped);
    assert_eq!(piped["requests"], 645);
    assert_eq!(piped["requests"], from_file["requests"]);
    assert_eq!(piped["connections"], from_file["connections"]);
    assert_eq!(piped["statuses"], from_file["statuses"]);
}

#[test]
fn gor_piped_into_import_gives_the_log_a_gor_file_gives() {
    let dir = tempfile::tempdir().unwrap();
    let log = record("captures-sample/shop.pcap", &dir.path().join("a.reel"));
    let log = log.to_str().unwrap();
    let gor = dir.path().join("a.gor");
    std::fs::write(&gor, output(&["cat", "--format", "gor", log])).unwrap();
    let from_file = dir.path().join("from-file.reel");
    output(&[
        "import",
        gor.to_str().unwrap(),
        "-o",
        from_file.to_str().unwrap(),
    ]);
    let from_pipe = dir.path().join("from-pipe.reel");
    let (_, _, import_err) = pipe(
        &["cat", "--format", "gor", log],
        &["import", "-", "-o", from_pipe.to_str().unwrap()],
    );
    assert!(import_err.contains("imported"), "{import_err}");
    let expected = output(&["cat", from_file.to_str().unwrap()]);
    assert!(!expected.is_empty());
    assert_eq!(output(&["cat", from_pipe.to_str().unwrap()]), expected);

    // And the log itself through stdout: import - -o - | cat -.
    let json_path = format!("--json={}", dir.path().join("i.json").display());
    let (piped, _, _) = pipe(
        &["cat", "--format", "gor", log],
        &["import", "-", "-o", "-", &json_path],
    );
    let streamed = dir.path().join("streamed.reel");
    std::fs::write(&streamed, piped).unwrap();
    assert_eq!(output(&["cat", streamed.to_str().unwrap()]), expected);
}

#[test]
fn stdin_is_read_once_and_json_cannot_share_stdout_with_a_log() {
    let dir = tempfile::tempdir().unwrap();
    let out = reel()
        .args(["cat", "-", "-"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stdin"));

    let log = record("captures-sample/shop.pcap", &dir.path().join("a.reel"));
    let out = reel()
        .args(["merge", log.to_str().unwrap(), "-o", "-", "--json"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--json"));
    assert!(out.stdout.is_empty(), "nothing written before the refusal");

    let out = reel()
        .args(["replay", "-", "--loop", "--target", "http://127.0.0.1:9"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--loop"));

    // Not a log on stdin: one line naming stdin, exit 2.
    let mut child = reel()
        .args(["inspect", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"this is not a reel log at all\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stdin"), "{err}");
}

#[test]
fn record_to_stdout_piped_into_cat_gives_what_the_file_gives() {
    let dir = tempfile::tempdir().unwrap();
    let file = record("captures-sample/shop.pcap", &dir.path().join("a.reel"));
    let expected = output(&["cat", file.to_str().unwrap()]);
    assert!(expected.len() > 1000, "the log has exchanges");
    let pcap = repo().join("captures-sample/shop.pcap");
    let (piped, record_err, _) = pipe(
        &["record", "--read", pcap.to_str().unwrap(), "-o", "-"],
        &["cat", "-"],
    );
    assert_eq!(piped, expected);
    assert!(
        record_err.contains("read "),
        "the summary is on stderr: {record_err}"
    );

    let out = reel()
        .args([
            "record",
            "--read",
            pcap.to_str().unwrap(),
            "-o",
            "-",
            "--rotate-size",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rotate-size"));
    assert!(out.stdout.is_empty());
}
