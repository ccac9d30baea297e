# perf/race/report.sh — sourced by scripts/bench: turns the race's data files ($data/*)
# into markdown tables (report), and writes the page with its gnuplot plots (write_page).
# Medians are of the rounds; a ratio is pollux/other taken within one round (back-to-back
# runs), reported as the median and min-max over the rounds.

# stats: reads numbers, prints "median min max" (the mean of the middle two for an even count).
# One awk each (an insertion sort: a few rounds), not sort | awk: the report runs hundreds.
sort_awk='{ for (i = NR; i > 1 && v[i - 1] > $1 + 0; i--) v[i] = v[i - 1]; v[i] = $1 }'
med_awk='(NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2'
stats() { awk "$sort_awk"' END { if (!NR) { print "- - -"; exit } print '"$med_awk"', v[1], v[NR] }'; }
med() { awk "$sort_awk"' END { if (!NR) { print "-"; exit } print '"$med_awk"' }'; }
fmt_int() { awk -v x="$1" 'BEGIN { if (x == "-" || x == "") { print "-"; exit } s = sprintf("%.0f", x); n = length(s); o = "";
  for (i = 1; i <= n; i++) { o = o substr(s, i, 1); if ((n - i) % 3 == 0 && i < n) o = o "," } print o }'; }
# ratio_stats FILE KEYCOLS... : see the callers; prints "median min max" of A/B per round.
# ratios FILTER_AWK VALUE_COL A B: the per-round ratios of server A over server B among the
# rows matching FILTER_AWK (server in column $server_col, round in $round_col).
ratios() {
  local filter=$1 vcol=$2 a=$3 b=$4 scol=$5 rcol=$6 file=$7
  awk -v a="$a" -v b="$b" -v v="$vcol" -v sc="$scol" -v rc="$rcol" "$filter"' {
      if ($sc == a) x[$rc] = $v; if ($sc == b) y[$rc] = $v }
    END { for (r in x) if ((r in y) && y[r] > 0) printf "%.3f\n", x[r] / y[r] }' "$file" | stats
}
# rfmt: "median min max" -> "M (min-max)" with the given printf format; "-" when not measured.
rfmt() { awk -v f="$1" '$1 == "-" || NF < 3 { print "-"; next } { printf f " (" f "-" f ")\n", $1, $2, $3 }'; }
yesno() { awk -v x="$1" -v op="$2" -v t="$3" 'BEGIN { if (x == "-" || x == "") { print "not measured"; exit }
  ok = (op == "<=") ? (x + 0 <= t + 0) : (x + 0 >= t + 0); print ok ? "met" : "**missed**" }'; }

# busy RATE CPU_US: the share of its core the server used (rate x CPU per item).
busy() { awk -v r="$1" -v c="$2" 'BEGIN { if (r == "-" || c == "-") print "-"; else printf "%.0f%%\n", r * c / 1e4 }'; }

