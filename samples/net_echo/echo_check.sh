#!/usr/bin/env bash
# Starts net_echo on a free port, sends two lines over one connection, half-closes,
# and expects exactly those lines back. Every wait is bounded.
set -u
server=$1
out=$(mktemp)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -f "$out"' EXIT

"$server" >"$out" &
pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$out")
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "net_echo printed no port"; exit 1; }

exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'hello\npollux\n' >&3
reply=$(timeout 10 head -n 2 <&3)
exec 3>&-
expected=$'hello\npollux'
if [ "$reply" != "$expected" ]; then
  echo "expected '$expected', got '$reply'"
  exit 1
fi
echo "echoed: $(echo "$reply" | tr '\n' ' ')"
