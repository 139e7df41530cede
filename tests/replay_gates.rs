//! Gates, report and baseline on `reel replay`, with real parts: the shipped sample capture
//! (captures-sample/shop.pcap, extracted with the capture side's own pipeline into a log), and
//! two hyper servers of this test's own — the baseline and a candidate 30% slower on one
//! endpoint — with seeded delays of a few ms. Every request goes to both at the same intended
//! moment; the verdict flips only on the slowed endpoint; the gate's exit status, the report, and
//! `reel compare` on the results log agree.
#![allow(clippy::unwrap_used)]

mod replay_support;

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use assert_cmd::Command;
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use reel::exchange::Counters;
use reel::record::extraction::{Extraction, ExtractionConfig};
use serde_json::Value;

use replay_support::{read_results, replay, tempdir};

/// The endpoint the candidate slows down.
const SLOWED: &str = "GET /api/users/{id}/orders";
/// How much slower.
const SLOWDOWN: f64 = 1.3;

/// The heavy tests one at a time: two replays sharing the CPU would blur each other's latency.
static SERIAL: Mutex<()> = Mutex::new(());

/// captures-sample/shop.pcap → Extraction → log writer.
fn shop_log(dir: &Path) -> PathBuf {
    let pcap = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/captures-sample/shop.pcap"
    ));
    let mut source = reel::capture::OfflineSource::open(&[pcap], None).unwrap();
    let mut extraction = Extraction::new(ExtractionConfig::default());
    let mut records = Vec::new();
    while let Some(frame) = source.next_frame().unwrap() {
        extraction.push(&frame, &mut records);
    }
    extraction.finish(&mut records);
    let path = dir.join("shop.reel");
    let mut w = reel::log::create(&path, Default::default()).unwrap();
    for r in &records {
        w.write(r).unwrap();
    }
    w.finish(Counters::default()).unwrap();
    path
}