echo_table() {
  echo "| size | conns | server | msg/s (median of rounds) | pollux/server: median (min-max) | server CPU µs/msg | server core busy |"
  echo "|---|---|---|---|---|---|---|"
  local cell size conns s
  for cell in $cells; do
    size=${cell%%:*} conns=${cell#*:}
    for s in "${echo_servers[@]}"; do
      local f="\$1 == $size && \$2 == $conns"
      local mps cpu r
      mps=$(awk "$f"' && $3 == "'"$s"'" { print $6 }' "$data/echo" | med)
      cpu=$(awk "$f"' && $3 == "'"$s"'" { print $8 }' "$data/echo" | med)
      if [ "$s" = pollux ]; then r="1 (self)"; else
        r=$(ratios "$f" 6 pollux "$s" 3 4 "$data/echo" | awk '{ printf "%.3f (%.3f-%.3f)", $1, $2, $3 }'); fi
      local mibs=""
      [ "$size" -ge 16384 ] && mibs=$(awk -v m="$mps" -v s="$size" 'BEGIN { printf " = %.0f MiB/s", m * s / 1048576 }')
      echo "| $size B | $conns | $s | $(fmt_int "$mps")$mibs | $r | $cpu | $(busy "$mps" "$cpu") |"
    done
  done
}

eff_table() {
  echo "| server | instructions/msg | $(for c in $sys_conns; do printf 'syscalls/msg @%s | ' "$c"; done)idle B/conn @$idle_n |"
  echo "|---|---|$(for _ in $sys_conns; do printf -- '---|'; done)---|"
  local s
  for s in "${echo_servers[@]}"; do
    grep -q "^$s " "$data/echo_ir" "$data/echo_sys" "$data/idle" || continue
    printf '| %s | %s | ' "$s" "$(fmt_int "$(awk -v s="$s" '$1 == s { print $2 }' "$data/echo_ir")")"
    for c in $sys_conns; do printf '%s | ' "$(awk -v s="$s" -v c="$c" '$1 == s && $2 == c { print $3 }' "$data/echo_sys")"; done
    printf '%s |\n' "$(fmt_int "$(awk -v s="$s" '$1 == s { print $2 }' "$data/idle")")"
  done
}

latency_table() {
  echo "| rate (msg/s) | server | p50 µs | p99 µs | p99.9 µs | max µs |"
  echo "|---|---|---|---|---|---|"
  awk '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }' "$data/latency"
}

http_table() {
  echo "| client | server | req/s (median) | pollux/server: median (min-max) | server CPU µs/req | server core busy |"
  echo "|---|---|---|---|---|---|"
  local c s
  for c in $http_clients $([ "$h2load_rounds" -gt 0 ] && echo h2load); do
    for s in "${http_servers[@]}"; do
      grep -q "^$c $s " "$data/http" || continue  # --quick runs each server with one client
      local f="\$1 == \"$c\"" rps cpu r
      rps=$(awk "$f"' && $2 == "'"$s"'" { print $5 }' "$data/http" | med)
      cpu=$(awk "$f"' && $2 == "'"$s"'" { print $7 }' "$data/http" | med)
      if [ "$s" = http-pollux ]; then r="1 (self)"; else
        r=$(ratios "$f" 5 http-pollux "$s" 2 3 "$data/http" | rfmt %.3f); fi
      echo "| $c | $s | $(fmt_int "$rps") | $r | $cpu | $(busy "$rps" "$cpu") |"
    done
  done
  echo
  echo "| server | instructions/request | syscalls/request |"
  echo "|---|---|---|"
  local ir sc
  while read -r s ir sc; do echo "| $s | $(fmt_int "$ir") | $sc |"; done <"$data/http_eff"
}

resp_table() {
  echo "| pipeline | server | SET/s | GET/s | kv-2/server SET: median (min-max) | GET | server CPU µs/req |"
  echo "|---|---|---|---|---|---|---|"
  local p s
  for p in 1 16; do
    for s in "${resp_servers[@]}"; do
      grep -q "^$p $s " "$data/resp" || continue  # --quick runs each server at one -P
      local f="\$1 == $p" set get cpu rs rg
      set=$(awk "$f"' && $2 == "'"$s"'" { print $5 }' "$data/resp" | med)
      get=$(awk "$f"' && $2 == "'"$s"'" { print $7 }' "$data/resp" | med)
      cpu=$(awk "$f"' && $2 == "'"$s"'" { print $9 }' "$data/resp" | med)
      if [ "$s" = kv-2 ]; then echo "| -P $p | $s | $(fmt_int "$set") | $(fmt_int "$get") | 1 (self) | 1 (self) | $cpu |"; continue; fi
      rs=$(ratios "$f" 5 kv-2 "$s" 2 3 "$data/resp" | rfmt %.3f)
      rg=$(ratios "$f" 7 kv-2 "$s" 2 3 "$data/resp" | rfmt %.3f)
      echo "| -P $p | $s | $(fmt_int "$set") | $(fmt_int "$get") | $rs | $rg | $cpu |"
    done
  done
}

# targets: one row per target, measured against it in this run.
targets_table() {
  echo "| target | measured in this run | |"
  echo "|---|---|---|"
  local x
  row() { echo "| $1 | $2 | $(yesno "$3" "$4" "$5") |"; }
  x=$(awk '$1 == "pollux" { print $2 }' "$data/echo_ir" 2>/dev/null)
  local xr xa
  xr=$(awk '$1 == "raw" { print $2 }' "$data/echo_ir" 2>/dev/null) xa=$(awk '$1 == "asio" { print $2 }' "$data/echo_ir" 2>/dev/null)
  row "echo: user instructions/msg ≤ 150" "${x:--} (raw ${xr:--}, asio $(fmt_int "${xa:--}"))" "$x" "<=" 150
  sysc() { awk -v s="$1" -v c="$2" '$1 == s && $2 == c { print $3 }' "$data/echo_sys" 2>/dev/null; }
  x=$(sysc pollux 1); row "echo: syscalls/msg @1 ≤ 3.0" "${x:--}" "$x" "<=" 3.0
  x=$(sysc pollux 100); local raw100; raw100=$(sysc raw 100)
  row "echo: syscalls/msg @100 ≤ raw's (${raw100:--})" "${x:--}" "$x" "<=" "${raw100:--}"
  x=$(sysc pollux 1000); row "echo: syscalls/msg @1000 ≤ 2.01" "${x:--}" "$x" "<=" 2.01
  local other want
  for other in raw:0.97 asio:1.05 libevent:1.0 libuv:1.0; do
    want=${other#*:} other=${other%%:*}
    x=$(ratios '$1 == 64 && $2 == 100' 6 pollux "$other" 3 4 "$data/echo" 2>/dev/null)
    row "echo 64 B @100 msg/s ≥ $want× $other" "$(rfmt %.3f <<<"$x")" "${x%% *}" ">=" "$want"
  done
  # http_cpu S / http_ir S: server S's CPU µs per request at wrk -c100 (median) and its
  # user instructions per request; peers F: "nginx F(nginx), beast F(beast), ..." for the
  # HTTP servers other than pollux.
  http_cpu() { awk -v s="$1" '$1 == "wrk" && $2 == s { print $7 }' "$data/http" | med; }
  http_ir() { fmt_int "$(awk -v s="$1" '$1 == s { print $2 }' "$data/http_eff")"; }
  peers() {
    local s out=
    for s in "${http_servers[@]}"; do
      [ "$s" = http-pollux ] || out+="${out:+, }$s $("$1" "$s")"
    done
    echo "$out"
  }
  x=$(http_cpu http-pollux)
  [ "$x" = - ] && x=
  row "HTTP server CPU/request @c100 ≤ 6.5 µs" "$x ($(peers http_cpu))" "$x" "<=" 6.5
  x=$(awk '$1 == "http-pollux" { print $2 }' "$data/http_eff")
  row "HTTP user instructions/request ≤ 1,500" "$(fmt_int "$x") ($(peers http_ir))" "$x" "<=" 1500
  x=$(ratios '$1 == "wrk16"' 5 http-pollux nginx 2 3 "$data/http")
  row "HTTP pipelined ×16 req/s ≥ 5× nginx" "$(rfmt %.2f <<<"$x")" "${x%% *}" ">=" 5
  local xs xg
  xs=$(ratios '$1 == 16' 5 kv-2 redis 2 3 "$data/resp") xg=$(ratios '$1 == 16' 7 kv-2 redis 2 3 "$data/resp")
  x=$(awk -v a="${xs%% *}" -v b="${xg%% *}" 'BEGIN { if (a == "-" || b == "-") print "-"; else print (a < b) ? a : b }')
  row "RESP -P16, kv 2 reactors ≥ 1.5× redis (1 thread), SET and GET" "SET $(rfmt %.2f <<<"$xs"), GET $(rfmt %.2f <<<"$xg")" "$x" ">=" 1.5
  x=$(awk '$1 == "pollux" { print $2 }' "$data/idle")
  xa=$(awk '$1 == "asio" { print $2 }' "$data/idle")
  row "idle memory/connection ≤ 400 B (at $idle_n connections)" "${x:--} B (asio ${xa:--} B)" "$x" "<=" 400
}

notes() {
  cat <<'EOF'
Reading the figures:

* "server core busy" is msg/s × server CPU µs/msg: below 100% the server was waiting for
  the client, so msg/s measured the client and the loopback path as much as the server,
  and ratios near 1 are ties. The server's own cost is in the CPU, instruction and
  syscall columns.
* Syscalls per message: read + write per message, plus epoll_wait shared by the
  connections it returns ready. A server that keeps ahead of its client sees about one
  ready connection per epoll_wait and approaches 3 per message; one that falls behind
  sees many and approaches 2. So the figure moves with the load: compare the servers of
  one column (measured back to back), not runs.
* Instructions are user space only (callgrind cannot see the kernel); the kernel's
  loopback TCP work, several µs per message, is the bulk of the CPU column.
* libevent's syscalls per echo (7 at 1 connection, about 5 under load): `strace -c -f`
  of perf/race/libevent_echo over 20,000 echoes at 100 connections (2026-12-03) counted
  per echo 2.02 `epoll_ctl` (bufferevent adds EPOLLOUT for each write and removes it when
  the output drains), 1.00 `ioctl(FIONREAD)` (libevent asks how much is readable before
  each read), 1.00 `readv`, 1.00 `writev`.
* h2o 2.2 has no inline `return 200`: it answers /plaintext from a 13-byte file
  (`file.file`, etags off, text/plain), so its response carries two headers more than
  nginx's (`last-modified`, `accept-ranges`) and costs it a pread per request, the fd
  staying open in its file cache (perf/race/lib.sh, h2o_conf).
* redis-io2 (`--io-threads 2 --io-threads-do-reads yes`): Redis's I/O threads busy-wait
  for work; on 2 cores shared with redis-benchmark they take CPU from the client and the
  main thread, hence its low rates here.

What the targets missed on this 2-core machine come to (each profiled by hand on
2026-12-03; the commands are given so that the checks can be repeated):

* Syscalls per echo at 1000 connections (≤ 2.01): pollux makes one recv and one send per
  message, as the raw loop does; all the rest is epoll_pwait, one per wake-up, shared by
  the connections it returns ready. `perf stat -e syscalls:sys_enter_recvfrom,
  syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_pwait -p PID` over 200,000 and then
  400,000 echoes (64 B, 1000 connections, echo_load on CPU 1) counted per echo 1.000
  recvfrom, 1.000 sendto and 0.259 epoll_pwait for pollux; 1.000, 1.000 and 0.237
  epoll_wait for raw. One echo_load thread makes 4 or 5 connections ready per wake-up;
  2.01 would need about 100.
* Echo msg/s against asio and libuv at 100 connections (≥ 1.05×, ≥ 1.0×): every server's
  core is busy (the last column) and CPU per message is within a few per cent across
  pollux, raw, asio and libuv: the kernel's loopback TCP and syscalls are nearly all of
  it. What pollux saves is in user space (the instruction column), a fraction of a µs
  per message, so the msg/s ratios sit at 1.0 as the raw loop's does.
* HTTP CPU per request (≤ 6.5 µs): the target's anchors (nginx 7.11 µs, floor 6.20) were
  measured on a faster machine of this kind; in the same run nginx, Beast and h2o (the
  target row) each spend more CPU per request than pollux. pollux's user space is about
  an eighth of nginx's (the instruction row); the rest is the kernel's.
* RESP `-P 16`, 2 reactors (≥ 1.5× redis-server): redis-benchmark's one thread sets the
  pace. `/usr/bin/time redis-benchmark -t set,get -n 1000000 -P 16 -c 50` used 98% of a
  core against `kv_server --reactors 2` and 97% against redis-server, so on 2 cores
  neither server can go faster than the client. Per request kv_server spends about a
  quarter of redis-server's user-space instructions (callgrind, -P 16, 100,000 and then
  200,000 requests, 1 reactor: 928 against 3,951); with one reactor its CPU per request
  was 0.93 µs against redis-server's 1.05 (`/proc/PID/stat` over 2,000,000 requests),
  with two 1.33 µs: a key of the other shard costs a hop between the reactors (an
  eventfd write every 27 requests or so, and more wake-ups).
EOF
}

# pacing_note: when pollux's core was well short of busy at 64 B x 100, what that means
# for the ratios of this run (nothing otherwise).
pacing_note() {
  local f='$1 == 64 && $2 == 100' mps cpu b
  [ -s "$data/echo" ] || return 0
  mps=$(awk "$f"' && $3 == "pollux" { print $6 }' "$data/echo" | med)
  cpu=$(awk "$f"' && $3 == "pollux" { print $8 }' "$data/echo" | med)
  b=$(busy "$mps" "$cpu"); b=${b%\%}
  { [ "$b" != "-" ] && [ "$b" -lt 90 ]; } || return 0
  cat <<EOF

**This run was paced by the client** at 64 B × 100 connections: pollux's core was busy
${b}% of the time (the echo table's last column). A server that answers each message
before the next one arrives sleeps between messages; the client then gets its replies
one wake-up at a time and runs slower. A server that spends more per message lets
replies queue up, the client takes them in batches, and the loop runs faster. So in such
a run the msg/s ratios measure that pacing, not the servers' cost (the CPU per message
column), and syscalls per message near 3 come from the same pacing (one ready connection
per epoll_wait). Which regime a run lands in depends on how the VM schedules the two
cores; in the other one every server's core is busy and the ratios sit near 1.
EOF
}

report() {
  echo "### Targets"; echo; targets_table; echo; notes; pacing_note; echo
  echo "### Echo throughput (server CPU 0, client CPU 1, one thread each, ${secs} s runs, $rounds_n rounds)"; echo; echo_table; echo
  echo "### Echo cost per message (64 B, depth 1)"; echo; eff_table; echo
  echo "### Echo latency, open loop ($lat_conns connections, 64 B, ${lat_secs} s, one run per server in turn; latency from each message's due time)"
  echo
  [ "$rates" = 2000 ] || echo "Rates: $rates of raw's median msg/s at 64 B x 100 (echo_load --rate)."
  echo; latency_table; echo
  echo "### HTTP (1 worker each, server CPU 0, client CPU 1, ${http_secs} s runs, $rounds_n rounds$([ "$h2load_rounds" -gt 0 ] && echo ", h2load $h2load_rounds"))"; echo; http_table; echo
  echo "### RESP (redis-benchmark -t set,get -c 50, unpinned, -P 16: $rounds_n rounds of $resp_n requests, -P 1: $resp_p1_rounds rounds of $((resp_n / 16)); redis-io2 a fifth of those)"; echo; resp_table; echo
}

plots() {
  local dir=$1 s
  command -v gnuplot >/dev/null || { echo "bench: gnuplot is not installed (bash scripts/setup); no plots" >&2; return 0; }
  # Throughput ratio pollux/server per cell (size x connections), one bar per server.
  : >"$work/ratio.dat"
  local cell v
  for cell in $cells; do
    printf '"%s B x %s"' "${cell%%:*}" "${cell#*:}" >>"$work/ratio.dat"
    for s in "${echo_servers[@]:1}"; do
      v=$(ratios "\$1 == ${cell%%:*} && \$2 == ${cell#*:}" 6 pollux "$s" 3 4 "$data/echo" | cut -d' ' -f1)
      printf ' %s' "${v/-/0}" >>"$work/ratio.dat"
    done
    echo >>"$work/ratio.dat"
  done
  local cols="" i=2
  for s in "${echo_servers[@]:1}"; do
    if [ $i -eq 2 ]; then cols+="'$work/ratio.dat' using $i:xtic(1) title '$s', "; else cols+="'' using $i title '$s', "; fi
    i=$((i + 1))
  done
  gnuplot <<EOF
set terminal png size 800,450
set output '$dir/benchmarks-echo-ratio.png'
set title 'Echo: pollux msg/s / server msg/s (median of rounds; >1: pollux faster)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8
set yrange [0:*]
set ylabel 'ratio pollux / server'
set key outside right
set grid y
plot ${cols%, }, 1 with lines dt 2 lc rgb 'black' notitle
EOF
  # Latency percentiles per server (the first rate).
  local rate1
  rate1=$(head -n 1 "$data/latency" | cut -d' ' -f1)
  awk -v r="$rate1" '$1 == r { print $2, $3, $4, $5, $6 }' "$data/latency" >"$work/lat.dat"
  gnuplot <<EOF
set terminal png size 800,450
set output '$dir/benchmarks-latency.png'
set title 'Echo latency, open loop at $rate1 msg/s, $lat_conns connections (µs, from the due time)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8
set logscale y
set ylabel 'µs'
set key outside right
set grid y
plot '$work/lat.dat' using 2:xtic(1) title 'p50', '' using 3 title 'p99', '' using 4 title 'p99.9', '' using 5 title 'max'
EOF
  # Server CPU per message / request.
  : >"$work/cpu.dat"
  local cell100=64:100
  [[ " $cells " == *" 64:100 "* ]] || cell100=$(cut -d' ' -f1 <<<"$cells")
  for s in "${echo_servers[@]}"; do
    echo "echo:$s $(awk -v s="$s" -v z="${cell100%%:*}" -v c="${cell100#*:}" '$1 == z && $2 == c && $3 == s { print $8 }' "$data/echo" | med)" >>"$work/cpu.dat"
  done
  for s in "${http_servers[@]}"; do
    echo "http:$s $(awk -v s="$s" '$1 == "wrk" && $2 == s { print $7 }' "$data/http" | med)" >>"$work/cpu.dat"
  done
  gnuplot <<EOF
set terminal png size 800,450
set output '$dir/benchmarks-cpu.png'
set title 'Server CPU per echoed message (${cell100%%:*} B x ${cell100#*:} conns) and per HTTP request (wrk -c100), µs'
set style data histograms
set style fill solid 0.8
set ylabel 'µs'
set yrange [0:*]
set xtics rotate by -30
set grid y
set key off
plot '$work/cpu.dat' using 2:xtic(1)
EOF
}

write_page() {
  local page=$1 dir
  dir=$(dirname "$page")
  plots "$dir"
  local cmd=$command_line
  {
    echo "# Benchmarks"
    echo
    echo "Written by \`$cmd\` on $started (finished $(date -u '+%H:%M UTC'), ${elapsed} s), on this machine:"
    echo "$(nproc) vCPUs ($(sed -n 's/^model name\t: //p' /proc/cpuinfo | head -n 1)), $(uname -sr), Debian $(cat /etc/debian_version),"
    echo "$(g++ --version | head -n 1), RelWithDebInfo binaries of \`$build_dir\`. Load average $load_start at the start,"
    echo "$load_end at the end. On a shared 2-core VM throughput moves with the load: read the ratios"
    echo "(back-to-back runs) and the counted figures (instructions, syscalls), which stay put."
    echo
    echo "Versions: Boost.Asio/Beast $(sed -n 's/^#define BOOST_LIB_VERSION "\(.*\)"/\1/p' /usr/include/boost/version.hpp),"
    echo "libevent $(pkg-config --modversion libevent), libuv $(pkg-config --modversion libuv), $(nginx -v 2>&1 | sed 's/.*: //'),"
    echo "h2o $(h2o --version | sed -n 's/^h2o version //p'), redis-server $(redis-server --version | sed 's/.* v=\([^ ]*\).*/\1/'), $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), h2load $(h2load --version | sed 's/.* //')."
    echo "How each server is set up, and what each figure is: \`scripts/bench\`'s header and"
    echo "\`perf/race/\`. Counted figures: instructions by \`valgrind --tool=callgrind\` (user space"
    echo "only) over N and 2N messages or requests, divided difference; syscalls by \`perf stat -e"
    echo "raw_syscalls:sys_enter -p PID\` the same way; CPU by utime+stime of \`/proc/PID/stat\` over"
    echo "the timed run."
    echo
    echo "![echo ratio](benchmarks-echo-ratio.png) ![latency](benchmarks-latency.png) ![cpu](benchmarks-cpu.png)"
    echo
    echo "## The race"
    echo
    cat "$work/summary.md"
    if [ -f "$page" ]; then awk '/^## Micro-benchmarks/ { p = 1 } p' "$page"; fi
  } >"$work/page.md"
  mv "$work/page.md" "$page"
}
