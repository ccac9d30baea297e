#!/usr/bin/env bash
# perf/race/race_cli.sh NAME BINARY HOLDER — the command line of one race program
# (libevent_echo, libuv_echo, beast_http), end to end:
#   --help, -h        exit 0, "Usage: NAME" on stdout
#   a bad value       exit 2, "NAME: FLAG: ..." on stderr naming the flag and its range
#   a busy port       exit 1, "NAME: 127.0.0.1:PORT: Address already in use" (HOLDER,
#                     raw_echo, holds the port without SO_REUSEPORT)
#   serving           one echo (or one HTTP request for beast_http) on 2 threads, then
#                     SIGTERM: exit 0 and a "thread N: connections" line per thread
# Every step is bounded by a timeout.
set -u
name=$1 bin=$2 holder=$3
work=$(mktemp -d)
pids=()
failures=0
trap 'for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
fail() { echo "FAIL: $name $*"; failures=$((failures + 1)); }
ok() { echo "ok:   $name $*"; }

run() { timeout 10 "$bin" "$@" >"$work/out" 2>"$work/err" </dev/null; rc=$?; }
start() {  # LOG CMD...: sets pid and port
  local log=$1.log; shift
  "$@" >"$log" 2>&1 </dev/null &
  pid=$! port=
  pids+=("$pid")
  for _ in $(seq 200); do
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$log")
    [ -n "$port" ] && return 0
    sleep 0.05
  done
  return 1
}
stop() {  # PID: SIGTERM, at most 10 s; sets rc
  kill -TERM "$1"
  for _ in $(seq 200); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$1" 2>/dev/null && echo "$name: did not stop within 10 s"
  wait "$1"; rc=$?
}

for flag in --help -h; do
  run "$flag"
  if [ "$rc" -eq 0 ] && grep -q "^Usage: $name " "$work/out"; then ok "$flag"; else fail "$flag: exit $rc"; fi
done
check_usage() {  # FLAG RANGE ARGS...
  local flag=$1 range=$2; shift 2
  run "$@"
  local first; first=$(head -n 1 "$work/err")
  if [ "$rc" -eq 2 ] && [[ "$first" == "$name: "*"$flag"*"$range"* ]]; then ok "$* -> $first"
  else fail "$*: exit $rc, '$first'"; fi
}
check_usage port 0..65535 abc
check_usage port 0..65535 70000
check_usage threads 1..1024 0 0
check_usage threads 1..1024 0 x

if start "$work/holder" "$holder" --port 0; then
  run "$port" 1
  want="$name: 127.0.0.1:$port: Address already in use"
  if [ "$rc" -eq 1 ] && [ "$(head -n 1 "$work/err")" = "$want" ]; then ok "busy port -> $want"
  else fail "busy port: exit $rc, '$(head -n 1 "$work/err")'"; fi
  stop "$pid"
else
  fail "holder $holder printed no port"
fi

if start "$work/server" "$bin" 0 2; then
  if exec 3<>"/dev/tcp/127.0.0.1/$port"; then
    if [ "$name" = beast_http ]; then
      printf 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
      reply=$(timeout 10 cat <&3 | tr -d '\r')
      [[ "$reply" == "HTTP/1.1 200 OK"*"Hello, World!" ]] && ok "served GET /" || fail "GET /: got '$reply'"
    else
      printf 'pollux\n' >&3
      reply=$(timeout 10 head -n 1 <&3)
      [ "$reply" = pollux ] && ok "echoed a line" || fail "echo: got '$reply'"
    fi
    exec 3>&-
  else
    fail "connect to port $port"
  fi
  stop "$pid"
  [ "$rc" -eq 0 ] && ok "SIGTERM -> exit 0" || fail "SIGTERM: exit $rc"
  [ "$(grep -c '^thread [0-9]*: connections' "$work/server.log")" -eq 2 ] || fail "want 2 'thread N: connections' lines"
else
  fail "printed no 'listening on 127.0.0.1:PORT'"
fi

[ "$failures" -eq 0 ] || { echo "$name: $failures checks FAILED"; exit 1; }
echo "$name: all checks passed"
