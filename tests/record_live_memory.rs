//! The memory cap under floods, live: generated packet sequences — thousands of half-open
//! connections each holding a partial request head, and one request whose body never ends — are
//! sent on the server's veth (raw frames from Python, to a MAC address no host has, so no stack
//! answers them) while `reel record --max-memory 2MiB` captures. The pipeline's own accounting
//! must show the budget held (peak ≤ the cap), the largest connections given up and counted, and
//! the capture still recording real requests after the flood.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::exchanges::{exchanges, read_log};
use common::{LiveReel, NetPair, Nginx, SERVER_IP, can_use_netns, which};
use nix::sys::signal::Signal;

/// Sends the floods: `argv`: interface, half-open connections, body megabytes.
const FLOOD: &str = r#"
import socket, struct, sys
iface, conns, body_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
eth = bytes.fromhex("020000000099" "020000000098") + b"\x08\x00"
client, server = socket.inet_aton("10.77.0.50"), socket.inet_aton("10.77.0.1")
def send(sport, seq, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, 8080, seq, 1, 5 << 4, flags, 65535, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, client, server)
    s.send(eth + ip + tcp)
SYN, PSH_ACK = 0x02, 0x18
# One request whose body never ends.
send(30000, 1000, SYN)
head = b"POST /upload HTTP/1.1\r\nHost: flood\r\nContent-Length: 1000000000\r\n\r\n"
send(30000, 1001, PSH_ACK, head)
seq = 1001 + len(head)
chunk = b"b" * 1400
for _ in range(body_mb * 1024 * 1024 // len(chunk)):
    send(30000, seq, PSH_ACK, chunk)
    seq += len(chunk)
# Many half-open connections, each with a request head that never completes.
for i in range(conns):
    sport = 20000 + i
    send(sport, 5000, SYN)
    send(sport, 5001, PSH_ACK, b"GET /half-open/%d HTTP/1.1\r\nX-Fill: " % i + b"a" * 1000)
"#;

#[test]
fn floods_stay_within_the_memory_budget() {
    if !can_use_netns("floods_stay_within_the_memory_budget") {
        return;
    }
    assert!(which("python3").is_some(), "python3 is needed");
    let net = NetPair::new();
    let nginx = Nginx::start(Some(&net.server), SERVER_IP, 8080);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("flood.reel");
    let json = dir.path().join("flood.json");
    let script = dir.path().join("flood.py");
    std::fs::write(&script, FLOOD).unwrap();
    const BUDGET: u64 = 2 << 20;
    let mut reel = LiveReel::start(
        &net.server,
        &[
            "-i",
            &net.server_if,
            "--port",
            "8080",
            "-o",
            log.to_str().unwrap(),
            "--max-memory",
            "2MiB",
            "--max-flow-memory",
            "1MiB",
            &format!("--json={}", json.display()),
        ],
    );
    let out = net
        .in_server(&[
            "python3",
            script.to_str().unwrap(),
            &net.server_if,
            "3000",
            "16",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Real requests after the flood are still recorded.
    for i in 0..5 {
        let url = format!("http://{SERVER_IP}:8080/api/users/{i}");
        assert!(
            net.in_client(&["curl", "-s", "-o", "/dev/null", &url])
                .status()
                .unwrap()
                .success()
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    let peak_seen = reel.metric("reel_record_memory_peak_bytes").unwrap();
    let status = reel.stop(Signal::SIGTERM, Duration::from_secs(15)).unwrap();
    assert!(status.success(), "{}", reel.stderr());
    eprintln!("{}", reel.stderr());

    let totals: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let peak = totals["peak_memory_bytes"].as_u64().unwrap();
    let given_up = totals["memory_give_ups"].as_u64().unwrap();
    assert!(peak <= BUDGET, "peak {peak} over the {BUDGET}-byte budget");
    assert!(
        peak > BUDGET / 2,
        "peak {peak}: the flood did not reach the budget"
    );
    assert!(peak_seen <= BUDGET);
    // The endless body, and enough half-open connections for 3000 × ~1 kB to fit in 2 MiB.
    assert!(given_up >= 500, "only {given_up} connections given up");
    assert_eq!(totals["kernel_drops"], 0);
    let records = read_log(&log);
    let closing = match records.last() {
        Some(reel::exchange::Record::Closing(c)) => c.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(closing.get("tcp.given_up_flows"), Some(given_up));
    // What did not fit was given up: at least the flood's bytes beyond the budget.
    let given_up_bytes = closing.get("tcp.given_up_bytes").unwrap();
    assert!(
        given_up_bytes >= 3000 * 1000 - BUDGET,
        "{given_up_bytes} bytes given up"
    );
    // The five real requests are there, answered, whatever the flood did.
    let real: Vec<_> = exchanges(&records)
        .into_iter()
        .filter(|x| x.request.client.ip().to_string() == common::CLIENT_IP)
        .collect();
    assert_eq!(real.len(), 5);
    assert!(real.iter().all(|x| x.status() == Some(200)));
    drop(nginx);
}
