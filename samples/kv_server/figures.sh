#!/usr/bin/env bash
# samples/kv_server/figures.sh BUILD_DIR [PAIRS=3] — kv_server against Debian's
# redis-server 7.0 on the same machine, side by side, driven by redis-benchmark:
#
#   servers   kv_server --reactors 2 (kv) and --reactors 1 (kv1); redis-server (one
#             thread); redis-server --io-threads 2 --io-threads-do-reads yes
#   load      redis-benchmark -t set,get -n 400000 -c 50 -P 16 -q, then -P 1 (-n 100000)
#   order     PAIRS rounds, the servers in turn (ABC, then CBA, ...), a fresh server each
#   figures   requests/s per test (median over the rounds), the ratio kv/redis per round
#             (median and min-max), server CPU us per request (perf stat task-clock of the
#             server process over the run)
#
# Needs redis-server, redis-tools and perf (scripts/setup installs them). A 2-core
# machine: the servers and the client share both cores, as a user would run them.
set -euo pipefail
build=${1:?usage: figures.sh BUILD_DIR [PAIRS]}
pairs=${2:-3}
kv=$build/samples/kv_server/kv_server
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
command -v redis-server >/dev/null || { echo "redis-server is not installed (bash scripts/setup)"; exit 1; }

port=$((20000 + RANDOM % 20000))
start() {  # NAME
  case $1 in
    kv) "$kv" --listen "127.0.0.1:$port" --reactors 2 >"$work/server.log" 2>&1 & ;;
    kv1) "$kv" --listen "127.0.0.1:$port" --reactors 1 >"$work/server.log" 2>&1 & ;;
    redis) redis-server --port "$port" --save '' --appendonly no --protected-mode no >"$work/server.log" 2>&1 & ;;
    redis-io2) redis-server --port "$port" --save '' --appendonly no --protected-mode no --io-threads 2 \
                 --io-threads-do-reads yes >"$work/server.log" 2>&1 & ;;
  esac
  pid=$!
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "$1 did not start"; cat "$work/server.log"; exit 1
}
stop() { kill -TERM "$pid"; wait "$pid" || true; pid=; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "## kv_server vs redis-server 7.0, redis-benchmark -c 50; $(date -u +%Y-%m-%dT%H:%MZ); load $(cut -d' ' -f1-3 /proc/loadavg)"
servers=(kv kv1 redis redis-io2)
for p in $(seq "$pairs"); do
  order=("${servers[@]}")
  if [ $((p % 2)) -eq 0 ]; then order=(redis-io2 redis kv1 kv); fi
  for s in "${order[@]}"; do
    for depth in 16 1; do
      n=400000; [ "$depth" = 1 ] && n=100000
      start "$s"
      perf stat -x, -e task-clock -p "$pid" -o "$work/perf" -- sleep 600 &
      perf_pid=$!
      out=$(redis-benchmark -p "$port" -t set,get -n "$n" -c 50 -P "$depth" -q 2>&1 | tr '\r' '\n' | grep 'requests per second')
      # perf stat reports when its command ends (a background job ignores SIGINT).
      pkill -P "$perf_pid" sleep || true; wait "$perf_pid" || true
      stop
      set_rps=$(sed -n 's/^SET: \([0-9.]*\) requests per second.*/\1/p' <<<"$out")
      get_rps=$(sed -n 's/^GET: \([0-9.]*\) requests per second.*/\1/p' <<<"$out")
      ms=$(awk -F, '$3 ~ /task-clock/ { print $1 }' "$work/perf")
      cpu=$(awk -v ms="$ms" -v n="$n" 'BEGIN { printf "%.2f", ms * 1000 / (2 * n) }')
      echo "round $p $s -P $depth: SET $set_rps GET $get_rps req/s, $cpu us server CPU/request"
      echo "$set_rps" >>"$work/$s.$depth.set"; echo "$get_rps" >>"$work/$s.$depth.get"; echo "$cpu" >>"$work/$s.$depth.cpu"
    done
  done
done
for depth in 16 1; do
  for s in "${servers[@]}"; do
    echo "$s -P $depth: median SET $(median <"$work/$s.$depth.set") GET $(median <"$work/$s.$depth.get") req/s, $(median <"$work/$s.$depth.cpu") us CPU/request"
  done
  for pair in kv/redis kv/redis-io2 kv1/redis; do
    a=${pair%/*} base=${pair#*/}
    for t in set get; do
      ratios=$(paste "$work/$a.$depth.$t" "$work/$base.$depth.$t" | awk '{ printf "%.2f\n", $1 / $2 }')
      echo "$a/$base -P $depth $t: median $(median <<<"$ratios")x (min $(sort -g <<<"$ratios" | head -1), max $(sort -g <<<"$ratios" | tail -1))"
    done
  done
done
