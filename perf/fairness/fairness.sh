#!/usr/bin/env bash
# perf/fairness/fairness.sh — the fairness and memory-after-burst benchmark of the framework
# echo server (samples/echo_server, ONE reactor) against raw_echo (a minimal fair epoll loop
# with the same 8 MiB output cap and a 256 KiB read budget per turn).
#
#   bash perf/fairness/fairness.sh BUILD_DIR [--quick] [--pairs N] [--seconds S]
#                                            [--echo-server PATH]
#
# 1. Fairness. For 40, then 200 blasters (clients that write 1 MiB chunks and never read,
#    reconnecting when cut off) plus one pinger (64 B every 10 ms): a fresh server per run,
#    pinned to CPU 0, fairness_load pinned to CPU 1; pollux and raw runs alternate ABBA
#    (pair 1: pollux, raw; pair 2: raw, pollux; ...). Prints one line per run, then per
#    load the median ping max latency of each server, the per-pair ratio pollux/raw
#    (median, min-max), and whether the target (pollux max <= 2x raw max) is met.
# 2. Memory after a burst. echo_server (1 reactor): 100 clients each send 24 MiB and never
#    read, so the 8 MiB output cap cuts them off; then all close. Prints the server's VmRSS
#    before, at the peak, and 1 s, 2 s, 5 s after its last socket closed, and whether it came
#    back to <= base + 4 MiB (the buffer pool's cap for one reactor). (Full mode also runs
#    the burst against raw_echo, for reference.)
#
# Full: 3 pairs x 10 s per load (about 3 minutes in all). --quick: 1 pair x 3 s, no raw
# burst (about 30 s). --echo-server measures another build of samples/echo_server.
# Exit status: 0 when every tool ran and printed its figures, whether or not the targets
# were met ("target met: yes/no" reports that); 1 when a tool failed; 2 on a usage error.
# Every wait is bounded; servers are stopped on exit. Best run on a quiet machine: each run
# line shows how busy the CPUs were just before it (idle_busy=...%).
set -u

usage() { echo "usage: fairness.sh BUILD_DIR [--quick] [--pairs N] [--seconds S] [--echo-server PATH]" >&2; }
[ $# -ge 1 ] || { usage; exit 2; }
build=$1; shift
quick=0 pairs='' secs='' pollux_exe=$build/samples/echo_server/echo_server
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --pairs) pairs=${2:?--pairs needs a value}; shift ;;
    --seconds) secs=${2:?--seconds needs a value}; shift ;;
    --echo-server) pollux_exe=${2:?--echo-server needs a value}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "fairness.sh: bad flag $1" >&2; usage; exit 2 ;;
  esac
  shift
done
case $pairs$secs in *[!0-9]*) echo "fairness.sh: --pairs and --seconds take whole numbers" >&2; usage; exit 2 ;; esac
if [ "$quick" = 1 ]; then : "${pairs:=1}" "${secs:=3}"; warmup=0.5; else : "${pairs:=3}" "${secs:=10}"; warmup=1; fi
raw_exe=$build/perf/fairness/raw_echo
load=$build/perf/fairness/fairness_load
for exe in "$pollux_exe" "$raw_exe" "$load"; do
  [ -x "$exe" ] || { echo "fairness.sh: $exe is missing; build echo_server, raw_echo and fairness_load" >&2; exit 1; }
done
command -v taskset >/dev/null || { echo "fairness.sh: taskset is missing (util-linux)" >&2; exit 1; }

work=$(mktemp -d)
pid=
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
failed=0

# busy_pct: how busy all CPUs were over the next 0.3 s (percent).
busy_pct() {
  local a b
  a=$(head -1 /proc/stat); sleep 0.3; b=$(head -1 /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN {
    n = split(a, x); split(b, y); t = 0
    for (i = 2; i <= n; i++) t += y[i] - x[i]
    idle = (y[5] - x[5]) + (y[6] - x[6])
    printf "%.0f", (t > 0 ? 100 * (t - idle) / t : 0) }'
}

# start NAME: a fresh server pinned to CPU 0 on a free port; sets $pid and $port.
start() {
  local log=$work/$1.log
  rm -f "$log"
  case $1 in
    pollux) taskset -c 0 "$pollux_exe" 0 1 >"$log" 2>&1 & ;;
    raw) taskset -c 0 "$raw_exe" --port 0 >"$log" 2>&1 & ;;
  esac
  pid=$! port=
  for _ in $(seq 100); do
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$log" 2>/dev/null)
    [ -n "$port" ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "fairness.sh: $1 printed no port"; cat "$log"; return 1
}

# stop: SIGTERM, at most 15 s for a graceful stop, then SIGKILL.
stop() {
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null && echo "  (server did not stop within 15 s; killed)"
  wait "$pid" 2>/dev/null
  pid=
}

