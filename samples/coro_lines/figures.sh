#!/usr/bin/env bash
# samples/coro_lines/figures.sh — the coroutine flavour's figures of docs/coroutines.md,
# side by side in one run with the callback echo_server and Asio's two flavours:
#
#   servers: callback  samples/echo_server (on_data: send, consume_all)
#            coro      samples/coro_lines --echo (read_some / write_all task)
#            asio      samples/asio_echo (async_read_some / async_write callbacks)
#            asio-coro samples/asio_echo --coro (asio::awaitable, use_awaitable)
#
#   1. user-space instructions per echoed 64 B message: each server (1 reactor/thread)
#      under `valgrind --tool=callgrind`, echo_load drives M then (fresh server) 2M
#      messages over 10 connections; Ir/echo = (Ir(2M) - Ir(M)) / M (startup cancels);
#   2. syscalls per echo: `perf stat -e raw_syscalls:sys_enter` attached to the server
#      (CPU 0) while echo_load (CPU 1) drives 2M messages over 64 connections;
#   3. idle memory per connection: echo_load --idle N (one echo each, then idle: every
#      coroutine task is suspended in a read), the server's VmRSS delta / N;
#   4. throughput at 100 connections, server on CPU 0 (1 reactor), echo_load on CPU 1,
#      ROUNDS alternating callback/coro pairs (order flipped every round) of SECONDS each;
#      prints each pair's ratio coro/callback, the median and spread, and the load average.
#
#   bash samples/coro_lines/figures.sh BUILD_DIR [M=100000] [IDLE=10000] [ROUNDS=5] [SECONDS=3]
# Needs valgrind and perf (scripts/setup installs both). Loopback only.
set -euo pipefail
build=${1:?usage: figures.sh BUILD_DIR [M] [IDLE] [ROUNDS] [SECONDS]}
m=${2:-100000}
idle=${3:-10000}
rounds=${4:-5}
secs=${5:-3}
bin=$build/samples
load=$bin/echo_load/echo_load
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# cmd NAME: the server's command line (1 reactor/thread, a free port).
cmd() {
  case $1 in
    callback) echo "$bin/echo_server/echo_server 0 1" ;;
    coro) echo "$bin/coro_lines/coro_lines --listen 127.0.0.1:0 --reactors 1 --echo" ;;
    asio) echo "$bin/asio_echo/asio_echo 0 1" ;;
    asio-coro) echo "$bin/asio_echo/asio_echo 0 1 --coro" ;;
  esac
}
# start LOG CMD...: starts a server in the background, sets $pid and $port.
start() {
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

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "## instructions per echo (callgrind, 10 connections, 64 B, depth 1, 1 reactor/thread)"
for name in callback coro asio asio-coro; do
  declare -A ir=()
  for n in "$m" $((2 * m)); do
    # shellcheck disable=SC2046
    start "$work/$name.$n.log" valgrind --tool=callgrind --callgrind-out-file="$work/$name.$n.cg" $(cmd "$name")
    "$load" --port "$port" --conns 10 --size 64 --messages "$n" --timeout 300 >/dev/null
    stop
    ir[$n]=$(sed -n 's/^totals: //p' "$work/$name.$n.cg")
  done
  awk -v n="$name" -v a="${ir[$m]}" -v b="${ir[$((2 * m))]}" -v m="$m" \
    'BEGIN { printf "%-9s Ir(%d)=%d Ir(%d)=%d  => %.0f instructions per echo\n", n, m, a, 2 * m, b, (b - a) / m }'
  unset ir
done

echo "## syscalls per echo (perf stat, 64 connections, 64 B, depth 1, server on CPU 0, client on CPU 1)"
for name in callback coro asio asio-coro; do
  # shellcheck disable=SC2046
  start "$work/$name.perf.log" taskset -c 0 $(cmd "$name")
  perf stat -x, -e raw_syscalls:sys_enter,syscalls:sys_enter_epoll_ctl -p "$pid" -o "$work/$name.csv" &
  perf_pid=$!
  sleep 0.5
  taskset -c 1 "$load" --port "$port" --conns 64 --size 64 --messages $((2 * m)) --timeout 120 >/dev/null
  kill -INT "$perf_pid"; wait "$perf_pid" || true
  stop
  awk -F, -v n="$name" -v m=$((2 * m)) '$1 ~ /^[0-9.]+$/ { v[$3] = $1 }
    END { printf "%-9s %.2f syscalls/echo, epoll_ctl %.4f/echo\n", n, v["raw_syscalls:sys_enter"] / m,
          v["syscalls:sys_enter_epoll_ctl"] / m }' "$work/$name.csv"
done

echo "## idle memory ($idle connections, one 64 B echo each, then idle 1 s)"
for name in callback coro asio asio-coro; do
  # shellcheck disable=SC2046
  start "$work/$name.idle.log" $(cmd "$name")
  printf '%-9s ' "$name"
  "$load" --port "$port" --idle "$idle" --server-pid "$pid"
  stop
done

echo "## throughput, 100 connections, 64 B, depth 1 (server CPU 0, 1 reactor; echo_load CPU 1; $secs s per run)"
ratios=()
for r in $(seq "$rounds"); do
  order="callback coro"
  [ $((r % 2)) -eq 0 ] && order="coro callback"
  declare -A rate=()
  for name in $order; do
    # shellcheck disable=SC2046
    start "$work/$name.tp.log" taskset -c 0 $(cmd "$name")
    rate[$name]=$(taskset -c 1 "$load" --port "$port" --conns 100 --size 64 --seconds "$secs" |
      sed -n 's/^messages [0-9]*  messages\/s \([0-9]*\) .*/\1/p')
    stop
  done
  ratio=$(awk -v a="${rate[coro]}" -v b="${rate[callback]}" 'BEGIN { printf "%.3f", a / b }')
  ratios+=("$ratio")
  echo "round $r ($order): callback ${rate[callback]} msg/s, coro ${rate[coro]} msg/s, ratio $ratio, load $(cut -d' ' -f1 /proc/loadavg)"
  unset rate
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END {
  med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
  printf "ratio coro/callback: median %.3f, min %.3f, max %.3f over %d pairs\n", med, v[1], v[NR], NR }'
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
