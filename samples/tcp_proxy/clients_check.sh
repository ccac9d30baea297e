#!/usr/bin/env bash
# samples/tcp_proxy/clients_check.sh PROXY — tcp_proxy between real clients and servers
# from Debian (socat, iperf3), each check against the program started as a process on a
# free port (2 reactors). Every wait is bounded; a missing tool is a failure, never a
# skip (scripts/setup installs them).
#
#   half-close  the client (socat) sends 16 MiB and half-closes; only then does the
#               upstream (socat) send its 16 MiB back and half-close. Both SHA-256 match,
#               and both socats end by themselves (each waits up to 30 s for the other
#               direction's end: an end of stream not passed on would hang them)
#   both ways   16 MiB each way at once, SHA-256 on both sides
#   down        an upstream port nobody listens on: the client reads a reset, in < 1 s
#   reset       an upstream killed with bytes unread (its kernel resets) while the client
#               is still sending: the client reads a reset, not an end of stream
#   RSS         an upstream that never reads while the client sends, then a client that
#               never reads while the upstream sends: the sender stays connected
#               (blocked, not cut), and the proxy's peak RSS (VmHWM) stays bounded
#   iperf3      -t 2 through the proxy and direct, both directions (-R): the ratio of
#               the throughputs is printed, not asserted
#   stop        SIGTERM: exit 0
set -u
proxy=${1:?usage: clients_check.sh PROXY}
work=$(mktemp -d)
pids=()
failures=0
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

for tool in socat iperf3 sha256sum ss dd; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (bash scripts/setup)"; exit 1; }
done

# free_port: a port no TCP socket uses now, below Linux's default ephemeral range
# (32768-60999), so that no outgoing connection takes it meanwhile.
free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 12000))
    [ -z "$(ss -Htan "sport = :$p")" ] && { echo "$p"; return; }
  done
  echo 0
}
# wait_listen PORT: until something listens on 127.0.0.1:PORT (10 s).
wait_listen() {
  for _ in $(seq 200); do [ -n "$(ss -Htln "sport = :$1")" ] && return 0; sleep 0.05; done
  fail "nothing listens on port $1 after 10 s"; return 1
}
# start_proxy UPSTREAM_PORT: starts the proxy; sets ppid and pport.
start_proxy() {
  "$proxy" --listen 127.0.0.1:0 --upstream "127.0.0.1:$1" --reactors 2 >"$work/proxy.log" 2>&1 &
  ppid=$!
  pids+=("$ppid")
  pport=
  for _ in $(seq 200); do
    pport=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/proxy.log")
    [ -n "$pport" ] && return 0
    sleep 0.05
  done
  echo "FAIL: the proxy did not start"; cat "$work/proxy.log"; exit 1
}
stop_proxy() {
  kill -TERM "$ppid"
  for _ in $(seq 200); do kill -0 "$ppid" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$ppid" 2>/dev/null && fail "the proxy did not stop within 10 s on SIGTERM"
  wait "$ppid"
  local rc=$?
  [ "$rc" -eq 0 ] && ok "the proxy stopped on SIGTERM" || { fail "the proxy exited with $rc"; cat "$work/proxy.log"; }
}
# wait_pid PID SECONDS: until PID ends; fails (and kills it) after SECONDS. Sets rc.
wait_pid() {
  local deadline=$((SECONDS + $2))
  while kill -0 "$1" 2>/dev/null; do
    [ "$SECONDS" -ge "$deadline" ] && { kill -KILL "$1" 2>/dev/null; wait "$1"; rc=124; return 1; }
    sleep 0.02
  done
  wait "$1"; rc=$?
}
rss_kib() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB$/\1/p" "/proc/$ppid/status"; }
sha() { sha256sum <"$1" | cut -c1-64; }

# A sanitizer build (CI's asan and tsan) holds freed memory back on purpose (quarantine,
# shadow memory): there the RSS is printed, not bounded, as in the framework's own
# memory tests.
sanitized=
grep -qa -e __asan_init -e __tsan_init "$proxy" && sanitized=1

head -c $((16 * 1024 * 1024)) /dev/urandom >"$work/d1"
head -c $((16 * 1024 * 1024)) /dev/urandom >"$work/d2"
up=$(free_port)
start_proxy "$up"
base=$(rss_kib VmRSS)

# ---- half-close: the upstream answers only after the client's end of stream ----------
mkfifo "$work/up_feed"
socat -t 30 "TCP-LISTEN:$up,bind=127.0.0.1,reuseaddr" "OPEN:$work/up_feed,rdonly!!CREATE:$work/up_got" \
  2>"$work/up.err" &
