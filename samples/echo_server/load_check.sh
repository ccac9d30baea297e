#!/usr/bin/env bash
# Starts echo_server (2 reactors) on a free port, drives it with echo_load for ~1 s over
# 16 connections at depth 4 (every echoed byte checked), then stops it with SIGTERM and
# expects a clean exit and a per-reactor spread line for each reactor. Every wait is bounded.
set -u
server=$1
load=$2
out=$(mktemp)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -f "$out"' EXIT

"$server" 0 2 >"$out" &
pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$out")
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "echo_server printed no port"; exit 1; }

timeout 30 "$load" --port "$port" --conns 16 --size 100 --depth 4 --seconds 1 || { echo "echo_load failed"; exit 1; }
timeout 30 "$load" --port "$port" --conns 8 --size 3000 --messages 2000 || { echo "echo_load (count) failed"; exit 1; }

kill -TERM "$pid"
for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -KILL "$pid" 2>/dev/null && echo "echo_server did not stop within 10 s"
wait "$pid"; rc=$?
[ "$rc" -eq 0 ] || { echo "echo_server exited with $rc"; exit 1; }
grep '^reactor ' "$out"
[ "$(grep -c '^reactor [0-9]*: connections' "$out")" -eq 2 ] || { echo "no per-reactor spread"; exit 1; }
echo "echo_server + echo_load ok"
