//! `reel demo` end to end, as a new user runs it: the binary in an empty directory, nothing
//! else installed. It exits 0, writes its report there, shows v2's two regressions as failed
//! gates (the users' orders slower, POST /api/orders answering 5xx) and every other endpoint the
//! same, and leaves nothing behind in the temporary directory.

use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;

#[test]
fn demo_runs_end_to_end_and_shows_the_regressions() {
    let dir = tempfile::Builder::new()
        .prefix("reel-demo")
        .tempdir()
        .unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let started = Instant::now();
    let out = Command::cargo_bin("reel")
        .unwrap()
        .args(["demo", "--json"])
        .current_dir(dir.path())
        .env("TMPDIR", &tmp)
        .timeout(Duration::from_secs(180))
        .output()
        .unwrap();
    eprintln!("reel demo took {:.1} s", started.elapsed().as_secs_f64());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    // --json: the JSON on stdout, the human output on stderr.
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        stderr.contains("reel demo: real production traffic replayed"),
        "{stderr}"
    );
    assert!(stderr.contains("v2 FAILED 2 of 4 gates"), "{stderr}");
    assert!(stderr.contains("What you saw:"), "{stderr}");
    assert!(stderr.contains("reel-demo-report.html"), "{stderr}");

    assert_eq!(json["demo"]["sample"]["requests"], 640);
    assert_eq!(json["demo"]["sample"]["connections"], 166);
    assert_eq!(json["sent"], 2560, "640 requests, 4 times");
    assert_eq!(json["baseline"]["sent"], 2560);
    assert_eq!(json["errors"]["total"], 0);
    assert_eq!(json["reference"], "baseline");
    assert_eq!(json["passed"], false);
    let gates: Vec<(&str, &str)> = json["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["expr"].as_str().unwrap(), g["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        gates,
        [
            ("p99 > 1.25x", "pass"),
            ("error-rate > 0.5%", "pass"),
            ("POST /api/orders::5xx-rate > 1%", "fail"),
            ("GET /api/users/{id}/orders::p50 > 1.2x", "fail"),
        ]
    );

    // The regressed endpoints read slower / 5xx; every other one the same.
    let endpoints = json["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 14);
    for e in endpoints {
        let name = e["endpoint"].as_str().unwrap();
        let verdict = e["shift"]["verdict"].as_str().unwrap();
        let rate_5xx = e["staging"]["5xx_rate"].as_f64().unwrap();
        assert_eq!(e["baseline"]["5xx_rate"], 0.0, "{name}");
        match name {
            "GET /api/users/{id}/orders" => {
                assert_eq!(verdict, "slower");
                assert_eq!(rate_5xx, 0.0);
            }
            "POST /api/orders" => {
                assert_eq!(verdict, "same");
                assert!(rate_5xx > 0.02 && rate_5xx < 0.12, "{rate_5xx}");
            }
            _ => {
                assert_eq!(verdict, "same", "{name}: {e:#}");
                assert_eq!(rate_5xx, 0.0, "{name}");
            }
        }
    }
    // Production statuses as recorded: the staging shop answers each route with them.
    assert_eq!(
        json["overall"]["baseline_vs_production"]["mismatched"], 0,
        "v1 answers every route with production's status"
    );

    // The report, in the current directory, with its sections.
    let html = std::fs::read_to_string(dir.path().join("reel-demo-report.html")).unwrap();
    for id in [
        "verdict",
        "gates",
        "endpoints",
        "latency",
        "ratio",
        "status",
        "confusion",
        "parameters",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "section {id}");
    }
    assert!(html.contains("GET /api/users/{id}/orders"));

    // The temporary log is gone.
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
}

#[test]
fn report_elsewhere_and_bad_flags() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("reel")
        .unwrap()
        .args(["demo", "--report", "/nonexistent-dir/r.html"])
        .current_dir(dir.path())
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("error: --report: /nonexistent-dir: no such directory"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for bad in [["--repeat", "0"], ["--speed", "fast"]] {
        let out = Command::cargo_bin("reel")
            .unwrap()
            .arg("demo")
            .args(bad)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(out.stdout.is_empty(), "nothing started: {bad:?}");
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no report"
    );
}
