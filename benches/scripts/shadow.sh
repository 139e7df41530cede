#!/usr/bin/env bash
# Live shadowing under load: `reel shadow` in production's network namespace, capturing on `any`
# (so its own connections to staging are visible to the capture and must be kept out of it), nginx
# as production, a second nginx as staging in a third namespace reachable from production's only,
# on the same port. Load comes from a client namespace.
#
# (a) Steady load: oha -q RATE (2,000 req/s) for SECS: shadowed % (staging's access log ÷
#     production's; target ≥ 99.9%), reel's drops by reason (target: none), staging's latency
#     from the moment each request was framed, and reel's CPU and peak RSS.
# (b) Saturation: wrk at full speed (api-mix.lua) without shadow and with it, in turns: production's
#     requests/s (and its ratio to no shadow), shadowed %, drops by reason, reel's CPU (% of one
#     core) and peak RSS.
# Every figure is the median of RUNS runs.
#
# Usage (root, from a clean clone; builds reel, installs oha with cargo if missing):
#   benches/scripts/shadow.sh                  # RUNS=3 SECS=10 CONNS=32 RATE=2000
#   RUNS=1 SECS=5 benches/scripts/shadow.sh
# Other load on the machine changes the figures: the load average is printed before and after.
set -euo pipefail
runs=${RUNS:-3}
secs=${SECS:-10}
conns=${CONNS:-32}
rate=${RATE:-2000}
repo=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "shadow.sh: needs root (namespaces, capture)" >&2; exit 3; }
for tool in nginx wrk curl ip python3 bc; do
  command -v "$tool" >/dev/null || { echo "shadow.sh: $tool missing (run scripts/setup)" >&2; exit 3; }
done
oha=$(command -v oha || true)
if [ -z "$oha" ]; then
  echo "installing oha (cargo install oha)…" >&2
  cargo install oha --locked --quiet
  oha="$HOME/.cargo/bin/oha"
