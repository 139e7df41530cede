//! The command-line conventions, end to end through the binary: exit codes, one-line errors naming
//! the file or flag, `--json` keys, human output (snapshots), broken pipes, completions and man.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use assert_cmd::Command;
use common::repo;

fn reel() -> Command {
    Command::cargo_bin("reel").unwrap()
}

/// Records the shipped sample into `dir/shop.reel`.
fn shop_log(dir: &Path) -> PathBuf {
    let out = dir.join("shop.reel");
    reel()
        .args(["record", "--read"])
        .arg(repo().join("captures-sample/shop.pcap"))
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    out
}

fn stderr_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
}

#[test]
fn record_json_has_the_documented_keys() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.reel");
    let assert = reel()
        .args(["record", "--read"])
        .arg(repo().join("captures-sample/shop.pcap"))
        .arg("-o")
        .arg(&out)
        .arg("--json")
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    for key in [
        "output",
        "packets",
        "bytes",
        "requests",
        "responses",
        "interim",
        "orphans",
        "unanswered",
        "flows",
        "gaps",
        "gap_bytes",
        "non_http_flows",
        "tls_connections",
        "upgraded_connections",
        "unsupported_encapsulation",
        "unknown_linktype",
        "not_tcp",
        "malformed",
        "memory_give_ups",
        "truncated_messages",
        "truncated_files",
        "linktypes",
        "message_bytes",
        "file_bytes",
        "records",
        "duration_s",
    ] {
        assert!(json.get(key).is_some(), "record --json lacks {key}");
    }
    assert_eq!(json["requests"], 640);
    assert_eq!(json["responses"], 640);
    assert_eq!(json["packets"], 3396);
    // The human summary went to stderr.
    assert!(stderr_of(&assert).contains("640 requests, 640 responses"));
    // The log file is mode 0600.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn inspect_json_has_the_documented_keys_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let log = shop_log(dir.path());
    let assert = reel()
        .arg("inspect")
        .arg(&log)
        .arg("--json")
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    for key in [
        "files",
        "requests",
        "responses",
        "interim",
        "orphans",
        "results",
        "connections",
        "gaps",
        "gap_bytes",
        "truncated_messages",
        "first_ts_ns",
        "last_ts_ns",
        "duration_s",
        "message_bytes",
        "file_bytes",
        "compression_ratio",
        "skipped_blocks",
        "skipped_bytes",
        "status",
        "status_class",
        "top_endpoints",
    ] {
        assert!(json.get(key).is_some(), "inspect --json lacks {key}");
    }
    assert_eq!(json["requests"], 640);
    assert_eq!(json["connections"], 166);
    assert_eq!(json["skipped_blocks"], 0);
    assert_eq!(json["status"]["304"], 28);
    assert_eq!(json["top_endpoints"][0]["endpoint"], "GET /api/users/{id}");
    // --json=PATH writes the file and keeps the human output on stdout.
    let path = dir.path().join("inspect.json");
    let assert = reel()
        .arg("inspect")
        .arg(&log)
        .arg(format!("--json={}", path.display()))
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout);
    assert!(stdout.contains("top endpoints"));
    let again: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(again["requests"], 640);
}

#[test]
fn inspect_human_output() {
    let dir = tempfile::tempdir().unwrap();
    let log = shop_log(dir.path());
    let assert = reel().arg("inspect").arg(&log).assert().success();
    let text = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    let dir_text = dir.path().display().to_string();
    insta::with_settings!({filters => vec![
        (dir_text.as_str(), "[TMP]"),
        (r"(?m) on \S+$", " on [HOST]"),
        // The metadata record names the input by its path, so the file size varies by checkout.
        (r"[0-9.]+ kB on disk", "[SIZE] on disk"),
        (r"ratio 0\.[0-9]+", "ratio [RATIO]"),
        (r"by reel [0-9.]+", "by reel [VERSION]"),
    ]}, {
        insta::assert_snapshot!(text);
    });
}

#[test]
fn cat_jsonl_is_one_line_per_exchange_with_the_documented_keys() {
    let dir = tempfile::tempdir().unwrap();
    let log = shop_log(dir.path());
    let assert = reel().arg("cat").arg(&log).assert().success();
    let lines: Vec<serde_json::Value> = assert
        .get_output()
        .stdout
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert_eq!(lines.len(), 640);
    let keys: Vec<&str> = lines[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "conn",
            "index",
            "ts_ns",
            "client",
            "server",
            "method",
            "target",
            "version",
            "headers",
            "body_bytes",
            "truncated",
            "status",
            "latency_ns",
            "response_bytes"
        ]
    );
    let posts = lines.iter().filter(|l| l["method"] == "POST").count();
    assert_eq!(posts, 48);
    assert!(
        lines
            .iter()
            .all(|l| l["status"].is_u64() && l["latency_ns"].is_u64())
    );
}

#[test]
fn cat_into_a_closed_pipe_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let log = shop_log(dir.path());
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("reel"))
        .args(["cat", "--format", "http"])
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("#### request"));
    // The reader is gone: reel's next writes fail with EPIPE.
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty());
}

