#!/usr/bin/env bash
# samples/common/cli_check.sh PROGRAM BINARY HOLDER — the command-line contract of one
# sample program or tool (samples/common/cli.hpp), end to end:
#
#   --help, -h          exit 0, "Usage: PROGRAM" on stdout
#   a bad value         exit 2, "PROGRAM: FLAG: ..." on stderr, naming the flag and range
#   a busy port         (servers) exit 1, "PROGRAM: ADDR:PORT: Address already in use"
#                       (unix_echo: "PROGRAM: PATH: ..." for a live or stale socket file)
#
# plus what each program adds (echo_server: IPv6, 0.0.0.0, each --balance mode, the
# positional port over --listen's). HOLDER is a server that prints "listening on ADDR"
# and binds without SO_REUSEPORT; the script starts it on a free port to make that port
# busy (udp_echo's own sockets set SO_REUSEPORT: socat holds its port instead). Every run
# is bounded (timeout 10 s, server start 10 s, server stop 10 s); nothing is skipped.
set -u
name=$1 bin=$2 holder=$3
work=$(mktemp -d)
failures=0 checks=0
servers=()
cleanup() {
  for p in "${servers[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $name $*"; failures=$((failures + 1)); }
ok() { echo "ok:   $name $*"; }

# run ARGS...: runs the program (at most 10 s); sets rc, with stdout and stderr in files.
run() {
  checks=$((checks + 1))
  timeout 10 "$bin" "$@" >"$work/out" 2>"$work/err" </dev/null
  rc=$?
}

expect_help() {
  for flag in --help -h; do
    run "$flag"
    if [ "$rc" -ne 0 ]; then fail "$flag: exit $rc, want 0"; cat "$work/err"
    elif ! grep -q "^Usage: $name " "$work/out"; then fail "$flag: no 'Usage: $name' on stdout"; cat "$work/out"
    elif [ -s "$work/err" ]; then fail "$flag: wrote to stderr"; cat "$work/err"
    else ok "$flag"
    fi
  done
}

# usage_error FLAG RANGE ARGS...: exit 2, stderr's first line starts with "PROGRAM: " and
# names FLAG, and RANGE (what the flag takes) when not empty.
usage_error() {
  local flag=$1 range=$2; shift 2
  run "$@"
  local first
  first=$(head -n 1 "$work/err")
  if [ "$rc" -ne 2 ]; then fail "$*: exit $rc, want 2"; cat "$work/err"
  elif [[ "$first" != "$name: "* ]]; then fail "$*: stderr does not start with '$name: ': $first"
  elif [[ "$first" != *"$flag"* ]]; then fail "$*: message does not name '$flag': $first"
  elif [ -n "$range" ] && [[ "$first" != *"$range"* ]]; then fail "$*: message does not give '$range': $first"
  else ok "$* -> $first"
  fi
}

# run_error WANT ARGS...: exit 1 and stderr's first line is exactly WANT.
run_error() {
  local want=$1; shift
  run "$@"
  local first
  first=$(head -n 1 "$work/err")
  if [ "$rc" -ne 1 ]; then fail "$*: exit $rc, want 1"; cat "$work/err"
  elif [ "$first" != "$want" ]; then fail "$*: stderr '$first', want '$want'"
  else ok "$* -> $first"
  fi
}

