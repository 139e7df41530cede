//! `reel compare` end to end: results logs written with the log writer, the binary run on them,
//! exit codes, outputs and files checked.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use bytes::Bytes;
use reel::exchange::{Counters, ErrorKind, Meta, Record, ReplayResult};
use reel::log::{CreateOptions, WriterConfig};
use tempfile::TempDir;

/// splitmix64, so every run writes the same results.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A latency in µs around `median` (log-normal, spread 0.4).
fn latency_us(state: &mut u64, median_ms: f64) -> u64 {
    let u = ((next(state) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let v = ((next(state) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let normal = (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
    (median_ms * 1000.0 * (0.4 * normal).exp()) as u64
}

const PATHS: [&str; 4] = ["/users/{}", "/orders", "/search", "/health"];

/// Results of `n` requests over four endpoints. `slow` multiplies staging latency of `/orders`;
/// `role` is written into every result; with `both`, each request gets a candidate and a baseline
/// result (a `--baseline-target` run), the baseline never slowed.
fn results(n: u64, seed: u64, slow: f64, role: u8, both: bool) -> Vec<ReplayResult> {
    let mut state = seed;
    let mut out = Vec::new();
    for i in 0..n {
        let endpoint = (next(&mut state) % 4) as usize;
        let path = PATHS[endpoint].replace("{}", &(i % 1000).to_string());
        let median = [10.0, 30.0, 60.0, 1.0][endpoint];
        let prod = latency_us(&mut state, median);
        let intended = 1_700_000_000_000_000_000 + i * 1_000_000;
        let roles: Vec<u8> = if both { vec![0, 1] } else { vec![role] };
        for role in roles {
            let factor = if endpoint == 1 && role == 0 {
                slow
            } else {
                1.0
            };
            let staging = latency_us(&mut state, median * factor);
            let failed = next(&mut state) % 500 == 0;
            out.push(ReplayResult {
                conn: i / 3 + 1,
                index: (i % 3) as u32,
                target: "http://staging.test:8080".into(),
                method: "GET".into(),
                path: path.clone(),
                prod_status: Some(200),
                prod_latency_ns: Some(prod * 1000),
                recorded_ts_ns: intended - 1_000_000_000,
                intended_ns: intended,
                sent_ns: intended + 20_000,
                first_byte_ns: if failed { 0 } else { intended + staging * 1000 },
                last_byte_ns: if failed { 0 } else { intended + staging * 1000 },
                status: if failed { None } else { Some(200) },
                request_bytes: 80,
                response_bytes: 100,
                response: Bytes::from_static(b"HTTP/1.1 200 OK\r\n\r\nok"),
                external_id: None,
                error: failed.then_some(ErrorKind::Reset),
                shard: 0,
                shards: 1,
                iteration: 0,
                warmup: false,
                role,
            });
        }
    }
    out
}

fn write_log(path: &Path, records: impl IntoIterator<Item = Record>) {
    let mut writer = reel::log::create(
        path,
        CreateOptions {
            append: false,
            config: WriterConfig::default(),
        },
    )
    .expect("create the log");
    writer
        .write(&Record::Meta(Meta {
            host: "replayer-1".into(),
            command: "replay".into(),
            tool_version: "0.1.0".into(),
            ..Meta::default()
        }))
        .expect("write Meta");
    for r in records {
        writer.write(&r).expect("write a result");
    }
    writer.finish(Counters::default()).expect("finish the log");
}

fn write_results(dir: &TempDir, name: &str, results: &[ReplayResult]) -> PathBuf {
    let path = dir.path().join(name);
    write_log(&path, results.iter().cloned().map(Record::Result));
    path
}

fn reel() -> Command {
    Command::cargo_bin("reel").expect("the reel binary")
}

fn json_of(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("read JSON")).expect("valid JSON")
}

#[test]
fn shards_compare_like_one_file() {
    let dir = TempDir::new().unwrap();
    let all = results(6000, 1, 1.3, 0, false);
    let whole = write_results(&dir, "all.reel", &all);
    let shards: Vec<PathBuf> = (0..3)
        .map(|s| {
            let part: Vec<ReplayResult> = all.iter().filter(|r| r.conn % 3 == s).cloned().collect();
            write_results(&dir, &format!("shard-{s}.reel"), &part)
        })
        .collect();
    let one = dir.path().join("one.json");
    let three = dir.path().join("three.json");
    reel()
        .arg("compare")
        .arg(&whole)
        .arg(format!("--json={}", one.display()))
        .assert()
        .code(0);
    reel()
        .arg("compare")
        .args(&shards)
        .arg(format!("--json={}", three.display()))
        .assert()
        .code(0);
    let (one, three) = (json_of(&one), json_of(&three));
    assert_eq!(one["overall"], three["overall"]);
    assert_eq!(one["endpoints"], three["endpoints"]);
    assert_eq!(one["overall"]["staging"]["requests"], 6000);
    assert_eq!(one["endpoints"][0]["endpoint"], "GET /orders");
    assert_eq!(one["endpoints"][0]["shift"]["verdict"], "slower");
}

#[test]
fn gates_decide_the_exit_code() {
    let dir = TempDir::new().unwrap();
    let file = write_results(&dir, "r.reel", &results(4000, 2, 1.5, 0, false));
    let out = reel()
        .args(["compare", file.to_str().unwrap()])
        .args([
            "--fail-if",
            "GET /orders::p50 > 1.2x",
            "--fail-if",
            "error-rate > 5%",
        ])
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let line = |start: &str, end: &str| {
        stdout
            .lines()
            .any(|l| l.trim_start().starts_with(start) && l.ends_with(end))
    };
    assert!(
        line("GET /orders::p50 ", "(1.2x of 29.5ms): FAIL"),
        "{stdout}"
    );
    assert!(line("error-rate 0.20% [", "] > 5%: pass"), "{stdout}");
    // Changed on purpose (issue 12): the implicit --max-error-rate gate is listed too.
    assert!(
        line(
            "error-rate 0.20% [",
            "] > 5%: pass [implicit: --max-error-rate]"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("FAILED: 1 of 3 gates failed"), "{stdout}");
    reel()
        .args(["compare", file.to_str().unwrap()])
        .args(["--fail-if", "GET /health::p50 > 1.2x"])
        .assert()
        .code(0);
    // Too little data fails by default (changed on purpose, issue 12: --strict was the opt-in
    // and is now the default, still accepted); --allow-insufficient lets it pass.
    // `--min-samples` now reads on effect-size gates (rates and percentiles use intervals).
    for (extra, code) in [
        (None, 1),
        (Some("--strict"), 1),
        (Some("--allow-insufficient"), 0),
    ] {
        reel()
            .args(["compare", file.to_str().unwrap(), "--min-samples", "5000"])
            .args(extra)
            .args(["--fail-if", "effect-size > 0.9"])
            .assert()
            .code(code);
    }
}

#[test]
fn bad_expressions_and_inputs_exit_2() {
    let dir = TempDir::new().unwrap();
    let file = write_results(&dir, "r.reel", &results(100, 3, 1.0, 0, false));
    let out = reel()
        .args(["compare", file.to_str().unwrap(), "--fail-if", "p99 > 1.2"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr
            .contains("error: --fail-if 'p99 > 1.2': column 7: p99 is a latency and needs a unit"),
        "{stderr}"
    );
    assert!(stderr.contains("\n    p99 > 1.2\n          ^"), "{stderr}");

    // A log with no results (a capture) is bad input.
    let capture = dir.path().join("capture.reel");
    write_log(&capture, []);
    let out = reel()
        .args(["compare", capture.to_str().unwrap()])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("capture.reel: no replay results"),
        "{stderr}"
    );

    // Not a .reel file.
    let junk = dir.path().join("junk.reel");
    std::fs::write(&junk, b"definitely not a log").unwrap();
    reel()
        .args(["compare", junk.to_str().unwrap()])
        .assert()
        .code(2);

    // A two-target results file with --baseline is ambiguous.
    let mixed = write_results(&dir, "mixed.reel", &results(100, 4, 1.0, 0, true));
    let out = reel()
        .args([
            "compare",
            mixed.to_str().unwrap(),
            "--baseline",
            file.to_str().unwrap(),
        ])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("two target sets"), "{stderr}");
}

#[test]
fn a_baseline_run_is_the_reference() {
    let dir = TempDir::new().unwrap();
    let candidate = write_results(&dir, "candidate.reel", &results(6000, 5, 1.3, 0, false));
    let baseline = write_results(&dir, "baseline.reel", &results(6000, 5, 1.0, 0, false));
    let json = dir.path().join("out.json");
    let report = dir.path().join("report.html");
    reel()
        .args(["compare", candidate.to_str().unwrap(), "--baseline"])
        .arg(&baseline)
        .arg(format!("--json={}", json.display()))
        .arg("--report")
        .arg(&report)
        .args([
            "--fail-if",
            "GET /orders::p50 > 1.2x",
            "--fail-if",
            "GET /search::p50 > 1.2x",
        ])
        .assert()
        .code(1);
    let json = json_of(&json);
    assert_eq!(json["reference"], "baseline");
    assert_eq!(json["passed"], false);
    assert_eq!(json["gates"][0]["verdict"], "fail");
    assert_eq!(json["gates"][1]["verdict"], "pass");
    assert_eq!(json["counts"]["unpaired_candidate"], 0);
    assert_eq!(json["overall"]["vs_baseline"]["pairs"], 6000);
    let verdicts: Vec<(&str, &str)> = json["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["endpoint"].as_str().unwrap(),
                e["shift"]["verdict"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(verdicts[0], ("GET /orders", "slower"));
    assert!(
        verdicts[1..].iter().all(|(_, v)| *v == "same"),
        "{verdicts:?}"
    );
    let html = std::fs::read_to_string(&report).unwrap();
    for id in [
        "verdict",
        "gates",
        "latency",
        "ratio",
        "status",
        "confusion",
        "parameters",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
    }
    assert!(html.contains("baseline.reel"));
    assert!(html.contains("reel 0.1.0 replay on replayer-1"));
}

#[test]
fn a_two_target_run_pairs_its_own_results() {
    let dir = TempDir::new().unwrap();
    let file = write_results(&dir, "both.reel", &results(3000, 6, 1.4, 0, true));
    let out = reel()
        .args(["compare", file.to_str().unwrap(), "--json"])
        .assert()
        .code(0);
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["reference"], "baseline");
    assert_eq!(json["overall"]["vs_baseline"]["pairs"], 3000);
    assert_eq!(json["counts"]["unpaired_candidate"], 0);
    assert_eq!(json["endpoints"][0]["endpoint"], "GET /orders");
    assert_eq!(json["endpoints"][0]["shift"]["verdict"], "slower");
    // The table went to stderr, since stdout carries the JSON.
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("staging against baseline"), "{stderr}");
}

#[test]
fn in_process_dispatch_returns_the_status() {
    use clap::Parser;
    let dir = TempDir::new().unwrap();
    let file = write_results(&dir, "r.reel", &results(2000, 7, 1.5, 0, false));
    let json = dir.path().join("o.json");
    let cli = reel::cli::Cli::parse_from([
        "reel",
        "compare",
        file.to_str().unwrap(),
        "--fail-if",
        "GET /orders::p99 > 1.2x",
        &format!("--json={}", json.display()),
    ]);
    let status = reel::cmd::dispatch(cli).unwrap();
    assert_eq!(status, reel::exit::Status::GateFailed);
    let cli = reel::cli::Cli::parse_from([
        "reel",
        "compare",
        file.to_str().unwrap(),
        "--fail-if",
        "p99 >",
    ]);
    let err = reel::cmd::dispatch(cli).unwrap_err();
    assert_eq!(reel::exit::classify(&err), reel::exit::Status::BadInput);
}
