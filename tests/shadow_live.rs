//! `reel shadow` with real parts: three network namespaces — clients, production (nginx, where
//! reel runs) and staging (a second nginx, or a hyper server of the test's own that sleeps, or
//! nothing), staging reachable from production's namespace only, on production's own port. reel
//! captures on `any`, so its own connections to staging are visible to the capture and must be
//! kept out of it.
//!
//! Checked against the servers' access logs and reel's figures: every production request is
//! captured, each arrives at staging with the same method and target (after rewrites and
//! redaction), in production's order per connection, and nothing from reel itself is captured
//! (staging gets exactly what reel sent, production's log has exactly what reel captured). With
//! staging stopped or slow, capture still counts every request, and what could not be sent is
//! dropped and counted by reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::exchanges::read_log;
use common::{
    AccessEntry, LiveReel, NetPair, Nginx, SERVER_IP, STAGING_IP, SlowServer, StagingNet,
    can_use_netns, full_speed_lock, read_access_log, which, wrk_api_mix,
};
use nix::sys::signal::Signal;
use reel::exchange::{ErrorKind, Record};

fn json_of(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn curl(net: &NetPair, args: &[&str]) {
    let mut full = vec!["curl", "-s", "-m", "5", "-o", "/dev/null"];
    full.extend_from_slice(args);
    assert!(net.in_client(&full).status().unwrap().success(), "{args:?}");
}

/// Production's target as staging must see it: `--rewrite-url` applied, and the `token` query
/// value hidden (it is redacted with a keyed hash on the way).
fn expected_target(target: &str) -> String {
    let re = regex::Regex::new(r"^/api/users/(\d+)$").unwrap();
    let rewritten = re.replace(target, "/api/users/$1?shadow=1").into_owned();
    hide_token(&rewritten)
}

fn hide_token(target: &str) -> String {
    let re = regex::Regex::new(r"token=[^&]*").unwrap();
    re.replace_all(target, "token=*").into_owned()
}

/// Requests per connection (nginx's connection serial), in order.
fn by_connection(
    log: &[AccessEntry],
    map: impl Fn(&str) -> String,
) -> BTreeMap<u64, Vec<(String, String)>> {
    let mut conns: BTreeMap<u64, Vec<(u64, String, String)>> = BTreeMap::new();
    for e in log {
        conns
            .entry(e.conn)
            .or_default()
            .push((e.number, e.method.clone(), map(&e.target)));
    }
    conns
        .into_iter()
        .map(|(c, mut v)| {
            v.sort();
            (c, v.into_iter().map(|(_, m, t)| (m, t)).collect())
        })
        .collect()
}

/// True when `part` appears within `whole` in order (not necessarily adjacent).
fn is_subsequence(part: &[(String, String)], whole: &[(String, String)]) -> bool {
    let mut rest = whole.iter();
    part.iter().all(|p| rest.any(|w| w == p))
}

#[test]
fn staging_on_the_same_port_gets_production_in_order_and_reel_never_captures_itself() {
    let test = "staging_on_the_same_port_gets_production_in_order_and_reel_never_captures_itself";
    if !can_use_netns(test) {
        return;
    }
    let have_wrk = which("wrk").is_some();
    assert!(
        have_wrk || std::env::var_os("CI").is_none(),
        "wrk is needed in CI (scripts/setup installs it)"
    );
    let _lock = full_speed_lock();
    let net = NetPair::new();
    let staging_net = StagingNet::new(&net);
    let production = Nginx::start(Some(&net.server), SERVER_IP, 8080);
    let staging = Nginx::start(Some(&staging_net.ns), STAGING_IP, 8080);
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("shadow.reel");
    let json = dir.path().join("shadow.json");
    let mut reel = LiveReel::start_command(
        &net.server,
        "shadow",
        &[
            "--interface",
            "any",
            "--port",
            "8080",
            "--target",
            &format!("http://{STAGING_IP}:8080"),
            "--rewrite-url",
            r"^/api/users/(\d+)$=>/api/users/$1?shadow=1",
            "--redact-param",
            "token",
            "--results",
            results.to_str().unwrap(),
            &format!("--json={}", json.display()),
            "--fail-if",
            "error-rate > 5%",
            "--stats-interval",
            "1s",
        ],
    );
    let base = format!("http://{SERVER_IP}:8080");
    let user5 = format!("{base}/api/users/5");
    let user6 = format!("{base}/api/users/6/orders");
    let search = format!("{base}/api/search?q=caf%C3%A9&token=s3cret&page=2");
    let orders = format!("{base}/api/orders");
    // One connection, three requests.
    let null = "/dev/null";
    curl(&net, &[&user5, "-o", null, &user6, "-o", null, &search]);
    curl(&net, &["-X", "POST", "-d", r#"{"user":7}"#, &orders]);
    curl(&net, &["-I", &format!("{base}/static/app.js")]);
    if have_wrk {
        wrk_api_mix(&net, &base, 4, 2);
    }
    std::thread::sleep(Duration::from_millis(1500));
    // Figures are served while shadowing.
    let captured = reel.metric("reel_shadow_requests_total").unwrap();
    assert!(captured >= 5, "{captured}");
    assert!(reel.metric("reel_shadow_window_exchanges").is_some());

    let status = reel
        .stop(Signal::SIGTERM, Duration::from_secs(30))
        .expect("reel shadow did not exit after SIGTERM");
    let stderr = reel.stderr();
    assert!(status.success(), "{status}: {stderr}");
    assert!(
        stderr.contains(" stats: packets "),
        "no stats line: {stderr}"
    );
    assert!(
        stderr.contains("; staging "),
        "no window in the stats: {stderr}"
    );
    let totals = json_of(&json);
    eprintln!("{stderr}");

    let prod_log = read_access_log(&production.access_log());
    let staging_log = read_access_log(&staging.access_log());
    // Nothing of reel's own traffic was captured: what it captured is production's log exactly,
    // and staging got exactly what reel sent (no request shadowed twice, none looping).
    assert_eq!(totals["requests"].as_u64().unwrap(), prod_log.len() as u64);
    assert_eq!(totals["kernel_drops"], 0);
    assert_eq!(totals["queue_drops"], 0);
    assert_eq!(totals["sent"].as_u64().unwrap(), staging_log.len() as u64);
    let dropped = totals["dropped"]["total"].as_u64().unwrap();
    assert_eq!(
        totals["sent"].as_u64().unwrap() + dropped,
        totals["shadow_requests"].as_u64().unwrap()
    );
    assert_eq!(totals["shadow_requests"], totals["requests"]);
    assert_eq!(totals["errors"]["total"], 0);
    assert_eq!(totals["passed"], true);
    assert!(
        staging_log.len() > if have_wrk { 500 } else { 5 },
        "only {} requests reached staging ({dropped} dropped)",
        staging_log.len()
    );

    // Each staging connection carries, in order, requests of one production connection.
    let prod_conns = by_connection(&prod_log, expected_target);
    let staging_conns = by_connection(&staging_log, hide_token);
    assert!(staging_conns.len() <= prod_conns.len());
    for (c, seq) in &staging_conns {
        assert!(
            prod_conns.values().any(|p| is_subsequence(seq, p)),
            "staging connection {c} is in no production connection's order: {seq:?}"
        );
    }
    // The rewrite and the redaction reached staging.
    let targets: Vec<&str> = staging_log.iter().map(|e| e.target.as_str()).collect();
    assert!(targets.contains(&"/api/users/5?shadow=1"), "{targets:?}");
    let search = targets
        .iter()
        .find(|t| t.starts_with("/api/search?q=caf%C3%A9"))
        .unwrap();
    assert!(
        !search.contains("s3cret") && search.contains("token="),
        "{search}"
    );

    // The results log: one result per request sent, with production's status joined.
    let records = read_log(&results);
    assert!(matches!(records.first(), Some(Record::Meta(m)) if m.command == "shadow"));
    let answered: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Result(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(answered.len() as u64, totals["sent"].as_u64().unwrap());
    assert!(answered.iter().all(|r| r.error.is_none()));
    let joined = answered.iter().filter(|r| r.prod_status.is_some()).count();
    assert_eq!(joined as u64, totals["joined"].as_u64().unwrap());
    assert!(
        joined * 100 >= answered.len() * 99,
        "{joined} of {}",
        answered.len()
    );
    assert!(matches!(records.last(), Some(Record::Closing(_))));
}

/// Starts shadow in `net`'s server namespace to staging's address, with small bounds.
fn start_shadow(net: &NetPair, dir: &std::path::Path, extra: &[&str]) -> LiveReel {
    let results = dir.join("results.reel");
    let json = dir.join("shadow.json");
    let mut args = vec![
        "-i".to_string(),
        "any".into(),
        "--port".into(),
        "8080".into(),
        "--target".into(),
        format!("http://{STAGING_IP}:8080"),
        "--results".into(),
        results.display().to_string(),
        format!("--json={}", json.display()),
        "--stats-interval".into(),
        "1s".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    LiveReel::start_command(&net.server, "shadow", &args)
}

/// Drives production with curl and (when present) wrk for a second.
fn drive(net: &NetPair) {
    let base = format!("http://{SERVER_IP}:8080");
    for i in 0..5 {
        curl(net, &[&format!("{base}/api/users/{i}")]);
    }
    if which("wrk").is_some() {
        wrk_api_mix(net, &base, 4, 1);
    }
    std::thread::sleep(Duration::from_millis(500));
}

#[test]
fn with_staging_down_every_request_is_still_captured_and_counted_as_a_connect_drop() {
    let test = "with_staging_down_every_request_is_still_captured_and_counted_as_a_connect_drop";
    if !can_use_netns(test) {
        return;
    }
    let _lock = full_speed_lock();
    let net = NetPair::new();
    let _staging_net = StagingNet::new(&net);
    let production = Nginx::start(Some(&net.server), SERVER_IP, 8080);
    let dir = tempfile::tempdir().unwrap();
    // Files are written after the switch to --user: the directory must let that user in.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    // Nothing listens at staging's address: every connection is refused.
    let mut reel = start_shadow(&net, dir.path(), &["--user", "nobody"]);
    drive(&net);
    let status = reel.stop(Signal::SIGTERM, Duration::from_secs(30)).unwrap();
    let stderr = reel.stderr();
    // Changed on purpose (issue 12): a shadow whose staging answered nothing tested nothing:
    // exit 3 with the cause, after its figures.
    assert_eq!(status.code(), Some(3), "{status}: {stderr}");
    assert!(
        stderr.contains(&format!(
            "error: no response from http://{STAGING_IP}:8080: connection refused × "
        )),
        "{stderr}"
    );
    let totals = json_of(&dir.path().join("shadow.json"));
    let prod_log = read_access_log(&production.access_log());
    assert_eq!(totals["requests"].as_u64().unwrap(), prod_log.len() as u64);
    assert_eq!(totals["queue_drops"], 0);
    assert_eq!(totals["sent"], 0);
    let wanted = totals["shadow_requests"].as_u64().unwrap();
    assert_eq!(wanted, prod_log.len() as u64);
    let dropped = &totals["dropped"];
    // Every shadow request reached its connection, which could not connect; or, with staging
    // refusing faster than production answers, found its connection busy refusing the previous.
    assert_eq!(dropped["total"].as_u64().unwrap(), wanted, "{dropped}");
    assert!(dropped["connect"].as_u64().unwrap() > 0, "{dropped}");
    assert_eq!(dropped["queue_full"], 0);
    assert_eq!(dropped["max_connections"], 0);
    assert_eq!(
        totals["errors"]["connect_refused"].as_u64().unwrap(),
        dropped["connect"].as_u64().unwrap()
    );
    // The refused ones are results too (so error-rate gates see a staging that is down).
    let refused = read_log(&dir.path().join("results.reel"))
        .into_iter()
        .filter(|r| {
            matches!(r, Record::Result(r) if r.error == Some(ErrorKind::ConnectRefused) && r.sent_ns == 0)
        })
        .count();
    assert_eq!(refused as u64, dropped["connect"].as_u64().unwrap());
}

#[test]
fn a_slow_staging_never_slows_the_capture_and_drops_are_counted_by_reason() {
    let test = "a_slow_staging_never_slows_the_capture_and_drops_are_counted_by_reason";
    if !can_use_netns(test) {
        return;
    }
    let _lock = full_speed_lock();
    let net = NetPair::new();
    let staging_net = StagingNet::new(&net);
    let production = Nginx::start(Some(&net.server), SERVER_IP, 8080);
    let slow = SlowServer::start(
        &staging_net.ns,
        &format!("{STAGING_IP}:8080"),
        Duration::from_millis(100),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut reel = start_shadow(
        &net,
        dir.path(),
        &[
            "--max-inflight",
            "2",
            "--max-pending",
            "6",
            "--timeout",
            "5s",
        ],
    );
    drive(&net);
    let status = reel.stop(Signal::SIGTERM, Duration::from_secs(30)).unwrap();
    let stderr = reel.stderr();
    assert!(status.success(), "{status}: {stderr}");
    let totals = json_of(&dir.path().join("shadow.json"));
    let prod_log = read_access_log(&production.access_log());
    // The capture missed nothing while staging crawled.
    assert_eq!(totals["requests"].as_u64().unwrap(), prod_log.len() as u64);
    assert_eq!(totals["kernel_drops"], 0);
    assert_eq!(totals["queue_drops"], 0);
    let wanted = totals["shadow_requests"].as_u64().unwrap();
    let sent = totals["sent"].as_u64().unwrap();
    let dropped = &totals["dropped"];
    assert_eq!(
        sent + dropped["total"].as_u64().unwrap(),
        wanted,
        "{dropped}"
    );
    // Staging got exactly what was sent; each was answered within the grace.
    assert_eq!(
        slow.requests.load(std::sync::atomic::Ordering::SeqCst),
        sent
    );
    assert_eq!(totals["completed"].as_u64().unwrap(), sent);
    assert_eq!(dropped["connect"], 0);
    assert_eq!(dropped["stopped"], 0);
    if which("wrk").is_some() {
        // At wrk's pace against 100 ms answers, both bounds were reached.
        assert!(
            dropped["connection_busy"].as_u64().unwrap() > 0,
            "{dropped}"
        );
        assert!(dropped["queue_full"].as_u64().unwrap() > 0, "{dropped}");
    }
    // Staging's latency counts from the moment each request was framed: at least the sleep.
    assert!(totals["staging"]["latency_ms"]["p50"].as_f64().unwrap() >= 100.0);
}

#[test]
fn on_production_veth_multiply_sends_each_request_n_times_and_duration_judges_the_gates() {
    let test =
        "on_production_veth_multiply_sends_each_request_n_times_and_duration_judges_the_gates";
    if !can_use_netns(test) {
        return;
    }
    let _lock = full_speed_lock();
    let net = NetPair::new();
    let staging_net = StagingNet::new(&net);
    let production = Nginx::start(Some(&net.server), SERVER_IP, 8080);
    let staging = Nginx::start(Some(&staging_net.ns), STAGING_IP, 8080);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("shadow.json");
    // Captured on production's own veth this time; the first gate is always true (every answer
    // takes time), so it fails, and the run that ends on its own at --duration must exit 1.
    let mut reel = LiveReel::start_command(
        &net.server,
        "shadow",
        &[
            "-i",
            &net.server_if,
            "--port",
            "8080",
            "--target",
            &format!("http://{STAGING_IP}:8080"),
            "--multiply",
            "3",
            "--duration",
            "4s",
            "--fail-if",
            "p50 > 0ms",
            "--fail-if",
            "error-rate > 5%",
            &format!("--json={}", json.display()),
        ],
    );
    let base = format!("http://{SERVER_IP}:8080");
    for i in 0..20 {
        curl(&net, &[&format!("{base}/api/users/{i}")]);
    }
    curl(
        &net,
        &["-X", "POST", "-d", "{}", &format!("{base}/api/orders")],
    );
    // No signal: --duration ends the run.
    let status = reel
        .stop(Signal::SIGCONT, Duration::from_secs(20))
        .expect("reel shadow did not end at --duration");
    let stderr = reel.stderr();
    let totals = json_of(&json);
    let prod_log = read_access_log(&production.access_log());
    let staging_log = read_access_log(&staging.access_log());
    assert_eq!(prod_log.len(), 21);
    assert_eq!(totals["requests"].as_u64().unwrap(), 21, "{stderr}");
    assert_eq!(totals["shadow_requests"].as_u64().unwrap(), 63, "{stderr}");
    assert_eq!(totals["sent"].as_u64().unwrap(), 63, "{stderr}");
    assert_eq!(staging_log.len(), 63);
    // Each production request three times at staging, same method and target.
    let mut want: BTreeMap<(String, String), usize> = BTreeMap::new();
    for e in &prod_log {
        *want
            .entry((e.method.clone(), e.target.clone()))
            .or_default() += 3;
    }
    let mut got: BTreeMap<(String, String), usize> = BTreeMap::new();
    for e in &staging_log {
        *got.entry((e.method.clone(), e.target.clone())).or_default() += 1;
    }
    assert_eq!(got, want);
    // The always-true gate failed, the error-rate one passed: exit 1.
    assert_eq!(totals["passed"], false, "{stderr}\n{totals}");
    assert_eq!(status.code(), Some(1), "{stderr}");
}

/// `--results` on a disk that fills up: the shadow stops there with exit 3 and one line naming the
/// file, rather than go on shadowing with nothing recorded. The 8 KiB tmpfs is mounted inside
/// `ip netns exec`'s own mount namespace, so it goes when reel does.
#[test]
fn a_results_disk_filling_up_stops_the_shadow_with_exit_3() {
    let test = "a_results_disk_filling_up_stops_the_shadow_with_exit_3";
    if !can_use_netns(test) {
        return;
    }
    let _lock = full_speed_lock();
    let net = NetPair::new();
    let staging_net = StagingNet::new(&net);
    let _production = Nginx::start(Some(&net.server), SERVER_IP, 8080);
    let _staging = Nginx::start(Some(&staging_net.ns), STAGING_IP, 8080);
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mnt = mnt.display().to_string();
    let script = format!(
        "mount -t tmpfs -o size=8k reel-full {mnt} || exit 97
         exec {} shadow -i {} --port 8080 --target http://{STAGING_IP}:8080 --results {mnt}/r.reel",
        env!("CARGO_BIN_EXE_reel"),
        net.server_if
    );
    let child = common::netns_command(&net.server, &["sh", "-c", &script])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut reel = common::Guard::new(child);
    std::thread::sleep(Duration::from_millis(1500));
    let base = format!("http://{SERVER_IP}:8080");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = reel.child.as_mut().unwrap().try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "reel shadow went on with a full results disk"
        );
        if which("wrk").is_some() {
            wrk_api_mix(&net, &base, 4, 1);
        } else {
            for i in 0..50 {
                curl(&net, &[&format!("{base}/api/users/{i}")]);
            }
        }
    };
    let mut stderr = String::new();
    use std::io::Read;
    reel.child
        .take()
        .unwrap()
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(3), "{stderr}");
    let error = format!("{mnt}/r.reel.part: No space left on device (os error 28)");
    assert!(
        stderr.contains(&format!("{error}: stopping the shadow")),
        "{stderr}"
    );
    assert!(stderr.ends_with(&format!("error: {error}\n")), "{stderr}");
}
