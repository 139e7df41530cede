//! `reel replay` (the binary, in a client network namespace) into nginx (in a server namespace):
//! nginx's own access log shows every recorded request arrived, once, on the connection it was
//! recorded on, in recorded order (pipelines included), with the production status.

mod common;
mod replay_support;

use std::collections::BTreeMap;

use common::*;
use replay_support::{request, response, tempdir, write_log};

const MS: u64 = 1_000_000;
const T0: u64 = 1_750_000_000_000_000_000;

fn reel_bin() -> String {
    assert_cmd::cargo::cargo_bin("reel").display().to_string()
}

/// Runs `reel replay ARGS` inside the client namespace; returns (exit code, JSON summary).
fn replay_in(pair: &NetPair, dir: &std::path::Path, args: &[&str]) -> (i32, serde_json::Value) {
    let json = dir.join("summary.json");
    let _ = std::fs::remove_file(&json);
    let bin = reel_bin();
    let json_arg = format!("--json={}", json.display());
    let mut argv = vec![bin.as_str(), "replay"];
    argv.extend_from_slice(args);
    argv.push(&json_arg);
    let out = pair.in_client(&argv).output().expect("ip netns exec reel");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    let value = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), value)
}

#[test]
fn nginx_sees_every_recorded_request_in_connection_order() {
    if !can_use_netns("nginx_sees_every_recorded_request_in_connection_order") {
        return;
    }
    let pair = NetPair::new();
    let nginx = Nginx::start(Some(&pair.server), SERVER_IP, 8080);
    let dir = tempdir();
    let log = dir.path().join("api.reel");
    // 40 connections of 6 requests each over the config's routes; in every fourth connection the
    // requests 2 and 3 were pipelined (sent before the response to 1 began).
    let routes: [(&str, &str, u16); 6] = [
        ("GET", "/api/users/{c}", 200),
        ("GET", "/api/users/{c}/orders", 200),
        ("POST", "/api/orders", 201),
        ("GET", "/api/search?q=c{c}&page=2", 200),
        ("DELETE", "/api/users/{c}", 204),
        ("GET", "/api/admin", 403),
    ];
    let mut records = Vec::new();
    let mut expected: BTreeMap<String, Vec<(String, String, u16)>> = BTreeMap::new();
    for c in 0..40u64 {
        let start = T0 + c * 7 * MS;
        let pipelined = c % 4 == 0;
        for (i, (method, target, status)) in routes.iter().enumerate() {
            let target = target.replace("{c}", &c.to_string());
            let body = if *method == "POST" {
                "{\"item\":1}"
            } else {
                ""
            };
            let req = if body.is_empty() {
                format!(
                    "{method} {target} HTTP/1.1\r\nHost: api.prod\r\nUser-Agent: test/{c}\r\n\r\n"
                )
            } else {
                format!(
                    "{method} {target} HTTP/1.1\r\nHost: api.prod\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
            };
            let i = i as u32;
            let t = start + u64::from(i) * 3 * MS;
            let req_ts = if pipelined && i == 2 {
                start + 3 * MS + 10_000
            } else {
                t
            };
            records.push(request(c + 1, i, req_ts, req.as_bytes()));
            let resp_ts = if pipelined && i == 1 {
                t + 2 * MS
            } else {
                t + MS
            };
            records.push(response(c + 1, i, resp_ts.max(req_ts + 1000), *status, MS));
            expected.entry(format!("conn{c:03}")).or_default().push((
                method.to_string(),
                target,
                *status,
            ));
        }
    }
    write_log(&log, records);
    let url = format!("http://{SERVER_IP}:8080");
    let (code, json) = replay_in(
        &pair,
        dir.path(),
        &[log.to_str().unwrap(), "--target", &url, "--speed", "4x"],
    );
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["sent"], 240, "{json}");
    assert_eq!(json["errors"]["total"], 0, "{json}");
    // Staging answered like production did.
    assert_eq!(
        json["staging"]["status"], json["production"]["status"],
        "{json}"
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    let entries = read_access_log(&nginx.access_log());
    assert_eq!(entries.len(), 240);
    let mut by_conn: BTreeMap<u64, Vec<&AccessEntry>> = BTreeMap::new();
    for e in &entries {
        by_conn.entry(e.conn).or_default().push(e);
    }
    assert_eq!(
        by_conn.len(),
        40,
        "one nginx connection per recorded connection"
    );
    let mut got: Vec<Vec<(String, String, u16)>> = by_conn
        .values()
        .map(|es| {
            let mut es = es.clone();
            es.sort_by_key(|e| e.number);
            es.iter()
                .map(|e| (e.method.clone(), e.target.clone(), e.status))
                .collect()
        })
        .collect();
    let mut want: Vec<_> = expected.into_values().collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn a_goreplay_capture_imported_replays_into_nginx() {
    if !can_use_netns("a_goreplay_capture_imported_replays_into_nginx") {
        return;
    }
    let Some(shared) = shared_captures() else {
        return;
    };
    let dir = tempdir();
    let log = dir.path().join("gor.reel");
    let mut reader = reel::log::gor::GorReader::open(shared.join("gor/nginx-sample.gor")).unwrap();
    let mut importer = reel::log::gor::GorImporter::new();
    let mut records = Vec::new();
    while let Some(rec) = reader.next_record().unwrap() {
        records.push(importer.convert(&rec));
    }
    let requests: Vec<String> = records
        .iter()
        .filter_map(|r| match r {
            reel::exchange::Record::Request(m) => Some(
                String::from_utf8_lossy(&m.bytes)
                    .split(' ')
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            _ => None,
        })
        .collect();
    write_log(&log, records);
    let pair = NetPair::new();
    let nginx = Nginx::start(Some(&pair.server), SERVER_IP, 8080);
    let url = format!("http://{SERVER_IP}:8080");
    let (code, json) = replay_in(
        &pair,
        dir.path(),
        &[
            log.to_str().unwrap(),
            "--target",
            &url,
            "--rate",
            "200/s",
            "--rewrite-host",
        ],
    );
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["errors"]["total"], 0, "{json}");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let mut got: Vec<String> = read_access_log(&nginx.access_log())
        .iter()
        .map(|e| format!("{} {}", e.method, e.target))
        .collect();
    let mut want = requests;
    got.sort();
    want.sort();
    assert_eq!(got, want);
}