# start LOG CMD...: starts a server in the background; sets pid, and addr/port from its
# "listening on ADDR:PORT" line (empty when it printed none within 10 s).
start() {
  local log=$1; shift
  "$@" >"$log" 2>&1 </dev/null &
  pid=$! addr= port=
  servers+=("$pid")
  local line
  for _ in $(seq 200); do
    # One read for both parts: with two, the line could appear between them.
    line=$(sed -n 's/^listening on \(.*:[0-9][0-9]*\)$/\1/p' "$log")
    if [ -n "$line" ]; then
      addr=${line%:*} port=${line##*:}
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  fail "$*: printed no 'listening on' line"; cat "$log"
  return 1
}

# stop PID: SIGTERM, then at most 10 s; sets rc to its exit status.
stop() {
  kill -TERM "$1" 2>/dev/null
  for _ in $(seq 200); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$1" 2>/dev/null && echo "$name: pid $1 did not stop within 10 s"
  wait "$1"; rc=$?
}

# echo_line HOST PORT: one line through the server; fails unless it comes back.
echo_line() {
  local reply
  if ! exec 3<>"/dev/tcp/$1/$2"; then fail "connect $1 port $2"; return 1; fi
  printf 'pollux\n' >&3
  reply=$(timeout 10 head -n 1 <&3)
  exec 3>&-
  [ "$reply" = pollux ] || { fail "echo via $1 port $2: got '$reply'"; return 1; }
}

# busy_port START_ARGS -- ADDR ARGS...: starts HOLDER with START_ARGS, then expects the
# program, run with ARGS where PORT stands for the held port, to fail with
# "PROGRAM: ADDR:PORT: Address already in use" (ADDR [::1] is written [::1]).
busy_port() {
  local start_args=() args=() a
  while [ "$1" != -- ]; do start_args+=("$1"); shift; done
  shift
  local want_addr=$1; shift
  start "$work/holder.log" "$holder" "${start_args[@]}" || return
  local holder_pid=$pid held=$port
  for a in "$@"; do args+=("${a//PORT/$held}"); done
  run_error "$name: $want_addr:$held: Address already in use" "${args[@]}"
  stop "$holder_pid"
}

# serve LABEL ARGS...: starts the program, echoes one line, stops it with SIGTERM; expects
# exit 0. Sets log to the server's output.
serve() {
  local label=$1; shift
  log=$work/$label.log
  checks=$((checks + 1))
  start "$log" "$bin" "$@" || return 1
  local host=$addr
  host=${host#[}; host=${host%]}
  # A wildcard address is reached over loopback.
  [ "$host" = 0.0.0.0 ] && host=127.0.0.1
  [ "$host" = :: ] && host=::1
  echo_line "$host" "$port" || { stop "$pid"; return 1; }
  stop "$pid"
  [ "$rc" -eq 0 ] || { fail "$*: exit $rc after SIGTERM, want 0"; cat "$log"; return 1; }
  ok "$* -> listening on $addr:$port, echoed, stopped"
}

expect_help
case $name in
  echo_server)
    usage_error port 0..65535 abc
    usage_error port 0..65535 70000
    usage_error port 0..65535 -1
    usage_error reactors 1..1024 0 0
    usage_error reactors 1..1024 0 x
    usage_error --reactors 1..1024 --reactors 0
    usage_error --reactors 1..1024 --reactors 1025
    usage_error --reactors reactors --reactors 2 0 2
    usage_error --balance rr,least,reuseport --balance fastest
    usage_error --listen IPV4:PORT --listen 1.2.3:9000
    usage_error --listen IPV4:PORT --listen localhost:9000
    usage_error --listen IPV4:PORT --listen 127.0.0.1
    usage_error --listen 0..65535 --listen '[::1]:70000'
    usage_error --port "" --port 9000
    busy_port 0 1 -- 127.0.0.1 PORT 1
    busy_port 0 1 -- 127.0.0.1 --listen 127.0.0.1:PORT --balance reuseport --reactors 2
    busy_port --listen '[::1]:0' --reactors 1 -- '[::1]' --listen '[::1]:PORT'
    if serve v6 --listen '[::1]:0' --reactors 1; then
      grep -q '^listening on \[::1\]:[0-9]*$' "$log" || fail "--listen [::1]:0: no 'listening on [::1]:PORT'"
    fi
    if serve pinned 0 --reactors 2 --pin; then
      [ "$(grep -c '^reactor [0-9]*: connections' "$log")" -eq 2 ] || fail "--pin: want 2 reactor lines"
    fi
    for mode in rr least reuseport; do
      if serve "$mode" 0 --reactors 2 --balance "$mode"; then
        [ "$(grep -c '^reactor [0-9]*: connections' "$log")" -eq 2 ] || fail "--balance $mode: want 2 reactor lines"
        grep -q '^pollux_' "$log" || fail "--balance $mode: no metrics dump"
      fi
    done
    if serve any --listen 0.0.0.0:0 --reactors 1; then
      grep -q '^listening on 0\.0\.0\.0:[0-9]*$' "$log" || fail "--listen 0.0.0.0:0: no 'listening on 0.0.0.0:PORT'"
    fi
    # A positional port replaces --listen's port (1 would need root).
    if serve positional --listen 127.0.0.1:1 0 1; then
      grep -q '^listening on 127\.0\.0\.1:[0-9]*$' "$log" || fail "positional port: no 'listening on 127.0.0.1:PORT'"
    fi
    ;;
  asio_echo)
    usage_error port 0..65535 abc
    usage_error port 0..65535 70000
    usage_error port 0..65535 -1
    usage_error threads 1..1024 0 0
    usage_error threads 1..1024 0 x
    usage_error --bogus "" --bogus
    busy_port 0 -- 127.0.0.1 PORT 1
    serve asio 0 2 && { grep -q '^thread 1: connections' "$log" || fail "no per-thread lines"; }
    ;;
  net_echo)  # the docs/net.md example uses CLI11's own Range, worded "0 to 65535"
    usage_error port "0 to 65535" abc
    usage_error port "0 to 65535" 70000
    usage_error port "0 to 65535" -5
    usage_error --bogus "" --bogus
    busy_port 0 -- 127.0.0.1 PORT
    ;;
  echo_load)
    usage_error --port "" --conns 1
    usage_error --port 1..65535 --port abc
    usage_error --port 1..65535 --port 70000
    usage_error --port 1..65535 --port 0
    usage_error --conns 1..1000000 --port 9 --conns 0
    usage_error --size 1..16777216 --port 9 --size -1
    usage_error --seconds 0.001..86400 --port 9 --seconds 0
    usage_error --seconds 0.001..86400 --port 9 --seconds soon
    usage_error --server-pid "" --port 9 --idle 5
    usage_error --bogus "" --port 9 --bogus 1
    # Nothing listens on a port just released by the holder: connect is refused.
    if start "$work/holder.log" "$holder" 0; then
      free=$port
      stop "$pid"
      run_error "$name: 127.0.0.1:$free: connect #0: Connection refused" --port "$free" --conns 1 --seconds 0.1
    fi
    ;;
  core_demo)
    usage_error --bogus "" --bogus
    usage_error 9000 "" 9000
    ;;
  udp_echo_bench)
    usage_error --pairs 1..1000 --pairs 0
    usage_error --size 1..1472 --size 2000
    usage_error --seconds 0.01..3600 --seconds abc
    usage_error --send-area 0..67108864 --send-area -1
    usage_error --bogus "" --bogus
    # scripts/bench tells Google Benchmark programs by this word in their --help.
    run --help
    if grep -q benchmark_filter "$work/out"; then fail "--help mentions benchmark_filter"; else ok "--help is not Google Benchmark's"; fi
    ;;
  http_server)
    usage_error --reactors 1..1024 --reactors 0
    usage_error --max-header-bytes 256..1048576 --max-header-bytes 10
    usage_error --header-timeout-ms 1..3600000 --header-timeout-ms 0
    usage_error --max-requests 1..1000000000 --max-requests x
    usage_error --balance rr,least,reuseport --balance fastest
    usage_error --listen IPV4:PORT --listen localhost:8080
    busy_port --listen 127.0.0.1:0 --reactors 1 -- 127.0.0.1 --listen 127.0.0.1:PORT --reactors 1
    busy_port --listen '[::1]:0' --reactors 1 -- '[::1]' --listen '[::1]:PORT' --reactors 1
    # Serving HTTP (not an echo): one request over /dev/tcp, then a clean SIGTERM stop.
    checks=$((checks + 1))
    if start "$work/http.log" "$bin" --listen '[::1]:0' --reactors 1 --pin; then
      reply=
      if exec 3<>"/dev/tcp/::1/$port"; then
        printf 'GET /plaintext HTTP/1.0\r\n\r\n' >&3
        reply=$(timeout 10 cat <&3)
        exec 3>&-
      fi
      stop "$pid"
      if [[ "$reply" == *"Hello, World!" ]] && [ "$rc" -eq 0 ]; then ok "--listen [::1]:0 --pin -> served /plaintext, stopped"
      else fail "--listen [::1]:0: reply '${reply:0:40}', exit $rc"; fi
    fi
    ;;
  kv_server)
    usage_error --reactors 1..1024 --reactors 0
    usage_error --max-bulk-bytes 1..536870912 --max-bulk-bytes 0
    usage_error --max-args 1..1048576 --max-args 2000000
    usage_error --balance rr,least,reuseport --balance fastest
    usage_error --listen IPV4:PORT --listen localhost:6379
    busy_port --listen 127.0.0.1:0 --reactors 1 -- 127.0.0.1 --listen 127.0.0.1:PORT --reactors 1
    busy_port --listen '[::1]:0' --reactors 1 -- '[::1]' --listen '[::1]:PORT' --reactors 1
    # Serving RESP: an inline PING over /dev/tcp, then a clean SIGTERM stop.
    checks=$((checks + 1))
    if start "$work/kv.log" "$bin" --listen '[::1]:0' --reactors 2 --pin; then
      reply=
      if exec 3<>"/dev/tcp/::1/$port"; then
        printf 'PING\r\n' >&3
        reply=$(timeout 10 head -c 7 <&3)
        exec 3>&-
      fi
      stop "$pid"
      if [ "$(tr -d '\r' <<<"$reply")" = "+PONG" ] && [ "$rc" -eq 0 ]; then ok "--listen [::1]:0 --pin -> +PONG, stopped"
      else fail "--listen [::1]:0: reply '$reply', exit $rc"; fi
    fi
    ;;
  unix_echo)
    sock=$work/echo.sock
    usage_error --path "" --reactors 1
    usage_error --mode 0..0777 --path "$sock" --mode 999
    usage_error --mode 0..0777 --path "$sock" --mode 1777
    usage_error --mode 0..0777 --path "$sock" --mode rw
    usage_error --reactors 1..1024 --path "$sock" --reactors 0
    usage_error --high-water 1..1073741824 --path "$sock" --high-water 0
    run_error "$name: $work/no/such/dir.sock: No such file or directory" --path "$work/no/such/dir.sock"
    # start_unix LOG ARGS...: like start, for "listening on PATH".
    start_unix() {
      local log=$1; shift
      "$bin" "$@" >"$log" 2>&1 </dev/null &
      pid=$!
      servers+=("$pid")
      for _ in $(seq 200); do
        grep -qx "listening on $sock" "$log" && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
      done
      fail "$*: printed no 'listening on $sock'"; cat "$log"
      return 1
    }
    unix_line() { [ "$(printf 'pollux\n' | timeout 10 socat -t 5 - "UNIX-CONNECT:$sock")" = pollux ]; }
    command -v socat >/dev/null || fail "socat is not installed (bash scripts/setup)"
    checks=$((checks + 1))
    if start_unix "$work/unix.log" --path "$sock" --reactors 2; then
      live=$pid
      # A live socket is never taken over, not even with --replace-stale.
      run_error "$name: $sock: Address already in use" --path "$sock"
      run_error "$name: $sock: Address already in use" --path "$sock" --replace-stale
      unix_line || fail "no echo from the first server after the refused binds"
      [ "$(stat -c %a "$sock")" = 600 ] || fail "mode $(stat -c %a "$sock"), want 600"
      stop "$live"
      if [ "$rc" -eq 0 ] && [ ! -e "$sock" ]; then ok "--path: served, refused a second bind, mode 600, stopped, file removed"
      else fail "--path: exit $rc after SIGTERM, file left: $(ls "$sock" 2>&1)"; fi
    fi
    # A stale file (its server was killed) is refused, then replaced with --replace-stale.
    checks=$((checks + 1))
    if start_unix "$work/unix.log" --path "$sock" --reactors 1 --mode 660; then
      kill -KILL "$pid"; wait "$pid" 2>/dev/null
      run_error "$name: $sock: Address already in use" --path "$sock"
      if start_unix "$work/unix2.log" --path "$sock" --reactors 1 --replace-stale; then
        unix_line || fail "--replace-stale: no echo"
        stop "$pid"
        [ "$rc" -eq 0 ] && ok "--replace-stale: the stale file was replaced, served, stopped" || fail "--replace-stale: exit $rc"
      fi
    fi
    ;;
  udp_echo)
    usage_error --listen IPV4:PORT --listen localhost:9000
    usage_error --listen 0..65535 --listen 127.0.0.1:65536
    usage_error --reactors 1..1024 --reactors 0
    usage_error --batch 1..64 --batch 65
    usage_error --recv-buffer 0..1073741824 --recv-buffer -1
    command -v socat >/dev/null || fail "socat is not installed (bash scripts/setup)"
    command -v ss >/dev/null || fail "ss is not installed (bash scripts/setup)"
    # A busy port: UdpServer's sockets set SO_REUSEPORT, so the holder must not. Find a
    # free port (the program itself on port 0), then hold it with socat.
    if start "$work/free.log" "$bin" --listen 127.0.0.1:0 --reactors 1; then
      held=$port
      stop "$pid"
      socat -u "UDP4-RECV:$held,bind=127.0.0.1" - >/dev/null 2>&1 </dev/null &
      holder_pid=$!
      servers+=("$holder_pid")
      for _ in $(seq 200); do [ -n "$(ss -Hunl "sport = :$held")" ] && break; sleep 0.05; done
      run_error "$name: 127.0.0.1:$held: Address already in use" --listen "127.0.0.1:$held" --reactors 2
      kill "$holder_pid"; wait "$holder_pid" 2>/dev/null
    fi
    for listen in '[::1]:0' 0.0.0.0:0; do
      checks=$((checks + 1))
      if start "$work/udp.log" "$bin" --listen "$listen" --reactors 2; then
        host=${addr#[}; host=${host%]}; [ "$host" = 0.0.0.0 ] && host=127.0.0.1
        [[ "$host" == *:* ]] && target="UDP6:[$host]:$port" || target="UDP4:$host:$port"
        reply=$(printf 'pollux\n' | timeout 10 socat -t 2 - "$target")
        stop "$pid"
        if [ "$reply" = pollux ] && [ "$rc" -eq 0 ]; then ok "--listen $listen -> listening on $addr:$port, echoed, stopped"
        else fail "--listen $listen: reply '$reply', exit $rc"; cat "$work/udp.log"; fi
      fi
    done
    ;;
  udp_echo_client)
    usage_error --server "" --count 1
    usage_error --server IPV4:PORT --server localhost:9000
    usage_error --count 1..100000000 --server 127.0.0.1:9 --count 0
    usage_error --size 0..65527 --server 127.0.0.1:9 --size 70000
    usage_error --window 1..4096 --server 127.0.0.1:9 --window 0
    usage_error --max-loss 0..100 --server 127.0.0.1:9 --max-loss 101
    # Against udp_echo (the holder): exit 0; once it has stopped, the port refuses.
    if start "$work/holder.log" "$holder" --listen 127.0.0.1:0 --reactors 1; then
      run --server "127.0.0.1:$port" --count 100
      if [ "$rc" -eq 0 ] && grep -q '^sent 100, received 100, lost 0 ' "$work/out"; then ok "--count 100 -> $(cat "$work/out")"
      else fail "--count 100 against udp_echo: exit $rc: $(cat "$work/out" "$work/err")"; fi
      stop "$pid"
      run_error "$name: 127.0.0.1:$port: Connection refused" --server "127.0.0.1:$port" --count 3
    fi
    ;;
  coro_lines)
    usage_error --listen IPV4:PORT --listen localhost:9006
    usage_error --reactors 1..1024 --reactors 0
    usage_error --max-line 1..1048576 --max-line 0
    usage_error --idle-timeout-ms 0..86400000 --idle-timeout-ms -1
    busy_port --listen 127.0.0.1:0 --reactors 1 -- 127.0.0.1 --listen 127.0.0.1:PORT --reactors 1
    # --echo: the line comes back as sent (the command protocol is clients_check.sh's).
    serve v4 --listen 127.0.0.1:0 --reactors 2 --echo
    serve v6 --listen '[::1]:0' --reactors 1 --echo
    ;;
  chat_server)
    usage_error --listen IPV4:PORT --listen localhost:9004
    usage_error --reactors 1..1024 --reactors 0
    usage_error --max-queue 4096..1073741824 --max-queue 100
    usage_error --max-line 1..1048576 --max-line 0
    usage_error --idle-timeout-ms 0..86400000 --idle-timeout-ms -1
    busy_port --listen 127.0.0.1:0 --reactors 1 -- 127.0.0.1 --listen 127.0.0.1:PORT --reactors 1
    # A lone client gets its own line back (every line goes to everyone, the sender too).
    serve v4 --listen 127.0.0.1:0 --reactors 2
    serve v6 --listen '[::1]:0' --reactors 1
    ;;
  tcp_proxy)  # HOLDER is echo_server: it holds the busy port, and is the upstream
    usage_error --upstream "" --listen 127.0.0.1:0
    usage_error --upstream HOST:PORT --upstream 127.0.0.1
    usage_error --upstream 1..65535 --upstream 127.0.0.1:0
    usage_error --upstream '[IPV6]:PORT' --upstream ::1:9000
    usage_error --listen IPV4:PORT --upstream 127.0.0.1:9 --listen localhost:9005
    usage_error --reactors 1..1024 --upstream 127.0.0.1:9 --reactors 0
    usage_error --high-water 1..1073741824 --upstream 127.0.0.1:9 --high-water 0
    usage_error --connect-timeout-ms 1..3600000 --upstream 127.0.0.1:9 --connect-timeout-ms 0
    run_error "$name: upstream no-such-host.invalid: Name or service not known" --upstream no-such-host.invalid:80
    busy_port 0 1 -- 127.0.0.1 --listen 127.0.0.1:PORT --upstream 127.0.0.1:9 --reactors 1
    # A line through the proxy to echo_server: by address, by name (localhost: each of its
    # addresses in turn), and on IPv6.
    if start "$work/upstream.log" "$holder" --listen 127.0.0.1:0 --reactors 1; then
      upstream_pid=$pid upstream_port=$port
      serve v4 --listen 127.0.0.1:0 --upstream "127.0.0.1:$upstream_port" --reactors 2
      serve name --listen 127.0.0.1:0 --upstream "localhost:$upstream_port" --reactors 1
      serve v6 --listen '[::1]:0' --upstream "127.0.0.1:$upstream_port" --reactors 1
      stop "$upstream_pid"
    fi
    ;;
  *)
    fail "no checks for this program in cli_check.sh"
    ;;
esac

if [ "$failures" -ne 0 ]; then
  echo "$name: $failures of $checks command-line checks FAILED"
  exit 1
fi
echo "$name: all $checks command-line checks passed"
