#!/usr/bin/env bash
# samples/http_server/clients_check.sh SERVER — http_server driven by the clients people
# use (Debian's curl, ab, h2load, wrk), each check against a fresh server started as a
# process on a free port (2 reactors). Every wait is bounded; a missing tool is a
# failure, never a skip (scripts/setup installs them).
#
#   curl     GET keep-alive reuse (one connection for two URLs, seen in -v), POST /echo of
#            1 MiB (Content-Length) and chunked, 404 / 405 / 413 / 431 / 400 by status
#   ab       -k -n 20000 -c 50: 0 failed, 0 non-2xx; without -k (HTTP/1.0, close)
#   h2load   --h1 -n 100000 -c 100 -m 16 (pipelined): 100% succeeded
#   wrk      -s pipeline.lua depth 16: 0 socket errors, 0 non-2xx
#   raw      CL+TE, duplicate differing CL, a bad chunk size: 400 and a close
set -u
server=${1:?usage: clients_check.sh SERVER}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=
failures=0
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

for tool in curl ab h2load wrk; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (bash scripts/setup)"; exit 1; }
done

start() {
  rm -f "$work/log"
  "$server" --listen 127.0.0.1:0 --reactors 2 "$@" >"$work/log" 2>&1 &
  pid=$!
  port=
  for _ in $(seq 100); do
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/log")
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "FAIL: the server printed no port"; cat "$work/log"; exit 1; }
  url=http://127.0.0.1:$port
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
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }

start

# curl: two URLs on one connection.
out=$(curl -sv --max-time 10 "$url/plaintext" "$url/json" 2>&1)
if grep -q 'Re-using existing connection' <<<"$out" && [ "$(grep -c '^\* Connected to' <<<"$out")" -eq 1 ] &&
   grep -q '^Hello, World!' <<<"$out" && grep -q '"message":"Hello, World!"' <<<"$out"; then
  ok "curl: /plaintext and /json over one kept-alive connection"
else
  fail "curl keep-alive reuse"; echo "$out" | head -30
fi
head -c $((1024 * 1024)) /dev/urandom >"$work/body"
if curl -s --max-time 20 --data-binary @"$work/body" "$url/echo" | cmp -s - "$work/body"; then
  ok "curl: POST /echo, 1 MiB with Content-Length, echoed intact"
else
  fail "curl POST /echo 1 MiB"
fi
if curl -s --max-time 20 -H 'Transfer-Encoding: chunked' --data-binary @"$work/body" "$url/echo" | cmp -s - "$work/body"; then
  ok "curl: POST /echo, 1 MiB chunked upload, echoed intact"
else
  fail "curl chunked POST /echo"
fi
check_code() {  # WANT WHAT CURL-ARGS...
  local want=$1 what=$2; shift 2
  local got; got=$(code "$@")
  if [ "$got" = "$want" ]; then ok "curl: $what -> $got"; else fail "curl: $what -> $got, want $want"; fi
}
check_code 404 "GET /nope" "$url/nope"
check_code 405 "DELETE /plaintext" -X DELETE "$url/plaintext"
head -c $((1024 * 1024 + 1)) /dev/zero >"$work/big"
check_code 413 "POST /echo 1 MiB + 1" --data-binary @"$work/big" "$url/echo"
check_code 431 "9 KiB of headers" -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" "$url/plaintext"
check_code 400 "Content-Length with Transfer-Encoding" -H 'Transfer-Encoding: chunked' -H 'Content-Length: 5' \
  --data-binary hello "$url/echo"

# Raw requests a client library would refuse to send (bash's /dev/tcp).
raw() {  # REQUEST -> the status line, then the connection must close
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf '%b' "$1" >&3
  reply=$(timeout 5 cat <&3)
  exec 3<&- 3>&-
  head -n 1 <<<"$reply" | tr -d '\r'
}
for req in 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd' \
           'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n' \
           'GET /plaintext HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n'; do
  line=$(raw "$req")
  if [ "$line" = "HTTP/1.1 400 Bad Request" ]; then ok "raw: ${req%%\\r*} ... -> 400, closed"; else fail "raw request -> '$line', want 400"; fi
done

# ab: keep-alive (HTTP/1.0 + Connection: keep-alive), then one connection per request.
out=$(timeout 60 ab -k -n 20000 -c 50 "$url/plaintext" 2>&1)
if grep -q '^Complete requests: *20000$' <<<"$out" && grep -q '^Failed requests: *0$' <<<"$out" &&
   ! grep -q '^Non-2xx responses' <<<"$out" && grep -q '^Keep-Alive requests: *20000$' <<<"$out"; then
  ok "ab -k -n 20000 -c 50: 0 failed, 0 non-2xx, all kept alive ($(sed -n 's/^Requests per second: *\([0-9.]*\).*/\1/p' <<<"$out") req/s)"
else
  fail "ab -k"; echo "$out" | tail -25
fi
out=$(timeout 60 ab -n 2000 -c 20 "$url/json" 2>&1)
if grep -q '^Complete requests: *2000$' <<<"$out" && grep -q '^Failed requests: *0$' <<<"$out" && ! grep -q '^Non-2xx' <<<"$out"; then
  ok "ab -n 2000 -c 20 (HTTP/1.0, a connection per request): 0 failed"
else
  fail "ab without -k"; echo "$out" | tail -25
fi

# h2load: pipelined HTTP/1.1, 16 in flight per connection.
out=$(timeout 60 h2load --h1 -n 100000 -c 100 -m 16 "$url/plaintext" 2>&1)
if grep -q 'requests: 100000 total, 100000 started, 100000 done, 100000 succeeded, 0 failed, 0 errored, 0 timeout' <<<"$out" &&
   grep -q 'status codes: 100000 2xx' <<<"$out"; then
  ok "h2load --h1 -n 100000 -c 100 -m 16: 100% succeeded ($(sed -n 's/.*finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out") req/s)"
else
  fail "h2load"; echo "$out" | tail -15
fi

# wrk: pipelining through a Lua script, depth 16.
out=$(timeout 60 wrk -t1 -c50 -d2s -s "$here/pipeline.lua" "$url" -- 16 2>&1)
if grep -q 'Requests/sec' <<<"$out" && ! grep -q 'Socket errors' <<<"$out" && ! grep -q 'Non-2xx' <<<"$out"; then
  ok "wrk pipelined depth 16: 0 socket errors, 0 non-2xx ($(sed -n 's/^Requests\/sec: *\([0-9.]*\)/\1/p' <<<"$out") req/s)"
else
  fail "wrk pipelined"; echo "$out"
fi

stop
if [ "$failures" -eq 0 ]; then echo "http_server: every client check passed"; exit 0; fi
echo "http_server: $failures client check(s) failed"
exit 1
