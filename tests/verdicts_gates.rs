//! Verdicts a release pipeline can trust, with the real binary against real causes: a closed
//! port, a TLS server spoken to in plain HTTP, a server that answers garbage, a server answering
//! 503 to everything, one answering 200 to everything, one that drops every tenth request, and
//! two servers of different speeds for compound gates. Every server is this test's own, on
//! 127.0.0.1 with a port of its own; the log is the shipped sample capture, recorded by `reel
//! record`.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;

/// What a test server does with the n-th request it reads (from 0, over all connections).
#[derive(Clone, Copy)]
enum Reply {
    /// Answer with this status (empty body, keep-alive).
    Status(u16),
    /// Close the connection without answering.
    Drop,
}

/// A tiny HTTP/1.1 server of the test's own: a thread per connection, requests framed by
/// Content-Length (what the sample capture has), each answered after `delay` as `reply` says.
/// Stops accepting when dropped.
struct Server {
    port: u16,
    requests: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Server {
    fn start(delay: Duration, reply: fn(u64) -> Reply) -> Server {
        Server::spawn(move |stream, seen| serve_http(stream, seen, delay, reply))
    }

    /// A server that writes `bytes` on every connection and closes it: not HTTP.
    fn garbage(bytes: &'static [u8]) -> Server {
        Server::spawn(move |mut stream, seen| {
            seen.fetch_add(1, Ordering::Relaxed);
            let _ = stream.write_all(bytes);
        })
    }

    fn spawn(handle: impl Fn(TcpStream, &AtomicU64) + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopped) = (requests.clone(), stop.clone());
        let handle = Arc::new(handle);
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
                        let (seen, handle) = (seen.clone(), handle.clone());
                        std::thread::spawn(move || handle(stream, &seen));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Server {
            port,
            requests,
            stop,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve_http(stream: TcpStream, seen: &AtomicU64, delay: Duration, reply: fn(u64) -> Reply) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut expect_continue = false;
        let mut line = String::new();
        let mut first = true;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" && !first {
                break;
            }
            first = false;
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("expect:") && lower.contains("100-continue") {
                expect_continue = true;
            }
        }
        if !expect_continue {
            let mut body = vec![0u8; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
        }
        let n = seen.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(delay);
        match reply(n) {
            Reply::Drop => return,
            Reply::Status(code) => {
                let head = format!("HTTP/1.1 {code} X\r\nContent-Length: 0\r\n\r\n");
                if writer.write_all(head.as_bytes()).is_err() {
                    return;
                }
            }
        }
        if expect_continue {
            // The body was never sent; the connection cannot be framed further.
            return;
        }
    }
}

/// A port nothing listens on: bound, then let go.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The sample capture recorded into a log by the real binary.
fn shop_log(dir: &Path) -> PathBuf {
    let pcap = common::repo().join("captures-sample/shop.pcap");
    let log = dir.join("shop.reel");
    let out = Command::cargo_bin("reel")
        .unwrap()
        .args(["record", "--read", pcap.to_str().unwrap(), "-o"])
        .arg(&log)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    log
}

/// What one run of the binary gave.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    json: Value,
}

/// Runs `reel ARGS… --json=DIR/N.json`.
fn reel(dir: &Path, args: &[&str]) -> Run {
    static N: AtomicU64 = AtomicU64::new(0);
    let json = dir.join(format!("run-{}.json", N.fetch_add(1, Ordering::Relaxed)));
    let out = Command::cargo_bin("reel")
        .unwrap()
        .args(args)
        .arg(format!("--json={}", json.display()))
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        json: std::fs::read(&json)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null),
    }
}

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("reel-verdicts")
        .tempdir()
        .unwrap()
}

/// The `error:` lines of stderr: exactly one is what every failure must print.
fn error_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("error:")).collect()
}

fn gate<'a>(json: &'a Value, expr: &str) -> &'a Value {
    json["gates"]
        .as_array()
        .unwrap_or_else(|| panic!("no gates in {json:#}"))
        .iter()
        .find(|g| g["expr"] == expr)
        .unwrap_or_else(|| panic!("no gate {expr:?} in {json:#}"))
}

