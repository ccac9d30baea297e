#!/usr/bin/env bash
# samples/chat_server/clients_check.sh SERVER — chat_server driven by socat (Debian's)
# clients, against the program started on a free port (2 reactors, --max-queue 256 KiB).
# Every wait is bounded; a missing tool is a failure, never a skip (scripts/setup
# installs socat).
#
#   order     3 clients (socat, each fed by a FIFO) and a 4th that never reads (bash's
#             /dev/tcp) join; each of the 3 sends 8 rounds of 20,000 numbered 100-byte
#             lines. After every round each of the 3 has received every line of the
#             round from all 3, and at the end each sender's lines are complete and in
#             order in every client's output.
#   slow      the 4th client is offered the same 48 MB and reads none of it: it is cut
#             (one "cut" line, close reason limit) and never holds the others back
#             (every round completes), and the server's peak RSS (VmHWM) stays within
#             a bound far below what was offered
#   stop      the clients half-close and get the server's close; SIGTERM: exit 0
set -u
server=${1:?usage: clients_check.sh SERVER}
work=$(mktemp -d)
pid=
readers=()
failures=0
cleanup() {
  for p in "${readers[@]}"; do kill -KILL "$p" 2>/dev/null; done
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

command -v socat >/dev/null || { echo "FAIL: socat is not installed (bash scripts/setup)"; exit 1; }

# A sanitizer build (CI's asan and tsan) holds freed memory back on purpose (quarantine,
# shadow memory): there the RSS is printed, not bounded, as in the framework's own
# memory tests.
sanitized=
grep -qa -e __asan_init -e __tsan_init "$server" && sanitized=1

rounds=8 per_round=20000 queue=$((256 * 1024))
rss_kib() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB$/\1/p" "/proc/$pid/status"; }
# wait_lines WANT SECONDS: until every reader's output has WANT numbered lines (plus the
# joins it saw: 4 - i for client ci).
wait_lines() {
  local deadline=$((SECONDS + $2)) i n want
  for i in 1 2 3; do
    want=$(($1 + 4 - i))
    while n=$(wc -l <"$work/out$i"); [ "$n" -lt "$want" ]; do
      [ "$SECONDS" -ge "$deadline" ] && { fail "client c$i has $n lines after $2 s, want $want"; return 1; }
      sleep 0.02
    done
  done
}

"$server" --listen 127.0.0.1:0 --reactors 2 --max-queue "$queue" >"$work/log" 2>&1 &
pid=$!
port=
for _ in $(seq 200); do
  port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/log")
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "FAIL: the server did not start"; cat "$work/log"; exit 1; }
base=$(rss_kib VmRSS)

# The fourth client first: connected, never reads.
exec 9<>"/dev/tcp/127.0.0.1/$port"
printf 'join slow\n' >&9
# Three clients, one after the other: socat between a FIFO (what it sends) and a file
# (what it receives). Each is in the room once its own join came back, so it gets every
# later line: c1 sees 3 joins, c2 2, c3 1.
for i in 1 2 3; do
  mkfifo "$work/in$i"
  socat -t 30 - "TCP:127.0.0.1:$port" <"$work/in$i" >"$work/out$i" 2>"$work/socat$i.err" &
  readers+=($!)
  eval "exec $((i + 2))>'$work/in$i'"
  printf 'join c%d\n' "$i" >&$((i + 2))
  for _ in $(seq 200); do grep -qx "join c$i" "$work/out$i" && break; sleep 0.05; done
done
wait_lines 0 10 && ok "4 clients joined (2 reactors); each reader saw its own join"

send_round() {  # FD ID FROM: per_round numbered lines of 100 bytes
  awk -v id="$2" -v from="$3" -v n="$per_round" 'BEGIN {
    pad = sprintf("%89s", ""); gsub(/ /, "x", pad)
    for (i = from; i < from + n; i++) printf "%s %06d %s\n", id, i, pad
  }' >&"$1"
}
t0=$(date +%s%N)
for ((r = 0; r < rounds; r++)); do
  senders=()
  for i in 1 2 3; do send_round $((i + 2)) "c$i" $((r * per_round)) & senders+=($!); done
  wait "${senders[@]}"
  wait_lines $((3 * per_round * (r + 1))) 20 || break
done
ms=$((($(date +%s%N) - t0) / 1000000))
peak=$(rss_kib VmHWM)
offered=$((3 * rounds * per_round * 100))

# Every reader: each sender's lines complete and in order.
for i in 1 2 3; do
  bad=$(awk -v n=$((rounds * per_round)) '
    $1 == "join" { next }
    { if ($2 + 0 != next_of[$1] + 0) bad++; next_of[$1]++ }
    END { for (s in next_of) if (next_of[s] != n) bad++; if (length(next_of) != 3) bad++; print bad + 0 }' "$work/out$i")
  [ "$bad" -eq 0 ] || fail "client c$i: $bad lines out of order, missing or unknown"
done
[ "$failures" -eq 0 ] &&
  ok "3 clients got all $((3 * rounds * per_round)) lines of each other, each sender's in order ($rounds rounds, $ms ms)"

cuts=$(grep -c '^cut ' "$work/log")
if [ "$cuts" -eq 1 ]; then ok "the client that never read was cut: $(grep '^cut ' "$work/log")"
else fail "want exactly 1 cut, got $cuts"; grep '^cut ' "$work/log"; fi
growth=$((peak - base))
# Bound: the cut client's queue (256 KiB), the readers' queues, each reactor's 64 KiB
# read scratch and its buffer pool cache (at most 4 MiB), allocator slack.
bound=$((16 * 1024))
if [ -n "$sanitized" ]; then
  ok "server RSS: $base KiB before, peak $peak KiB (+$growth KiB; a sanitizer build, not bounded)"
elif [ "$growth" -le "$bound" ]; then
  ok "server RSS: $base KiB before, peak $peak KiB (+$growth KiB) while $((offered / 1024 / 1024)) MiB went to the client that never read (bound +$bound KiB)"
else
  fail "server peak RSS +$growth KiB, bound +$bound KiB"
fi

# Half-close every client: the server flushes and closes; socat then exits.
exec 3>&- 4>&- 5>&- 9>&-
for p in "${readers[@]}"; do
  for _ in $(seq 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$p" 2>/dev/null && fail "a socat client did not finish within 10 s of its half-close"
  wait "$p"
done
readers=()
kill -TERM "$pid"
for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -KILL "$pid" 2>/dev/null && fail "the server did not stop within 10 s on SIGTERM"
wait "$pid"; rc=$?; pid=
[ "$rc" -eq 0 ] && ok "stopped on SIGTERM: $(tail -n 1 "$work/log")" || fail "the server exited with $rc"

if [ "$failures" -eq 0 ]; then echo "chat_server: every client check passed"; exit 0; fi
echo "chat_server: $failures client check(s) failed"
exit 1
