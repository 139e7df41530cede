#!/usr/bin/env bash
# Instruction counts (valgrind callgrind, user space) of two reel binaries side by side, on the same
# inputs: a figure that other processes on the machine do not move, unlike wall-clock time.
#   1. extraction: `reel record --read` of the shipped sample replicated COPIES times (client ports
#      and times shifted per copy, as benches/extract.rs does) into a log;
#   2. replay: `reel replay --rate max --limit N` of a log of N requests against nginx on loopback
#      serving 1 KiB (a pool of 8 connections).
# Usage: benches/scripts/instructions.sh BEFORE_BINARY AFTER_BINARY [COPIES] [REQUESTS]
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 2 ] || { echo "usage: $0 BEFORE_BINARY AFTER_BINARY [COPIES] [REQUESTS]" >&2; exit 2; }
BEFORE=$(realpath "$1"); AFTER=$(realpath "$2"); COPIES=${3:-32}; REQUESTS=${4:-20000}
for t in valgrind nginx python3 curl; do
  command -v "$t" >/dev/null || { echo "instructions: $t not found" >&2; exit 3; }
done

WORK=$(mktemp -d /tmp/reel-instructions.XXXXXX)
chmod 755 "$WORK"
NGINX_PID=""
cleanup() {
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

python3 - captures-sample/shop.pcap "$WORK/replicated.pcap" "$COPIES" <<'PY'
import struct, sys
src, dst, copies = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(src, "rb").read()
head, frames, at = data[:24], [], 24
while at + 16 <= len(data):
    sec, usec, incl, orig = struct.unpack_from("<IIII", data, at)
    frames.append((sec * 1_000_000 + usec, orig, bytearray(data[at + 16:at + 16 + incl])))
    at += 16 + incl
span = frames[-1][0] - frames[0][0] + 1
with open(dst, "wb") as out:
    out.write(head)
    for k in range(copies):
        for ts, orig, frame in frames:
            f = bytearray(frame)
            for p in (34, 36):
                port = struct.unpack_from(">H", f, p)[0]
                if port != 8080:
                    struct.pack_into(">H", f, p, 32768 + (port - 32768 + k * 1000 + 7) % 28000)
            t = ts + k * span
            out.write(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(f), orig))
            out.write(f)
PY
echo "replicated sample: $(du -h "$WORK/replicated.pcap" | cut -f1), $COPIES copies"

# The count callgrind reports for a whole run (every thread), in instructions.
count() { # OUT_PREFIX COMMAND...
  local out=$1; shift
  valgrind --tool=callgrind --callgrind-out-file="$out.%p" "$@" >/dev/null 2>"$out.err" || {
    echo "instructions: run failed: $*" >&2; tail -5 "$out.err" >&2; exit 3; }
  grep -h '^summary:' "$out".[0-9]* | awk '{s += $2} END {print s}'
}

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/www"
head -c 1024 /dev/zero | tr '\0' x > "$WORK/www/1k.bin"
cat > "$WORK/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/body;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$PORT; root $WORK/www; location / { } }
}
EOF
nginx -c "$WORK/nginx.conf" &
NGINX_PID=$!
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/1k.bin" && break; sleep 0.1; done

python3 - "$REQUESTS" "$WORK/requests.gor" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
payload = b"GET /1k.bin HTTP/1.1\r\nHost: bench.example\r\nUser-Agent: reel-bench\r\nAccept: */*\r\n\r\n"
sep = "\n\U0001f435\U0001f648\U0001f649\n".encode()
t0 = 1_750_000_000_000_000_000
with open(path, "wb") as f:
    for i in range(n):
        f.write(b"1 %016x%08x %d 0\n" % (i % 64, i // 64, t0 + i * 200_000) + payload + sep)
PY
"$BEFORE" import "$WORK/requests.gor" -o "$WORK/requests.reel" >/dev/null

printf '%-10s %18s %18s %8s\n' "" "before" "after" "after/before"
for side in before after; do
  bin=$BEFORE; [ $side = after ] && bin=$AFTER
  x=$(count "$WORK/x-$side" "$bin" record --read "$WORK/replicated.pcap" -o "$WORK/x-$side.reel" --force)
  r=$(count "$WORK/r-$side" "$bin" replay "$WORK/requests.reel" --target "http://127.0.0.1:$PORT" \
        --rate max --concurrency 8 --limit "$REQUESTS" --allow-production-target)
  eval "X_$side=$x; R_$side=$r"
done
printf '%-10s %18s %18s %8.4f\n' extraction "$X_before" "$X_after" "$(echo "$X_after / $X_before" | bc -l)"
printf '%-10s %18s %18s %8.4f\n' replay "$R_before" "$R_after" "$(echo "$R_after / $R_before" | bc -l)"
