#!/usr/bin/env bash
# Offline extraction, reel beside tshark, in one run on this machine.
#
# Makes three captures of real traffic (nginx from Debian in one network namespace, wrk or a Python
# client in another, tcpdump -w on the server's veth), then for each capture runs
#   tshark -r F -Y http.request -T fields -e http.request.uri     (tshark's HTTP extraction)
#   reel record --read F --output F.reel                           (median of 3 runs)
# and prints time, MB/s of pcap, requests found, the speed ratio, and log size against the pcap and
# against zstd -3 --long / zstd -19 --long of the pcap.
#
# Usage (root, from the repository root): benches/scripts/extract-vs-tshark.sh [SECONDS_OF_LOAD]
# With REEL_BENCH_KEEP=DIR the captures are kept in DIR (for profiling), and ONLY=api skips the others.
set -euo pipefail
secs=${1:-6}
repo=$(cd "$(dirname "$0")/../.." && pwd)
here="$repo/benches/scripts"
cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
reel="$repo/target/release/reel"
work=$(mktemp -d /tmp/reel-bench.XXXXXX); chmod 755 "$work"
srv=rbs$$ cli=rbc$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns del "$srv" 2>/dev/null || true; ip netns del "$cli" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$srv"; ip netns add "$cli"
ip link add "vb$$s" netns "$srv" type veth peer name "vb$$c" netns "$cli"
ip -n "$srv" addr add 10.77.0.1/24 dev "vb$$s"; ip -n "$cli" addr add 10.77.0.2/24 dev "vb$$c"
for ns in "$srv" "$cli"; do ip -n "$ns" link set lo up; done
ip -n "$srv" link set "vb$$s" up; ip -n "$cli" link set "vb$$c" up
ip netns exec "$srv" ethtool -K "vb$$s" tso off gso off gro off >/dev/null 2>&1 || true
ip netns exec "$cli" ethtool -K "vb$$c" tso off gso off gro off >/dev/null 2>&1 || true

mkdir -p "$work/nginx/www/static"
python3 - "$work/nginx/www/static" <<'PY'
import json, os, random, sys
d = sys.argv[1]
r = random.Random(11)
open(os.path.join(d, "app.js"), "w").write("".join(f"function f{i}(a,b){{return a*{i}+b;}}\n" for i in range(900)))
for name in "abc":  # large JSON documents, each served many times: repeated bodies
    doc = [{"id": i, "sku": f"SKU-{r.randrange(10**8):08d}", "price": r.randrange(100, 99999) / 100,
            "tags": r.sample(["red", "blue", "sale", "new", "eco", "xl", "kids"], 3)} for i in range(2500)]
    open(os.path.join(d, f"big-{name}.json"), "w").write(json.dumps(doc))
for i in range(24):  # random bytes, each served many times
    open(os.path.join(d, f"rand-{i}.bin"), "wb").write(os.urandom(64 * 1024))
PY
sed -e "s#@ROOT@#$work/nginx#g" -e "s#@ADDR@#10.77.0.1#g" "$repo/tests/data/make/nginx.conf" > "$work/nginx/nginx.conf"
ip netns exec "$srv" nginx -c "$work/nginx/nginx.conf" & pids+=($!)
for _ in $(seq 50); do ip netns exec "$cli" curl -sf -o /dev/null http://10.77.0.1:8080/health && break; sleep 0.1; done

capture() { # name -- command...
  local name=$1; shift 2
  ip netns exec "$srv" tcpdump -i "vb$$s" -s 0 -B 65536 -w "$work/$name.pcap" 'tcp port 8080' 2>/dev/null & local tp=$!
  sleep 1; "$@" >/dev/null; sleep 1
  kill -INT "$tp"; wait "$tp" 2>/dev/null || true
}
cat > "$work/random.py" <<'PY'
import http.client, sys, time
c = http.client.HTTPConnection("10.77.0.1", 8080)
end = time.time() + float(sys.argv[1])
i = 0
while time.time() < end:
    c.request("GET", f"/static/rand-{i % 24}.bin?n={i}"); c.getresponse().read(); i += 1
PY
want() { [ -z "${ONLY:-}" ] || [ "$ONLY" = "$1" ]; }
want api && capture api -- ip netns exec "$cli" wrk -t 2 -c 32 -d "${secs}s" -s "$here/api-mix.lua" http://10.77.0.1:8080
want repeated && capture repeated -- ip netns exec "$cli" wrk -t 1 -c 4 -d "$(( secs / 2 + 1 ))s" -s "$here/big-bodies.lua" http://10.77.0.1:8080
want random && capture random -- ip netns exec "$cli" python3 "$work/random.py" "$(( secs / 2 + 1 ))"

now() { date +%s.%N; }
printf '\n%-9s %8s %9s %9s %9s %9s %8s %7s %7s %7s %7s\n' capture pcap_MB tshark_s reel_s tshark_req reel_req speedup reel_MB/s log/pcap zstd-3 zstd-19
for name in api repeated random; do
  f="$work/$name.pcap"
  [ -f "$f" ] || continue
  [ -n "${REEL_BENCH_KEEP:-}" ] && cp "$f" "$REEL_BENCH_KEEP/"
  size=$(stat -c %s "$f")
  t0=$(now); treq=$(tshark -n -r "$f" -Y http.request -T fields -e http.request.uri 2>/dev/null | tr ',' '\n' | grep -c . || true); t1=$(now)
  tshark_s=$(echo "$t1 - $t0" | bc -l)
  times=()
  for run in 1 2 3; do
    rm -f "$work/$name.reel"
    t0=$(now); "$reel" record --read "$f" --output "$work/$name.reel" --json="$work/$name.json" 2>/dev/null; t1=$(now)
    times+=("$(echo "$t1 - $t0" | bc -l)")
  done
  reel_s=$(printf '%s\n' "${times[@]}" | sort -g | sed -n 2p)
  rreq=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['requests'])" "$work/$name.json")
  log=$(stat -c %s "$work/$name.reel")
  z3=$(zstd -3 --long=27 -c -q "$f" | wc -c); z19=$(zstd -19 --long=27 -T2 -c -q "$f" | wc -c)
  printf '%-9s %8.1f %9.2f %9.3f %9d %9d %7.0fx %8.0f %7.3f %7.3f %7.3f\n' "$name" "$(echo "$size/1000000" | bc -l)" \
    "$tshark_s" "$reel_s" "$treq" "$rreq" "$(echo "$tshark_s / $reel_s" | bc -l)" "$(echo "$size / 1000000 / $reel_s" | bc -l)" \
    "$(echo "$log / $size" | bc -l)" "$(echo "$z3 / $size" | bc -l)" "$(echo "$z19 / $size" | bc -l)"
done