upid=$!; pids+=("$upid")
exec 7<>"$work/up_feed"  # a writer, so that socat's open of the FIFO does not block
wait_listen "$up"
t0=$(date +%s%N)
socat -t 30 - "TCP:127.0.0.1:$pport" <"$work/d1" >"$work/c_got" 2>"$work/c.err" 7>&- &
cpid=$!; pids+=("$cpid")
for _ in $(seq 400); do [ "$(stat -c %s "$work/up_got" 2>/dev/null || echo 0)" -ge $((16 * 1024 * 1024)) ] && break; sleep 0.05; done
t_up=$(ms_since "$t0")
cat "$work/d2" >&7
exec 7>&-
wait_pid "$cpid" 20; c_rc=$rc
wait_pid "$upid" 20; u_rc=$rc
if [ "$c_rc" -eq 0 ] && [ "$u_rc" -eq 0 ] && [ "$(sha "$work/up_got")" = "$(sha "$work/d1")" ] &&
   [ "$(sha "$work/c_got")" = "$(sha "$work/d2")" ]; then
  ok "half-close: 16 MiB client->upstream and half-close ($t_up ms), then 16 MiB upstream->client and half-close; SHA-256 match both ways, both socats ended by themselves ($(ms_since "$t0") ms)"
else
  fail "half-close: client socat exit $c_rc, upstream socat exit $u_rc, sha up $(sha "$work/up_got") want $(sha "$work/d1"), sha client $(sha "$work/c_got") want $(sha "$work/d2")"
  cat "$work/c.err" "$work/up.err"
fi

# ---- both ways at once ----------------------------------------------------------------
rm -f "$work/up_got" "$work/c_got"
socat -t 30 "TCP-LISTEN:$up,bind=127.0.0.1,reuseaddr" "OPEN:$work/d2,rdonly!!CREATE:$work/up_got" 2>"$work/up.err" &
upid=$!; pids+=("$upid")
wait_listen "$up"
t0=$(date +%s%N)
socat -t 30 - "TCP:127.0.0.1:$pport" <"$work/d1" >"$work/c_got" 2>"$work/c.err" &
cpid=$!; pids+=("$cpid")
wait_pid "$cpid" 20; c_rc=$rc
wait_pid "$upid" 20; u_rc=$rc
if [ "$c_rc" -eq 0 ] && [ "$u_rc" -eq 0 ] && [ "$(sha "$work/up_got")" = "$(sha "$work/d1")" ] &&
   [ "$(sha "$work/c_got")" = "$(sha "$work/d2")" ]; then
  ok "both ways: 16 MiB each way at once, SHA-256 match on both sides ($(ms_since "$t0") ms)"
else
  fail "both ways: client socat exit $c_rc, upstream socat exit $u_rc"; cat "$work/c.err" "$work/up.err"
fi

# ---- an upstream nobody listens on: a reset, quickly ----------------------------------
# The client is bash's /dev/tcp and cat, which reports a reset (socat takes one for an
# end of stream).
# read_reset LABEL MAX_MS: connects to the proxy, reads with cat until it ends; passes
# when cat reports "Connection reset by peer" within MAX_MS. Sets got.
read_reset() {
  if ! exec 4<>"/dev/tcp/127.0.0.1/$pport"; then fail "$1: cannot connect to the proxy"; return; fi
  read_reset_open "$@"
  exec 4>&-
}
read_reset_open() {  # the same on fd 4, already connected
  local t0 ms c_rc
  t0=$(date +%s%N)
  timeout 5 cat <&4 >"$work/c_got" 2>"$work/c.err"; c_rc=$?
  ms=$(ms_since "$t0")
  got=$(tr -d '\n' <"$work/c_got")
  if [ "$c_rc" -ne 0 ] && grep -q 'Connection reset by peer' "$work/c.err" && [ "$ms" -lt "$2" ]; then
    ok "$1: the client read '${got}' then a reset, after $ms ms"
  else
    fail "$1: cat exit $c_rc after $ms ms, read '${got}': $(cat "$work/c.err")"
  fi
}
read_reset "upstream down" 1000
grep -q "^tcp_proxy: upstream 127.0.0.1:$up: Connection refused" "$work/proxy.log" &&
  ok "the proxy said: $(grep -m1 '^tcp_proxy: upstream' "$work/proxy.log")" || fail "no 'upstream ...: Connection refused' line"

# ---- an upstream that resets ----------------------------------------------------------
# The client keeps sending; the upstream (socat handing the bytes to a `sleep` that never
# reads them) is killed with bytes unread, so its kernel answers with a reset. A proxy
# that passed it on as a graceful close would give the client an end of stream instead.
socat "TCP-LISTEN:$up,bind=127.0.0.1,reuseaddr" SYSTEM:'sleep 20' 2>/dev/null &
upid=$!; pids+=("$upid")
wait_listen "$up"
exec 4<>"/dev/tcp/127.0.0.1/$pport"
head -c $((8 * 1024 * 1024)) /dev/zero >&4 2>/dev/null &
wpid=$!; pids+=("$wpid")
# Wait (bounded) until the upstream holds unread bytes for good: killed before that, its
# kernel would answer with a FIN, not a reset. socat copies into its child's socketpair
# until that is full, so a first glimpse of unread bytes may be gone a moment later:
# wait for 64 KiB or more in two samples 50 ms apart (socat has stopped reading).
held=0
for _ in $(seq 200); do
  unread=$(ss -Htn state established "( sport = :$up )" | awk '{ s += $1 } END { print s + 0 }')
  if [ "$unread" -ge 65536 ]; then held=$((held + 1)); else held=0; fi
  [ "$held" -ge 2 ] && break
  sleep 0.05
