#!/usr/bin/env bash
# Live capture under load: `reel record --interface` beside `tcpdump -w` and no capture at all, in
# the same interleaved runs, on the server's veth of nginx in a network namespace (load from
# another namespace).
#
# (a) Saturation: wrk at full speed (api-mix.lua). For each mode: the server's requests/s (and its
#     ratio to no capture; target ≥ 0.8), requests captured ÷ nginx's access log (target ≥ 99.9%),
#     kernel drops (target 0) and reel's queue drops, the capturer's CPU (% of one core) and peak
#     RSS, with and without the kernel capture ring (`socket:` mappings).
# (b) Fixed load at about 70% of saturation (oha -q, latency corrected for coordinated omission):
#     captured %, drops, and the server's latency p50/p99 seen by oha, with and without capture.
# Every figure is the median of RUNS runs; in each run the modes take turns, starting with a
# different one each time. tcpdump's captures are counted with `reel record --read` afterwards.
#
# Usage (root, from a clean clone; builds reel, installs oha with cargo if missing):
#   benches/scripts/live-capture.sh            # RUNS=5 SECS=10 CONNS=32
#   RUNS=3 SECS=5 benches/scripts/live-capture.sh
# Other load on the machine changes the figures: the load average is printed before and after.
set -euo pipefail
runs=${RUNS:-5}
secs=${SECS:-10}
conns=${CONNS:-32}
repo=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "live-capture.sh: needs root (namespaces, capture)" >&2; exit 3; }
for tool in nginx wrk tcpdump curl ip python3; do
  command -v "$tool" >/dev/null || { echo "live-capture.sh: $tool missing (run scripts/setup)" >&2; exit 3; }
done
oha=$(command -v oha || true)
if [ -z "$oha" ]; then
  echo "installing oha (cargo install oha)…" >&2
  cargo install oha --locked --quiet
  oha="$HOME/.cargo/bin/oha"
fi
cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
reel="$repo/target/release/reel"
work=$(mktemp -d /tmp/reel-live-bench.XXXXXX)
chmod 755 "$work"
srv=rls$$ cli=rlc$$ vs=vls$$ vc=vlc$$
ip_srv=10.76.0.1 ip_cli=10.76.0.2
cap_pid=""
cleanup() {
  [ -n "$cap_pid" ] && kill -9 "$cap_pid" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  ip netns del "$srv" 2>/dev/null || true
  ip netns del "$cli" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$srv"; ip netns add "$cli"
ip link add "$vs" netns "$srv" type veth peer name "$vc" netns "$cli"
ip -n "$srv" addr add "$ip_srv/24" dev "$vs"; ip -n "$cli" addr add "$ip_cli/24" dev "$vc"
for ns in "$srv" "$cli"; do ip -n "$ns" link set lo up; done
ip -n "$srv" link set "$vs" up; ip -n "$cli" link set "$vc" up
# MTU-sized frames, as a NIC without offloads hands them to a capture.
ip netns exec "$srv" ethtool -K "$vs" tso off gso off gro off >/dev/null 2>&1 || true
ip netns exec "$cli" ethtool -K "$vc" tso off gso off gro off >/dev/null 2>&1 || true

root="$work/nginx"
mkdir -p "$root/www/static"
python3 -c "open('$root/www/static/app.js','w').write(''.join(f'function f{i}(a,b){{return a*{i}+b;}}\n' for i in range(900)))"
sed -e "s#@ROOT@#$root#g" -e "s#@ADDR@:8080#$ip_srv:8080#" "$repo/tests/data/make/nginx.conf" > "$root/nginx.conf"
ip netns exec "$srv" nginx -c "$root/nginx.conf" &
echo $! > "$work/nginx.pid"
for _ in $(seq 50); do
  ip netns exec "$cli" curl -sf -o /dev/null "http://$ip_srv:8080/health" && break
  sleep 0.1
done
url="http://$ip_srv:8080"

# capture_start MODE: starts the capturer in the server namespace and waits until it captures.
capture_start() {
  cap_pid="" peak_rss_kb=0 peak_noring_kb=0
  rm -f "$work"/cap.* "$work/pid"
  case $1 in
    none) return ;;
    tcpdump)
      ip netns exec "$srv" sh -c "echo \$\$ > $work/pid; exec tcpdump -i $vs -s 0 -w $work/cap.pcap 'tcp port 8080'" \
        2> "$work/cap.err" &
      for _ in $(seq 100); do grep -q "listening on" "$work/cap.err" 2>/dev/null && break; sleep 0.05; done ;;
    reel)
      ip netns exec "$srv" sh -c "echo \$\$ > $work/pid; exec $reel record -i $vs --port 8080 -o $work/cap.reel --json=$work/cap.json --stats-interval 0 --metrics-addr 127.0.0.1:9187" \
        2> "$work/cap.err" &
      for _ in $(seq 100); do
        ip netns exec "$srv" curl -sf -o /dev/null http://127.0.0.1:9187/ready && break
        sleep 0.05
      done ;;
  esac
  for _ in $(seq 20); do [ -s "$work/pid" ] && break; sleep 0.05; done
  cap_pid=$(cat "$work/pid")
}