# run_fairness NAME BLASTERS PAIR: one run; prints its line and appends it to $work/results.
run_fairness() {
  local name=$1 n=$2 k=$3 busy out rc
  busy=$(busy_pct)
  start "$name" || { stop; failed=1; return; }
  out=$(timeout $((secs + 90)) taskset -c 1 "$load" --mode fairness --port "$port" --blasters "$n" \
          --seconds "$secs" --warmup "$warmup" --ping-timeout 30 2>"$work/client.err")
  rc=$?
  stop
  echo "blasters=$n pair=$k $name: ${out:-(no figures)} idle_busy=${busy}%"
  if [ "$rc" -ne 0 ] || [ -z "$out" ]; then
    echo "  fairness_load failed (exit $rc): $(cat "$work/client.err")"
    failed=1
    return
  fi
  echo "$n $k $name $out" >>"$work/results"
}

echo "## fairness: one pinger (64 B every 10 ms) among N blasters (1 MiB writes, never read)"
echo "## servers: pollux = $pollux_exe 0 1; raw = $raw_exe; CPU 0 server, CPU 1 client"
echo "## $pairs ABBA pair(s) x ${secs} s per load (+${warmup} s warm-up); machine busy $(busy_pct)% just now"
for n in 40 200; do
  for k in $(seq "$pairs"); do
    if [ $((k % 2)) -eq 1 ]; then order="pollux raw"; else order="raw pollux"; fi
    for name in $order; do run_fairness "$name" "$n" "$k"; done
  done
done

echo "## summary: ping max latency (us), median over runs; ratio = pollux/raw per pair"
all_met=yes
for n in 40 200; do
  line=$(awk -v n="$n" '
    function get(s, key,   m) { return match(s, key "=[0-9.]+") ? substr(s, RSTART + length(key) + 1, RLENGTH - length(key) - 1) : "" }
    function median(a, c,   i, j, t) {
      for (i = 2; i <= c; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
      return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
    }
    $1 == n { v = get($0, "max_us"); p = get($0, "p99_us"); if (v == "") next
              v += 0; p += 0  # numbers, not strings, for the sort
              if ($3 == "pollux") { pm[$2] = v; pc++; px[pc] = v; pp[pc] = p } else { rm[$2] = v; rc++; rx[rc] = v; rp[rc] = p } }
    END {
      if (pc == 0 || rc == 0) { print "incomplete"; exit }
      q = 0; lo = ""; hi = ""
      for (k in pm) if (k in rm) { r = rm[k] > 0 ? pm[k] / rm[k] : 0; q++; ra[q] = r
                                   if (lo == "" || r < lo) lo = r; if (hi == "" || r > hi) hi = r }
      mp = median(px, pc); mr = median(rx, rc)
      if (q == 0) { printf "pollux %.0f raw %.0f - - -", mp, mr; exit }
      printf "pollux %.0f raw %.0f %.2f %.2f %.2f %.0f %.0f", mp, mr, median(ra, q), lo, hi, median(pp, pc), median(rp, rc)
    }' "$work/results" 2>/dev/null)
  if [ -z "$line" ] || [ "$line" = incomplete ]; then
    echo "blasters=$n: incomplete (a run failed)"; all_met=no; continue
  fi
  read -r _ mp _ mr ratio lo hi p99p p99r <<<"$line"
  met=$(awk -v r="$ratio" 'BEGIN { print ((r != "-" && r <= 2.0) ? "yes" : "no") }')
  [ "$met" = yes ] || all_met=no
  echo "blasters=$n: max_us median pollux=$mp raw=$mr; ratio pollux/raw median=$ratio (min-max $lo-$hi);" \
       "p99_us median pollux=$p99p raw=$p99r; target (ratio <= 2) met: $met"
done
echo "fairness target met: $all_met"

# run_burst NAME: the burst against a fresh server; prints its line, then how far its RSS
# stayed above the base 5 s after the last close, against the target (<= base + 4 MiB).
run_burst() {
  local name=$1 out rc
  start "$name" || { stop; failed=1; return; }
  sleep 0.5
  out=$(timeout 150 taskset -c 1 "$load" --mode burst --port "$port" --server-pid "$pid" --clients 100 \
          2>"$work/client.err")
  rc=$?
  stop
  echo "$name: ${out:-(no figures)}"
  if [ "$rc" -ne 0 ] || [ -z "$out" ]; then
    echo "  fairness_load failed (exit $rc): $(cat "$work/client.err")"; failed=1; return
  fi
  awk -v name="$name" '{
      for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] + 0 }
      d = v["rss_after_5s_kib"] - v["rss_base_kib"]
      printf "%s: rss 5 s after the last close = base + %d KiB (peak base + %d KiB); target <= base + 4096 KiB (one reactor'"'"'s pool cap) met: %s\n",
             name, d, v["rss_peak_kib"] - v["rss_base_kib"], (d <= 4096 ? "yes" : "no") }' <<<"$out"
}

echo "## memory after a burst: 100 clients x 24 MiB, never read (8 MiB output cap), then all close"
run_burst pollux
[ "$quick" = 1 ] || run_burst raw

[ "$failed" = 0 ] || { echo "fairness.sh: a tool failed (see above)"; exit 1; }
exit 0
