#!/usr/bin/env bash
# samples/udp_echo/clients_check.sh SERVER CLIENT — udp_echo driven by socat (Debian's)
# and by udp_echo_client, against the program started on a free port (2 reactors).
# Every wait is bounded; a missing tool is a failure, never a skip (scripts/setup
# installs socat).
#
#   socat    a line comes back; one 65,507-byte datagram (the largest over IPv4) comes
#            back whole (SHA-256)
#   client   10 empty datagrams, each answered by an empty one; 20 of 65,507 bytes, one in flight
#            (a few such replies at once can overflow the default receive buffer);
#            10^4 numbered datagrams, 32 in flight, every reply checked, loss reported;
#            over IPv6, 65,527 bytes (the largest there)
#   stop     SIGTERM: exit 0, and the server counted no truncated datagram
set -u
server=${1:?usage: clients_check.sh SERVER CLIENT}
client=${2:?usage: clients_check.sh SERVER CLIENT}
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

for tool in socat sha256sum; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (bash scripts/setup)"; exit 1; }
done

start() {  # LISTEN: starts the server, sets port
  "$server" --listen "$1" --reactors 2 >"$work/log" 2>&1 &
  pid=$!
  port=
  for _ in $(seq 200); do
    port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$work/log")
    [ -n "$port" ] && return 0
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
client_run() {  # LABEL ARGS...: udp_echo_client must exit 0; prints its line
  local label=$1; shift
  local out rc
  out=$(timeout 30 "$client" "$@" 2>&1); rc=$?
  if [ "$rc" -eq 0 ]; then ok "udp_echo_client $label: $out"; else fail "udp_echo_client $label: exit $rc: $out"; fi
}

start 127.0.0.1:0
reply=$(printf 'pollux\n' | timeout 10 socat -t 2 - "UDP:127.0.0.1:$port")
if [ "$reply" = pollux ]; then ok "socat: a line came back"; else fail "socat line: got '$reply'"; fi

# socat reads the file with one read of up to -b bytes: one datagram each way.
head -c 65507 /dev/urandom >"$work/big"
want=$(sha256sum <"$work/big" | cut -d' ' -f1)
got=$(timeout 10 socat -b 65536 -t 2 - "UDP:127.0.0.1:$port" <"$work/big" | tee "$work/big.back" | sha256sum | cut -d' ' -f1)
if [ "$got" = "$want" ] && [ "$(stat -c %s "$work/big.back")" = 65507 ]; then
  ok "socat: one 65,507-byte datagram came back whole (SHA-256 $want)"
else
  fail "socat 65,507 bytes: got $(stat -c %s "$work/big.back") bytes, sha256 $got, want $want"
fi

client_run "0-byte" --server "127.0.0.1:$port" --count 10 --size 0 --max-loss 0
client_run "65,507-byte" --server "127.0.0.1:$port" --count 20 --size 65507 --window 1 --max-loss 0
# 10^4 numbered datagrams: the loss is reported; above 10% something is wrong, not UDP.
client_run "10^4 numbered" --server "127.0.0.1:$port" --count 10000 --size 64 --window 32 --max-loss 10
stop
counts=$(grep '^datagrams in' "$work/log")
if [[ "$counts" == *"truncated 0,"* ]]; then ok "server: $counts"; else fail "server counters: '$counts'"; fi

start '[::1]:0'
client_run "IPv6 65,527-byte" --server "[::1]:$port" --count 10 --size 65527 --window 1 --max-loss 0
stop

# Nothing listens on the port just released: the ICMP port unreachable comes back as
# ECONNREFUSED on the client's connected socket.
out=$(timeout 10 "$client" --server "[::1]:$port" --count 3 2>&1); rc=$?
if [ "$rc" -eq 1 ] && [[ "$out" == *"Connection refused"* ]]; then ok "udp_echo_client on a closed port: $out"
else fail "closed port: exit $rc: $out"; fi

if [ "$failures" -eq 0 ]; then echo "udp_echo: every client check passed"; exit 0; fi
echo "udp_echo: $failures client check(s) failed"
exit 1
