#!/usr/bin/env bash
# reel replay beside oha and wrk, in one run, against nginx serving a 1 KiB file across two network
# namespaces joined by a veth pair (server 10.78.0.1, client 10.78.0.2). Prints:
#   1. --rate max at 32 connections: requests/s of reel, oha and wrk (median of 3 runs of 10 s each,
#      interleaved), and reel's ratios to them (contract: reel >= oha, reel >= 0.8 x wrk);
#   2. --rate 5000/s for 20 s: the rate nginx counted in its access log, and reel's lag p99
#      (contract: within 1% of 5000/s, lag p99 < 1 ms);
#   3. peak RSS of reel replaying a 1M-request log (contract: <= 100 MiB).
# Needs root (namespaces), nginx, wrk, python3, and oha (installed with cargo if missing).
# Usage: sudo benches/scripts/replay-vs-oha-wrk.sh [RUN_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "replay-vs-oha-wrk: run as root (network namespaces)" >&2; exit 3; }
RUN_S=${1:-10}
for t in nginx wrk python3 ip; do
  command -v "$t" >/dev/null || { echo "replay-vs-oha-wrk: $t not found (scripts/setup installs it)" >&2; exit 3; }
done
command -v oha >/dev/null || cargo install oha --locked
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --quiet
REEL=$PWD/target/release/reel

WORK=$(mktemp -d /tmp/reel-bench.XXXXXX)
chmod 755 "$WORK"
S=rbs$$; C=rbc$$; VS=rbvs$$; VC=rbvc$$
NGINX_PID=""
cleanup() {
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
  ip netns del "$S" 2>/dev/null || true
  ip netns del "$C" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$S"; ip netns add "$C"
ip link add "$VS" netns "$S" type veth peer name "$VC" netns "$C"
ip -n "$S" addr add 10.78.0.1/24 dev "$VS"; ip -n "$C" addr add 10.78.0.2/24 dev "$VC"
for ns in "$S" "$C"; do ip -n "$ns" link set lo up; done
ip -n "$S" link set "$VS" up; ip -n "$C" link set "$VC" up

mkdir -p "$WORK/www"
head -c 1024 /dev/zero | tr '\0' x > "$WORK/www/1k.bin"
cat > "$WORK/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/body;
  keepalive_requests 1000000;
  server {
    listen 10.78.0.1:8080 reuseport;
    root $WORK/www;
    access_log $WORK/access.log combined buffer=64k flush=1s;
    location / { }
  }
}
EOF
ip netns exec "$S" nginx -c "$WORK/nginx.conf" &
NGINX_PID=$!
URL=http://10.78.0.1:8080
for _ in $(seq 50); do ip netns exec "$C" curl -sf -o /dev/null "$URL/1k.bin" && break; sleep 0.1; done