fi
cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
reel="$repo/target/release/reel"
work=$(mktemp -d /tmp/reel-shadow-bench.XXXXXX)
chmod 755 "$work"
srv=rss$$ cli=rsc$$ stg=rsg$$ vs=vss$$ vc=vsc$$ vg=vsg$$ vh=vsh$$
ip_srv=10.74.0.1 ip_cli=10.74.0.2 ip_link=10.75.0.1 ip_stg=10.75.0.2
reel_pid=""
cleanup() {
  [ -n "$reel_pid" ] && kill -9 "$reel_pid" 2>/dev/null || true
  for n in prod staging; do
    [ -f "$work/$n/nginx.pid" ] && kill "$(cat "$work/$n/nginx.pid")" 2>/dev/null || true
  done
  for ns in "$srv" "$cli" "$stg"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

for ns in "$srv" "$cli" "$stg"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip link add "$vs" netns "$srv" type veth peer name "$vc" netns "$cli"
ip link add "$vg" netns "$srv" type veth peer name "$vh" netns "$stg"
ip -n "$srv" addr add "$ip_srv/24" dev "$vs"; ip -n "$cli" addr add "$ip_cli/24" dev "$vc"
ip -n "$srv" addr add "$ip_link/24" dev "$vg"; ip -n "$stg" addr add "$ip_stg/24" dev "$vh"
ip -n "$srv" link set "$vs" up; ip -n "$cli" link set "$vc" up
ip -n "$srv" link set "$vg" up; ip -n "$stg" link set "$vh" up
# MTU-sized frames, as a NIC without offloads hands them to a capture.
for pair in "$srv $vs" "$cli $vc" "$srv $vg" "$stg $vh"; do
  set -- $pair
  ip netns exec "$1" ethtool -K "$2" tso off gso off gro off >/dev/null 2>&1 || true
done

# nginx NAME NS ADDR: starts nginx with the tests' configuration and waits until it answers.
nginx_start() {
  local root="$work/$1"
  mkdir -p "$root/www"
  sed -e "s#@ROOT@#$root#g" -e "s#@ADDR@:8080#$3:8080#" "$repo/tests/data/make/nginx.conf" > "$root/nginx.conf"
  ip netns exec "$2" nginx -c "$root/nginx.conf" &
  echo $! > "$root/nginx.pid"
  for _ in $(seq 50); do
    ip netns exec "$2" curl -sf -o /dev/null "http://$3:8080/health" && break
    sleep 0.1
  done
}
nginx_start prod "$srv" "$ip_srv"
nginx_start staging "$stg" "$ip_stg"
url="http://$ip_srv:8080"

# shadow_start: reel shadow in production's namespace, waits until it captures.
shadow_start() {
  peak_rss_kb=0
  rm -f "$work/pid" "$work/shadow.json"
  ip netns exec "$srv" sh -c "echo \$\$ > $work/pid; exec $reel shadow -i any --port 8080 \
      --target http://$ip_stg:8080 --json=$work/shadow.json --stats-interval 0 \
      --metrics-addr 127.0.0.1:9188" > "$work/shadow.out" 2> "$work/shadow.err" &
  for _ in $(seq 100); do
    ip netns exec "$srv" curl -sf -o /dev/null http://127.0.0.1:9188/ready && break
    sleep 0.05
  done
  reel_pid=$(cat "$work/pid")
}

sample() {
  [ -n "$reel_pid" ] || return 0
  local rss
  rss=$(awk '/^VmRSS/{print $2}' "/proc/$reel_pid/status" 2>/dev/null || echo 0)
  [ "${rss:-0}" -gt "$peak_rss_kb" ] && peak_rss_kb=$rss
  return 0
}

# shadow_stop: SIGINT, waits for the exit; sets cpu (% of one core over the load), the figures.
shadow_stop() {
  sample
  local ticks
  ticks=$(awk '{print $14+$15}' "/proc/$reel_pid/stat")
  cpu=$(echo "scale=1; $ticks / $secs" | bc)
  kill -INT "$reel_pid"
  while kill -0 "$reel_pid" 2>/dev/null; do sleep 0.05; done
  reel_pid=""
  read -r captured wanted sent dropped qf busy maxc conn stopped kdrops qdrops lag99 lat50 lat99 < <(python3 -c "
import json; j = json.load(open('$work/shadow.json')); d = j['dropped']
lag = j['schedule_lag_ms'] or {}; lat = j['staging']['latency_ms'] or {}
print(j['requests'], j['shadow_requests'], j['sent'], d['total'], d['queue_full'], d['connection_busy'],
      d['max_connections'], d['connect'], d['stopped'], j['kernel_drops'], j['queue_drops'],
      lag.get('p99', 0), lat.get('p50', 0), lat.get('p99', 0))")
}

median() { sort -n | awk '{a[NR]=$1} END{ if (NR==0) print "-"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
results="$work/results.tsv"
: > "$results"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores); $runs runs of ${secs}s"

# (a) steady load with oha.
for run in $(seq "$runs"); do
  : > "$work/prod/access.log"; : > "$work/staging/access.log"
  shadow_start
  ip netns exec "$cli" "$oha" -z "${secs}s" -c 16 -q "$rate" --latency-correction --no-tui \
    --output-format json --rand-regex-url "$url/api/users/[0-9]{1,5}" > "$work/oha.json" &
  load=$!
  while kill -0 "$load" 2>/dev/null; do sample; sleep 0.5; done
  wait "$load"
  sleep 1
  shadow_stop
  prod=$(wc -l < "$work/prod/access.log")
  staged=$(wc -l < "$work/staging/access.log")
  pct=$(echo "scale=3; 100 * $staged / $prod" | bc)
  rps=$(python3 -c "import json; print(round(json.load(open('$work/oha.json'))['summary']['requestsPerSec']))")
  printf 'a\tshadow\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rps" "$pct" "$dropped" "$qf" "$busy" \
    "$maxc" "$conn" "$stopped" "$cpu" "$(( peak_rss_kb / 1024 ))" "$lat50" "$lat99" "$lag99" "$((kdrops + qdrops))" >> "$results"
  printf '  (a) run %s: %s req/s, production %s, captured %s, staging %s (%s%%), dropped %s, capture drops %s, cpu %s%%, RSS %s MiB\n' \
    "$run" "$rps" "$prod" "$captured" "$staged" "$pct" "$dropped" "$((kdrops + qdrops))" "$cpu" "$(( peak_rss_kb / 1024 ))" >&2
done

# (b) saturation with wrk, without and with shadow, in turns.
modes=(none shadow)
for run in $(seq "$runs"); do
  for i in 0 1; do
    mode=${modes[$(( (run + i) % 2 ))]}
    : > "$work/prod/access.log"; : > "$work/staging/access.log"
    [ "$mode" = shadow ] && shadow_start
    ip netns exec "$cli" wrk -t1 -c"$conns" -d"${secs}s" -s "$repo/benches/scripts/api-mix.lua" "$url" > "$work/wrk.out" &
    load=$!
    while kill -0 "$load" 2>/dev/null; do sample; sleep 0.5; done
    wait "$load"
    rps=$(awk '/Requests\/sec/{print $2}' "$work/wrk.out")
    if [ "$mode" = shadow ]; then
      sleep 1
      shadow_stop
      prod=$(wc -l < "$work/prod/access.log")
      staged=$(wc -l < "$work/staging/access.log")
      pct=$(echo "scale=3; 100 * $staged / $prod" | bc)
      printf 'b\tshadow\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rps" "$pct" "$dropped" "$qf" "$busy" \
        "$maxc" "$conn" "$stopped" "$cpu" "$(( peak_rss_kb / 1024 ))" "$lat50" "$lat99" "$lag99" "$((kdrops + qdrops))" >> "$results"
      printf '  (b) run %s shadow: %s req/s, production %s, captured %s, staging %s (%s%%), dropped %s (queue_full %s, connection_busy %s), capture drops %s, cpu %s%%, RSS %s MiB\n' \
        "$run" "$rps" "$prod" "$captured" "$staged" "$pct" "$dropped" "$qf" "$busy" "$((kdrops + qdrops))" "$cpu" "$(( peak_rss_kb / 1024 ))" >&2
    else
      printf 'b\tnone\t%s\n' "$rps" >> "$results"
      printf '  (b) run %s none:   %s req/s\n' "$run" "$rps" >&2
    fi
  done
done

col() { awk -F'\t' -v p="$1" -v m="$2" -v c="$3" '$1==p && $2==m {print $c}' "$results" | median; }
header() {
  printf '%-8s %10s %9s %8s %10s %9s %8s %8s %8s %6s %8s %10s %10s %9s %9s\n' mode "req/s" shadowed dropped queue_full conn_busy max_conn connect stopped "cpu %" "RSS MiB" "stg p50 ms" "stg p99 ms" "lag p99" "cap drops"
}
row() {
  printf '%-8s %10s %8s%% %8s %10s %9s %8s %8s %8s %6s %8s %10s %10s %9s %9s\n' "$2" "$(col "$1" "$2" 3)" "$(col "$1" "$2" 4)" \
    "$(col "$1" "$2" 5)" "$(col "$1" "$2" 6)" "$(col "$1" "$2" 7)" "$(col "$1" "$2" 8)" "$(col "$1" "$2" 9)" \
    "$(col "$1" "$2" 10)" "$(col "$1" "$2" 11)" "$(col "$1" "$2" 12)" "$(col "$1" "$2" 13)" "$(col "$1" "$2" 14)" \
    "$(col "$1" "$2" 15)" "$(col "$1" "$2" 16)"
}
echo
echo "(a) steady load: oha -q $rate -c16 -z${secs}s, random /api/users/N; -i any; median of $runs runs"
header; row a shadow
echo
base=$(col b none 3)
with=$(col b shadow 3)
echo "(b) saturation: wrk -t1 -c$conns -d${secs}s, api-mix.lua; median of $runs runs"
header; row b shadow
printf 'production: %s req/s without shadow, %s with (%s of it)\n' "$base" "$with" "$(echo "scale=2; $with / $base" | bc)"
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