/// splitmix64.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The n-th delay of a route: a log-normal around the route's median, from a fixed seed — the
/// same sequence in both servers, so the endpoints not slowed differ only by the machine's jitter.
fn delay(route: &str, n: u64, factor: f64) -> Duration {
    let median_us = match route {
        "user-orders" => 4_000.0,
        "user" => 2_000.0,
        "orders" => 3_000.0,
        "search" => 5_000.0,
        "health" => 800.0,
        _ => 1_200.0,
    };
    let key = route.bytes().fold(0u64, |h, b| mix(h ^ u64::from(b)));
    let u1 = ((mix(key ^ n) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let u2 = ((mix(key ^ n ^ 0xabcdef) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let normal = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    Duration::from_micros((median_us * (0.25 * normal).exp() * factor) as u64)
}

fn route_of(method: &str, path: &str) -> &'static str {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        ("GET", ["api", "users", _, "orders"]) => "user-orders",
        ("GET", ["api", "users", _]) => "user",
        (_, ["api", "orders"]) => "orders",
        (_, ["api", "search"]) => "search",
        (_, ["health"]) => "health",
        _ => "other",
    }
}

/// A shop server: every route answers 200 with a small JSON body after its seeded delay; the
/// candidate waits `slowdown` times longer on `GET /api/users/{id}/orders`.
struct Shop {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Shop {
    fn start(slowdown: f64) -> Shop {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicU64::new(0));
        let counters: Arc<Mutex<HashMap<&'static str, u64>>> = Arc::default();
        let seen = requests.clone();
        runtime.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (counters, seen) = (counters.clone(), seen.clone());
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let (counters, seen) = (counters.clone(), seen.clone());
                            async move {
                                let route = route_of(req.method().as_str(), req.uri().path());
                                let _ = req.into_body().collect().await;
                                seen.fetch_add(1, Ordering::Relaxed);
                                let n = {
                                    let mut c = counters.lock().unwrap();
                                    let n = c.entry(route).or_default();
                                    *n += 1;
                                    *n
                                };
                                let factor = if route == "user-orders" {
                                    slowdown
                                } else {
                                    1.0
                                };
                                let wait = delay(route, n, factor);
                                let _ =
                                    tokio::task::spawn_blocking(move || std::thread::sleep(wait))
                                        .await;
                                let mut r = Response::new(Full::new(Bytes::from_static(
                                    b"{\"ok\":true,\"items\":[1,2,3]}\n",
                                )));
                                *r.status_mut() = StatusCode::OK;
                                Ok::<_, Infallible>(r)
                            }
                        });
                    let io = hyper_util::rt::TokioIo::new(tcp);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        Shop {
            addr,
            requests,
            runtime: Some(runtime),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Runs a reel command in-process; its exit status code and the JSON it wrote to `json`.
fn run(argv: &[&str], json: &Path) -> (u8, Value) {
    let mut full: Vec<String> = vec!["reel".into()];
    full.extend(argv.iter().map(|s| s.to_string()));
    full.push(format!("--json={}", json.display()));
    let cli = reel::cli::Cli::try_parse_from(&full).unwrap();
    let code = match reel::cmd::dispatch(cli) {
        Ok(status) => status.code(),
        Err(e) => reel::exit::classify(&e).code(),
    };
    let value = std::fs::read_to_string(json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (code, value)
}

/// Endpoint → latency verdict.
fn verdicts(json: &Value) -> BTreeMap<String, String> {
    json["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["endpoint"].as_str().unwrap().to_owned(),
                e["shift"]["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// What each gate said: expression, verdict, values.
fn gate_lines(json: &Value) -> Vec<String> {
    json["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            format!(
                "{} {} {} {} {}",
                g["expr"], g["verdict"], g["value"], g["reference"], g["failed"]
            )
        })
        .collect()
}

#[test]
fn a_slower_candidate_fails_its_gate_on_that_endpoint_only_and_compare_agrees() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempdir();
    let log = shop_log(dir.path());
    let (baseline, candidate) = (Shop::start(1.0), Shop::start(SLOWDOWN));
    let results = dir.path().join("ab.reel");
    let report = dir.path().join("ab.html");
    let gate = format!("{SLOWED}::p50 > 1.1x");
    let (code, json) = replay(
        dir.path(),
        &[
            log.to_str().unwrap(),
            "--target",
            &candidate.url(),
            "--baseline-target",
            &baseline.url(),
            "--speed",
            "4x",
            "--loop",
            "--limit",
            "1280",
            "--max-connections",
            "64",
            "--timeout",
            "5s",
            "--fail-if",
            &gate,
            "--fail-if",
            "error-rate > 0.5%",
            "--results",
            results.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{json:#}");
    // Every request went to both servers.
    assert_eq!((candidate.requests(), baseline.requests()), (1280, 1280));

    // The replay's own keys, the baseline's, and the comparison's.
    assert_eq!(json["sent"], 1280);
    assert_eq!(json["baseline"]["sent"], 1280);
    assert_eq!(json["baseline"]["completed"], 1280);
    assert_eq!(json["errors"]["total"], 0);
    assert_eq!(json["passed"], false);
    assert_eq!(json["reference"], "baseline");
    assert_eq!(json["report"], report.display().to_string());
    assert_eq!(json["counts"]["candidate"], 1280);
    assert_eq!(json["counts"]["baseline"], 1280);
    assert_eq!(json["counts"]["unpaired_candidate"], 0);
    let gates = json["gates"].as_array().unwrap();
    // Changed on purpose (issue 12): the implicit --max-error-rate gate comes last.
    assert_eq!(gates.len(), 3);
    assert_eq!(gates[2]["implicit"], true);
    assert_eq!(
        (&gates[0]["expr"], &gates[0]["verdict"], &gates[0]["failed"]),
        (
            &Value::from(gate.as_str()),
            &Value::from("fail"),
            &Value::from(true)
        )
    );
    assert_eq!(gates[0]["scope"], SLOWED);
    assert_eq!(
        (&gates[1]["verdict"], &gates[1]["failed"]),
        (&Value::from("pass"), &Value::from(false))
    );

    // The verdict flips only on the slowed endpoint.
    let v = verdicts(&json);
    assert_eq!(v.get(SLOWED).map(String::as_str), Some("slower"), "{v:?}");
    let others: Vec<(&String, &String)> = v.iter().filter(|(e, _)| *e != SLOWED).collect();
    assert!(
        others
            .iter()
            .all(|(_, verdict)| *verdict == "same" || *verdict == "not enough data"),
        "{v:?}"
    );
    let same = others
        .iter()
        .filter(|(_, verdict)| *verdict == "same")
        .count();
    assert!(same >= 5, "{v:?}");
    assert_eq!(json["endpoints"][0]["endpoint"], SLOWED, "worst first");
    assert_eq!(json["endpoints"][0]["gate_failures"], 1);

    // The results log holds both roles, each request's two results at the same intended time.
    let all = read_results(&results);
    assert_eq!(all.len(), 2560);
    let mut intended: HashMap<(u64, u32, u32), [Option<u64>; 2]> = HashMap::new();
    for r in &all {
        let slot = intended.entry((r.conn, r.index, r.iteration)).or_default();
        assert!(slot[r.role as usize].is_none(), "one result per role");
        slot[r.role as usize] = Some(r.intended_ns);
    }
    assert_eq!(intended.len(), 1280);
    assert!(
        intended.values().all(|[c, b]| c.is_some() && c == b),
        "both roles at the same intended moment"
    );
    assert_eq!(
        all.iter().filter(|r| r.role == 1).count(),
        1280,
        "baseline results"
    );
    assert!(all.iter().all(|r| r.target
        == if r.role == 0 {
            candidate.url()
        } else {
            baseline.url()
        }));

    // The report has its sections, and shows the baseline against production too.
    let html = std::fs::read_to_string(&report).unwrap();
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
    assert!(html.contains(&candidate.url()) && html.contains(&baseline.url()));
    assert!(html.contains("baseline"), "baseline named in the report");

    // `reel compare` on the results log gives the same verdicts.
    let (code_again, again) = run(
        &[
            "compare",
            results.to_str().unwrap(),
            "--timeout",
            "5s",
            "--fail-if",
            &gate,
            "--fail-if",
            "error-rate > 0.5%",
        ],
        &dir.path().join("compare.json"),
    );
    assert_eq!(code_again, 1);
    assert_eq!(gate_lines(&again), gate_lines(&json));
    assert_eq!(verdicts(&again), v);
    assert_eq!(again["overall"], json["overall"]);
    assert_eq!(again["counts"], json["counts"]);
}

#[test]
fn gates_that_hold_exit_0_with_pooled_connections() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempdir();
    let log = shop_log(dir.path());
    let (baseline, candidate) = (Shop::start(1.0), Shop::start(SLOWDOWN));
    let (code, json) = replay(
        dir.path(),
        &[
            log.to_str().unwrap(),
            "--target",
            &candidate.url(),
            "--baseline-target",
            &baseline.url(),
            "--connections",
            "pool",
            "--concurrency",
            "4",
            "--rate",
            "400/s",
            "--limit",
            "400",
            "--fail-if",
            "error-rate > 1%",
            "--fail-if",
            "GET /api/users/{id}::p50 > 1.5x",
            "--fail-if",
            "status-mismatch > 0%",
        ],
    );
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["passed"], true);
    assert_eq!((candidate.requests(), baseline.requests()), (400, 400));
    assert_eq!(json["baseline"]["completed"], 400);
    let verdicts: Vec<&Value> = json["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| &g["verdict"])
        .collect();
    // The last is the implicit --max-error-rate gate (issue 12).
    assert_eq!(verdicts, ["pass", "pass", "pass", "pass"]);
    // Without --report there is no report key value.
    assert_eq!(json["report"], Value::Null);
}

#[test]
fn a_bad_expression_exits_2_with_its_column_before_anything_is_sent() {
    let dir = tempdir();
    let log = shop_log(dir.path());
    let server = Shop::start(1.0);
    let out = Command::cargo_bin("reel")
        .unwrap()
        .args([
            "replay",
            log.to_str().unwrap(),
            "--target",
            &server.url(),
            "--fail-if",
            "error-rate > 0.5%",
            "--fail-if",
            "p99 > 1.2",
        ])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(
            "error: --fail-if 'p99 > 1.2': column 7: p99 is a latency and needs a unit"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("\n    p99 > 1.2\n          ^"), "{stderr}");
    assert_eq!(server.requests(), 0, "nothing sent");
}

#[test]
fn help_documents_the_gate_grammar_with_examples() {
    let out = Command::cargo_bin("reel")
        .unwrap()
        .args(["replay", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--fail-if <EXPR>",
        "--baseline-target <URL>",
        "--report <FILE.html>",
        "--strict",
        "--min-samples <N>",
        "--endpoint-rule <REGEX=>NAME>",
        "EXPR    [SCOPE '::'] METRIC OP VALUE",
        "--fail-if 'GET /api/users/{id}::p50 > +20ms'",
        "1 a --fail-if gate failed",
    ] {
        assert!(help.contains(needle), "{needle:?} missing from:\n{help}");
    }
}

#[test]
fn rate_max_with_a_baseline_and_compare_alone() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempdir();
    let log = shop_log(dir.path());
    let (baseline, candidate) = (Shop::start(1.0), Shop::start(1.0));
    let (code, json) = replay(
        dir.path(),
        &[
            log.to_str().unwrap(),
            "--target",
            &candidate.url(),
            "--baseline-target",
            &baseline.url(),
            "--rate",
            "max",
            "--concurrency",
            "8",
            "--limit",
            "300",
        ],
    );
    assert_eq!(code, 0, "{json:#}");
    assert_eq!((candidate.requests(), baseline.requests()), (300, 300));
    assert_eq!(
        (&json["sent"], &json["baseline"]["sent"]),
        (&300.into(), &300.into())
    );
    // Changed on purpose (issue 12): the implicit --max-error-rate gate is always listed.
    let gates = json["gates"].as_array().unwrap();
    assert_eq!(gates.len(), 1, "{json:#}");
    assert_eq!(
        (
            &gates[0]["expr"],
            &gates[0]["implicit"],
            &gates[0]["verdict"]
        ),
        (&"error-rate > 5%".into(), &true.into(), &"pass".into())
    );
    assert_eq!(json["passed"], true);
    assert_eq!(json["counts"]["candidate"], 300);
    assert_eq!(json["counts"]["baseline"], 300);

    // Without a comparison flag the JSON has the replay's keys only.
    let (code, json) = replay(
        dir.path(),
        &[
            log.to_str().unwrap(),
            "--target",
            &candidate.url(),
            "--limit",
            "20",
            "--rate",
            "max",
        ],
    );
    assert_eq!(code, 0);
    // Changed on purpose (issue 12): no comparison, but the implicit gate, read on the counts.
    assert!(json.get("endpoints").is_none());
    assert_eq!(json["gates"][0]["expr"], "error-rate > 5%");
    assert_eq!(json["passed"], true);
    assert_eq!(json["baseline"], Value::Null);

    // --compare alone: the comparison with no gates, against production.
    let (code, json) = replay(
        dir.path(),
        &[
            log.to_str().unwrap(),
            "--target",
            &candidate.url(),
            "--limit",
            "20",
            "--rate",
            "max",
            "--compare",
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(json["reference"], "production");
    assert_eq!(json["overall"]["staging"]["requests"], 20);
}