done
kill -KILL "$upid" $(pgrep -P "$upid")  # socat and its child, which shares the socket
read_reset_open "upstream reset" 1000
exec 4>&-
kill "$wpid" 2>/dev/null; wait "$upid" "$wpid" 2>/dev/null

# ---- RSS: a side that never reads -----------------------------------------------------
# The upstream reads nothing (sleep never reads what socat hands it, so socat stops).
socat "TCP-LISTEN:$up,bind=127.0.0.1,reuseaddr" SYSTEM:'sleep 20' 2>/dev/null &
upid=$!; pids+=("$upid")
wait_listen "$up"
mkfifo "$work/push"
dd if=/dev/zero of="$work/push" bs=64k count=16384 2>"$work/dd.err" &
ddpid=$!; pids+=("$ddpid")
socat -u "OPEN:$work/push,rdonly" "TCP:127.0.0.1:$pport" 2>"$work/c.err" &
cpid=$!; pids+=("$cpid")
sleep 3
kill -USR1 "$ddpid"; sleep 0.2  # dd prints what it has written so far
pushed=$(sed -n 's/^\([0-9]*\) bytes.*copied.*/\1/p' "$work/dd.err" | tail -n 1)
if kill -0 "$cpid" 2>/dev/null; then ok "upstream never reads: the client is blocked, not cut, after pushing ${pushed:-?} bytes in 3 s"
else fail "upstream never reads: the client ended: $(cat "$work/c.err")"; fi
peak_a=$(rss_kib VmHWM)
kill "$cpid" "$upid" "$ddpid" 2>/dev/null; wait "$cpid" "$upid" "$ddpid" 2>/dev/null
# The client reads nothing while the upstream sends zeros.
socat -u OPEN:/dev/zero "TCP-LISTEN:$up,bind=127.0.0.1,reuseaddr" 2>/dev/null &
upid=$!; pids+=("$upid")
wait_listen "$up"
exec 8<>"/dev/tcp/127.0.0.1/$pport"
sleep 3
if kill -0 "$upid" 2>/dev/null; then ok "client never reads: the upstream is blocked, not cut"
else fail "client never reads: the upstream's socat ended"; fi
peak=$(rss_kib VmHWM)
exec 8>&-
kill "$upid" 2>/dev/null; wait "$upid" 2>/dev/null
bound=$((16 * 1024))
growth=$((peak - base))
if [ -n "$sanitized" ]; then
  ok "proxy RSS: $base KiB at start, peak $peak KiB (+$growth KiB; a sanitizer build, not bounded)"
elif [ "$growth" -le "$bound" ]; then
  ok "proxy RSS: $base KiB at start, peak $peak_a KiB with the upstream not reading, $peak KiB after the client not reading (+$growth KiB, bound +$bound KiB; --high-water 256 KiB)"
else
  fail "proxy peak RSS +$growth KiB, bound +$bound KiB"
fi

# ---- iperf3 through the proxy and direct ----------------------------------------------
iperf3 -s -p "$up" --bind 127.0.0.1 >"$work/iperf3s.log" 2>&1 &
ipid=$!; pids+=("$ipid")
wait_listen "$up"
mbps() {  # PORT ARGS...: the receiver's Mbits/s of a 2 s run, or nothing
  timeout 20 iperf3 -c 127.0.0.1 -p "$1" -t 2 -f m "${@:2}" 2>&1 | tee -a "$work/iperf3c.log" |
    awk '/receiver$/ { print $(NF - 2) }'
}
for dir in "" -R; do
  direct=$(mbps "$up" $dir)
  proxied=$(mbps "$pport" $dir)
  label=${dir:+reverse (-R)}; label=${label:-forward}
  if [ -n "$direct" ] && [ -n "$proxied" ]; then
    ok "iperf3 $label: direct $direct Mbit/s, through the proxy $proxied Mbit/s, ratio $(awk -v a="$proxied" -v b="$direct" 'BEGIN { printf "%.2f", a / b }')"
  else
    fail "iperf3 $label: direct '$direct', proxied '$proxied'"; tail -20 "$work/iperf3c.log"
  fi
done
kill "$ipid"; wait "$ipid" 2>/dev/null

stop_proxy
if [ "$failures" -eq 0 ]; then echo "tcp_proxy: every client check passed"; exit 0; fi
echo "tcp_proxy: $failures client check(s) failed"
exit 1