#[test]
fn a_closed_port_is_no_response_exit_3_in_replay_and_compare() {
    let dir = tempdir();
    let log = shop_log(dir.path());
    let port = closed_port();
    let target = format!("http://127.0.0.1:{port}");
    let results = dir.path().join("results.reel");
    let run = reel(
        dir.path(),
        &[
            "replay",
            log.to_str().unwrap(),
            "--target",
            &target,
            "--rate",
            "max",
            "--fail-if",
            "p99 > 1.25x",
            "--results",
            results.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert_eq!(
        error_lines(&run.stderr),
        [format!(
            "error: no response from {target}: connection refused × 640"
        )],
        "{}",
        run.stderr
    );
    // The summary and the gates are still there, and say it.
    assert!(run.stdout.contains("FAILED"), "{}", run.stdout);
    assert_eq!(run.json["passed"], false);
    assert_eq!(
        run.json["no_response"],
        format!("no response from {target}: connection refused × 640")
    );

    // The results of such a run compare to the same verdict.
    let again = reel(dir.path(), &["compare", results.to_str().unwrap()]);
    assert_eq!(again.code, Some(3), "{}", again.stderr);
    assert_eq!(
        error_lines(&again.stderr),
        [format!(
            "error: no response from {target}: connection refused × 640"
        )]
    );
}

#[test]
fn a_tls_server_spoken_to_in_plain_http_is_no_response_exit_3() {
    let Some(openssl) = common::which("openssl") else {
        eprintln!("skipped: openssl is not installed");
        return;
    };
    let dir = tempdir();
    let log = shop_log(dir.path());
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = StdCommand::new(&openssl)
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let port = closed_port();
    let server = StdCommand::new(&openssl)
        .args(["s_server", "-quiet", "-www", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = common::Guard::new(server);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "openssl s_server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let target = format!("http://127.0.0.1:{port}");
    let run = reel(
        dir.path(),
        &[
            "replay",
            log.to_str().unwrap(),
            "--target",
            &target,
            "--limit",
            "20",
            "--rate",
            "50/s",
            "--timeout",
            "3s",
        ],
    );
    assert_eq!(run.code, Some(3), "{}\n{}", run.stdout, run.stderr);
    let errors = error_lines(&run.stderr);
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    assert!(
        errors[0].starts_with(&format!("error: no response from {target}: ")),
        "{}",
        errors[0]
    );
    assert_eq!(run.json["completed"], 0);
    assert_eq!(run.json["errors"]["total"], 20);
}

#[test]
fn a_server_answering_garbage_is_no_response_exit_3() {
    let dir = tempdir();
    let log = shop_log(dir.path());
    let server = Server::garbage(b"SSH-2.0-OpenSSH_9.6\r\nProtocol mismatch.\r\n");
    let run = reel(
        dir.path(),
        &[
            "replay",
            log.to_str().unwrap(),
            "--target",
            &server.url(),
            "--limit",
            "48",
            "--rate",
            "max",
            "--timeout",
            "3s",
        ],
    );
    assert_eq!(run.code, Some(3), "{}\n{}", run.stdout, run.stderr);
    let errors = error_lines(&run.stderr);
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    assert!(
        errors[0].starts_with(&format!("error: no response from {}: ", server.url()))
            && errors[0].contains("not an HTTP response × "),
        "{}",
        errors[0]
    );
    assert!(
        server.requests.load(Ordering::Relaxed) > 0,
        "it was reached"
    );
}

#[test]
fn all_503_fails_the_5xx_gate_decisively_with_its_interval() {
    let dir = tempdir();
    let log = shop_log(dir.path());
    let server = Server::start(Duration::ZERO, |_| Reply::Status(503));
    let run = reel(
        dir.path(),
        &[
            "replay",
            log.to_str().unwrap(),
            "--target",
            &server.url(),
            "--limit",
            "48",
            "--rate",
            "max",
            "--fail-if",
            "5xx-rate > 1%",
        ],
    );
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("5xx-rate 100% [92.6%, 100%] > 1%: FAIL"),
        "{}",
        run.stdout
    );
    let g = gate(&run.json, "5xx-rate > 1%");
    assert_eq!(
        (&g["verdict"], &g["basis"]),
        (&"fail".into(), &"interval".into())
    );
    // scipy: binomtest(48, 48).proportion_ci(0.95, method='exact').low = 0.9260272146527198
    let low = g["interval"][0].as_f64().unwrap();
    assert!((low - 0.926_027_214_652_719_8).abs() < 1e-9, "{low}");
    assert_eq!(g["interval"][1], 1.0);
    assert_eq!(g["samples"], 48);
    assert!(error_lines(&run.stderr).is_empty(), "{}", run.stderr);
}

#[test]
fn all_200_cannot_prove_under_1_percent_from_48_requests() {
    let dir = tempdir();
    let log = shop_log(dir.path());
    let server = Server::start(Duration::ZERO, |_| Reply::Status(200));
    let args = |extra: &'static [&'static str]| {
        let mut a = vec![
            "replay".to_string(),
            log.display().to_string(),
            "--target".into(),
            server.url(),
            "--limit".into(),
            "48".into(),
            "--rate".into(),
            "max".into(),
            "--fail-if".into(),
            "5xx-rate > 1%".into(),
        ];
        a.extend(extra.iter().map(|s| (*s).to_string()));
        a
    };
    let run_with = |extra| {
        let a = args(extra);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        reel(dir.path(), &a)
    };

    // The default: not enough data fails the run; --strict (the old opt-in) says the same.
    for extra in [&[][..], &["--strict"][..]] {
        let run = run_with(extra);
        assert_eq!(
            run.code,
            Some(1),
            "{extra:?}: {}\n{}",
            run.stdout,
            run.stderr
        );
        assert!(
            run.stdout.contains(
                "5xx-rate 0% [0%, 7.40%] > 1%: FAIL (not enough data: the 95% interval overlaps"
            ),
            "{}",
            run.stdout
        );
        let g = gate(&run.json, "5xx-rate > 1%");
        assert_eq!(
            (&g["verdict"], &g["failed"]),
            (&"not enough data".into(), &true.into())
        );
        // scipy: binomtest(0, 48).proportion_ci(0.95, method='exact').high = 0.07397278534728029
        let high = g["interval"][1].as_f64().unwrap();
        assert!((high - 0.073_972_785_347_280_29).abs() < 1e-9, "{high}");
        assert_eq!(run.json["passed"], false);
    }

    // --allow-insufficient lets it pass, with a warning line.
    let run = run_with(&["--allow-insufficient"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(
            "warning: gate '5xx-rate > 1%' could not be judged (the 95% interval overlaps"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("not enough data, allowed"),
        "{}",
        run.stdout
    );
    assert_eq!(run.json["passed"], true);

    // A lower confidence does not make 0 of 48 prove < 1% either; 99% widens the interval.
    let run = run_with(&["--confidence", "99%"]);
    assert_eq!(run.code, Some(1));
    let high = gate(&run.json, "5xx-rate > 1%")["interval"][1]
        .as_f64()
        .unwrap();
    assert!(high > 0.074, "{high}");

    // Bad judging flags name themselves before anything is sent.
    let sent = server.requests.load(Ordering::Relaxed);
    for (flag, value) in [("--confidence", "120%"), ("--max-error-rate", "lots")] {
        let run = reel(
            dir.path(),
            &[
                "replay",
                log.to_str().unwrap(),
                "--target",
                &server.url(),
                flag,
                value,
            ],
        );
        assert_eq!(run.code, Some(2), "{flag}");
        assert!(
            error_lines(&run.stderr)
                .first()
                .is_some_and(|l| l.starts_with(&format!("error: {flag}: "))),
            "{}",
            run.stderr
        );
    }
    assert_eq!(
        server.requests.load(Ordering::Relaxed),
        sent,
        "nothing sent"
    );
}

#[test]
fn ten_percent_dropped_requests_fail_the_implicit_gate() {
    let dir = tempdir();
    let log = shop_log(dir.path());
    let server = Server::start(Duration::ZERO, |n| {
        if n % 10 == 9 {
            Reply::Drop
        } else {
            Reply::Status(200)
        }
    });
    let base = [
        "replay",
        log.to_str().unwrap(),
        "--target",
        &server.url(),
        "--rate",
        "max",
        "--concurrency",
        "4",
    ];
    // No --fail-if at all: the implicit gate alone fails the run.
    let run = reel(dir.path(), &base);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    let errors = run.json["errors"]["total"].as_u64().unwrap();
    assert!((50..=80).contains(&errors), "{errors} errors");
    let g = gate(&run.json, "error-rate > 5%");
    assert_eq!(
        (&g["verdict"], &g["implicit"], &g["basis"]),
        (&"fail".into(), &true.into(), &"counts".into())
    );
    assert!(
        run.stdout
            .contains("] > 5%: FAIL [implicit: --max-error-rate]"),
        "{}",
        run.stdout
    );

    // With a comparison it is in the gate list beside the user's gates.
    let mut with_gate = base.to_vec();
    with_gate.extend(["--fail-if", "5xx-rate > 50%"]);
    let run = reel(dir.path(), &with_gate);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    let gates: Vec<(&Value, &Value)> = run.json["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (&g["expr"], &g["verdict"]))
        .collect();
    assert_eq!(
        gates,
        [
            (&"5xx-rate > 50%".into(), &"pass".into()),
            (&"error-rate > 5%".into(), &"fail".into())
        ]
    );

    // `off` disables it; a higher limit lets 10% through.
    for (value, code) in [("off", 0), ("20%", 0), ("2%", 1)] {
        let mut args = base.to_vec();
        args.extend(["--max-error-rate", value]);
        let run = reel(dir.path(), &args);
        assert_eq!(
            run.code,
            Some(code),
            "--max-error-rate {value}: {}",
            run.stdout
        );
    }
}

#[test]
fn a_scope_typo_is_exit_2_with_the_closest_endpoints() {
    let dir = tempdir();
    let log = shop_log(dir.path());
    let server = Server::start(Duration::ZERO, |_| Reply::Status(200));
    let results = dir.path().join("results.reel");
    let typo = "GET /api/user/{id}::p50 > 1.2x";
    let run = reel(
        dir.path(),
        &[
            "replay",
            log.to_str().unwrap(),
            "--target",
            &server.url(),
            "--rate",
            "max",
            "--fail-if",
            typo,
            "--results",
            results.to_str().unwrap(),
        ],
    );
    // The replay has run: it judges at the end, then refuses the typo.
    assert_eq!(run.code, Some(2), "{}\n{}", run.stdout, run.stderr);
    let want = format!(
        "error: --fail-if '{typo}': no endpoint \"GET /api/user/{{id}}\" in these results; did \
         you mean GET /api/users/{{id}}"
    );
    let errors = error_lines(&run.stderr);
    assert!(
        errors.len() == 1 && errors[0].starts_with(&want),
        "{}",
        run.stderr
    );

    // compare refuses it before computing anything: no table, no JSON.
    let json = dir.path().join("compare.json");
    let out = Command::cargo_bin("reel")
        .unwrap()
        .args(["compare", results.to_str().unwrap(), "--fail-if", typo])
        .arg(format!("--json={}", json.display()))
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(error_lines(&stderr)[0].starts_with(&want), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing printed");
    assert!(!json.exists(), "nothing written");

    // A scope far from every name still names the closest one.
    let out = Command::cargo_bin("reel")
        .unwrap()
        .args(["compare", results.to_str().unwrap()])
        .args(["--fail-if", "PATCH /zzz::p50 > 2ms"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("did you mean "), "{stderr}");

    // The right name, or a concrete path that templates to it, judges normally.
    for scope in ["GET /api/users/{id}", "GET /api/users/42"] {
        let out = Command::cargo_bin("reel")
            .unwrap()
            .args(["compare", results.to_str().unwrap(), "--allow-insufficient"])
            .args(["--fail-if", &format!("{scope}::p50 > 1s")])
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{scope}: {out:?}");
    }
}

#[test]
fn a_compound_gate_fires_only_when_both_hold() {
    let dir = tempdir();
    let log = shop_log(dir.path());
    let baseline = Server::start(Duration::from_millis(1), |_| Reply::Status(200));
    let twice = Server::start(Duration::from_millis(2), |_| Reply::Status(200));
    let much = Server::start(Duration::from_millis(12), |_| Reply::Status(200));
    let run = |candidate: &Server, exprs: &[&str]| {
        let mut args = vec![
            "replay",
            log.to_str().unwrap(),
            "--limit",
            "200",
            "--rate",
            "200/s",
            "--connections",
            "pool",
            "--concurrency",
            "16",
            "--baseline-target",
        ];
        let (b, c) = (baseline.url(), candidate.url());
        args.push(&b);
        args.push("--target");
        args.push(&c);
        for e in exprs {
            args.push("--fail-if");
            args.push(e);
        }
        reel(dir.path(), &args)
    };
    let compound = "p50 > 1.25x and +5ms";

    // 2 ms against 1 ms: twice as slow, but by 1 ms: the ratio alone fires, the compound not.
    let r = run(&twice, &[compound, "p50 > 1.25x"]);
    assert_eq!(r.code, Some(1), "{}", r.stdout);
    let g = gate(&r.json, compound);
    assert_eq!(g["verdict"], "pass", "{g:#}");
    let parts: Vec<&Value> = g["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["verdict"])
        .collect();
    assert_eq!(parts, [&Value::from("fail"), &Value::from("pass")]);
    assert_eq!(gate(&r.json, "p50 > 1.25x")["verdict"], "fail");

    // 12 ms against 1 ms: both hold, the compound fires.
    let r = run(&much, &[compound]);
    assert_eq!(r.code, Some(1), "{}", r.stdout);
    let g = gate(&r.json, compound);
    assert_eq!(g["verdict"], "fail", "{g:#}");
    assert!(
        r.stdout.contains("(1.25x of ") && r.stdout.contains(" and > "),
        "{}",
        r.stdout
    );
}

#[test]
fn a_host_that_does_not_resolve_is_no_response_exit_3_before_anything_is_sent() {
    let dir = tempdir();
    let log = shop_log(dir.path());
    let run = reel(
        dir.path(),
        &[
            "replay",
            log.to_str().unwrap(),
            "--target",
            "http://reel-test.invalid:8080",
        ],
    );
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    let errors = error_lines(&run.stderr);
    assert!(
        errors.len() == 1
            && errors[0].starts_with(
                "error: no response from http://reel-test.invalid:8080: cannot resolve its host"
            ),
        "{}",
        run.stderr
    );
}