# Logs to replay: GoReplay files made here, imported with `reel import` (64 recorded connections).
gen_gor() { # N FILE
  python3 - "$1" "$2" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
payload = b"GET /1k.bin HTTP/1.1\r\nHost: bench.example\r\nUser-Agent: reel-bench\r\nAccept: */*\r\n\r\n"
sep = "\n\U0001f435\U0001f648\U0001f649\n".encode()
t0 = 1_750_000_000_000_000_000
with open(path, "wb", buffering=1 << 20) as f:
    for i in range(n):
        conn = i % 64
        f.write(b"1 %016x%08x %d 0\n" % (conn, i // 64, t0 + i * 200_000) + payload + sep)
PY
}
gen_gor 200000 "$WORK/200k.gor"; "$REEL" import "$WORK/200k.gor" -o "$WORK/200k.reel" >/dev/null
gen_gor 1000000 "$WORK/1m.gor"; "$REEL" import "$WORK/1m.gor" -o "$WORK/1m.reel" >/dev/null
rm -f "$WORK"/*.gor
echo "logs: 200k requests $(du -h "$WORK/200k.reel" | cut -f1), 1M requests $(du -h "$WORK/1m.reel" | cut -f1)"

inc() { ip netns exec "$C" "$@"; }
median() { sort -g | sed -n 2p; }

run_reel() {
  inc "$REEL" replay "$WORK/200k.reel" --target "$URL" --rate max --concurrency 32 \
    --duration "${RUN_S}s" --loop --json="$WORK/reel.json" >/dev/null 2>&1
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["achieved_rate"])' "$WORK/reel.json"
}
run_oha() {
  inc oha -z "${RUN_S}s" -c 32 --no-tui --output-format json "$URL/1k.bin" > "$WORK/oha.json" 2>/dev/null \
    || inc oha -z "${RUN_S}s" -c 32 --no-tui -j "$URL/1k.bin" > "$WORK/oha.json"
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["requestsPerSec"])' "$WORK/oha.json"
}
run_wrk() {
  inc wrk -t2 -c32 -d"${RUN_S}s" "$URL/1k.bin" | awk '/Requests\/sec/ {print $2}'
}

echo
echo "== --rate max, 32 connections, ${RUN_S}s runs (median of 3, interleaved)"
: > "$WORK/r.reel.txt"; : > "$WORK/r.oha.txt"; : > "$WORK/r.wrk.txt"
for i in 1 2 3; do
  run_reel >> "$WORK/r.reel.txt"; run_oha >> "$WORK/r.oha.txt"; run_wrk >> "$WORK/r.wrk.txt"
done
REEL_RPS=$(median < "$WORK/r.reel.txt"); OHA_RPS=$(median < "$WORK/r.oha.txt"); WRK_RPS=$(median < "$WORK/r.wrk.txt")
printf '  runs req/s  reel: %s  oha: %s  wrk: %s\n' "$(paste -sd' ' "$WORK/r.reel.txt")" \
  "$(paste -sd' ' "$WORK/r.oha.txt")" "$(paste -sd' ' "$WORK/r.wrk.txt")"
printf '  median      reel %.0f  oha %.0f  wrk %.0f req/s\n' "$REEL_RPS" "$OHA_RPS" "$WRK_RPS"
printf '  ratios      reel/oha %.2f (>= 1.00)  reel/wrk %.2f (>= 0.80)\n' \
  "$(echo "$REEL_RPS / $OHA_RPS" | bc -l)" "$(echo "$REEL_RPS / $WRK_RPS" | bc -l)"

echo
echo "== --rate 5000/s for 20 s (pool of 64 connections)"
sleep 2; : > "$WORK/access.log"; kill -USR1 "$(cat "$WORK/nginx.pid")"; sleep 1.5
inc "$REEL" replay "$WORK/200k.reel" --target "$URL" --rate 5000/s --duration 20s \
  --connections pool --concurrency 64 --json="$WORK/fixed.json" >/dev/null 2>&1
sleep 2.5
COUNTED=$(wc -l < "$WORK/access.log")
python3 - "$WORK/fixed.json" "$COUNTED" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); counted = int(sys.argv[2])
sent = j["sent"]
# nginx counted `counted` requests; reel sent them over its sending window.
window = (sent - 1) / j["achieved_rate"] if j["achieved_rate"] else 0
rate = (counted - 1) / window if window else 0
print(f"  nginx counted {counted} requests (reel sent {sent}, errors {j['errors']['total']})")
print(f"  achieved {rate:.1f}/s as nginx counted it over reel's sending window: {100 * (rate / 5000 - 1):+.2f}% of target (contract: within 1%)")
lag = j["schedule_lag_ms"]
print(f"  lag p50 {lag['p50']:.3f} ms  p99 {lag['p99']:.3f} ms  max {lag['max']:.3f} ms (contract: p99 < 1 ms)")
lat = j["staging"]["latency_ms"]
print(f"  staging latency p50 {lat['p50']:.3f} ms  p99 {lat['p99']:.3f} ms")
PY

echo
echo "== peak RSS replaying a 1M-request log (--rate max, 32 connections)"
inc /usr/bin/time -f '%M' -o "$WORK/rss.txt" "$REEL" replay "$WORK/1m.reel" --target "$URL" \
  --rate max --concurrency 32 --json="$WORK/big.json" >/dev/null 2>&1
python3 - "$WORK/big.json" "$(cat "$WORK/rss.txt")" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); kib = int(sys.argv[2])
print(f"  sent {j['sent']} in {j['duration_s']:.1f} s ({j['achieved_rate']:.0f} req/s), errors {j['errors']['total']}")
print(f"  peak RSS {kib / 1024:.1f} MiB (contract: <= 100 MiB)")
PY
