#!/usr/bin/env bash
# samples/echo_load/figures.sh — the lean-ness figures of docs/benchmarks-echo.md, for the
# framework echo server (samples/echo_server) and the Asio baseline (samples/asio_echo):
#
#   1. user-space instructions per echoed 64 B message: the server (1 reactor / 1 thread)
#      runs under `valgrind --tool=callgrind`; echo_load drives M, then (fresh server) 2M
#      messages over 10 connections; Ir/echo = (Ir(2M) - Ir(M)) / M, which cancels startup;
#   2. syscalls per echoed message: `perf stat -e raw_syscalls:sys_enter,...` attached to
#      the server (pinned to CPU 0) while echo_load (CPU 1) drives a fixed count over 1 and
#      64 connections;
#   3. idle connection memory: echo_load --idle N opens N connections, echoes one message
#      on each, and reports the server's VmRSS delta / N.
#
#   bash samples/echo_load/figures.sh BUILD_DIR [M=100000] [IDLE=10000]
# Needs valgrind and perf (scripts/setup installs both). Loopback only; about 2 minutes.
set -euo pipefail
build=${1:?usage: figures.sh BUILD_DIR [M] [IDLE]}
m=${2:-100000}
idle=${3:-10000}
bin=$build/samples
servers=(pollux:$bin/echo_server/echo_server asio:$bin/asio_echo/asio_echo)
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# start LOG CMD...: starts a server in the background, sets $pid and $port.
start() {
  local log=$1; shift
  rm -f "$log"  # a log left by an earlier run would give its stale port
  "$@" >"$log" 2>&1 &
  pid=$! port=
  for _ in $(seq 300); do
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$log" 2>/dev/null || true)
    [ -n "$port" ] && return 0
    sleep 0.1
  done
  echo "server printed no port: $*"; cat "$log"; exit 1
}
stop() { kill -TERM "$pid"; wait "$pid"; pid=; }

echo "## instructions per echo (callgrind, 10 connections, 64 B, depth 1, 1 reactor/thread)"
for s in "${servers[@]}"; do
  name=${s%%:*} exe=${s#*:}
  declare -A ir=()
  for n in "$m" $((2 * m)); do
    start "$work/$name.$n.log" valgrind --tool=callgrind --callgrind-out-file="$work/$name.$n.cg" "$exe" 0 1
    "$bin/echo_load/echo_load" --port "$port" --conns 10 --size 64 --messages "$n" --timeout 300 >/dev/null
    stop
    ir[$n]=$(sed -n 's/^totals: //p' "$work/$name.$n.cg")
  done
  awk -v n="$name" -v a="${ir[$m]}" -v b="${ir[$((2 * m))]}" -v m="$m" \
    'BEGIN { printf "%-7s Ir(%d)=%d Ir(%d)=%d  => %.0f instructions per echo\n", n, m, a, 2 * m, b, (b - a) / m }'
  unset ir
done

echo "## syscalls per echo (perf stat, 64 B, depth 1, server 1 reactor/thread on CPU 0, client on CPU 1)"
events=raw_syscalls:sys_enter,syscalls:sys_enter_recvfrom,syscalls:sys_enter_recvmsg,syscalls:sys_enter_sendto
events+=,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_epoll_ctl,context-switches,task-clock
for conns in 1 64 128; do
  for s in "${servers[@]}"; do
    name=${s%%:*} exe=${s#*:}
    start "$work/$name.perf.log" taskset -c 0 "$exe" 0 1
    csv=$work/$name.$conns.csv
    perf stat -x, -e "$events" -p "$pid" -o "$csv" &
    perf_pid=$!
    sleep 0.5
    taskset -c 1 "$bin/echo_load/echo_load" --port "$port" --conns "$conns" --size 64 --messages $((2 * m)) --timeout 120 >/dev/null
    kill -INT "$perf_pid"; wait "$perf_pid" || true
    stop
    awk -F, -v n="$name" -v c="$conns" -v m=$((2 * m)) '
      $1 ~ /^[0-9.]+$/ { v[$3] = $1 }
      END {
        printf "%-7s %2d conns: %.2f syscalls/echo (recvfrom %.2f, recvmsg %.2f, sendto %.2f, epoll_wait+pwait %.3f, epoll_ctl %.4f), %.3f cs/echo, %.1f us CPU/echo\n",
          n, c, v["raw_syscalls:sys_enter"] / m, v["syscalls:sys_enter_recvfrom"] / m, v["syscalls:sys_enter_recvmsg"] / m,
          v["syscalls:sys_enter_sendto"] / m, (v["syscalls:sys_enter_epoll_wait"] + v["syscalls:sys_enter_epoll_pwait"]) / m,
          v["syscalls:sys_enter_epoll_ctl"] / m,
          v["context-switches"] / m, v["task-clock"] * 1000 / m
      }' "$csv"
  done
done

echo "## idle connection memory ($idle connections, one 64 B echo each, then idle 1 s)"
for s in "${servers[@]}"; do
  name=${s%%:*} exe=${s#*:}
  start "$work/$name.idle.log" "$exe" 0 1
  printf '%-7s ' "$name"
  "$bin/echo_load/echo_load" --port "$port" --idle "$idle" --server-pid "$pid"
  stop
done
