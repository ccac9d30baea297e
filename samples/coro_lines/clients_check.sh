#!/usr/bin/env bash
# samples/coro_lines/clients_check.sh SERVER — coro_lines driven by socat (Debian's),
# each case against the program started on a free port. Every wait is bounded; a missing
# tool is a failure, never a skip (scripts/setup installs socat).
#
#   commands   ECHO, UPPER, an unknown command, SLEEP, QUIT: the replies in order, then
#              the server's close
#   pipelined  10,000 ECHO lines in one stream come back complete and in order
#   too long   with --max-line 16, a 17-byte line gets "ERR line too long" and the close
#   idle       with --idle-timeout-ms 200, a silent client gets "ERR idle" and the close
#   echo       --echo: 4 MiB of random bytes come back identical (SHA-256)
#   stop       SIGTERM while a client's task sleeps (SLEEP 10000): exit 0 within 5 s
set -u
server=${1:?usage: clients_check.sh SERVER}
work=$(mktemp -d)
pid=
failures=0
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

command -v socat >/dev/null || { echo "FAIL: socat is not installed (bash scripts/setup)"; exit 1; }

# start ARGS...: the server on a free port; sets pid and port.
start() {
  "$server" --listen 127.0.0.1:0 --reactors 2 "$@" >"$work/server.log" 2>&1 </dev/null &
  pid=$! port=
  for _ in $(seq 200); do
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/server.log")
    [ -n "$port" ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  fail "server did not start: $(cat "$work/server.log")"
  exit 1
}
# stop: SIGTERM, at most 10 s; sets rc.
stop() {
  kill -TERM "$pid"
  for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null && fail "server did not stop within 10 s"
  wait "$pid"; rc=$?
  pid=
}
# client SECONDS: socat with stdin as the request; waits for the server's close (-t).
client() { timeout 10 socat -t "$1" - "TCP:127.0.0.1:$port"; }

start
got=$(printf 'ECHO hello world\nUPPER pollux\r\nNOPE\nSLEEP 50\nSLEEP x\nQUIT\nECHO never\n' | client 5)
want=$'hello world\nPOLLUX\nERR unknown command\nOK\nERR SLEEP takes 0..10000\nBYE'
[ "$got" = "$want" ] && ok "commands" || fail "commands: got '$got'"

seq -f 'ECHO line %g' 10000 >"$work/lines"
sed 's/^ECHO //' "$work/lines" >"$work/want"
client 5 <"$work/lines" >"$work/got" &
cpid=$!
sleep 0.5  # socat closes its write side at the end of input; the replies come first
wait "$cpid"
cmp -s "$work/got" "$work/want" && ok "pipelined: 10000 lines in order" \
  || fail "pipelined: $(wc -l <"$work/got") lines back, first difference: $(cmp "$work/got" "$work/want" 2>&1)"
stop
[ "$rc" -eq 0 ] && ok "SIGTERM: exit 0" || fail "SIGTERM: exit $rc"

start --max-line 16
got=$(printf 'ECHO 0123456789\nECHO 0123456789ab\nECHO after\n' | client 5)
[ "$got" = $'0123456789\nERR line too long' ] && ok "too long: refused and closed" || fail "too long: got '$got'"
stop

start --idle-timeout-ms 200
t0=$(date +%s%N)  # before the connect: the server's deadline starts after it
exec 3<>"/dev/tcp/127.0.0.1/$port"
line= rest=x
read -r -t 5 line <&3
ms=$((($(date +%s%N) - t0) / 1000000))
read -r -t 5 rest <&3  # then end of stream: the server closed
eof=$?
exec 3>&-
if [ "$line" = "ERR idle" ] && [ "$ms" -ge 200 ] && [ "$ms" -lt 2500 ] && [ "$eof" -eq 1 ] && [ -z "$rest" ]; then
  ok "idle: 'ERR idle' after $ms ms, then the close"
else fail "idle: got '$line' after $ms ms, then '$rest' (read status $eof)"; fi
stop

start --echo
head -c $((4 * 1024 * 1024)) /dev/urandom >"$work/blob"
client 5 <"$work/blob" >"$work/blob.back"
a=$(sha256sum <"$work/blob") b=$(sha256sum <"$work/blob.back")
[ "$a" = "$b" ] && ok "echo: 4 MiB back, SHA-256 equal" || fail "echo: $(stat -c %s "$work/blob.back") bytes back, digests differ"
stop

start
# The client answers the server's shutdown with its own close (socat -t 0.2), as a peer
# does: the graceful close then completes and ends the sleeping task.
mkfifo "$work/feed"
timeout 10 socat -t 0.2 - "TCP:127.0.0.1:$port" <"$work/feed" >"$work/stop.out" &
cpid=$!
exec 4>"$work/feed"
printf 'SLEEP 10000\n' >&4
sleep 0.3
t0=$(date +%s%N)
stop
ms=$((($(date +%s%N) - t0) / 1000000))
exec 4>&-
wait "$cpid"
if [ "$rc" -eq 0 ] && [ "$ms" -lt 5000 ]; then ok "stop while a task sleeps: exit 0 after $ms ms"
else fail "stop while a task sleeps: exit $rc after $ms ms"; fi

[ "$failures" -eq 0 ] || { echo "coro_lines: $failures checks FAILED"; exit 1; }
echo "coro_lines: all checks passed"
