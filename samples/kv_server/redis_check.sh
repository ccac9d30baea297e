#!/usr/bin/env bash
# samples/kv_server/redis_check.sh SERVER — kv_server driven by Debian's redis-tools:
#   1. redis-cli runs a script of commands; its output must equal what Redis 7 prints
#      (values, (nil) as an empty line, integers, error texts, TTLs, INCR on a string);
#   2. keys set by one redis-cli connection are read by others (the balancer spreads them
#      over the 2 reactors; each key lives on one shard);
#   3. a key with PX 200 is gone 400 ms later (GET, EXISTS, TTL);
#   4. redis-benchmark -t ping,set,get,incr,mset -n 100000 -c 50 -P 16 -q completes, no errors;
#   5. a malformed frame gets a protocol error and a close.
# Every wait is bounded; a missing tool is a failure.
set -u
server=${1:?usage: redis_check.sh SERVER}
work=$(mktemp -d)
pid=
failures=0
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
for tool in redis-cli redis-benchmark; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (bash scripts/setup)"; exit 1; }
done

"$server" --listen 127.0.0.1:0 --reactors 2 >"$work/log" 2>&1 &
pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/log")
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "FAIL: no port"; cat "$work/log"; exit 1; }
cli() { timeout 10 redis-cli -p "$port" "$@"; }

# 1. A script of commands and Redis's answers: the expected text below is what
#    redis-cli 7.0.15 printed for this script against redis-server 7.0.15 (Debian 12).
#    Without a terminal redis-cli prints values bare, (nil) as an empty line, an error
#    as its text and an empty line; QUIT prints nothing.
cat >"$work/script" <<'CMDS'
PING
SET greeting hello
GET greeting
GET missing
SET counter 10
INCR counter
INCRBY counter 5
DECR counter
INCR greeting
SET t v EX 100
TTL t
TTL greeting
TTL missing
EXPIRE greeting 50
TTL greeting
SET once a NX
SET once b NX
GET once
SET once c XX
GET once
MSET k1 v1 k2 v2 k3 v3
MGET k1 missing k3 k2
EXISTS k1 k2 missing
DEL k1 missing
EXISTS k1
ECHO "two words"
GET
FOO bar
DBSIZE
QUIT
CMDS
cat >"$work/want" <<'WANT'
PONG
OK
hello

OK
11
16
15
ERR value is not an integer or out of range

OK
100
-1
-2
1
50
OK

a
OK
c
OK
v1

v3
v2
2
1
0
two words
ERR wrong number of arguments for 'get' command

ERR unknown command 'FOO', with args beginning with: 'bar' 

6
WANT
cli <"$work/script" >"$work/got" 2>&1
if diff -u "$work/want" "$work/got" >"$work/diff"; then ok "redis-cli script: $(wc -l <"$work/want") answers as Redis gives them"
else fail "redis-cli script differs"; cat "$work/diff"; fi

# 2. Across connections (and reactors).
for i in $(seq 20); do cli SET "spread:$i" "value-$i" >/dev/null; done
bad=0
for i in $(seq 20); do [ "$(cli GET "spread:$i")" = "value-$i" ] || bad=$((bad + 1)); done
if [ "$bad" -eq 0 ]; then ok "20 keys set on some connections, read on others"; else fail "$bad keys not read back"; fi
kill -0 "$pid" || fail "the server died"

# 3. Expiry.
cli SET brief x PX 200 >/dev/null
sleep 0.4
got=$(printf 'GET brief\nEXISTS brief\nTTL brief\n' | cli)
if [ "$got" = $'\n0\n-2' ]; then ok "PX 200: gone after 400 ms (GET nil, EXISTS 0, TTL -2)"; else fail "expiry: got '$got'"; fi

# 4. redis-benchmark, pipelined.
out=$(timeout 120 redis-benchmark -p "$port" -t ping,set,get,incr,mset -n 100000 -c 50 -P 16 -q 2>&1 | tr '\r' '\n')
n=$(grep -c 'requests per second' <<<"$out")
if [ "$n" -eq 6 ] && ! grep -qi 'error' <<<"$out"; then
  ok "redis-benchmark -P 16: $(grep 'requests per second' <<<"$out" | sed 's/: \([0-9.]*\) requests per second.*/ \1/' | tr '\n' ',' | sed 's/,$//')"
else
  fail "redis-benchmark"; echo "$out" | grep -v '^ *$' | tail -20
fi

# 5. A malformed frame: the error, then the server closes.
reply=$(printf '*1\r\n$-7\r\n' | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; cat >&3; timeout 5 cat <&3")
if [ "$(tr -d '\r' <<<"$reply")" = "-ERR Protocol error: invalid bulk length" ]; then ok "malformed frame: protocol error, closed"
else fail "malformed frame: got '$reply'"; fi

kill -TERM "$pid"
for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -KILL "$pid" 2>/dev/null && fail "no stop within 10 s"
wait "$pid"; rc=$?; pid=
[ "$rc" -eq 0 ] || fail "exit $rc after SIGTERM"
if [ "$failures" -eq 0 ]; then echo "kv_server: every redis-tools check passed"; exit 0; fi
echo "kv_server: $failures check(s) failed"; exit 1
