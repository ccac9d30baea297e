#!/usr/bin/env bash
# samples/unix_echo/clients_check.sh SERVER — unix_echo driven by socat (Debian's) as
# the client. Every wait is bounded; a missing tool is a failure, never a skip
# (scripts/setup installs socat).
#
#   mode    the socket file is a socket with mode 0600 by default, 0660 with --mode 0660
#           (stat), and is gone after SIGTERM
#   64 MiB  socat sends 64 MiB of random bytes and half-closes while reading the echo;
#           the SHA-256 of what came back equals the SHA-256 of what was sent, and the
#           server's close after the half-close ends socat's read (no timeout needed)
#   line    one line through `socat - UNIX-CONNECT:PATH`
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

for tool in socat sha256sum stat; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (bash scripts/setup)"; exit 1; }
done

sock=$work/echo.sock
start() {  # ARGS...: starts the server on $sock, waits for "listening on $sock"
  "$server" --path "$sock" --reactors 2 "$@" >"$work/log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do
    grep -qx "listening on $sock" "$work/log" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "FAIL: the server did not start"; cat "$work/log"; exit 1
}
stop() {
  kill -TERM "$pid"
  for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null && fail "the server did not stop within 10 s on SIGTERM"
  wait "$pid"
  local rc=$?
  pid=
  [ "$rc" -eq 0 ] || fail "the server exited with $rc"
}

start
if [ -S "$sock" ] && [ "$(stat -c %a "$sock")" = 600 ]; then
  ok "the socket file has mode 600 by default (stat: $(stat -c '%A %F' "$sock"))"
else
  fail "socket file: $(stat -c '%a %F' "$sock" 2>&1), want 600 socket"
fi

reply=$(printf 'pollux\n' | timeout 10 socat -t 5 - "UNIX-CONNECT:$sock")
if [ "$reply" = pollux ]; then ok "socat: one line echoed"; else fail "socat line: got '$reply'"; fi

# 64 MiB: socat copies stdin into the socket and the socket to stdout. At the end of
# stdin it half-closes the socket and keeps reading; the server's close after echoing
# everything is what ends its output (-t 30 would only cut it after 30 s).
head -c $((64 * 1024 * 1024)) /dev/urandom >"$work/data"
want=$(sha256sum <"$work/data" | cut -d' ' -f1)
t0=$(date +%s%N)
timeout 30 socat -t 30 - "UNIX-CONNECT:$sock" <"$work/data" 2>"$work/socat.err" | sha256sum >"$work/back.sum"
rc=${PIPESTATUS[0]}
ms=$((($(date +%s%N) - t0) / 1000000))
got=$(cut -d' ' -f1 "$work/back.sum" 2>/dev/null)
if [ "$rc" -eq 0 ] && [ "$got" = "$want" ]; then
  ok "socat: 64 MiB echoed, SHA-256 $want on both sides ($ms ms)"
else
  fail "64 MiB echo: socat exit $rc, sha256 '$got', want '$want'"; cat "$work/socat.err"
fi
stop
[ -e "$sock" ] && fail "the socket file is still there after the stop" || ok "the socket file is gone after SIGTERM"

start --mode 0660
if [ "$(stat -c %a "$sock")" = 660 ]; then ok "--mode 0660: the socket file has mode 660"; else fail "--mode 0660: mode $(stat -c %a "$sock")"; fi
stop

if [ "$failures" -eq 0 ]; then echo "unix_echo: every client check passed"; exit 0; fi
echo "unix_echo: $failures client check(s) failed"
exit 1
