//! Capture-time redaction with real traffic: secrets sent by curl to nginx (an Authorization
//! header, a named header, cookies, a query parameter, a form field) appear nowhere in the log —
//! not in `reel cat` output, not in any decompressed block — and the same secret gets the same
//! hash after a restart with the same key file. Neither the secrets nor the key show on `/metrics` or
//! in reel's own log lines.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use common::exchanges::{exchanges, read_log};
use common::{LiveReel, NetPair, Nginx, SERVER_IP, can_use_netns};
use nix::sys::signal::Signal;
use reel::exchange::Record;

const SECRETS: [&str; 5] = [
    "s3cr3t-bearer-71fa",
    "s3cr3t-apikey-29cd",
    "s3cr3t-cookie-88e0",
    "s3cr3t-query-4b1e",
    "s3cr3t-form-c6d2",
];

/// Every block of a log decompressed, per docs/FORMAT.md: a 20-byte file header, then blocks of a
/// 48-byte header (payload length at offset 8, raw length at 12) and a zstd payload.
fn decompressed_blocks(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    let mut at = 20;
    let mut out = Vec::new();
    while at + 48 <= bytes.len() {
        assert_eq!(&bytes[at..at + 8], &reel::log::format::SYNC_MARKER);
        let payload_len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        let raw_len = u32::from_le_bytes(bytes[at + 12..at + 16].try_into().unwrap()) as u64;
        let payload = &bytes[at + 48..at + 48 + payload_len];
        let mut raw = Vec::new();
        zstd::stream::read::Decoder::new(payload)
            .unwrap()
            .take(raw_len)
            .read_to_end(&mut raw)
            .unwrap();
        assert_eq!(raw.len() as u64, raw_len);
        out.extend_from_slice(&raw);
        at += 48 + payload_len;
    }
    assert_eq!(at, bytes.len(), "trailing bytes after the last block");
    out
}

fn reel_cat(path: &Path, format: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_reel"))
        .args(["cat", "--format", format])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One capture run with the redaction flags; returns the log.
fn capture(net: &NetPair, dir: &Path, name: &str, key: &Path) -> std::path::PathBuf {
    let log = dir.join(name);
    let mut reel = LiveReel::start(
        &net.server,
        &[
            "-i",
            &net.server_if,
            "--port",
            "8080",
            "-o",
            log.to_str().unwrap(),
            "--redact-default",
            "--redact-header",
            "X-Api-Key",
            "--redact-param",
            "token",
            "--redact-param",
            "password",
            "--redact-key-file",
            key.to_str().unwrap(),
            "--stats-interval",
            "1s",
            "--verbose",
        ],
    );
    let base = format!("http://{SERVER_IP}:8080");
    let authz = format!("Authorization: Bearer {}", SECRETS[0]);
    let api_key = format!("X-Api-Key: {}", SECRETS[1]);
    let cookie = format!("session={}; theme=dark", SECRETS[2]);
    let search = format!("{base}/api/search?q=shoes&token={}", SECRETS[3]);
    let form = format!("user=ann&password={}&remember=1", SECRETS[4]);
    let orders = format!("{base}/api/orders");
    for args in [
        vec![
            "-H".to_string(),
            authz,
            "-H".into(),
            api_key,
            "-b".into(),
            cookie,
            search,
        ],
        vec!["-d".to_string(), form, orders],
    ] {
        let mut full: Vec<&str> = vec!["curl", "-s", "-o", "/dev/null"];
        full.extend(args.iter().map(|s| s.as_str()));
        assert!(net.in_client(&full).status().unwrap().success());
    }
    std::thread::sleep(Duration::from_millis(300));
    // Nothing reel shows while it runs carries a secret or the key: not /metrics, not its logs.
    let (_, metrics) = reel.get("/metrics").unwrap();
    assert!(metrics.contains("reel_"), "{metrics}");
    let status = reel.stop(Signal::SIGTERM, Duration::from_secs(10)).unwrap();
    let stderr = reel.stderr();
    assert!(status.success(), "{stderr}");
    let key_text = std::fs::read_to_string(key).unwrap();
    for (what, text) in [("/metrics", &metrics), ("stderr", &stderr)] {
        for secret in SECRETS.iter().chain([&key_text.trim()]) {
            assert!(!text.contains(secret), "{secret} in {what}: {text}");
        }
    }
    log
}

#[test]
fn secrets_are_replaced_before_the_log_and_hash_equal_across_restarts() {
    if !can_use_netns("secrets_are_replaced_before_the_log_and_hash_equal_across_restarts") {
        return;
    }
    let net = NetPair::new();
    let nginx = Nginx::start(Some(&net.server), SERVER_IP, 8080);
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("redaction.key");
    std::fs::write(&key, "a key of thirty-two bytes, fixed\n").unwrap();
    let first = capture(&net, dir.path(), "first.reel", &key);
    let second = capture(&net, dir.path(), "second.reel", &key);

    // nginx did get the secrets: they were on the wire.
    let access = std::fs::read_to_string(nginx.access_log()).unwrap();
    assert!(access.contains(SECRETS[3]));

    for log in [&first, &second] {
        let blocks = decompressed_blocks(log);
        let cat_http = reel_cat(log, "http");
        let cat_json = reel_cat(log, "jsonl");
        for secret in SECRETS {
            for (what, text) in [
                (
                    "decompressed blocks",
                    String::from_utf8_lossy(&blocks).into_owned(),
                ),
                ("reel cat --format http", cat_http.clone()),
                ("reel cat --format jsonl", cat_json.clone()),
            ] {
                assert!(
                    !text.contains(secret),
                    "{}: {secret} in {what}",
                    log.display()
                );
            }
        }
        assert!(
            cat_http.contains("Authorization: Bearer reel-redacted-"),
            "{cat_http}"
        );
        assert!(cat_http.contains("; theme=reel-redacted-"), "{cat_http}");
        let records = read_log(log);
        let Some(Record::Meta(meta)) = records.first() else {
            panic!("no meta record");
        };
        assert_eq!(
            meta.redaction_key_id,
            reel::redact::Key::from_file(&key).unwrap().id()
        );
        let Some(Record::Closing(closing)) = records.last() else {
            panic!("no closing record");
        };
        // Bearer, X-Api-Key, two cookies, the query token, the form password.
        assert_eq!(closing.get("redact.values"), Some(6));
        // The form body kept its length: Content-Length still frames it.
        let xs = exchanges(&records);
        assert_eq!(xs.len(), 2);
        let post = &xs[1].request;
        let form_len = "user=ann&password=".len() + SECRETS[4].len() + "&remember=1".len();
        assert_eq!(post.body().len(), form_len);
        assert!(post.body().starts_with(b"user=ann&password="));
        assert_eq!(xs[1].status(), Some(201));
    }
    // Equal secrets hash equal across the restart (same key file).
    let heads = |log: &Path| -> Vec<String> {
        exchanges(&read_log(log))
            .iter()
            .map(|x| String::from_utf8_lossy(x.request.head()).into_owned())
            .collect()
    };
    let (a, b) = (heads(&first), heads(&second));
    let token = |head: &str| {
        let at = head.find("token=").unwrap() + 6;
        head[at..].split(' ').next().unwrap().to_string()
    };
    assert_eq!(token(&a[0]), token(&b[0]));
    assert!(token(&a[0]).starts_with("reel-redacted-"));
}