# sample: the capturer's RSS, with and without its capture ring, peak so far.
sample() {
  [ -n "$cap_pid" ] || return 0
  local rss ring
  rss=$(awk '/^VmRSS/{print $2}' "/proc/$cap_pid/status" 2>/dev/null || echo 0)
  ring=$(awk '/^[0-9a-f]+-[0-9a-f]+ /{s=($6 ~ /^socket:/)} /^Rss:/{if(s) t+=$2} END{print t+0}' "/proc/$cap_pid/smaps" 2>/dev/null || echo 0)
  [ "${rss:-0}" -gt "$peak_rss_kb" ] && peak_rss_kb=$rss
  [ $(( ${rss:-0} - ${ring:-0} )) -gt "$peak_noring_kb" ] && peak_noring_kb=$(( rss - ring ))
  return 0
}

# capture_stop MODE: stops the capturer; sets captured, kdrops, qdrops, cpu (% of one core).
capture_stop() {
  captured=0 kdrops=0 qdrops=0 cpu=0
  [ -n "$cap_pid" ] || return 0
  sample
  local ticks
  ticks=$(awk '{print $14+$15}' "/proc/$cap_pid/stat")
  cpu=$(echo "scale=1; $ticks / $secs" | bc)
  kill -INT "$cap_pid"
  while kill -0 "$cap_pid" 2>/dev/null; do sleep 0.05; done
  case $1 in
    tcpdump)
      kdrops=$(sed -n 's/^\([0-9]*\) packets dropped by kernel$/\1/p' "$work/cap.err")
      "$reel" record --read "$work/cap.pcap" --port 8080 -o "$work/cap.reel" --force --json="$work/cap.json" 2>/dev/null
      captured=$(python3 -c "import json;print(json.load(open('$work/cap.json'))['requests'])") ;;
    reel)
      read -r captured kdrops qdrops < <(python3 -c "import json;j=json.load(open('$work/cap.json'));print(j['requests_written'],j['kernel_drops'],j['queue_drops'])") ;;
  esac
  cap_pid=""
}

median() { sort -n | awk '{a[NR]=$1} END{ if (NR==0) print "-"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }

modes=(none tcpdump reel)
results="$work/results.tsv"
: > "$results"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores); $runs runs of ${secs}s, $conns connections"

# (a) saturation with wrk.
for run in $(seq "$runs"); do
  for i in 0 1 2; do
    mode=${modes[$(( (run + i) % 3 ))]}
    : > "$root/access.log"
    capture_start "$mode"
    ip netns exec "$cli" wrk -t1 -c"$conns" -d"${secs}s" -s "$repo/benches/scripts/api-mix.lua" "$url" > "$work/wrk.out" &
    load=$!
    while kill -0 "$load" 2>/dev/null; do sample; sleep 0.5; done
    wait "$load"
    sleep 0.5
    capture_stop "$mode"
    rps=$(awk '/Requests\/sec/{print $2}' "$work/wrk.out")
    truth=$(wc -l < "$root/access.log")
    pct=$(echo "scale=3; 100 * $captured / $truth" | bc)
    printf 'a\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$rps" "$pct" "${kdrops:-0}" "${qdrops:-0}" "$cpu" \
      "$(( peak_rss_kb / 1024 ))" "$(( peak_noring_kb / 1024 ))" "$truth" >> "$results"
    printf '  (a) run %s %-8s %8s req/s  captured %6s%%  kernel drops %s  queue drops %s  cpu %s%%\n' \
      "$run" "$mode" "$rps" "$([ "$mode" = none ] && echo - || echo "$pct")" "${kdrops:-0}" "${qdrops:-0}" "$cpu" >&2
  done
