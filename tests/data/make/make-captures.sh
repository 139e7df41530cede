#!/usr/bin/env bash
# Makes reel's own test captures from real programs: nginx (Debian) and a small raw-socket Python
# server in one network namespace, real clients (Python http.client, raw sockets, curl) in another,
# tcpdump on the server's veth. The server's access log is kept next to each capture as ground truth.
# Run as root from the repository root: tests/data/make/make-captures.sh [NAME...]
# (NAME: shop pipelined odd expect snaplen; all when none is given)
# Outputs: captures-sample/shop.pcap (+ .access.log) and tests/data/*.pcap (+ .access.log).
set -euo pipefail
only=" ${*:-shop pipelined odd expect snaplen} "
want() { [[ "$only" == *" $1 "* ]]; }
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
work=$(mktemp -d /tmp/reel-make.XXXXXX)
chmod 755 "$work"  # nginx workers run as www-data
srv=reelmk-srv-$$ cli=reelmk-cli-$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns del "$srv" 2>/dev/null || true
  ip netns del "$cli" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$srv"; ip netns add "$cli"
ip link add "v$$s" type veth peer name "v$$c"
ip link set "v$$s" netns "$srv"; ip link set "v$$c" netns "$cli"
ip -n "$srv" addr add 10.77.0.1/24 dev "v$$s"; ip -n "$cli" addr add 10.77.0.2/24 dev "v$$c"
for ns in "$srv" "$cli"; do ip -n "$ns" link set lo up; done
ip -n "$srv" link set "v$$s" up; ip -n "$cli" link set "v$$c" up
# Real offloads would hand tcpdump 64 KiB super-segments; keep frames MTU-sized like a real NIC.
ip netns exec "$srv" ethtool -K "v$$s" tso off gso off gro off >/dev/null 2>&1 || true
ip netns exec "$cli" ethtool -K "v$$c" tso off gso off gro off >/dev/null 2>&1 || true

# nginx with static files
mkdir -p "$work/nginx/www/static"
python3 - "$work/nginx/www/static" <<'PY'
import random, sys, os
d = sys.argv[1]
r = random.Random(7)
js = "".join(f"function f{i}(a,b){{return a*{i}+b;}}\n" for i in range(900))
open(os.path.join(d, "app.js"), "w").write(js)
open(os.path.join(d, "style.css"), "w").write("".join(f".c{i}{{margin:{i}px;color:#{i%255:02x}{i%200:02x}aa}}\n" for i in range(300)))
open(os.path.join(d, "logo.png"), "wb").write(bytes(r.getrandbits(8) for _ in range(6000)))
open(os.path.join(d, "big.bin"), "wb").write(bytes(r.getrandbits(8) for _ in range(120000)))
PY
sed -e "s#@ROOT@#$work/nginx#g" -e "s#@ADDR@#10.77.0.1#g" "$here/nginx.conf" > "$work/nginx/nginx.conf"
ip netns exec "$srv" nginx -c "$work/nginx/nginx.conf" & pids+=($!)
ip netns exec "$srv" python3 "$here/odd_server.py" 10.77.0.1 8081 "$work/odd.access.log" & pids+=($!)
for _ in $(seq 50); do ip netns exec "$cli" curl -s -o /dev/null http://10.77.0.1:8080/health && break; sleep 0.1; done
: > "$work/nginx/access.log"

capture() { # name snaplen -- command...
  local name=$1 snap=$2; shift 3
  ip netns exec "$srv" tcpdump -i "v$$s" -s "$snap" -U -w "$work/$name.pcap" 'tcp port 8080 or tcp port 8081' 2>/dev/null & local tp=$!
  sleep 1
  "$@"
  sleep 1; kill -INT "$tp"; wait "$tp" 2>/dev/null || true
}
take_log() { # src dest
  cp "$1" "$2"; : > "$1"
}

# 1. the demo sample: a realistic API mix
want shop && capture shop 0 -- ip netns exec "$cli" python3 "$here/shop_client.py" 10.77.0.1 8080 640
want shop && cp "$work/shop.pcap" "$repo/captures-sample/shop.pcap" && take_log "$work/nginx/access.log" "$repo/captures-sample/shop.access.log"

# 2. pipelined requests to nginx, all in one write
want pipelined && capture pipelined 0 -- ip netns exec "$cli" python3 "$here/raw_client.py" 10.77.0.1 8080 "$here/pipeline-requests.txt" --pipeline
want pipelined && cp "$work/pipelined.pcap" "$repo/tests/data/pipelined.pcap" && take_log "$work/nginx/access.log" "$repo/tests/data/pipelined.access.log"

# 3. legal but unusual responses, one connection each way the server allows
odd() {
  ip netns exec "$cli" python3 "$here/raw_client.py" 10.77.0.1 8081 "$here/odd-requests.txt"
}
want odd && capture odd 0 -- odd
want odd && cp "$work/odd.pcap" "$repo/tests/data/odd.pcap" && take_log "$work/odd.access.log" "$repo/tests/data/odd.access.log"

# 4. Expect: 100-continue with curl: accepted (100 then 201), and refused before the body (413, no 100)
expect() {
  head -c 3000 /dev/zero | tr '\0' 'a' > "$work/body3k"
  head -c 100000 /dev/zero | tr '\0' 'b' > "$work/body100k"
  ip netns exec "$cli" curl -s -o /dev/null -H 'Expect: 100-continue' --data-binary @"$work/body3k" http://10.77.0.1:8080/upload
  ip netns exec "$cli" curl -s -o /dev/null -H 'Expect: 100-continue' --data-binary @"$work/body100k" http://10.77.0.1:8080/upload
  ip netns exec "$cli" curl -s -o /dev/null -H 'Transfer-Encoding: chunked' --data-binary @"$work/body3k" http://10.77.0.1:8080/upload
}
want expect && capture expect 0 -- expect
want expect && cp "$work/expect.pcap" "$repo/tests/data/expect.pcap" && take_log "$work/nginx/access.log" "$repo/tests/data/expect.access.log"

# 5. a body larger than snaplen-limited frames can hold (the heads fit in 400 bytes, bodies do not)
want snaplen && capture snaplen 400 -- ip netns exec "$cli" curl -s -o /dev/null http://10.77.0.1:8080/static/big.bin http://10.77.0.1:8080/health
want snaplen && cp "$work/snaplen.pcap" "$repo/tests/data/snaplen.pcap" && take_log "$work/nginx/access.log" "$repo/tests/data/snaplen.access.log"

ls -l "$repo/captures-sample" "$repo/tests/data"
true
