#!/usr/bin/env bash
# samples/http_server/figures.sh BUILD_DIR [RUNS=3] — the efficiency figures of http_server
# (one reactor, pinned to CPU 0; the client pinned to CPU 1), each the median of RUNS:
#
#   1. wrk -t1 -c100 -d10s /plaintext: requests/s, server CPU us per request (task-clock of
#      the server process over the run, from perf stat), syscalls per request
#      (raw_syscalls:sys_enter over the same window);
#   2. the same with 16 requests pipelined per wrk request (pipeline.lua): requests/s;
#   3. user-space instructions per request: the server under valgrind --tool=callgrind,
#      h2load --h1 -n N -c 10 -m 1 for N and then 2N requests (a fresh server each);
#      Ir/request = (Ir(2N) - Ir(N)) / N, which cancels start-up and shutdown.
#
# Needs wrk, h2load, perf and valgrind (scripts/setup installs them). About 3 minutes.
set -euo pipefail
build=${1:?usage: figures.sh BUILD_DIR [RUNS]}
runs=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
server=$build/samples/http_server/http_server
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

start() {  # LOG CMD...
  local log=$1; shift
  rm -f "$log"
  "$@" >"$log" 2>&1 &
  pid=$! port=
  for _ in $(seq 300); do
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$log" 2>/dev/null || true)
    [ -n "$port" ] && return 0
    sleep 0.1
  done
  echo "server printed no port: $*"; cat "$log"; exit 1
}
stop() { kill -TERM "$pid"; wait "$pid" || true; pid=; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "## http_server, 1 reactor on CPU 0; clients on CPU 1; $(date -u +%Y-%m-%dT%H:%MZ); load $(cut -d' ' -f1-3 /proc/loadavg)"
for mode in plain pipelined; do
  : >"$work/rps.$mode" ; : >"$work/cpu.$mode" ; : >"$work/sys.$mode"
  for r in $(seq "$runs"); do
    start "$work/log" taskset -c 0 "$server" --listen 127.0.0.1:0 --reactors 1
    args=(-t1 -c100 -d10s)
    [ "$mode" = pipelined ] && args+=(-s "$here/pipeline.lua")
    perf stat -x, -e task-clock,raw_syscalls:sys_enter -p "$pid" -o "$work/perf" -- sleep 9 &
    perf_pid=$!
    if [ "$mode" = pipelined ]; then
      taskset -c 1 wrk "${args[@]}" "http://127.0.0.1:$port/plaintext" -- 16 >"$work/wrk" 2>&1
    else
      taskset -c 1 wrk "${args[@]}" "http://127.0.0.1:$port/plaintext" >"$work/wrk" 2>&1
    fi
    wait "$perf_pid"
    stop
    rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\)/\1/p' "$work/wrk")
    ms=$(awk -F, '$3 ~ /task-clock/ { print $1 }' "$work/perf")
    calls=$(awk -F, '$3 ~ /raw_syscalls:sys_enter/ { print $1 }' "$work/perf")
    # perf watched 9 s of the 10 s run: requests in that window = rps * 9.
    cpu_us=$(awk -v ms="$ms" -v rps="$rps" 'BEGIN { printf "%.2f", ms * 1000 / (rps * 9) }')
    sys=$(awk -v c="$calls" -v rps="$rps" 'BEGIN { printf "%.3f", c / (rps * 9) }')
    echo "$mode run $r: $rps req/s, $cpu_us us server CPU/request, $sys syscalls/request"
    echo "$rps" >>"$work/rps.$mode"; echo "$cpu_us" >>"$work/cpu.$mode"; echo "$sys" >>"$work/sys.$mode"
  done
  echo "$mode median: $(median <"$work/rps.$mode") req/s, $(median <"$work/cpu.$mode") us CPU/request, $(median <"$work/sys.$mode") syscalls/request"
done

n=50000
declare -A ir=()
for count in "$n" $((2 * n)); do
  start "$work/cg.log" valgrind --tool=callgrind --callgrind-out-file="$work/cg.$count" "$server" --listen 127.0.0.1:0 --reactors 1
  taskset -c 1 h2load --h1 -n "$count" -c 10 -m 1 "http://127.0.0.1:$port/plaintext" >"$work/h2load" 2>&1
  grep -q "$count succeeded" "$work/h2load" || { echo "h2load failed"; cat "$work/h2load"; exit 1; }
  stop
  ir[$count]=$(sed -n 's/^totals: //p' "$work/cg.$count")
done
awk -v a="${ir[$n]}" -v b="${ir[$((2 * n))]}" -v n="$n" \
  'BEGIN { printf "instructions per request (callgrind, h2load -c 10 -m 1): Ir(%d)=%d Ir(%d)=%d => %.0f\n", n, a, 2 * n, b, (b - a) / n }'