done
base=$(awk -F'\t' '$1=="a" && $2=="none"{print $3}' "$results" | median)
rate=$(echo "$base * 0.7 / 1" | bc)

# (b) fixed load at 70% of saturation with oha.
for run in $(seq "$runs"); do
  for i in 0 1 2; do
    mode=${modes[$(( (run + i) % 3 ))]}
    : > "$root/access.log"
    capture_start "$mode"
    ip netns exec "$cli" "$oha" -z "${secs}s" -c "$conns" -q "$rate" --latency-correction --no-tui \
      --output-format json "$url/api/users/7" > "$work/oha.json" &
    load=$!
    while kill -0 "$load" 2>/dev/null; do sample; sleep 0.5; done
    wait "$load"
    sleep 0.5
    capture_stop "$mode"
    read -r rps p50 p99 < <(python3 -c "
import json; j = json.load(open('$work/oha.json'))
p = j['latencyPercentiles']; s = j['summary']
print(round(s['requestsPerSec']), p['p50'] * 1000, p['p99'] * 1000)")
    truth=$(wc -l < "$root/access.log")
    pct=$(echo "scale=3; 100 * $captured / $truth" | bc)
    printf 'b\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$rps" "$pct" "${kdrops:-0}" "${qdrops:-0}" "$cpu" "$p50" "$p99" "$truth" >> "$results"
    printf '  (b) run %s %-8s %8s req/s  p99 %.2f ms  captured %6s%%  drops %s+%s  cpu %s%%\n' \
      "$run" "$mode" "$rps" "$p99" "$([ "$mode" = none ] && echo - || echo "$pct")" "${kdrops:-0}" "${qdrops:-0}" "$cpu" >&2
  done
done

col() { awk -F'\t' -v p="$1" -v m="$2" -v c="$3" '$1==p && $2==m {print $c}' "$results" | median; }
echo
echo "(a) saturation: wrk -t1 -c$conns -d${secs}s, api-mix.lua; median of $runs runs"
printf '%-8s %10s %7s %10s %8s %8s %7s %9s %14s\n' mode "req/s" ratio captured kdrops qdrops "cpu %" "RSS MiB" "RSS-ring MiB"
for mode in "${modes[@]}"; do
  rps=$(col a "$mode" 3)
  printf '%-8s %10s %7s %9s%% %8s %8s %7s %9s %14s\n' "$mode" "$rps" "$(echo "scale=2; $rps / $base" | bc)" \
    "$([ "$mode" = none ] && echo - || col a "$mode" 4)" "$(col a "$mode" 5)" "$(col a "$mode" 6)" \
    "$(col a "$mode" 7)" "$(col a "$mode" 8)" "$(col a "$mode" 9)"
done
echo
echo "(b) fixed load: oha -q $rate (70% of $base req/s) -c$conns -z${secs}s, latency corrected; median of $runs runs"
printf '%-8s %10s %10s %8s %8s %7s %9s %9s\n' mode "req/s" captured kdrops qdrops "cpu %" "p50 ms" "p99 ms"
for mode in "${modes[@]}"; do
  printf '%-8s %10s %9s%% %8s %8s %7s %9.3f %9.3f\n' "$mode" "$(col b "$mode" 3)" \
    "$([ "$mode" = none ] && echo - || col b "$mode" 4)" "$(col b "$mode" 5)" "$(col b "$mode" 6)" \
    "$(col b "$mode" 7)" "$(col b "$mode" 8)" "$(col b "$mode" 9)"
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