#[test]
fn bad_inputs_exit_2_with_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello, not a log\n").unwrap();
    let missing = dir.path().join("missing.reel");
    for (args, needle) in [
        (
            vec!["inspect".into(), missing.display().to_string()],
            "missing.reel",
        ),
        (
            vec!["inspect".into(), text.display().to_string()],
            "not a .reel file",
        ),
        (vec!["cat".into(), text.display().to_string()], "notes.txt"),
        (
            vec![
                "record".into(),
                "--read".into(),
                text.display().to_string(),
                "-o".into(),
                dir.path().join("o.reel").display().to_string(),
            ],
            "notes.txt",
        ),
        (
            vec![
                "record".into(),
                "--read".into(),
                missing.display().to_string(),
                "-o".into(),
                dir.path().join("o.reel").display().to_string(),
            ],
            "missing.reel",
        ),
        (
            vec![
                "import".into(),
                missing.display().to_string(),
                "-o".into(),
                dir.path().join("i.reel").display().to_string(),
            ],
            "missing.reel",
        ),
    ] {
        let assert = reel().args(&args).assert().code(2);
        let err = stderr_of(&assert);
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // Nothing claiming success was left behind.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".reel") || n.ends_with(".part"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn bad_flags_exit_2_naming_the_flag() {
    for (args, needle) in [
        (
            vec![
                "record",
                "--read",
                "x.pcap",
                "-o",
                "y.reel",
                "--max-body",
                "lots",
            ],
            "--max-body",
        ),
        (
            vec![
                "record",
                "--read",
                "x.pcap",
                "-o",
                "y.reel",
                "--idle-timeout",
                "soon",
            ],
            "--idle-timeout",
        ),
        (
            vec!["record", "--read", "x.pcap", "-o", "y.reel", "--limit", "0"],
            "--limit",
        ),
        (
            vec!["inspect", "x.reel", "--endpoint-rule", "no-arrow"],
            "--endpoint-rule",
        ),
        (vec!["cat", "x.reel", "--format", "xml"], "--format"),
    ] {
        let assert = reel().args(&args).assert().code(2);
        let err = stderr_of(&assert);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn an_existing_output_is_refused_unless_force_or_append() {
    let dir = tempfile::tempdir().unwrap();
    let log = shop_log(dir.path());
    let sample = repo().join("captures-sample/shop.pcap");
    let assert = reel()
        .args(["record", "--read"])
        .arg(&sample)
        .arg("-o")
        .arg(&log)
        .assert()
        .code(2);
    assert!(stderr_of(&assert).contains("already exists"));
    reel()
        .args(["record", "--read"])
        .arg(&sample)
        .arg("-o")
        .arg(&log)
        .arg("--force")
        .assert()
        .success();
    reel()
        .args(["record", "--read"])
        .arg(&sample)
        .arg("-o")
        .arg(&log)
        .arg("--append")
        .assert()
        .success();
    let assert = reel()
        .arg("inspect")
        .arg(&log)
        .arg("--json")
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    assert_eq!(json["requests"], 1280);
}

#[test]
fn import_then_cat_gor_gives_goreplay_back() {
    let Some(shared) = common::shared_captures() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let gor = shared.join("gor/nginx-sample.gor");
    let out = dir.path().join("g.reel");
    reel()
        .arg("import")
        .arg(shared.join("gor/nginx-sample.gor.gz"))
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let assert = reel()
        .args(["cat", "--format", "gor"])
        .arg(&out)
        .assert()
        .success();
    assert_eq!(assert.get_output().stdout, std::fs::read(gor).unwrap());
}

#[test]
fn merge_keeps_connection_ids_unique() {
    let dir = tempfile::tempdir().unwrap();
    let a = shop_log(dir.path());
    let b = dir.path().join("pipelined.reel");
    reel()
        .args(["record", "--read"])
        .arg(repo().join("tests/data/pipelined.pcap"))
        .arg("-o")
        .arg(&b)
        .assert()
        .success();
    let all = dir.path().join("all.reel");
    reel()
        .arg("merge")
        .arg(&a)
        .arg(&b)
        .arg("-o")
        .arg(&all)
        .assert()
        .success();
    let assert = reel()
        .arg("inspect")
        .arg(&all)
        .arg("--json")
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    assert_eq!(json["requests"], 645);
    assert_eq!(json["connections"], 167);
    let assert = reel()
        .arg("merge")
        .arg(&a)
        .arg("-o")
        .arg(&a)
        .arg("--force")
        .assert()
        .code(2);
    assert!(stderr_of(&assert).contains("--output"));
}

#[test]
fn completions_and_man_are_generated() {
    let assert = reel().args(["completions", "bash"]).assert().success();
    assert!(String::from_utf8_lossy(&assert.get_output().stdout).contains("reel"));
    let assert = reel().arg("man").assert().success();
    assert!(String::from_utf8_lossy(&assert.get_output().stdout).contains(".TH reel"));
    // One page per subcommand, printed or written into a directory.
    let assert = reel().args(["man", "replay"]).assert().success();
    let page = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert!(page.contains(".TH reel-replay"), "{page}");
    assert!(page.contains("confidence"), "{page}");
    let assert = reel().args(["man", "replya"]).assert().code(2);
    assert!(stderr_of(&assert).contains("one of:"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    reel()
        .args(["man", "--out-dir", out.to_str().unwrap()])
        .assert()
        .success();
    for name in [
        "reel",
        "reel-record",
        "reel-replay",
        "reel-compare",
        "reel-shadow",
    ] {
        let page = std::fs::read_to_string(out.join(format!("{name}.1"))).unwrap();
        assert!(page.contains(&format!(".TH {name}")), "{name}: {page}");
    }
}
